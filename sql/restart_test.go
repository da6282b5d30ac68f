// A PostgreSQL restart under a running server: the pool reconnects, an
// answer given meanwhile is stored once it is back, and no committed answer
// is lost. It needs a cluster of its own to restart.

package sql_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

func TestPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of its own")
	}
	t.Parallel()
	ctx := t.Context()
	server, db := sqltest.NewServer(t, 4)
	putQuestionnaire(t, db, "q", "id: q\n")
	id := startInterview(t, db, "q", day0, survey.Context{})
	saveAnswer(t, db, id, "before", int64(1))

	stop, start := server.Stop, server.Start

	// The pool's idle connections died with the server: the next answer
	// must still go through, at once.
	stop()
	start()
	saveAnswer(t, db, id, "after", int64(2))
	server.Restart() // pg_ctl restart -m fast
	saveAnswer(t, db, id, "restarted", int64(5))

	// An answer given while the server is down for longer than its budget
	// fails, and says why.
	stop()
	short, cancel := context.WithTimeout(ctx, time.Second)
	err := db.SaveAnswer(short, id, survey.Answer{Question: "down", Value: int64(3)})
	cancel()
	if err == nil || !strings.Contains(err.Error(), "database unavailable") || !strings.Contains(err.Error(), "connect") {
		t.Errorf("SaveAnswer with the database down: %v, want an error naming the unreachable database", err)
	}

	// One given while it is down and back within the budget is stored.
	saved := make(chan error, 1)
	go func() {
		saved <- db.SaveAnswer(ctx, id, survey.Answer{Question: "again", Value: int64(4)})
	}()
	start()
	if err := <-saved; err != nil {
		t.Errorf("SaveAnswer while the database restarts: %v", err)
	}
	finish(t, db, id, survey.StatusComplete, "again")

	r, err := db.Interview(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range r.Answers {
		got = append(got, a.Question)
	}
	if want := []string{"before", "after", "restarted", "again"}; !slices.Equal(got, want) || r.Status != survey.StatusComplete {
		t.Errorf("after restarts: %s with answers %q, want complete with %q", r.Status, got, want)
	}
}
