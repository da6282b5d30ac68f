package dialer

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // a Monday

// ledger builds a ledger for a test, failing it on error.
func ledger(t testing.TB, o LedgerOptions, start time.Time, events []Event) *Ledger {
	t.Helper()
	l, err := NewLedger(o, start, events)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// calls is n events at the same instant, the first abandoned of them
// abandoned.
func calls(at time.Time, n, abandoned int) []Event {
	var out []Event
	for i := range n {
		out = append(out, Event{At: at, Live: true, Abandoned: i < abandoned})
	}
	return out
}

func TestLedgerHeadroom(t *testing.T) {
	tests := []struct {
		name            string
		budget          float64
		live, abandoned int
		want            int
	}{
		{"no live call yet: none", 0.03, 0, 0, 0},
		{"3 % of 100: 3 more (3/103)", 0.03, 100, 0, 3},
		{"3 of 100 already abandoned", 0.03, 100, 3, 0},
		{"over the budget already", 0.03, 100, 5, 0},
		{"1000 live, 10 abandoned: 20 (30/1020)", 0.03, 1000, 10, 20},
		{"1 % of 1000: 10 (10/1010)", 0.01, 1000, 0, 10},
		{"33 live: 1 would be 1/34 = 2.94 %", 0.03, 33, 0, 1},
		{"32 live: 1 would be 1/33 = 3.03 %", 0.03, 32, 0, 0},
		{"budget 0: never", 0, 1_000_000, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := ledger(t, LedgerOptions{Budget: tt.budget}, t0, calls(t0, tt.live, tt.abandoned))
			now := t0.Add(time.Minute)
			if got := l.Headroom(now); got != tt.want {
				t.Errorf("Headroom = %d, want %d", got, tt.want)
			}
			if !l.Allows(now, tt.want) || l.Allows(now, tt.want+1) {
				t.Errorf("Allows disagrees with a headroom of %d", tt.want)
			}
		})
	}
}

// TestLedgerHeadroomIsTheWorstCase checks the headroom against its
// definition over a grid: the greatest n for which n more abandoned live
// calls keep the rate within the budget.
func TestLedgerHeadroomIsTheWorstCase(t *testing.T) {
	for _, budget := range []float64{0, 0.005, 0.01, 0.025, 0.03} {
		for live := 0; live <= 400; live += 7 {
			for abandoned := 0; abandoned <= live && abandoned <= 15; abandoned += 3 {
				l := ledger(t, LedgerOptions{Budget: budget}, t0, calls(t0, live, abandoned))
				want := 0
				for n := 1; float64(abandoned+n) <= budget*float64(live+n)+1e-9; n++ {
					want = n
				}
				if got := l.Headroom(t0); got != want {
					t.Errorf("budget %g, %d of %d abandoned: headroom %d, want %d", budget, abandoned, live, got, want)
				}
			}
		}
	}
}

func TestLedgerWindowBoundaries(t *testing.T) {
	start := t0
	at := start.Add(10 * time.Hour)
	l := ledger(t, LedgerOptions{Budget: 0.03}, start, []Event{{At: at, Live: true, Abandoned: true}})
	count := func(now time.Time, w Window) int {
		for _, tl := range l.Tallies(now) {
			if tl.Window == w {
				return tl.Abandoned
			}
		}
		t.Fatalf("no %s window", w)
		return 0
	}
	tests := []struct {
		name string
		now  time.Time
		w    Window
		want int
	}{
		{"24h: before the call", at.Add(-time.Nanosecond), Rolling24h, 0},
		{"24h: at the call", at, Rolling24h, 1},
		{"24h: 1 ns short of a day", at.Add(Day - time.Nanosecond), Rolling24h, 1},
		{"24h: exactly a day later it has left", at.Add(Day), Rolling24h, 0},
		{"30d: 1 ns short of 30 days", at.Add(Month - time.Nanosecond), Rolling30d, 1},
		{"30d: exactly 30 days later it has left", at.Add(Month), Rolling30d, 0},
		{"period: the last instant of the first period", start.Add(Month - time.Nanosecond), Period, 1},
		{"period: the second period starts empty", start.Add(Month), Period, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := count(tt.now, tt.w); got != tt.want {
				t.Errorf("%s at %s: %d abandoned, want %d", tt.w, tt.now, got, tt.want)
			}
		})
	}

	// A call at the first instant of a period belongs to it.
	l.Add(Event{At: start.Add(Month), Live: true})
	if got := l.Tallies(start.Add(Month))[2]; got.Live != 1 || !got.From.Equal(start.Add(Month)) {
		t.Errorf("period at its first instant: %+v", got)
	}
	// The instants are UTC: a zone's clock change moves nothing.
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	dst := time.Date(2026, 3, 28, 12, 0, 0, 0, paris) // the day before the spring change
	d := ledger(t, LedgerOptions{Budget: 0.03}, dst, []Event{{At: dst, Live: true}})
	if got := d.Tallies(dst.Add(Day - time.Nanosecond))[0].Live; got != 1 {
		t.Errorf("across the DST change, 1 ns short of 24 h: %d live", got)
	}
	if got := d.Tallies(time.Date(2026, 3, 29, 12, 0, 0, 0, paris))[0].Live; got != 1 {
		t.Errorf("noon to noon across the DST change is 23 h, yet the call has left (%d live)", got)
	}
	if got := d.Tallies(time.Date(2026, 3, 29, 13, 0, 0, 0, paris))[0].Live; got != 0 {
		t.Errorf("noon to 13:00 across the DST change is 24 h, yet the call is still there (%d live)", got)
	}
}

func TestLedgerEvents(t *testing.T) {
	l := ledger(t, LedgerOptions{Budget: 0.03}, t0, []Event{
		{At: t0},                  // nobody answered: not counted
		{At: t0, Abandoned: true}, // an AMD false positive: live and abandoned
		{At: t0, Live: true},
	})
	got := l.Tallies(t0)[0]
	if got.Live != 2 || got.Abandoned != 1 {
		t.Errorf("tally %+v, want 2 live, 1 abandoned", got)
	}
	if r := got.Rate(); !r.Defined || r.Value != 0.5 {
		t.Errorf("rate %v, want 0.5", r)
	}
	if r := (Tally{}).Rate(); r.Defined {
		t.Errorf("rate of no live call is %v, want undefined", r)
	}
	if got := l.Tallies(t0.Add(-time.Hour))[2]; got.Live != 0 {
		t.Errorf("before the campaign started: %+v", got)
	}
}

// TestLedgerLookAhead: calls about to leave a rolling window give no room,
// since the rate would rise when they leave.
func TestLedgerLookAhead(t *testing.T) {
	events := calls(t0, 1000, 0)
	now := t0.Add(23*time.Hour + 30*time.Minute)
	if got := ledger(t, LedgerOptions{Budget: 0.03}, t0, events).Headroom(now); got != 30 {
		t.Errorf("without look-ahead: headroom %d, want 30", got)
	}
	if got := ledger(t, LedgerOptions{Budget: 0.03, LookAhead: time.Hour}, t0, events).Headroom(now); got != 0 {
		t.Errorf("with an hour's look-ahead, the 1000 calls leave in 30 min: headroom %d, want 0", got)
	}
	// Calls that stay give room again.
	l := ledger(t, LedgerOptions{Budget: 0.03, LookAhead: time.Hour}, t0, append(events, calls(t0.Add(2*time.Hour), 100, 0)...))
	if got := l.Headroom(now); got != 3 {
		t.Errorf("100 calls that stay: headroom %d, want 3", got)
	}
	// Abandoned calls count until they leave, whatever the look-ahead;
	// as live calls they are as good as gone.
	l.Add(Event{At: t0.Add(time.Minute), Live: true, Abandoned: true})
	if got := l.Headroom(now); got != 2 {
		t.Errorf("1 abandoned still in the window: headroom %d, want 2 (3 of 102; 4 of 103 is 3.9 %%)", got)
	}

	// The last look-ahead of a TSR period: none, since calls answered
	// after its end start the next period.
	long := ledger(t, LedgerOptions{Budget: 0.03, LookAhead: time.Hour}, t0, nil)
	for d := 0; d < 30; d++ {
		long.Add(Event{At: t0.Add(time.Duration(d)*Day + 10*time.Hour), Live: true}) // keep the rolling windows fed
	}
	long.Add(Event{At: t0.Add(Month - 2*time.Hour)})
	for _, e := range calls(t0.Add(Month-2*time.Hour), 1000, 0) {
		long.Add(e)
	}
	if got := long.Headroom(t0.Add(Month - 90*time.Minute)); got == 0 {
		t.Errorf("90 min before the period ends: no headroom")
	}
	if got := long.Headroom(t0.Add(Month - 30*time.Minute)); got != 0 {
		t.Errorf("30 min before the period ends: headroom %d, want 0", got)
	}
	if got := long.Headroom(t0.Add(Month + time.Minute)); got != 0 {
		t.Errorf("the new period has no live call: headroom %d, want 0", got)
	}
}

func TestLedgerOptions(t *testing.T) {
	if err := DefaultLedgerOptions().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for _, o := range []LedgerOptions{{Budget: 0}, {Budget: 0.01, LookAhead: 23 * time.Hour}} {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	for _, o := range []LedgerOptions{{Budget: -0.01}, {Budget: 0.031}, {Budget: 3}, {Budget: nan()}, {LookAhead: -1}, {LookAhead: Day}} {
		if err := o.Validate(); err == nil {
			t.Errorf("%+v: valid", o)
		}
		if _, err := NewLedger(o, t0, nil); err == nil {
			t.Errorf("NewLedger(%+v) accepted", o)
		}
	}
	if _, err := NewLedger(DefaultLedgerOptions(), time.Time{}, nil); err == nil {
		t.Error("NewLedger without a campaign start accepted")
	}
}

func TestMayRedial(t *testing.T) {
	last := t0
	tests := []struct {
		name     string
		last     time.Time
		now      time.Time
		reserved bool
		want     bool
	}{
		{"never abandoned", time.Time{}, t0, false, true},
		{"an hour later", last, last.Add(time.Hour), false, false},
		{"1 ns short of 72 h", last, last.Add(72*time.Hour - time.Nanosecond), false, false},
		{"exactly 72 h later", last, last.Add(72 * time.Hour), false, true},
		{"an interviewer reserved", last, last.Add(time.Minute), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, after := MayRedial(tt.last, tt.now, tt.reserved)
			if ok != tt.want {
				t.Errorf("MayRedial = %v, want %v", ok, tt.want)
			}
			if !tt.last.IsZero() && !after.Equal(tt.last.Add(72*time.Hour)) {
				t.Errorf("may redial from %s, want 72 h after %s", after, tt.last)
			}
		})
	}
}

func nan() float64 { return math.NaN() }

// naive counts the events in a window by scanning them all.
func naive(events []Event, start, now time.Time) []Tally {
	var out []Tally
	in := func(w Window, from time.Time, closed bool) Tally {
		tl := Tally{Window: w, From: from, To: now}
		for _, e := range events {
			if !e.Live && !e.Abandoned || e.At.After(now) || e.At.Before(from) || !closed && e.At.Equal(from) {
				continue
			}
			tl.Live++
			if e.Abandoned {
				tl.Abandoned++
			}
		}
		return tl
	}
	out = append(out, in(Rolling24h, now.Add(-Day), false), in(Rolling30d, now.Add(-Month), false))
	p := start
	for !now.Before(p.Add(Month)) {
		p = p.Add(Month)
	}
	return append(out, in(Period, p, true))
}

// TestLedgerIncremental: a ledger fed one event at a time, some late,
// across two months (pruning included), agrees with one rebuilt from the
// same events and with a full scan, at every step.
func TestLedgerIncremental(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	inc := ledger(t, DefaultLedgerOptions(), t0, nil)
	var events []Event
	now := t0
	for i := range 6000 {
		now = now.Add(time.Duration(rng.IntN(int(30 * time.Minute))))
		e := Event{At: now, Live: rng.IntN(3) > 0, Abandoned: rng.IntN(40) == 0}
		if rng.IntN(10) == 0 {
			e.At = now.Add(-time.Duration(rng.IntN(int(time.Hour)))) // late
		}
		events = append(events, e)
		inc.Add(e)
		if i%97 != 0 {
			continue
		}
		q := now.Add(time.Duration(rng.IntN(int(time.Hour))) - 30*time.Minute)
		want := naive(events, t0, q)
		if diff := cmp.Diff(want, inc.Tallies(q)); diff != "" {
			t.Fatalf("event %d, at %s (-scan +ledger):\n%s", i, q, diff)
		}
		rebuilt := ledger(t, DefaultLedgerOptions(), t0, events)
		if a, b := inc.Headroom(q), rebuilt.Headroom(q); a != b {
			t.Fatalf("event %d: headroom %d incrementally, %d rebuilt", i, a, b)
		}
	}
	if len(inc.events) >= len(events) {
		t.Errorf("nothing pruned: %d events kept of %d", len(inc.events), len(events))
	}
}

func FuzzLedger(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Fuzz(func(t *testing.T, data []byte) {
		l := ledger(t, LedgerOptions{Budget: 0.02, LookAhead: time.Minute}, t0, nil)
		var events []Event
		for len(data) >= 3 {
			off := time.Duration(binary.BigEndian.Uint16(data)) * time.Minute // up to 45 days
			events = append(events, Event{At: t0.Add(off), Live: data[2]&1 == 1, Abandoned: data[2]&2 == 2})
			l.Add(events[len(events)-1])
			data = data[3:]
		}
		latest := t0
		for _, e := range events {
			if e.At.After(latest) {
				latest = e.At
			}
		}
		// Queries may lag the latest event by a day (Ledger).
		for _, q := range []time.Duration{-Day, 0, time.Hour, Day, 20 * Day, Month} {
			now := latest.Add(q)
			if diff := cmp.Diff(naive(events, t0, now), l.Tallies(now)); diff != "" {
				t.Fatalf("at +%v (-scan +ledger):\n%s", q, diff)
			}
			h := l.Headroom(now)
			for _, tl := range l.Tallies(now) {
				if h > 0 && float64(tl.Abandoned+h) > 0.02*float64(tl.Live+h)+1e-9 {
					t.Fatalf("at +%v: headroom %d crosses the budget in %+v", q, h, tl)
				}
			}
		}
	})
}
