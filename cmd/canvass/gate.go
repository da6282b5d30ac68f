package main

import (
	"context"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/asterisk"
	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

var _ asterisk.Gate = requestGate{}

// requestGate admits the calls Asterisk transfers by the rules of survey
// requests (config `requests:`), as POST /api/v1/survey-requests does,
// and keeps each decision: a number surveyed either way is not surveyed
// again within the fatigue period.
type requestGate struct {
	db     *sql.DB
	rules  survey.RequestRules
	region string // of caller numbers without +country
}

// Admit decides a transferred call (asterisk.Gate) in one round trip,
// which also reads the latest version of the call's questionnaire.
func (g requestGate) Admit(ctx context.Context, info ivr.CallInfo) (asterisk.Admission, error) {
	phone := info.Context.CallerNumber
	if num, err := phonenumbers.Parse(phone, g.region); err == nil && phonenumbers.IsValidNumber(num) {
		phone = phonenumbers.Format(num, phonenumbers.E164)
	}
	d, version, err := g.db.AdmitCall(ctx, survey.SurveyRequest{Source: survey.RequestARI, Phone: phone, Questionnaire: info.Questionnaire,
		Language: info.Language, Context: info.Context, RequestedBy: "asterisk"}, g.rules, survey.Draw, time.Now())
	if err != nil {
		return asterisk.Admission{}, err
	}
	return asterisk.Admission{Surveyed: d.Decision == survey.RequestSurveyed, Why: d.Reason, Version: version}, nil
}
