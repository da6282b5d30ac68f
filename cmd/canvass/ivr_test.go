package main

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/ivrtest"
	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

// engine is the IVR engine wired as serve wires it, over a real database
// holding the example post-call survey.
func engine(t *testing.T) (*ivr.Engine, *sql.DB) {
	t.Helper()
	db := sqltest.New(t)
	if _, err := loadExamples(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	opts := ivr.DefaultOptions()
	return ivr.New(opts, db, db, slog.New(slog.NewTextHandler(io.Discard, nil)), nil), db
}

// only returns the interview the test made.
func only(t *testing.T, db *sql.DB) survey.InterviewRecord {
	t.Helper()
	list, err := db.Interviews(t.Context(), survey.InterviewFilter{WithAnswers: true})
	if err != nil || len(list) != 1 {
		t.Fatalf("interviews: %v %v", list, err)
	}
	return list[0]
}

func TestKeypadCallIsStored(t *testing.T) {
	e, db := engine(t)
	s, err := e.Prepare(t.Context(), ivr.CallInfo{Questionnaire: "post-call",
		Context: survey.Context{Agent: "PJSIP/alice", Queue: "support", CallID: "1732.7"}})
	if err != nil {
		t.Fatal(err)
	}
	ph := ivrtest.NewPhone(5 * time.Millisecond)
	// Language menu: 2 = French; then nps 3, a voice comment ended by #,
	// csat 4, ces 5, not resolved, call me back.
	ph.Type("2" + "3#" + "")
	go func() {
		for ph.Recordings() == 0 { // keys typed before the recording starts would be dropped
			time.Sleep(time.Millisecond)
		}
		ph.Type("#45" + "21")
	}()
	status, err := s.Run(t.Context(), ph)
	if err != nil || status != survey.StatusComplete {
		t.Fatalf("run: %s %v", status, err)
	}
	r := only(t, db)
	if r.Status != survey.StatusComplete || r.Language != "fr" || r.Context.Agent != "PJSIP/alice" || r.EndCause != "completed" {
		t.Errorf("interview %+v", r)
	}
	got := map[string]any{}
	for _, a := range r.Answers {
		got[a.Question] = a.Value
	}
	want := map[string]any{"nps": int64(3), "csat": int64(4), "ces": int64(5), "resolved": false, "callback": "yes"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all %v)", k, got[k], v, got)
		}
	}
	if got["why"] == nil {
		t.Errorf("the voice comment is not stored: %v", got)
	}
	if !ph.HungUp() {
		t.Errorf("the engine must hang up at the end")
	}
}

func TestHangupMidSurveyKeepsAnswers(t *testing.T) {
	e, db := engine(t)
	s, err := e.Prepare(t.Context(), ivr.CallInfo{Questionnaire: "post-call", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	ph := ivrtest.NewPhone(5 * time.Millisecond)
	ph.Type("9#" + "5")
	go func() {
		for len(ph.Played()) < 4 { // intro, nps, csat, ces
			time.Sleep(time.Millisecond)
		}
		ph.CallerHangsUp()
	}()
	status, err := s.Run(t.Context(), ph)
	if err != nil {
		t.Fatal(err)
	}
	r := only(t, db)
	if status != survey.StatusPartial || r.Status != survey.StatusPartial || r.EndCause != "hangup" || r.LastQuestion != "ces" || len(r.Answers) != 2 {
		t.Errorf("status %s, interview %+v", status, r)
	}
}

func TestUnknownQuestionnaireIsRefusedBeforeAnswering(t *testing.T) {
	e, _ := engine(t)
	if _, err := e.Prepare(t.Context(), ivr.CallInfo{Questionnaire: "nope"}); survey.ErrorCodeOf(err) != survey.ENotFound {
		t.Errorf("want ENotFound, got %v", err)
	}
	if _, err := e.Prepare(t.Context(), ivr.CallInfo{Questionnaire: "customer-study"}); survey.ErrorCodeOf(err) != survey.EInvalid {
		t.Errorf("a CATI-only questionnaire: want EInvalid, got %v", err)
	}
}
