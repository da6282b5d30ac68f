// Package media is the audio room of the embedded SIP endpoint: G.711
// (µ-law and A-law) coding, RFC 4733 telephone-events, in-band DTMF
// detection (Goertzel) and tone synthesis, and SDP offer/answer for the
// one audio stream a survey call carries. It knows nothing of SIP
// dialogs or of surveys; ivr/sipua and its test phone (sipuatest) share it.
package media
