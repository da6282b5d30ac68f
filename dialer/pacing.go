package dialer

// This file is the pacing: how many new calls a campaign places at one
// step, from plain numbers (free interviewers, lines ringing, answer rate,
// handle times, the ledger's headroom, tokens). Plan is a pure function:
// the runner gathers the State, places Step.Calls calls and plans again on
// the next event or at Step.Next. The modes:
//
//   - preview: the interviewer dials; an optional auto-dial after N s;
//   - progressive: one line per free interviewer;
//   - predictive: more lines than free interviewers, as many as the
//     answer rate and the interviewers about to finish allow at the
//     target abandonment rate, never more than the ledger's headroom
//     could absorb if every extra line were answered and abandoned;
//   - IVR (keypad): no interviewers, a calls-per-second token bucket and
//     a concurrency cap, until a target of completes.

import (
	"math"
	"time"
)

// Mode is how a campaign paces its calls.
type Mode string

// Modes.
const (
	ModePreview     Mode = "preview"
	ModeProgressive Mode = "progressive"
	ModePredictive  Mode = "predictive"
	ModeIVR         Mode = "ivr"
)

// DefaultAbandonTarget is the abandoned share of live calls predictive
// pacing aims at by default: a third of the 3 % budget, so the ledger's
// headroom, the hard limit, is rarely what stops it.
const DefaultAbandonTarget = 0.01

// Dist is a duration distribution given by its mean and standard
// deviation; Plan reads it as a log-normal (positive, right-skewed, as
// talk and handle times are), or as a fixed duration when SD is 0.
type Dist struct {
	Mean, SD time.Duration
}

// survival is P(T > t).
func (d Dist) survival(t time.Duration) float64 {
	if d.Mean <= 0 {
		return 0
	}
	if t <= 0 {
		return 1
	}
	if d.SD <= 0 {
		if t < d.Mean {
			return 1
		}
		return 0
	}
	m, s := float64(d.Mean), float64(d.SD)
	sigma2 := math.Log1p(s * s / (m * m))
	mu := math.Log(m) - sigma2/2
	z := (math.Log(float64(t)) - mu) / math.Sqrt(sigma2)
	return 0.5 * math.Erfc(z/math.Sqrt2)
}

// FinishWithin is the probability that an interviewer busy for elapsed,
// with handle times distributed as d, is free within h: P(T ≤ e+h | T > e).
// One already past every likely handle time counts as 0, not 1: the pacer
// does not dial for an interviewer it cannot expect.
func (d Dist) FinishWithin(elapsed, h time.Duration) float64 {
	s := d.survival(elapsed)
	if s < 1e-9 {
		return 0
	}
	return math.Max(0, math.Min(1, (s-d.survival(elapsed+h))/s))
}

// Predict is what predictive pacing knows of the campaign's recent calls.
type Predict struct {
	// AnswerRate is the share of dials that reach someone needing an
	// interviewer: a person, and a machine too when the AMD policy passes
	// machines to interviewers. Outside (0, 1] predictive pacing falls
	// back to progressive (no statistics yet).
	AnswerRate float64
	// AnswerWait is the mean time from a dial to such an answer: the
	// horizon within which busy interviewers must finish to take it.
	AnswerWait time.Duration
	// Handle is the time from a connect until the interviewer is free
	// again (talk and wrap-up).
	Handle Dist
	// Target is the expected abandoned share of live calls to aim at, in
	// [0, 1); DefaultAbandonTarget is a good start.
	Target float64
}

// Keypad is what IVR pacing knows.
type Keypad struct {
	Connected int // calls answered and still running the questionnaire
	// Tokens are the calls the calls-per-second buckets (the campaign's
	// and the trunk's, Bucket) allow now; NextToken is when the next one
	// comes.
	Tokens    int
	NextToken time.Time
	// Completes is the campaign's completes so far, Target the completes it
	// wants (0: no target); CompleteRate is completes per dial (0:
	// unknown, then only the target itself stops dialing).
	Completes, Target int
	CompleteRate      float64
}

// State is what the pacer knows at one step, as plain numbers.
type State struct {
	Mode Mode
	// Ringing is the campaign's lines placed and not yet answered or
	// failed (ringing, or in AMD).
	Ringing int
	// Cap is the most lines the campaign may have up at once: ringing in
	// the interviewer modes, ringing and connected in IVR.
	Cap int
	// TrunkRoom is how many more calls the trunk can take now (its channel
	// limit less the calls of every campaign on it).
	TrunkRoom int

	// Free is the interviewers idle and waiting for a call; a ringing
	// line does not take one until it is answered.
	Free int
	// Busy is, for each interviewer on a call or in wrap-up, the time since
	// the call connected.
	Busy []time.Duration

	// Previews are when each preview now on a desk was shown, not yet
	// dialed; AutoDial dials one that long after (0: never).
	Previews []time.Time
	AutoDial time.Duration

	Predict Predict
	// Headroom is the ledger's (Ledger.Headroom): how many lines may be
	// placed that could be answered with no interviewer free.
	Headroom int

	Keypad Keypad
}

// Step is what Plan decided.
type Step struct {
	// Calls is how many new calls to place now (preview: how many of the
	// oldest previews to dial).
	Calls int
	// Mode is the mode that decided: ModeProgressive when predictive fell
	// back to it.
	Mode Mode
	// Lines is the lines up after the step (Ringing + Calls; IVR adds the
	// connected calls).
	Lines int
	// Ratio is the lines ringing per interviewer expected free to take
	// them (free, plus those expected to finish within the answer wait);
	// 0 with none, and in IVR.
	Ratio float64
	// Why names what limited Calls: "cap", "trunk", "headroom", "target",
	// "interviewers", "no statistics", "step" (maxStep), "tokens",
	// "completes", "preview", "target reached", "mode" (an unknown mode
	// places nothing).
	Why string
	// Next is when to plan again at the latest, with nothing else
	// happening: the next auto-dial or token; zero means on the next event.
	Next time.Time
}

// Plan decides how many new calls the campaign places at now.
func Plan(now time.Time, s State) Step {
	s.Ringing, s.Free, s.Cap, s.TrunkRoom, s.Headroom = max(s.Ringing, 0), max(s.Free, 0), max(s.Cap, 0), max(s.TrunkRoom, 0), max(s.Headroom, 0)
	switch s.Mode {
	case ModePreview:
		return planPreview(now, s)
	case ModeProgressive:
		return planProgressive(s, ModeProgressive, "interviewers")
	case ModePredictive:
		return planPredictive(s)
	case ModeIVR:
		return planIVR(s)
	}
	return Step{Mode: s.Mode, Lines: s.Ringing, Why: "mode"}
}

// limit caps a wish of new lines by the campaign's cap (counting up lines)
// and the trunk's room, and says which bound.
func limit(want, up int, s State, why string) (int, string) {
	n := max(want, 0)
	if room := max(s.Cap-up, 0); n > room {
		n, why = room, "cap"
	}
	if n > s.TrunkRoom {
		n, why = s.TrunkRoom, "trunk"
	}
	return n, why
}

func planPreview(now time.Time, s State) Step {
	st := Step{Mode: ModePreview, Why: "preview"}
	if s.AutoDial > 0 {
		due := 0
		for _, shown := range s.Previews {
			at := shown.Add(s.AutoDial)
			if !at.After(now) {
				due++
			} else if st.Next.IsZero() || at.Before(st.Next) {
				st.Next = at
			}
		}
		st.Calls, st.Why = limit(due, s.Ringing, s, "preview")
	}
	st.Lines = s.Ringing + st.Calls
	return st
}

func planProgressive(s State, mode Mode, why string) Step {
	n, why := limit(s.Free-s.Ringing, s.Ringing, s, why)
	st := Step{Calls: n, Mode: mode, Lines: s.Ringing + n, Why: why}
	if s.Free > 0 {
		st.Ratio = float64(st.Lines) / float64(s.Free)
	}
	return st
}

// maxStep bounds the lines one predictive step adds beyond progressive's,
// and so its work (quadratic in the lines).
const maxStep = 1000

// planPredictive places the most lines N (ringing ones included) such that
//
//	E[(X − C)⁺] ≤ ρ · E[X]
//
// where X ~ Binomial(N, p) is the number of lines answered (p the answer
// rate), C = F + K the interviewers there to take them (F free now, K the
// busy ones that finish within the answer wait, each with its own
// probability from the handle-time distribution, a Poisson-binomial), and ρ
// the target abandonment rate: the expected calls answered with nobody to
// take them stay below ρ of those answered. It is the Erlang-style
// condition with the agents' departures in place of a Poisson stream, and
// it never asks fewer lines than progressive (with N ≤ F nothing can be
// abandoned).
//
// On top of it the hard limit: the lines beyond the free interviewers, N −
// F, are the ones that could be answered with nobody free; the worst case,
// all of them answered and abandoned, must fit the ledger's headroom. With
// no headroom (a 0 budget, or a window near its budget) the step is exactly
// progressive, decided before the budget could be crossed.
func planPredictive(s State) Step {
	p := s.Predict
	if !(p.AnswerRate > 0 && p.AnswerRate <= 1) || p.Handle.Mean <= 0 || math.IsNaN(p.Target) {
		return planProgressive(s, ModeProgressive, "no statistics")
	}
	if s.Headroom == 0 {
		return planProgressive(s, ModeProgressive, "headroom")
	}
	// K's distribution: the busy interviewers each finish within the
	// answer wait with their own probability.
	k := []float64{1}
	finishing := 0.0
	for _, e := range s.Busy {
		q := p.Handle.FinishWithin(e, p.AnswerWait)
		finishing += q
		next := make([]float64, len(k)+1)
		for i, v := range k {
			next[i] += v * (1 - q)
			next[i+1] += v * q
		}
		k = next
	}
	// X's distribution grows one line at a time: pmf[x] = P(X = x).
	pmf := []float64{1}
	grow := func() {
		next := make([]float64, len(pmf)+1)
		for i, v := range pmf {
			next[i] += v * (1 - p.AnswerRate)
			next[i+1] += v * p.AnswerRate
		}
		pmf = next
	}
	// excess is E[(X − C)⁺] for the current pmf.
	excess := func() float64 {
		n := len(pmf) - 1
		// over[c] = E[(X − c)⁺] for c in [0, n]; 0 beyond.
		over := make([]float64, n+1)
		tail, sum := 0.0, 0.0 // P(X > c), E[(X − c)⁺]
		for c := n - 1; c >= 0; c-- {
			tail += pmf[c+1]
			sum += tail
			over[c] = sum
		}
		e := 0.0
		for j, pk := range k {
			if c := s.Free + j; c <= n {
				e += pk * over[c]
			}
		}
		return e
	}
	// Lines beyond the cap or the trunk's room cannot be placed anyway.
	upper, bound := s.Cap, "cap"
	if t := s.Ringing + s.TrunkRoom; t < upper {
		upper, bound = t, "trunk"
	}
	if t := max(s.Free, s.Ringing) + maxStep; t < upper {
		upper, bound = t, "step"
	}
	lines, why := 0, "target"
	for n := 1; ; n++ {
		grow()
		if n <= s.Free || n <= s.Ringing {
			lines = n // progressive's, or already up
			continue
		}
		if n > upper {
			why = bound
			break
		}
		if n-s.Free > s.Headroom {
			why = "headroom"
			break
		}
		if excess() > p.Target*float64(n)*p.AnswerRate {
			break
		}
		lines = n
	}
	calls, lwhy := limit(lines-s.Ringing, s.Ringing, s, why)
	st := Step{Calls: calls, Mode: ModePredictive, Lines: s.Ringing + calls, Why: lwhy}
	if avail := float64(s.Free) + finishing; avail > 0 {
		st.Ratio = float64(st.Lines) / avail
	}
	return st
}

func planIVR(s State) Step {
	kp := s.Keypad
	up := s.Ringing + max(kp.Connected, 0)
	st := Step{Mode: ModeIVR, Lines: up}
	if kp.Target > 0 && kp.Completes >= kp.Target {
		st.Why = "target reached"
		return st
	}
	want, why := max(kp.Tokens, 0), "tokens"
	if kp.Target > 0 && kp.CompleteRate > 0 && kp.CompleteRate <= 1 {
		// Dials still needed for the remaining completes, less those
		// already up, which are expected to complete at the same rate.
		needed := int(math.Ceil(float64(kp.Target-kp.Completes)/kp.CompleteRate)) - up
		if needed < want {
			want, why = max(needed, 0), "completes"
		}
	}
	st.Calls, st.Why = limit(want, up, s, why)
	st.Lines += st.Calls
	if st.Why == "tokens" && st.Calls == kp.Tokens {
		st.Next = kp.NextToken
	}
	return st
}

// Bucket is a calls-per-second token bucket: NewBucket's rate tokens a
// second, up to its burst, full at the start. Times are passed in; one that goes back adds
// nothing. It is not safe for concurrent use.
type Bucket struct {
	rate   float64
	burst  int
	tokens float64
	at     time.Time
}

// NewBucket returns a full bucket at now.
func NewBucket(rate float64, burst int, now time.Time) *Bucket {
	if math.IsNaN(rate) || rate < 0 {
		rate = 0
	}
	burst = max(burst, 0)
	return &Bucket{rate: rate, burst: burst, tokens: float64(burst), at: now}
}

// refill adds the tokens earned since the last call.
func (b *Bucket) refill(now time.Time) {
	if now.After(b.at) {
		b.tokens = math.Min(float64(b.burst), b.tokens+b.rate*now.Sub(b.at).Seconds())
		b.at = now
	}
}

// Available is how many whole tokens there are at now.
func (b *Bucket) Available(now time.Time) int {
	b.refill(now)
	return int(b.tokens + 1e-9)
}

// Take takes up to n tokens at now and returns how many it took.
func (b *Bucket) Take(now time.Time, n int) int {
	n = min(max(n, 0), b.Available(now))
	b.tokens = math.Max(0, b.tokens-float64(n))
	return n
}

// Next is when the next whole token is there: now when one is; zero when
// none ever comes (a 0 rate or burst).
func (b *Bucket) Next(now time.Time) time.Time {
	if b.Available(now) > 0 {
		return now
	}
	if b.rate == 0 || b.burst == 0 {
		return time.Time{}
	}
	wait := (1 - b.tokens) / b.rate
	return b.at.Add(time.Duration(math.Ceil(wait * float64(time.Second))))
}
