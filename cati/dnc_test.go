package cati_test

// Tests of the do-not-call API: add, list and remove on the system-wide
// list and a campaign's, a CSV file with bad rows reported by line and
// field, and who may do what.

import (
	"net/http"
	"strings"
	"testing"

	"github.com/canvass/canvass/cati"
	store "github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

type dncReport struct {
	Campaign survey.CampaignID `json:"campaign"`
	Lines    int               `json:"lines"`
	Added    int               `json:"added"`
	Already  int               `json:"already"`
	Errors   []struct {
		Line    int    `json:"line"`
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

type dncList struct {
	Campaign survey.CampaignID `json:"campaign"`
	Count    int               `json:"count"`
	Numbers  []survey.DNCEntry `json:"numbers"`
}

func withDNC(db *store.DB, d *cati.Deps) { d.DNC = db }

func TestDNCAPI(t *testing.T) {
	f := setup(t, cati.DefaultOptions(), nil, withDNC)
	ctx := t.Context()
	src := questionnaireFile(t, "customer-study.yaml")
	q, err := survey.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.db.PutQuestionnaire(ctx, q.Version(src)); err != nil {
		t.Fatal(err)
	}
	camp, err := f.db.CreateCampaign(ctx, survey.Campaign{Name: "study", Questionnaire: "customer-study", Mode: "cati", Status: "running", MaxAttempts: 3}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	// One number, written nationally: read in the default region (US).
	var rep dncReport
	resp := f.request(http.MethodPost, "/api/v1/dnc", survey.RoleIntegrator, strings.NewReader(`{"phone": "(202) 555-0101", "note": "complained"}`), "Content-Type", "application/json")
	decode(t, resp, http.StatusOK, &rep)
	if rep.Added != 1 || rep.Lines != 1 || len(rep.Errors) != 0 {
		t.Fatalf("add one: %+v", rep)
	}
	// Again: already listed.
	resp = f.request(http.MethodPost, "/api/v1/dnc", survey.RoleAdmin, strings.NewReader(`{"phone": "+12025550101"}`), "Content-Type", "application/json")
	decode(t, resp, http.StatusOK, &rep)
	if rep.Added != 0 || rep.Already != 1 {
		t.Fatalf("add twice: %+v", rep)
	}
	var list dncList
	f.get("/api/v1/dnc", survey.RoleSupervisor, http.StatusOK, &list)
	if list.Count != 1 || list.Numbers[0].Phone != "+12025550101" || list.Numbers[0].Source != survey.DNCAPI ||
		list.Numbers[0].AddedBy != "token:test-integrator" || list.Numbers[0].Note != "complained" {
		t.Fatalf("system list: %+v", list)
	}

	// A CSV file on the campaign's list, with bad rows.
	csv := "Name,Phone,Note\n" +
		"A,+33 1 42 68 53 00,\n" + // line 2: French, with +country
		"B,not a number,\n" + // line 3: bad
		"C,202-555-0102,moved\n" + // line 4: national
		"D,,\n" + // line 5: empty
		"E,+12025550102,twice\n" + // line 6: same as line 4: listed once
		"F\n" // line 7: too few fields
	var crep dncReport
	resp = f.request(http.MethodPost, "/api/v1/campaigns/"+itoa(camp)+"/dnc", survey.RoleAdmin, strings.NewReader(csv), "Content-Type", "text/csv")
	decode(t, resp, http.StatusOK, &crep)
	if crep.Campaign != camp || crep.Lines != 6 || crep.Added != 2 || len(crep.Errors) != 3 {
		t.Fatalf("csv: %+v", crep)
	}
	for i, want := range []struct {
		line  int
		field string
		text  string
	}{{3, "phone", "not a valid phone number"}, {5, "phone", "empty"}, {7, "phone", "no phone"}} {
		e := crep.Errors[i]
		if e.Line != want.line || e.Field != want.field || !strings.Contains(e.Message, want.text) {
			t.Errorf("error %d: %+v, want line %d field %s saying %q", i, e, want.line, want.field, want.text)
		}
	}
	f.get("/api/v1/campaigns/"+itoa(camp)+"/dnc", survey.RoleAdmin, http.StatusOK, &list)
	got := map[string]survey.DNCSource{}
	for _, n := range list.Numbers {
		got[n.Phone] = n.Source
	}
	if list.Count != 2 || got["+33142685300"] != survey.DNCImport || got["+12025550102"] != survey.DNCImport {
		t.Fatalf("campaign list: %+v", list)
	}
	// The system list did not change.
	f.get("/api/v1/dnc", survey.RoleAdmin, http.StatusOK, &list)
	if list.Count != 1 {
		t.Fatalf("system list after a campaign import: %+v", list)
	}

	// Remove; removing again is 404.
	resp = f.request(http.MethodDelete, "/api/v1/campaigns/"+itoa(camp)+"/dnc/+12025550102", survey.RoleIntegrator, nil)
	decode(t, resp, http.StatusNoContent, nil)
	resp = f.request(http.MethodDelete, "/api/v1/campaigns/"+itoa(camp)+"/dnc/+12025550102", survey.RoleIntegrator, nil)
	decode(t, resp, http.StatusNotFound, nil)

	// Refusals, each with the reason a user needs.
	for _, c := range []struct {
		name, method, path, ctype, body string
		role                            survey.Role
		status                          int
		says                            string
	}{
		{"supervisor adds", "POST", "/api/v1/dnc", "application/json", `{"phone":"+12025550199"}`, survey.RoleSupervisor, 403, "needs one of the roles admin, integrator"},
		{"supervisor removes", "DELETE", "/api/v1/dnc/+12025550101", "", "", survey.RoleSupervisor, 403, "admin, integrator"},
		{"no token", "GET", "/api/v1/dnc", "", "", "", 401, "missing API token"},
		{"bad number", "POST", "/api/v1/dnc", "application/json", `{"phone":"12"}`, survey.RoleAdmin, 400, "+country"},
		{"unknown field", "POST", "/api/v1/dnc", "application/json", `{"number":"+12025550199"}`, survey.RoleAdmin, 400, "must be JSON"},
		{"no phone column", "POST", "/api/v1/dnc", "text/csv", "name,tel\nA,+12025550199\n", survey.RoleAdmin, 400, "column named phone"},
		{"empty file", "POST", "/api/v1/dnc", "text/csv", "", survey.RoleAdmin, 400, "empty"},
		{"other type", "POST", "/api/v1/dnc", "text/plain", "+12025550199", survey.RoleAdmin, 415, "text/csv"},
		{"unknown campaign", "POST", "/api/v1/campaigns/999/dnc", "application/json", `{"phone":"+12025550199"}`, survey.RoleAdmin, 404, "no campaign 999"},
		{"unknown campaign list", "GET", "/api/v1/campaigns/999/dnc", "", "", survey.RoleAdmin, 404, "no campaign 999"},
		{"bad region", "POST", "/api/v1/dnc?region=XX", "application/json", `{"phone":"+12025550199"}`, survey.RoleAdmin, 400, "region"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.ctype != "" {
				hdr = []string{"Content-Type", c.ctype}
			}
			resp := f.request(c.method, c.path, c.role, strings.NewReader(c.body), hdr...)
			var e apiError
			decode(t, resp, c.status, &e)
			if !strings.Contains(e.Error.Message, c.says) {
				t.Fatalf("message %q does not say %q", e.Error.Message, c.says)
			}
		})
	}
	if n, err := f.db.DNC(ctx, 0); err != nil || len(n) != 1 {
		t.Fatalf("after the refusals the system list is %+v, %v", n, err)
	}
}

func TestDNCAPIWithoutStore(t *testing.T) {
	f := setup(t, cati.DefaultOptions(), nil)
	var e apiError
	f.get("/api/v1/dnc", survey.RoleAdmin, http.StatusServiceUnavailable, &e)
	if !strings.Contains(e.Error.Message, "not configured") {
		t.Fatalf("message: %q", e.Error.Message)
	}
}

// "Never call again" over the WebSocket: the case closes as a refusal, the
// number is on the campaign's list (not the system's), and the
// campaign's other case for the same number is not claimed.
func TestNeverCallAgainFromTheConsole(t *testing.T) {
	cf := newConsoleWith(t, func(db *store.DB, d *cati.Deps) { withConsole(db, d); withDNC(db, d) },
		contact("Alice", "north", "consumer", "fibre"))
	ws := cf.login("ivy").dial()
	ws.next("state")
	var d desk
	ws.must("next_case", nil, &d)
	caseID := d.Case.ID
	// Not with a call back, nor as a code that is not a refusal.
	ws.refuse("wrap_up", map[string]any{"case_id": caseID, "never_call": true, "appointment": "2026-01-13T10:30"}, survey.EInvalid)
	ws.must("dial", map[string]any{"case_id": caseID}, &d)
	ws.must("dial_result", map[string]any{"case_id": caseID, "outcome": "contact"}, &d)
	ws.must("end_call", map[string]any{"case_id": caseID}, &d)
	if msg := ws.refuse("wrap_up", map[string]any{"case_id": caseID, "never_call": true, "code": "3.13"}, survey.EInvalid); !strings.Contains(msg, "refusal") {
		t.Fatalf("never call with 3.13: %q", msg)
	}
	ws.must("wrap_up", map[string]any{"case_id": caseID, "never_call": true, "note": "asked to be removed"}, &d)
	if d.State != survey.DeskIdle {
		t.Fatalf("after never call again: %+v", d)
	}
	var status, final, phone string
	if err := cf.db.Pool().QueryRow(t.Context(), `SELECT sc.status, sc.final_disposition, ct.phone_e164 FROM survey_case sc JOIN contact ct ON ct.id = sc.contact_id WHERE sc.id = $1`, caseID).Scan(&status, &final, &phone); err != nil {
		t.Fatal(err)
	}
	if status != "closed" || final != "2.11" {
		t.Fatalf("case is %s %s, want closed as 2.11", status, final)
	}
	list, err := cf.db.DNC(t.Context(), cf.campaign)
	if err != nil || len(list) != 1 || list[0].Phone != phone || list[0].Source != survey.DNCConsole || list[0].AddedBy != "interviewer:ivy" || list[0].Note != "asked to be removed" {
		t.Fatalf("campaign list: %+v, %v", list, err)
	}
	if sys, err := cf.db.DNC(t.Context(), 0); err != nil || len(sys) != 0 {
		t.Fatalf("system list: %+v, %v", sys, err)
	}
	// The same number given again in the campaign's sample is not claimed.
	cf.exec(`UPDATE survey_case SET status = 'open', final_disposition = NULL, closed_at = NULL, attempts = 0 WHERE id = $1`, caseID)
	ws.refuse("next_case", nil, survey.ENotFound)
}

// A number listed through the API after the interviewer took its case: the
// console's dial is refused, naming the list.
func TestConsoleDialRefusedAfterListing(t *testing.T) {
	cf := newConsoleWith(t, func(db *store.DB, d *cati.Deps) { withConsole(db, d); withDNC(db, d) },
		contact("Alice", "north", "consumer", "fibre"))
	ws := cf.login("ivy").dial()
	ws.next("state")
	var d desk
	ws.must("next_case", nil, &d)
	if _, err := cf.db.AddDNC(t.Context(), []survey.DNCEntry{{Phone: "+12125550100", AddedAt: monday, AddedBy: "token:crm", Source: survey.DNCAPI}}); err != nil {
		t.Fatal(err)
	}
	msg := ws.refuse("dial", map[string]any{"case_id": d.Case.ID}, survey.EConflict)
	if !strings.Contains(msg, "system-wide do-not-call list") {
		t.Fatalf("dial refusal: %q", msg)
	}
	if n := cf.count(`SELECT count(*) FROM attempt`); n != 0 {
		t.Fatalf("%d attempts after a refused dial", n)
	}
}
