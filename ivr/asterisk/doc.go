// Package asterisk is the Asterisk ARI adapter: a Stasis application whose
// channels are ivr Channels, inbound and originated. (Filled by the ARI
// issue.)
package asterisk
