package survey_test

import (
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/survey"
)

const alerting = `id: a
languages: [en]
questions:
  - id: nps
    type: nps
    text: Recommend?
  - id: resolved
    type: yes_no
    text: Resolved?
alerts:
  - id: detractor
    when: nps <= 6 or resolved == false
    severity: high
    route: touchpoint
    owner: cx-team
    owners: {billing: billing-team}
    due: 4h
  - id: gold_unhappy
    when: context.plan == "gold" and nps <= 8 and touchpoint == "billing"
    raise: end
`

// Alert rules: raised by the answer that makes them true (owner routed by
// the call's touchpoint), or at the end; conditions read the answers, the
// context by name and CRM fields as context.<field>.
func TestAlertRules(t *testing.T) {
	q, err := survey.Parse([]byte(alerting))
	if err != nil {
		t.Fatal(err)
	}
	iv, err := q.Start("en", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	iv.SetContext(survey.Context{Touchpoint: "billing", Extra: map[string]string{"plan": "gold"}})
	if got := iv.Alerts(false, ""); len(got) != 0 {
		t.Errorf("no answer yet: %v", got)
	}
	if _, _, err := iv.Answer(int64(8), survey.Paradata{}); err != nil {
		t.Fatal(err)
	}
	if got := iv.Alerts(false, "nps"); len(got) != 0 {
		t.Errorf("nps 8, resolved unknown: %v", got)
	}
	if _, _, err := iv.Answer(false, survey.Paradata{}); err != nil {
		t.Fatal(err)
	}
	got := iv.Alerts(false, "resolved")
	if len(got) != 1 || got[0].Rule != "detractor" || got[0].Owner != "billing-team" || got[0].Severity != "high" ||
		got[0].Due != 4*time.Hour || got[0].Question != "resolved" {
		t.Errorf("unresolved on billing: %+v", got)
	}
	end := iv.Alerts(true, "")
	if len(end) != 1 || end[0].Rule != "gold_unhappy" || end[0].Owner != "" || end[0].Severity != "medium" || end[0].Question != "" {
		t.Errorf("at the end: %+v", end)
	}
	iv2, _ := q.Start("en", nil, nil)
	iv2.SetContext(survey.Context{Touchpoint: "web"})
	iv2.Answer(int64(3), survey.Paradata{})
	if got := iv2.Alerts(false, "nps"); len(got) != 1 || got[0].Owner != "cx-team" {
		t.Errorf("a detractor on the web: %+v; want the default owner", got)
	}
}

func TestAlertLint(t *testing.T) {
	base := strings.SplitAfter(alerting, "alerts:\n")[0]
	for _, tc := range []struct{ rule, want string }{
		{"  - id: x\n    when: csat <= 2\n", "unknown name csat"},
		{"  - id: x\n    when: nps + 1\n", "expected bool"},
		{"  - id: x\n    when: nps <= 6\n    severity: urgent\n", `severity "urgent" is not one of`},
		{"  - id: x\n    when: nps <= 6\n    due: soon\n", "due \"soon\" must be a duration"},
		{"  - id: x\n    when: nps <= 6\n    route: region\n", "route \"region\""},
		{"  - id: x\n    when: nps <= 6\n    owners: {a: b}\n", "owners need a route"},
		{"  - id: x\n    when: nps <= 6\n    raise: later\n", "raise \"later\""},
		{"  - id: x\n    severity: low\n", "when is missing"},
		{"  - id: x\n    when: nps <= 6\n  - id: x\n    when: nps <= 5\n", `alert id "x" is used twice`},
	} {
		_, err := survey.Parse([]byte(base + tc.rule))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want …%s…", tc.rule, err, tc.want)
		}
	}
}

// previous_nps: the customer's previous score, for churn-risk rules; an
// unknown one never raises.
func TestChurnRiskRule(t *testing.T) {
	q, err := survey.Parse([]byte(`id: c
languages: [en]
questions:
  - id: nps
    type: nps
    text: Recommend?
alerts:
  - id: churn_risk
    severity: high
    when: nps <= 6 and (previous_nps >= 9 or previous_nps <= 6)
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prev  int64
		known bool
		nps   int64
		want  bool
	}{{10, true, 3, true}, {5, true, 6, true}, {8, true, 2, false}, {0, false, 2, false}, {10, true, 9, false}} {
		iv, _ := q.Start("en", nil, nil)
		if tc.known {
			iv.SetPreviousNPS(tc.prev)
		}
		iv.Answer(tc.nps, survey.Paradata{})
		if got := len(iv.Alerts(false, "nps")) == 1; got != tc.want {
			t.Errorf("previous %d (known %v), now %d: churn risk %v, want %v", tc.prev, tc.known, tc.nps, got, tc.want)
		}
	}
	if v, ok := q.NPSOf([]survey.Answer{{Question: "nps", Value: int64(7)}}); !ok || v != 7 {
		t.Errorf("NPSOf: %d %v", v, ok)
	}
}

func TestFlagChurn(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	h := []survey.CustomerScore{{NPS: n(9)}, {}, {NPS: n(4)}, {NPS: n(6)}, {NPS: n(8)}, {NPS: n(2)}, {NPS: n(10)}, {NPS: n(0)}}
	survey.FlagChurn(h)
	var got []string
	for _, s := range h {
		got = append(got, s.ChurnRisk)
	}
	want := []string{"", "", survey.ChurnTurned, survey.ChurnTwoLow, "", "", "", survey.ChurnTurned}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("FlagChurn = %q, want %q", got, want)
	}
}
