// Package webrtc is the browser leg: Canvass terminates WebRTC itself
// (pion/webrtc) so that an interviewer's browser becomes a phone whose
// audio a bridge or a mixer joins to a real call.
//
// A Server owns one UDP port that every peer connection shares (an ICE UDP
// mux) and a pion API set up for G.711 only: the browser offers, Answer
// returns the answer and a Peer, and the Peer is a media.Leg speaking PCMU
// (or PCMA when that is all the browser offers). Nothing is transcoded on
// the way in; frames written in the other law are transcoded on the way
// out.
//
// Signalling (how the offer reaches Answer and the answer the browser) is
// the caller's: the console's switchboard carries it.
package webrtc
