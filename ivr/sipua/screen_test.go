package sipua

// Unit tests of the screen in front of sipgo's parser: the per-source
// limiter (on a clock the test moves) and the Content-Length check.

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func testLimiter(o LimitOptions, exempt ...string) *limiter {
	ex, err := parseAllow(exempt)
	if err != nil {
		panic(err)
	}
	return newLimiter(o, func(ip netip.Addr) bool {
		for _, p := range ex {
			if p.Contains(ip) {
				return true
			}
		}
		return false
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// A source gets its burst, then its rate; past them it is banned for the
// ban time, whatever it sends; others are not affected.
func TestLimiterBan(t *testing.T) {
	l := testLimiter(LimitOptions{Rate: 10, Burst: 5, Ban: time.Minute}, "10.0.0.0/8")
	t0 := time.Unix(1_000_000, 0)
	scanner, caller := netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("198.51.100.1")
	for i := range 5 {
		if !l.allow(scanner, t0) {
			t.Fatalf("message %d of the burst dropped", i+1)
		}
	}
	if l.allow(scanner, t0) {
		t.Fatal("a sixth message at once passed a burst of 5")
	}
	if l.bans.Load() != 1 || l.banned(t0) != 1 {
		t.Fatalf("bans %d, banned %d; want the scanner banned", l.bans.Load(), l.banned(t0))
	}
	// Banned: even at a rate it would be allowed, until the ban ends.
	if l.allow(scanner, t0.Add(30*time.Second)) {
		t.Error("a banned source passed")
	}
	if !l.allow(caller, t0) {
		t.Error("another source was dropped")
	}
	if !l.allow(netip.MustParseAddr("10.1.2.3"), t0) {
		t.Error("an exempt source was dropped")
	}
	if !l.allow(scanner, t0.Add(time.Minute+time.Second)) {
		t.Error("still dropped after its ban")
	}
	if got := l.droppedRate.Load() + l.droppedBanned.Load(); got != 2 {
		t.Errorf("%d dropped, want 2", got)
	}
}

// At its rate a source is never dropped; with no ban time only the excess
// is.
func TestLimiterRate(t *testing.T) {
	l := testLimiter(LimitOptions{Rate: 10, Burst: 2})
	t0 := time.Unix(1_000_000, 0)
	src := netip.MustParseAddr("192.0.2.1")
	for i := range 100 {
		if !l.allow(src, t0.Add(time.Duration(i)*100*time.Millisecond)) {
			t.Fatalf("message %d at 10/s dropped", i)
		}
	}
	now := t0.Add(100 * 100 * time.Millisecond)
	l.allow(src, now)
	l.allow(src, now)
	if l.allow(src, now) {
		t.Error("over the rate and burst: passed")
	}
	if l.bans.Load() != 0 {
		t.Error("banned with ban 0")
	}
	if !l.allow(src, now.Add(time.Second)) {
		t.Error("dropped after it slowed down")
	}
}

// IPv6 sources are limited by /64: a host that hops addresses in its
// prefix stays one source. A sweep forgets sources in good standing.
func TestLimiterIPv6AndSweep(t *testing.T) {
	l := testLimiter(LimitOptions{Rate: 1, Burst: 2, Ban: time.Hour})
	t0 := time.Unix(1_000_000, 0)
	for i := range 3 {
		l.allow(netip.MustParseAddr(fmt.Sprintf("2001:db8:1:2::%x", i+1)), t0)
	}
	if l.banned(t0) != 1 {
		t.Fatal("three addresses of one /64 were not limited as one source")
	}
	if !l.allow(netip.MustParseAddr("2001:db8:1:3::1"), t0) {
		t.Error("another /64 dropped")
	}
	l.sweep(t0.Add(time.Minute))
	if len(l.sources) != 1 {
		t.Errorf("%d sources kept after a sweep, want only the banned one", len(l.sources))
	}
}

func TestShortBody(t *testing.T) {
	head := "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nCall-ID: x\r\n"
	for _, tt := range []struct {
		msg, want string
	}{
		{head + "Content-Length: 4\r\n\r\nv=0\n", ""},
		{head + "Content-Length: 4\r\n\r\nv=0\nextra", ""}, // extra bytes are discarded (§18.3)
		{head + "Content-Length: 40\r\n\r\nv=0\n", "shorter"},
		{head + "l: 40\r\n\r\nv=0\n", "shorter"},
		{head + "content-length :  9 \r\n\r\n", "shorter"},
		{head + "Content-Length: 4x\r\n\r\nv=0\n", "not a number"},
		{head + "Content-Length: -1\r\n\r\n", "not a number"},
		{head + "Content-Length: 99999999999999999999\r\n\r\n", "not a number"},
		{head + "\r\nv=0\n", ""},                             // no Content-Length: the datagram's end is the body's
		{"SIP/2.0 200 OK\r\nContent-Length: 40\r\n\r\n", ""}, // a response: sipgo drops it
		{head + "Content-Length: 40", ""},                    // no end of headers: sipgo decides
	} {
		if got := shortBody([]byte(tt.msg)); (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%q: %q, want %q", tt.msg, got, tt.want)
		}
	}
}

// FuzzShortBody: the check never panics, and on a request it builds
// whose header section is plain it agrees with the lengths.
func FuzzShortBody(f *testing.F) {
	f.Add([]byte("INVITE sip:a@b SIP/2.0\r\nContent-Length: 4\r\n\r\nv=0\n"), uint16(4), []byte("v=0\n"))
	f.Add([]byte("BYE sip:a@b SIP/2.0\r\nl: 0\r\n\r\n"), uint16(10), []byte(""))
	f.Add([]byte("\r\n\r\n:::\r\n"), uint16(0), []byte("\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte, n uint16, body []byte) {
		shortBody(raw)
		msg := fmt.Sprintf("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: %d\r\n\r\n%s", n, body)
		got := shortBody([]byte(msg))
		if want := int(n) > len(body); want != (got != "") {
			t.Errorf("Content-Length %d, body %d bytes: %q", n, len(body), got)
		}
	})
}
