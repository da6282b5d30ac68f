package media

// This file tells live audio that arrives too late to be worth playing.
// A starved process reads its sockets late: the packets wait in kernel and
// library buffers and then come all at once. Passed on, they would play
// seconds behind the far end for the rest of the call (a bridge has no
// jitter buffer to shrink), so where a bridge takes a leg's frames it
// drops those whose RTP time is too far behind the wall clock, and
// catches up with the present at once.

import "time"

// StaleAfter is how far behind its stream's pace a received frame may be
// and still be passed on. It is well above the jitter of a healthy path
// (a few ms on a LAN, tens on the Internet) and well below what makes a
// conversation awkward.
const StaleAfter = 150 * time.Millisecond

const (
	// driftAllowance lets the least lag seen creep up by 1 ms a second,
	// ten times the drift of a poor sender clock (100 ppm): a sender whose
	// clock runs slow is never taken for a backlog, while a backlog (a
	// stall adds its whole length at once) is.
	driftAllowance = 1000
	// pacedToResync stale frames in a row arriving at their own pace (not
	// in a burst) mean the lag is the stream's now, not a backlog being
	// drained: a sender that paused without moving its timestamps on, or
	// a path that got slower. The stream is re-anchored on the last of them.
	pacedToResync = 10
	// staleRun is the longest a run of stale frames lasts: dropping is
	// there to catch up with a backlog, and one that is still there after
	// this long is the stream's lag now (a process starved for good reads
	// its sockets a full buffer behind, in batches that never look paced):
	// playing late beats playing nothing. The stream is re-anchored.
	staleRun = time.Second
	// resyncBack is how far a timestamp may step back (reordering) before
	// the stream is taken to have restarted.
	resyncBack = SampleRate / 5 // 200 ms
)

// Freshness follows one received stream and tells its stale frames. It
// anchors the stream's RTP timestamps to the wall clock at the first frame
// and keeps the least lag seen since (the path's own delay); a frame whose
// lag exceeds that by more than StaleAfter is stale. It re-anchors when
// the SSRC changes, when the timestamp steps back (a restart), when stale
// frames keep arriving at their own pace, and when frames have been stale
// for a second: a lag that lasts is the stream's, and late audio beats
// silence. The zero value is ready;
// it is not safe for concurrent use (one receive goroutine owns it).
type Freshness struct {
	started  bool
	ssrc     uint32
	lastTS   uint32
	anchorTS uint32
	anchorAt time.Time
	base     time.Duration // least lag seen, allowed to creep up
	baseAt   time.Time
	lastAt   time.Time // arrival of the previous frame
	paced    int       // stale frames in a row that came at their own pace
	since    time.Time // arrival of the first frame of the current stale run
	stale    bool      // the previous frame was stale
}

// Stale reports whether a frame of stream ssrc with RTP timestamp ts
// (8 kHz), received at now, is too late to pass on. Call it for every
// audio frame of the stream, in arrival order, dropped ones included.
func (g *Freshness) Stale(ssrc, ts uint32, now time.Time) bool {
	if !g.started || ssrc != g.ssrc || int32(ts-g.lastTS) < -resyncBack {
		g.anchor(ssrc, ts, now)
		return false
	}
	step := int32(ts - g.lastTS)
	if step > 0 {
		g.lastTS = ts
	}
	gap := now.Sub(g.lastAt)
	g.lastAt = now
	lag := now.Sub(g.anchorAt) - samples(int32(ts-g.anchorTS))
	g.base += now.Sub(g.baseAt) / driftAllowance
	g.baseAt = now
	if lag < g.base {
		g.base = lag
	}
	if lag-g.base <= StaleAfter {
		g.paced, g.stale = 0, false
		return false
	}
	if !g.stale {
		g.stale, g.since = true, now
	}
	// A backlog being drained comes in a burst, much faster than its pace;
	// frames that keep coming at their pace carry a lag that is here to
	// stay.
	if step > 0 && gap >= samples(step)/2 {
		g.paced++
	} else {
		g.paced = 0
	}
	if g.paced >= pacedToResync || now.Sub(g.since) >= staleRun {
		g.anchor(ssrc, ts, now)
		return false
	}
	return true
}

func (g *Freshness) anchor(ssrc, ts uint32, now time.Time) {
	*g = Freshness{started: true, ssrc: ssrc, lastTS: ts, anchorTS: ts, anchorAt: now, baseAt: now, lastAt: now}
}

// samples is the duration of n samples at SampleRate.
func samples(n int32) time.Duration {
	return time.Duration(n) * time.Second / SampleRate
}
