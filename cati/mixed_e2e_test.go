package cati_test

// Mixed mode end to end: a keypad campaign's call to a real SIP phone
// (baresip) runs the questionnaire on the keypad; the respondent presses
// the agent key and is handed, interview and all, to the interviewer
// waiting in Chromium; the interviewer asks a question, hands the
// respondent to the keypad for a sensitive one, gets them back and
// finishes. Each answer says which mode took it.

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/survey"
)

const mixedStudy = `id: mixed-study
title: Mixed-mode study
languages: [en]
modes: [ivr, cati]
questions:
  - id: nps
    type: nps
    text: How likely are you to recommend us? Press 0 to 10, then pound.
  - id: csat
    type: scale
    min: 1
    max: 5
    text: How satisfied are you? Press 1 to 5.
  - id: income
    type: choice
    keypad: true
    text: Which is your household income? Press 1 for under 30 thousand, 2 for 30 to 60 thousand, 3 for more.
    options:
      - {value: low, key: "1", text: Under 30k}
      - {value: mid, key: "2", text: 30k to 60k}
      - {value: high, key: "3", text: Over 60k}
  - id: resolved
    type: yes_no
    text: Was your issue resolved?
`

func TestMixedModeInChromium(t *testing.T) {
	rig := &phoneRig{}
	resp, cf := twoRespondentsWith(t, rig)
	ctx := t.Context()
	q, err := survey.Parse([]byte(mixedStudy))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cf.db.PutQuestionnaire(ctx, q.Version([]byte(mixedStudy))); err != nil {
		t.Fatal(err)
	}
	var ws []survey.Window
	for d := range 7 {
		ws = append(ws, survey.Window{Dow: d, Opens: 9 * 60, Closes: 21 * 60})
	}
	keypadCampaign, err := cf.db.CreateCampaign(ctx, survey.Campaign{Name: "Northwind keypad", Questionnaire: "mixed-study",
		Mode: survey.CampaignIVR, Status: "running", MaxAttempts: 4, Windows: ws,
		Settings:     json.RawMessage(`{"dialing": {"agent_key": "0"}}`),
		Interviewers: []survey.UserID{cf.users["ivy"]}}, "ada")
	if err != nil {
		t.Fatal(err)
	}
	cati := cf.campaign
	cf.campaign = keypadCampaign
	cf.addContacts(contact("Carol", "east", "consumer", "fibre"))
	cf.campaign = cati

	ivy := cf.openTab(toneBrowser(t, interviewerHz), "ivy", artifactDir(t))
	ivy.openPhone("/console?rawaudio=1")
	ivy.do(chromedp.WaitVisible(`#waiting-call[data-dialer="mixed"]`))

	jobs, err := cf.db.ClaimDials(ctx, keypadCampaign, "dialer:test", 1, monday)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	job := jobs[0]
	type out struct {
		res    ivr.DialResult
		status survey.Status
		err    error
	}
	done := make(chan out, 1)
	go func() {
		info := ivr.CallInfo{Questionnaire: "mixed-study", Language: "en", Contact: job.Contact, Keep: true, AgentKey: "0",
			Transfer: func(ctx context.Context, call ivr.Call, id survey.InterviewID) (bool, error) {
				j := job
				j.Interview = id
				pc := survey.PhoneCall{CaseID: j.Case, AttemptID: j.Attempt, Number: j.Phone, Language: j.Language}
				user, err := cf.server.Transfer(ctx, j, func(u survey.UserID) error { return rig.sb.Adopt(call, pc, u, "") })
				return user != 0, err
			}}
		res, status, err := rig.engine.Survey(context.WithoutCancel(ctx), rig.sip,
			ivr.DialRequest{To: job.Phone, CaseID: job.Case, AttemptID: job.Attempt}, info)
		done <- out{res, status, err}
	}()
	resp.WaitEstablished(20 * time.Second)
	answered := func(question string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for cf.count(`SELECT count(*) FROM answer a JOIN interview i ON i.id = a.interview_id WHERE i.case_id = $1 AND a.question_id = $2`,
			job.Case, question) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s never answered:\n%s", question, resp.Output())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	resp.Type("9#")
	answered("nps")
	// 0 is no answer to a 1-5 scale: it asks for an interviewer.
	resp.TypeAfter(500*time.Millisecond, "0")
	o := <-done
	if o.err != nil || !o.res.Transferred || o.status != survey.StatusInProgress {
		t.Fatalf("keypad part: %+v %s %v; want the call handed over, the interview in progress", o.res, o.status, o.err)
	}
	ivy.poll(`document.getElementById("console").dataset.state === "interviewing" && document.getElementById("question").dataset.id === "csat"`)
	ivy.call("answered")
	ivy.hears(respondentHz)
	ivy.screenshot("handed")
	// Keys, not clicks: a call event may redraw the panel between a
	// click's query and the click.
	ivy.key("4")
	ivy.do(chromedp.WaitVisible(`#options button.picked[data-value="4"]`))
	ivy.key("\r")
	ivy.poll(`document.getElementById("question").dataset.id === "income" && !!document.querySelector('#to-keypad[data-marked="1"]')`)
	ivy.eval(`document.getElementById("to-keypad").click(), true`) // in one step: a redraw cannot come between finding and clicking
	ivy.poll(`document.getElementById("phonebar").dataset.keypad === "true" && !!document.getElementById("on-keypad")`)
	ivy.screenshot("on-keypad")
	ivy.neverHears(respondentHz, "on the keypad")
	resp.TypeAfter(time.Second, "2")
	answered("income")
	ivy.poll(`document.getElementById("question").dataset.id === "resolved" && document.getElementById("phonebar").dataset.keypad === "false"`)
	ivy.hears(respondentHz)
	ivy.key("1")
	ivy.do(chromedp.WaitVisible(`#options button.picked[data-value="true"]`))
	ivy.key("\r")
	ivy.poll(`document.getElementById("console").dataset.state !== "interviewing"`)

	modes := map[string]string{}
	rows, err := cf.db.Pool().Query(ctx, `SELECT a.question_id, coalesce(a.paradata->>'mode', '') FROM answer a
		JOIN interview i ON i.id = a.interview_id WHERE i.case_id = $1`, job.Case)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var q, m string
		if err := rows.Scan(&q, &m); err != nil {
			t.Fatal(err)
		}
		modes[q] = m
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	want := map[string]string{"nps": "ivr", "csat": "cati", "income": "ivr", "resolved": "cati"}
	for q, m := range want {
		if modes[q] != m {
			t.Errorf("answer %s taken by %q, want %q (all: %v)", q, modes[q], m, modes)
		}
	}
	if n := cf.count(`SELECT count(*) FROM interview WHERE case_id = $1 AND status = 'complete' AND interviewer_id = $2`, job.Case, cf.users["ivy"]); n != 1 {
		t.Errorf("%d complete interviews of the case by ivy, want the one interview, finished by her", n)
	}
	if n := cf.count(`SELECT count(*) FROM interview WHERE case_id = $1`, job.Case); n != 1 {
		t.Errorf("%d interviews for the case, want one in two modes", n)
	}
}
