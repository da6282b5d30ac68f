// Tests of the interview store: answers are durable one by one, an ended
// interview's answers never change, and only one end wins a race.

package sql_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

func TestInterviewRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	v := putQuestionnaire(t, db, "post-call", "id: post-call\n")
	want := survey.InterviewRecord{
		Questionnaire: "post-call",
		Version:       v.Version,
		Mode:          survey.ModeCATI,
		Language:      "fr",
		Status:        survey.StatusInProgress,
		Context: survey.Context{Agent: "alice", Queue: "billing", CallID: "c-1", Touchpoint: "phone",
			CallerNumber: "+33123456789", Extra: map[string]string{"crm": "42"}},
		Contact:   map[string]string{"first_name": "Zoé"},
		StartedAt: day0,
	}
	id, err := db.StartInterview(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	want.ID = id
	at := day0.Add(time.Second)
	prompt := time.Date(2025, 3, 10, 9, 0, 0, 123456789, time.UTC)
	answers := []survey.Answer{
		{Question: "nps", Value: int64(9), Paradata: survey.Paradata{PromptStart: prompt, FirstKeyMillis: 1200,
			RawKeys: "9#", BargeIn: true, DurationMillis: 2500}},
		{Question: "resolved", Value: false},
		{Question: "why", Value: "rec-17.wav", Paradata: survey.Paradata{RecordingMS: 4000}},
		{Question: "topics", Value: []string{"price", "speed"}},
		{Question: "none", Value: []string{}},
		{Question: "csat", Skipped: true, Paradata: survey.Paradata{NoInput: 2, NoMatch: 1}},
		{Question: "amount", Value: 12.5},
	}
	for i := range answers {
		answers[i].AnsweredAt = at.Add(time.Duration(i) * time.Second)
		if err := db.SaveAnswer(ctx, id, answers[i]); err != nil {
			t.Fatal(err)
		}
	}
	want.Answers = answers
	got, err := db.Interview(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored interview (-want +got):\n%s", diff)
	}

	// A second answer to a question replaces the first and moves it last.
	nps := survey.Answer{Question: "nps", Value: int64(10), AnsweredAt: at.Add(time.Minute)}
	if err := db.SaveAnswer(ctx, id, nps); err != nil {
		t.Fatal(err)
	}
	finish(t, db, id, survey.StatusComplete, "amount")
	got, err = db.Interview(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want.Answers = append(slices.Clone(answers[1:]), nps)
	want.Status, want.EndCause, want.LastQuestion = survey.StatusComplete, "test", "amount"
	if got.EndedAt == nil || got.EndedAt.Before(got.StartedAt) {
		t.Errorf("ended at %v", got.EndedAt)
	}
	want.EndedAt = got.EndedAt
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("finished interview (-want +got):\n%s", diff)
	}

	if _, err := db.Interview(ctx, id+1000); !errors.Is(err, survey.NotFound) {
		t.Errorf("Interview of an unknown id: %v, want ErrNotFound", err)
	}
	if _, err := db.StartInterview(ctx, survey.InterviewRecord{Questionnaire: "post-call", Version: 7, Mode: survey.ModeIVR}); !errors.Is(err, survey.NotFound) {
		t.Errorf("StartInterview of an unknown version: %v, want ErrNotFound", err)
	}
	if _, err := db.StartInterview(ctx, survey.InterviewRecord{Questionnaire: "post-call", Version: 1, Mode: "fax"}); err == nil {
		t.Error("StartInterview in mode fax succeeded")
	}
}

// An answer is committed when SaveAnswer returns: another session sees it.
func TestSaveAnswerIsCommitted(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	putQuestionnaire(t, db, "q", "id: q\n")
	id := startInterview(t, db, "q", day0, survey.Context{})
	saveAnswer(t, db, id, "nps", int64(7))

	other, err := pgx.Connect(ctx, db.Pool().Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	var value string
	if err := other.QueryRow(ctx, `SELECT value::text FROM answer WHERE interview_id = $1 AND question_id = 'nps'`, id).Scan(&value); err != nil {
		t.Fatalf("answer not visible to another session: %v", err)
	}
	if value != "7" {
		t.Errorf("stored value %s, want 7", value)
	}
}

func TestEndedInterviewIsFrozen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	putQuestionnaire(t, db, "q", "id: q\n")
	id := startInterview(t, db, "q", day0, survey.Context{})
	saveAnswer(t, db, id, "nps", int64(3))
	finish(t, db, id, survey.StatusPartial, "why")
	before, err := db.Interview(ctx, id)
	if err != nil {
		t.Fatal(err)
	}

	if err := db.SaveAnswer(ctx, id, survey.Answer{Question: "nps", Value: int64(10)}); !errors.Is(err, survey.Conflict) {
		t.Errorf("SaveAnswer after the end: %v, want ErrConflict", err)
	}
	if err := db.SaveAnswer(ctx, id, survey.Answer{Question: "why", Value: "late"}); !errors.Is(err, survey.Conflict) {
		t.Errorf("SaveAnswer of a new question after the end: %v, want ErrConflict", err)
	}
	if err := db.ClearAnswers(ctx, id, []string{"nps"}); !errors.Is(err, survey.Conflict) {
		t.Errorf("ClearAnswers after the end: %v, want ErrConflict", err)
	}
	if err := db.FinishInterview(ctx, id, survey.StatusComplete, "again", "x"); !errors.Is(err, survey.Conflict) {
		t.Errorf("second FinishInterview: %v, want ErrConflict", err)
	}
	after, err := db.Interview(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("an ended interview changed (-before +after):\n%s", diff)
	}

	for name, err := range map[string]error{
		"SaveAnswer":      db.SaveAnswer(ctx, id+1000, survey.Answer{Question: "nps", Value: int64(1)}),
		"ClearAnswers":    db.ClearAnswers(ctx, id+1000, []string{"nps"}),
		"FinishInterview": db.FinishInterview(ctx, id+1000, survey.StatusComplete, "", ""),
	} {
		if !errors.Is(err, survey.NotFound) {
			t.Errorf("%s of an unknown interview: %v, want ErrNotFound", name, err)
		}
	}
	if err := db.FinishInterview(ctx, id, survey.StatusInProgress, "", ""); err == nil || errors.Is(err, survey.Conflict) {
		t.Errorf("FinishInterview to in_progress: %v, want a plain error", err)
	}
}

// A hangup and a timeout finishing the same interview at once: one wins, the
// other learns it lost, and the stored status is the winner's.
func TestFinishInterviewRace(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	putQuestionnaire(t, db, "q", "id: q\n")
	for round := range 10 {
		id := startInterview(t, db, "q", day0, survey.Context{})
		ends := []survey.Status{survey.StatusBreakoff, survey.StatusComplete}
		errs := make([]error, len(ends))
		var wg sync.WaitGroup
		for i, to := range ends {
			wg.Go(func() { errs[i] = db.FinishInterview(ctx, id, to, string(to), "q1") })
		}
		wg.Wait()
		var winners []survey.Status
		for i, err := range errs {
			switch {
			case err == nil:
				winners = append(winners, ends[i])
			case !errors.Is(err, survey.Conflict):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d finishes won, want exactly 1 (%v)", round, len(winners), errs)
		}
		r, err := db.Interview(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != winners[0] || r.EndCause != string(winners[0]) {
			t.Errorf("round %d: stored %s/%s, winner %s", round, r.Status, r.EndCause, winners[0])
		}
	}
}

// An answer racing the end of its interview is either stored (and SaveAnswer
// says so) or refused with ErrConflict: never lost after a success.
func TestSaveAnswerRacesFinish(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	putQuestionnaire(t, db, "q", "id: q\n")
	for round := range 10 {
		id := startInterview(t, db, "q", day0, survey.Context{})
		var saveErr, finishErr error
		var wg sync.WaitGroup
		wg.Go(func() { saveErr = db.SaveAnswer(ctx, id, survey.Answer{Question: "nps", Value: int64(round)}) })
		wg.Go(func() { finishErr = db.FinishInterview(ctx, id, survey.StatusBreakoff, "hangup", "nps") })
		wg.Wait()
		if finishErr != nil || (saveErr != nil && !errors.Is(saveErr, survey.Conflict)) {
			t.Fatalf("round %d: save %v, finish %v", round, saveErr, finishErr)
		}
		r, err := db.Interview(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if saved := len(r.Answers) == 1; saved != (saveErr == nil) {
			t.Errorf("round %d: SaveAnswer said %v but %d answers stored", round, saveErr, len(r.Answers))
		}
	}
}

func TestClearAnswers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	putQuestionnaire(t, db, "q", "id: q\n")
	id := startInterview(t, db, "q", day0, survey.Context{})
	other := startInterview(t, db, "q", day0, survey.Context{})
	for _, q := range []string{"a", "b", "c"} {
		saveAnswer(t, db, id, q, q)
		saveAnswer(t, db, other, q, q)
	}
	if err := db.ClearAnswers(ctx, id, []string{"b", "c", "never-asked"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id   survey.InterviewID
		want []string
	}{{id, []string{"a"}}, {other, []string{"a", "b", "c"}}} {
		r, err := db.Interview(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range r.Answers {
			got = append(got, a.Question)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("interview %d answers %q, want %q", c.id, got, c.want)
		}
	}
}

// interviewSet stores interviews of two questionnaires, one a day from day0,
// and returns their ids in order.
func interviewSet(t *testing.T, db *sql.DB) []survey.InterviewID {
	t.Helper()
	putQuestionnaire(t, db, "a", "id: a\n")
	putQuestionnaire(t, db, "b", "id: b\n")
	var ids []survey.InterviewID
	for i := range 7 {
		q := "a"
		if i%3 == 2 {
			q = "b" // ids[2], ids[5]
		}
		id := startInterview(t, db, q, day0.AddDate(0, 0, i), survey.Context{})
		saveAnswer(t, db, id, "nps", int64(i))
		if i%2 == 0 {
			finish(t, db, id, survey.StatusComplete, "nps") // ids[0], [2], [4], [6]
		}
		ids = append(ids, id)
	}
	return ids
}

func TestInterviewsFilters(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	ids := interviewSet(t, db)
	pick := func(is ...int) []survey.InterviewID {
		var out []survey.InterviewID
		for _, i := range is {
			out = append(out, ids[i])
		}
		return out
	}
	for _, c := range []struct {
		name string
		f    sql.InterviewFilter
		want []survey.InterviewID
	}{
		{"all", sql.InterviewFilter{}, ids},
		{"questionnaire", sql.InterviewFilter{Questionnaire: "b"}, pick(2, 5)},
		{"status", sql.InterviewFilter{Status: survey.StatusInProgress}, pick(1, 3, 5)},
		{"from", sql.InterviewFilter{From: day0.AddDate(0, 0, 5)}, pick(5, 6)},
		{"to is exclusive", sql.InterviewFilter{To: day0.AddDate(0, 0, 2)}, pick(0, 1)},
		{"everything", sql.InterviewFilter{Questionnaire: "a", Status: survey.StatusComplete,
			From: day0.AddDate(0, 0, 1), To: day0.AddDate(0, 0, 6)}, pick(4)},
		{"after", sql.InterviewFilter{AfterID: ids[4]}, pick(5, 6)},
		{"limit", sql.InterviewFilter{Questionnaire: "a", Limit: 2}, pick(0, 1)},
		{"none", sql.InterviewFilter{Questionnaire: "nope"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs, err := db.Interviews(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []survey.InterviewID
			for _, r := range rs {
				got = append(got, r.ID)
				if r.Answers != nil {
					t.Errorf("interview %d listed with answers without WithAnswers", r.ID)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	if _, err := db.Interviews(ctx, sql.InterviewFilter{Limit: -1}); err == nil {
		t.Error("a negative limit was accepted")
	}
}

func TestInterviewsPages(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	ids := interviewSet(t, db)
	var got []survey.InterviewID
	f := sql.InterviewFilter{Limit: 3, WithAnswers: true}
	for pages := 0; ; pages++ {
		if pages > len(ids) {
			t.Fatal("pagination does not end")
		}
		page, err := db.Interviews(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			got = append(got, r.ID)
			if len(r.Answers) != 1 || r.Answers[0].Question != "nps" {
				t.Errorf("interview %d answers %+v, want its one nps answer", r.ID, r.Answers)
			}
		}
		f.AfterID = page[len(page)-1].ID
	}
	if !slices.Equal(got, ids) {
		t.Errorf("pages gave %v, want %v", got, ids)
	}
}

func TestEachInterview(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	ids := interviewSet(t, db)
	var got []string
	err := db.EachInterview(ctx, sql.InterviewFilter{Questionnaire: "a", WithAnswers: true}, func(r survey.InterviewRecord) error {
		got = append(got, fmt.Sprintf("%d %s %s nps=%v", r.ID-ids[0], r.StartedAt.Format(time.DateOnly), r.Status, r.Answers[0].Value))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"0 2025-03-10 complete nps=0",
		"1 2025-03-11 in_progress nps=1",
		"3 2025-03-13 in_progress nps=3",
		"4 2025-03-14 complete nps=4",
		"6 2025-03-16 complete nps=6",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("EachInterview (-want +got):\n%s", diff)
	}

	stop := errors.New("enough")
	n := 0
	err = db.EachInterview(ctx, sql.InterviewFilter{}, func(survey.InterviewRecord) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("EachInterview after fn failed: %v after %d calls, want %v after 1", err, n, stop)
	}
}

// Past one page, EachInterview goes on from the last id it saw, gives each
// interview once in id order, stops at the limit, and holds no connection
// while fn runs: fn itself can take the whole pool.
func TestEachInterviewPages(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	interviewSet(t, db) // loads questionnaire "a" version 1
	if _, err := db.Pool().Exec(ctx, `INSERT INTO interview (questionnaire_id, version, mode)
		SELECT 'a', 1, 'ivr' FROM generate_series(1, 1234)`); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{0, 1, 500, 501, 1100} {
		var ids []survey.InterviewID
		err := db.EachInterview(ctx, sql.InterviewFilter{Questionnaire: "a", Limit: limit}, func(r survey.InterviewRecord) error {
			ids = append(ids, r.ID)
			if len(ids)%400 != 1 {
				return nil
			}
			// Every connection of the pool at once, mid-way through.
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			for range db.Pool().Config().MaxConns {
				c, err := db.Pool().Acquire(actx)
				if err != nil {
					return fmt.Errorf("take the whole pool after %d interviews: %w", len(ids), err)
				}
				defer c.Release()
			}
			return nil
		})
		if err != nil {
			t.Fatalf("limit %d: %v", limit, err)
		}
		want := 1234 + 5 // and interviewSet's five of "a"
		if limit > 0 {
			want = limit
		}
		if len(ids) != want || !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
			t.Errorf("limit %d: %d interviews (sorted %v), want %d distinct in id order", limit, len(ids), slices.IsSorted(ids), want)
		}
	}
}

// Values come back from jsonb as the engine expects them, whatever wrote them.
func TestAnswerValuesFromJSONB(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	putQuestionnaire(t, db, "q", "id: q\n")
	id := startInterview(t, db, "q", day0, survey.Context{})
	for _, c := range []struct {
		stored string
		want   any
	}{
		{`7`, int64(7)},
		{`4.0`, int64(4)},
		{`1e2`, int64(100)},
		{`-3`, int64(-3)},
		{`2.5`, 2.5},
		{`true`, true},
		{`"yes"`, "yes"},
		{`["a", "b"]`, []string{"a", "b"}},
		{`[]`, []string{}},
		{`[1, "a"]`, []any{int64(1), "a"}},
		{`null`, nil},
	} {
		t.Run(c.stored, func(t *testing.T) {
			saveAnswer(t, db, id, "x", "placeholder")
			if _, err := db.Pool().Exec(ctx, `UPDATE answer SET value = $2::jsonb WHERE interview_id = $1`, id, c.stored); err != nil {
				t.Fatal(err)
			}
			r, err := db.Interview(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, r.Answers[0].Value); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
		})
	}
}

// sqlDialedCase makes a case of a keypad campaign over questionnaire $1 and
// one outbound attempt on it, as the dialer does before it places a call.
const sqlDialedCase = `
WITH cp AS (INSERT INTO campaign (name, questionnaire_id, mode, status) VALUES ('callback', $1, 'ivr', 'running') RETURNING id),
     ct AS (INSERT INTO contact (phone_e164) VALUES ('+15550001111') RETURNING id),
     sc AS (INSERT INTO survey_case (campaign_id, contact_id) SELECT cp.id, ct.id FROM cp, ct RETURNING id)
INSERT INTO attempt (case_id, direction, phone_e164) SELECT id, 'outbound', '+15550001111' FROM sc
RETURNING case_id, id`

// An interview started on a dialed call keeps the case and the attempt that
// reached the respondent; one nobody dialed has neither.
func TestInterviewKeepsCaseAndAttempt(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	v := putQuestionnaire(t, db, "post-call", "id: post-call\n")
	var (
		caseID    survey.CaseID
		attemptID survey.AttemptID
	)
	if err := db.Pool().QueryRow(ctx, sqlDialedCase, "post-call").Scan(&caseID, &attemptID); err != nil {
		t.Fatal(err)
	}
	dialed, err := db.StartInterview(ctx, survey.InterviewRecord{Questionnaire: "post-call", Version: v.Version,
		Mode: survey.ModeIVR, Language: "en", CaseID: caseID, AttemptID: attemptID})
	if err != nil {
		t.Fatal(err)
	}
	inbound := startInterview(t, db, "post-call", day0, survey.Context{})
	for _, tt := range []struct {
		id        survey.InterviewID
		caseID    survey.CaseID
		attemptID survey.AttemptID
	}{{dialed, caseID, attemptID}, {inbound, 0, 0}} {
		got, err := db.Interview(ctx, tt.id)
		if err != nil {
			t.Fatal(err)
		}
		if got.CaseID != tt.caseID || got.AttemptID != tt.attemptID {
			t.Errorf("interview %d: case %d attempt %d, want %d and %d", tt.id, got.CaseID, got.AttemptID, tt.caseID, tt.attemptID)
		}
	}
	all, err := db.Interviews(ctx, sql.InterviewFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].CaseID != caseID || all[0].AttemptID != attemptID || all[1].CaseID != 0 {
		t.Errorf("listed %+v", all)
	}
	_, err = db.StartInterview(ctx, survey.InterviewRecord{Questionnaire: "post-call", Version: v.Version,
		Mode: survey.ModeIVR, CaseID: caseID, AttemptID: attemptID + 1000})
	if !errors.Is(err, survey.NotFound) {
		t.Errorf("StartInterview with an unknown attempt: %v, want ErrNotFound", err)
	}
}

// An interview that never started (no answer, no audio from the caller) is
// removed and the call kept as an inbound attempt; one with an answer stays.
func TestDiscardInterview(t *testing.T) {
	db := sqltest.New(t)
	ctx := t.Context()
	v := putQuestionnaire(t, db, "post-call", "id: post-call\n")
	rec := survey.InterviewRecord{Questionnaire: "post-call", Version: v.Version, Mode: survey.ModeIVR,
		Context: survey.Context{CallID: "pbx-42", CallerNumber: "+33142000000"}}
	silent, err := db.StartInterview(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	answered, err := db.StartInterview(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	saveAnswer(t, db, answered, "nps", int64(9))
	if err := db.DiscardInterview(ctx, silent, "hangup"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Interview(ctx, silent); !errors.Is(err, survey.NotFound) {
		t.Fatalf("the discarded interview is still there: %v", err)
	}
	var n int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM attempt WHERE direction = 'inbound' AND channel = 'pbx-42'
		AND phone_e164 = '+33142000000' AND ended_at IS NOT NULL AND case_id IS NULL`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d inbound attempts kept, %v", n, err)
	}
	if err := db.DiscardInterview(ctx, answered, "hangup"); !errors.Is(err, survey.Conflict) {
		t.Fatalf("discard an interview with an answer: %v, want a conflict", err)
	}
	if r, err := db.Interview(ctx, answered); err != nil || r.Status != survey.StatusInProgress {
		t.Fatalf("the answered interview: %+v, %v", r.Status, err)
	}
	if err := db.DiscardInterview(ctx, answered+100, "hangup"); !errors.Is(err, survey.NotFound) {
		t.Fatalf("discard an unknown interview: %v", err)
	}
}
