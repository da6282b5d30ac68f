// Splicing sources into one stream: SSRC kept, sequence numbers and
// timestamps continued, the marker bit on each new source.

package media

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestRebaser(t *testing.T) {
	const ours = 0xCAFE
	type in struct {
		at        time.Duration // when it is sent
		ssrc      uint32
		seq       uint16
		ts        uint32
		marker    bool
		newSource bool // call Switch before it
	}
	type out struct {
		seq    uint16
		ts     uint32
		marker bool
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name    string
		seq     uint16 // our first packet's
		ts      uint32
		packets []in
		want    []out
	}{
		{"one source: our SSRC, our base, marker on the first packet only",
			1000, 50000,
			[]in{{ms(0), 7, 300, 9000, false, false}, {ms(20), 7, 301, 9160, false, false}, {ms(40), 7, 302, 9320, false, false}},
			[]out{{1000, 50000, true}, {1001, 50160, false}, {1002, 50320, false}}},
		{"a source change mid-stream goes on from the last packet, marked",
			1000, 50000,
			[]in{{ms(0), 7, 300, 9000, false, false}, {ms(20), 7, 301, 9160, false, false},
				{ms(40), 8, 60000, 123456, false, false}, {ms(60), 8, 60001, 123616, false, false}},
			[]out{{1000, 50000, true}, {1001, 50160, false}, {1002, 50320, true}, {1003, 50480, false}}},
		{"back to the first source: a change again",
			10, 0,
			[]in{{ms(0), 7, 300, 9000, false, false}, {ms(20), 8, 5, 77, false, false}, {ms(40), 7, 301, 9160, false, false}},
			[]out{{10, 0, true}, {11, 160, true}, {12, 320, true}}},
		{"Switch starts a source with the same SSRC",
			10, 0,
			[]in{{ms(0), 0, 0, 0, false, false}, {ms(20), 0, 1, 160, false, false}, {ms(40), 0, 0, 0, false, true}, {ms(60), 0, 1, 160, false, false}},
			[]out{{10, 0, true}, {11, 160, false}, {12, 320, true}, {13, 480, false}}},
		{"our sequence numbers wrap at 65535",
			65534, 100,
			[]in{{ms(0), 7, 10, 0, false, false}, {ms(20), 7, 11, 160, false, false}, {ms(40), 9, 500, 0, false, false}, {ms(60), 9, 501, 160, false, false}},
			[]out{{65534, 100, true}, {65535, 260, false}, {0, 420, true}, {1, 580, false}}},
		{"the source's sequence numbers wrap at 65535",
			100, 100,
			[]in{{ms(0), 7, 65534, 0, false, false}, {ms(20), 7, 65535, 160, false, false}, {ms(40), 7, 0, 320, false, false}, {ms(60), 7, 1, 480, false, false}},
			[]out{{100, 100, true}, {101, 260, false}, {102, 420, false}, {103, 580, false}}},
		{"timestamps wrap too",
			1, 0xFFFFFFA0,
			[]in{{ms(0), 7, 1, 0, false, false}, {ms(20), 7, 2, 160, false, false}, {ms(40), 8, 1, 0, false, false}},
			[]out{{1, 0xFFFFFFA0, true}, {2, 0x40, false}, {3, 0xE0, true}}},
		{"a lost packet stays a gap within a source",
			1000, 50000,
			[]in{{ms(0), 7, 300, 9000, false, false}, {ms(60), 7, 303, 9480, false, false}},
			[]out{{1000, 50000, true}, {1003, 50480, false}}},
		{"a new source after a second of nothing: timestamps go on with the clock, sequence numbers by one",
			1000, 50000,
			[]in{{ms(0), 7, 300, 9000, false, false}, {ms(20), 7, 301, 9160, false, false}, {ms(1020), 8, 4000, 1, false, false}, {ms(1040), 8, 4001, 161, false, false}},
			[]out{{1000, 50000, true}, {1001, 50160, false}, {1002, 50160 + 8000, true}, {1003, 50160 + 8160, false}}},
		{"a source's own silence gap is kept, and its marker passed on",
			1000, 50000,
			[]in{{ms(0), 7, 300, 9000, false, false}, {ms(500), 7, 301, 9000 + 4000, true, false}},
			[]out{{1000, 50000, true}, {1001, 54000, true}}},
		{"a late packet of the source keeps its place and does not move the stream back",
			1000, 50000,
			[]in{{ms(0), 7, 300, 9000, false, false}, {ms(40), 7, 302, 9320, false, false}, {ms(45), 7, 301, 9160, false, false},
				{ms(60), 8, 1, 1, false, false}},
			[]out{{1000, 50000, true}, {1002, 50320, false}, {1001, 50160, false}, {1003, 50480, true}}},
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRebaser(ours, tt.seq, tt.ts)
			for i, p := range tt.packets {
				if p.newSource {
					r.Switch()
				}
				h := rtp.Header{Version: 2, SSRC: p.ssrc, SequenceNumber: p.seq, Timestamp: p.ts, Marker: p.marker}
				r.Rewrite(&h, start.Add(p.at))
				got := out{h.SequenceNumber, h.Timestamp, h.Marker}
				if h.SSRC != ours {
					t.Errorf("packet %d: SSRC %#x, want ours %#x", i, h.SSRC, ours)
				}
				if got != tt.want[i] {
					t.Errorf("packet %d: seq %d ts %d marker %v; want seq %d ts %d marker %v",
						i, got.seq, got.ts, got.marker, tt.want[i].seq, tt.want[i].ts, tt.want[i].marker)
				}
			}
		})
	}
}

func BenchmarkRebaser(b *testing.B) {
	r := NewRebaser(1, 0, 0)
	h := rtp.Header{Version: 2, SSRC: 7}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.SSRC = 7 + uint32(i/50)%2 // a source change every second
		h.SequenceNumber = uint16(i)
		h.Timestamp = uint32(i) * SamplesPerPacket
		r.Rewrite(&h, now)
		now = now.Add(PacketInterval)
	}
}
