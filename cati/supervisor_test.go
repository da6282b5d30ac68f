package cati_test

// The supervisors' live view: a change made through one node reaches a
// supervisor connected to another within a second (LISTEN/NOTIFY), and
// reassign, release and set-disposition act on cases, refresh the
// interviewers concerned and leave an audit trail.

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/survey"
)

type floorMsg struct {
	Interviewers []struct {
		Name   string           `json:"name"`
		State  survey.DeskState `json:"state"`
		CaseID int64            `json:"case_id"`
	} `json:"interviewers"`
	Campaigns []struct {
		ID        int64 `json:"id"`
		Completes int   `json:"completes"`
		Refusals  int   `json:"refusals"`
		Remaining int   `json:"remaining"`
		Quotas    []struct {
			ID     string `json:"id"`
			Filled int    `json:"filled"`
			Target int    `json:"target"`
		} `json:"quotas"`
		NPS *struct {
			N int `json:"n"`
		} `json:"nps"`
		RR1 *float64 `json:"rr1"`
	} `json:"campaigns"`
}

// waitFloor reads floors until cond holds, for at most within.
func waitFloor(t *testing.T, ws *wsClient, within time.Duration, cond func(floorMsg) bool) floorMsg {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case e, ok := <-ws.got:
			if !ok {
				t.Fatal("supervisor connection closed")
			}
			if e.Type == "event" {
				ws.events++
			}
			if e.Type != "floor" {
				continue
			}
			var f floorMsg
			if err := json.Unmarshal(e.Data, &f); err != nil {
				t.Fatal(err)
			}
			if cond(f) {
				return f
			}
		case <-deadline:
			t.Fatalf("the floor did not change as expected within %s", within)
		}
	}
}

func TestSupervisorSeesChangesFromAnotherNode(t *testing.T) {
	cf := newConsole(t, contact("Fay", "north", "consumer", "fibre"), contact("Gus", "south", "consumer", "tv"))
	other := restart(t, cf) // a second node over the same database
	sup := other.login("sam").dial()
	f := waitFloor(t, sup, 5*time.Second, func(f floorMsg) bool { return true })
	if f.Campaigns[0].Completes != 0 || f.Campaigns[0].Remaining != 2 {
		t.Fatalf("first floor %+v", f.Campaigns[0])
	}
	ws := cf.login("ivy").dial()
	ws.next("state")
	var d desk
	ws.must("next_case", nil, &d)
	id := d.Case.ID
	waitFloor(t, sup, time.Second, func(f floorMsg) bool {
		for _, i := range f.Interviewers {
			if i.Name == "ivy" && i.State == survey.DeskOnCase && i.CaseID == id {
				return true
			}
		}
		return false
	})
	ws.must("dial", map[string]any{"case_id": id}, &d)
	ws.must("dial_result", map[string]any{"case_id": id, "outcome": "contact"}, &d)
	ws.must("answer", map[string]any{"case_id": id, "question": "main_user", "value": false}, &d)
	if !d.Complete {
		t.Fatalf("not the main user: the interview should be complete: %+v", d)
	}
	ws.must("wrap_up", map[string]any{"case_id": id, "code": "1.1"}, &d)
	done := time.Now()
	f = waitFloor(t, sup, time.Second, func(f floorMsg) bool { return f.Campaigns[0].Completes == 1 })
	t.Logf("complete seen by the other node's supervisor after %s", time.Since(done))
	if f.Campaigns[0].Remaining != 1 || f.Campaigns[0].RR1 == nil || *f.Campaigns[0].RR1 != 1 {
		t.Fatalf("after the complete: %+v", f.Campaigns[0])
	}
	north := 0
	for _, q := range f.Campaigns[0].Quotas {
		if q.ID == "north" {
			north = q.Filled
		}
	}
	if north != 1 {
		t.Fatalf("quota north filled %d, want 1", north)
	}
	if sup.events == 0 {
		t.Fatal("no event message reached the supervisor")
	}
}

func TestSupervisorActsOnCases(t *testing.T) {
	cf := newConsole(t, contact("Hal", "east", "consumer", "fibre"))
	sup := cf.login("sam").dial()
	sup.next("floor")
	ian := cf.login("ian").dial()
	ivy := cf.login("ivy").dial()
	ian.next("state")
	ivy.next("state")
	var d desk
	ian.must("next_case", nil, &d)
	id := d.Case.ID
	ian.must("dial", map[string]any{"case_id": id}, &d)
	// Reassign to Ivy: Ian's screen goes idle, Ivy's shows the case.
	sup.must("reassign", map[string]any{"case_id": id, "to": "ivy"}, nil)
	waitState := func(ws *wsClient, state survey.DeskState) desk {
		t.Helper()
		for {
			var x desk
			json.Unmarshal(ws.next("state").Data, &x)
			if x.State == state {
				return x
			}
		}
	}
	if x := waitState(ivy, survey.DeskOnCase); x.Case.ID != id {
		t.Fatalf("ivy got case %d", x.Case.ID)
	}
	waitState(ian, survey.DeskIdle)
	sup.refuse("reassign", map[string]any{"case_id": id, "to": "nobody"}, survey.ENotFound)
	sup.refuse("reassign", map[string]any{"case_id": id, "to": "sam"}, survey.ENotFound) // not an interviewer
	// Release: back in the queue, Ivy idle.
	sup.must("release", map[string]any{"case_id": id}, nil)
	waitState(ivy, survey.DeskIdle)
	// Set a disposition: refused without the note 2.36 requires, then closed.
	sup.refuse("set_disposition", map[string]any{"case_id": id, "code": "2.36"}, survey.EInvalid)
	sup.refuse("set_disposition", map[string]any{"case_id": id, "code": "9.99"}, survey.EInvalid)
	sup.must("set_disposition", map[string]any{"case_id": id, "code": "2.36", "note": "deceased, per neighbour"}, nil)
	sup.refuse("set_disposition", map[string]any{"case_id": id, "code": "2.11"}, survey.EConflict)
	if n := cf.count(`SELECT count(*) FROM audit_log WHERE actor = 'sam' AND action IN ('case.reassign', 'case.release', 'case.disposition') AND target = $1`, "case:"+itoa(id)); n != 3 {
		t.Fatalf("%d audit entries, want 3", n)
	}
	var final string
	if err := cf.db.Pool().QueryRow(t.Context(), `SELECT final_disposition FROM survey_case WHERE id = $1`, id).Scan(&final); err != nil || final != "2.36" {
		t.Fatalf("final %q %v", final, err)
	}
	// The report page states e and every rate.
	r := cf.login("sam").get("/supervisor/report/" + itoa(cf.campaign))
	b := body(t, r)
	for _, want := range []string{"RR1", "RR6", "COOP4", "REF3", "CON3", "e = <strong>", "not defined"} {
		if !strings.Contains(b, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func itoa[ID ~int64](n ID) string { return strconv.FormatInt(int64(n), 10) }
