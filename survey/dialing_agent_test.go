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
