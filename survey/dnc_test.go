package survey_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/survey"
)

// "Never call again" closes the case as a refusal and lists its number;
// anything else is refused with the reason.
func TestDecideNeverCall(t *testing.T) {
	now := time.Date(2026, 1, 12, 15, 0, 0, 0, time.UTC)
	base := survey.WrapUp{Case: survey.Case{Attempts: 1, MaxAttempts: 6, Contact: survey.Contact{TZ: "America/New_York"}},
		Dialed: true, NeverCall: true, Now: now}
	for _, c := range []struct {
		name     string
		edit     func(w *survey.WrapUp)
		final    survey.DispositionCode
		refusing string
	}{
		{"default code", func(w *survey.WrapUp) {}, "2.11", ""},
		{"known respondent", func(w *survey.WrapUp) { w.Code = "2.112" }, "2.112", ""},
		{"not a refusal", func(w *survey.WrapUp) { w.Code = "3.13" }, "", "refusal"},
		{"with a call back", func(w *survey.WrapUp) { w.Appointment = "2026-01-13T10:00" }, "", "exclude each other"},
		{"not dialed", func(w *survey.WrapUp) { w.Dialed = false }, "", "dial the number first"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := base
			c.edit(&w)
			o, err := survey.Decide(w)
			if c.refusing != "" {
				var se *survey.Error
				if !errors.As(err, &se) || se.Code != survey.EInvalid || !strings.Contains(se.Message, c.refusing) {
					t.Fatalf("got %+v, %v; want a refusal saying %q", o, err, c.refusing)
				}
				return
			}
			if err != nil || o.Status != survey.CaseClosed || o.FinalCode != c.final || !o.DoNotCall {
				t.Fatalf("got %+v, %v; want closed as %s and listed", o, err, c.final)
			}
		})
	}
	// Without NeverCall, nothing is listed.
	w := base
	w.NeverCall, w.Code = false, "2.11"
	if o, err := survey.Decide(w); err != nil || o.DoNotCall {
		t.Fatalf("a plain refusal: %+v, %v", o, err)
	}
}

func TestOnDNCNamesTheList(t *testing.T) {
	at := time.Date(2026, 1, 12, 15, 4, 0, 0, time.UTC)
	for _, c := range []struct {
		e    survey.DNCEntry
		want string
	}{
		{survey.DNCEntry{Phone: "+12025550101", AddedAt: at, Source: survey.DNCAPI}, "+12025550101 is on the system-wide do-not-call list since 2026-01-12 15:04 UTC (api)"},
		{survey.DNCEntry{Phone: "+12025550101", Campaign: 7, AddedAt: at, Source: survey.DNCConsole}, "do-not-call list of campaign 7"},
	} {
		err := survey.OnDNC(c.e)
		if !errors.Is(err, survey.Conflict) || !strings.Contains(survey.ErrorMessage(err), c.want) {
			t.Errorf("OnDNC(%+v) = %v, want a conflict saying %q", c.e, err, c.want)
		}
	}
}

// The sampling draw: about share of the draws, never at 0, always at 1.
func TestDraw(t *testing.T) {
	n := 0
	for range 4000 {
		if survey.Draw(0.25) {
			n++
		}
	}
	if n < 800 || n > 1200 {
		t.Errorf("drew %d of 4000 at 25%%", n)
	}
	if survey.Draw(0) || !survey.Draw(1) {
		t.Errorf("0 must never draw and 1 always")
	}
}
