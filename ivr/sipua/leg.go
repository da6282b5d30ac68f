package sipua

// This file is a call's media.Leg, for what joins calls together (a
// bridge to an interviewer's browser, a supervisor's mix). Nothing is
// queued until Leg is first called, so a call that only runs a survey
// pays nothing for it. The receiver hands each audio packet it keeps (not
// events, not duplicates) to the leg's reader as it came, G.711 bytes (to
// a Room, on the receive goroutine itself: media.Pusher), unless it came
// too late to be worth playing (media.Freshness: the process was starved
// and the socket held it);
// the writer sends each frame as soon as it is written (a bridge
// writes live audio, which keeps its own 20 ms pace: holding it for the
// next slot of our clock would add up to a slot of delay, and jitter would
// leave frames queued for good); while no frame comes, the call's own
// packet clock plays prompts and comfort silence.

import (
	"bytes"
	"context"
	"sync/atomic"
	"time"

	"github.com/canvass/canvass/ivr/media"
)

const (
	// legReadQueue bounds frames received and not yet read (1 s); past
	// it, the oldest are dropped: a reader that falls behind hears the
	// present, not a growing delay.
	legReadQueue = 50
	// legWriteQueue bounds frames written and not yet sent (100 ms):
	// they wait only before the answer and while digits are sent; past
	// it, the oldest are dropped.
	legWriteQueue = 5
)

var (
	_ media.Pusher          = (*leg)(nil)
	_ media.ImmediateWriter = (*leg)(nil)
)

// legQueues are the frames between a call's media goroutines and its leg.
type legQueues struct {
	in  chan media.Frame
	out chan outFrame

	// pushes (a Room's fast path) take received frames instead of in, on
	// the receive goroutine.
	pushes media.Fanout

	// fresh and stale belong to the receive goroutine: frames dropped
	// because they came too late (stale is read by StaleFrames).
	fresh media.Freshness
	stale atomic.Uint64
}

// outFrame is a written frame, copied so that the writer may reuse its
// buffer and nothing is allocated per frame.
type outFrame struct {
	codec   media.Codec
	payload [media.SamplesPerPacket]byte
}

// Leg returns the call's audio as a media.Leg. Received audio is queued
// from the first call on.
func (c *call) Leg() media.Leg {
	c.legOnce.Do(func() {
		c.legQ.Store(&legQueues{in: make(chan media.Frame, legReadQueue), out: make(chan outFrame, legWriteQueue)})
	})
	return &leg{c: c, q: c.legQ.Load()}
}

// leg is a call seen as a media.Leg.
type leg struct {
	c *call
	q *legQueues
}

// received queues a frame for the reader; only the receive goroutine
// calls it. When the queue is full the oldest frame makes room.
func (q *legQueues) received(f media.Frame) (dropped bool) {
	for {
		select {
		case q.in <- f:
			return dropped
		default:
		}
		select {
		case <-q.in:
			dropped = true
		default:
		}
	}
}

// next is the next written frame to send, if any; only the sender calls
// it.
func (q *legQueues) next() (outFrame, bool) {
	select {
	case f := <-q.out:
		return f, true
	default:
		return outFrame{}, false
	}
}

// ReadFrame returns the next frame the caller sent.
func (l *leg) ReadFrame(ctx context.Context) (media.Frame, error) {
	select {
	case f := <-l.q.in:
		return f, nil
	default:
	}
	select {
	case f := <-l.q.in:
		return f, nil
	case <-l.c.done:
		return media.Frame{}, media.ErrEnded
	case <-ctx.Done():
		return media.Frame{}, ctx.Err()
	}
}

// WriteFrame sends f at once, on this goroutine. Before the answer and
// while digits are sent, frames wait in a short queue that loses its
// oldest frame when full: WriteFrame never waits.
func (l *leg) WriteFrame(ctx context.Context, f media.Frame) error {
	if err := f.Check(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.c.ended() {
		return media.ErrEnded
	}
	out := outFrame{codec: f.Codec}
	copy(out.payload[:], f.Payload)
	for {
		select {
		case l.q.out <- out:
			l.c.sender.live() // it goes out at once, from this goroutine
			return nil
		default:
		}
		select {
		case <-l.q.out:
		default:
		}
	}
}

// WritesImmediately marks the leg a media.ImmediateWriter.
func (l *leg) WritesImmediately() {}

// Push hands received frames to f on the receive goroutine instead of
// queueing them for ReadFrame, until stop (media.Pusher).
func (l *leg) Push(f func(media.Frame)) (stop func()) { return l.q.pushes.Add(f) }

// StaleFrames counts the received frames dropped because they arrived too
// far behind the call's pace to be worth playing (media.Freshness).
func (l *leg) StaleFrames() uint64 { return l.q.stale.Load() }

// Done is closed when the call has ended.
func (l *leg) Done() <-chan struct{} { return l.c.done }

// legFrame hands an audio packet to the leg's reader, when there is one.
func (c *call) legFrame(codec media.Codec, ts uint32, payload []byte, now time.Time) {
	q := c.legQ.Load()
	if q == nil || len(payload) == 0 {
		return
	}
	// The receiver restarts its own state on a new SSRC; a restart shows
	// here as a timestamp jump, which Freshness follows by itself.
	if q.fresh.Stale(0, ts, now) {
		if n := q.stale.Add(1); n == 1 || n%500 == 0 {
			c.log.Debug("leg frames dropped as stale: received too late to play", "stale", n)
		}
		return
	}
	if q.pushes.Send(media.Frame{Codec: codec, Payload: payload, Timestamp: ts}) {
		return
	}
	if q.received(media.Frame{Codec: codec, Payload: bytes.Clone(payload), Timestamp: ts}) {
		if n := c.stats.droppedFrames.Add(1); n == 1 || n%500 == 0 {
			c.log.Warn("leg frames dropped: the reader is behind", "dropped", n, "queue", legReadQueue)
		}
	}
}
