package media

import (
	"slices"
	"testing"
	"time"
)

// arrival is one frame as a receiver sees it: its RTP timestamp and SSRC,
// and when it was read.
type arrival struct {
	ssrc, ts uint32
	at       time.Duration // since the stream's start
}

// paced is n frames of a steady sender from frame first on: frame k
// stamped first-ts + 160k, read at at0 + 20 ms·k.
func paced(ssrc, ts uint32, at time.Duration, n int) []arrival {
	out := make([]arrival, n)
	for k := range out {
		out[k] = arrival{ssrc, ts + uint32(k)*SamplesPerPacket, at + time.Duration(k)*PacketInterval}
	}
	return out
}

// staleOf feeds the arrivals to a fresh Freshness and returns the indexes
// it calls stale.
func staleOf(in []arrival) []int {
	var g Freshness
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	var stale []int
	for i, a := range in {
		if g.Stale(a.ssrc, a.ts, t0.Add(a.at)) {
			stale = append(stale, i)
		}
	}
	return stale
}

func between(lo, hi int) []int {
	var out []int
	for i := lo; i <= hi; i++ {
		out = append(out, i)
	}
	return out
}

func TestFreshnessDropsABacklogAndKeepsThePresent(t *testing.T) {
	// A receiver reads 10 frames on time, then stalls for half a second:
	// the 25 frames sent meanwhile (200-680 ms) are read at once at 700 ms,
	// then it keeps up again. Frames read more than StaleAfter behind
	// their send time (20·k ms) are stale: k = 10..27 (lag 500 down to
	// 160 ms); k = 28..34 (140 ms down to 20) are late but worth playing.
	var in []arrival
	for k := range 60 {
		at := time.Duration(k) * PacketInterval
		if k >= 10 && k < 35 {
			at = 700*time.Millisecond + time.Duration(k)*time.Microsecond
		}
		in = append(in, arrival{0x1234, 5000 + uint32(k)*SamplesPerPacket, at})
	}
	if got, want := staleOf(in), between(10, 27); !slices.Equal(got, want) {
		t.Errorf("stale frames %v, want %v", got, want)
	}
}

func TestFreshnessKeepsLiveAudio(t *testing.T) {
	cases := []struct {
		name string
		in   []arrival
	}{
		{"jitter of ±40 ms", func() []arrival {
			in := paced(1, 0, 0, 500)
			for k := range in {
				in[k].at += time.Duration((k*7919)%81-40) * time.Millisecond
			}
			return in
		}()},
		{"a sender clock 200 ppm slow, for an hour", func() []arrival {
			in := paced(1, 0, 0, 180_000)
			for k := range in {
				in[k].at += in[k].at / 5000
			}
			return in
		}()},
		{"the first frame late, the rest on time", append([]arrival{{1, 0, 300 * time.Millisecond}}, paced(1, SamplesPerPacket, 20*time.Millisecond, 100)...)},
		{"timestamps wrapping", paced(7, 1<<32-10*SamplesPerPacket, 0, 50)},
		{"a new SSRC far behind", append(paced(1, 80_000, 0, 50), paced(2, 100, time.Second, 50)...)},
		{"the same SSRC restarting behind", append(paced(1, 80_000, 0, 50), paced(1, 100, time.Second, 50)...)},
		{"silence suppressed, timestamps moved on", append(paced(1, 0, 0, 50), paced(1, 50*SamplesPerPacket+16000, 3*time.Second, 50)...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := staleOf(c.in); len(got) > 0 {
				t.Errorf("%d frames called stale, the first %v", len(got), got[:min(len(got), 10)])
			}
		})
	}
}

func TestFreshnessFollowsALagThatStays(t *testing.T) {
	// A sender pauses 2 s and resumes with its timestamps where they were
	// (no RTP in silence, timestamps not moved on): every frame after the
	// pause is 2 s "behind", at its own pace. That is the stream's delay
	// now, not a backlog: the pacedToResync-th such frame re-anchors the
	// stream and plays, and so does the rest.
	in := append(paced(1, 0, 0, 50), paced(1, 50*SamplesPerPacket, 3*time.Second, 100)...)
	if got, want := staleOf(in), between(50, 50+pacedToResync-2); !slices.Equal(got, want) {
		t.Errorf("stale frames %v, want %v", got, want)
	}
}

func TestFreshnessGivesUpOnALagThatLasts(t *testing.T) {
	// A starved receiver falls 400 ms behind for good and reads its
	// socket in batches of 5 frames every 100 ms: never at the frames'
	// pace, always late. Dropping cannot catch up with that; after a
	// second of stale frames the lag is taken as the stream's and the
	// rest play.
	in := paced(1, 0, 0, 50)
	for k := 50; k < 250; k++ {
		batch := time.Duration(k/5*5) * PacketInterval
		in = append(in, arrival{1, uint32(k) * SamplesPerPacket, batch + 400*time.Millisecond + time.Duration(k%5)*time.Microsecond})
	}
	got := staleOf(in)
	if len(got) == 0 || got[0] != 50 {
		t.Fatalf("stale frames %v, want a run from frame 50", got)
	}
	last := got[len(got)-1]
	if len(got) != last-50+1 || last < 80 || last > 110 {
		t.Errorf("stale frames %v, want frames 50 to about 100 (one second of arrivals), then none", got)
	}
}
