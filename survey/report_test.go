package survey_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/canvass/canvass/survey"
)

func TestBuildReport(t *testing.T) {
	q := load(t, "post-call")
	tallies := []survey.Tally{
		{Group: "agent-1", Started: 5, Complete: 3, Partial: 1, Breakoff: 1,
			Values:    map[string]map[int64]int{"nps": {10: 2, 8: 1, 3: 1}, "csat": {5: 2, 4: 1, 1: 1}, "ces": {7: 1, 5: 1}},
			Answered:  map[string]int{"nps": 4, "csat": 4, "ces": 2},
			StoppedAt: map[string]int{"ces": 1, "csat": 1}},
		{Group: "agent-2", Started: 2, InProgress: 1, Breakoff: 1,
			Values:    map[string]map[int64]int{"nps": {0: 1}},
			Answered:  map[string]int{"nps": 1},
			StoppedAt: map[string]int{"csat": 1}},
	}
	r := q.BuildReport(survey.ReportQuery{Questionnaire: "post-call", By: survey.ByAgent}, tallies)
	a1 := r.Groups[0]
	// agent-1: 3 complete of 5 ended = 0.6; 2 stopped early of 5 = 0.4.
	if a1.CompletionRate.Value != 0.6 || a1.BreakoffRate.Value != 0.4 {
		t.Errorf("rates %+v %+v", a1.CompletionRate, a1.BreakoffRate)
	}
	nps := a1.Questions[0].NPS
	// 2 promoters, 1 passive, 1 detractor of 4: 50% - 25% = 25.
	if nps == nil || nps.Score.Value != 25 || nps.N != 4 {
		t.Errorf("nps %+v", nps)
	}
	// csat: 3 of 4 in 4-5 = 75%.
	if c := a1.Questions[2].CSAT; c == nil || c.Score.Value != 75 {
		t.Errorf("csat %+v", a1.Questions[2])
	}
	// ces mean (7+5)/2 = 6.
	if c := a1.Questions[3].CES; c == nil || c.Mean.Value != 6 {
		t.Errorf("ces %+v", a1.Questions[3])
	}
	// Drop-off in questionnaire order: csat before ces.
	if d := a1.DropOff; len(d) != 2 || d[0].Question != "csat" || d[1].Question != "ces" || d[0].Share.Value != 0.5 {
		t.Errorf("drop-off %+v", d)
	}
	// Total: nps 2P 1Pa 2D of 5 -> 40% - 40% = 0; 7 started, 1 in progress.
	tot := r.Total
	if tot.Started != 7 || tot.InProgress != 1 || tot.Questions[0].NPS.Score.Value != 0 || tot.DropOff[0].Count != 2 {
		t.Errorf("total %+v", tot)
	}
	// agent-2 has no csat answers: CSAT is not defined, which JSON says as null.
	b, err := json.Marshal(r.Groups[1].Questions[2])
	if err != nil || !strings.Contains(string(b), `"score":null`) {
		t.Errorf("undefined csat: %s %v", b, err)
	}
}
