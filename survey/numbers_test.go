package survey_test

import (
	"testing"
	"time"

	"github.com/canvass/canvass/survey"
)

// A number settled as not working (or a fax) moves the case to the
// contact's next number at once; with none left, the case closes.
func TestDecideNextNumber(t *testing.T) {
	now := time.Date(2026, 1, 12, 15, 0, 0, 0, time.UTC)
	c := survey.Case{Attempts: 1, MaxAttempts: 6, Contact: survey.Contact{Phone: "+12025550100", TZ: "America/New_York"},
		Numbers: []survey.Number{{Phone: "+12025550100"}, {Phone: "+12025550101", Label: "mobile"}, {Phone: "+12025550102", Label: "work"}}}
	o, err := survey.Decide(survey.WrapUp{Case: c, Dialed: true, Code: survey.CodeNonWorking, Now: now})
	if err != nil || o.Status != survey.CaseOpen || o.NextNumber != "+12025550101" || !o.NextAttemptAt.Equal(now) || o.AttemptCode != survey.CodeNonWorking {
		t.Fatalf("non-working with more numbers: %+v %v", o, err)
	}
	// The mobile was settled before: the work number is next.
	c.Numbers[1].SettledAs = survey.CodeFaxLine
	if o, _ := survey.Decide(survey.WrapUp{Case: c, Dialed: true, Code: survey.CodeFaxLine, Now: now}); o.NextNumber != "+12025550102" {
		t.Errorf("next after a settled one: %+v", o)
	}
	// The last number: the case closes.
	c.Contact.Phone = "+12025550102"
	if o, _ := survey.Decide(survey.WrapUp{Case: c, Dialed: true, Code: survey.CodeNonWorking, Now: now}); o.Status != survey.CaseClosed || o.NextNumber != "" {
		t.Errorf("the last number: %+v", o)
	}
	// A refusal settles the contact, not the number.
	c.Contact.Phone = "+12025550100"
	if o, _ := survey.Decide(survey.WrapUp{Case: c, Dialed: true, Code: "2.11", Now: now}); o.Status != survey.CaseClosed || o.NextNumber != "" {
		t.Errorf("a refusal: %+v", o)
	}
}
