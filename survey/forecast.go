package survey

// This file is the sample forecast: at the rates the campaign's finished
// cases show, how many more completes its remaining sample yields, and on
// which day, at the recent pace, it reaches its target — or that it will
// not. One rule, used by the API and the supervisor's floor.

import (
	"fmt"
	"math"
	"time"
)

// ForecastInput is what the forecast reads of a campaign.
type ForecastInput struct {
	Counts    Counts // closed cases by AAPOR rate group
	Remaining int    // cases not closed: still to be worked
	Completes int
	Target    int // completes wanted; 0: none
	// Recent is the completes of the last Days days (the pace).
	Recent int
	Days   int
	Now    time.Time
}

// Forecast is what the remaining sample is expected to give.
type Forecast struct {
	// Eligibility, Contact and Cooperation are the finished cases' rates:
	// the eligible share of them, counting the unknown-eligibility cases
	// (UH, UO) eligible in the share e the known ones are (AAPOR's
	// proportional e); the contacted share of the eligible so counted (as
	// CON2); completes of the contacted I+P+R (COOP1).
	Eligibility Rate `json:"eligibility"`
	Contact     Rate `json:"contact"`
	Cooperation Rate `json:"cooperation"`
	// Yield is the completes expected per remaining case (their product);
	// Expected the completes the remaining sample gives at it.
	Yield    Rate `json:"yield"`
	Expected int  `json:"expected_completes"`
	// PerDay is the recent pace; Reach is the day the target is reached
	// at it (zero when it is not, or there is no target). Reachable says
	// whether the sample can give the target at all.
	PerDay    float64   `json:"completes_per_day"`
	Reach     time.Time `json:"reach_on,omitzero"`
	Reachable bool      `json:"reachable"`
	// Text says it in words for the supervisor.
	Text string `json:"text"`
}

// minForecast is how many finished cases the rates need before the
// forecast says anything.
const minForecast = 20

// Forecasted is the campaign's forecast.
func Forecasted(in ForecastInput) Forecast {
	c := in.Counts
	ratio := func(a, b int) Rate {
		if b <= 0 {
			return Rate{}
		}
		return Rate{Value: float64(a) / float64(b), Defined: true}
	}
	eligible := c.I + c.P + c.R + c.NC + c.O
	contacted := c.I + c.P + c.R + c.O
	unknown := c.UH + c.UO
	finished := eligible + c.NE + unknown
	f := Forecast{Cooperation: ratio(c.I, c.I+c.P+c.R)}
	if e := ratio(eligible, eligible+c.NE); e.Defined && finished > 0 {
		est := float64(eligible) + e.Value*float64(unknown)
		f.Eligibility = Rate{Value: est / float64(finished), Defined: true}
		if est > 0 {
			f.Contact = Rate{Value: float64(contacted) / est, Defined: true}
		}
	}
	if in.Days > 0 {
		f.PerDay = float64(in.Recent) / float64(in.Days)
	}
	if finished < minForecast || !f.Eligibility.Defined || !f.Contact.Defined || !f.Cooperation.Defined {
		f.Text = fmt.Sprintf("no forecast yet: %d cases finished, %d needed for the rates", finished, minForecast)
		return f
	}
	f.Yield = Rate{Value: f.Eligibility.Value * f.Contact.Value * f.Cooperation.Value, Defined: true}
	f.Expected = int(math.Round(f.Yield.Value * float64(in.Remaining)))
	if in.Target <= 0 {
		f.Reachable = true
		f.Text = fmt.Sprintf("the %d remaining cases should give about %d more completes (%.1f%% of cases)", in.Remaining, f.Expected, 100*f.Yield.Value)
		return f
	}
	need := in.Target - in.Completes
	switch {
	case need <= 0:
		f.Reachable, f.Reach = true, in.Now
		f.Text = fmt.Sprintf("target of %d completes reached", in.Target)
	case f.Expected < need:
		f.Text = fmt.Sprintf("the target of %d will not be reached: the %d remaining cases should give about %d more completes, %d short; add sample",
			in.Target, in.Remaining, f.Expected, need-f.Expected)
	case f.PerDay <= 0:
		f.Reachable = true
		f.Text = fmt.Sprintf("the remaining sample can give the %d completes still needed, but none were made in the last %d days to date it", need, in.Days)
	default:
		f.Reachable = true
		days := math.Ceil(float64(need) / f.PerDay)
		f.Reach = in.Now.AddDate(0, 0, int(days))
		f.Text = fmt.Sprintf("%d completes still needed; at %.1f a day the target is reached about %s", need, f.PerDay, f.Reach.Format("Mon 2 Jan 2006"))
	}
	return f
}
