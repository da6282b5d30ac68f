package ivr

// This file is the engine's node: the canvass process it runs in, among
// the others sharing the database. The engine registers it once, stamps
// its keypad interviews with its id, and beats its heartbeat; the other
// nodes' lost-interview sweep (lost.go) closes the interviews of a node
// whose heartbeat stopped for Options.NodeTimeout — a process killed, or
// its machine gone — within seconds rather than after the longest call.
// A node cut from the database but still running has its interviews
// closed too: its own ends then lose the compare-and-set, and its answers
// stay stored up to the cut.

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/canvass/canvass/survey"
)

// Nodes registers the processes sharing the database and keeps their
// heartbeats; the database satisfies it.
type Nodes interface {
	RegisterNode(ctx context.Context, name string) (survey.NodeID, error)
	TouchNode(ctx context.Context, id survey.NodeID) error
}

// node is the engine's registration and the run of heartbeats that went
// through.
type node struct {
	mu     sync.Mutex
	nodeID survey.NodeID
	since  time.Time // first heartbeat of the current unbroken run
	last   time.Time // last heartbeat that went through
}

func (n *node) id() survey.NodeID {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.nodeID
}

// beat notes a heartbeat that went through at now; a gap longer than
// timeout starts a new run.
func (n *node) beat(now time.Time, timeout time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.last.IsZero() || now.Sub(n.last) > timeout {
		n.since = now
	}
	n.last = now
}

// steady: the heartbeats have gone through without a gap for at least
// timeout, up to now.
func (n *node) steady(now time.Time, timeout time.Duration) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.nodeID != 0 && !n.last.IsZero() && now.Sub(n.last) <= timeout && now.Sub(n.since) >= timeout
}

// Register records this process as a node named name; the keypad
// interviews started after it carry its id. Call it before calls come in,
// then run Heartbeat.
func (e *Engine) Register(ctx context.Context, nodes Nodes, name string) (survey.NodeID, error) {
	id, err := nodes.RegisterNode(ctx, name)
	if err != nil {
		return 0, err
	}
	e.node.mu.Lock()
	e.node.nodeID = id
	e.node.mu.Unlock()
	e.node.beat(e.now(), e.opts.NodeTimeout)
	return id, nil
}

// Heartbeat stamps the node alive four times per Options.NodeTimeout
// until ctx ends. A heartbeat that fails is logged; the next one is the
// retry.
func (e *Engine) Heartbeat(ctx context.Context, nodes Nodes) error {
	id := e.node.id()
	if id == 0 {
		return fmt.Errorf("heartbeat: the node is not registered")
	}
	t := time.NewTicker(e.opts.NodeTimeout / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		beatCtx, cancel := context.WithTimeout(ctx, e.opts.NodeTimeout/4)
		err := nodes.TouchNode(beatCtx, id)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			e.log.Warn("node heartbeat failed; the other nodes take this one for dead if it lasts", "node", id, "err", err, "node_timeout", e.opts.NodeTimeout)
		default:
			e.node.beat(e.now(), e.opts.NodeTimeout)
		}
	}
}

// NodeID is the id Register gave this process; 0 before.
func (e *Engine) NodeID() survey.NodeID { return e.node.id() }

// NodeSteady: this node's heartbeat has gone through without a gap for a
// whole Options.NodeTimeout, so it may judge the other nodes by theirs
// (after the database was away every heartbeat is stale until it beats
// again). The lost-interview sweep and the dialer's takeover of a dead
// node's claims wait for it.
func (e *Engine) NodeSteady() bool { return e.node.steady(e.now(), e.opts.NodeTimeout) }

// NodeTimeout is Options.NodeTimeout: a node whose heartbeat stopped this
// long ago is dead.
func (e *Engine) NodeTimeout() time.Duration { return e.opts.NodeTimeout }

// NodeAlive: this node's last heartbeat went through less than
// Options.NodeTimeout ago. Past that the other nodes hold it for dead:
// they close its interviews as lost and take its dialer's claims over, so
// its dialer hangs up the calls it placed (dialer.Node).
func (e *Engine) NodeAlive() bool {
	e.node.mu.Lock()
	defer e.node.mu.Unlock()
	return e.node.nodeID != 0 && !e.node.last.IsZero() && e.now().Sub(e.node.last) <= e.opts.NodeTimeout
}
