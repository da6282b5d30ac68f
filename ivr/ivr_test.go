package ivr_test

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/ivrtest"
	"github.com/canvass/canvass/survey"
	"github.com/canvass/canvass/testdata"
)

// script is a Channel that answers each Ask with the next scripted input and
// records what was said.
type script struct {
	inputs []ivr.Input
	said   []string
	hungUp bool
}

func (s *script) Say(ctx context.Context, p ivr.Prompt) error {
	s.said = append(s.said, p.ID)
	return nil
}

func (s *script) Ask(ctx context.Context, spec ivr.GatherSpec, ps ...ivr.Prompt) (ivr.Input, error) {
	for _, p := range ps {
		s.said = append(s.said, p.ID)
	}
	if len(s.inputs) == 0 {
		return ivr.Input{}, ivr.ErrHangup
	}
	in := s.inputs[0]
	s.inputs = s.inputs[1:]
	return in, nil
}

func (s *script) Record(ctx context.Context, p ivr.Prompt, spec ivr.RecordSpec) (ivr.Recording, error) {
	s.said = append(s.said, p.ID)
	return ivr.Recording{Name: spec.Name, Duration: 4 * time.Second}, nil
}

func (s *script) Hangup(ctx context.Context) error { s.hungUp = true; return nil }

func keys(d string) ivr.Input { return ivr.Input{Digits: d, Raw: d + "#"} }

func postCall(t *testing.T) *survey.Questionnaire {
	src, err := fs.ReadFile(testdata.Questionnaires, "questionnaires/post-call.yaml")
	if err != nil {
		t.Fatal(err)
	}
	q, err := survey.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// run conducts the post-call survey over a script of inputs and returns
// what was said and what was stored.
func run(t *testing.T, inputs ...ivr.Input) (*script, survey.InterviewRecord, survey.Status) {
	t.Helper()
	iv, err := postCall(t).Start("en", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch, store := &script{inputs: inputs}, ivrtest.NewStore()
	id := startInterview(t, store)
	e := ivr.New(ivr.DefaultOptions(), store, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	status, err := e.Run(context.Background(), ch, iv, id)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := store.Interview(id)
	return ch, r, status
}

// startInterview stores a new post-call interview.
func startInterview(t *testing.T, store *ivrtest.Store) survey.InterviewID {
	t.Helper()
	id, err := store.StartInterview(t.Context(), survey.InterviewRecord{Questionnaire: "post-call", Version: 1, Mode: survey.ModeIVR, Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestCompleteSurvey(t *testing.T) {
	ch, rec, status := run(t, keys("9"), keys("5"), keys("7"), keys("1"))
	if status != survey.StatusComplete || rec.Status != survey.StatusComplete || rec.EndCause != "completed" {
		t.Fatalf("status %s / %s %s", status, rec.Status, rec.EndCause)
	}
	want := map[string]any{"nps": int64(9), "csat": int64(5), "ces": int64(7), "resolved": true}
	if got := ivrtest.Values(rec); len(got) != 4 || got["nps"] != want["nps"] || got["resolved"] != true {
		t.Errorf("stored %v", got)
	}
	if !slices.Equal(ch.said, []string{"intro", "nps", "csat", "ces", "resolved", "thanks"}) {
		t.Errorf("said %v", ch.said)
	}
	if !ch.hungUp {
		t.Errorf("the engine must hang up after thanks")
	}
}

func TestRepromptsAndRepeat(t *testing.T) {
	ch, rec, _ := run(t,
		ivr.Input{Repeat: true, Raw: "*"}, // repeat: no attempt used
		ivr.Input{},                       // no input
		keys("42"),                        // no match
		keys("3"),                         // detractor
		keys("4"), keys("6"), keys("2"), keys("2"))
	want := []string{"intro", "nps", "nps", "nps.no_input", "nps", "nps.no_match", "nps", "why", "csat", "ces", "resolved", "callback", "thanks"}
	if !slices.Equal(ch.said, want) {
		t.Errorf("said\n%v\nwant\n%v", ch.said, want)
	}
	nps := rec.Answers[0]
	if nps.Paradata.Repeats != 1 || nps.Paradata.NoInput != 1 || nps.Paradata.NoMatch != 1 || nps.Paradata.RawKeys != "*42#3#" {
		t.Errorf("paradata %+v", nps.Paradata)
	}
	if got := ivrtest.Values(rec); got["why"] == nil || got["callback"] != "no" {
		t.Errorf("stored %v", got)
	}
}

func TestThreeAttemptsThenSkip(t *testing.T) {
	ch, rec, status := run(t, ivr.Input{}, keys("99"), ivr.Input{}, keys("5"), keys("7"), keys("1"))
	if rec.Answers[0].Question != "nps" || !rec.Answers[0].Skipped {
		t.Fatalf("nps should be skipped after 3 attempts: %+v", rec.Answers[0])
	}
	// Reached the end with 3 of 4 applicable questions answered: below the
	// 0.8 needed for a complete.
	if status != survey.StatusPartial {
		t.Errorf("status %s", status)
	}
	// No reprompt after the last attempt: straight on to csat.
	if i := slices.Index(ch.said, "csat"); ch.said[i-1] != "nps" {
		t.Errorf("said %v", ch.said)
	}
}

func TestHangupKeepsAnswers(t *testing.T) {
	_, rec, status := run(t, keys("10"), keys("4"), keys("6"))
	if status != survey.StatusPartial || rec.Status != survey.StatusPartial || rec.EndCause != "hangup" || rec.LastQuestion != "resolved" {
		t.Fatalf("got %s %s at %s", rec.Status, rec.EndCause, rec.LastQuestion)
	}
	if len(rec.Answers) != 3 {
		t.Errorf("saved %d answers", len(rec.Answers))
	}
}

func TestTerminalTypeAhead(t *testing.T) {
	iv, _ := postCall(t).Start("en", nil, nil)
	var out strings.Builder
	term := ivr.NewTerminal(strings.NewReader("10#45\n\n2#2\n"), &out, nil)
	e := ivr.New(ivr.DefaultOptions(), nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	status, err := e.Run(context.Background(), term, iv, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, a := range iv.Answers() {
		got[a.Question] = a.Value
	}
	// "10#45": nps 10, csat 4 (a full one-digit entry), ces 5; then no input
	// on resolved, and "2#2": resolved no, callback no.
	want := map[string]any{"nps": int64(10), "csat": int64(4), "ces": int64(5), "resolved": false, "callback": "no"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (output:\n%s)", k, got[k], v, out.String())
		}
	}
	if status != survey.StatusComplete {
		t.Errorf("status %s", status)
	}
}

// cancelAfterAsk is a script that cancels the call's context as soon as the
// caller has answered: a shutdown at the moment of an answer.
type cancelAfterAsk struct {
	*script
	cancel context.CancelFunc
}

func (c cancelAfterAsk) Ask(ctx context.Context, spec ivr.GatherSpec, ps ...ivr.Prompt) (ivr.Input, error) {
	in, err := c.script.Ask(ctx, spec, ps...)
	c.cancel()
	return in, err
}

// An answer given as the node shuts down is stored, and the interview is
// closed with it.
func TestAnswerAtShutdownIsStored(t *testing.T) {
	iv, err := postCall(t).Start("en", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch, store := cancelAfterAsk{&script{inputs: []ivr.Input{keys("9")}}, cancel}, ivrtest.NewStore()
	id := startInterview(t, store)
	e := ivr.New(ivr.DefaultOptions(), store, nil, slog.New(slog.DiscardHandler), nil)
	e.Run(ctx, ch, iv, id)
	r, _ := store.Interview(id)
	if len(r.Answers) != 1 || r.Answers[0].Question != "nps" || r.Answers[0].Value != int64(9) {
		t.Errorf("saved %+v, want the nps answer 9", r.Answers)
	}
	if r.EndCause != "shutdown" {
		t.Errorf("closed with cause %q, want shutdown", r.EndCause)
	}
}
