package ivr_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/canvass/canvass/ivr"
)

// phone is a Media whose prompts each last promptLen and whose caller
// presses keys at given times after the test starts. Time is synctest's.
type phone struct {
	promptLen time.Duration
	keys      chan ivr.Key
	done      chan struct{}
	hangOnce  sync.Once

	mu      sync.Mutex
	played  []string // prompt ids, in order
	stopped []string // prompt ids cut short
	rec     *tape
}

func newPhone(promptLen time.Duration) *phone {
	return &phone{promptLen: promptLen, keys: make(chan ivr.Key, 64), done: make(chan struct{})}
}

type playback struct {
	done chan error
	stop chan struct{}
	once sync.Once
}

func (p *playback) Done() <-chan error { return p.done }
func (p *playback) Stop()              { p.once.Do(func() { close(p.stop) }) }

func (ph *phone) Play(ctx context.Context, p ivr.Prompt) (ivr.Playback, error) {
	ph.mu.Lock()
	ph.played = append(ph.played, p.ID)
	ph.mu.Unlock()
	pb := &playback{done: make(chan error, 1), stop: make(chan struct{})}
	go func() {
		t := time.NewTimer(ph.promptLen)
		defer t.Stop()
		select {
		case <-t.C:
			pb.done <- nil
		case <-pb.stop:
			ph.mu.Lock()
			ph.stopped = append(ph.stopped, p.ID)
			ph.mu.Unlock()
			pb.done <- nil
		case <-ph.done:
			pb.done <- ivr.ErrHangup
		}
		close(pb.done)
	}()
	return pb, nil
}

func (ph *phone) Keys() <-chan ivr.Key  { return ph.keys }
func (ph *phone) Done() <-chan struct{} { return ph.done }
func (ph *phone) Hangup(ctx context.Context) error {
	ph.hangOnce.Do(func() { close(ph.done) })
	return nil
}

type tape struct {
	name    string
	started time.Time
}

func (ph *phone) StartRecording(ctx context.Context, name string) (ivr.Recorder, error) {
	ph.rec = &tape{name: name, started: time.Now()}
	return ph.rec, nil
}

func (t *tape) Stop(ctx context.Context) (ivr.Recording, error) {
	return ivr.Recording{Name: t.name, Duration: time.Since(t.started)}, nil
}

// press schedules keys: each at its offset from now.
func (ph *phone) press(presses ...press) {
	for _, p := range presses {
		go func() {
			time.Sleep(p.at)
			ph.keys <- ivr.Key{Digit: p.key, At: time.Now()}
		}()
	}
}

type press struct {
	at  time.Duration
	key rune
}

var nps = ivr.GatherSpec{MinDigits: 1, MaxDigits: 2, InitialTimeout: 5 * time.Second,
	InterDigitTimeout: 1500 * time.Millisecond, BargeIn: true}

func TestGather(t *testing.T) {
	const promptLen = 4 * time.Second
	tests := []struct {
		name    string
		spec    ivr.GatherSpec
		presses []press
		digits  string
		repeat  bool
		bargeIn bool
		took    time.Duration // from the prompt start to the end of the gather
	}{
		{"silence is a no-input after prompt + initial timeout", nps, nil, "", false, false, promptLen + 5*time.Second},
		{"one digit, then the inter-digit timeout", nps, []press{{5 * time.Second, '1'}}, "1", false, false, 6500 * time.Millisecond},
		{"1 then 0 within 1.5 s is 10", nps, []press{{5 * time.Second, '1'}, {6 * time.Second, '0'}}, "10", false, false, 6 * time.Second},
		{"1 then 0 after 1.5 s is 1 (0 is type-ahead)", nps, []press{{5 * time.Second, '1'}, {7 * time.Second, '0'}}, "1", false, false, 6500 * time.Millisecond},
		{"# ends the entry at once", nps, []press{{5 * time.Second, '7'}, {5100 * time.Millisecond, '#'}}, "7", false, false, 5100 * time.Millisecond},
		{"* asks for a repeat", nps, []press{{5 * time.Second, '*'}}, "", true, false, 5 * time.Second},
		{"barge-in stops the prompt", nps, []press{{time.Second, '9'}}, "9", false, true, 2500 * time.Millisecond},
		{"without barge-in the prompt plays on; the timer starts after it",
			ivr.GatherSpec{MinDigits: 1, MaxDigits: 2, InitialTimeout: 5 * time.Second, InterDigitTimeout: 1500 * time.Millisecond},
			[]press{{time.Second, '9'}}, "9", false, false, promptLen + 1500*time.Millisecond},
		{"max digits ends the entry", ivr.GatherSpec{MinDigits: 1, MaxDigits: 1, InitialTimeout: 5 * time.Second, InterDigitTimeout: 2 * time.Second, BargeIn: true},
			[]press{{5 * time.Second, '4'}}, "4", false, false, 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ph := newPhone(promptLen)
				ch := ivr.NewCall(ph, nil)
				start := time.Now()
				ph.press(tc.presses...)
				in, err := ch.Ask(t.Context(), tc.spec, ivr.Prompt{ID: "q"})
				if err != nil {
					t.Fatal(err)
				}
				if in.Digits != tc.digits || in.Repeat != tc.repeat || in.BargeIn != tc.bargeIn {
					t.Errorf("got %+v, want digits %q repeat %v barge-in %v", in, tc.digits, tc.repeat, tc.bargeIn)
				}
				if took := time.Since(start); took != tc.took {
					t.Errorf("gather took %v, want %v", took, tc.took)
				}
				if len(tc.presses) > 0 && in.FirstKey != tc.presses[0].at {
					t.Errorf("first key latency %v, want %v", in.FirstKey, tc.presses[0].at)
				}
				time.Sleep(time.Minute) // let later key presses land before the bubble ends
			})
		})
	}
}

func TestTypeAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ph := newPhone(3 * time.Second)
		ch := ivr.NewCall(ph, nil)
		// During the first question the caller types 8, # and then 5 for
		// the next question before it is even asked.
		ph.press(press{time.Second, '8'}, press{1100 * time.Millisecond, '#'}, press{1200 * time.Millisecond, '5'})
		first, err := ch.Ask(t.Context(), nps, ivr.Prompt{ID: "nps"})
		if err != nil || first.Digits != "8" {
			t.Fatalf("first: %+v %v", first, err)
		}
		synctest.Wait() // the 5 has arrived
		if err := ch.Say(t.Context(), ivr.Prompt{ID: "statement"}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		csat := ivr.GatherSpec{MinDigits: 1, MaxDigits: 1, InitialTimeout: 5 * time.Second, InterDigitTimeout: 2 * time.Second, BargeIn: true}
		second, err := ch.Ask(t.Context(), csat, ivr.Prompt{ID: "csat"})
		if err != nil || second.Digits != "5" || !second.BargeIn {
			t.Fatalf("second: %+v %v", second, err)
		}
		if took := time.Since(start); took != 0 {
			t.Errorf("a type-ahead entry must end the gather at once, took %v", took)
		}
		synctest.Wait() // the stopped playback goroutines have finished
		ph.mu.Lock()
		defer ph.mu.Unlock()
		if got := ph.stopped; len(got) != 2 || got[0] != "nps" || got[1] != "csat" {
			t.Errorf("stopped prompts %v", got)
		}
	})
}

func TestBargeInSkipsRemainingPrompts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ph := newPhone(2 * time.Second)
		ch := ivr.NewCall(ph, nil)
		ph.press(press{3 * time.Second, '2'}) // during the second of three prompts
		menu := ivr.GatherSpec{MinDigits: 1, MaxDigits: 1, InitialTimeout: 5 * time.Second, InterDigitTimeout: 2 * time.Second, BargeIn: true}
		in, err := ch.Ask(t.Context(), menu, ivr.Prompt{ID: "en"}, ivr.Prompt{ID: "fr"}, ivr.Prompt{ID: "es"})
		if err != nil || in.Digits != "2" {
			t.Fatalf("%+v %v", in, err)
		}
		synctest.Wait()
		ph.mu.Lock()
		defer ph.mu.Unlock()
		if len(ph.played) != 2 {
			t.Errorf("played %v; the third prompt must not start", ph.played)
		}
	})
}

func TestHangupDuringGather(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ph := newPhone(2 * time.Second)
		ch := ivr.NewCall(ph, nil)
		go func() {
			time.Sleep(3 * time.Second)
			ph.Hangup(context.Background())
		}()
		if _, err := ch.Ask(t.Context(), nps, ivr.Prompt{ID: "nps"}); !errors.Is(err, ivr.ErrHangup) {
			t.Fatalf("want ErrHangup, got %v", err)
		}
	})
}

func TestRecord(t *testing.T) {
	spec := ivr.RecordSpec{MaxDuration: 30 * time.Second, Name: "why-1"}
	t.Run("pound ends it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ph := newPhone(2 * time.Second)
			ch := ivr.NewCall(ph, nil)
			// A # during the prompt does not end the recording; one after does.
			ph.press(press{time.Second, '#'}, press{9 * time.Second, '#'})
			rec, err := ch.Record(t.Context(), ivr.Prompt{ID: "why"}, spec)
			if err != nil || rec.Name != "why-1" || rec.Duration != 7*time.Second {
				t.Fatalf("%+v %v", rec, err)
			}
		})
	})
	t.Run("length limit", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ph := newPhone(2 * time.Second)
			rec, err := ivr.NewCall(ph, nil).Record(t.Context(), ivr.Prompt{ID: "why"}, spec)
			if err != nil || rec.Duration != 30*time.Second {
				t.Fatalf("%+v %v", rec, err)
			}
		})
	})
	t.Run("hangup keeps the partial recording", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ph := newPhone(2 * time.Second)
			go func() {
				time.Sleep(6 * time.Second)
				ph.Hangup(context.Background())
			}()
			rec, err := ivr.NewCall(ph, nil).Record(t.Context(), ivr.Prompt{ID: "why"}, spec)
			if err != nil || rec.Duration != 4*time.Second {
				t.Fatalf("%+v %v", rec, err)
			}
		})
	})
}
