// Package media is what every call leg shares, whatever its signalling:
// the audio room of Canvass. It holds G.711 (µ-law and A-law) coding,
// RFC 4733 telephone-events, in-band DTMF detection (Goertzel) and tone
// synthesis, answering-machine detection (AMD, app_amd's rules), the 20 ms
// packet clock (Pacer, and Clock, which ticks every leg's sender from one
// loop per core), prompts encoded once per codec for every call (Encoded),
// the header rewriting a splice needs when the
// source of an outgoing stream changes (Rebaser), and Leg, the small
// interface through which a bridge or a mixer reads and writes a
// leg's audio one Frame at a time.
//
// It imports only the standard library and pion/rtp, so that the SIP leg
// (ivr/sipua) and the browser leg to come (ivr/webrtc) share it without
// sharing each other's dependencies. SDP is not here: only SIP negotiates
// with it (a browser leg negotiates through WebRTC), so offer/answer lives
// with the SIP endpoint, in ivr/sipua/internal/sdp. Room joins legs: a
// listener with one source has its frames passed through (the bridge), one
// with more hears them mixed on a 20 ms tick (listen, whisper, barge), and
// two parties can be recorded to a stereo WAV.
//
// Audio is 8 kHz mono throughout: a packet carries 20 ms, SamplesPerPacket
// samples, one byte each in G.711.
package media
