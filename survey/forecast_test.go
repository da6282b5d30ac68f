package survey

import (
	"strings"
	"testing"
	"time"
)

func TestForecasted(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	// 100 finished, eligibility all known: 90 eligible; 60 of 90 contacted;
	// 30 of 50 contacted I+P+R complete.
	c := Counts{I: 30, P: 5, R: 15, O: 10, NC: 30, NE: 10}
	f := Forecasted(ForecastInput{Counts: c, Remaining: 400, Completes: 30, Target: 100, Recent: 21, Days: 7, Now: now})
	// yield = 0.9 × (60/90) × (30/50) = 0.36; 400 × 0.36 = 144 ≥ 70 needed.
	if !f.Reachable || f.Expected != 144 || f.PerDay != 3 || !f.Reach.Equal(now.AddDate(0, 0, 24)) {
		t.Errorf("forecast %+v", f)
	}
	short := Forecasted(ForecastInput{Counts: c, Remaining: 100, Completes: 30, Target: 100, Recent: 21, Days: 7, Now: now})
	if short.Reachable || !strings.Contains(short.Text, "will not be reached") || !strings.Contains(short.Text, "34 short") {
		t.Errorf("short sample %+v", short)
	}
	early := Forecasted(ForecastInput{Counts: Counts{I: 3, NC: 2}, Remaining: 400, Target: 100, Now: now})
	if early.Yield.Defined || !strings.Contains(early.Text, "no forecast yet") {
		t.Errorf("too early %+v", early)
	}
	// Unknown eligibility counts at the known share: 20 UH more with
	// e = 0.9 gives 108 eligible of 120 (0.9), 60 of 108 contacted, 0.6
	// cooperating: yield 0.3 (against 0.36 without them).
	u := Counts{I: 30, P: 5, R: 15, O: 10, NC: 30, NE: 10, UH: 20}
	if f := Forecasted(ForecastInput{Counts: u, Remaining: 400, Now: now}); f.Expected != 120 {
		t.Errorf("with unknown eligibility %+v, want 120 expected", f)
	}
	done := Forecasted(ForecastInput{Counts: c, Remaining: 10, Completes: 120, Target: 100, Now: now})
	if !done.Reachable || !strings.Contains(done.Text, "reached") {
		t.Errorf("reached %+v", done)
	}
}
