package cati_test

// How a case's final disposition is settled from the console: a supervisor's
// code goes through the rule the interviewers' wrap-up applies (a complete
// wins, then a partial, then a refusal or break-off…) and is refused, with
// the code the rule gives, when it contradicts the interview or an earlier
// call; an interviewer records a call outcome only after dialing; and the
// store's refusals reach the screen as the store worded them.

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/canvass/canvass/survey"
)

type answerStep struct {
	q string
	v any
}

// sevenOfNine leaves the customer study with enough answers for a partial.
var sevenOfNine = []answerStep{{"main_user", true}, {"tenure", 4}, {"sat_overall", 4}, {"nps", 9}, {"nps_reason", "fast"},
	{"contacted_support", false}, {"household", 2}}

func TestSupervisorDispositionFollowsFinalRule(t *testing.T) {
	tests := []struct {
		name    string
		outcome string       // the dial's outcome
		answers []answerStep // with outcome "contact"
		wrong   string       // refused: contradicts the case
		want    string       // the refusal names the code the rule gives
		right   string       // accepted
		note    string
		// what is stored
		final     string
		interview survey.Status // "" = none
	}{
		{name: "complete interview", outcome: "contact", answers: []answerStep{{"main_user", false}},
			wrong: "2.11", want: "1.1 Complete", right: "1.1", final: "1.1", interview: survey.StatusComplete},
		{name: "too few answers for a partial", outcome: "contact", answers: []answerStep{{"main_user", true}},
			wrong: "1.2", want: "2.12 Break-off", right: "2.12", final: "2.12", interview: survey.StatusBreakoff},
		{name: "enough answers for a partial", outcome: "contact", answers: sevenOfNine,
			wrong: "2.11", want: "1.2 Partial", right: "1.2", final: "1.2", interview: survey.StatusPartial},
		{name: "an earlier call confirmed the household", outcome: "machine_message",
			wrong: "4.10", want: "2.221", right: "2.36", note: "moved into care", final: "2.36"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cf := newConsole(t, contact("Hal", "east", "consumer", "fibre"))
			sup := cf.login("sam").dial()
			sup.next("floor")
			ws := cf.login("ivy").dial()
			ws.next("state")
			var d desk
			ws.must("next_case", nil, &d)
			id := d.Case.ID
			ws.must("dial", map[string]any{"case_id": id}, &d)
			ws.must("dial_result", map[string]any{"case_id": id, "outcome": tt.outcome}, &d)
			for _, a := range tt.answers {
				ws.must("answer", map[string]any{"case_id": id, "question": a.q, "value": a.v}, &d)
			}
			msg := sup.refuse("set_disposition", map[string]any{"case_id": id, "code": tt.wrong}, survey.EInvalid)
			if !strings.Contains(msg, tt.wrong) || !strings.Contains(msg, tt.want) {
				t.Errorf("refusal of %s says %q; want it to name %s and %q", tt.wrong, msg, tt.wrong, tt.want)
			}
			if n := cf.count(`SELECT count(*) FROM survey_case WHERE status = 'closed' OR final_disposition IS NOT NULL`); n != 0 {
				t.Fatalf("the refused %s closed the case", tt.wrong)
			}
			sup.must("set_disposition", map[string]any{"case_id": id, "code": tt.right, "note": tt.note}, nil)
			var final string
			var st *survey.Status
			err := cf.db.Pool().QueryRow(t.Context(), `
SELECT c.final_disposition, i.status FROM survey_case c LEFT JOIN interview i ON i.id = c.interview_id WHERE c.id = $1`, id).Scan(&final, &st)
			if err != nil {
				t.Fatal(err)
			}
			got := survey.Status("")
			if st != nil {
				got = *st
			}
			if final != tt.final || got != tt.interview {
				t.Errorf("case closed as %s with interview %q; want %s and %q", final, got, tt.final, tt.interview)
			}
		})
	}
}

func TestWrapUpNeedsACall(t *testing.T) {
	cf := newConsole(t, contact("Hal", "east", "consumer", "fibre"), contact("Ida", "east", "consumer", "fibre"))
	ws := cf.login("ivy").dial()
	ws.next("state")
	var d desk
	ws.must("next_case", nil, &d)
	id := d.Case.ID
	// "No answer" on a number nobody dialed: refused, nothing counted, the
	// case stays on the desk.
	msg := ws.refuse("wrap_up", map[string]any{"case_id": id, "code": "3.13"}, survey.EInvalid)
	if !strings.Contains(msg, "dial") || !strings.Contains(msg, "3.13") {
		t.Errorf("refusal says %q; want it to ask for a dial first", msg)
	}
	// Ending a call that never started leads to the same wrap-up.
	e := ws.must("end_call", map[string]any{"case_id": id}, &d)
	if d.State != survey.DeskWrapUp {
		t.Fatalf("after end call: %s", d.State)
	}
	var offered struct {
		Dispositions []struct {
			Code string `json:"code"`
		} `json:"dispositions"`
	}
	if err := json.Unmarshal(e.Data, &offered); err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, x := range offered.Dispositions {
		codes = append(codes, x.Code)
	}
	if !slices.Equal(codes, []string{"4.10", "4.80", "4.90"}) {
		t.Errorf("the wrap-up of an undialed case offers %v; want only what the record can show", codes)
	}
	for _, code := range []string{"3.13", "2.11", "4.31"} {
		ws.refuse("wrap_up", map[string]any{"case_id": id, "code": code}, survey.EInvalid)
	}
	if n := cf.count(`SELECT count(*) FROM survey_case WHERE id = $1 AND status = 'claimed' AND attempts = 0`, id); n != 1 {
		t.Fatal("a refused wrap-up changed the case")
	}
	// What the record shows needs no call.
	ws.must("wrap_up", map[string]any{"case_id": id, "code": "4.10"}, &d)
	if n := cf.count(`SELECT count(*) FROM survey_case WHERE id = $1 AND status = 'closed' AND final_disposition = '4.10'`, id); n != 1 {
		t.Fatal("4.10 Out of sample did not close the undialed case")
	}
	// Dialed, "no answer" is an attempt counted against the maximum.
	ws.must("next_case", nil, &d)
	id = d.Case.ID
	ws.must("dial", map[string]any{"case_id": id}, &d)
	ws.must("dial_result", map[string]any{"case_id": id, "outcome": "no_answer"}, &d)
	if n := cf.count(`SELECT attempts FROM survey_case WHERE id = $1 AND status = 'open' AND last_disposition = '3.13'`, id); n != 1 {
		t.Fatalf("after a dialed no answer the case counts %d attempts, want 1", n)
	}
	if n := cf.count(`SELECT count(*) FROM attempt`); n != 1 {
		t.Fatalf("%d attempts stored, want the one dialed", n)
	}
}

func TestSupervisorRefusalsNameTheProblem(t *testing.T) {
	cf := newConsole(t, contact("Hal", "east", "consumer", "fibre"), contact("Ida", "east", "consumer", "fibre"))
	sup := cf.login("sam").dial()
	sup.next("floor")
	ivy := cf.login("ivy").dial()
	ian := cf.login("ian").dial()
	ivy.next("state")
	ian.next("state")
	var a, b desk
	ivy.must("next_case", nil, &a)
	ian.must("next_case", nil, &b)
	tests := []struct {
		typ  string
		data map[string]any
		code survey.ErrorCode
		want string
	}{
		{"reassign", map[string]any{"case_id": a.Case.ID, "to": "ian"}, survey.EConflict, "interviewer ian is busy (on case)"},
		{"reassign", map[string]any{"case_id": 99999, "to": "ian"}, survey.ENotFound, "no case 99999"},
		{"release", map[string]any{"case_id": 99999}, survey.ENotFound, "no case 99999"},
		{"set_disposition", map[string]any{"case_id": 99999, "code": "2.11"}, survey.ENotFound, "no case 99999"},
	}
	for _, tt := range tests {
		if msg := sup.refuse(tt.typ, tt.data, tt.code); !strings.Contains(msg, tt.want) {
			t.Errorf("%s %v: message %q, want %q", tt.typ, tt.data, msg, tt.want)
		}
	}
	// Neither case was dialed: a call outcome is refused, as in a wrap-up.
	never := "case " + itoa(a.Case.ID) + " was never dialed"
	for _, code := range []string{"3.13", "2.11", "2.36"} {
		if msg := sup.refuse("set_disposition", map[string]any{"case_id": a.Case.ID, "code": code, "note": "n"}, survey.EInvalid); !strings.Contains(msg, never) {
			t.Errorf("set_disposition %s on an undialed case: message %q, want %q", code, msg, never)
		}
	}
	sup.must("set_disposition", map[string]any{"case_id": a.Case.ID, "code": "4.10"}, nil)
	closed := "case " + itoa(a.Case.ID) + " is"
	for typ, data := range map[string]map[string]any{
		"release":         {"case_id": a.Case.ID},
		"set_disposition": {"case_id": a.Case.ID, "code": "2.11"},
	} {
		if msg := sup.refuse(typ, data, survey.EConflict); !strings.Contains(msg, closed) {
			t.Errorf("%s on a closed case: message %q, want %q…", typ, msg, closed)
		}
	}
}
