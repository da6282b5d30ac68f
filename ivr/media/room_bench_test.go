// What the Room costs: a passed-through frame and a three-party mix tick
// (time and allocations), and the delay the bridge adds, measured from a
// source leg's ReadFrame return to a listener's WriteFrame call, with 300
// rooms running at once on the real clock.

package media

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchLeg says a frame per token and signals each frame written to it.
type benchLeg struct {
	frame  Frame
	tokens chan struct{}
	wrote  chan struct{}
	done   chan struct{}
}

func newBenchLeg(c Codec, fill byte) *benchLeg {
	f := Frame{Codec: c, Payload: make([]byte, SamplesPerPacket)}
	for k := range f.Payload {
		f.Payload[k] = fill + byte(k)
	}
	return &benchLeg{frame: f, tokens: make(chan struct{}), wrote: make(chan struct{}, 64), done: make(chan struct{})}
}

func (l *benchLeg) ReadFrame(ctx context.Context) (Frame, error) {
	select {
	case <-l.tokens:
		return l.frame, nil
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
}

func (l *benchLeg) WriteFrame(ctx context.Context, f Frame) error {
	select {
	case l.wrote <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *benchLeg) Done() <-chan struct{} { return l.done }

// immediateBenchLeg is a benchLeg the room writes to from the reader's
// goroutine (its WriteFrame never waits: wrote holds 64).
type immediateBenchLeg struct{ *benchLeg }

func (immediateBenchLeg) WritesImmediately() {}

// pushBenchLeg is a benchLeg that pushes its frames (media.Pusher): the
// benchmark's goroutine stands for the leg's receiver.
type pushBenchLeg struct {
	*benchLeg
	pushes Fanout
}

func (l *pushBenchLeg) Push(f func(Frame)) (stop func()) { return l.pushes.Add(f) }

// BenchmarkRoomPassthrough: one frame from a leg, passed through and
// written to its listener (the goroutine hand-offs included): read by the
// room's reader and written through the listener's queue and writer
// goroutine; written at once to an ImmediateWriter; and pushed by the
// source and written at once (the fast path: no hand-off at all).
func BenchmarkRoomPassthrough(b *testing.B) {
	b.Run("queued", func(b *testing.B) { benchPassthrough(b, false, false) })
	b.Run("immediate", func(b *testing.B) { benchPassthrough(b, true, false) })
	b.Run("direct", func(b *testing.B) { benchPassthrough(b, true, true) })
}

func benchPassthrough(b *testing.B, immediate, push bool) {
	r := NewRoom()
	defer r.Close()
	src, dst := newBenchLeg(PCMU, 0), newBenchLeg(PCMU, 0)
	var srcLeg, dstLeg Leg = src, dst
	if immediate {
		dstLeg = immediateBenchLeg{dst}
	}
	pusher := &pushBenchLeg{benchLeg: src}
	if push {
		srcLeg = pusher
	}
	if err := r.Join("src", srcLeg); err != nil {
		b.Fatal(err)
	}
	if err := r.Join("dst", dstLeg); err != nil {
		b.Fatal(err)
	}
	r.Hear("dst", "src")
	b.ReportAllocs()
	for b.Loop() {
		if push {
			pusher.pushes.Send(src.frame)
		} else {
			src.tokens <- struct{}{}
		}
		<-dst.wrote
	}
	if st := r.Stats(); st.Dropped != 0 {
		b.Errorf("stats %+v", st)
	}
}

// BenchmarkRoomMix3: one tick of a three-party barge: a frame from each
// party queued, three mixes of two sources made and written.
func BenchmarkRoomMix3(b *testing.B) {
	r := newRoom() // ticked here, not by the clock
	defer r.Close()
	var ps []*party
	var legs []*benchLeg
	for i, id := range []string{"r", "i", "s"} {
		l := newBenchLeg(PCMU, byte(40*i))
		if err := r.Join(id, l); err != nil {
			b.Fatal(err)
		}
		legs = append(legs, l)
		ps = append(ps, r.parties[id])
	}
	r.Hear("r", "i", "s")
	r.Hear("i", "r", "s")
	r.Hear("s", "r", "i")
	b.ReportAllocs()
	for b.Loop() {
		for i, p := range ps {
			r.dispatch(p, PCMU, legs[i].frame.Payload)
		}
		r.tick()
		for _, l := range legs {
			<-l.wrote
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(3*b.N), "ns/mixed-frame")
	if st := r.Stats(); st.Dropped != 0 || st.Passed != 0 {
		b.Errorf("stats %+v: want mixes only", st)
	}
}

// latLeg is a party of the latency benchmark. It says a frame per token,
// silent but for one code, its slot: the frame's number (mod 64), a code
// that survives a mix with silent slots unchanged. It notes when each
// ReadFrame returned, and on WriteFrame looks up the slots of the parties
// it hears.
type latLeg struct {
	slot    int
	tokens  chan struct{}
	done    chan struct{}
	payload [SamplesPerPacket]byte
	seq     int
	read    [64]atomic.Int64 // ReadFrame return, ns, by frame number mod 64

	hears     []*latLeg
	measuring *atomic.Bool
	delays    []time.Duration // writer goroutine only
}

func (l *latLeg) ReadFrame(ctx context.Context) (Frame, error) {
	select {
	case <-l.tokens:
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
	l.seq = (l.seq + 1) % 64
	l.payload[l.slot] = byte(l.seq)
	l.read[l.seq].Store(time.Now().UnixNano())
	return Frame{Codec: PCMU, Payload: l.payload[:]}, nil
}

func (l *latLeg) WriteFrame(ctx context.Context, f Frame) error {
	now := time.Now().UnixNano()
	if !l.measuring.Load() {
		return nil
	}
	for _, src := range l.hears {
		if c := f.Payload[src.slot]; c < 64 {
			l.delays = append(l.delays, time.Duration(now-src.read[c].Load()))
		}
	}
	return nil
}

func (l *latLeg) Done() <-chan struct{} { return l.done }

// BenchmarkRoomLatency: 300 rooms, each party talking every 20 ms on its
// own clock phase; the bridge-added delay, p50 and p99, of passed-through
// frames (an interviewer and a respondent) and of mixed frames (a
// three-party barge). An op is one 20 ms period of all rooms.
func BenchmarkRoomLatency(b *testing.B) {
	const rooms = 300
	for _, tc := range []struct {
		name    string
		parties int
	}{{"passthrough", 2}, {"mixed", 3}} {
		b.Run(tc.name, func(b *testing.B) {
			var measuring atomic.Bool
			stop := make(chan struct{})
			var talkers sync.WaitGroup
			var all []*latLeg
			var rs []*Room
			for n := range rooms {
				r := NewRoom()
				rs = append(rs, r)
				var legs []*latLeg
				for i := range tc.parties {
					l := &latLeg{slot: i, tokens: make(chan struct{}, 8), done: make(chan struct{}), measuring: &measuring,
						delays: make([]time.Duration, 0, 4096)}
					for k := range l.payload {
						l.payload[k] = PCMU.Silence()
					}
					legs = append(legs, l)
				}
				for i, l := range legs {
					var ids []string
					for j, src := range legs {
						if j != i {
							l.hears = append(l.hears, src)
							ids = append(ids, fmt.Sprint(j))
						}
					}
					if err := r.Join(fmt.Sprint(i), l); err != nil {
						b.Fatal(err)
					}
					r.Hear(fmt.Sprint(i), ids...)
				}
				all = append(all, legs...)
				// Each room's parties talk on a clock of their own phase.
				phase := time.Duration(n) * PacketInterval / rooms
				talkers.Add(1)
				go func() {
					defer talkers.Done()
					time.Sleep(phase)
					t := time.NewTicker(PacketInterval)
					defer t.Stop()
					for {
						select {
						case <-t.C:
							for _, l := range legs {
								select {
								case l.tokens <- struct{}{}:
								default:
								}
							}
						case <-stop:
							return
						}
					}
				}()
			}
			clock := time.NewTicker(PacketInterval)
			defer clock.Stop()
			for range 25 { // warm up: every room talking, queues settled
				<-clock.C
			}
			measuring.Store(true)
			b.ResetTimer()
			for range b.N {
				<-clock.C
			}
			b.StopTimer()
			measuring.Store(false)
			close(stop)
			talkers.Wait()
			var st RoomStats
			for _, r := range rs {
				r.Close()
				s := r.Stats()
				st.Passed, st.Mixed, st.Dropped = st.Passed+s.Passed, st.Mixed+s.Mixed, st.Dropped+s.Dropped
			}
			var delays []time.Duration
			for _, l := range all {
				delays = append(delays, l.delays...)
			}
			if len(delays) == 0 {
				b.Fatal("no frame reached a listener")
			}
			slices.Sort(delays)
			pct := func(p float64) float64 {
				return float64(delays[int(p*float64(len(delays)-1))]) / float64(time.Millisecond)
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(st.Dropped)/float64(st.Passed+st.Mixed+st.Dropped), "dropped/frame")
		})
	}
}
