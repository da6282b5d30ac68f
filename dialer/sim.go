package dialer

// This file is the simulator (`canvass dialer simulate`): a campaign of
// interviewers on shifts calling a national sample, driven by a fake clock
// (a queue of events, no sleeping, no goroutines) through the real rules of
// this package and of survey: Plan paces the lines, the Ledger holds the
// abandonment budget (Headroom, feeding it every answered call), MayRedial
// keeps an abandoned number alone 72 h, survey.Windows decides who may be
// called. A simulated carrier answers with the model's shares and times.
//
// What the run measures is checked apart from what the dialer chose: every
// dial is tested again against the respondent's local calling hours (with
// its own clock arithmetic, not survey.Windows) and against the time its
// number went on the do-not-call list, and the abandonment rate is computed
// from the recorded answered calls over every rolling 24 h and 30 d window.

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/canvass/canvass/survey"
)

// SimZone is one time zone of the simulated sample and its share of it.
type SimZone struct {
	Name  string  // IANA name, e.g. America/Chicago
	Share float64 // relative weight; the shares need not sum to 1
}

// SimShift is an interviewer shift, in the call centre's local time, every
// day: From and To are minutes after local midnight.
type SimShift struct{ From, To int }

// SimOptions are a simulated campaign's figures. DefaultSimOptions gives
// a typical national research campaign.
type SimOptions struct {
	Mode         Mode // ModeProgressive or ModePredictive
	Days         int
	Interviewers int
	Seed         uint64
	Start        time.Time // its date is the first day, from midnight in Centre's zone

	Zones  []SimZone
	Open   int    // calling window, minutes after the respondent's local midnight
	Close  int    // end of the window (exclusive)
	Centre string // the call centre's zone: the shifts are in it
	Shifts []SimShift

	// Shares of dials by what happens; the rest is no answer.
	Person, Machine, Busy, NotWorking float64
	// AMDFalsePositive is the share of persons AMD takes for a machine
	// and hangs up on: abandoned calls, as regulators count them.
	AMDFalsePositive float64

	AnswerMin, AnswerMax time.Duration // a person or machine answers after Uniform(min, max)
	RingMin, RingMax     time.Duration // an unanswered call rings Uniform(min, max)
	FailMin, FailMax     time.Duration // busy or not working is known after Uniform(min, max)
	Interview            Dist          // talk time of a connected person (log-normal)
	WrapUp               Dist          // after-call work (log-normal)

	Budget      float64       // the ledger's budget
	Target      float64       // predictive pacing's target abandoned share
	MaxAttempts int           // dials per number before it is left
	RetryDelay  time.Duration // before a number not reached is tried again
	DNCStart    float64       // share of numbers on the DNC list from the start
	DNCAdded    float64       // share of numbers added to it while the campaign runs
}

// DefaultSimOptions are the README's defaults.
func DefaultSimOptions() SimOptions {
	return SimOptions{
		Mode: ModePredictive, Days: 30, Interviewers: 20, Seed: 1,
		Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), // spans the US DST change of 8 March
		Zones: []SimZone{
			{"America/New_York", 0.46}, {"America/Chicago", 0.29}, {"America/Denver", 0.05},
			{"America/Phoenix", 0.02}, {"America/Los_Angeles", 0.16}, {"America/Anchorage", 0.01},
			{"Pacific/Honolulu", 0.01},
		},
		Open: 9 * 60, Close: 21 * 60,
		Centre: "America/Chicago",
		Shifts: []SimShift{{8 * 60, 16 * 60}, {14 * 60, 22 * 60}},
		Person: 0.30, Machine: 0.15, Busy: 0.05, NotWorking: 0.10,
		AnswerMin: 4 * time.Second, AnswerMax: 20 * time.Second,
		RingMin: 15 * time.Second, RingMax: 30 * time.Second,
		FailMin: 2 * time.Second, FailMax: 6 * time.Second,
		Interview:   Dist{Mean: 8 * time.Minute, SD: 3 * time.Minute},
		WrapUp:      Dist{Mean: 30 * time.Second, SD: 10 * time.Second},
		Budget:      DefaultBudget,
		Target:      DefaultAbandonTarget,
		MaxAttempts: 8,
		RetryDelay:  3 * time.Hour,
		DNCStart:    0.02,
		DNCAdded:    0.01,
	}
}

// Validate returns every problem of o at once.
func (o SimOptions) Validate() error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf(f, a...)) }
	if o.Mode != ModeProgressive && o.Mode != ModePredictive {
		bad("mode: %q: progressive or predictive", o.Mode)
	}
	if o.Days < 1 || o.Days > 3660 {
		bad("days: %d: 1 to 3660", o.Days)
	}
	if o.Interviewers < 1 || o.Interviewers > 5000 {
		bad("interviewers: %d: 1 to 5000", o.Interviewers)
	}
	if len(o.Zones) == 0 {
		bad("zones: none")
	}
	for _, z := range o.Zones {
		if _, err := survey.Location(z.Name); err != nil || z.Name == "" {
			bad("zone %q: not a known time zone", z.Name)
		}
		if !(z.Share > 0) {
			bad("zone %q: share %g must be above 0", z.Name, z.Share)
		}
	}
	if _, err := survey.Location(o.Centre); err != nil {
		bad("centre: %v", err)
	}
	if o.Open < 0 || o.Close > 24*60 || o.Open >= o.Close {
		bad("window: %d–%d minutes: opens before it closes, within the day", o.Open, o.Close)
	}
	if len(o.Shifts) == 0 {
		bad("shifts: none")
	}
	for _, s := range o.Shifts {
		if s.From < 0 || s.To > 24*60 || s.From >= s.To {
			bad("shift %d–%d minutes: starts before it ends, within the day", s.From, s.To)
		}
	}
	for name, v := range map[string]float64{"person": o.Person, "machine": o.Machine, "busy": o.Busy, "not-working": o.NotWorking, "amd-false-positive": o.AMDFalsePositive, "dnc-start": o.DNCStart, "dnc-added": o.DNCAdded} {
		if math.IsNaN(v) || v < 0 || v > 1 {
			bad("%s: %g: a share in [0, 1]", name, v)
		}
	}
	if s := o.Person + o.Machine + o.Busy + o.NotWorking; s > 1+1e-9 {
		bad("person + machine + busy + not-working = %g: more than 1", s)
	}
	for name, r := range map[string][2]time.Duration{"answer": {o.AnswerMin, o.AnswerMax}, "ring": {o.RingMin, o.RingMax}, "fail": {o.FailMin, o.FailMax}} {
		if r[0] <= 0 || r[1] < r[0] {
			bad("%s: %v–%v: above 0, min ≤ max", name, r[0], r[1])
		}
	}
	if o.RingMin < 15*time.Second {
		bad("ring-min: %v: unanswered calls ring at least 15s", o.RingMin)
	}
	if o.Interview.Mean <= 0 || o.Interview.SD < 0 || o.WrapUp.Mean < 0 || o.WrapUp.SD < 0 {
		bad("interview and wrap-up: positive means, SDs ≥ 0")
	}
	if err := (LedgerOptions{Budget: o.Budget, LookAhead: DefaultLookAhead}).Validate(); err != nil {
		errs = append(errs, err)
	}
	if math.IsNaN(o.Target) || o.Target < 0 || o.Target >= 1 {
		bad("target: %g: in [0, 1)", o.Target)
	}
	if o.MaxAttempts < 1 || o.RetryDelay <= 0 {
		bad("max attempts ≥ 1 and retry delay > 0")
	}
	return errors.Join(errs...)
}

// SimDial is one recorded dial.
type SimDial struct {
	At     time.Time
	Number int // the simulated number (case)
	Zone   int // index into SimOptions.Zones
}

// SimDay is one day of a run, from its start.
type SimDay struct {
	Talk, LoggedIn   time.Duration
	Live, Abandoned  int
	Dials, Completes int
}

// Utilisation is the day's talk time over logged-in time.
func (d SimDay) Utilisation() float64 { return ratio(d.Talk.Seconds(), d.LoggedIn.Seconds()) }

// AbandonRate is the day's abandoned share of live calls.
func (d SimDay) AbandonRate() float64 { return ratio(float64(d.Abandoned), float64(d.Live)) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// SimResult is what a run measured.
type SimResult struct {
	Mode               Mode
	Dials              int
	DialsOutsideWindow int // checked apart from the dialer's choice
	DialsToDNC         int // dials at or after the number's DNC time
	RedialsWithin72h   int // dials within 72 h of the number's abandoned call
	Live, Abandoned    int // calls a person answered; of them, abandoned
	Machines           int
	Completes          int // interviews done
	AbandonRateMax24h  float64
	AbandonRateMax30d  float64
	Talk, LoggedIn     time.Duration
	PredictiveSteps    int // plans decided by predictive pacing (the rest fell back)
	Days               []SimDay

	Calls      []SimDial   // every dial, in time order
	DNCAt      []time.Time // per number: when it went on the DNC list (zero: never)
	Answered   []Event     // every call a person answered, for the ledger
	Start, End time.Time   // the campaign's first and last instants
}

// Utilisation is talk time over logged-in time.
func (r *SimResult) Utilisation() float64 { return ratio(r.Talk.Seconds(), r.LoggedIn.Seconds()) }

// AbandonRate is abandoned over live calls over the whole run.
func (r *SimResult) AbandonRate() float64 { return ratio(float64(r.Abandoned), float64(r.Live)) }

// The simulator's events.
type simKind int

const (
	evTick     simKind = iota // re-plan: windows open, retries fall due
	evShiftOn                 // an interviewer logs in
	evShiftOff                // an interviewer's shift ends
	evResolve                 // a dial is answered or fails
	evAbandon                 // a person has waited AbandonAfter
	evTalkEnd                 // an interview ends, wrap-up starts
	evFree                    // wrap-up ends
	evDNC                     // a number goes on the DNC list
)

type simEvent struct {
	at   int64 // UnixNano
	seq  int64 // ties in order of scheduling
	kind simKind
	who  int // interviewer, call or number
}

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	return q[i].at < q[j].at || q[i].at == q[j].at && q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// dueQueue holds numbers waiting for a retry, soonest first.
type dueQueue []simDue
type simDue struct {
	at     int64
	number int
}

func (q dueQueue) Len() int           { return len(q) }
func (q dueQueue) Less(i, j int) bool { return q[i].at < q[j].at }
func (q dueQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *dueQueue) Push(x any)        { *q = append(*q, x.(simDue)) }
func (q *dueQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type simNumber struct {
	zone      int
	attempts  int
	dnc       int64 // UnixNano it went on the list; 0: not on it
	abandoned int64 // last abandoned call; 0: none
	done      bool
}

type simAgent struct {
	in, leaving bool
	busy        bool  // on a call or in wrap-up
	since       int64 // connect time when busy; login time when not
	loginAt     int64
}

type outcome int

const (
	outNoAnswer outcome = iota
	outPerson
	outMachine
	outBusy
	outNotWorking
)

type simCall struct {
	number   int
	dialed   int64
	answered int64
	out      outcome
	waiting  bool
}

// sim is one run's state.
type sim struct {
	o       SimOptions
	rng     *rand.Rand
	locs    []*time.Location
	centre  *time.Location
	windows survey.Windows
	cum     []float64 // zones' cumulative shares
	ledger  *Ledger
	start   int64
	end     int64
	now     int64
	seq     int64

	q       simQueue
	agents  []simAgent
	calls   []simCall
	waiting []int // calls answered, waiting for an interviewer, oldest first
	ringing int
	numbers []simNumber
	fresh   []int      // per zone: numbers drawn so far (the sample never runs dry)
	due     []dueQueue // per zone
	rot     int

	// recent statistics for predictive pacing
	answered   stat // 1 for a dial a person answered, else 0
	answerWait stat
	handles    stat
	abandons   []simDue // every abandoned call by number, for the 72 h check

	res SimResult
}

// stat keeps the mean and SD of the last statWindow values, with running
// sums (recomputed exactly once per lap, so rounding cannot drift).
type stat struct {
	vals    []float64
	next    int
	sum, sq float64
}

const statWindow = 1000

func (s *stat) add(v float64) {
	if len(s.vals) < statWindow {
		s.vals = append(s.vals, v)
		s.sum += v
		s.sq += v * v
		return
	}
	old := s.vals[s.next]
	s.vals[s.next] = v
	s.sum += v - old
	s.sq += v*v - old*old
	s.next = (s.next + 1) % statWindow
	if s.next == 0 {
		s.sum, s.sq = 0, 0
		for _, x := range s.vals {
			s.sum += x
			s.sq += x * x
		}
	}
}

func (s *stat) meanSD() (float64, float64) {
	if len(s.vals) == 0 {
		return 0, 0
	}
	n := float64(len(s.vals))
	m := s.sum / n
	return m, math.Sqrt(math.Max(0, s.sq/n-m*m))
}

// Simulate runs one campaign.
func Simulate(o SimOptions) (*SimResult, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	s := &sim{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x5eed))}
	s.centre, _ = survey.Location(o.Centre)
	total := 0.0
	for _, z := range o.Zones {
		loc, _ := survey.Location(z.Name)
		s.locs = append(s.locs, loc)
		total += z.Share
		s.cum = append(s.cum, total)
	}
	for d := range 7 {
		s.windows = append(s.windows, survey.Window{Dow: d, Opens: o.Open, Closes: o.Close})
	}
	y, m, d := o.Start.Date()
	first := time.Date(y, m, d, 0, 0, 0, 0, s.centre)
	s.start, s.end = first.UnixNano(), first.AddDate(0, 0, o.Days).UnixNano()
	s.ledger, _ = NewLedger(LedgerOptions{Budget: o.Budget, LookAhead: DefaultLookAhead}, first, nil)
	s.fresh = make([]int, len(o.Zones))
	s.due = make([]dueQueue, len(o.Zones))
	s.res = SimResult{Mode: o.Mode, Days: make([]SimDay, o.Days), Start: first, End: first.AddDate(0, 0, o.Days)}
	s.agents = make([]simAgent, o.Interviewers)

	// Shifts by the centre's local clock, so they follow its DST changes.
	for day := range o.Days {
		date := first.AddDate(0, 0, day)
		for i := range s.agents {
			sh := o.Shifts[i%len(o.Shifts)]
			on := time.Date(date.Year(), date.Month(), date.Day(), sh.From/60, sh.From%60, 0, 0, s.centre)
			off := time.Date(date.Year(), date.Month(), date.Day(), sh.To/60, sh.To%60, 0, 0, s.centre)
			s.push(on.UnixNano(), evShiftOn, i)
			s.push(off.UnixNano(), evShiftOff, i)
		}
	}
	for t := s.start; t < s.end; t += int64(time.Minute) {
		s.push(t, evTick, 0)
	}
	s.run()
	s.measure()
	return &s.res, nil
}

func (s *sim) push(at int64, k simKind, who int) {
	s.seq++
	heap.Push(&s.q, simEvent{at: at, seq: s.seq, kind: k, who: who})
}

func (s *sim) uniform(a, b time.Duration) int64 {
	return int64(a) + int64(s.rng.Float64()*float64(b-a))
}

// lognormal draws from d (fixed when its SD is 0).
func (s *sim) lognormal(d Dist) int64 {
	if d.SD <= 0 {
		return int64(d.Mean)
	}
	m, sd := float64(d.Mean), float64(d.SD)
	sigma2 := math.Log1p(sd * sd / (m * m))
	mu := math.Log(m) - sigma2/2
	return int64(math.Exp(mu + math.Sqrt(sigma2)*s.rng.NormFloat64()))
}

func (s *sim) run() {
	for s.q.Len() > 0 {
		e := heap.Pop(&s.q).(simEvent)
		s.now = e.at
		s.handle(e)
		// Plan once the instant's events are all in.
		if s.q.Len() == 0 || s.q[0].at != s.now {
			s.step()
		}
	}
}

func (s *sim) day(t int64) *SimDay {
	d := int((t - s.start) / int64(Day))
	d = min(max(d, 0), len(s.res.Days)-1)
	return &s.res.Days[d]
}

func (s *sim) handle(e simEvent) {
	switch e.kind {
	case evTick:
	case evShiftOn:
		a := &s.agents[e.who]
		if !a.in {
			*a = simAgent{in: true, since: s.now, loginAt: s.now}
		}
		a.leaving = false
		s.serveWaiting()
	case evShiftOff:
		s.agents[e.who].leaving = true
	case evResolve:
		s.resolve(e.who)
	case evAbandon:
		c := &s.calls[e.who]
		if c.waiting {
			c.waiting = false
			for i, w := range s.waiting {
				if w == e.who {
					s.waiting = append(s.waiting[:i], s.waiting[i+1:]...)
					break
				}
			}
			s.abandon(e.who, c.answered)
		}
	case evTalkEnd:
		a := &s.agents[e.who]
		s.res.Completes++
		s.day(s.now).Completes++
		wrap := max(s.lognormal(s.o.WrapUp), 0)
		s.recordTalk(a.since)
		s.push(s.now+wrap, evFree, e.who)
	case evFree:
		a := &s.agents[e.who]
		a.busy = false
		s.recordHandle(e.who)
		a.since = s.now
		s.serveWaiting()
	case evDNC:
		if n := &s.numbers[e.who]; n.dnc == 0 {
			n.dnc = s.now
		}
	}
	s.logouts()
}

// recordTalk records the talk time of the interview that connected at since.
func (s *sim) recordTalk(since int64) {
	talk := time.Duration(s.now - since)
	s.res.Talk += talk
	s.day(since).Talk += talk
}

// recordHandle records the handle time (talk and wrap-up) for pacing.
func (s *sim) recordHandle(agent int) {
	s.handles.add(float64(s.now - s.agents[agent].since))
}

// logouts lets leaving interviewers go when idle and not needed for a line
// already ringing for them.
func (s *sim) logouts() {
	free := 0
	for i := range s.agents {
		if a := &s.agents[i]; a.in && !a.busy {
			free++
		}
	}
	for i := range s.agents {
		a := &s.agents[i]
		if a.in && a.leaving && !a.busy && free > s.ringing && len(s.waiting) == 0 {
			a.in = false
			free--
			s.logIn(a.loginAt, s.now)
		}
	}
}

// logIn adds logged-in time, split by day.
func (s *sim) logIn(from, to int64) {
	for from < to {
		d := int((from - s.start) / int64(Day))
		end := min(to, s.start+int64(d+1)*int64(Day))
		s.day(from).LoggedIn += time.Duration(end - from)
		from = end
	}
}

// step plans and places the calls.
func (s *sim) step() {
	if s.now >= s.end {
		return
	}
	// A person waiting for an interviewer is as much at risk as a line
	// ringing: both count as lines up.
	st := State{Mode: s.o.Mode, Ringing: s.ringing + len(s.waiting), Cap: 1 << 20, TrunkRoom: 1 << 20}
	for i := range s.agents {
		a := &s.agents[i]
		switch {
		case !a.in:
		case a.busy:
			st.Busy = append(st.Busy, time.Duration(s.now-a.since))
		case !a.leaving:
			st.Free++
		}
	}
	if st.Free <= 0 && len(st.Busy) == 0 {
		return
	}
	if s.o.Mode == ModePredictive {
		hm, hsd := s.handles.meanSD()
		wm, _ := s.answerWait.meanSD()
		am, _ := s.answered.meanSD()
		st.Predict = Predict{
			AnswerRate: am,
			AnswerWait: time.Duration(wm),
			Handle:     Dist{Mean: time.Duration(hm), SD: time.Duration(hsd)},
			Target:     s.o.Target,
		}
		if len(s.answered.vals) < 100 {
			st.Predict.AnswerRate = 0 // too few dials to know
		}
		st.Headroom = s.ledger.Headroom(time.Unix(0, s.now))
	}
	plan := Plan(time.Unix(0, s.now), st)
	if plan.Mode == ModePredictive {
		s.res.PredictiveSteps++
	}
	for range plan.Calls {
		n, ok := s.pick()
		if !ok {
			return
		}
		s.dial(n)
	}
}

// callable is the dialer's own rule for a number now: in its window, not
// on the DNC list, not abandoned within 72 h, attempts left.
func (s *sim) callable(n int) bool {
	c := &s.numbers[n]
	if c.done || c.dnc != 0 || c.attempts >= s.o.MaxAttempts {
		return false
	}
	if c.abandoned != 0 {
		if ok, _ := MayRedial(time.Unix(0, c.abandoned), time.Unix(0, s.now), false); !ok {
			return false
		}
	}
	return true
}

// pick chooses the next number: a retry due in a zone inside its window,
// else a fresh number from such a zone by the zones' shares.
func (s *sim) pick() (int, bool) {
	now := time.Unix(0, s.now)
	open := make([]bool, len(s.locs))
	anyOpen := false
	for z, loc := range s.locs {
		open[z] = s.windows.Contains(now, loc)
		anyOpen = anyOpen || open[z]
	}
	if !anyOpen {
		return 0, false
	}
	for k := range s.locs {
		z := (s.rot + k) % len(s.locs)
		if !open[z] {
			continue
		}
		q := &s.due[z]
		for q.Len() > 0 && (*q)[0].at <= s.now {
			d := heap.Pop(q).(simDue)
			if s.callable(d.number) {
				s.rot = z + 1
				return d.number, true
			}
			if c := &s.numbers[d.number]; c.abandoned != 0 && !c.done && c.dnc == 0 && c.attempts < s.o.MaxAttempts {
				heap.Push(q, simDue{at: c.abandoned + int64(RedialAfterAbandon), number: d.number})
			}
		}
	}
	// A fresh number from an open zone, by share.
	total := 0.0
	for z := range s.locs {
		if open[z] {
			total += s.o.Zones[z].Share
		}
	}
	for range 10000 { // only a sample nearly all on the DNC list runs out
		r := s.rng.Float64() * total
		z := 0
		for ; z < len(s.locs); z++ {
			if !open[z] {
				continue
			}
			if r < s.o.Zones[z].Share {
				break
			}
			r -= s.o.Zones[z].Share
		}
		z = min(z, len(s.locs)-1)
		for !open[z] {
			z = (z + 1) % len(s.locs)
		}
		n := len(s.numbers)
		num := simNumber{zone: z}
		if s.rng.Float64() < s.o.DNCStart {
			num.dnc = s.start
		}
		s.numbers = append(s.numbers, num)
		if s.rng.Float64() < s.o.DNCAdded/max(1-s.o.DNCStart, 1e-9) && num.dnc == 0 {
			// Added to the list at some time while the campaign runs,
			// maybe before its first dial, maybe between attempts.
			s.push(s.now+int64(s.rng.Float64()*float64(s.end-s.now)), evDNC, n)
		}
		s.fresh[z]++
		if s.callable(n) {
			return n, true
		}
	}
	return 0, false
}

func (s *sim) dial(n int) {
	c := &s.numbers[n]
	c.attempts++
	s.res.Calls = append(s.res.Calls, SimDial{At: time.Unix(0, s.now), Number: n, Zone: c.zone})
	s.res.Dials++
	s.day(s.now).Dials++
	call := simCall{number: n, dialed: s.now}
	r := s.rng.Float64()
	var after int64
	switch o := s.o; {
	case r < o.Person:
		call.out, after = outPerson, s.uniform(o.AnswerMin, o.AnswerMax)
	case r < o.Person+o.Machine:
		call.out, after = outMachine, s.uniform(o.AnswerMin, o.AnswerMax)
	case r < o.Person+o.Machine+o.Busy:
		call.out, after = outBusy, s.uniform(o.FailMin, o.FailMax)
	case r < o.Person+o.Machine+o.Busy+o.NotWorking:
		call.out, after = outNotWorking, s.uniform(o.FailMin, o.FailMax)
	default:
		call.out, after = outNoAnswer, s.uniform(o.RingMin, o.RingMax)
	}
	s.calls = append(s.calls, call)
	s.ringing++
	s.push(s.now+after, evResolve, len(s.calls)-1)
}

func (s *sim) seen(person bool) {
	if person {
		s.answered.add(1)
	} else {
		s.answered.add(0)
	}
}

func (s *sim) resolve(id int) {
	c := &s.calls[id]
	s.ringing--
	n := &s.numbers[c.number]
	retry := func(delay int64) {
		if n.attempts >= s.o.MaxAttempts {
			n.done = true
			return
		}
		at := s.now + delay
		if n.abandoned != 0 {
			at = max(at, n.abandoned+int64(RedialAfterAbandon))
		}
		heap.Push(&s.due[n.zone], simDue{at: at, number: c.number})
	}
	person := c.out == outPerson && s.rng.Float64() >= s.o.AMDFalsePositive
	s.seen(person)
	switch c.out {
	case outPerson:
		c.answered = s.now
		s.answerWait.add(float64(s.now - c.dialed))
		if !person { // AMD hung up on a person
			s.abandon(id, s.now)
			return
		}
		if a := s.freeAgent(); a >= 0 {
			s.connect(id, a)
			return
		}
		c.waiting = true
		s.waiting = append(s.waiting, id)
		s.push(s.now+int64(AbandonAfter), evAbandon, id)
	case outMachine:
		s.res.Machines++
		retry(int64(s.o.RetryDelay))
	case outNotWorking:
		n.done = true
	default:
		retry(int64(s.o.RetryDelay))
	}
}

func (s *sim) freeAgent() int {
	best := -1
	for i := range s.agents {
		a := &s.agents[i]
		if a.in && !a.busy && (best < 0 || a.since < s.agents[best].since) {
			best = i // the longest idle first
		}
	}
	return best
}

func (s *sim) serveWaiting() {
	for len(s.waiting) > 0 {
		a := s.freeAgent()
		if a < 0 {
			return
		}
		id := s.waiting[0]
		s.waiting = s.waiting[1:]
		s.calls[id].waiting = false
		s.connect(id, a)
	}
}

func (s *sim) connect(id, agent int) {
	c := &s.calls[id]
	s.record(c.answered, false)
	a := &s.agents[agent]
	a.busy, a.since = true, s.now
	s.numbers[c.number].done = true
	s.push(s.now+max(s.lognormal(s.o.Interview), int64(time.Second)), evTalkEnd, agent)
}

func (s *sim) abandon(id int, answered int64) {
	c := &s.calls[id]
	s.record(answered, true)
	n := &s.numbers[c.number]
	n.abandoned = s.now
	s.abandons = append(s.abandons, simDue{at: s.now, number: c.number})
	if n.attempts >= s.o.MaxAttempts {
		n.done = true
		return
	}
	heap.Push(&s.due[n.zone], simDue{at: s.now + int64(RedialAfterAbandon), number: c.number})
}

func (s *sim) record(answered int64, abandoned bool) {
	e := Event{At: time.Unix(0, answered), Live: true, Abandoned: abandoned}
	s.ledger.Add(e)
	s.res.Answered = append(s.res.Answered, e)
	s.res.Live++
	d := s.day(answered)
	d.Live++
	if abandoned {
		s.res.Abandoned++
		d.Abandoned++
	}
}

// measure logs everyone out and checks the run apart from the dialer.
func (s *sim) measure() {
	for i := range s.agents {
		if a := &s.agents[i]; a.in {
			s.logIn(a.loginAt, s.now)
		}
	}
	for _, d := range s.res.Days {
		s.res.LoggedIn += d.LoggedIn
	}
	dnc := make([]int64, len(s.numbers))
	s.res.DNCAt = make([]time.Time, len(s.numbers))
	for i, n := range s.numbers {
		dnc[i] = n.dnc
		if n.dnc != 0 {
			s.res.DNCAt[i] = time.Unix(0, n.dnc)
		}
	}
	s.res.DialsOutsideWindow = OutsideWindow(s.res.Calls, s.locs, s.o.Open, s.o.Close)
	abandoned := map[int][]int64{}
	for _, a := range s.abandons {
		abandoned[a.number] = append(abandoned[a.number], a.at)
	}
	for _, c := range s.res.Calls {
		t := c.At.UnixNano()
		if d := dnc[c.Number]; d != 0 && t >= d {
			s.res.DialsToDNC++
		}
		for _, a := range abandoned[c.Number] {
			if a < t && t < a+int64(RedialAfterAbandon) {
				s.res.RedialsWithin72h++
				break
			}
		}
	}
	s.res.AbandonRateMax24h = MaxAbandonRate(s.res.Answered, Day, s.res.End)
	s.res.AbandonRateMax30d = MaxAbandonRate(s.res.Answered, Month, s.res.End)
}

// OutsideWindow counts the dials made outside [open, close) minutes of
// their zone's local day, by its own arithmetic on the zone's UTC offset at
// the dial (not survey.Windows, which the dialer used to choose).
func OutsideWindow(calls []SimDial, locs []*time.Location, open, close int) int {
	bad := 0
	for _, c := range calls {
		_, offset := c.At.In(locs[c.Zone]).Zone()
		secs := (c.At.Unix() + int64(offset)) % 86400
		if secs < 0 {
			secs += 86400
		}
		if m := int(secs / 60); m < open || m >= close {
			bad++
		}
	}
	return bad
}

// MaxAbandonRate is the greatest abandoned share of live calls over any
// window (t−w, t] holding at least one live call, for t up to until, the
// campaign's end (after it, a window would hold only its last calls, with
// no later ones the pacer could count on). The rate only rises when an
// abandoned call comes in or a call leaves the window, so the windows
// ending at each call and just before each call's leaving are enough.
func MaxAbandonRate(events []Event, w time.Duration, until time.Time) float64 {
	at := make([]int64, 0, len(events))
	ab := make([]int64, 0, len(events))
	sorted := make([]Event, 0, len(events))
	for _, e := range events {
		if e.Live || e.Abandoned {
			sorted = append(sorted, e)
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].At.Before(sorted[j].At) })
	var cum int64
	for _, e := range sorted {
		at = append(at, e.At.UnixNano())
		if e.Abandoned {
			cum++
		}
		ab = append(ab, cum)
	}
	count := func(t int64) (live, abandoned int64) { // in (t−w, t]
		hi := sort.Search(len(at), func(k int) bool { return at[k] > t })
		lo := sort.Search(len(at), func(k int) bool { return at[k] > t-int64(w) })
		if hi == 0 {
			return 0, 0
		}
		a := ab[hi-1]
		if lo > 0 {
			a -= ab[lo-1]
		}
		return int64(hi - lo), a
	}
	best := 0.0
	for _, t := range at {
		for _, end := range []int64{t, min(t+int64(w)-1, until.UnixNano())} {
			if l, a := count(end); l > 0 {
				best = math.Max(best, float64(a)/float64(l))
			}
		}
	}
	return best
}
