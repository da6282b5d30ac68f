package dialer

import (
	"math"
	"reflect"
	"testing"
	"time"
)

// shortSim is a small run across the US DST change of 8 March 2026, with
// enough DNC numbers and a loose enough target that every rule is exercised.
func shortSim(mode Mode, seed uint64) SimOptions {
	o := DefaultSimOptions()
	o.Mode, o.Seed = mode, seed
	o.Days, o.Interviewers = 4, 8
	o.Start = time.Date(2026, 3, 6, 0, 0, 0, 0, time.UTC)
	o.Target = 0.03
	o.DNCStart, o.DNCAdded = 0.05, 0.10
	return o
}

// bruteMaxRate is the worst rate of abandoned over live calls in any window
// (t−w, t] with t up to until, trying every window ending at an event and
// just before one leaves, counting each by a full scan.
func bruteMaxRate(events []Event, w time.Duration, until time.Time) float64 {
	worst := 0.0
	for _, e := range events {
		leave := e.At.Add(w - time.Nanosecond)
		if leave.After(until) {
			leave = until
		}
		for _, end := range []time.Time{e.At, leave} {
			live, abandoned := 0, 0
			for _, f := range events {
				if f.At.After(end.Add(-w)) && !f.At.After(end) {
					live++
					if f.Abandoned {
						abandoned++
					}
				}
			}
			if live > 0 {
				worst = math.Max(worst, float64(abandoned)/float64(live))
			}
		}
	}
	return worst
}

func TestSimulateInvariants(t *testing.T) {
	for _, mode := range []Mode{ModeProgressive, ModePredictive} {
		t.Run(string(mode), func(t *testing.T) {
			o := shortSim(mode, 7)
			r, err := Simulate(o)
			if err != nil {
				t.Fatal(err)
			}
			if r.Dials < 1000 || r.Live < 300 || r.Completes < 300 {
				t.Fatalf("too small a run to check anything: %d dials, %d live, %d completes", r.Dials, r.Live, r.Completes)
			}
			// Every dial in the respondent's local 09:00–21:00, by the
			// wall clock of its zone, on both sides of the DST change.
			before, after := 0, 0
			change := time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC) // 02:00 EST
			dnc, dncLater := 0, 0
			for _, c := range r.Calls {
				loc, err := time.LoadLocation(o.Zones[c.Zone].Name)
				if err != nil {
					t.Fatal(err)
				}
				local := c.At.In(loc)
				if m := local.Hour()*60 + local.Minute(); m < o.Open || m >= o.Close {
					t.Errorf("dial to number %d at %v: outside 09:00–21:00", c.Number, local)
				}
				if o.Zones[c.Zone].Name == "America/New_York" {
					if c.At.Before(change) {
						before++
					} else {
						after++
					}
				}
				if at := r.DNCAt[c.Number]; !at.IsZero() {
					if !c.At.Before(at) {
						dnc++
						t.Errorf("dial to number %d at %v: on the DNC list since %v", c.Number, c.At, at)
					} else {
						dncLater++
					}
				}
			}
			if before == 0 || after == 0 {
				t.Errorf("New York dials %d before and %d after the DST change: the run does not span it", before, after)
			}
			if dncLater == 0 {
				t.Error("no number was dialed and then put on the DNC list: the run-time addition is not exercised")
			}
			if r.DialsOutsideWindow != 0 || r.DialsToDNC != dnc || r.RedialsWithin72h != 0 {
				t.Errorf("reported %d outside, %d to DNC, %d redials within 72 h; want 0", r.DialsOutsideWindow, r.DialsToDNC, r.RedialsWithin72h)
			}
			for _, w := range []time.Duration{Day, Month} {
				worst := bruteMaxRate(r.Answered, w, r.End)
				if worst > o.Budget+1e-12 {
					t.Errorf("abandonment reached %.4f over a %v window, above the budget %.2f", worst, w, o.Budget)
				}
				if got := MaxAbandonRate(r.Answered, w, r.End); math.Abs(got-worst) > 1e-12 {
					t.Errorf("MaxAbandonRate(%v) = %.6f, brute force %.6f", w, got, worst)
				}
			}
			if mode == ModePredictive && (r.PredictiveSteps == 0 || r.Abandoned == 0) {
				t.Errorf("predictive run: %d predictive steps, %d abandoned: pacing never went beyond progressive", r.PredictiveSteps, r.Abandoned)
			}
			if u := r.Utilisation(); !(u > 0.3 && u < 1) {
				t.Errorf("utilisation %.3f: not a share of logged-in time", u)
			}
		})
	}
}

// With a budget of 0 the ledger leaves no headroom and predictive pacing is
// exactly progressive: nothing may be abandoned (no AMD false positives).
func TestSimulateZeroBudget(t *testing.T) {
	o := shortSim(ModePredictive, 3)
	o.Budget, o.AMDFalsePositive = 0, 0
	r, err := Simulate(o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Abandoned != 0 || r.PredictiveSteps != 0 {
		t.Errorf("budget 0: %d abandoned, %d predictive steps; want none", r.Abandoned, r.PredictiveSteps)
	}
}

func TestSimulateDeterministic(t *testing.T) {
	o := shortSim(ModePredictive, 11)
	o.Days = 2
	a, err := Simulate(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Simulate(o)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two runs with seed %d differ: %d and %d dials", o.Seed, a.Dials, b.Dials)
	}
	o.Seed++
	c, err := Simulate(o)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a.Calls, c.Calls) {
		t.Error("another seed gave the same dials")
	}
}

func TestSimOptionsValidate(t *testing.T) {
	if err := DefaultSimOptions().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	o := DefaultSimOptions()
	o.RingMin = 10 * time.Second
	o.Person, o.Machine = 0.8, 0.5
	o.Zones = append(o.Zones, SimZone{Name: "Mars/Olympus", Share: 1})
	o.Budget = 0.05
	err := o.Validate()
	for _, want := range []string{"ring-min", "more than 1", "Mars/Olympus", "budget"} {
		if err == nil || !contains(err.Error(), want) {
			t.Errorf("Validate: %v; want a problem naming %q", err, want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// The checkers catch what they are for.
func TestSimCheckers(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	calls := []SimDial{
		{At: time.Date(2026, 3, 7, 8, 59, 0, 0, ny)},  // before 09:00
		{At: time.Date(2026, 3, 7, 9, 0, 0, 0, ny)},   // in
		{At: time.Date(2026, 3, 8, 20, 59, 0, 0, ny)}, // in, after the change
		{At: time.Date(2026, 3, 8, 21, 0, 0, 0, ny)},  // at the close
		{At: time.Date(2026, 3, 9, 8, 30, 0, 0, ny)},  // 09:30 by the winter offset, 08:30 by the clock
	}
	if got := OutsideWindow(calls, []*time.Location{ny}, 9*60, 21*60); got != 3 {
		t.Errorf("OutsideWindow = %d, want 3", got)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var events []Event
	for i := range 99 {
		events = append(events, Event{At: t0.Add(time.Duration(i) * time.Second), Live: true})
		events = append(events, Event{At: t0.Add(25*time.Hour + time.Duration(i+1)*time.Second), Live: true})
	}
	events = append(events, Event{At: t0.Add(25 * time.Hour), Live: true, Abandoned: true})
	// Alone in its 24 h window the abandoned call is the whole rate; over
	// 30 days it always has 99 live calls with it.
	end := t0.Add(10 * Day)
	if got := MaxAbandonRate(events, Day, end); got != 1 {
		t.Errorf("24 h: %g, want 1", got)
	}
	for _, f := range []func([]Event, time.Duration, time.Time) float64{MaxAbandonRate, bruteMaxRate} {
		if got := f(events, Month, end); got != 0.01 {
			t.Errorf("30 d until the end: %g, want 0.01", got)
		}
	}
}

// AMD false positives are abandoned calls the pacer cannot prevent: they
// come with progressive dialing too, and are counted.
func TestSimulateAMDFalsePositives(t *testing.T) {
	o := shortSim(ModeProgressive, 5)
	o.Days, o.AMDFalsePositive = 2, 0.02
	r, err := Simulate(o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Abandoned == 0 || r.RedialsWithin72h != 0 {
		t.Errorf("progressive with 2 %% AMD false positives: %d abandoned, %d redials within 72 h; want some abandoned, no redial", r.Abandoned, r.RedialsWithin72h)
	}
}

func TestSimStat(t *testing.T) {
	var s stat
	for i := range 2500 {
		s.add(float64(i % 7))
	}
	// The last 1000 values of 0..6 repeating, computed directly.
	var sum, sq float64
	for i := 1500; i < 2500; i++ {
		v := float64(i % 7)
		sum += v
		sq += v * v
	}
	m := sum / 1000
	sd := math.Sqrt(sq/1000 - m*m)
	if gm, gsd := s.meanSD(); math.Abs(gm-m) > 1e-9 || math.Abs(gsd-sd) > 1e-9 {
		t.Errorf("meanSD = %g, %g; want %g, %g", gm, gsd, m, sd)
	}
}
