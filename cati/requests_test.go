package cati_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/cati"
	store "github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// POST /api/v1/survey-requests: an integrator's request is decided and the
// answer says what and why; bad input names the field and the fix, and
// nothing is stored; supervisors may not trigger surveys.
func TestSurveyRequestsAPI(t *testing.T) {
	f := setup(t, cati.DefaultOptions(), nil, func(db *store.DB, d *cati.Deps) {
		d.Requests, d.RequestRules = db, survey.RequestRules{Share: 1, FatigueDays: 30}
	})
	ctx := t.Context()
	f.upload(survey.RoleAdmin, questionnaireFile(t, "post-call.yaml"))
	if _, err := f.db.CreateCampaign(ctx, survey.Campaign{Name: "post-call surveys", Questionnaire: "post-call", Mode: survey.CampaignIVR,
		Status: survey.CampaignRunning, MaxAttempts: 2}, "admin"); err != nil {
		t.Fatal(err)
	}
	post := func(role survey.Role, body string) *http.Response {
		return f.request(http.MethodPost, "/api/v1/survey-requests", role, strings.NewReader(body), "Content-Type", "application/json")
	}
	var d survey.RequestDecision
	after := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	decode(t, post(survey.RoleIntegrator, `{"phone": "(212) 555-0100", "questionnaire": "post-call", "language": "fr",
		"context": {"agent": "alice", "touchpoint": "billing", "customer_id": "C-7", "fields": {"plan": "fibre"}},
		"call_after": "`+after.Format(time.RFC3339)+`"}`), http.StatusCreated, &d)
	if d.Decision != survey.RequestQueued || d.Case == 0 || d.CallAfter == nil || !d.CallAfter.Equal(after) {
		t.Errorf("decision %+v; want queued for %s", d, after)
	}
	var again survey.RequestDecision
	decode(t, post(survey.RoleAdmin, `{"phone": "+12125550100", "questionnaire": "post-call"}`), http.StatusOK, &again)
	if again.Decision != survey.RequestSkipped || again.Reason != survey.SkipFatigue {
		t.Errorf("second request: %+v; want skipped for fatigue", again)
	}
	resp := post(survey.RoleSupervisor, `{"phone": "+12125550101", "questionnaire": "post-call"}`)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a supervisor's request: %d, want 403", resp.StatusCode)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"phone": "12", "questionnaire": "post-call"}`, "phone:"},
		{`{"phone": "+12125550102"}`, "questionnaire: give the id"},
		{`{"phone": "+12125550102", "questionnaire": "nope"}`, `questionnaire: no questionnaire "nope"`},
		{`{"phone": "+12125550102", "questionnaire": "post-call", "language": "de"}`, "language: post-call has no"},
		{`{"phone": "+12125550102", "questionnaire": "post-call", "call_after": "tomorrow"}`, "call_after:"},
		{`{"phone": "+12125550102", "questionnaire": "post-call", "call_after": "2099-01-01T00:00:00Z"}`, "at most 30 days"},
		{`{"phone": "+12125550102", "questionnaire": "post-call", "context": {"fields": {"Bad Key": "x"}}}`, "context.fields"},
		{`{"phone": "+12125550102", "questionnaire": "post-call", "context": {"agent": "` + strings.Repeat("a", 300) + `"}}`, "context.agent"},
		{`{"phone": "+12125550102", "questionnaire": "post-call", "colour": "red"}`, "the body must be JSON"},
	} {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		decode(t, post(survey.RoleIntegrator, tc.body), http.StatusBadRequest, &e)
		if e.Error.Code != "invalid" || !strings.Contains(e.Error.Message, tc.want) {
			t.Errorf("%s: %+v, want …%s…", tc.body, e.Error, tc.want)
		}
	}
	var n int
	if err := f.db.Pool().QueryRow(ctx, `SELECT count(*) FROM survey_request`).Scan(&n); err != nil || n != 2 {
		t.Errorf("%d requests stored (%v), want the 2 decided", n, err)
	}
	var raw json.RawMessage
	if err := f.db.Pool().QueryRow(ctx, `SELECT context FROM survey_case WHERE id = $1`, d.Case).Scan(&raw); err != nil ||
		!strings.Contains(string(raw), `"customer_id": "C-7"`) || !strings.Contains(string(raw), `"plan": "fibre"`) {
		t.Errorf("case context %s %v", raw, err)
	}
}
