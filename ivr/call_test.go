package ivr_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/ivrtest"
)

type press struct {
	at  time.Duration
	key rune
}

func newPhone(d time.Duration) *ivrtest.Phone { return ivrtest.NewPhone(d) }

func pressAll(ph *ivrtest.Phone, ps ...press) {
	for _, p := range ps {
		ph.PressAt(p.at, p.key)
	}
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
				pressAll(ph, tc.presses...)
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
		pressAll(ph, press{time.Second, '8'}, press{1100 * time.Millisecond, '#'}, press{1200 * time.Millisecond, '5'})
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
		if got := ph.Stopped(); len(got) != 2 || got[0] != "nps" || got[1] != "csat" {
			t.Errorf("stopped prompts %v", got)
		}
	})
}

// TestFullEntryThenPound: "10#" as the prompt invites — the entry ends at
// two digits, and the "#" must not become a no-input on the next question.
func TestFullEntryThenPound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ph := newPhone(4 * time.Second)
		ch := ivr.NewCall(ph, nil)
		pressAll(ph, press{4 * time.Second, '1'}, press{4200 * time.Millisecond, '0'}, press{4400 * time.Millisecond, '#'})
		first, err := ch.Ask(t.Context(), nps, ivr.Prompt{ID: "nps"})
		if err != nil || first.Digits != "10" {
			t.Fatalf("first: %+v %v", first, err)
		}
		pressAll(ph, press{6 * time.Second, '4'})
		csat := ivr.GatherSpec{MinDigits: 1, MaxDigits: 1, InitialTimeout: 5 * time.Second, InterDigitTimeout: 2 * time.Second, BargeIn: true}
		second, err := ch.Ask(t.Context(), csat, ivr.Prompt{ID: "csat"})
		if err != nil || second.Digits != "4" || second.Raw != "4" {
			t.Fatalf("second: %+v %v; the # of 10# leaked into it", second, err)
		}
	})
}

func TestBargeInSkipsRemainingPrompts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ph := newPhone(2 * time.Second)
		ch := ivr.NewCall(ph, nil)
		pressAll(ph, press{3 * time.Second, '2'}) // during the second of three prompts
		menu := ivr.GatherSpec{MinDigits: 1, MaxDigits: 1, InitialTimeout: 5 * time.Second, InterDigitTimeout: 2 * time.Second, BargeIn: true}
		in, err := ch.Ask(t.Context(), menu, ivr.Prompt{ID: "en"}, ivr.Prompt{ID: "fr"}, ivr.Prompt{ID: "es"})
		if err != nil || in.Digits != "2" {
			t.Fatalf("%+v %v", in, err)
		}
		synctest.Wait()
		if got := ph.Played(); len(got) != 2 {
			t.Errorf("played %v; the third prompt must not start", got)
		}
	})
}

func TestHangupDuringGather(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ph := newPhone(2 * time.Second)
		ch := ivr.NewCall(ph, nil)
		go func() {
			time.Sleep(3 * time.Second)
			ph.CallerHangsUp()
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
			pressAll(ph, press{time.Second, '#'}, press{9 * time.Second, '#'})
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
				ph.CallerHangsUp()
			}()
			rec, err := ivr.NewCall(ph, nil).Record(t.Context(), ivr.Prompt{ID: "why"}, spec)
			if err != nil || rec.Duration != 4*time.Second {
				t.Fatalf("%+v %v", rec, err)
			}
		})
	})
}
