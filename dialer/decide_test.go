package dialer

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/survey"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	st, _ := json.Marshal(survey.CampaignSettings{RetrySeconds: map[survey.DispositionCode]int64{survey.CodeBreakoff: 600}})
	camp := survey.Campaign{Mode: survey.CampaignIVR, Settings: st}
	person := Signal{Answered: true, SIPStatus: 200}
	cases := []struct {
		name     string
		attempts int
		history  []survey.DispositionCode
		r        Result
		status   survey.CaseStatus
		code     survey.DispositionCode
		final    survey.DispositionCode
		after    time.Duration
		finish   survey.Status
	}{
		{"complete", 1, nil, Result{Signal: person, Status: survey.StatusComplete}, survey.CaseClosed, survey.CodeComplete, survey.CodeComplete, 0, ""},
		{"hung up, kept: called back after 2.12's delay", 1, nil, Result{Signal: person, Status: survey.StatusInProgress}, survey.CaseOpen, survey.CodeBreakoff, "", 10 * time.Minute, ""},
		{"hung up on the last attempt, kept anyway: ends", 3, []survey.DispositionCode{"3.13", "3.13"}, Result{Signal: person, Status: survey.StatusInProgress}, survey.CaseClosed, survey.CodeBreakoff, survey.CodeBreakoff, 0, survey.StatusBreakoff},
		{"partial on the last attempt", 3, []survey.DispositionCode{"3.13", "2.12"}, Result{Signal: person, Status: survey.StatusPartial}, survey.CaseClosed, survey.CodePartial, survey.CodePartial, 0, ""},
		{"resumed and completed after a break-off", 2, []survey.DispositionCode{"2.12"}, Result{Signal: person, Status: survey.StatusComplete}, survey.CaseClosed, survey.CodeComplete, survey.CodeComplete, 0, ""},
		{"busy, attempts left", 1, nil, Result{Signal: Signal{SIPStatus: 486}}, survey.CaseOpen, survey.CodeBusy, "", 15 * time.Minute, ""},
		{"not a number: never again", 1, nil, Result{Signal: Signal{SIPStatus: 404}}, survey.CaseClosed, survey.CodeNonWorking, survey.CodeNonWorking, 0, ""},
		{"no answer on the last attempt", 3, []survey.DispositionCode{"3.13", "3.13"}, Result{Signal: Signal{RingTimeout: true}}, survey.CaseClosed, survey.CodeNoAnswer, "", 0, ""},
		{"network fault: soon", 1, nil, Result{Signal: Signal{SIPStatus: 503}}, survey.CaseOpen, "3.16", "", DefaultSoon, ""},
		{"answered, no interview ran: retried soon", 1, nil, Result{Signal: person}, survey.CaseOpen, "", "", DefaultSoon, ""},
		{"a machine: tried again later", 1, nil, Result{Signal: Signal{Answered: true, SIPStatus: 200, AMD: AMDMachine}}, survey.CaseOpen, survey.CodeAnsweringMachine, "", 0, ""},
		{"cancelled: due again at once", 1, nil, Result{Signal: Signal{Cancelled: true}}, survey.CaseOpen, "", "", 0, ""},
	}
	t.Run("not a number, another number left", func(t *testing.T) {
		c := survey.Case{Attempts: 1, MaxAttempts: 3, Contact: survey.Contact{Phone: "+12025550100"},
			Numbers: []survey.Number{{Phone: "+12025550100"}, {Phone: "+12025550101", Label: "mobile"}}, History: []survey.Attempt{{}}}
		o, err := Decide(c, camp, Result{Signal: Signal{SIPStatus: 404}}, 0, now)
		if err != nil || o.Status != survey.CaseOpen || o.NextNumber != "+12025550101" || !o.NextAttemptAt.Equal(now) || o.AttemptCode != survey.CodeNonWorking {
			t.Errorf("outcome %+v %v; want the mobile called at once", o, err)
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := survey.Case{Attempts: tc.attempts, MaxAttempts: 3}
			for _, h := range tc.history {
				c.History = append(c.History, survey.Attempt{Disposition: h})
			}
			c.History = append(c.History, survey.Attempt{}) // this one, not settled yet
			o, err := Decide(c, camp, tc.r, 0, now)
			if err != nil {
				t.Fatal(err)
			}
			if o.Status != tc.status || (tc.code != "" && o.AttemptCode != tc.code) || (tc.final != "" && o.FinalCode != tc.final) ||
				o.FinishInterview != tc.finish {
				t.Errorf("outcome %+v; want %s, attempt %q, final %q, finish %q", o, tc.status, tc.code, tc.final, tc.finish)
			}
			if o.Status == survey.CaseOpen && o.NextAttemptAt.Sub(now) != tc.after && tc.after != 0 {
				t.Errorf("next attempt in %s, want %s", o.NextAttemptAt.Sub(now), tc.after)
			}
			if o.Status == survey.CaseClosed && o.FinalCode == "" {
				t.Errorf("closed without a final disposition: %+v", o)
			}
		})
	}
}

func TestDialingValidate(t *testing.T) {
	ok := []survey.Dialing{{}, {Mode: survey.DialProgressive, AutoDialSeconds: 10}, {CallsPerSecond: 5, MaxLines: 50, RingSeconds: 20}}
	for _, d := range ok {
		if err := d.Validate(survey.CampaignCATI); err != nil {
			t.Errorf("%+v: %v", d, err)
		}
	}
	bad := map[string]survey.Dialing{
		"rings 15 to 120":         {RingSeconds: 10},
		"preview, progressive or": {Mode: "robocall"},
		"abandoned-call message":  {Mode: "predictive"},
		"calls per second":        {CallsPerSecond: -1},
		"max lines":               {MaxLines: 100000},
	}
	for want, d := range bad {
		if err := d.Validate(survey.CampaignCATI); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want an error naming %q", d, err, want)
		}
	}
}
