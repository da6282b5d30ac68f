package media

// This file is the seam between a leg and what joins legs together (a
// bridge, a mixer): audio in and out, one packet's worth at a time.

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// Frame is one packet's worth of a leg's audio: SamplesPerPacket G.711
// codes (20 ms) in Codec. A frame read from a peer that packs another
// duration holds what its packet held.
type Frame struct {
	Codec   Codec
	Payload []byte // one code per sample
	// Timestamp is the RTP timestamp of the first sample, on the clock of
	// the stream the frame came from (8 kHz); it jumps when that stream
	// restarts. It is ignored on writes: the leg numbers what it sends.
	Timestamp uint32
}

// Leg is one party's audio, as a bridge or a mixer sees it: the frames the
// party sends, the frames to play to it, and its end. A leg keeps sending
// on its own clock (prompts, comfort silence) whether or not frames are
// written; a written frame takes the next packet's place.
type Leg interface {
	// ReadFrame returns the next frame the party sent; its Payload is the
	// caller's to keep. It returns ErrEnded once the leg is over.
	ReadFrame(ctx context.Context) (Frame, error)
	// WriteFrame sends f, transcoded if the leg speaks the other law.
	// Frames are live audio that keeps its own 20 ms pace (a bridge
	// forwards them as they arrive): a leg sends each as soon as it can
	// rather than in a slot of its own clock, so that a bridge adds no
	// delay, and waits while its queue is full. f.Payload may be reused
	// once it returns. A frame that is not 20 ms of PCMU or PCMA is
	// ErrFrame; after the end, ErrEnded.
	WriteFrame(ctx context.Context, f Frame) error
	// Done is closed when the leg is over.
	Done() <-chan struct{}
}

// The Room's fast path. A leg that implements these is joined without the
// goroutines and queues a plain Leg needs: its frames go from the goroutine
// that received them, through the room, into the listener's socket. On a
// bridge each packet then wakes one goroutine instead of three, and
// nothing is copied or allocated on the way.

// Pusher is a Leg that hands the frames it receives to callbacks on the
// goroutine that received them, instead of queueing them for ReadFrame.
type Pusher interface {
	Leg
	// Push makes the leg call f with each frame it receives, until stop
	// is called; stop returns once no call of f is under way. While any f
	// is set, frames are not queued for ReadFrame. f must not block, and
	// its Frame.Payload is valid only until it returns. (A leg in two
	// rooms at once pushes to both.) A Fanout does the bookkeeping.
	Push(f func(Frame)) (stop func())
}

// Fanout is a Pusher's callbacks. The zero value has none.
type Fanout struct {
	mu sync.Mutex
	fs []*func(Frame) // pointers: a callback's identity, for its stop
}

// Add adds f; stop removes it, waiting for a Send under way.
func (o *Fanout) Add(f func(Frame)) (stop func()) {
	pf := &f
	o.mu.Lock()
	o.fs = append(o.fs, pf)
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		o.fs = slices.DeleteFunc(o.fs, func(x *func(Frame)) bool { return x == pf })
		o.mu.Unlock()
	}
}

// Send hands f to every callback in turn. It reports false when there is
// none: the leg queues f for ReadFrame then.
func (o *Fanout) Send(f Frame) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, pf := range o.fs {
		(*pf)(f)
	}
	return len(o.fs) > 0
}

// ImmediateWriter is a Leg whose WriteFrame never waits: it sends f (or
// drops it) before it returns. A Room writes to such a leg on the
// goroutine that has the frame (the source's, or the mix tick) rather
// than through a queue and a writer goroutine of its own.
type ImmediateWriter interface {
	Leg
	// WritesImmediately marks the leg; it does nothing.
	WritesImmediately()
}

// Errors of a Leg, checked with errors.Is.
var (
	// ErrEnded: the leg is over (hung up).
	ErrEnded = errors.New("media: the leg has ended")
	// ErrFrame: a written frame is not 20 ms of G.711.
	ErrFrame = errors.New("media: a frame must hold 20 ms (160 codes) of PCMU or PCMA")
)

// Check reports whether f can be written to a leg: 20 ms of PCMU or PCMA.
func (f Frame) Check() error {
	if len(f.Payload) != SamplesPerPacket || f.Codec != PCMU && f.Codec != PCMA {
		return ErrFrame
	}
	return nil
}
