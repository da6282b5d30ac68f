// Package sipua is Canvass's own SIP endpoint (sipgo + G.711 RTP): it
// answers and places calls without Asterisk, each call an ivr Channel.
// (Filled by the SIP issue.)
package sipua
