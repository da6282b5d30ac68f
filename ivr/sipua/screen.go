package sipua

// This file screens what arrives on the SIP ports before sipgo parses it:
// a per-source rate limit with temporary bans (a public SIP port is
// scanned within minutes: REGISTER and INVITE floods from
// friendly-scanner, sipvicious), and, over UDP, the 400 that RFC 3261
// §18.3 asks for when a request's body is shorter than its
// Content-Length (sipgo's parser drops such a datagram in silence).
// Sources in sip.allow_from (a trusted proxy, loopback in development)
// are never limited.

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// maxSources bounds the sources the limiter tracks: UDP sources can be
// forged at will. Beyond it, new sources share one bucket.
const maxSources = 100000

// errBanned closes a TCP connection from a source over its rate (a
// dropped chunk would corrupt the stream).
var errBanned = errors.New("source over its SIP message rate")

// limiter is a token bucket per source (an IPv4 address, an IPv6 /64).
type limiter struct {
	rate, burst float64
	ban         time.Duration
	exempt      func(netip.Addr) bool
	log         *slog.Logger

	mu       sync.Mutex
	sources  map[netip.Addr]*bucket
	overflow bucket

	droppedRate, droppedBanned, bans atomic.Uint64
}

type bucket struct {
	tokens      float64
	last        time.Time
	bannedUntil time.Time
}

func newLimiter(o LimitOptions, exempt func(netip.Addr) bool, log *slog.Logger) *limiter {
	return &limiter{rate: o.Rate, burst: float64(o.Burst), ban: o.Ban, exempt: exempt, log: log,
		sources: map[netip.Addr]*bucket{}, overflow: bucket{tokens: float64(o.Burst)}}
}

// sourceKey is what a source is limited as: IPv6 hosts get a /64 each.
func sourceKey(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// allow takes a message from ip, or says it is to be dropped.
func (l *limiter) allow(ip netip.Addr, now time.Time) bool {
	ip = ip.Unmap()
	if l.rate == 0 || l.exempt(ip) {
		return true
	}
	key := sourceKey(ip)
	l.mu.Lock()
	b := l.sources[key]
	if b == nil {
		if len(l.sources) >= maxSources {
			l.sweepLocked(now)
		}
		if len(l.sources) < maxSources {
			b = &bucket{tokens: l.burst, last: now}
			l.sources[key] = b
		} else {
			b = &l.overflow
		}
	}
	if now.Before(b.bannedUntil) {
		l.mu.Unlock()
		l.droppedBanned.Add(1)
		return false
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		l.mu.Unlock()
		return true
	}
	banned := l.ban > 0
	if banned {
		b.bannedUntil = now.Add(l.ban)
		b.tokens = 0
	}
	l.mu.Unlock()
	l.droppedRate.Add(1)
	if banned {
		l.bans.Add(1)
		l.log.Warn("SIP source banned: over its message rate", "source", key, "for", l.ban,
			"rate", l.rate, "burst", l.burst, "shared_bucket", b == &l.overflow)
	}
	return false
}

// sweep forgets sources that are neither banned nor short of tokens.
func (l *limiter) sweep(now time.Time) {
	l.mu.Lock()
	l.sweepLocked(now)
	l.mu.Unlock()
}

func (l *limiter) sweepLocked(now time.Time) {
	for k, b := range l.sources {
		if !now.Before(b.bannedUntil) && b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.sources, k)
		}
	}
}

// banned counts the sources banned at now.
func (l *limiter) banned(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, b := range l.sources {
		if now.Before(b.bannedUntil) {
			n++
		}
	}
	if now.Before(l.overflow.bannedUntil) {
		n++
	}
	return n
}

// screen is sipgo's read filter: it sees every datagram and every TCP
// read before they are parsed.
func (s *Server) screen(p sip.TransportReadProps, data []byte) ([]byte, error) {
	udp := p.Transport == "UDP"
	if !s.limits.allow(addrOf(p.RemoteAddr), time.Now()) {
		if udp {
			return nil, nil // dropped; an error would stop sipgo's UDP reader
		}
		return nil, errBanned
	}
	if udp {
		if why := shortBody(data); why != "" {
			s.refuseLength(data, why, p.RemoteAddr)
			return nil, nil
		}
	}
	return data, nil
}

func addrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr()
	case *net.TCPAddr:
		return a.AddrPort().Addr()
	}
	return netip.Addr{}
}

// shortBody reads a datagram's Content-Length and says what is wrong with
// it: a value that is not a number, or larger than the body that follows
// the headers. "" when it is fine, or when the datagram is a response,
// has no Content-Length, or no complete header section: sipgo decides
// those (a response is dropped, RFC 3261 §18.3).
func shortBody(data []byte) string {
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 || bytes.HasPrefix(data, []byte("SIP/")) {
		return ""
	}
	head, body := data[:end], data[end+4:]
	for len(head) > 0 {
		line := head
		if i := bytes.Index(head, []byte("\r\n")); i >= 0 {
			line, head = head[:i], head[i+2:]
		} else {
			head = nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		if !bytes.EqualFold(name, []byte("Content-Length")) && !bytes.EqualFold(name, []byte("l")) {
			continue
		}
		value = bytes.TrimSpace(value)
		n, err := strconv.ParseUint(string(value), 10, 32)
		if err != nil || len(value) == 0 || value[0] == '+' {
			return "Content-Length is not a number"
		}
		if n > uint64(len(body)) {
			return "the body is shorter than Content-Length"
		}
		return ""
	}
	return ""
}

// refuseLength answers 400 to a request whose Content-Length is wrong,
// from the request's headers (Content-Length left out, so they parse).
// A request too broken to be answered is dropped.
func (s *Server) refuseLength(data []byte, why string, to net.Addr) {
	end := bytes.Index(data, []byte("\r\n\r\n"))
	var head bytes.Buffer
	for i, line := range bytes.Split(data[:end], []byte("\r\n")) {
		if name, _, ok := bytes.Cut(line, []byte(":")); i > 0 && ok {
			if n := bytes.TrimSpace(name); bytes.EqualFold(n, []byte("Content-Length")) || bytes.EqualFold(n, []byte("l")) {
				continue
			}
		}
		head.Write(line)
		head.WriteString("\r\n")
	}
	head.WriteString("Content-Length: 0\r\n\r\n")
	msg, err := sip.ParseMessage(head.Bytes())
	req, ok := msg.(*sip.Request)
	if err != nil || !ok || req.Via() == nil || req.CallID() == nil || req.CSeq() == nil || req.IsAck() {
		s.log.Debug("dropped a request with a bad Content-Length", "from", to, "reason", why)
		return
	}
	s.log.Info("request refused: bad Content-Length", "from", to, "method", req.Method, "reason", why)
	res := sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request", nil)
	res.AppendHeader(warning(399, why))
	if _, err := s.udp.WriteTo([]byte(res.String()), to); err != nil {
		s.log.Debug("respond 400", "err", err)
	}
}
