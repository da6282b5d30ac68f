package cati_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"

	"github.com/canvass/canvass/cati"
	store "github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// The alert inbox in Chromium: a manager sees the detractor alert a survey
// raised, opens it with the interview, assigns it, notes it, opens a call
// back (a case first in line in the recovery campaign) and closes it as
// recovered; an interviewer's next case is that call back, with the alert
// and what the customer answered on screen. The store measured the first
// action and the close, and told the webhooks (alert.closed).
func TestAlertInboxInChromium(t *testing.T) {
	cf := newConsoleWith(t, func(db *store.DB, d *cati.Deps) {
		withConsole(db, d)
		d.Console.Alerts = db
		d.Console.Options.RecoveryCampaign = "Northwind study"
	})
	ctx := t.Context()
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := cf.db.AddUser(ctx, "meg", survey.RoleManager, hash); err != nil {
		t.Fatal(err)
	}
	v, err := cf.db.Questionnaire(ctx, "customer-study", 0)
	if err != nil {
		t.Fatal(err)
	}
	iv, err := cf.db.StartInterview(ctx, survey.InterviewRecord{Questionnaire: "customer-study", Version: v.Version, Mode: survey.ModeIVR,
		Language: "en", Context: survey.Context{Touchpoint: "billing", CustomerID: "C-42", CallerNumber: "+12125550177"}})
	if err != nil {
		t.Fatal(err)
	}
	detractor := survey.Alert{Rule: "detractor", Severity: "high", Owner: "billing-team", Due: 4 * time.Hour, Question: "nps"}
	if err := cf.db.SaveAnswerAlerts(ctx, iv, survey.Answer{Question: "nps", Value: int64(2)}, []survey.Alert{detractor}); err != nil {
		t.Fatal(err)
	}
	var alertID int64
	if err := cf.db.Pool().QueryRow(ctx, `SELECT id FROM alert WHERE interview_id = $1`, iv).Scan(&alertID); err != nil {
		t.Fatal(err)
	}
	dir := artifactDir(t)
	meg := cf.openTab(newBrowser(t), "meg", dir)
	meg.poll(`location.pathname === "/alerts" && !!document.querySelector('#alerts tr[data-alert="` + fmt.Sprint(alertID) + `"][data-severity="high"]')`)
	meg.screenshot("inbox")
	meg.do(chromedp.Click(`#alerts a[href="/alerts/` + fmt.Sprint(alertID) + `"]`))
	meg.poll(`document.getElementById("alert-state") && document.getElementById("alert-state").dataset.status === "open" && document.getElementById("answers").textContent.includes("nps")`)
	meg.do(chromedp.SetValue(`select[name=to]`, "sam"), chromedp.Click(`#assign`))
	meg.poll(`document.getElementById("assignee") && document.getElementById("assignee").textContent === "sam" && document.getElementById("alert-state").dataset.status === "working"`)
	meg.do(chromedp.SendKeys(`textarea[name=text]`, "Billed twice; refund issued."), chromedp.Click(`#add-note`))
	meg.poll(`!!document.querySelector('#notes li[data-kind="note"]')`)
	meg.do(chromedp.Click(`#call-back`))
	meg.poll(`!!document.getElementById("recovery")`)
	meg.do(chromedp.SendKeys(`input[name=root_cause]`, "double billing"), chromedp.SetValue(`select[name=outcome]`, "recovered"), chromedp.Click(`#close-alert`))
	meg.poll(`document.getElementById("alert-state").dataset.status === "closed"`)
	meg.screenshot("closed")

	var (
		firstAction, closed *time.Time
		outcome             string
		recovery            int64
	)
	if err := cf.db.Pool().QueryRow(ctx, `SELECT first_action_at, closed_at, outcome, recovery_case_id FROM alert WHERE id = $1`, alertID).
		Scan(&firstAction, &closed, &outcome, &recovery); err != nil {
		t.Fatal(err)
	}
	if firstAction == nil || closed == nil || outcome != "recovered" || recovery == 0 || closed.Before(*firstAction) {
		t.Errorf("alert: first action %v, closed %v, outcome %s, call back case %d", firstAction, closed, outcome, recovery)
	}
	if n := cf.count(`SELECT count(*) FROM event WHERE kind = 'alert.closed' AND interview_id = $1`, iv); n != 1 {
		t.Errorf("%d alert.closed events, want 1", n)
	}
	if resp := cf.login("sam").get("/alerts?status=closed"); resp.StatusCode != http.StatusOK {
		t.Errorf("a supervisor's inbox: %d", resp.StatusCode)
	}
	if resp := cf.login("ivy").get("/alerts"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an interviewer's inbox: %d, want 403", resp.StatusCode)
	}

	// The call back is the interviewer's next case, first in line, with
	// the alert and the answers on screen.
	ivy := cf.openTab(newBrowser(t), "ivy", dir)
	ivy.do(chromedp.Navigate(cf.url + "/console"))
	ivy.do(chromedp.WaitVisible("#next-case"))
	ivy.key("n")
	ivy.poll(`(r => r && r.dataset.alert === "` + fmt.Sprint(alertID) + `" && r.textContent.includes("nps 2"))(document.getElementById("recovery"))`)
	ivy.poll(`document.getElementById("case-id").textContent === "` + fmt.Sprint(recovery) + `"`)
	ivy.screenshot("recovery-call")
}
