package ivr_test

import (
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/survey"
)

// A node whose heartbeat stopped for NodeTimeout is dead: another node's
// sweep closes its keypad interviews as lost at once, with their answers,
// whatever their age; its own and other live nodes' interviews stay open.
// A node judges the others only once its own heartbeats have gone through
// for a whole NodeTimeout (after the database was away every heartbeat is
// stale).
func TestCloseLostOfSilentNode(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, store, v := postCallDB(t)
	opts := ivr.DefaultOptions()
	opts.NodeTimeout = 2 * time.Second
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	dead := ivr.New(opts, store, store, slog.New(slog.DiscardHandler), clock)
	survivor := ivr.New(opts, store, store, slog.New(slog.DiscardHandler), clock)
	deadID, err := dead.Register(ctx, db, "dead")
	if err != nil {
		t.Fatal(err)
	}
	liveID, err := survivor.Register(ctx, db, "survivor")
	if err != nil {
		t.Fatal(err)
	}
	start := func(node survey.NodeID) survey.InterviewID {
		id, err := store.StartInterview(ctx, survey.InterviewRecord{Questionnaire: "post-call", Version: v.Version,
			Mode: survey.ModeIVR, Language: "en", Node: node})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.SaveAnswer(ctx, id, survey.Answer{Question: "nps", Value: 9}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	orphan, own := start(deadID), start(liveID)
	// The dead node's last heartbeat was a minute ago.
	if _, err := db.Pool().Exec(ctx, `UPDATE node SET seen_at = now() - interval '1 minute' WHERE id = $1`, deadID); err != nil {
		t.Fatal(err)
	}
	if n, err := survivor.CloseLost(ctx, db); err != nil || n != 0 {
		t.Fatalf("just registered: CloseLost = %d, %v; want 0 (not steady yet)", n, err)
	}
	mu.Lock()
	now = now.Add(opts.NodeTimeout) // registered a NodeTimeout ago, last heartbeat then
	mu.Unlock()
	if n, err := survivor.CloseLost(ctx, db); err != nil || n != 1 {
		t.Fatalf("CloseLost = %d, %v; want 1", n, err)
	}
	r, err := db.Interview(ctx, orphan)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status == survey.StatusInProgress || r.EndCause != ivr.CauseLost || len(r.Answers) != 1 {
		t.Errorf("the dead node's interview: %s, cause %q, %d answers; want closed as lost with its answer", r.Status, r.EndCause, len(r.Answers))
	}
	if r, err := db.Interview(ctx, own); err != nil || r.Status != survey.StatusInProgress {
		t.Errorf("the survivor's own interview: %s, %v; want in progress", r.Status, err)
	}
}
