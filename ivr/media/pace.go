package media

// This file is the packet clock of a sending leg: one packet every 20 ms
// for the whole call, counted against the wall clock.

import "time"

// PacketInterval is the audio one packet carries: SamplesPerPacket samples
// at SampleRate.
const PacketInterval = 20 * time.Millisecond

// MaxBurst is how many packets late a sender may fall (the machine
// stalled) and still catch up by sending them at once; further behind, it
// skips ahead instead of bursting the backlog at the peer.
const MaxBurst = 5

// Pacer counts the packets a sender owes. It is driven by a ticker of
// PacketInterval but counts against the clock from start, so that ticker
// drift and scheduling delays do not accumulate; packets due are rounded
// to the nearest tick (with a floor, a scheduling delay near a tick
// boundary alternated two packets and none: 40 ms gaps on the wire).
type Pacer struct {
	start time.Time
	sent  int64
}

// NewPacer starts the clock at start. Take start before starting the
// ticker that drives Due.
func NewPacer(start time.Time) *Pacer { return &Pacer{start: start} }

// Started reports whether the clock runs: a zero Pacer has not started.
func (p *Pacer) Started() bool { return !p.start.IsZero() }

// due is how many packets are owed at now since start, rounded to the
// nearest tick.
func (p *Pacer) due(now time.Time) int64 {
	return int64((now.Sub(p.start) + PacketInterval/2) / PacketInterval)
}

// Ahead counts the next packet as sent at now, ahead of its tick, when it
// is due within one PacketInterval: a prompt that starts goes out at once
// instead of at the next tick. It reports false when no packet may go
// (one already went ahead), and leaves the packets the ticks owe to them.
func (p *Pacer) Ahead(now time.Time) bool {
	if p.sent > p.due(now) {
		return false
	}
	p.sent++
	return true
}

// Due says what to do at now: skip packets (advance sequence numbers and
// timestamps without sending, a gap the peer reads as loss), then send
// packets. It counts both as done.
func (p *Pacer) Due(now time.Time) (skip, send int64) {
	due := p.due(now)
	if late := due - p.sent; late > MaxBurst {
		skip = late - 1
	}
	send = max(due-p.sent-skip, 0)
	p.sent += skip + send
	return skip, send
}
