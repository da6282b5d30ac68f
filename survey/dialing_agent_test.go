package survey_test

import (
	"strings"
	"testing"

	"github.com/canvass/canvass/survey"
)

// The agent key (mixed mode) is one digit, and only for keypad campaigns.
func TestAgentKeyValidation(t *testing.T) {
	for _, tc := range []struct {
		mode survey.CampaignMode
		key  string
		want string // "" valid
	}{
		{survey.CampaignIVR, "0", ""},
		{survey.CampaignIVR, "", ""},
		{survey.CampaignIVR, "*", "agent key \"*\": use one digit"},
		{survey.CampaignIVR, "00", "use one digit"},
		{survey.CampaignCATI, "0", "agent key: only a keypad campaign"},
	} {
		err := survey.Dialing{AgentKey: tc.key}.Validate(tc.mode)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %q: %v", tc.mode, tc.key, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || survey.ErrorCodeOf(err) != survey.EInvalid):
			t.Errorf("%s %q: %v, want EInvalid …%s…", tc.mode, tc.key, err, tc.want)
		}
	}
}

// A predictive campaign that hangs up on machines estimates how many were
// persons: regulators count them as abandoned calls.
func TestAMDFalsePositiveRequired(t *testing.T) {
	d := survey.Dialing{Mode: survey.DialPredictive, AbandonMessage: "m", AMD: survey.AMDHangup}
	if err := d.Validate(survey.CampaignCATI); err == nil || !strings.Contains(err.Error(), "AMD false positives") {
		t.Errorf("predictive AMD without an estimate: %v", err)
	}
	zero, over := 0.0, 1.5
	if d.AMDFalsePositive = &zero; d.Validate(survey.CampaignCATI) != nil {
		t.Errorf("an estimate of 0: %v", d.Validate(survey.CampaignCATI))
	}
	if d.AMDFalsePositive = &over; d.Validate(survey.CampaignCATI) == nil {
		t.Errorf("an estimate of 150 %% passed")
	}
}
