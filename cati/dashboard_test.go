package cati_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/canvass/canvass/survey"
)

// The dashboard in Chromium: three days of post-call surveys from two
// touchpoints show NPS, CSAT and CES over time as charts with their
// confidence intervals and a table, the touchpoints ranked (the small one
// warned about instead of a margin), the drop-off funnel, and CSV
// downloads of the same figures; a context-field filter narrows it all.
func TestDashboardInChromium(t *testing.T) {
	cf := newConsole(t)
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
	const span = "questionnaire=post-call&from=2026-01-09T00:00:00Z&to=2026-01-12T00:00:00Z"
	sam := cf.openTab(newBrowser(t), "sam", artifactDir(t))
	sam.do(chromedp.Navigate(cf.url + "/dashboard?" + span))
	sam.poll(`document.querySelectorAll("#over tbody tr").length === 3 && (i => i && i.complete && i.naturalWidth > 0)(document.querySelector("#chart-nps img")) && (i => i && i.complete && i.naturalWidth > 0)(document.querySelector("#chart-groups img"))`)
	sam.poll(`(t => !!(t && t.querySelector('tr[data-group="billing"]') && t.querySelector('tr[data-group="web"] .warn')))(document.getElementById("by-touchpoint"))`)
	sam.poll(`!!document.querySelector('#funnel tr[data-question="nps"]')`)
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
	if resp := b.get("/dashboard?" + span + "&interval=year"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad interval: %d, want 400", resp.StatusCode)
	}
	if resp := cf.login("ivy").get("/dashboard"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an interviewer: %d", resp.StatusCode)
	}
}
