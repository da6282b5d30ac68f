package ivr_test

import (
	"context"
	"io/fs"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/ivrtest"
	"github.com/canvass/canvass/survey"
	"github.com/canvass/canvass/testdata"
)

// phoneCall is a scripted phone as a dialed Call.
type phoneCall struct{ *ivrtest.Phone }

func (p phoneCall) Close(ctx context.Context) (ivr.CallEnd, error) {
	return ivr.CallEnd{Talk: time.Second}, p.Hangup(ctx)
}

// oneCall is a Dialer whose every call is answered by the same phone.
type oneCall struct{ call phoneCall }

func (d oneCall) Dial(ctx context.Context, r ivr.DialRequest) (ivr.Call, ivr.DialResult, error) {
	return d.call, ivr.DialResult{Outcome: survey.DialAnswered, CallID: "c1"}, nil
}

// The agent key on a question it does not answer (0 on a 1-5 scale) asks
// for an interviewer: nobody free, the caller is told and the question is
// asked again; an interviewer free, the call and the interview in progress
// are theirs and the engine lets go.
func TestAgentKey(t *testing.T) {
	src, err := fs.ReadFile(testdata.Questionnaires, "questionnaires/post-call.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, handed := range []bool{false, true} {
		store := ivrtest.NewStore()
		if err := store.AddQuestionnaire(src); err != nil {
			t.Fatal(err)
		}
		e := ivr.New(ivr.DefaultOptions(), store, store, slog.New(slog.DiscardHandler), nil)
		ph := ivrtest.NewPhone(10 * time.Millisecond)
		var asked []survey.InterviewID
		info := ivr.CallInfo{Questionnaire: "post-call", Language: "en", AgentKey: "0",
			Transfer: func(ctx context.Context, c ivr.Call, id survey.InterviewID) (bool, error) {
				asked = append(asked, id)
				return handed, nil
			}}
		// 9 on nps, then 0 on csat (no answer: the agent key), then the
		// rest.
		ph.Type("9#0")
		if !handed {
			ph.Type("461")
		}
		res, status, err := e.Survey(t.Context(), oneCall{phoneCall{ph}}, ivr.DialRequest{To: "x"}, info)
		if err != nil {
			t.Fatal(err)
		}
		if len(asked) != 1 {
			t.Fatalf("handed %v: transfer asked %d times, want once (at csat)", handed, len(asked))
		}
		rec, _ := store.Interview(asked[0])
		got := ivrtest.Answers(rec)
		if got["nps"].Value != int64(9) || got["nps"].Paradata.Mode != survey.ModeIVR {
			t.Errorf("handed %v: nps %+v, want 9 taken by the keypad", handed, got["nps"])
		}
		var ids []string
		for _, p := range ph.Played() {
			ids = append(ids, p.ID)
		}
		if !slices.Contains(ids, "transfer") {
			t.Errorf("handed %v: the caller was not asked to hold: %v", handed, ids)
		}
		if handed {
			if !res.Transferred || status != survey.StatusInProgress || rec.Status != survey.StatusInProgress || ph.HungUp() {
				t.Errorf("handed: %+v %s, interview %s, hung up %v; want the call and the interview left to the interviewer",
					res, status, rec.Status, ph.HungUp())
			}
			if _, ok := got["csat"]; ok {
				t.Errorf("the agent key was stored as an answer")
			}
			continue
		}
		if res.Transferred || status != survey.StatusComplete || got["csat"].Value != int64(4) || !slices.Contains(ids, "no_agent") {
			t.Errorf("nobody free: %+v %s, csat %v, said %v; want the survey to go on and finish", res, status, got["csat"].Value, ids)
		}
	}
}
