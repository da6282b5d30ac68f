package sql_test

import (
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

// An alert is raised once per interview and rule, with the answer that
// triggers it: concurrent answers raising it make one alert and one
// "alert.raised" event; an answer refused (the interview has ended) raises
// nothing; the end-time alerts come with the end.
func TestAlertsRaisedOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	putQuestionnaire(t, db, "q", "id: q\n")
	id := startInterview(t, db, "q", day0, survey.Context{Touchpoint: "billing"})
	alert := survey.Alert{Rule: "detractor", Severity: "high", Owner: "billing-team", Due: 4 * time.Hour, Question: "nps"}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := survey.Answer{Question: "nps", Value: int64(i % 5), AnsweredAt: day0.Add(time.Duration(i) * time.Second)}
			if err := db.SaveAnswerAlerts(ctx, id, a, []survey.Alert{alert}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := db.Pool().QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM alert WHERE interview_id = $1 AND rule_id = 'detractor' AND owner = 'billing-team'
		AND due_at = raised_at + interval '4 hours'`, id); n != 1 {
		t.Errorf("%d detractor alerts, want exactly 1", n)
	}
	if n := count(`SELECT count(*) FROM event WHERE kind = 'alert.raised' AND interview_id = $1`, id); n != 1 {
		t.Errorf("%d alert.raised events, want 1", n)
	}
	end := survey.Alert{Rule: "unhappy_end", Severity: "medium", Due: time.Hour}
	if err := db.FinishInterviewAlerts(ctx, id, survey.StatusComplete, "completed", "nps", []survey.Alert{end}); err != nil {
		t.Fatal(err)
	}
	late := survey.Alert{Rule: "late", Severity: "low", Due: time.Hour, Question: "csat"}
	if err := db.SaveAnswerAlerts(ctx, id, survey.Answer{Question: "csat", Value: int64(1)}, []survey.Alert{late}); survey.ErrorCodeOf(err) != survey.EConflict {
		t.Errorf("an answer to an ended interview: %v, want a conflict", err)
	}
	if n := count(`SELECT count(*) FROM alert WHERE interview_id = $1`, id); n != 2 {
		t.Errorf("%d alerts, want the detractor and the end-time one (none from the refused answer)", n)
	}
}

// A customer's previous survey: the latest ended one before the given time,
// not the one asking; none for a new customer.
func TestLastInterviewOf(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	putQuestionnaire(t, db, "q", "id: q\n")
	first := startInterview(t, db, "q", day0, survey.Context{CustomerID: "C-1"})
	saveAnswer(t, db, first, "nps", int64(10))
	if err := db.FinishInterview(ctx, first, survey.StatusComplete, "completed", "nps"); err != nil {
		t.Fatal(err)
	}
	open := startInterview(t, db, "q", day0.Add(time.Hour), survey.Context{CustomerID: "C-1"}) // in progress: not history
	now := startInterview(t, db, "q", day0.Add(2*time.Hour), survey.Context{CustomerID: "C-1"})
	rec, ok, err := db.LastInterviewOf(ctx, "C-1", day0.Add(2*time.Hour), now)
	if err != nil || !ok || rec.ID != first || len(rec.Answers) != 1 {
		t.Errorf("previous of C-1: %d %v %v (open %d); want %d with its answer", rec.ID, ok, err, open, first)
	}
	if _, ok, err := db.LastInterviewOf(ctx, "C-2", day0.Add(3*time.Hour), 0); ok || err != nil {
		t.Errorf("a new customer has a previous survey: %v %v", ok, err)
	}
}
