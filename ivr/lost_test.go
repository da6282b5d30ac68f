package ivr_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
	"github.com/canvass/canvass/testdata"
)

// TestMain starts the PostgreSQL of the lost-interview tests once.
func TestMain(m *testing.M) { sqltest.Main(m) }

// postCallDB is a fresh database with the post-call questionnaire, and the
// store over it as cmd/canvass wires it.
func postCallDB(t *testing.T) (*sql.DB, *sql.DB, survey.QuestionnaireVersion) {
	t.Helper()
	db := sqltest.New(t)
	src, err := fs.ReadFile(testdata.Questionnaires, "questionnaires/post-call.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := db.PutQuestionnaire(t.Context(), survey.QuestionnaireVersion{ID: "post-call", Title: "Post-call", Languages: []string{"en", "fr"}, Source: src})
	if err != nil {
		t.Fatal(err)
	}
	return db, db, v
}

// Interviews left in progress by a process that died mid-call are closed by
// the next CloseLost, on any node, with the status their stored answers
// earn and cause "lost"; live, closed and CATI interviews are left alone,
// and two nodes closing at once close each interview once.
func TestCloseLost(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, store, v := postCallDB(t)
	now := time.Now()
	old := now.Add(-ivr.DefaultOptions().LostAfter() - time.Minute)
	start := func(mode survey.Mode, started time.Time, answers map[string]any) survey.InterviewID {
		t.Helper()
		id, err := store.StartInterview(ctx, survey.InterviewRecord{Questionnaire: "post-call", Version: v.Version,
			Mode: mode, Language: "en", StartedAt: started})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"nps", "csat", "ces", "resolved"} { // in the order asked
			if val, ok := answers[q]; ok {
				if err := store.SaveAnswer(ctx, id, survey.Answer{Question: q, Value: val}); err != nil {
					t.Fatal(err)
				}
			}
		}
		return id
	}
	atEnd := start(survey.ModeIVR, old, map[string]any{"nps": 9, "csat": 5, "ces": 7, "resolved": true})
	halfway := start(survey.ModeIVR, old, map[string]any{"nps": 9, "csat": 4})
	silent := start(survey.ModeIVR, old, nil)
	live := start(survey.ModeIVR, now.Add(-time.Minute), map[string]any{"nps": 3})
	cati := start(survey.ModeCATI, old, map[string]any{"nps": 8})
	closed := start(survey.ModeIVR, old, map[string]any{"nps": 10})
	if err := store.FinishInterview(ctx, closed, survey.StatusBreakoff, "hangup", "csat"); err != nil {
		t.Fatal(err)
	}

	// Two nodes at once.
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i := range counts {
		e := ivr.New(ivr.DefaultOptions(), store, store, slog.New(slog.DiscardHandler), nil)
		wg.Go(func() {
			n, err := e.CloseLost(ctx, store)
			if err != nil {
				t.Errorf("CloseLost: %v", err)
			}
			counts[i] = n
		})
	}
	wg.Wait()
	if got := counts[0] + counts[1]; got != 3 {
		t.Errorf("closed %d interviews between two nodes (%v), want 3", got, counts)
	}

	for _, tt := range []struct {
		name   string
		id     survey.InterviewID
		status survey.Status
		cause  string
		last   string
		n      int
	}{
		{"lost after the last answer", atEnd, survey.StatusComplete, ivr.CauseLost, "", 4},
		{"lost halfway", halfway, survey.StatusPartial, ivr.CauseLost, "ces", 2},
		{"lost before any answer", silent, survey.StatusBreakoff, ivr.CauseLost, "nps", 0},
		{"call still possibly up", live, survey.StatusInProgress, "", "", 1},
		{"CATI: the interviewer resumes it", cati, survey.StatusInProgress, "", "", 1},
		{"closed before", closed, survey.StatusBreakoff, "hangup", "csat", 1},
	} {
		r, err := db.Interview(ctx, tt.id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != tt.status || r.EndCause != tt.cause || r.LastQuestion != tt.last || len(r.Answers) != tt.n {
			t.Errorf("%s: %s cause %q last %q with %d answers; want %s cause %q last %q with %d",
				tt.name, r.Status, r.EndCause, r.LastQuestion, len(r.Answers), tt.status, tt.cause, tt.last, tt.n)
		}
	}

	// A later round finds nothing; a failing database is an error, not a
	// silent zero.
	e := ivr.New(ivr.DefaultOptions(), store, store, slog.New(slog.DiscardHandler), nil)
	if n, err := e.CloseLost(ctx, store); n != 0 || err != nil {
		t.Errorf("second round closed %d (%v), want 0", n, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.CloseLost(cancelled, store); err == nil {
		t.Error("CloseLost with a cancelled context reported no error")
	}
}

// failFinish is the database, except that closing one interview fails.
type failFinish struct {
	*sql.DB
	id survey.InterviewID
}

func (f failFinish) FinishInterview(ctx context.Context, id survey.InterviewID, to survey.Status, cause, last string) error {
	if id == f.id {
		return errors.New("disk full")
	}
	return f.DB.FinishInterview(ctx, id, to, cause, last)
}

// One lost interview that cannot be closed does not keep the others open:
// they are closed, and the failure is reported for the next round.
func TestCloseLostSkipsAFailure(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, store, v := postCallDB(t)
	old := time.Now().Add(-ivr.DefaultOptions().LostAfter() - time.Minute)
	var ids []survey.InterviewID
	for range 3 {
		id, err := store.StartInterview(ctx, survey.InterviewRecord{Questionnaire: "post-call", Version: v.Version, Mode: survey.ModeIVR, Language: "en", StartedAt: old})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	e := ivr.New(ivr.DefaultOptions(), failFinish{store, ids[0]}, store, slog.New(slog.DiscardHandler), nil)
	n, err := e.CloseLost(ctx, store)
	if n != 2 || err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("closed %d (%v), want 2 and the failure reported", n, err)
	}
	for i, id := range ids {
		r, err := db.Interview(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if want := i > 0; (r.Status != survey.StatusInProgress) != want {
			t.Errorf("interview %d: %s, want closed %v", i, r.Status, want)
		}
	}
}

// awayStore is the database, except that while down is set, closing an
// interview fails as an unreachable server does; conflicts says each time a
// close found the interview closed already.
type awayStore struct {
	*sql.DB
	down      *atomic.Bool
	conflicts chan struct{}
}

func (a awayStore) FinishInterview(ctx context.Context, id survey.InterviewID, to survey.Status, cause, last string) error {
	if a.down.Load() {
		return errors.New("database unavailable: connection refused")
	}
	err := a.DB.FinishInterview(ctx, id, to, cause, last)
	if errors.Is(err, survey.Conflict) {
		a.conflicts <- struct{}{}
	}
	return err
}

// An interview whose end the database could not take when its call ended
// is not lost: whether its own retry or the lost-interview sweep closes it
// once the database is back, it ends with its call's cause, not "lost".
func TestCloseLostKeepsTheCauseOfAnEndNotStored(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, store, v := postCallDB(t)
	away := awayStore{DB: store, down: new(atomic.Bool), conflicts: make(chan struct{}, 4)}
	old := time.Now().Add(-ivr.DefaultOptions().LostAfter() - time.Minute)
	id, err := store.StartInterview(ctx, survey.InterviewRecord{Questionnaire: "post-call", Version: v.Version,
		Mode: survey.ModeIVR, Language: "en", StartedAt: old})
	if err != nil {
		t.Fatal(err)
	}
	iv, err := postCall(t).Start("en", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := ivr.New(ivr.DefaultOptions(), away, store, slog.New(slog.DiscardHandler), nil)

	// The caller answers nps, then hangs up while the database is away.
	away.down.Store(true)
	if _, err := e.Run(ctx, &script{inputs: []ivr.Input{keys("9")}}, iv, id); err == nil {
		t.Error("Run reported no error although the interview could not be closed")
	}
	if r, err := db.Interview(ctx, id); err != nil || r.Status != survey.StatusInProgress {
		t.Fatalf("with the database away: %s (%v), want still in progress", r.Status, err)
	}

	away.down.Store(false)
	n, err := e.CloseLost(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("closed by the sweep: %t", n == 1)
	if n == 1 {
		// The sweep won; wait for the retry to find it closed and stop.
		select {
		case <-away.conflicts:
		case <-time.After(30 * time.Second):
			t.Fatal("the retry did not stop after the sweep closed the interview")
		}
	}
	r, err := db.Interview(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != survey.StatusBreakoff || r.EndCause != "hangup" || r.LastQuestion != "csat" {
		t.Errorf("closed as %s, cause %q, last %q; want breakoff, hangup, csat", r.Status, r.EndCause, r.LastQuestion)
	}
}
