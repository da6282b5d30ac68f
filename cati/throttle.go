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
	"net/netip"
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

// throttleKeys are the throttle's entries for a sign-in of name from r:
// the name as typed, case folded, and the client address (an IPv6 client
// by its /64, which one host can roam).
func throttleKeys(name string, r *http.Request) (nameKey, addrKey string) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().Is6() {
		host = netip.PrefixFrom(ip, 64).Masked().String()
	}
	return "name:" + strings.ToLower(name), "addr:" + host
}

// limitOf is the failures a key may have before it is locked.
func limitOf(key string) int {
	if strings.HasPrefix(key, "addr:") {
		return addrFailures
	}
	return nameFailures
}

// entry returns key's strikes, starting a new window when the last one is
// over and no lockout holds.
func (t *throttle) entry(key string, now time.Time) *strikes {
	s := t.entries[key]
	if s == nil || now.Sub(s.first) > throttleWindow && !now.Before(s.until) {
		s = &strikes{first: now}
		t.entries[key] = s
	}
	return s
}

// attempt reserves a password check for name from r, counting it as a
// failure until succeeded says otherwise: requests sent at once cannot all
// slip in before the first of them fails. It returns how long to wait
// instead when the name or the address is locked, or already has as many
// attempts failed or under way as its limit.
func (t *throttle) attempt(name string, r *http.Request, now time.Time) time.Duration {
	nk, ak := throttleKeys(name, r)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.entries) >= maxThrottleMemory {
		t.prune(now)
	}
	var wait time.Duration
	keys := [2]string{nk, ak}
	for _, k := range keys {
		s := t.entry(k, now)
		switch {
		case now.Before(s.until):
			wait = max(wait, s.until.Sub(now))
		case s.count >= limitOf(k):
			wait = max(wait, firstLockout) // attempts under way fill the limit
		}
	}
	if wait > 0 {
		return wait
	}
	for _, k := range keys {
		t.entries[k].count++
	}
	return 0
}

// failed settles a reserved attempt as a failure: a name or address that
// has reached its limit is locked, each lockout twice as long as the last.
func (t *throttle) failed(name string, r *http.Request, now time.Time) {
	nk, ak := throttleKeys(name, r)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range []string{nk, ak} {
		s := t.entries[k]
		if s == nil || s.count < limitOf(k) {
			continue
		}
		s.until = now.Add(min(firstLockout<<min(s.lockouts, 10), throttleWindow))
		s.lockouts++
		s.count = 0
		s.first = now
	}
}

// succeeded settles a reserved attempt as a success: the name's count is
// cleared, and the attempt no longer counts against the address (one good
// password does not forgive the address's other failures).
func (t *throttle) succeeded(name string, r *http.Request) {
	nk, ak := throttleKeys(name, r)
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, nk)
	if s := t.entries[ak]; s != nil && s.count > 0 {
		s.count--
	}
}

// release settles a reserved attempt that checked nothing (the database
// failed): it counts neither way.
func (t *throttle) release(name string, r *http.Request) {
	nk, ak := throttleKeys(name, r)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range []string{nk, ak} {
		if s := t.entries[k]; s != nil && s.count > 0 {
			s.count--
		}
	}
}

// prune forgets entries past their window and lockout, then, if that was
// not enough, the older half of those not locked now: a flood of new names
// cannot lift a lockout.
func (t *throttle) prune(now time.Time) {
	var firsts []time.Time
	for k, s := range t.entries {
		switch {
		case now.Sub(s.first) > throttleWindow && !now.Before(s.until):
			delete(t.entries, k)
		case !now.Before(s.until):
			firsts = append(firsts, s.first)
		}
	}
	if len(t.entries) < maxThrottleMemory/2 || len(firsts) == 0 {
		return
	}
	slices.SortFunc(firsts, time.Time.Compare)
	cut := firsts[len(firsts)/2]
	for k, s := range t.entries {
		if !now.Before(s.until) && s.first.Before(cut) {
			delete(t.entries, k)
		}
	}
}
