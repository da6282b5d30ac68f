// Package dialer runs outbound survey campaigns: case selection, calling
// windows in the respondent's local time, retries, do-not-call checks and
// pacing, placing calls through an Originator it declares and ivr/asterisk or
// ivr/sipua satisfy. (Filled by the dialer issue.)
package dialer
