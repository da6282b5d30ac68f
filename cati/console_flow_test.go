package cati_test

// The interviewer's round trip over the WebSocket protocol: claim, dial,
// interview the branched customer study with a back-up and a refused
// answer, complete and wrap up; resume after a reload and after a server
// restart; an appointment in the respondent's time; forged and already
// claimed case ids.

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/survey"
)

func TestInterviewerCompletesStudyWithBackUp(t *testing.T) {
	cf := newConsole(t, contact("Alice", "north", "consumer", "fibre"))
	ws := cf.login("ivy").dial()
	var d desk
	json.Unmarshal(ws.next("state").Data, &d)
	if d.State != survey.DeskIdle {
		t.Fatalf("first state %+v", d)
	}
	ws.must("next_case", nil, &d)
	if d.State != survey.DeskOnCase || d.Case == nil || d.Case.Fields["first_name"] != "Alice" || !strings.Contains(d.Intro, "speak with Alice") {
		t.Fatalf("on case: %+v", d)
	}
	caseID := d.Case.ID
	ws.must("dial", map[string]any{"case_id": caseID}, &d)
	ws.must("dial_result", map[string]any{"case_id": caseID, "outcome": "contact"}, &d)
	if d.State != survey.DeskInterviewing || d.question() != "main_user" || !strings.Contains(d.Question.Text, "fibre") {
		t.Fatalf("interviewing: %+v", d)
	}
	// A value that fails validation changes nothing.
	msg := ws.refuse("answer", map[string]any{"case_id": caseID, "question": "main_user", "value": "maybe"}, survey.EInvalid)
	if !strings.Contains(msg, "main_user") {
		t.Fatalf("validation message %q", msg)
	}
	if n := cf.count(`SELECT count(*) FROM answer`); n != 0 {
		t.Fatalf("%d answers stored after a refused one", n)
	}
	answer := func(q string, v any) {
		t.Helper()
		ws.must("answer", map[string]any{"case_id": caseID, "question": q, "value": v}, &d)
	}
	answer("main_user", true)
	answer("tenure", 3)
	if d.question() != "sat_overall" { // region is known: skipped
		t.Fatalf("after tenure: %s", d.question())
	}
	answer("sat_overall", 2)
	if d.question() != "sat_reason" {
		t.Fatalf("dissatisfied should ask why, got %s", d.question())
	}
	// Back up from the reason to the score and change it: the reason is
	// cleared and no longer asked.
	ws.must("back", map[string]any{"case_id": caseID}, &d)
	if d.question() != "sat_overall" || d.Question.Previous != float64(2) {
		t.Fatalf("after back: %+v", d.Question)
	}
	// A reload shows the same backed-up question.
	ws2 := cf.login("ivy").dial()
	var d2 desk
	json.Unmarshal(ws2.next("state").Data, &d2)
	if d2.question() != "sat_overall" {
		t.Fatalf("reload shows %s, want sat_overall", d2.question())
	}
	answer("sat_overall", 5)
	if d.question() != "nps" {
		t.Fatalf("after changing the score: %s", d.question())
	}
	answer("nps", 9)
	answer("nps_reason", "Fast and reliable")
	answer("contacted_support", false)
	// The household validation: at least 1 person.
	ws.refuse("answer", map[string]any{"case_id": caseID, "question": "household", "value": 0}, survey.EInvalid)
	answer("household", 3)
	answer("renew", "yes")
	answer("recontact", true)
	if d.State != survey.DeskWrapUp || !d.Complete || d.Suggested != "1.1" {
		t.Fatalf("after the last answer: %+v", d)
	}
	ws.must("wrap_up", map[string]any{"case_id": caseID, "code": "1.1"}, &d)
	if d.State != survey.DeskIdle {
		t.Fatalf("after wrap-up: %+v", d)
	}
	var status, final string
	var cells []string
	if err := cf.db.Pool().QueryRow(t.Context(), `SELECT status, final_disposition, quota_cells FROM survey_case WHERE id = $1`, caseID).Scan(&status, &final, &cells); err != nil {
		t.Fatal(err)
	}
	if status != "closed" || final != "1.1" || strings.Join(cells, ",") != "north" {
		t.Fatalf("case %s %s %v", status, final, cells)
	}
	if n := cf.count(`SELECT count(*) FROM answer a JOIN interview i ON i.id = a.interview_id WHERE i.case_id = $1 AND a.question_id = 'sat_reason'`, caseID); n != 0 {
		t.Fatal("the reason to an answer changed by a back-up is still stored")
	}
	if n := cf.count(`SELECT count(*) FROM interview WHERE case_id = $1 AND status = 'complete' AND mode = 'cati'`, caseID); n != 1 {
		t.Fatal("no complete CATI interview")
	}
}

func TestResumeAfterServerRestart(t *testing.T) {
	cf := newConsole(t, contact("Bo", "", "business", "mobile"))
	ws := cf.login("ian").dial()
	ws.next("state")
	var d desk
	d = ws.reach()
	caseID := d.Case.ID
	ws.must("answer", map[string]any{"case_id": caseID, "question": "main_user", "value": true}, &d)
	ws.must("answer", map[string]any{"case_id": caseID, "question": "tenure", "value": 1}, &d)
	if d.question() != "region" { // region unknown: asked
		t.Fatalf("want region, got %s", d.question())
	}
	// A second server over the same database: what a restarted node sees.
	cf2 := restart(t, cf)
	ws2 := cf2.login("ian").dial()
	var d2 desk
	json.Unmarshal(ws2.next("state").Data, &d2)
	if d2.State != survey.DeskInterviewing || d2.question() != "region" || d2.Case.ID != caseID {
		t.Fatalf("after restart: %+v", d2)
	}
	ws2.must("answer", map[string]any{"case_id": caseID, "question": "region", "value": "south"}, &d2)
	if d2.question() != "sat_overall" {
		t.Fatalf("after region: %s", d2.question())
	}
}

// restart builds a new server (its own clock, hub and caches) over cf's
// database.
func restart(t *testing.T, cf *consoleFixture) *consoleFixture {
	t.Helper()
	d := cati.Deps{Options: cati.DefaultOptions(), Store: cf.db, Tokens: cf.db, Log: discardLog()}
	withConsole(cf.db, &d)
	srv, err := cati.New(d)
	if err != nil {
		t.Fatal(err)
	}
	cati.SetNow(srv, cf.clock.Now)
	hs := newHTTPTest(t, srv)
	c := *cf
	c.server, c.url = srv, hs
	return &c
}

func TestAppointmentInRespondentsTime(t *testing.T) {
	cf := newConsole(t, contact("Cy", "east", "consumer", "tv"))
	ws := cf.login("ivy").dial()
	ws.next("state")
	var d desk
	d = ws.reach()
	caseID := d.Case.ID
	ws.must("answer", map[string]any{"case_id": caseID, "question": "main_user", "value": true}, &d)
	ws.must("end_call", map[string]any{"case_id": caseID}, &d)
	if d.State != survey.DeskWrapUp || d.Complete {
		t.Fatalf("after end call: %+v", d)
	}
	// 22:30 in New York is outside the 09:00–21:00 window.
	msg := ws.refuse("wrap_up", map[string]any{"case_id": caseID, "appointment": "2026-01-13T22:30"}, survey.EInvalid)
	if !strings.Contains(msg, "outside the calling hours") {
		t.Fatalf("message %q", msg)
	}
	ws.refuse("wrap_up", map[string]any{"case_id": caseID, "appointment": "2026-01-11T10:00"}, survey.EInvalid) // past
	ws.must("wrap_up", map[string]any{"case_id": caseID, "appointment": "2026-01-13T18:30", "note": "after dinner"}, &d)
	var at time.Time
	var status string
	if err := cf.db.Pool().QueryRow(t.Context(), `SELECT a.at, c.status FROM appointment a JOIN survey_case c ON c.id = a.case_id WHERE a.case_id = $1`, caseID).Scan(&at, &status); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 1, 13, 23, 30, 0, 0, time.UTC); !at.Equal(want) || status != "appointment" {
		t.Fatalf("appointment at %s (%s), want %s (18:30 EST)", at.UTC(), status, want)
	}
	// Not due yet; at 18:31 New York time it comes back first, to anyone,
	// with the interview resuming where it stopped.
	ws.refuse("next_case", nil, survey.ENotFound)
	cf.clock.Advance(32*time.Hour + 31*time.Minute) // Tuesday 23:31 UTC
	ws2 := cf.login("ian").dial()
	ws2.next("state")
	ws2.must("next_case", nil, &d)
	if d.Case.ID != caseID {
		t.Fatalf("the due appointment is not claimed first: %+v", d)
	}
	ws2.must("dial", map[string]any{"case_id": caseID}, &d)
	ws2.must("dial_result", map[string]any{"case_id": caseID, "outcome": "contact"}, &d)
	if d.question() != "tenure" {
		t.Fatalf("resumed interview at %s, want tenure", d.question())
	}
}

func TestForgedAndClaimedCases(t *testing.T) {
	cf := newConsole(t, contact("Di", "west", "consumer", "fibre"), contact("Ed", "west", "consumer", "fibre"))
	ivy := cf.login("ivy").dial()
	ian := cf.login("ian").dial()
	ivy.next("state")
	ian.next("state")
	var a, b desk
	ivy.must("next_case", nil, &a)
	ian.must("next_case", nil, &b)
	if a.Case.ID == b.Case.ID {
		t.Fatalf("both interviewers got case %d", a.Case.ID)
	}
	// Ian acts on Ivy's case (a forged or stale id): refused, nothing changes.
	ian.refuse("dial", map[string]any{"case_id": a.Case.ID}, survey.EConflict)
	ian.refuse("wrap_up", map[string]any{"case_id": a.Case.ID, "code": "2.11"}, survey.EConflict)
	ian.refuse("dial", map[string]any{"case_id": 999999}, survey.EConflict)
	if n := cf.count(`SELECT count(*) FROM attempt`); n != 0 {
		t.Fatalf("%d attempts after refused dials", n)
	}
	// A non-contact outcome schedules the next attempt after the retry delay.
	ivy.must("dial", map[string]any{"case_id": a.Case.ID}, &a)
	ivy.must("dial_result", map[string]any{"case_id": a.Case.ID, "outcome": "no_answer"}, &a)
	var next time.Time
	var last string
	if err := cf.db.Pool().QueryRow(t.Context(), `SELECT next_attempt_at, last_disposition FROM survey_case WHERE id = $1`, a.Case.ID).Scan(&next, &last); err != nil {
		t.Fatal(err)
	}
	if !next.Equal(monday.Add(2*time.Hour)) || last != "3.13" {
		t.Fatalf("after no answer: next %s, last %s", next, last)
	}
	// A disposition that requires a note is refused without one.
	ian.must("dial", map[string]any{"case_id": b.Case.ID}, &b)
	ian.must("end_call", map[string]any{"case_id": b.Case.ID}, &b)
	ian.refuse("wrap_up", map[string]any{"case_id": b.Case.ID, "code": "2.36"}, survey.EInvalid)
	ian.refuse("wrap_up", map[string]any{"case_id": b.Case.ID, "code": "1.1"}, survey.EInvalid)
	ian.must("wrap_up", map[string]any{"case_id": b.Case.ID, "code": "2.36", "note": "moved abroad"}, &b)
	if n := cf.count(`SELECT count(*) FROM case_note WHERE body = 'moved abroad'`); n != 1 {
		t.Fatal("note not stored")
	}
}

// TestRefusalAfterEnoughAnswersIsPartial: a respondent who stops after
// most questions is a partial (1.2), whatever the interviewer picked to end
// the call — the final-disposition rule ranks P above R.
func TestRefusalAfterEnoughAnswersIsPartial(t *testing.T) {
	cf := newConsole(t, contact("Fe", "east", "consumer", "tv"))
	ws := cf.login("ivy").dial()
	ws.next("state")
	var d desk
	d = ws.reach()
	caseID := d.Case.ID
	for _, a := range []struct {
		q string
		v any
	}{{"main_user", true}, {"tenure", 4}, {"sat_overall", 4}, {"nps", 9}, {"nps_reason", "fast"}, {"contacted_support", false}, {"household", 2}} {
		ws.must("answer", map[string]any{"case_id": caseID, "question": a.q, "value": a.v}, &d)
	}
	ws.must("end_call", map[string]any{"case_id": caseID}, &d)
	ws.must("wrap_up", map[string]any{"case_id": caseID, "code": "2.11"}, &d)
	var final string
	var status survey.Status
	if err := cf.db.Pool().QueryRow(t.Context(), `SELECT c.final_disposition, i.status FROM survey_case c JOIN interview i ON i.case_id = c.id WHERE c.id = $1`, caseID).Scan(&final, &status); err != nil {
		t.Fatal(err)
	}
	if final != "1.2" || status != survey.StatusPartial {
		t.Errorf("7 of 9 answered, then a refusal: case %s, interview %s; want 1.2 and partial", final, status)
	}
}

// TestCompleteCaseIsNotCalledAgain: no call back is booked for a respondent
// who completed.
func TestCompleteCaseIsNotCalledAgain(t *testing.T) {
	cf := newConsole(t, contact("Gi", "east", "consumer", "tv"))
	ws := cf.login("ivy").dial()
	ws.next("state")
	var d desk
	d = ws.reach()
	caseID := d.Case.ID
	ws.must("answer", map[string]any{"case_id": caseID, "question": "main_user", "value": false}, &d) // screened out: complete
	if !d.Complete {
		t.Fatalf("want a complete interview: %+v", d)
	}
	msg := ws.refuse("wrap_up", map[string]any{"case_id": caseID, "appointment": "2026-01-13T18:30"}, survey.EInvalid)
	if !strings.Contains(msg, "complete") {
		t.Errorf("message %q", msg)
	}
}

// Two tabs of one interviewer: a step taken in one shows in the other at
// once, so the other does not answer a question already behind.
func TestSecondTabFollows(t *testing.T) {
	cf := newConsole(t, contact("Cy", "east", "consumer", "fibre"))
	ian := cf.login("ian")
	a, b := ian.dial(), ian.dial()
	a.next("state")
	b.next("state")
	var d desk
	d = a.reach()
	id := d.Case.ID
	a.must("answer", map[string]any{"case_id": id, "question": "main_user", "value": true}, &d)
	for {
		var seen desk
		env := b.next("state")
		if err := json.Unmarshal(env.Data, &seen); err != nil {
			t.Fatal(err)
		}
		if seen.question() == d.question() {
			return // caught up with tab a
		}
	}
}

// The CSV export of a campaign's interviews joins back to the sample file:
// case, campaign, final disposition, phone and the contact's fields.
func TestExportJoinsTheSample(t *testing.T) {
	cf := newConsole(t, contact("Alice", "north", "consumer", "fibre"))
	ws := cf.login("ivy").dial()
	ws.next("state")
	var d desk
	ws.must("next_case", nil, &d)
	ws.must("dial", map[string]any{"case_id": d.Case.ID}, &d)
	ws.must("dial_result", map[string]any{"case_id": d.Case.ID, "outcome": "contact"}, &d)
	ws.must("end_call", map[string]any{"case_id": d.Case.ID}, &d)
	ws.must("wrap_up", map[string]any{"case_id": d.Case.ID, "code": "2.11", "note": "not interested"}, &d)
	token, hash, err := cati.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cf.db.CreateToken(t.Context(), "export", survey.RoleAdmin, hash); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), "GET", cf.url+"/api/v1/questionnaires/customer-study/export.csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	got := map[string]string{}
	for i, h := range rows[0] {
		got[h] = rows[1][i]
	}
	var final string
	if err := cf.db.Pool().QueryRow(t.Context(), `SELECT final_disposition FROM survey_case WHERE id = $1`, d.Case.ID).Scan(&final); err != nil || final == "" {
		t.Fatalf("case not closed: %q, %v", final, err)
	}
	want := map[string]string{"case_id": itoa(d.Case.ID), "campaign": "Northwind study", "disposition": final,
		"phone": "+12125550100", "contact.first_name": "Alice", "contact.region": "north", "contact.segment": "consumer", "contact.product": "fibre"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
