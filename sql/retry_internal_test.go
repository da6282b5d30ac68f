// The retry loop's timing, on a fake clock (testing/synctest): how often it
// tries, when it gives up, and what it says then.

package sql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

var errAway = errors.New("server away")

func TestRetryLoop(t *testing.T) {
	transient := func(err error) bool { return errors.Is(err, errAway) }
	failing := func(n int, final error) (func() error, *int) {
		calls := 0
		return func() error {
			calls++
			if calls <= n {
				return errAway
			}
			return final
		}, &calls
	}
	t.Run("back before the budget", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			fn, calls := failing(8, nil)
			resets := 0
			start := time.Now()
			if err := retryLoop(t.Context(), func() { resets++ }, transient, fn); err != nil {
				t.Fatal(err)
			}
			if *calls != 9 || resets != 8 {
				t.Errorf("%d tries and %d pool resets, want 9 and 8", *calls, resets)
			}
			// 25 ms doubling to 1 s, each pause 50–100 %: 8 pauses take 1.6–3.2 s.
			if d := time.Since(start); d < 1600*time.Millisecond || d > 3200*time.Millisecond {
				t.Errorf("8 pauses took %s, want 1.6–3.2 s", d)
			}
		})
	})
	t.Run("the context's budget", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			fn, calls := failing(1000, nil)
			start := time.Now()
			err := retryLoop(ctx, func() {}, transient, fn)
			if !errors.Is(err, errAway) || !strings.Contains(err.Error(), "database unavailable for") {
				t.Errorf("gave up with %v, want the server's error and how long it tried", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("gave up after %s, past the 3 s budget", d)
			}
			if *calls < 5 {
				t.Errorf("%d tries in 3 s", *calls)
			}
		})
	})
	t.Run("no deadline: retryBudget", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			fn, _ := failing(1000, nil)
			start := time.Now()
			if err := retryLoop(t.Context(), func() {}, transient, fn); !errors.Is(err, errAway) {
				t.Errorf("gave up with %v", err)
			}
			if d := time.Since(start); d > retryBudget || d < retryBudget-retryMaxPause {
				t.Errorf("gave up after %s, want just under %s", d, retryBudget)
			}
		})
	})
	t.Run("a lasting error at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			lasting := errors.New("syntax error")
			fn, calls := failing(2, lasting)
			if err := retryLoop(t.Context(), func() {}, transient, fn); err != lasting {
				t.Errorf("got %v, want %v unwrapped", err, lasting)
			}
			if *calls != 3 {
				t.Errorf("%d tries, want 3", *calls)
			}
		})
	})
}
