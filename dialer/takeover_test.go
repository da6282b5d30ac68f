package dialer

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/survey"
)

// fakeNode is this process's node as the runner sees it.
type fakeNode struct {
	steady, alive bool
}

func (n *fakeNode) NodeID() survey.NodeID      { return 7 }
func (n *fakeNode) NodeSteady() bool           { return n.steady }
func (n *fakeNode) NodeAlive() bool            { return n.alive }
func (n *fakeNode) NodeTimeout() time.Duration { return 20 * time.Second }

// takeOverStore records the takeovers asked of it and decides one case
// per interview status given.
type takeOverStore struct {
	fakeStore
	asked    int
	statuses []survey.Status
	outcomes []survey.Outcome
	mark     error
}

func (s *takeOverStore) TakeOverDials(_ context.Context, me survey.NodeID, silent time.Duration, decide func(survey.Case, survey.Status) (survey.Outcome, error), _ time.Time) (int, int, error) {
	s.asked++
	if me != 7 || silent != 20*time.Second {
		return 0, 0, nil
	}
	for _, iv := range s.statuses {
		o, err := decide(survey.Case{CampaignID: 1, Attempts: 1, MaxAttempts: 3}, iv)
		if err != nil {
			return 0, 0, err
		}
		s.outcomes = append(s.outcomes, o)
	}
	return len(s.statuses), 0, nil
}

func (s *takeOverStore) MarkDialing(context.Context, survey.DialJob, time.Time) error { return s.mark }

// A node takes over the claims of silent nodes only once its own
// heartbeat is steady; a call lost with its node is retried soon, unless
// its interview was complete.
func TestTakeOver(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	st := &takeOverStore{statuses: []survey.Status{"", survey.StatusInProgress, survey.StatusComplete}}
	r := NewRunner(st, nil, Options{Node: "a", RetrySoon: time.Minute}, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	node := &fakeNode{alive: true}
	r.SetNode(node)
	r.takeOver(t.Context())
	if st.asked != 0 {
		t.Fatalf("asked to take over %d times before this node's heartbeat was steady", st.asked)
	}
	node.steady = true
	r.takeOver(t.Context())
	if st.asked != 1 || len(st.outcomes) != 3 {
		t.Fatalf("takeovers %d, outcomes %v", st.asked, st.outcomes)
	}
	for i, o := range st.outcomes[:2] {
		if o.Status != survey.CaseOpen || !o.NextAttemptAt.Equal(now.Add(time.Minute)) || o.AttemptCode != "3.16" {
			t.Errorf("call lost with its node (interview %q): %+v; want open in 1m (retry_soon) as 3.16", st.statuses[i], o)
		}
	}
	if o := st.outcomes[2]; o.Status != survey.CaseClosed || o.FinalCode != survey.CodeComplete {
		t.Errorf("call lost with its node after a complete interview: %+v; want closed 1.1", o)
	}
}

// countingOriginator counts the calls placed.
type countingOriginator struct {
	mu     sync.Mutex
	placed int
}

func (o *countingOriginator) Survey(ctx context.Context, c Call) (Result, error) {
	o.mu.Lock()
	o.placed++
	o.mu.Unlock()
	<-ctx.Done() // up until hung up
	return Result{Signal: Signal{Cancelled: true}}, ctx.Err()
}

// A claim another node took over is never placed; a node whose heartbeat
// failed for the timeout hangs up the calls it placed and claims nothing.
func TestFence(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	st := &takeOverStore{mark: survey.Errorf(survey.EConflict, "taken over")}
	orig := &countingOriginator{}
	r := NewRunner(st, orig, Options{Node: "a"}, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	node := &fakeNode{alive: true, steady: true}
	r.SetNode(node)
	k := &campaign{c: survey.Campaign{ID: 1, Name: "c"}, running: true}
	var dry time.Time
	if n := r.claim(t.Context(), k.c, 2, now, &k.up, &dry, r.placeKeypad(k)); n != 2 {
		t.Fatalf("claimed %d", n)
	}
	r.calls.Wait()
	if orig.placed != 0 || len(st.settled) != 0 {
		t.Fatalf("claims taken over: %d placed, %d settled; want none", orig.placed, len(st.settled))
	}

	st.mark = nil
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r.claim(ctx, k.c, 3, now, &k.up, &dry, r.placeKeypad(k))
	for placed := 0; placed < 3; {
		orig.mu.Lock()
		placed = orig.placed
		orig.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	if r.fence() {
		t.Fatal("fenced while the heartbeat goes through")
	}
	node.alive = false
	if !r.fence() {
		t.Fatal("not fenced once the heartbeat failed for the timeout")
	}
	r.calls.Wait() // every call hung up
	if len(st.settled) != 3 {
		t.Errorf("%d calls settled after the fence, want 3", len(st.settled))
	}
}
