// Tests of Tally on a hand-built set of interviews whose counts are worked
// out below, group by group.

package sql_test

import (
	"slices"
	"sync"
	"sync/atomic"
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

// The roll-up counts what the interviews count, whatever the range, the
// grouping and the filter, before and after a rolled day changes, and
// while answers change during the roll-up.
func TestTallyRolledUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	from, to := reportSet(t, db)
	dirty := func() {
		t.Helper()
		if _, err := db.Pool().Exec(ctx, `INSERT INTO report_dirty SELECT DISTINCT questionnaire_id, (started_at AT TIME ZONE 'UTC')::date FROM interview ON CONFLICT DO NOTHING`); err != nil {
			t.Fatal(err)
		}
	}
	rollUp := func() {
		t.Helper()
		for {
			n, err := db.RollUp(ctx, 2)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		var left int
		if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM report_dirty`).Scan(&left); err != nil || left != 0 {
			t.Fatalf("after the roll-up %d days are dirty (%v)", left, err)
		}
	}
	var queries []survey.ReportQuery
	march, may := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range [][2]time.Time{{from, to}, {from.Add(9*time.Hour + 30*time.Minute), to.Add(-time.Hour)}, {}, {from, time.Time{}}, {time.Time{}, to.Add(time.Minute)},
		{march, may}, {march.AddDate(0, -1, 3), may}} { // whole months from month rows
		for _, by := range []survey.GroupBy{survey.ByDay, survey.ByWeek, survey.ByMonth, survey.ByTouchpoint, survey.ByAgent, survey.ByQueue} {
			for _, f := range [][3]string{{}, {"en", "", ""}, {"", "touchpoint", "web"}, {"", "agent", "bob"}, {"", "queue", ""}, {"", "customer_id", "c1"}} {
				queries = append(queries, survey.ReportQuery{Questionnaire: "cx", From: r[0], To: r[1], By: by, Language: f[0], Field: f[1], Value: f[2]})
			}
		}
	}
	tallies := func() [][]survey.Tally {
		t.Helper()
		var out [][]survey.Tally
		for _, q := range queries {
			ts, err := db.Tally(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ts)
		}
		return out
	}
	same := func(when string, want, got [][]survey.Tally) {
		t.Helper()
		for i := range queries {
			if diff := cmp.Diff(want[i], got[i], cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s: Tally %+v (-interviews +roll-up):\n%s", when, queries[i], diff)
			}
		}
	}

	live := tallies() // every day is dirty: counted from the interviews
	rollUp()
	same("rolled up", live, tallies())

	// A rolled day changes: reports see it at once, and again once rolled.
	if _, err := db.Pool().Exec(ctx, `UPDATE answer SET value = '0' WHERE question_id = 'nps' AND value = '10'`); err != nil {
		t.Fatal(err)
	}
	changed := tallies()
	if cmp.Equal(live, changed, cmpopts.EquateEmpty()) {
		t.Fatal("changing the answers changed no tally")
	}
	dirty()
	same("changed", tallies(), changed)
	rollUp()
	same("changed and rolled up", changed, tallies())

	// Answers changing while days are rolled up are never left out.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var updates atomic.Int64
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := 0; ; v++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := db.Pool().Exec(ctx, `UPDATE answer SET value = to_jsonb($1::int) WHERE question_id = 'nps' AND NOT skipped AND interview_id % 3 = $2`, v%11, w); err != nil {
					t.Error(err)
					return
				}
				updates.Add(1)
			}
		}()
	}
	for updates.Load() < 30 {
		if _, err := db.RollUp(ctx, 10); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	rollUp()
	rolled := tallies()
	dirty()
	same("rolled up during changes", tallies(), rolled)

	// And reports do read the roll-up: a whole day's slice, altered, shows.
	rollUp()
	if _, err := db.Pool().Exec(ctx, `UPDATE report_slice SET started = started + 100 WHERE day = '2025-03-10' AND dim = ''`); err != nil {
		t.Fatal(err)
	}
	ts, err := db.Tally(ctx, survey.ReportQuery{Questionnaire: "cx", From: from, To: to, By: survey.ByDay})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].Started != 102 {
		t.Errorf("Tally by day over the altered roll-up = %+v, want 102 started on the first day", ts)
	}
	// Answers too: one histogram a question, its values and their counts.
	before := ts[0]
	if _, err := db.Pool().Exec(ctx, `UPDATE report_slice_answer SET answered = answered + 3, ns = ns || 7::bigint, counts = counts || 3
WHERE ctid = (SELECT ctid FROM report_slice_answer WHERE day = '2025-03-10' AND dim = '' AND grain = 'day' AND question_id = 'nps' LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	ts, err = db.Tally(ctx, survey.ReportQuery{Questionnaire: "cx", From: from, To: to, By: survey.ByDay})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].Values["nps"][7] != before.Values["nps"][7]+3 || ts[0].Answered["nps"] != before.Answered["nps"]+3 {
		t.Errorf("Tally by day over the altered histogram = %+v, want 3 more nps answers, of 7, than %+v", ts[0], before)
	}
	// A touchpoint's breakdown by agent reads the crossing's rows.
	if _, err := db.Pool().Exec(ctx, `UPDATE report_slice SET started = started + 100
WHERE day = '2025-03-10' AND grain = 'day' AND dim = 'touchpoint:agent' AND value = '["web", "alice"]'`); err != nil {
		t.Fatal(err)
	}
	ts, err = db.Tally(ctx, survey.ReportQuery{Questionnaire: "cx", From: from, To: to, By: survey.ByAgent, Field: "touchpoint", Value: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(ts, func(t survey.Tally) bool { return t.Group == "alice" }); i < 0 || ts[i].Started < 100 {
		t.Errorf("Tally of touchpoint web by agent over the altered crossing = %+v, want alice's 100 more started", ts)
	}
	// Whole months are read from month rows (March holds all of cx's days).
	if _, err := db.Pool().Exec(ctx, `UPDATE report_slice SET started = started + 1000 WHERE grain = 'month' AND day = '2025-03-01' AND dim = ''`); err != nil {
		t.Fatal(err)
	}
	ts, err = db.Tally(ctx, survey.ReportQuery{Questionnaire: "cx", From: march, To: may, By: survey.ByMonth})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Started != 1007 {
		t.Errorf("Tally by month over the altered month row = %+v, want 1007 started in 2025-03", ts)
	}
}
