// Tests of Tally on a hand-built set of interviews whose counts are worked
// out below, group by group.

package sql_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

// reportSet stores the interviews of questionnaire cx the report tests count.
// Midnight is 2025-03-10 00:00 UTC; From is midnight and To two days later.
//
//	i1 +9h     web/alice/sales  complete  nps 10, resolved true, csat 5, comment
//	i2 +23h30  phone/bob        partial   nps 6, resolved false; stopped at csat
//	i3 +24h10  -/alice          breakoff  nps skipped; stopped at nps
//	i4 +36h    web/-/billing    running   nps 10, csat 4.0 (as jsonb 4.0), amount 2.5
//	i5 +40h    web/bob (v2)     complete  nps 9, resolved true
//	outside: cx at +48h and at −1h, another questionnaire at +10h.
func reportSet(t *testing.T, db *sql.DB) (from, to time.Time) {
	t.Helper()
	ctx := t.Context()
	midnight := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	putQuestionnaire(t, db, "cx", "id: cx\n")
	putQuestionnaire(t, db, "other", "id: other\n")
	at := func(d time.Duration) time.Time { return midnight.Add(d) }

	i1 := startInterview(t, db, "cx", at(9*time.Hour), survey.Context{Touchpoint: "web", Agent: "alice", Queue: "sales"})
	saveAnswer(t, db, i1, "nps", int64(10))
	saveAnswer(t, db, i1, "resolved", true)
	saveAnswer(t, db, i1, "csat", int64(5))
	saveAnswer(t, db, i1, "comment", "great")
	finish(t, db, i1, survey.StatusComplete, "comment")

	i2 := startInterview(t, db, "cx", at(23*time.Hour+30*time.Minute), survey.Context{Touchpoint: "phone", Agent: "bob"})
	saveAnswer(t, db, i2, "nps", int64(6))
	saveAnswer(t, db, i2, "resolved", false)
	finish(t, db, i2, survey.StatusPartial, "csat")

	i3 := startInterview(t, db, "cx", at(24*time.Hour+10*time.Minute), survey.Context{Agent: "alice"})
	saveAnswer(t, db, i3, "nps", nil)
	finish(t, db, i3, survey.StatusBreakoff, "nps")

	i4 := startInterview(t, db, "cx", at(36*time.Hour), survey.Context{Touchpoint: "web", Queue: "billing"})
	saveAnswer(t, db, i4, "nps", int64(10))
	saveAnswer(t, db, i4, "csat", int64(4))
	saveAnswer(t, db, i4, "amount", 2.5)
	// jsonb keeps numbers as written: an integral 4.0 still counts as 4.
	if _, err := db.Pool().Exec(ctx, `UPDATE answer SET value = '4.0' WHERE interview_id = $1 AND question_id = 'csat'`, i4); err != nil {
		t.Fatal(err)
	}

	putQuestionnaire(t, db, "cx", "id: cx\n# v2\n")
	i5 := startInterview(t, db, "cx", at(40*time.Hour), survey.Context{Touchpoint: "web", Agent: "bob"})
	saveAnswer(t, db, i5, "nps", int64(9))
	saveAnswer(t, db, i5, "resolved", true)
	finish(t, db, i5, survey.StatusComplete, "resolved")

	for _, out := range []struct {
		q  string
		at time.Time
	}{{"cx", at(48 * time.Hour)}, {"cx", at(-time.Hour)}, {"other", at(10 * time.Hour)}} {
		id := startInterview(t, db, out.q, out.at, survey.Context{Touchpoint: "web"})
		saveAnswer(t, db, id, "nps", int64(0))
		finish(t, db, id, survey.StatusBreakoff, "csat")
	}
	return midnight, at(48 * time.Hour)
}

func TestTally(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	from, to := reportSet(t, db)
	type values = map[string]map[int64]int
	type counts = map[string]int
	for _, c := range []struct {
		by   survey.GroupBy
		want []survey.Tally
	}{
		{survey.ByDay, []survey.Tally{
			{Group: "2025-03-10", Started: 2, Complete: 1, Partial: 1,
				Values:    values{"nps": {10: 1, 6: 1}, "resolved": {1: 1, 0: 1}, "csat": {5: 1}},
				Answered:  counts{"nps": 2, "resolved": 2, "csat": 1, "comment": 1},
				StoppedAt: counts{"csat": 1}},
			{Group: "2025-03-11", Started: 3, InProgress: 1, Complete: 1, Breakoff: 1,
				Values:    values{"nps": {10: 1, 9: 1}, "csat": {4: 1}, "resolved": {1: 1}},
				Answered:  counts{"nps": 2, "csat": 1, "amount": 1, "resolved": 1},
				StoppedAt: counts{"nps": 1}},
		}},
		{survey.ByTouchpoint, []survey.Tally{
			{Group: "", Started: 1, Breakoff: 1, StoppedAt: counts{"nps": 1}},
			{Group: "phone", Started: 1, Partial: 1,
				Values:    values{"nps": {6: 1}, "resolved": {0: 1}},
				Answered:  counts{"nps": 1, "resolved": 1},
				StoppedAt: counts{"csat": 1}},
			{Group: "web", Started: 3, InProgress: 1, Complete: 2,
				Values:   values{"nps": {10: 2, 9: 1}, "resolved": {1: 2}, "csat": {5: 1, 4: 1}},
				Answered: counts{"nps": 3, "resolved": 2, "csat": 2, "comment": 1, "amount": 1}},
		}},
	} {
		t.Run(string(c.by), func(t *testing.T) {
			got, err := db.Tally(ctx, survey.ReportQuery{Questionnaire: "cx", From: from, To: to, By: c.by})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Tally (-want +got):\n%s", diff)
			}
		})
	}

	// The other groupings: which interviews fall where.
	for _, c := range []struct {
		by   survey.GroupBy
		want map[string]int // started per group
	}{
		{survey.ByAgent, map[string]int{"": 1, "alice": 2, "bob": 2}},
		{survey.ByQueue, map[string]int{"": 3, "billing": 1, "sales": 1}},
	} {
		got, err := db.Tally(ctx, survey.ReportQuery{Questionnaire: "cx", From: from, To: to, By: c.by})
		if err != nil {
			t.Fatal(err)
		}
		started := map[string]int{}
		var order []string
		for _, g := range got {
			started[g.Group] = g.Started
			order = append(order, g.Group)
		}
		if diff := cmp.Diff(c.want, started); diff != "" {
			t.Errorf("Tally by %s, started (-want +got):\n%s", c.by, diff)
		}
		if !slices.IsSorted(order) {
			t.Errorf("Tally by %s groups out of order: %q", c.by, order)
		}
	}

	// Without bounds, every interview of cx counts.
	all, err := db.Tally(ctx, survey.ReportQuery{Questionnaire: "cx", By: survey.ByTouchpoint})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, g := range all {
		total += g.Started
	}
	if total != 7 {
		t.Errorf("unbounded Tally started %d, want 7", total)
	}

	if _, err := db.Tally(ctx, survey.ReportQuery{Questionnaire: "cx", By: "hour"}); err == nil {
		t.Error("Tally by hour succeeded")
	}
}
