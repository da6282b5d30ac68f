package survey_test

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/survey"
	"github.com/canvass/canvass/testdata"
	"github.com/google/go-cmp/cmp"
)

func load(t testing.TB, id string) *survey.Questionnaire {
	t.Helper()
	src, err := fs.ReadFile(testdata.Questionnaires, "questionnaires/"+id+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	q, err := survey.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

var clock = func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }

// walk answers the current question with each value in turn and returns the
// ids asked.
func walk(t *testing.T, iv *survey.Interview, values ...any) []string {
	t.Helper()
	var asked []string
	for _, v := range values {
		qq := iv.Current()
		if qq == nil {
			t.Fatalf("interview ended before %v", v)
		}
		asked = append(asked, qq.ID)
		if _, _, err := iv.Answer(v, survey.Paradata{}); err != nil {
			t.Fatalf("answer %s = %v: %v", qq.ID, v, err)
		}
	}
	return asked
}

func TestPostCallBranches(t *testing.T) {
	q := load(t, "post-call")
	tests := []struct {
		name   string
		values []any
		asked  []string
	}{
		{"detractor records a comment", []any{int64(3), "rec-1", int64(2), int64(3), false, "yes"},
			[]string{"nps", "why", "csat", "ces", "resolved", "callback"}},
		{"promoter, resolved", []any{int64(10), int64(5), int64(7), true},
			[]string{"nps", "csat", "ces", "resolved"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iv, err := q.Start("fr", nil, clock)
			if err != nil {
				t.Fatal(err)
			}
			if got := walk(t, iv, tc.values...); !slices.Equal(got, tc.asked) {
				t.Errorf("asked %v, want %v", got, tc.asked)
			}
			if !iv.Done() || iv.Outcome() != survey.StatusComplete {
				t.Errorf("want complete, got done=%v %s", iv.Done(), iv.Outcome())
			}
		})
	}
}

func TestLanguageAndPiping(t *testing.T) {
	q := load(t, "customer-study")
	iv, err := q.Start("", map[string]string{"first_name": "Ada", "product": "fibre", "region": "north"}, clock)
	if err != nil {
		t.Fatal(err)
	}
	if got := iv.Intro(); got[:40] != "Hello, may I speak with Ada? My name is " {
		t.Errorf("intro piping: %q", got)
	}
	if got, want := iv.Text(iv.Current()), "Are you the person who mainly uses the fibre service in your household or business?"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	walk(t, iv, true, int64(4), int64(2), "Too slow", int64(6))
	if got, want := iv.Text(iv.Current()), "What is the main reason for your score of 6?"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := q.Start("de", nil, clock); survey.ErrorCodeOf(err) != survey.EInvalid {
		t.Errorf("unknown language: want EInvalid, got %v", err)
	}
}

func TestCustomerStudySkipLogic(t *testing.T) {
	q := load(t, "customer-study")
	business := map[string]string{"first_name": "Bo", "segment": "business", "product": "mobile"}
	iv, _ := q.Start("en", business, clock)
	asked := walk(t, iv, true, int64(12), "west", int64(5), int64(9), "Good coverage",
		true, []any{"phone", "chat"}, int64(6), int64(40), "no", "Price", false)
	want := []string{"main_user", "tenure", "region", "sat_overall", "nps", "nps_reason",
		"contacted_support", "support_channels", "support_ease", "employees", "renew", "renew_no_reason", "recontact"}
	if diff := cmp.Diff(want, asked); diff != "" {
		t.Errorf("route (-want +got):\n%s", diff)
	}
	if !iv.Done() {
		t.Fatalf("not done at %v", iv.Current().ID)
	}
	if got := iv.QuotaCells(); !slices.Equal(got, []string{"business"}) {
		t.Errorf("quota cells %v", got)
	}

	// Not the main user: everything else is irrelevant.
	iv, _ = q.Start("en", business, clock)
	walk(t, iv, false)
	if !iv.Done() {
		t.Errorf("want done after screen-out, at %v", iv.Current().ID)
	}
}

func TestBackUpClearsIrrelevantAnswers(t *testing.T) {
	q := load(t, "post-call")
	iv, _ := q.Start("en", nil, clock)
	walk(t, iv, int64(2), "rec-9", int64(4))
	// Back to csat, then why, then nps.
	for _, want := range []string{"csat", "why", "nps"} {
		qq, err := iv.Back()
		if err != nil || qq.ID != want {
			t.Fatalf("back: got %v %v, want %s", qq, err, want)
		}
	}
	if _, err := iv.Back(); !errors.Is(err, survey.ErrAtStart) {
		t.Fatalf("want ErrAtStart, got %v", err)
	}
	if prev, ok := iv.Previous(iv.Current()); !ok || prev.Value != int64(2) {
		t.Errorf("previous answer kept while backed up: %v %v", prev, ok)
	}
	// nps 9 makes "why" irrelevant: it is cleared; csat stays.
	_, cleared, err := iv.Answer(int64(9), survey.Paradata{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cleared, []string{"why"}) {
		t.Errorf("cleared %v, want [why]", cleared)
	}
	if qq := iv.Current(); qq.ID != "csat" {
		t.Errorf("after re-answering nps, want csat, got %s", qq.ID)
	}
	var ids []string
	for _, a := range iv.Answers() {
		ids = append(ids, a.Question)
	}
	if !slices.Equal(ids, []string{"nps", "csat"}) {
		t.Errorf("answers %v", ids)
	}
}

func TestValidation(t *testing.T) {
	q := load(t, "customer-study")
	iv, _ := q.Start("en", map[string]string{"segment": "home", "region": "south"}, clock)
	walk(t, iv, true, int64(3), int64(4), int64(8), "fine", false)
	if id := iv.Current().ID; id != "household" {
		t.Fatalf("at %s", id)
	}
	for _, bad := range []any{int64(0), int64(21), "three", 2.5} {
		if _, _, err := iv.Answer(bad, survey.Paradata{}); survey.ErrorCodeOf(err) != survey.EInvalid {
			t.Errorf("%v: want EInvalid, got %v", bad, err)
		}
	}
	if id := iv.Current().ID; id != "household" {
		t.Errorf("a refused answer must not move on: at %s", id)
	}
	if _, _, err := iv.Answer(2.5, survey.Paradata{}); survey.ErrorMessage(err) != "household: 2.5 is not a whole number" {
		t.Errorf("2.5: %q, want it to say a whole number is needed", survey.ErrorMessage(err))
	}
	a, _, err := iv.Answer(float64(3), survey.Paradata{}) // as JSON decodes it
	if err != nil || a.Value != int64(3) {
		t.Errorf("json number: %v %v", a, err)
	}
	if _, _, err := iv.Answer("maybe", survey.Paradata{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := iv.Skip(survey.Paradata{}); err != nil { // recontact
		t.Fatal(err)
	}
	if !iv.Done() {
		t.Errorf("not done")
	}
}

// A text answer PostgreSQL could not store is refused, naming the question.
func TestTextAnswerMustBeStorable(t *testing.T) {
	q := load(t, "customer-study")
	iv, _ := q.Start("en", map[string]string{"segment": "home", "region": "south"}, clock)
	walk(t, iv, true, int64(3), int64(4), int64(8))
	if id := iv.Current().ID; id != "nps_reason" {
		t.Fatalf("at %s", id)
	}
	for _, bad := range []string{"fine\x00", "\xff\xfe"} {
		if _, _, err := iv.Answer(bad, survey.Paradata{}); survey.ErrorCodeOf(err) != survey.EInvalid || !strings.Contains(survey.ErrorMessage(err), "nps_reason") {
			t.Errorf("%q: want EInvalid naming nps_reason, got %v", bad, err)
		}
	}
}

func TestRequiredCannotBeSkipped(t *testing.T) {
	q := load(t, "customer-study")
	iv, _ := q.Start("en", nil, clock)
	if _, _, err := iv.Skip(survey.Paradata{}); survey.ErrorCodeOf(err) != survey.EInvalid {
		t.Errorf("want EInvalid, got %v", err)
	}
}

func TestResume(t *testing.T) {
	q := load(t, "post-call")
	iv, _ := q.Start("en", nil, clock)
	walk(t, iv, int64(8), int64(4))
	stored := iv.Answers()
	// As the store returns them: numbers decoded from JSON.
	for i := range stored {
		if n, ok := stored[i].Value.(int64); ok {
			stored[i].Value = float64(n)
		}
	}
	again, err := q.Resume("en", nil, stored, clock)
	if err != nil {
		t.Fatal(err)
	}
	if qq := again.Current(); qq == nil || qq.ID != "ces" {
		t.Fatalf("resume at %v, want ces", qq)
	}
	walk(t, again, int64(6), true)
	if again.Outcome() != survey.StatusComplete {
		t.Errorf("outcome %s", again.Outcome())
	}
}

func TestOutcome(t *testing.T) {
	q := load(t, "post-call") // threshold 0.5
	tests := []struct {
		name   string
		values []any
		want   survey.Status
	}{
		{"nothing answered", nil, survey.StatusBreakoff},
		{"one of five", []any{int64(9)}, survey.StatusBreakoff},
		{"three of four", []any{int64(9), int64(4), int64(5)}, survey.StatusPartial},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iv, _ := q.Start("en", nil, clock)
			walk(t, iv, tc.values...)
			if got := iv.Outcome(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestOutcomeAtTheEnd(t *testing.T) {
	q := load(t, "post-call") // complete needs 0.8 of the applicable questions
	skip := func(iv *survey.Interview) {
		if _, _, err := iv.Skip(survey.Paradata{}); err != nil {
			t.Fatal(err)
		}
	}
	iv, _ := q.Start("en", nil, clock)
	for !iv.Done() {
		skip(iv)
	}
	if got := iv.Outcome(); got != survey.StatusBreakoff {
		t.Errorf("every question timed out: got %s, want breakoff", got)
	}
	iv, _ = q.Start("en", nil, clock)
	walk(t, iv, int64(9), int64(4), int64(6)) // nps, csat, ces; resolved skipped
	skip(iv)
	if got := iv.Outcome(); !iv.Done() || got != survey.StatusPartial {
		t.Errorf("3 of 4 answered at the end: got %s, want partial", got)
	}
}

// Every question answered, then the call ends during the closing statement
// (or the node dies there and the interview is resumed to be closed): the
// respondent was asked everything, so it is a complete, live or resumed.
func TestOutcomeDuringClosingStatement(t *testing.T) {
	q, err := survey.Parse([]byte(`id: t
questions:
  - id: resolved
    type: yes_no
    text: Resolved?
  - id: bye
    type: statement
    text: Thank you, goodbye.
`))
	if err != nil {
		t.Fatal(err)
	}
	iv, _ := q.Start("", nil, clock)
	a, _, err := iv.Answer(true, survey.Paradata{})
	if err != nil {
		t.Fatal(err)
	}
	if got := iv.Outcome(); iv.Current().ID != "bye" || got != survey.StatusComplete {
		t.Errorf("hung up during the closing statement: %s, want complete", got)
	}
	re, err := q.Resume("", nil, []survey.Answer{*a}, clock)
	if err != nil {
		t.Fatal(err)
	}
	if got := re.Outcome(); got != survey.StatusComplete {
		t.Errorf("resumed at %s: %s, want complete", re.Current().ID, got)
	}
	// Before the last answer, the statement still to come does not count.
	re, err = q.Resume("", nil, nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	if got := re.Outcome(); got != survey.StatusBreakoff {
		t.Errorf("nothing answered: %s, want breakoff", got)
	}
}

func TestParseKeys(t *testing.T) {
	q := load(t, "post-call")
	tests := []struct {
		question, keys string
		want           any
	}{
		{"nps", "0", int64(0)}, {"nps", "10", int64(10)}, {"nps", "11", nil}, {"nps", "", nil}, {"nps", "100", nil},
		{"csat", "5", int64(5)}, {"csat", "6", nil}, {"csat", "0", nil},
		{"resolved", "1", true}, {"resolved", "2", false}, {"resolved", "3", nil},
		{"callback", "1", "yes"}, {"callback", "9", nil}, {"nps", "1a", nil},
	}
	for _, tc := range tests {
		v, err := q.Question(tc.question).ParseKeys(tc.keys)
		if tc.want == nil {
			if survey.ErrorCodeOf(err) != survey.EInvalid {
				t.Errorf("%s %q: want no-match, got %v", tc.question, tc.keys, v)
			}
			continue
		}
		if err != nil || v != tc.want {
			t.Errorf("%s %q: got %v %v, want %v", tc.question, tc.keys, v, err, tc.want)
		}
	}
}

func FuzzParseKeys(f *testing.F) {
	q := load(f, "post-call")
	for _, s := range []string{"0", "10", "99", "", "1#", "5"} {
		f.Add("nps", s)
	}
	f.Fuzz(func(t *testing.T, id, keys string) {
		qq := q.Question(id)
		if qq == nil {
			return
		}
		v, err := qq.ParseKeys(keys)
		if err != nil {
			return
		}
		iv, _ := q.Start("en", nil, clock)
		for iv.Current() != nil && iv.Current() != qq {
			iv.Skip(survey.Paradata{})
		}
		if iv.Current() == qq {
			if _, _, err := iv.Answer(v, survey.Paradata{}); err != nil {
				t.Fatalf("keys %q parse to %v but the engine refuses it: %v", keys, v, err)
			}
		}
	})
}
