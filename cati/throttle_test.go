package cati

import (
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// signIn is one attempt of name from addr that fails, or succeeds when ok.
func signIn(th *throttle, name, addr string, now time.Time, ok bool) time.Duration {
	r := httptest.NewRequest("POST", "/login", nil)
	r.RemoteAddr = addr
	if wait := th.attempt(name, r, now); wait > 0 {
		return wait
	}
	if ok {
		th.succeeded(name, r)
	} else {
		th.failed(name, r, now)
	}
	return 0
}

// Five wrong passwords lock a name for a minute, the next lockout lasts
// two, a success clears the name; fifty failures from one address lock
// the address whatever the name, an IPv6 client by its /64.
func TestThrottle(t *testing.T) {
	th := newThrottle()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	const here, there = "192.0.2.10:5555", "198.51.100.7:4444"

	for i := range nameFailures {
		if d := signIn(th, "Ivy", here, now, false); d != 0 {
			t.Fatalf("try %d waits %s", i+1, d)
		}
	}
	if d := signIn(th, "ivy", there, now, true); d != time.Minute {
		t.Errorf("after %d failures, the name waits %s from anywhere, want 1m", nameFailures, d)
	}
	if d := signIn(th, "sam", here, now, true); d != 0 {
		t.Errorf("another name from the same address waits %s", d)
	}
	now = now.Add(time.Minute)
	for range nameFailures {
		signIn(th, "ivy", here, now, false)
	}
	if d := signIn(th, "ivy", here, now, true); d != 2*time.Minute {
		t.Errorf("second lockout %s, want 2m", d)
	}
	now = now.Add(2 * time.Minute)
	signIn(th, "ivy", here, now, false)
	signIn(th, "ivy", here, now, true)
	for range nameFailures - 1 {
		signIn(th, "ivy", here, now, false)
	}
	if d := signIn(th, "ivy", here, now, true); d != 0 {
		t.Errorf("a success did not clear the count: waits %s", d)
	}

	// One address guessing many names; an IPv6 client changing its
	// interface id is the same address.
	for _, addrs := range [][2]string{{there, "192.0.2.99:1"}, {"[2001:db8:1:2::10]:5060", "[2001:db8:1:3::10]:5060"}} {
		th = newThrottle()
		for i := range addrFailures {
			guesser := addrs[0]
			if i%2 == 1 && addrs[0][0] == '[' {
				guesser = "[2001:db8:1:2::" + fmt.Sprint(i) + "]:5060"
			}
			signIn(th, fmt.Sprintf("user%d", i), guesser, now, false)
		}
		if d := signIn(th, "somebody", addrs[0], now, true); d != time.Minute {
			t.Errorf("after %d failures from %s: waits %s, want 1m", addrFailures, addrs[0], d)
		}
		if d := signIn(th, "somebody", addrs[1], now, true); d != 0 {
			t.Errorf("%s waits %s", addrs[1], d)
		}
	}

	// Failures spread beyond the window never lock.
	th = newThrottle()
	for range 3 * nameFailures {
		if d := signIn(th, "slow", here, now, false); d != 0 {
			t.Fatalf("one failure every %s locked the name", throttleWindow/time.Duration(nameFailures-1))
		}
		now = now.Add(throttleWindow/time.Duration(nameFailures-1) + time.Second)
	}
}

// Guesses sent at once cannot slip in before the first of them fails: at
// most the limit have their password checked.
func TestThrottleBurst(t *testing.T) {
	th := newThrottle()
	now := time.Now()
	r := httptest.NewRequest("POST", "/login", nil)
	var checked sync.WaitGroup
	reserved := 0
	var mu sync.Mutex
	for range 40 {
		checked.Go(func() {
			if th.attempt("ivy", r, now) == 0 {
				mu.Lock()
				reserved++
				mu.Unlock()
			}
		})
	}
	checked.Wait()
	if reserved != nameFailures {
		t.Errorf("%d of 40 simultaneous attempts went on to a password check, want %d", reserved, nameFailures)
	}
}

// Memory stays bounded, and a flood of new names does not lift a lockout.
func TestThrottleMemory(t *testing.T) {
	th := newThrottle()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for range nameFailures {
		signIn(th, "ivy", "192.0.2.1:1", now, false)
	}
	for i := range maxThrottleMemory + 10 {
		addr := fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255)
		signIn(th, fmt.Sprint("n", i), addr, now.Add(time.Duration(i)*time.Microsecond), false)
	}
	if n := len(th.entries); n > maxThrottleMemory {
		t.Errorf("%d entries kept, want at most %d", n, maxThrottleMemory)
	}
	if d := signIn(th, "ivy", "192.0.2.1:1", now.Add(time.Second), true); d == 0 {
		t.Error("the flood lifted ivy's lockout")
	}
}
