// Package sdp is the SIP side of the embedded endpoint's media: SDP
// offer/answer (RFC 3264, on pion/sdp) for the one G.711 audio stream a
// call carries, with optional RFC 4733 telephone-events. What every leg
// shares (G.711, telephone-events, pacing, splicing) is ivr/media; SDP
// stays here because only SIP negotiates with it — a browser leg
// negotiates through WebRTC — and keeping it out of ivr/media keeps that
// package on the standard library and pion/rtp alone. ivr/sipua and its
// test phone (sipuatest) share it.
package sdp
