package cati_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/canvass/canvass/cati"
	store "github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// "Why is case X not being called?" names every rule holding the case, over
// the API and on the supervisor's case page.
func TestWhyNotCalled(t *testing.T) {
	cf := newConsoleWith(t, func(db *store.DB, d *cati.Deps) { withConsole(db, d); withDNC(db, d) },
		contact("Alice", "north", "consumer", "fibre"))
	token, hash, err := cati.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cf.db.CreateToken(t.Context(), "why", survey.RoleSupervisor, hash); err != nil {
		t.Fatal(err)
	}
	why := func() (due bool, rules []string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), "GET", cf.url+"/api/v1/cases/1/why", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Due   bool `json:"due"`
			Holds []struct{ Rule, Text string }
		}
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&body) != nil {
			t.Fatalf("GET why: %s", resp.Status)
		}
		for _, h := range body.Holds {
			rules = append(rules, h.Rule+": "+h.Text)
		}
		return body.Due, rules
	}
	if due, rules := why(); !due || len(rules) != 0 {
		t.Fatalf("a due case: %v %v", due, rules)
	}
	cf.exec(`UPDATE campaign SET status = 'paused'`)
	cf.exec(`UPDATE survey_case SET next_attempt_at = '2026-01-12 20:00+00'`) // the fixture's clock is Monday 15:00 UTC
	cf.exec(`INSERT INTO dnc (phone_e164, source, added_by) VALUES ('+12125550100', 'api', 'test')`)
	cf.exec(`UPDATE survey_case SET quota_hold = 'north'`)
	_, rules := why()
	got := strings.Join(rules, " | ")
	for _, want := range []string{"campaign: campaign Northwind study is paused", "retry: retry delay until Mon 12 Jan 15:00 EST",
		"dnc: on the system-wide do-not-call list since", "quota: quota cell north is full"} {
		if !strings.Contains(got, want) {
			t.Errorf("holds %q lack %q", got, want)
		}
	}
	cf.exec(`INSERT INTO contact_number (contact_id, rank, phone_e164, label) SELECT contact_id, 0, '+12125550100', '' FROM survey_case WHERE id = 1`)
	cf.exec(`INSERT INTO contact_number (contact_id, rank, phone_e164, label) SELECT contact_id, 1, '+12125550177', 'mobile' FROM survey_case WHERE id = 1`)
	sam := cf.login("sam")
	resp := sam.get("/supervisor/cases/1")
	defer resp.Body.Close()
	var page strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		page.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if !strings.Contains(page.String(), "Not called now: ") || !strings.Contains(page.String(), `data-rule="dnc"`) ||
		!strings.Contains(page.String(), `&#43;12125550177 (mobile)`) {
		t.Errorf("the case page does not say why: %s", page.String())
	}
}
