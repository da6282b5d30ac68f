// Dial on its own, and a dialed survey end to end: the endpoint dials a
// test phone through the trunk, the survey runs on the answered call, and
// PostgreSQL keeps the interview with the case and attempt that placed the
// call.

package sipua_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

// sqlDialedCase makes a case of a keypad campaign over questionnaire $1 and
// one outbound attempt on it, as the dialer does before it places a call.
const sqlDialedCase = `
WITH cp AS (INSERT INTO campaign (name, questionnaire_id, mode, status) VALUES ('callback', $1, 'ivr', 'running') RETURNING id),
     ct AS (INSERT INTO contact (phone_e164) VALUES ('+15550001111') RETURNING id),
     sc AS (INSERT INTO survey_case (campaign_id, contact_id) SELECT cp.id, ct.id FROM cp, ct RETURNING id)
INSERT INTO attempt (case_id, direction, phone_e164) SELECT id, 'outbound', '+15550001111' FROM sc
RETURNING case_id, id`

func TestDialedSurveyKeepsCaseAndAttempt(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	db := sqltest.New(t)
	putPostCall(t, db)
	var (
		caseID    survey.CaseID
		attemptID survey.AttemptID
	)
	if err := db.Pool().QueryRow(ctx, sqlDialedCase, "post-call").Scan(&caseID, &attemptID); err != nil {
		t.Fatal(err)
	}

	// The respondent's phone: it checks what the request put in the INVITE,
	// answers, and keys a complete survey.
	callee, err := sipuatest.NewPhone(sipuatest.PhoneOptions{Log: testLog(t).With("side", "callee"), OnInvite: func(in *sipuatest.Incoming) {
		if from := in.Req.From(); from.DisplayName != "Callback" || from.Address.User != "5000" {
			t.Errorf("caller id %q <%s>, want the request's", from.DisplayName, from.Address.User)
		}
		if h := in.Req.GetHeader("X-Campaign"); h == nil || h.Value() != "callback" {
			t.Errorf("X-Campaign header %v, want the request's", h)
		}
		c, err := in.Answer(false)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		r := newRespondent(t, ctx, c)
		r.prompt()
		r.answer("10")
		r.answer("5")
		r.answer("7")
		r.answer("1")
		<-c.Done() // the endpoint thanks and hangs up
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close()
	opts := testOptions()
	opts.Trunk.URI = "sip:" + callee.Addr().String()
	e := startPG(t, db, opts)

	req := ivr.DialRequest{To: "+15550001111", CallerID: `"Callback" <5000>`, RingTimeout: 5 * time.Second,
		Headers: map[string]string{"X-Campaign": "callback"}, CaseID: caseID, AttemptID: attemptID}
	res, status, err := e.engine.Survey(ctx, e.srv, req, ivr.CallInfo{Questionnaire: "post-call", Language: "en"})
	if err != nil || res.Outcome != survey.DialAnswered || status != survey.StatusComplete || res.CallID == "" || res.TalkTime <= 0 {
		t.Fatalf("survey: %+v %s %v", res, status, err)
	}
	ivs, err := db.Interviews(ctx, survey.InterviewFilter{Questionnaire: "post-call", WithAnswers: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(ivs) != 1 {
		t.Fatalf("%d interviews stored, want 1", len(ivs))
	}
	if iv := ivs[0]; iv.CaseID != caseID || iv.AttemptID != attemptID || iv.Status != survey.StatusComplete || len(iv.Answers) != 4 {
		t.Errorf("stored interview: case %d attempt %d, %s with %d answers; want case %d attempt %d, complete with 4",
			iv.CaseID, iv.AttemptID, iv.Status, len(iv.Answers), caseID, attemptID)
	}
}

// Dial returns the answered call with its media running and nothing played
// on it; Close hangs it up (the phone gets a BYE), reports the talk time
// and gives back the call's place under MaxCalls.
func TestDialReturnsTheAnsweredCall(t *testing.T) {
	t.Parallel()
	answered := make(chan *sipuatest.Call, 1)
	callee, err := sipuatest.NewPhone(sipuatest.PhoneOptions{Log: testLog(t).With("side", "callee"), OnInvite: func(in *sipuatest.Incoming) {
		c, err := in.Answer(false)
		if err != nil {
			t.Error(err)
			close(answered)
			return
		}
		answered <- c
		<-c.Done() // the phone keeps the call until it ends
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close()
	opts := testOptions()
	opts.Trunk.URI = "sip:" + callee.Addr().String()
	opts.MaxCalls = 1
	e := start(t, opts, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	call, res, err := e.srv.Dial(ctx, ivr.DialRequest{To: "+15550001111"})
	if err != nil || call == nil || res.Outcome != survey.DialAnswered || res.SIPStatus != 200 {
		t.Fatalf("dial: %v %+v %v", call, res, err)
	}
	c := <-answered
	if c == nil {
		t.FailNow()
	}
	defer c.Close()
	if _, _, err := e.srv.Dial(ctx, ivr.DialRequest{To: "+15550002222"}); !errors.Is(err, sipua.ErrBusy) {
		t.Errorf("a second call past MaxCalls: %v, want ErrBusy", err)
	}
	end, err := call.Close(ctx)
	if err != nil || end.Talk <= 0 {
		t.Errorf("close: %+v %v", end, err)
	}
	waitDone(t, c, 5*time.Second) // the BYE
	if n := e.store.Count(); n != 0 || len(e.prompts.Played()) != 0 {
		t.Errorf("%d interviews, prompts %v: Dial must run nothing on the call", n, e.prompts.Played())
	}
	if e.srv.Active() != 0 {
		t.Errorf("%d calls still counted after Close", e.srv.Active())
	}
}
