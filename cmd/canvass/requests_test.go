package main

import (
	"testing"
	"time"

	"github.com/canvass/canvass/ivr/sipua/baresiptest"
	"github.com/canvass/canvass/survey"
)

// A survey request an integrator makes for a call is queued in the keypad
// campaign, dialed by the runner to a real phone, and the interview keeps
// the call's context (agent, queue, touchpoint, customer, CRM fields); a
// second request for the same number within the fatigue period is skipped,
// and says when the number was surveyed.
func TestSurveyRequestIsDialedWithItsContext(t *testing.T) {
	const number = "+12125550100"
	e := startKeypadCampaign(t, nil, nil)
	ctx := t.Context()
	rules := survey.DefaultRequestRules()
	req := survey.SurveyRequest{Source: survey.RequestAPI, Phone: number, Questionnaire: "callback-study", Language: "en",
		Context: survey.Context{Agent: "alice", Queue: "billing-q", CallID: "crm-42", Touchpoint: "billing", CustomerID: "C-1001",
			CallerNumber: number, Extra: map[string]string{"plan": "fibre"}},
		RequestedBy: "token:crm"}
	always := func(float64) bool { return true }
	d, err := e.db.DecideRequest(ctx, req, rules, always, time.Now())
	if err != nil || d.Decision != survey.RequestQueued || d.Case == 0 || d.Campaign != e.camp {
		t.Fatalf("request: %+v %v; want it queued in the keypad campaign", d, err)
	}
	again, err := e.db.DecideRequest(ctx, req, rules, always, time.Now())
	if err != nil || again.Decision != survey.RequestSkipped || again.Reason != survey.SkipFatigue || again.LastSurveyed == nil {
		t.Errorf("second request within the fatigue period: %+v %v; want skipped (fatigue)", again, err)
	}

	e.phone = baresiptest.Start(t, baresiptest.Options{Name: "requested", User: number, AutoAnswer: true, Say: make([]int16, 8000*60)})
	e.run(t, e.phone.Addr(), nil)
	e.phone.WaitEstablished(20 * time.Second)
	e.phone.TypeAfter(400*time.Millisecond, "9")
	iv := waitInterview(t, e.db, d.Case, func(r survey.InterviewRecord) bool { return len(r.Answers) == 1 })
	c := iv.Context
	if c.Agent != "alice" || c.Queue != "billing-q" || c.CallID != "crm-42" || c.Touchpoint != "billing" || c.CustomerID != "C-1001" ||
		c.Extra["plan"] != "fibre" || c.CallerNumber != number {
		t.Errorf("interview context %+v: want the request's", c)
	}
	if iv.Contact["plan"] != "fibre" || iv.Contact["touchpoint"] != "billing" {
		t.Errorf("contact %v: the questionnaire reads the request's fields as contact.<field>", iv.Contact)
	}
}
