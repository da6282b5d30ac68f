// The Room on fake legs that speak distinct tones: who hears what under
// each route (told by frequency, Goertzel), passthrough untouched, mixes
// clipped, routes switched mid-stream, legs left and ended, recordings. The
// tests run in synctest bubbles: the 20 ms clocks are fake, and a bubble
// fails if any goroutine of the room outlives it.

package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// fakeLeg is a party on channels: frames put in in are what it says,
// frames written to it land in out.
type fakeLeg struct {
	codec Codec
	in    chan Frame
	out   chan Frame
	done  chan struct{}
	reads atomic.Int64
}

func newFakeLeg(c Codec) *fakeLeg {
	return &fakeLeg{codec: c, in: make(chan Frame, 64), out: make(chan Frame, 4096), done: make(chan struct{})}
}

func (l *fakeLeg) ReadFrame(ctx context.Context) (Frame, error) {
	select {
	case f := <-l.in:
		l.reads.Add(1)
		return f, nil
	case <-l.done:
		return Frame{}, ErrEnded
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
}

func (l *fakeLeg) WriteFrame(ctx context.Context, f Frame) error {
	if err := f.Check(); err != nil {
		return err
	}
	select {
	case <-l.done:
		return ErrEnded
	default:
	}
	f.Payload = bytes.Clone(f.Payload)
	select {
	case l.out <- f:
		return nil
	case <-l.done:
		return ErrEnded
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *fakeLeg) Done() <-chan struct{} { return l.done }

// directLegs makes asLeg join fake legs by the room's fast path: as
// Pushers (a goroutine of the leg's own hands what it says to the room, as
// a browser's track reader or a SIP call's receiver does) and as
// ImmediateWriters (their WriteFrame never waits: out holds 4096 frames),
// which the room writes to from the goroutine that has the frame.
var directLegs bool

type directLeg struct {
	*fakeLeg
	mu     sync.Mutex
	pushes Fanout
	pumps  int           // pushers; the pump runs while there are any
	stop   chan struct{} // stops the pump
	gone   chan struct{} // closed when the pump has stopped
}

func (*directLeg) WritesImmediately() {}

// Push hands each frame put in l.in to f, from a pump goroutine that
// runs while anything is pushed to.
func (l *directLeg) Push(f func(Frame)) (stop func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	unpush := l.pushes.Add(f)
	if l.pumps++; l.pumps == 1 {
		l.stop, l.gone = make(chan struct{}), make(chan struct{})
		go l.pump(l.stop, l.gone)
	}
	return func() {
		unpush()
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.pumps--; l.pumps == 0 {
			close(l.stop)
			<-l.gone
		}
	}
}

func (l *directLeg) pump(stop, gone chan struct{}) {
	defer close(gone)
	for {
		select {
		case fr := <-l.in:
			l.reads.Add(1)
			l.pushes.Send(fr)
		case <-stop:
			return
		case <-l.done:
			return
		}
	}
}

func asLeg(l *fakeLeg) Leg {
	if directLegs {
		return &directLeg{fakeLeg: l}
	}
	return l
}

// TestRoomDirect runs the room's tests again with every leg a Pusher and
// an ImmediateWriter.
func TestRoomDirect(t *testing.T) {
	directLegs = true
	defer func() { directLegs = false }()
	for name, f := range map[string]func(*testing.T){
		"Routes": TestRoomRoutes, "Passthrough": TestRoomPassthrough, "Repacketizes": TestRoomRepacketizes,
		"MixClips": TestRoomMixClips, "MixesLaws": TestRoomMixesLaws, "SwitchRoutes": TestRoomSwitchRoutes,
		"Leave": TestRoomLeave, "LegEnds": TestRoomLegEnds, "Close": TestRoomClose, "Record": TestRoomRecord,
		"HearBeforeJoin": TestRoomHearBeforeJoin,
	} {
		t.Run(name, f)
	}
}

// received drains what was written to the leg.
func (l *fakeLeg) received() []Frame {
	var fs []Frame
	for {
		select {
		case f := <-l.out:
			fs = append(fs, f)
		default:
			return fs
		}
	}
}

const toneAmp = 8000

// Three distinct tones, multiples of 50 Hz so that each fills a 20 ms frame
// with whole periods and Goertzel over one frame sees it alone.
const (
	freqR = 400.0  // the respondent
	freqI = 1000.0 // the interviewer
	freqS = 1800.0 // the supervisor
)

// sine fills dst with a tone starting at sample offset.
func sine(dst []int16, freq, amp float64, offset int) {
	for k := range dst {
		dst[k] = int16(amp * math.Sin(2*math.Pi*freq*float64(offset+k)/SampleRate))
	}
}

// toneFrame is frame i of a tone, coded in c.
func toneFrame(c Codec, freq, amp float64, i int) Frame {
	var pcm [SamplesPerPacket]int16
	sine(pcm[:], freq, amp, i*SamplesPerPacket)
	f := Frame{Codec: c, Payload: make([]byte, SamplesPerPacket), Timestamp: uint32(i * SamplesPerPacket)}
	c.Encode(f.Payload, pcm[:])
	return f
}

// talk makes l say a tone for n frames, one every 20 ms of the bubble's
// clock; the returned channel is closed when it is done. The test waits for
// it at its end (a bubble must end with all its goroutines).
func talk(t *testing.T, l *fakeLeg, freq float64, n int) <-chan struct{} {
	done := make(chan struct{})
	t.Cleanup(func() { <-done })
	go func() {
		defer close(done)
		for i := range n {
			l.in <- toneFrame(l.codec, freq, toneAmp, i)
			time.Sleep(PacketInterval)
		}
	}()
	return done
}

// level is the amplitude of freq in samples (Goertzel).
func level(samples []int16, freq float64) float64 {
	coef := 2 * math.Cos(2*math.Pi*freq/SampleRate)
	var s1, s2 float64
	for _, x := range samples {
		s1, s2 = float64(x)+coef*s1-s2, s1
	}
	p := s1*s1 + s2*s2 - coef*s1*s2
	return 2 * math.Sqrt(max(p, 0)) / float64(len(samples))
}

func decode(f Frame) []int16 {
	pcm := make([]int16, len(f.Payload))
	f.Codec.Decode(pcm, f.Payload)
	return pcm
}

// heard counts the frames in which each tone is present, and the loudest
// level of each in any frame.
func heard(fs []Frame, freqs ...float64) (count []int, peak []float64) {
	count, peak = make([]int, len(freqs)), make([]float64, len(freqs))
	for _, f := range fs {
		pcm := decode(f)
		for i, fr := range freqs {
			l := level(pcm, fr)
			if l > toneAmp/3 {
				count[i]++
			}
			peak[i] = max(peak[i], l)
		}
	}
	return count, peak
}

// threeParties joins a respondent, an interviewer and a supervisor.
func threeParties(t *testing.T, r *Room) map[string]*fakeLeg {
	t.Helper()
	legs := map[string]*fakeLeg{"r": newFakeLeg(PCMU), "i": newFakeLeg(PCMU), "s": newFakeLeg(PCMU)}
	for _, id := range []string{"r", "i", "s"} {
		if err := r.Join(id, asLeg(legs[id])); err != nil {
			t.Fatal(err)
		}
	}
	return legs
}

var tones = map[string]float64{"r": freqR, "i": freqI, "s": freqS}

// TestRoomRoutes: with three parties talking, each hears exactly the tones
// of its route, in (nearly) every frame, and never its own.
func TestRoomRoutes(t *testing.T) {
	tests := []struct {
		name   string
		routes map[string][]string
		hears  map[string][]string
		mixes  bool // some route has two sources
	}{
		{"listen: the supervisor hears both, nobody hears the supervisor",
			map[string][]string{"r": {"i"}, "i": {"r"}, "s": {"r", "i"}},
			map[string][]string{"r": {"i"}, "i": {"r"}, "s": {"r", "i"}}, true},
		{"whisper: the interviewer hears the supervisor, the respondent does not",
			map[string][]string{"r": {"i"}, "i": {"r", "s"}, "s": {"r", "i"}},
			map[string][]string{"r": {"i"}, "i": {"r", "s"}, "s": {"r", "i"}}, true},
		{"barge: all three talk",
			map[string][]string{"r": {"i", "s"}, "i": {"r", "s"}, "s": {"r", "i"}},
			map[string][]string{"r": {"i", "s"}, "i": {"r", "s"}, "s": {"r", "i"}}, true},
		{"hold: the respondent hears nothing",
			map[string][]string{"i": {"r"}, "s": {"r", "i"}},
			map[string][]string{"r": {}, "i": {"r"}, "s": {"r", "i"}}, true},
		{"mute: the interviewer reaches nobody",
			map[string][]string{"r": {}, "i": {"r"}, "s": {"r"}},
			map[string][]string{"r": {}, "i": {"r"}, "s": {"r"}}, false},
		{"a party never hears itself",
			map[string][]string{"r": {"r", "i"}, "i": {"i", "r", "r"}},
			map[string][]string{"r": {"i"}, "i": {"r"}, "s": {}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := NewRoom()
				defer r.Close()
				legs := threeParties(t, r)
				for id, from := range tt.routes {
					r.Hear(id, from...)
				}
				const n = 50
				time.Sleep(7 * time.Millisecond) // talk off the tick's phase
				var talking []<-chan struct{}
				for id, l := range legs {
					talking = append(talking, talk(t, l, tones[id], n))
				}
				for _, d := range talking {
					<-d
				}
				time.Sleep(5 * PacketInterval) // the last mix
				for id, l := range legs {
					got := l.received()
					count, peak := heard(got, freqR, freqI, freqS)
					for k, from := range []string{"r", "i", "s"} {
						if slices.Contains(tt.hears[id], from) {
							if count[k] < n-2 {
								t.Errorf("%s heard %s in %d frames of %d", id, from, count[k], n)
							}
						} else if peak[k] > toneAmp/100 {
							t.Errorf("%s heard %s at level %.0f, should not hear it", id, from, peak[k])
						}
					}
					if len(tt.hears[id]) == 0 && len(got) > 0 {
						t.Errorf("%s hears nobody but was written %d frames", id, len(got))
					}
				}
				st := r.Stats()
				passes := false // some route has one source
				for _, from := range tt.hears {
					passes = passes || len(from) == 1
				}
				if passes != (st.Passed > 0) || tt.mixes != (st.Mixed > 0) {
					t.Errorf("stats %+v: want frames passed %v, mixed %v", st, passes, tt.mixes)
				}
			})
		})
	}
}

// TestRoomPassthrough: a listener with one source gets the source's frames
// byte for byte, in the source's law, at once (no tick, the clock does not
// move), and nothing is mixed.
func TestRoomPassthrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRoom()
		defer r.Close()
		src, dst := newFakeLeg(PCMA), newFakeLeg(PCMU)
		if err := r.Join("src", asLeg(src)); err != nil {
			t.Fatal(err)
		}
		if err := r.Join("dst", asLeg(dst)); err != nil {
			t.Fatal(err)
		}
		r.Hear("dst", "src", "not-yet-joined")
		rnd := rand.New(rand.NewPCG(1, 2))
		start := time.Now()
		for i := range 20 {
			f := Frame{Codec: PCMA, Payload: make([]byte, SamplesPerPacket), Timestamp: uint32(i * 160)}
			for k := range f.Payload {
				f.Payload[k] = byte(rnd.Uint32())
			}
			src.in <- f
			synctest.Wait()
			got := dst.received()
			if len(got) != 1 {
				t.Fatalf("frame %d: %d frames written at once, want 1", i, len(got))
			}
			if got[0].Codec != PCMA || !bytes.Equal(got[0].Payload, f.Payload) {
				t.Fatalf("frame %d: written %v %x, want PCMA %x", i, got[0].Codec, got[0].Payload, f.Payload)
			}
		}
		if !time.Now().Equal(start) {
			t.Errorf("passthrough waited %s", time.Since(start))
		}
		if st := r.Stats(); st.Passed != 20 || st.Mixed != 0 || st.Dropped != 0 {
			t.Errorf("stats %+v, want 20 passed", st)
		}
	})
}

// TestRoomRepacketizes: a source that packs 10 or 30 ms per packet is
// heard in 20 ms frames, none of its audio lost or reordered.
func TestRoomRepacketizes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRoom()
		defer r.Close()
		src, dst := newFakeLeg(PCMU), newFakeLeg(PCMU)
		if err := r.Join("src", asLeg(src)); err != nil {
			t.Fatal(err)
		}
		if err := r.Join("dst", asLeg(dst)); err != nil {
			t.Fatal(err)
		}
		r.Hear("dst", "src")
		sent := make([]byte, 0, 960)
		for i, n := range []int{80, 80, 240, 240, 80, 240} { // 960 codes: six 20 ms frames
			p := make([]byte, n)
			for k := range p {
				p[k] = byte(i*31 + k)
			}
			sent = append(sent, p...)
			src.in <- Frame{Codec: PCMU, Payload: p}
			synctest.Wait()
		}
		var got []byte
		for _, f := range dst.received() {
			got = append(got, f.Payload...)
		}
		if !bytes.Equal(got, sent) {
			t.Errorf("heard %d codes, differing from the %d sent", len(got), len(sent))
		}
	})
}

// TestRoomMixClips: two loud sources in phase sum past full scale: the mix
// saturates instead of wrapping round to the other sign.
func TestRoomMixClips(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRoom()
		defer r.Close()
		a, b, dst := newFakeLeg(PCMU), newFakeLeg(PCMU), newFakeLeg(PCMU)
		for id, l := range map[string]*fakeLeg{"a": a, "b": b, "dst": dst} {
			if err := r.Join(id, asLeg(l)); err != nil {
				t.Fatal(err)
			}
		}
		r.Hear("dst", "a", "b")
		const amp = 24000
		time.Sleep(7 * time.Millisecond)
		for i := range 20 {
			a.in <- toneFrame(PCMU, 200, amp, i)
			b.in <- toneFrame(PCMU, 200, amp, i)
			time.Sleep(PacketInterval)
		}
		time.Sleep(3 * PacketInterval)
		got := dst.received()
		var want [SamplesPerPacket]int16
		sine(want[:], 200, amp, 0) // 200 Hz: every frame starts at the same phase
		clipped := 0
		for _, f := range got {
			pcm := decode(f)
			for k, s := range pcm {
				if w := want[k]; w > 1000 && s < 0 || w < -1000 && s > 0 {
					t.Fatalf("sample %d is %d where both sources are %d: the sum wrapped", k, s, w)
				}
			}
			if slices.Max(pcm) > 32000 && slices.Min(pcm) < -32000 {
				clipped++
			}
		}
		if clipped < len(got)-2 || len(got) < 18 {
			t.Errorf("%d of %d frames reach full scale both ways, want (nearly) all of 20", clipped, len(got))
		}
		if st := r.Stats(); st.Mixed < 18 {
			t.Errorf("stats %+v: want the frames mixed", st)
		}
	})
}

// TestRoomMixesLaws: a PCMU source and a PCMA source mixed for a listener
// that speaks PCMA: it is written PCMA holding both tones.
func TestRoomMixesLaws(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRoom()
		defer r.Close()
		legs := map[string]*fakeLeg{"r": newFakeLeg(PCMU), "s": newFakeLeg(PCMA), "i": newFakeLeg(PCMA)}
		for id, l := range legs {
			if err := r.Join(id, asLeg(l)); err != nil {
				t.Fatal(err)
			}
		}
		r.Hear("i", "r", "s")
		time.Sleep(7 * time.Millisecond)
		var talking []<-chan struct{}
		for id, l := range legs {
			talking = append(talking, talk(t, l, tones[id], 30))
		}
		for _, d := range talking {
			<-d
		}
		time.Sleep(3 * PacketInterval)
		got := legs["i"].received()
		count, peak := heard(got, freqR, freqS, freqI)
		if count[0] < 28 || count[1] < 28 || peak[2] > toneAmp/100 {
			t.Errorf("the PCMA listener heard the PCMU tone in %d frames, the PCMA tone in %d (of 30), its own at %.0f",
				count[0], count[1], peak[2])
		}
		for _, f := range got {
			if f.Codec != PCMA {
				t.Fatalf("mix written in %s to a PCMA party", f.Codec.Name())
			}
		}
	})
}

// TestRoomSwitchRoutes: the supervisor goes listen -> whisper -> barge ->
// listen -> whisper while everyone talks: the respondent and the interviewer
// keep hearing each other throughout (at most a frame lost per switch),
// and what the supervisor adds comes and goes with the route.
func TestRoomSwitchRoutes(t *testing.T) {
	listen := map[string][]string{"r": {"i"}, "i": {"r"}, "s": {"r", "i"}}
	whisper := map[string][]string{"r": {"i"}, "i": {"r", "s"}, "s": {"r", "i"}}
	barge := map[string][]string{"r": {"i", "s"}, "i": {"r", "s"}, "s": {"r", "i"}}
	phases := []map[string][]string{listen, whisper, barge, listen, whisper}
	const per = 20 // frames per phase
	synctest.Test(t, func(t *testing.T) {
		r := NewRoom()
		defer r.Close()
		legs := threeParties(t, r)
		time.Sleep(7 * time.Millisecond)
		for id, l := range legs {
			talk(t, l, tones[id], per*len(phases)+5)
		}
		counts := map[string][][]int{}
		for _, routes := range phases {
			for id, from := range routes {
				r.Hear(id, from...)
			}
			time.Sleep(per * PacketInterval)
			for id, l := range legs {
				c, _ := heard(l.received(), freqR, freqI, freqS)
				counts[id] = append(counts[id], c)
			}
		}
		for p, routes := range phases {
			for id := range legs {
				for k, from := range []string{"r", "i", "s"} {
					got := counts[id][p][k]
					if slices.Contains(routes[id], from) && got < per-2 {
						t.Errorf("phase %d: %s heard %s in %d frames of %d", p, id, from, got, per)
					}
					// A frame at the boundary may belong to either phase.
					if !slices.Contains(routes[id], from) && got > 1 {
						t.Errorf("phase %d: %s heard %s in %d frames, should not", p, id, from, got)
					}
				}
			}
		}
		for _, l := range legs {
			select {
			case <-l.done:
				t.Fatal("a leg ended")
			default:
			}
		}
	})
}

// TestRoomLeave: Leave stops reading and writing the leg at once, without
// ending it; whoever heard it hears the rest. An unknown id is a no-op.
func TestRoomLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRoom()
		defer r.Close()
		legs := threeParties(t, r)
		r.Hear("i", "r", "s")
		r.Hear("s", "r", "i")
		r.Hear("r", "i")
		time.Sleep(7 * time.Millisecond)
		for id, l := range legs {
			talk(t, l, tones[id], 40)
		}
		time.Sleep(10 * PacketInterval)
		r.Leave("s")
		r.Leave("nobody")
		reads := legs["s"].reads.Load()
		legs["s"].received()
		legs["i"].received()
		before := r.Stats()
		time.Sleep(20 * PacketInterval)
		if got := legs["s"].reads.Load(); got != reads {
			t.Errorf("the left leg was read %d more times", got-reads)
		}
		if n := len(legs["s"].out); n != 0 {
			t.Errorf("the left leg was written %d frames", n)
		}
		// The interviewer now hears the respondent alone: passed through.
		count, peak := heard(legs["i"].received(), freqR, freqS)
		if count[0] < 19 || count[1] > 1 || peak[1] > toneAmp/2 {
			t.Errorf("after the supervisor left, the interviewer heard the respondent in %d frames, the supervisor in %d", count[0], count[1])
		}
		if st := r.Stats(); st.Passed-before.Passed < 2*18 {
			t.Errorf("stats %+v then %+v: want the two remaining parties passed through", before, st)
		}
		select {
		case <-legs["s"].done:
			t.Error("Leave ended the leg")
		default:
		}
		// It may join again, and is heard by nobody until routed.
		if err := r.Join("s", asLeg(legs["s"])); err != nil {
			t.Fatal(err)
		}
		if err := r.Join("s", asLeg(legs["s"])); !errors.Is(err, ErrInRoom) {
			t.Errorf("joining twice: %v, want ErrInRoom", err)
		}
	})
}

// TestRoomLegEnds: when a leg ends, the room stops writing to it and whoever
// mixed it with one other source hears that source passed through.
func TestRoomLegEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRoom()
		defer r.Close()
		legs := threeParties(t, r)
		r.Hear("s", "r", "i")
		r.Hear("i", "r")
		time.Sleep(7 * time.Millisecond)
		talk(t, legs["r"], freqR, 40)
		talk(t, legs["s"], freqS, 40)
		time.Sleep(10 * PacketInterval)
		close(legs["i"].done)
		synctest.Wait()
		legs["s"].received()
		before := r.Stats()
		time.Sleep(20 * PacketInterval)
		count, _ := heard(legs["s"].received(), freqR)
		st := r.Stats()
		if count[0] < 18 || st.Mixed != before.Mixed || st.Passed-before.Passed < 18 {
			t.Errorf("after the interviewer hung up, the supervisor heard the respondent in %d of 20 frames; stats %+v then %+v",
				count[0], before, st)
		}
	})
}

// TestRoomClose: Close stops reading every leg and ends no leg; the room
// refuses parties and recordings after it; a second Close is a no-op. The
// bubble fails if a goroutine of the room is left.
func TestRoomClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRoom()
		legs := threeParties(t, r)
		r.Hear("s", "r", "i")
		r.Hear("i", "r")
		rec, err := r.Record(newFile(t), "r", "i")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(7 * time.Millisecond)
		for id, l := range legs {
			talk(t, l, tones[id], 30)
		}
		time.Sleep(10 * PacketInterval)
		r.Close()
		r.Close()
		reads := map[string]int64{}
		for id, l := range legs {
			reads[id] = l.reads.Load()
			l.received()
		}
		time.Sleep(20 * PacketInterval)
		for id, l := range legs {
			if got := l.reads.Load(); got != reads[id] {
				t.Errorf("%s was read %d more times after Close", id, got-reads[id])
			}
			if len(l.out) != 0 {
				t.Errorf("%s was written after Close", id)
			}
			select {
			case <-l.done:
				t.Errorf("Close ended %s's leg", id)
			default:
			}
		}
		if err := r.Join("x", asLeg(newFakeLeg(PCMU))); !errors.Is(err, ErrRoomClosed) {
			t.Errorf("Join after Close: %v", err)
		}
		if _, err := r.Record(newFile(t), "r", "i"); !errors.Is(err, ErrRoomClosed) {
			t.Errorf("Record after Close: %v", err)
		}
		r.Hear("r", "i") // no-op, no panic
		if d, err := rec.Stop(); err != nil || d < 9*PacketInterval || d > 11*PacketInterval {
			t.Errorf("Stop after Close: %s, %v; want about 10 ticks", d, err)
		}
	})
}

func newFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "rec-*.wav")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

// wav is a parsed stereo 16-bit WAV.
type wav struct {
	channels, rate, bits int
	left, right          []int16
}

// parseWAV reads a canonical RIFF/WAVE file, checking that its sizes agree
// with its length.
func parseWAV(t *testing.T, b []byte) wav {
	t.Helper()
	le := binary.LittleEndian
	if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		t.Fatalf("not a canonical WAV header: %q", b[:min(len(b), 44)])
	}
	if riff := le.Uint32(b[4:]); int(riff) != len(b)-8 {
		t.Errorf("RIFF size %d, file holds %d", riff, len(b)-8)
	}
	if data := le.Uint32(b[40:]); int(data) != len(b)-44 {
		t.Errorf("data size %d, file holds %d", data, len(b)-44)
	}
	if le.Uint16(b[20:]) != 1 || le.Uint32(b[16:]) != 16 {
		t.Errorf("not PCM: format %d, fmt size %d", le.Uint16(b[20:]), le.Uint32(b[16:]))
	}
	w := wav{channels: int(le.Uint16(b[22:])), rate: int(le.Uint32(b[24:])), bits: int(le.Uint16(b[34:]))}
	if br, ba := le.Uint32(b[28:]), le.Uint16(b[32:]); int(br) != w.rate*w.channels*w.bits/8 || int(ba) != w.channels*w.bits/8 {
		t.Errorf("byte rate %d, block align %d disagree with the format", br, ba)
	}
	for k := 44; k+4 <= len(b); k += 4 {
		w.left = append(w.left, int16(le.Uint16(b[k:])))
		w.right = append(w.right, int16(le.Uint16(b[k+2:])))
	}
	return w
}

// TestRoomRecord: a stereo WAV with the respondent left and the interviewer
// right, told apart by frequency; silence where a party stopped talking; a
// second recording refused while one runs; the duration what was written.
func TestRoomRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRoom()
		defer r.Close()
		legs := threeParties(t, r)
		r.Hear("i", "r")
		r.Hear("r", "i")
		f := newFile(t)
		if _, err := f.Write([]byte("junk before")); err != nil { // the WAV starts where w is
			t.Fatal(err)
		}
		rec, err := r.Record(f, "r", "i")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Record(newFile(t), "r", "s"); !errors.Is(err, ErrRecording) {
			t.Errorf("a second recording: %v, want ErrRecording", err)
		}
		time.Sleep(7 * time.Millisecond)
		tr := talk(t, legs["r"], freqR, 100) // 2 s: the header is fixed up on the way
		ti := talk(t, legs["i"], freqI, 40)
		talk(t, legs["s"], freqS, 100)
		<-ti
		<-tr
		time.Sleep(2 * PacketInterval)
		d, err := rec.Stop()
		if err != nil {
			t.Fatal(err)
		}
		if d2, err2 := rec.Stop(); d2 != d || err2 != nil {
			t.Errorf("second Stop: %s, %v; first %s", d2, err2, d)
		}
		if d < 100*PacketInterval || d > 103*PacketInterval {
			t.Errorf("recorded %s, want about 2 s", d)
		}
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		w := parseWAV(t, b[len("junk before"):])
		if w.channels != 2 || w.rate != 8000 || w.bits != 16 {
			t.Fatalf("format %d channels, %d Hz, %d bits", w.channels, w.rate, w.bits)
		}
		if got := time.Duration(len(w.left)) * time.Second / SampleRate; got != d {
			t.Errorf("file holds %s, Stop said %s", got, d)
		}
		var frames [2]struct{ r, i, s, silent int }
		for k := 0; k+SamplesPerPacket <= len(w.left); k += SamplesPerPacket {
			for ch, s := range [][]int16{w.left[k : k+SamplesPerPacket], w.right[k : k+SamplesPerPacket]} {
				c := &frames[ch]
				if level(s, freqR) > toneAmp/3 {
					c.r++
				}
				if level(s, freqI) > toneAmp/3 {
					c.i++
				}
				if level(s, freqS) > toneAmp/100 {
					c.s++
				}
				if slices.Max(s) == 0 && slices.Min(s) == 0 {
					c.silent++
				}
			}
		}
		if l := frames[0]; l.r < 98 || l.i != 0 || l.s != 0 {
			t.Errorf("left channel: respondent in %d frames, interviewer in %d, supervisor in %d; want the respondent alone", l.r, l.i, l.s)
		}
		if rt := frames[1]; rt.i < 38 || rt.i > 41 || rt.r != 0 || rt.s != 0 || rt.silent < 58 {
			t.Errorf("right channel: interviewer in %d frames, respondent in %d, silent %d; want the interviewer for 40 frames, then silence", rt.i, rt.r, rt.silent)
		}
		if st := r.Stats(); st.Recorded != uint64(d/PacketInterval) {
			t.Errorf("stats %+v, recorded %s", st, d)
		}
		// Another recording may start once this one stopped.
		rec2, err := r.Record(newFile(t), "r", "i")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rec2.Stop(); err != nil {
			t.Error(err)
		}
	})
}

// failWriter fails writes once the header is in.
type failWriter struct {
	n int
}

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n > 0 {
		return 0, errors.New("disk full")
	}
	w.n += len(p)
	return len(p), nil
}

func (w *failWriter) Seek(int64, int) (int64, error) { return 0, nil }

var _ io.WriteSeeker = (*failWriter)(nil)

// TestRoomRecordError: a write error comes back from Stop; the room goes
// on.
func TestRoomRecordError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRoom()
		defer r.Close()
		legs := threeParties(t, r)
		r.Hear("i", "r")
		rec, err := r.Record(&failWriter{}, "r", "i")
		if err != nil {
			t.Fatal(err)
		}
		<-talk(t, legs["r"], freqR, 10)
		if d, err := rec.Stop(); err == nil || d != 0 {
			t.Errorf("Stop: %s, %v; want 0 and the write error", d, err)
		}
		if c, _ := heard(legs["i"].received(), freqR); c[0] < 9 {
			t.Errorf("the interviewer heard %d frames of 10 while the recording failed", c[0])
		}
	})
}

// TestRoomSlowLeg: a listener whose leg takes no frames (stuck) loses its
// own oldest frames, counted, and stalls nobody: the other listeners of
// the same source, passed through or mixed, hear everything.
func TestRoomSlowLeg(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRoom()
		defer r.Close()
		legs := threeParties(t, r)
		stuck := &fakeLeg{codec: PCMU, in: make(chan Frame, 64), out: make(chan Frame), done: make(chan struct{})}
		if err := r.Join("stuck", stuck); err != nil {
			t.Fatal(err)
		}
		r.Hear("stuck", "r")
		r.Hear("i", "r")
		r.Hear("s", "r", "i")
		time.Sleep(7 * time.Millisecond)
		const n = 40
		<-talk(t, legs["r"], freqR, n)
		<-talk(t, legs["i"], freqI, 1)
		time.Sleep(3 * PacketInterval)
		if c, _ := heard(legs["i"].received(), freqR); c[0] != n {
			t.Errorf("next to a stuck leg, the interviewer heard %d frames of %d", c[0], n)
		}
		if c, _ := heard(legs["s"].received(), freqR); c[0] < n-2 {
			t.Errorf("next to a stuck leg, the supervisor heard %d frames of %d", c[0], n)
		}
		// One frame is stuck in WriteFrame, writeQueue wait: the rest
		// were dropped.
		if st := r.Stats(); st.Dropped != n-1-writeQueue {
			t.Errorf("stats %+v: want the stuck leg's %d frames dropped", st, n-1-writeQueue)
		}
	})
}

// TestJitter: a source's queue keeps at most jitterDepth frames (the
// oldest goes), keeps one spare frame, and loses a frame when it had two
// spare at every tick of a window, not when it ran dry once in it.
func TestJitter(t *testing.T) {
	frame := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, SamplesPerPacket) }
	var dst [SamplesPerPacket]byte
	t.Run("bounded", func(t *testing.T) {
		var j jitter
		dropped := 0
		for i := range 5 {
			if j.push(PCMU, frame(i)) {
				dropped++
			}
		}
		if dropped != 5-jitterDepth {
			t.Errorf("%d dropped pushing 5, want %d", dropped, 5-jitterDepth)
		}
		for want := 5 - jitterDepth; want < 5; want++ {
			if _, ok, _ := j.pop(&dst); !ok || dst[0] != byte(want) {
				t.Fatalf("popped frame %d (%v), want %d", dst[0], ok, want)
			}
		}
		if _, ok, _ := j.pop(&dst); ok {
			t.Error("popped from an empty queue")
		}
	})
	t.Run("a source a frame ahead keeps its spare", func(t *testing.T) {
		var j jitter
		j.push(PCMU, frame(0))
		for i := 1; i <= 5*trimAfter; i++ {
			j.push(PCMU, frame(i)) // one arrives per tick, one is spare
			if _, _, d := j.pop(&dst); d {
				t.Fatalf("trimmed at tick %d: a source one frame ahead keeps its spare", i)
			}
			if dst[0] != byte(i-1) {
				t.Fatalf("tick %d took frame %d, want %d", i, dst[0], i-1)
			}
		}
	})
	t.Run("a source two frames ahead is trimmed", func(t *testing.T) {
		var j jitter
		j.push(PCMU, frame(0))
		j.push(PCMU, frame(0))
		trimmed := 0
		for i := 1; i <= 3*trimAfter; i++ {
			j.push(PCMU, frame(i)) // one arrives per tick, one is spare
			if _, _, d := j.pop(&dst); d {
				trimmed++
			}
		}
		if trimmed != 1 {
			t.Errorf("trimmed %d times in %d ticks, want once", trimmed, 3*trimAfter)
		}
		if j.n != spareFrames {
			t.Errorf("%d frames left queued after the trim, want %d", j.n, spareFrames)
		}
	})
	t.Run("a source that ran dry is not trimmed", func(t *testing.T) {
		var j jitter
		j.push(PCMU, frame(0))
		for i := 1; i <= 5*trimAfter; i++ {
			j.push(PCMU, frame(i))
			if i%trimAfter == trimAfter/2 {
				j.pop(&dst) // a late tick takes two
			}
			if _, _, d := j.pop(&dst); d {
				t.Fatalf("trimmed at tick %d though the queue ran dry in the window", i)
			}
		}
	})
}

// TestRoomHearBeforeJoin: routes may name parties before they join; a
// source not yet in the room is silent, and joins the mix when it comes.
func TestRoomHearBeforeJoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRoom()
		defer r.Close()
		r.Hear("i", "r", "s")
		legs := map[string]*fakeLeg{"r": newFakeLeg(PCMU), "i": newFakeLeg(PCMU), "s": newFakeLeg(PCMU)}
		for _, id := range []string{"i", "r"} {
			if err := r.Join(id, asLeg(legs[id])); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(7 * time.Millisecond)
		talk(t, legs["r"], freqR, 40)
		talk(t, legs["s"], freqS, 40) // queued by its leg, read once it joins
		time.Sleep(20 * PacketInterval)
		c, peak := heard(legs["i"].received(), freqR, freqS)
		if st := r.Stats(); c[0] < 19 || peak[1] > toneAmp/100 || st.Mixed != 0 {
			t.Errorf("before the supervisor joined: respondent in %d frames, supervisor at %.0f, stats %+v", c[0], peak[1], st)
		}
		if err := r.Join("s", asLeg(legs["s"])); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * PacketInterval)
		c, _ = heard(legs["i"].received(), freqR, freqS)
		if st := r.Stats(); c[0] < 18 || c[1] < 18 || st.Mixed < 18 {
			t.Errorf("after the supervisor joined: respondent in %d frames, supervisor in %d, stats %+v", c[0], c[1], st)
		}
	})
}

// A Pusher in two rooms at once pushes to both; stopping one leaves the
// other, and with none left the leg queues for ReadFrame again.
func TestFanout(t *testing.T) {
	var o Fanout
	var a, b int
	f := Frame{Codec: PCMU, Payload: make([]byte, SamplesPerPacket)}
	if o.Send(f) {
		t.Fatal("sent with no callback")
	}
	stopA := o.Add(func(Frame) { a++ })
	stopB := o.Add(func(Frame) { b++ })
	if !o.Send(f) || a != 1 || b != 1 {
		t.Fatalf("both callbacks: a %d, b %d", a, b)
	}
	stopA()
	stopA() // twice is harmless
	if !o.Send(f) || a != 1 || b != 2 {
		t.Fatalf("after stopping a: a %d, b %d", a, b)
	}
	stopB()
	if o.Send(f) || b != 2 {
		t.Fatalf("after stopping both: sent, b %d", b)
	}
}
