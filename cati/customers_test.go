package cati_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/cati"
	store "github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// A customer's score history: their surveys oldest first with NPS and
// CSAT, the alert one raised, churn risks flagged (a promoter turned
// detractor, then two low scores in a row), and another customer's
// surveys left out; the same on the page, linked from the alert.
func TestCustomerHistory(t *testing.T) {
	cf := newConsoleWith(t, func(db *store.DB, d *cati.Deps) {
		withConsole(db, d)
		d.Console.Alerts = db
	})
	ctx := t.Context()
	src := questionnaireFile(t, "post-call.yaml")
	q, err := survey.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cf.db.PutQuestionnaire(ctx, q.Version(src)); err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var ids []survey.InterviewID
	for i, s := range []struct {
		customer  string
		nps, csat int64
	}{{"C-17", 10, 5}, {"C-17", 3, 2}, {"C-99", 1, 1}, {"C-17", 5, 3}} {
		id, err := cf.db.StartInterview(ctx, survey.InterviewRecord{Questionnaire: "post-call", Version: 1, Mode: survey.ModeIVR, Language: "en",
			StartedAt: day.AddDate(0, 0, i), Context: survey.Context{Touchpoint: "support", CustomerID: s.customer}})
		if err != nil {
			t.Fatal(err)
		}
		var alerts []survey.Alert
		if s.nps <= 6 && s.customer == "C-17" && i == 1 {
			alerts = []survey.Alert{{Rule: "detractor", Severity: "high", Due: time.Hour, Question: "nps"}}
		}
		if err := cf.db.SaveAnswerAlerts(ctx, id, survey.Answer{Question: "nps", Value: s.nps}, alerts); err != nil {
			t.Fatal(err)
		}
		if err := cf.db.SaveAnswer(ctx, id, survey.Answer{Question: "csat", Value: s.csat}); err != nil {
			t.Fatal(err)
		}
		if err := cf.db.FinishInterview(ctx, id, survey.StatusComplete, "completed", "csat"); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}

	b := cf.login("sam")
	resp := b.get("/api/v1/customers/C-17/history", "Accept", "application/json")
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		t.Errorf("the API with a console cookie and no token: %d", resp.StatusCode)
	}
	var got struct {
		CustomerID string                 `json:"customer_id"`
		Surveys    []survey.CustomerScore `json:"surveys"`
	}
	req, _ := http.NewRequest(http.MethodGet, cf.url+"/api/v1/customers/C-17/history", nil)
	req.Header.Set("Authorization", "Bearer "+cf.tokens[survey.RoleSupervisor])
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &got); err != nil || r.StatusCode != http.StatusOK || len(got.Surveys) != 3 {
		t.Fatalf("history: %d %v\n%s", r.StatusCode, err, raw)
	}
	var line []string
	for _, s := range got.Surveys {
		line = append(line, strings.Join([]string{itoa(s.Interview), itoa(*s.NPS), itoa(*s.CSAT), s.ChurnRisk, strconv.Itoa(len(s.Alerts))}, "/"))
	}
	want := []string{itoa(ids[0]) + "/10/5//0", itoa(ids[1]) + "/3/2/" + survey.ChurnTurned + "/1", itoa(ids[3]) + "/5/3/" + survey.ChurnTwoLow + "/0"}
	if strings.Join(line, " | ") != strings.Join(want, " | ") || got.Surveys[1].Alerts[0].Rule != "detractor" || got.Surveys[0].Kind != survey.Transactional {
		t.Errorf("history:\n%s\nwant\n%s", strings.Join(line, " | "), strings.Join(want, " | "))
	}

	page := b.get("/customers/C-17")
	body, _ := io.ReadAll(page.Body)
	if page.StatusCode != http.StatusOK || !strings.Contains(string(body), "Churn risk: "+survey.ChurnTwoLow) || strings.Count(string(body), "<tr data-interview=") != 3 {
		t.Errorf("page: %d\n%s", page.StatusCode, body)
	}
	var alert int64
	if err := cf.db.Pool().QueryRow(ctx, `SELECT id FROM alert WHERE interview_id = $1`, ids[1]).Scan(&alert); err != nil {
		t.Fatal(err)
	}
	page = b.get("/alerts/" + itoa(alert))
	body, _ = io.ReadAll(page.Body)
	if !strings.Contains(string(body), `href="/customers/C-17"`) {
		t.Errorf("the alert page links no history:\n%s", body)
	}
	if r := cf.login("ivy").get("/customers/C-17"); r.StatusCode != http.StatusForbidden {
		t.Errorf("an interviewer: %d", r.StatusCode)
	}
	if r := b.get("/customers/%20"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a blank customer id: %d", r.StatusCode)
	}
}
