// Package sipua is Canvass's own SIP endpoint: it answers and places calls
// without Asterisk, on emiago/sipgo for SIP and hand-rolled G.711 RTP
// (pion/rtp) for media, and runs each answered inbound call as an ivr
// Session. What any leg shares — G.711, RFC 4733 events, in-band detection,
// the packet clock — is ivr/media; what only SIP needs, SDP offer/answer
// (pion/sdp), is internal/sdp. Server.Dial (an ivr.Dialer) places a call
// through the trunk and returns it answered as an ivr.Call, running nothing
// on it.
//
// A call reaches a questionnaire by its request-URI user (Options.Routes,
// then Options.DefaultQuestionnaire, then the user itself as a
// questionnaire id); X-Canvass-* headers and URI parameters become the
// interview's context. Before answering, the endpoint refuses what it cannot
// serve: 403 to a source outside Options.AllowFrom without credentials,
// 401 to challenge for them, 400 for an SDP it cannot read, 488 for one with
// no common codec, 404 for an unknown questionnaire, 403 for one that is
// not a keypad survey, 503 when full, shutting down or the database fails.
//
// Media per call: one UDP socket, RTP paced every 20 ms for the whole call
// (the prompt, or comfort silence), keys from RFC 4733 events or, when the
// peer negotiated none, from the audio by a Goertzel detector, and voice
// answers written to 8 kHz mono WAV files. A call's audio is also a
// media.Leg (the call's Leg method), for a bridge or a mixer to read and
// write frame by frame on the same packet clock. Every answered call, inbound
// or dialed, also sends keys to the far end (SendDigits, for the console's
// keypad): RFC 4733 events when negotiated, else tones in the audio.
package sipua
