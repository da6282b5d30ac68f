package cati

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"
)

// Five wrong passwords lock a name for a minute, the next lockout lasts
// two, a success clears the name; fifty failures from one address lock
// the address whatever the name; memory stays bounded.
func TestThrottle(t *testing.T) {
	th := newThrottle()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	req := httptest.NewRequest("POST", "/login", nil)
	req.RemoteAddr = "192.0.2.10:5555"
	other := httptest.NewRequest("POST", "/login", nil)
	other.RemoteAddr = "198.51.100.7:4444"

	for i := range nameFailures {
		if d := th.wait("Ivy", req, now); d != 0 {
			t.Fatalf("try %d waits %s", i+1, d)
		}
		th.failed("Ivy", req, now)
	}
	if d := th.wait("ivy", other, now); d != time.Minute {
		t.Errorf("after %d failures, the name waits %s from anywhere, want 1m", nameFailures, d)
	}
	if d := th.wait("sam", req, now); d != 0 {
		t.Errorf("another name from the same address waits %s", d)
	}
	now = now.Add(time.Minute)
	if d := th.wait("ivy", req, now); d != 0 {
		t.Errorf("after the lockout: waits %s", d)
	}
	for range nameFailures {
		th.failed("ivy", req, now)
	}
	if d := th.wait("ivy", req, now); d != 2*time.Minute {
		t.Errorf("second lockout %s, want 2m", d)
	}
	now = now.Add(2 * time.Minute)
	th.failed("ivy", req, now)
	th.succeeded("ivy", req)
	for range nameFailures - 1 {
		th.failed("ivy", req, now)
	}
	if d := th.wait("ivy", req, now); d != 0 {
		t.Errorf("a success did not clear the count: waits %s", d)
	}

	// One address guessing many names.
	th = newThrottle()
	for i := range addrFailures {
		th.failed(fmt.Sprintf("user%d", i), other, now)
	}
	if d := th.wait("somebody", other, now); d != time.Minute {
		t.Errorf("after %d failures from one address: waits %s, want 1m", addrFailures, d)
	}
	if d := th.wait("somebody", req, now); d != 0 {
		t.Errorf("another address waits %s", d)
	}

	// Failures spread beyond the window never lock.
	th = newThrottle()
	for range 3 * nameFailures {
		th.failed("slow", req, now)
		now = now.Add(throttleWindow/time.Duration(nameFailures-1) + time.Second)
		if d := th.wait("slow", req, now); d != 0 {
			t.Fatalf("one failure every %s locked the name", throttleWindow/time.Duration(nameFailures-1))
		}
	}

	// Bounded memory.
	th = newThrottle()
	for i := range maxThrottleMemory + 10 {
		r := httptest.NewRequest("POST", "/login", nil)
		r.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255)
		th.failed(fmt.Sprint("n", i), r, now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := len(th.entries); n > maxThrottleMemory {
		t.Errorf("%d entries kept, want at most %d", n, maxThrottleMemory)
	}
}
