package dialer

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// predictive is a 20-interviewer predictive campaign mid-shift: 30 % of
// dials reach a person after 20 s, calls take 8 min ± 3 min.
func predictive() State {
	busy := make([]time.Duration, 16)
	for i := range busy {
		busy[i] = time.Duration(i) * 40 * time.Second // 0 to 10 min into their calls
	}
	return State{
		Mode: ModePredictive, Cap: 200, TrunkRoom: 200,
		Free: 4, Busy: busy, Headroom: 50,
		Predict: Predict{AnswerRate: 0.3, AnswerWait: 20 * time.Second,
			Handle: Dist{Mean: 8 * time.Minute, SD: 3 * time.Minute}, Target: DefaultAbandonTarget},
	}
}

func TestPlanProgressive(t *testing.T) {
	tests := []struct {
		name                      string
		free, ringing, cap, trunk int
		want                      int
		why                       string
	}{
		{"one line per free interviewer", 5, 0, 100, 100, 5, "interviewers"},
		{"lines ringing hold their interviewers", 5, 3, 100, 100, 2, "interviewers"},
		{"more ringing than free", 2, 5, 100, 100, 0, "interviewers"},
		{"the campaign's cap", 10, 2, 6, 100, 4, "cap"},
		{"the trunk's room", 10, 0, 100, 3, 3, "trunk"},
		{"nobody free", 0, 0, 100, 100, 0, "interviewers"},
		{"negative numbers are none", -3, -1, 100, 100, 0, "interviewers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := Plan(t0, State{Mode: ModeProgressive, Free: tt.free, Ringing: tt.ringing, Cap: tt.cap, TrunkRoom: tt.trunk})
			if st.Calls != tt.want || st.Why != tt.why || st.Mode != ModeProgressive {
				t.Errorf("Plan = %+v, want %d calls (%s)", st, tt.want, tt.why)
			}
		})
	}
}

func TestPlanPreview(t *testing.T) {
	shown := []time.Time{t0, t0.Add(5 * time.Second), t0.Add(20 * time.Second)}
	s := State{Mode: ModePreview, Cap: 10, TrunkRoom: 10, Previews: shown}
	if st := Plan(t0.Add(time.Hour), s); st.Calls != 0 || !st.Next.IsZero() {
		t.Errorf("without auto-dial: %+v", st)
	}
	s.AutoDial = 10 * time.Second
	tests := []struct {
		now  time.Time
		want int
		next time.Time
	}{
		{t0.Add(9 * time.Second), 0, t0.Add(10 * time.Second)},
		{t0.Add(10 * time.Second), 1, t0.Add(15 * time.Second)},
		{t0.Add(15 * time.Second), 2, t0.Add(30 * time.Second)},
		{t0.Add(30 * time.Second), 3, time.Time{}},
	}
	for _, tt := range tests {
		st := Plan(tt.now, s)
		if st.Calls != tt.want || !st.Next.Equal(tt.next) {
			t.Errorf("at +%v: %d calls, next %v; want %d, %v", tt.now.Sub(t0), st.Calls, st.Next, tt.want, tt.next)
		}
	}
	s.TrunkRoom = 1
	if st := Plan(t0.Add(time.Minute), s); st.Calls != 1 || st.Why != "trunk" {
		t.Errorf("auto-dial past the trunk's room: %+v", st)
	}
}

// TestPlanPredictiveZeroHeadroom: with no headroom (a 0 budget) predictive
// pacing is progressive, exactly, over many states.
func TestPlanPredictiveZeroHeadroom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		s := randomState(rng)
		s.Headroom = 0
		st := Plan(t0, s)
		s.Mode = ModeProgressive
		want := Plan(t0, s)
		if st.Calls != want.Calls || st.Mode != ModeProgressive {
			t.Fatalf("%+v: predictive with no headroom placed %d (%s), progressive %d", s, st.Calls, st.Mode, want.Calls)
		}
	}
	// A 0 budget gives no headroom, ever.
	l := ledger(t, LedgerOptions{Budget: 0}, t0, calls(t0, 100000, 0))
	s := predictive()
	s.Headroom = l.Headroom(t0.Add(time.Hour))
	if st := Plan(t0, s); st.Calls != s.Free || st.Why != "headroom" {
		t.Errorf("0 budget: %+v, want %d calls, progressive", st, s.Free)
	}
}

func randomState(rng *rand.Rand) State {
	busy := make([]time.Duration, rng.IntN(40))
	for i := range busy {
		busy[i] = time.Duration(rng.IntN(900)) * time.Second
	}
	return State{
		Mode: ModePredictive, Cap: rng.IntN(120), TrunkRoom: rng.IntN(120),
		Free: rng.IntN(30), Ringing: rng.IntN(30), Busy: busy, Headroom: rng.IntN(40),
		Predict: Predict{AnswerRate: 0.02 + rng.Float64()*0.98, AnswerWait: time.Duration(5+rng.IntN(40)) * time.Second,
			Handle: Dist{Mean: time.Duration(60+rng.IntN(900)) * time.Second, SD: time.Duration(rng.IntN(300)) * time.Second},
			Target: rng.Float64() * 0.03},
	}
}

// TestPlanPredictiveBounds: over many states, predictive pacing never
// exceeds the cap or the trunk, never puts more lines at risk than the
// headroom, and never places fewer than progressive would.
func TestPlanPredictiveBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		s := randomState(rng)
		st := Plan(t0, s)
		if st.Calls < 0 || st.Lines > max(s.Cap, s.Ringing) || st.Calls > s.TrunkRoom {
			t.Fatalf("%+v: %+v exceeds the cap or the trunk", s, st)
		}
		if atRisk := st.Lines - s.Free; st.Calls > 0 && atRisk > s.Headroom {
			t.Fatalf("%+v: %d lines beyond the free interviewers, headroom %d", s, atRisk, s.Headroom)
		}
		p := s
		p.Mode = ModeProgressive
		if prog := Plan(t0, p); st.Calls < prog.Calls {
			t.Fatalf("%+v: predictive %d calls, progressive %d", s, st.Calls, prog.Calls)
		}
	}
}

func TestPlanPredictive(t *testing.T) {
	s := predictive()
	st := Plan(t0, s)
	if st.Mode != ModePredictive || st.Calls <= s.Free {
		t.Fatalf("mid-shift at 30 %% answers: %+v, want more than %d lines", st, s.Free)
	}
	t.Logf("mid-shift: %+v", st)

	// The answer rate drops through the day: the ratio rises.
	prev := st
	for _, rate := range []float64{0.25, 0.2, 0.15, 0.1} {
		s.Predict.AnswerRate = rate
		st := Plan(t0, s)
		if st.Lines <= prev.Lines || st.Ratio <= prev.Ratio {
			t.Errorf("answer rate %g: %d lines (ratio %.2f), at the rate before %d (%.2f)", rate, st.Lines, st.Ratio, prev.Lines, prev.Ratio)
		}
		prev = st
	}

	// Interviewers about to finish draw lines; ones just started do not.
	early, late := predictive(), predictive()
	for i := range early.Busy {
		early.Busy[i] = 10 * time.Second
		late.Busy[i] = 9 * time.Minute
	}
	if a, b := Plan(t0, early), Plan(t0, late); b.Calls <= a.Calls {
		t.Errorf("interviewers 9 min into 8-min calls get %d lines, 10 s in %d", b.Calls, a.Calls)
	}

	// The headroom binds: no more than Free + Headroom lines.
	s = predictive()
	s.Headroom = 2
	if st := Plan(t0, s); st.Lines != s.Free+2 || st.Why != "headroom" {
		t.Errorf("headroom 2: %+v, want %d lines", st, s.Free+2)
	}
	// The cap binds.
	s = predictive()
	s.Cap = 5
	if st := Plan(t0, s); st.Lines != 5 || st.Why != "cap" {
		t.Errorf("cap 5: %+v", st)
	}
	// Lines already ringing count.
	s = predictive()
	all := Plan(t0, s)
	s.Ringing = 3
	if st := Plan(t0, s); st.Lines != all.Lines || st.Calls != all.Calls-3 {
		t.Errorf("3 ringing: %+v, with none %+v", st, all)
	}
	// No statistics yet: progressive.
	s = predictive()
	s.Predict.AnswerRate = 0
	if st := Plan(t0, s); st.Calls != s.Free || st.Mode != ModeProgressive || st.Why != "no statistics" {
		t.Errorf("no answer rate: %+v", st)
	}
	// Everybody answers and nobody is about to finish: nothing beyond
	// the free interviewers.
	s = predictive()
	s.Predict.AnswerRate, s.Busy = 1, nil
	if st := Plan(t0, s); st.Calls != s.Free {
		t.Errorf("answer rate 1: %+v, want %d", st, s.Free)
	}
}

// TestPlanPredictiveAbandonRate simulates the step's own model many times:
// the lines are answered with the answer rate, the busy interviewers finish
// with their probabilities, and the share of answered calls left with
// nobody stays within the target at the step's lines, and would not with
// one line more: the step is the greatest that keeps the target.
func TestPlanPredictiveAbandonRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	simulate := func(s State, lines int) float64 {
		var answered, abandoned int
		for range 40000 {
			x := 0
			for range lines {
				if rng.Float64() < s.Predict.AnswerRate {
					x++
				}
			}
			c := s.Free
			for _, e := range s.Busy {
				if rng.Float64() < s.Predict.Handle.FinishWithin(e, s.Predict.AnswerWait) {
					c++
				}
			}
			answered += x
			abandoned += max(0, x-c)
		}
		return float64(abandoned) / float64(answered)
	}
	for _, rate := range []float64{0.1, 0.3, 0.6} {
		s := predictive()
		s.Predict.AnswerRate, s.Headroom = rate, 1000
		st := Plan(t0, s)
		if st.Why != "target" {
			t.Fatalf("answer rate %g: %+v, want the target to bind", rate, st)
		}
		target := s.Predict.Target
		if got := simulate(s, st.Lines); got > target*1.1 {
			t.Errorf("answer rate %g, %d lines: %.4f abandoned, target %g", rate, st.Lines, got, target)
		}
		if got := simulate(s, st.Lines+1); got < target*0.9 {
			t.Errorf("answer rate %g, %d lines would abandon only %.4f, within the target %g: the step is timid", rate, st.Lines+1, got, target)
		}
	}
}

func TestDistFinishWithin(t *testing.T) {
	d := Dist{Mean: 8 * time.Minute, SD: 3 * time.Minute}
	if s := d.survival(0); s != 1 {
		t.Errorf("S(0) = %g", s)
	}
	// The log-normal's median is below its mean.
	if s := d.survival(8 * time.Minute); s <= 0.2 || s >= 0.5 {
		t.Errorf("S(mean) = %g, want in (0.2, 0.5)", s)
	}
	if a, b := d.FinishWithin(time.Minute, 20*time.Second), d.FinishWithin(8*time.Minute, 20*time.Second); a >= b || a < 0 || b > 1 {
		t.Errorf("finish within 20 s: %g at 1 min, %g at 8 min", a, b)
	}
	fixed := Dist{Mean: time.Minute}
	if q := fixed.FinishWithin(50*time.Second, 20*time.Second); q != 1 {
		t.Errorf("fixed 1 min, 50 s in, within 20 s: %g", q)
	}
	if q := fixed.FinishWithin(10*time.Second, 20*time.Second); q != 0 {
		t.Errorf("fixed 1 min, 10 s in, within 20 s: %g", q)
	}
	if q := fixed.FinishWithin(2*time.Minute, time.Second); q != 0 {
		t.Errorf("overdue: %g, want 0", q)
	}
	if q := (Dist{}).FinishWithin(0, time.Minute); q != 0 || math.IsNaN(q) {
		t.Errorf("no distribution: %g", q)
	}
}

func TestPlanIVR(t *testing.T) {
	base := State{Mode: ModeIVR, Cap: 30, TrunkRoom: 100, Keypad: Keypad{Tokens: 5, NextToken: t0.Add(200 * time.Millisecond)}}
	tests := []struct {
		name string
		edit func(*State)
		want int
		why  string
		next bool
	}{
		{"tokens", func(*State) {}, 5, "tokens", true},
		{"the cap counts connected calls", func(s *State) { s.Ringing, s.Keypad.Connected = 10, 17 }, 3, "cap", false},
		{"the trunk", func(s *State) { s.TrunkRoom = 2 }, 2, "trunk", false},
		{"target reached", func(s *State) { s.Keypad.Target, s.Keypad.Completes = 100, 100 }, 0, "target reached", false},
		{"the last completes", func(s *State) {
			s.Keypad.Target, s.Keypad.Completes, s.Keypad.CompleteRate, s.Ringing = 100, 99, 0.5, 1
		}, 1, "completes", false},
		{"enough calls up for the rest", func(s *State) {
			s.Keypad.Target, s.Keypad.Completes, s.Keypad.CompleteRate, s.Keypad.Connected = 100, 98, 0.5, 4
		}, 0, "completes", false},
		{"a target, the rate unknown", func(s *State) { s.Keypad.Target, s.Keypad.Completes = 100, 99 }, 5, "tokens", true},
		{"no tokens", func(s *State) { s.Keypad.Tokens = 0 }, 0, "tokens", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			tt.edit(&s)
			st := Plan(t0, s)
			if st.Calls != tt.want || st.Why != tt.why || st.Next.IsZero() == tt.next {
				t.Errorf("Plan = %+v, want %d calls (%s), next %v", st, tt.want, tt.why, tt.next)
			}
			if st.Lines > s.Cap {
				t.Errorf("%d lines, cap %d", st.Lines, s.Cap)
			}
		})
	}
}

func TestBucket(t *testing.T) {
	b := NewBucket(10, 5, t0) // 10 calls a second, bursts of 5
	if got := b.Take(t0, 8); got != 5 {
		t.Errorf("a full bucket gave %d of 8, want 5", got)
	}
	if got := b.Available(t0); got != 0 {
		t.Errorf("empty bucket has %d", got)
	}
	if next := b.Next(t0); !next.Equal(t0.Add(100 * time.Millisecond)) {
		t.Errorf("next token at %v, want +100ms", next.Sub(t0))
	}
	if got := b.Available(t0.Add(99 * time.Millisecond)); got != 0 {
		t.Errorf("at +99ms: %d tokens", got)
	}
	if got := b.Take(t0.Add(250*time.Millisecond), 5); got != 2 {
		t.Errorf("at +250ms took %d, want 2", got)
	}
	if got := b.Available(t0.Add(time.Hour)); got != 5 {
		t.Errorf("after an hour: %d, want the burst 5", got)
	}
	// A clock that goes back adds nothing.
	b.Take(t0.Add(time.Hour), 5)
	if got := b.Available(t0); got != 0 {
		t.Errorf("back in time: %d tokens", got)
	}
	// 1000 steps of 1 ms at 10/s: 10 calls a second, not more.
	c, taken := NewBucket(10, 1, t0), 0
	for i := range 1000 {
		taken += c.Take(t0.Add(time.Duration(i)*time.Millisecond), 1)
	}
	if taken != 10 {
		t.Errorf("took %d in a second at 10/s (burst 1), want 10", taken)
	}
	if z := NewBucket(0, 0, t0); z.Take(t0.Add(time.Hour), 1) != 0 || !z.Next(t0).IsZero() {
		t.Error("a 0 bucket gave a token")
	}
}
