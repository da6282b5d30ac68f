// A caller's RTP stream that restarts mid-call: new SSRC, or moved by a
// re-INVITE.

package sipua

import (
	"net/netip"
	"testing"

	"github.com/pion/rtp"

	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua/internal/sdp"
)

// When the caller's RTP stream restarts (a new SSRC after a transfer or a
// media-source switch, a stream a re-INVITE moved, or a PBX that kept the
// SSRC), its sequence numbers and timestamps start anywhere behind the old
// stream's. Keys on the new stream still count, in-band or RFC 4733:
// nothing of it is dropped as late.
func TestStreamRestart(t *testing.T) {
	const second = media.SampleRate
	tests := []struct {
		name    string
		eventPT int    // -1: in-band detection
		ssrc    uint32 // of the new stream; the old one's is 1
		moved   bool   // a re-INVITE gave a new RTP address first
		behind  uint32 // how far back the new stream's timestamps start
	}{
		{"new SSRC, in-band keys", -1, 2, false, second},
		{"new SSRC, RFC 4733 keys", 101, 2, false, second},
		{"moved by a re-INVITE, same SSRC, RFC 4733 keys", 101, 1, true, second},
		{"same SSRC, timestamps far back, in-band keys", -1, 1, false, 1 << 30},
		{"same SSRC, timestamps far back, RFC 4733 keys", 101, 1, false, 1 << 30},
		{"same SSRC, sequence far back, timestamps ahead, in-band keys", -1, 1, false, 1<<32 - second},
	}
	type stream struct {
		ssrc uint32
		seq  uint16
		ts   uint32
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := benchCall(t, tt.eventPT)
			from := c.recv.Load().peer
			var keys []rune
			r := receiver{c: c, emit: func(d rune) { keys = append(keys, d) }}
			pcm := make([]int16, maxPacket)
			buf := make([]byte, 200)
			send := func(s *stream, pt uint8, ts uint32, payload []byte) {
				p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: s.seq, Timestamp: ts, SSRC: s.ssrc}, Payload: payload}
				n, _ := p.MarshalTo(buf)
				r.packet(buf[:n], from, pcm)
				s.seq++
			}
			audio := func(s *stream, samples []int16) {
				payload := make([]byte, len(samples))
				media.PCMU.Encode(payload, samples)
				send(s, 0, s.ts, payload)
				s.ts += media.SamplesPerPacket
			}
			// press sends key d, then 200 ms of silence.
			press := func(s *stream, d rune) {
				if tt.eventPT >= 0 {
					code, _ := media.DigitEvent(d)
					for i := range 8 { // five updates, three end packets
						e := media.Event{Code: code, End: i >= 5, Volume: 10, Duration: uint16(min(i+1, 5) * media.SamplesPerPacket)}
						send(s, uint8(tt.eventPT), s.ts, media.AppendEvent(nil, e))
					}
					s.ts += 5 * media.SamplesPerPacket
				} else {
					tone := make([]int16, media.SamplesPerPacket)
					for i := range 10 {
						media.Tone(tone, d, 6000, i*media.SamplesPerPacket)
						audio(s, tone)
					}
				}
				for range 10 {
					audio(s, make([]int16, media.SamplesPerPacket))
				}
			}
			old := stream{ssrc: 1, seq: 40000, ts: 800000}
			press(&old, '1')
			if tt.moved {
				from = netip.MustParseAddrPort("127.0.0.1:4002")
				c.update(sdp.Stream{Addr: from, Codec: media.PCMU, EventPT: tt.eventPT, Direction: sdp.SendRecv})
			}
			next := stream{ssrc: tt.ssrc, seq: old.seq - 1000, ts: old.ts - tt.behind}
			press(&next, '5')
			if string(keys) != "15" {
				t.Errorf("keys %q, want \"15\": the new stream's key was dropped", string(keys))
			}
		})
	}
}
