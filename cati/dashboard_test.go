package cati_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/canvass/canvass/cati"
	store "github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// The dashboard in Chromium: three days of post-call surveys from two
// touchpoints show NPS, CSAT and CES over time as charts with their
// confidence intervals and a table, the touchpoints ranked (the small one
// warned about instead of a margin), the drop-off funnel, and CSV
// downloads of the same figures; a context-field filter narrows it all.
//
// Past days come from the report roll-up (rolled before the page loads),
// the journey shows the touchpoints in console.journey order, and the
// AAPOR rates are those of the questionnaire's campaign's cases by the
// day they closed.
func TestDashboardInChromium(t *testing.T) {
	cf := newConsoleWith(t, func(db *store.DB, d *cati.Deps) {
		withConsole(db, d)
		d.Console.Options.Journey = []string{"web", "billing", "renewal"}
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
	v, err := cf.db.Questionnaire(ctx, "post-call", 0)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 1, 9, 10, 0, 0, 0, time.UTC)
	add := func(at time.Time, touchpoint string, nps, csat int64, finish bool) {
		id, err := cf.db.StartInterview(ctx, survey.InterviewRecord{Questionnaire: "post-call", Version: v.Version, Mode: survey.ModeIVR,
			Language: "en", StartedAt: at, Context: survey.Context{Touchpoint: touchpoint}})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []survey.Answer{{Question: "nps", Value: nps}, {Question: "csat", Value: csat}} {
			if err := cf.db.SaveAnswer(ctx, id, a); err != nil {
				t.Fatal(err)
			}
		}
		if finish {
			if err := cf.db.FinishInterview(ctx, id, survey.StatusComplete, "completed", "csat"); err != nil {
				t.Fatal(err)
			}
		}
	}
	for d := range 3 {
		for i := range 15 {
			add(day.Add(time.Duration(d)*24*time.Hour+time.Duration(i)*time.Minute), "billing", int64((i+d)%11), int64(1+i%5), i%4 != 0)
		}
		add(day.Add(time.Duration(d)*24*time.Hour+time.Hour), "web", 10, 5, true)
	}
	// The keypad campaign's cases: on the 9th a complete and a refusal
	// closed (RR1 = 0.5), on the 10th a no-answer.
	camp, err := cf.db.CreateCampaign(ctx, survey.Campaign{Name: "Post-call", Questionnaire: "post-call", Mode: "ivr", Status: "running",
		MaxAttempts: 3, Settings: json.RawMessage(`{}`)}, "ada")
	if err != nil {
		t.Fatal(err)
	}
	var rows []survey.SampleRow
	for i := range 3 {
		rows = append(rows, survey.SampleRow{Line: i + 2, Phone: fmt.Sprintf("+1212555%04d", 900+i), TZ: "America/New_York"})
	}
	if _, _, err := cf.db.ImportSample(ctx, camp, rows, "ada"); err != nil {
		t.Fatal(err)
	}
	cf.exec(`UPDATE survey_case SET status = 'closed', final_disposition = (ARRAY['1.1', '2.11', '3.13'])[r.n],
		closed_at = (ARRAY['2026-01-09T11:00:00Z', '2026-01-09T12:00:00Z', '2026-01-10T09:00:00Z'])[r.n]::timestamptz
		FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM survey_case WHERE campaign_id = $1) r WHERE survey_case.id = r.id`, camp)
	for {
		n, err := cf.db.RollUp(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if n := cf.count(`SELECT count(*) FROM report_slice WHERE questionnaire_id = 'post-call'`); n == 0 {
		t.Fatal("nothing rolled up")
	}
	const span = "questionnaire=post-call&from=2026-01-09T00:00:00Z&to=2026-01-12T00:00:00Z"
	sam := cf.openTab(newBrowser(t), "sam", artifactDir(t))
	sam.do(chromedp.Navigate(cf.url + "/dashboard?" + span))
	sam.poll(`document.querySelectorAll("#over tbody tr").length === 3 && (i => i && i.complete && i.naturalWidth > 0)(document.querySelector("#chart-nps img")) && (i => i && i.complete && i.naturalWidth > 0)(document.querySelector("#chart-groups img"))`)
	sam.poll(`(t => !!(t && t.querySelector('tr[data-group="billing"]') && t.querySelector('tr[data-group="web"] .warn')))(document.getElementById("by-touchpoint"))`)
	sam.poll(`!!document.querySelector('#funnel tr[data-question="nps"]')`)
	sam.poll(`(r => !!r && r.children[1].textContent === "2" && r.children[2].textContent === "0.5000")(document.querySelector('#aapor tr[data-group="2026-01-09"]'))`)
	sam.poll(`[...document.querySelectorAll("#journey tbody tr")].map(r => r.dataset.stage + ":" + r.children[1].textContent).join(" ") === "web:3 billing:45 renewal:0"`)
	sam.poll(`document.getElementById("kind").textContent === "transactional" && (i => i && i.complete && i.naturalWidth > 0)(document.querySelector("#chart-aapor img"))`)
	sam.screenshot("dashboard")
	if got := sam.eval(`document.querySelector('#by-touchpoint tbody tr').dataset.group`); got != "web" {
		t.Errorf("first in the ranking: %s, want web (all promoters)", got)
	}

	sam.do(chromedp.Navigate(cf.url + "/dashboard?" + span + "&field=touchpoint&value=web&interval=month"))
	sam.poll(`document.querySelectorAll("#over tbody tr").length === 1 && document.querySelector('#over tr[data-group="2026-01"] td:nth-child(2)').textContent === "3"`)

	b := cf.login("sam")
	resp := b.get("/dashboard.csv?chart=over&" + span)
	body, _ := io.ReadAll(resp.Body)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if resp.StatusCode != http.StatusOK || len(lines) != 4 || !strings.HasPrefix(lines[0], "day,interviews,completes,completion_rate,nps_n,nps,nps_margin") ||
		!strings.HasPrefix(lines[1], "2026-01-09,16,") {
		t.Errorf("CSV: %d\n%s", resp.StatusCode, body)
	}
	resp = b.get("/dashboard.csv?chart=breakdown&by=touchpoint&" + span)
	body, _ = io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "web,3,3,") || !strings.Contains(string(body), ",true\n") {
		t.Errorf("breakdown CSV:\n%s", body)
	}
	resp = b.get("/dashboard.csv?chart=aapor&" + span)
	body, _ = io.ReadAll(resp.Body)
	if !strings.HasPrefix(string(body), "day_closed,cases,I,P,R,NC,O,UH,UO,NE,e,RR1") || !strings.Contains(string(body), "\n2026-01-09,2,1,0,1,0,0,0,0,0,1.0000,50.00,") ||
		!strings.Contains(string(body), "\n2026-01-10,1,0,0,0,0,0,1,0,0,") {
		t.Errorf("AAPOR CSV:\n%s", body)
	}
	resp = b.get("/dashboard.csv?chart=journey&" + span)
	body, _ = io.ReadAll(resp.Body)
	if !strings.HasPrefix(string(body), "stage,questionnaires,nps_n") || !strings.Contains(string(body), "\nweb,post-call,3,100.00,") {
		t.Errorf("journey CSV:\n%s", body)
	}
	if resp := b.get("/dashboard?" + span + "&interval=year"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad interval: %d, want 400", resp.StatusCode)
	}
	if resp := cf.login("ivy").get("/dashboard"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an interviewer: %d", resp.StatusCode)
	}
}

// A questionnaire nobody answered yet, with a journey and no closed case,
// still has a dashboard: empty charts, not an error.
func TestDashboardEmpty(t *testing.T) {
	cf := newConsoleWith(t, func(db *store.DB, d *cati.Deps) {
		withConsole(db, d)
		d.Console.Options.Journey = []string{"web"}
	})
	resp := cf.login("sam").get("/dashboard?questionnaire=customer-study")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "No case closed in this range") || !strings.Contains(string(body), `id="chart-journey"`) {
		t.Errorf("empty dashboard: %d\n%.2000s", resp.StatusCode, body)
	}
}
