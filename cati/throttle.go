package cati

// This file slows down password guessing at the console's login form. Each
// node counts failed sign-ins per account name and per client address over
// a window; past a limit, that name (or address) is refused without a
// password check until a lockout ends, and each further lockout of the same
// name doubles, up to the window. A success clears the name's count. The
// counts live in memory: a restart forgets them, and each node of a
// cluster counts its own (a guesser spread over N nodes gets N times the
// tries, still a handful a minute).

import (
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Login throttle limits.
const (
	throttleWindow    = 15 * time.Minute // failures older than this are forgotten
	nameFailures      = 5                // failures of one name before a lockout
	addrFailures      = 50               // failures from one address (a whole office may share one)
	firstLockout      = time.Minute      // then 2, 4, 8… up to throttleWindow
	maxThrottleMemory = 100_000          // tracked names and addresses; the oldest are dropped past it
)

// throttle counts failed sign-ins.
type throttle struct {
	mu      sync.Mutex
	entries map[string]*strikes // "name:…" or "addr:…"
}

// strikes is one name's or address's recent failures.
type strikes struct {
	count    int
	first    time.Time // of the current window
	lockouts int       // lockouts so far in this window
	until    time.Time // locked until then
}

func newThrottle() *throttle { return &throttle{entries: map[string]*strikes{}} }

// keys are the throttle's entries for a sign-in of name from r.
func throttleKeys(name string, r *http.Request) (nameKey, addrKey string) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "name:" + strings.ToLower(name), "addr:" + host
}

// wait is how long a sign-in of name from r must wait before it is even
// checked; zero when it may go ahead.
func (t *throttle) wait(name string, r *http.Request, now time.Time) time.Duration {
	nk, ak := throttleKeys(name, r)
	t.mu.Lock()
	defer t.mu.Unlock()
	var d time.Duration
	for _, k := range []string{nk, ak} {
		if s := t.entries[k]; s != nil && now.Before(s.until) {
			d = max(d, s.until.Sub(now))
		}
	}
	return d
}

// failed counts a failed sign-in of name from r.
func (t *throttle) failed(name string, r *http.Request, now time.Time) {
	nk, ak := throttleKeys(name, r)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.entries) >= maxThrottleMemory {
		t.prune(now)
	}
	for k, limit := range map[string]int{nk: nameFailures, ak: addrFailures} {
		s := t.entries[k]
		if s == nil || now.Sub(s.first) > throttleWindow && !now.Before(s.until) {
			s = &strikes{first: now}
			t.entries[k] = s
		}
		s.count++
		if s.count >= limit {
			s.until = now.Add(min(firstLockout<<s.lockouts, throttleWindow))
			s.lockouts++
			s.count = 0
			s.first = now
		}
	}
}

// succeeded clears name's failures (not the address's: one good password
// does not license guessing others).
func (t *throttle) succeeded(name string, r *http.Request) {
	nk, _ := throttleKeys(name, r)
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, nk)
}

// prune forgets entries past their window and lockout, then, if that was
// not enough, the oldest half.
func (t *throttle) prune(now time.Time) {
	var oldest []time.Time
	for k, s := range t.entries {
		if now.Sub(s.first) > throttleWindow && !now.Before(s.until) {
			delete(t.entries, k)
			continue
		}
		oldest = append(oldest, s.first)
	}
	if len(t.entries) < maxThrottleMemory/2 {
		return
	}
	// Keep the newer half.
	cut := median(oldest)
	for k, s := range t.entries {
		if s.first.Before(cut) {
			delete(t.entries, k)
		}
	}
}

func median(ts []time.Time) time.Time {
	if len(ts) == 0 {
		return time.Time{}
	}
	slices.SortFunc(ts, time.Time.Compare)
	return ts[len(ts)/2]
}
