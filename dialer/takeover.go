package dialer

// This file is what a runner does when it is one node among several
// sharing the database (SetNode): its claims carry its node id; it marks
// each call placed just before placing it; and it takes over the claims
// of nodes whose heartbeat went silent (kill -9, a machine gone). A call
// the silent node had placed is settled as lost with its node (the cause
// table's "node lost": retried soon, as a network fault; a complete
// interview closes the case as 1.1); its interview, if any, stays in
// progress as after a hang-up, every answer kept, and the call back
// resumes it (on the last attempt the case closes and the lost-interview
// sweep closes the interview as lost). A claim it never
// dialed goes back to the queue, uncounted. The database decides who
// takes what (the claims are locked, skipped when locked, and settled
// only while still the silent node's): two survivors never both take a
// case, and a call is never placed once its claim was taken (the mark and
// the takeover meet on the attempt's row). A node whose own heartbeat
// has failed for the timeout (cut from the database, or too slow to
// reach it) is held for dead by the others, which take its claims over
// and may call its numbers again: it hangs up the calls it placed
// (fence), as it would at shutdown, so that no number has two of its
// calls up at once.

import (
	"context"
	"log/slog"
	"time"

	"github.com/canvass/canvass/survey"
)

// Node is this process among the nodes sharing the database: its id in
// the node register, whether its own heartbeat has gone through steadily
// for a whole timeout (only then does it judge the others by theirs),
// whether its last one is within the timeout (past it, the others hold
// it for dead), and the timeout after which a silent node is dead. The
// IVR engine (ivr.Engine) is one.
type Node interface {
	NodeID() survey.NodeID
	NodeSteady() bool
	NodeAlive() bool
	NodeTimeout() time.Duration
}

// SetNode makes the runner a node: see this file's head. Call it before
// Run, once the node is registered.
func (r *Runner) SetNode(n Node) { r.node = n }

// marked records that job j's call is placed now and says whether it may
// be. A claim another node took over is not placed. A claim whose mark
// could not be stored is not placed either, and settled as a call that got
// no response (retried soon).
func (r *Runner) marked(ctx context.Context, log *slog.Logger, camp survey.Campaign, j survey.DialJob) bool {
	err := r.store.MarkDialing(ctx, j, r.now())
	switch {
	case err == nil:
		return true
	case survey.ErrorCodeOf(err) == survey.EConflict:
		log.Warn("not dialing: another node took the claim over while this one was silent", "err", err)
	case ctx.Err() != nil:
		r.settle(ctx, log, camp, j, Result{Signal: Signal{Cancelled: true}}, "")
	default:
		log.Error("not dialing: the call could not be marked as placed", "err", err)
		r.settle(ctx, log, camp, j, Result{}, "")
	}
	return false
}

// takeOver takes over the claims of the nodes silent for the node
// timeout, once this node's own heartbeat is steady.
func (r *Runner) takeOver(ctx context.Context) {
	if !r.node.NodeSteady() {
		return
	}
	now := r.now()
	decide := func(c survey.Case, iv survey.Status) (survey.Outcome, error) {
		r.mu.Lock()
		camp := r.byID[c.CampaignID] // unknown yet: the default settings
		r.mu.Unlock()
		res := Result{Signal: Signal{NodeLost: true}}
		if iv == survey.StatusComplete {
			res = Result{Signal: Signal{Answered: true, SIPStatus: 200}, Status: iv}
		}
		o, err := Decide(c, camp, res, r.opts.RetrySoon, now)
		if err != nil {
			// Settings that do not decode: the defaults decide, rather
			// than the claim staying the dead node's.
			r.log.Error("take over a call: campaign settings; deciding by the defaults", "campaign", camp.Name, "err", err)
			return Decide(c, survey.Campaign{}, res, r.opts.RetrySoon, now)
		}
		return o, nil
	}
	settled, requeued, err := r.store.TakeOverDials(ctx, r.node.NodeID(), r.node.NodeTimeout(), decide, now)
	switch {
	case err != nil && ctx.Err() == nil:
		r.log.Error("take over the claims of silent nodes", "err", err)
	case settled+requeued > 0:
		r.log.Warn("took over the claims of silent nodes", "calls_settled_as_lost", settled, "claims_given_back", requeued,
			"node_timeout", r.node.NodeTimeout())
	}
}

// fence hangs up this node's dialer calls once its own heartbeat has
// failed for the node timeout: the other nodes take their claims over.
// It reports whether the node is fenced.
func (r *Runner) fence() bool {
	if r.node == nil || r.node.NodeID() == 0 || r.node.NodeAlive() {
		r.fenced = false
		return false
	}
	r.mu.Lock()
	n := len(r.hangups)
	for _, hangup := range r.hangups {
		hangup()
	}
	clear(r.hangups)
	r.mu.Unlock()
	if !r.fenced || n > 0 {
		r.log.Error("this node's heartbeat has failed for the node timeout: the other nodes take its calls over; hanging them up",
			"calls", n, "node_timeout", r.node.NodeTimeout())
	}
	r.fenced = true
	return true
}
