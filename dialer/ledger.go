package dialer

// This file is the abandonment ledger: per campaign, the calls a person
// answered and those of them abandoned (nobody at a desk within 2 s, or an
// answering-machine verdict that hung up on a person), their rate over a
// rolling 24 h (UK Ofcom) and 30 days and over TSR's successive 30-day
// periods of the campaign (US 16 CFR 310.4(b)(4)(i)), the headroom a
// predictive step may use without the worst case crossing the budget, and
// the 72 h rule for a number that got an abandoned call.

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/canvass/canvass/survey"
)

// Budget limits and defaults.
const (
	// MaxBudget is the law's ceiling in the UK and the US (3 % of live
	// calls); a campaign may set a lower budget, down to 0.
	MaxBudget = survey.DefaultAbandonBudget
	// DefaultBudget is the budget of a campaign that sets none.
	DefaultBudget = MaxBudget
	// DefaultLookAhead is how far ahead the headroom looks (LedgerOptions).
	DefaultLookAhead = time.Hour
	// RedialAfterAbandon is how long a number that got an abandoned call
	// is left alone (Ofcom), unless an interviewer is reserved for it.
	RedialAfterAbandon = survey.RestAfterAbandon
	// AbandonAfter is how long a person who answered may wait for an
	// interviewer before the call counts as abandoned.
	AbandonAfter = survey.AbandonAfter
)

// The ledger's windows.
const (
	Day    = 24 * time.Hour      // Ofcom's rolling window
	Month  = 30 * 24 * time.Hour // TSR's period, and the rolling 30 days
	perMil = 1_000_000           // budgets are held in parts per million
)

// Event is one call a person answered: the ledger's unit. A stored attempt
// gives one.
type Event struct {
	At time.Time // when the person answered
	// Live: a person answered (an answering machine did not). An event
	// with neither Live nor Abandoned is ignored, so every attempt may be
	// passed.
	Live bool
	// Abandoned: nobody reached the person within AbandonAfter, or AMD
	// took them for a machine and hung up; it implies Live.
	Abandoned bool
}

// LedgerOptions set a campaign's ledger.
type LedgerOptions struct {
	// Budget is the greatest share of live calls that may be abandoned, in
	// [0, MaxBudget]; 0 allows none, and predictive pacing never runs.
	Budget float64
	// LookAhead: the headroom keeps the budget in every rolling window
	// until now+LookAhead even if no other call is answered meanwhile, so
	// that old calls leaving a window cannot push its rate over the budget
	// before the pacer has had the live calls to make up for them (the
	// pacer re-checks at every step). It also keeps predictive calls out
	// of the last LookAhead of a TSR period, which the next one would
	// start with. 0 checks only the windows ending now.
	LookAhead time.Duration
}

// DefaultLedgerOptions are the options of a campaign that sets none.
func DefaultLedgerOptions() LedgerOptions {
	return LedgerOptions{Budget: DefaultBudget, LookAhead: DefaultLookAhead}
}

// Validate returns every problem of o at once.
func (o LedgerOptions) Validate() error {
	var errs []error
	if math.IsNaN(o.Budget) || o.Budget < 0 || o.Budget > MaxBudget {
		errs = append(errs, fmt.Errorf("budget: %g: the abandoned share of live calls must be between 0 and %g (3 %%)", o.Budget, MaxBudget))
	}
	if o.LookAhead < 0 || o.LookAhead >= Day {
		errs = append(errs, fmt.Errorf("look_ahead: %v: must be at least 0 and less than 24h", o.LookAhead))
	}
	return errors.Join(errs...)
}

// Ledger is a campaign's abandonment ledger. Events are kept in time order
// with running totals, so any window's counts take two binary searches; an
// event in order is O(1) amortised (one arriving late shifts those after
// it), and events older than the windows need are dropped in batches, so
// a query's now may lag the latest event by a day at most. It is not safe
// for concurrent use.
type Ledger struct {
	ppm       int64 // the budget, parts per million
	lookAhead time.Duration
	start     int64 // the campaign's start, UnixNano: TSR periods count from it

	events []entry // by time, with running totals
	base   tally   // totals of the events dropped before events[0]
}

// entry is one event with the totals up to and including it.
type entry struct {
	at  int64 // UnixNano
	sum tally
}

type tally struct{ live, abandoned int64 }

// NewLedger rebuilds a campaign's ledger from its stored events, in any
// order. start is the campaign's start (its first dial): TSR's 30-day
// periods count from it.
func NewLedger(o LedgerOptions, start time.Time, events []Event) (*Ledger, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if start.IsZero() {
		return nil, fmt.Errorf("abandonment ledger: no campaign start")
	}
	l := &Ledger{
		ppm:       int64(math.Round(o.Budget * perMil)),
		lookAhead: o.LookAhead,
		start:     start.UnixNano(),
	}
	sorted := slices.Clone(events)
	slices.SortStableFunc(sorted, func(a, b Event) int { return a.At.Compare(b.At) })
	for _, e := range sorted {
		l.Add(e)
	}
	return l, nil
}

// Add records one answered call.
func (l *Ledger) Add(e Event) {
	if !e.Live && !e.Abandoned {
		return
	}
	at := e.At.UnixNano()
	one := tally{live: 1}
	if e.Abandoned {
		one.abandoned = 1
	}
	// After every event at the same instant or earlier.
	i := len(l.events)
	if i > 0 && l.events[i-1].at > at {
		i = sort.Search(len(l.events), func(k int) bool { return l.events[k].at > at })
	}
	prev := l.sumAt(i)
	l.events = slices.Insert(l.events, i, entry{at: at, sum: prev.plus(one)})
	for k := i + 1; k < len(l.events); k++ {
		l.events[k].sum = l.events[k].sum.plus(one)
	}
	l.prune()
}

// prune drops, in batches, events too old for any window: those more than
// Month + Day before the latest (the margin lets a query's now lag the
// latest event by a day).
func (l *Ledger) prune() {
	if len(l.events) < 1024 {
		return
	}
	cutoff := l.events[len(l.events)-1].at - int64(Month+Day)
	n := sort.Search(len(l.events), func(k int) bool { return l.events[k].at > cutoff })
	if n < len(l.events)/2 {
		return
	}
	l.base = l.events[n-1].sum
	l.events = slices.Clone(l.events[n:])
}

// sumAt is the totals of the first k kept events (and those dropped).
func (l *Ledger) sumAt(k int) tally {
	if k == 0 {
		return l.base
	}
	return l.events[k-1].sum
}

// upTo is the totals of the events at or before t (UnixNano).
func (l *Ledger) upTo(t int64) tally {
	return l.sumAt(sort.Search(len(l.events), func(k int) bool { return l.events[k].at > t }))
}

// before is the totals of the events strictly before t.
func (l *Ledger) before(t int64) tally {
	return l.sumAt(sort.Search(len(l.events), func(k int) bool { return l.events[k].at >= t }))
}

func (a tally) plus(b tally) tally  { return tally{a.live + b.live, a.abandoned + b.abandoned} }
func (a tally) minus(b tally) tally { return tally{a.live - b.live, a.abandoned - b.abandoned} }

// Window names a ledger window.
type Window string

// Windows.
const (
	Rolling24h Window = "24h"    // (now−24 h, now]: Ofcom
	Rolling30d Window = "30d"    // (now−30 d, now]
	Period     Window = "period" // TSR: the current 30-day period of the campaign, from its start
)

// Tally is a window's counts.
type Tally struct {
	Window    Window
	From, To  time.Time // the events counted are in (From, To]; [From, To] for Period
	Live      int       // calls a person answered
	Abandoned int       // of them, abandoned
}

// Rate is Abandoned / Live, undefined with no live call.
func (t Tally) Rate() survey.Rate {
	if t.Live == 0 {
		return survey.Rate{}
	}
	return survey.Rate{Value: float64(t.Abandoned) / float64(t.Live), Defined: true}
}

// periodStart is the start of the TSR period holding t (UnixNano): the
// campaign's start plus whole 30-day periods. Before the start it is the
// start.
func (l *Ledger) periodStart(t int64) int64 {
	if t < l.start {
		return l.start
	}
	return l.start + (t-l.start)/int64(Month)*int64(Month)
}

// period is the totals in [p, n]: none before the campaign starts.
func (l *Ledger) period(n, p int64) tally {
	if n < p {
		return tally{}
	}
	return l.upTo(n).minus(l.before(p))
}

// Tallies are the three windows' counts at now.
func (l *Ledger) Tallies(now time.Time) []Tally {
	n := now.UnixNano()
	end := l.upTo(n)
	rolling := func(w Window, d time.Duration) Tally {
		c := end.minus(l.upTo(n - int64(d)))
		return Tally{Window: w, From: now.Add(-d), To: now, Live: int(c.live), Abandoned: int(c.abandoned)}
	}
	p := l.periodStart(n)
	pc := l.period(n, p)
	return []Tally{
		rolling(Rolling24h, Day),
		rolling(Rolling30d, Month),
		{Window: Period, From: time.Unix(0, p).UTC(), To: now, Live: int(pc.live), Abandoned: int(pc.abandoned)},
	}
}

// Headroom is how many more calls may be placed at now that could all be
// answered by a person and abandoned without the abandoned share of live
// calls crossing the budget in any window: the rolling 24 h and 30 days
// (until now+LookAhead, counting the abandoned calls there now over the
// live calls that will still be there then), and the current TSR period
// (0 when the next period starts within LookAhead: it starts with no live
// call to spread an abandon over). Each of n such calls adds one live and
// one abandoned call, so with A abandoned of L live and a budget b,
// (A+n)/(L+n) ≤ b gives n ≤ (bL − A)/(1 − b), rounded down, never below 0.
// A budget of 0 leaves no headroom ever.
func (l *Ledger) Headroom(now time.Time) int {
	n := now.UnixNano()
	end := l.upTo(n)
	h := int64(l.lookAhead)
	room := int64(math.MaxInt32)
	for _, w := range []int64{int64(Day), int64(Month)} {
		abandoned := end.abandoned - l.upTo(n-w).abandoned
		live := end.live - l.upTo(n-w+h).live
		room = min(room, l.room(live, abandoned))
	}
	p := l.periodStart(n)
	if n+h >= p+int64(Month) {
		return 0
	}
	pc := l.period(n, p)
	room = min(room, l.room(pc.live, pc.abandoned))
	return int(room)
}

// room solves (A+n)/(L+n) ≤ b for the greatest whole n ≥ 0, in parts per
// million so that 3 % of 100 calls is exactly 3.
func (l *Ledger) room(live, abandoned int64) int64 {
	num := l.ppm*live - perMil*abandoned
	if num <= 0 {
		return 0
	}
	return num / (perMil - l.ppm)
}

// Allows reports whether a step may place calls at now that could all be
// answered and abandoned (those without a free interviewer waiting for
// them): whether the worst case keeps every window within the budget.
func (l *Ledger) Allows(now time.Time, calls int) bool {
	return calls <= 0 || calls <= l.Headroom(now)
}

// MayRedial is the 72 h rule: a number whose last abandoned call was at
// last may be called at now only RedialAfterAbandon later, unless an
// interviewer is reserved for the call (preview or progressive dialing, or
// an appointment). It returns when the number may be called without one; a
// zero last is a number never abandoned.
func MayRedial(last, now time.Time, reserved bool) (bool, time.Time) {
	if last.IsZero() {
		return true, time.Time{}
	}
	after := last.Add(RedialAfterAbandon)
	return reserved || !now.Before(after), after
}
