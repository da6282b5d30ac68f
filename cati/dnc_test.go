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
