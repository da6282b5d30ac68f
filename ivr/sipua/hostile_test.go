// What arrives from networks between the endpoint and its callers: INVITEs
// grown by proxies (Via and Record-Route), malformed requests, callers
// that never ACK, and floods from scanners. The peer is a raw UDP socket,
// so each message is exactly what the test wrote.

package sipua_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
)

// rawPeer is a SIP peer on a bare UDP socket.
type rawPeer struct {
	t    *testing.T
	conn *net.UDPConn
	srv  *net.UDPAddr
}

func newRawPeer(t *testing.T, ip string, srv netip.AddrPort) *rawPeer {
	t.Helper()
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawPeer{t: t, conn: conn, srv: net.UDPAddrFromAddrPort(srv)}
}

func (p *rawPeer) addr() string { return p.conn.LocalAddr().String() }

func (p *rawPeer) send(msg string) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDP([]byte(msg), p.srv); err != nil {
		p.t.Fatal(err)
	}
}

// next reads the next SIP message, skipping those keep returns false for;
// it fails the test when none comes within d.
func (p *rawPeer) next(d time.Duration, keep func(sip.Message) bool) (sip.Message, int) {
	p.t.Helper()
	buf := make([]byte, 70000)
	deadline := time.Now().Add(d)
	for {
		p.conn.SetReadDeadline(deadline)
		n, _, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			p.t.Fatalf("waiting for a SIP message: %v", err)
		}
		msg, err := sip.ParseMessage(buf[:n])
		if err != nil {
			p.t.Fatalf("unparsable message (%v): %q", err, buf[:n])
		}
		if keep == nil || keep(msg) {
			return msg, n
		}
	}
}

// final waits for the final response to the request with CSeq method m.
func (p *rawPeer) final(m sip.RequestMethod) *sip.Response {
	p.t.Helper()
	msg, _ := p.next(10*time.Second, func(msg sip.Message) bool {
		res, ok := msg.(*sip.Response)
		return ok && res.StatusCode >= 200 && res.CSeq() != nil && res.CSeq().MethodName == m
	})
	return msg.(*sip.Response)
}

// invite is an INVITE from p as a proxy chain would deliver it: vias extra
// Via headers below p's own and rrs Record-Route headers. drop names
// headers to leave out; set replaces or adds headers ("Name: value").
func (p *rawPeer) invite(callID, user string, vias, rrs int, body string, drop []string, set ...string) string {
	hdrs := []string{
		fmt.Sprintf("Via: SIP/2.0/UDP %s;branch=z9hG4bK-%s;rport", p.addr(), callID),
	}
	for i := range vias {
		hdrs = append(hdrs, fmt.Sprintf("Via: SIP/2.0/UDP 192.0.2.%d:5060;received=198.51.100.%d;branch=z9hG4bK-proxy-%d-a-rather-long-branch-parameter-%s", i+1, i+1, i, callID))
	}
	for i := range rrs {
		hdrs = append(hdrs, fmt.Sprintf("Record-Route: <sip:192.0.2.%d:5060;transport=udp;lr;ftag=as5f3b2c1d;did=a1b.%d1c2d3e4;nat=yes>", i+1, i))
	}
	hdrs = append(hdrs,
		"Max-Forwards: 60",
		fmt.Sprintf("From: \"Customer\" <sip:+15551230000@%s>;tag=from-%s", p.addr(), callID),
		fmt.Sprintf("To: <sip:%s@%s>", user, p.srv),
		"Call-ID: "+callID,
		"CSeq: 1 INVITE",
		fmt.Sprintf("Contact: <sip:caller@%s>", p.addr()),
		"X-Canvass-Language: en",
		"Content-Type: application/sdp",
	)
	var out []string
	for _, h := range hdrs {
		name, _, _ := strings.Cut(h, ":")
		skip := false
		for _, d := range drop {
			skip = skip || strings.EqualFold(name, d)
		}
		for _, s := range set {
			n, _, _ := strings.Cut(s, ":")
			skip = skip || strings.EqualFold(name, n)
		}
		if !skip {
			out = append(out, h)
		}
	}
	out = append(out, set...)
	if !strings.Contains(strings.Join(set, "\n"), "Content-Length") {
		out = append(out, fmt.Sprintf("Content-Length: %d", len(body)))
	}
	return fmt.Sprintf("INVITE sip:%s@%s SIP/2.0\r\n%s\r\n\r\n%s", user, p.srv, strings.Join(out, "\r\n"), body)
}

// offer is an SDP offer with RTP at the given connection address.
func offer(addr string) string {
	typ := "IP4"
	if strings.Contains(addr, ":") {
		typ = "IP6"
	}
	return fmt.Sprintf("v=0\r\no=- 1 1 IN %s %s\r\ns=-\r\nc=IN %s %s\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n", typ, addr, typ, addr)
}

// inDialog is an ACK or BYE for the dialog res (a 200 to p's INVITE)
// created.
func (p *rawPeer) inDialog(method string, res *sip.Response, cseq int) string {
	return fmt.Sprintf("%s sip:canvass@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-%s-%d;rport\r\nMax-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\nContent-Length: 0\r\n\r\n",
		method, p.srv, p.addr(), strings.ToLower(method), cseq, res.From().Value(), res.To().Value(), res.CallID().Value(), cseq, method)
}

// An INVITE that crossed proxies (6 Via, 4 Record-Route) is answered over
// UDP with a 200 OK past 1,300 bytes that carries them all back, and the
// call goes on to a BYE.
func TestLargeUDPResponse(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	p := newRawPeer(t, "127.0.0.1", e.srv.Addr())
	p.send(p.invite("big-1", "post-call", 5, 4, offer("127.0.0.1"), nil))
	msg, n := p.next(10*time.Second, func(m sip.Message) bool {
		res, ok := m.(*sip.Response)
		return ok && res.StatusCode >= 200
	})
	res := msg.(*sip.Response)
	if res.StatusCode != 200 {
		t.Fatalf("got %d %s, want 200 OK", res.StatusCode, res.Reason)
	}
	if n <= 1300 {
		t.Fatalf("the 200 OK is %d bytes: the test needs one over 1,300", n)
	}
	if got := len(res.GetHeaders("Via")); got != 6 {
		t.Errorf("%d Via headers in the 200, want 6", got)
	}
	if got := len(res.GetHeaders("Record-Route")); got != 4 {
		t.Errorf("%d Record-Route headers in the 200, want 4", got)
	}
	t.Logf("200 OK of %d bytes", n)
	p.send(p.inDialog("ACK", res, 1))
	p.send(p.inDialog("BYE", res, 2))
	if bye := p.final(sip.BYE); bye.StatusCode != 200 {
		t.Errorf("BYE answered %d", bye.StatusCode)
	}
	if iv := e.store.WaitFinished(t, 5*time.Second); iv.Status == "" {
		t.Error("no interview")
	}
}

// Malformed requests get 400 (or 488 for an RTP address the endpoint
// cannot send to) instead of a 100 Trying and silence, and nothing is
// stored.
func TestMalformedInvite(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	tests := []struct {
		name      string
		drop, set []string
		body      string
		code      int
		warning   string
	}{
		{name: "no Call-ID", drop: []string{"Call-ID"}, code: 400, warning: "Call-ID"},
		{name: "no From", drop: []string{"From"}, code: 400, warning: "From"},
		{name: "CSeq method not INVITE", set: []string{"CSeq: 1 BYE"}, code: 400, warning: "CSeq"},
		{name: "Content-Length past the body", set: []string{"Content-Length: 900"}, code: 400, warning: "Content-Length"},
		{name: "Content-Length not a number", set: []string{"Content-Length: 12x"}, code: 400, warning: "Content-Length"},
		{name: "IPv6 RTP address", body: offer("2001:db8::7"), code: 488, warning: "network address"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newRawPeer(t, "127.0.0.1", e.srv.Addr())
			body := tt.body
			if body == "" {
				body = offer("127.0.0.1")
			}
			p.send(p.invite(fmt.Sprintf("bad-%d", i), "post-call", 0, 0, body, tt.drop, tt.set...))
			msg, _ := p.next(10*time.Second, func(m sip.Message) bool {
				res, ok := m.(*sip.Response)
				return ok && res.StatusCode >= 200
			})
			res := msg.(*sip.Response)
			if res.StatusCode != tt.code {
				t.Fatalf("got %d %s, want %d", res.StatusCode, res.Reason, tt.code)
			}
			if w := res.GetHeader("Warning"); w == nil || !strings.Contains(w.Value(), tt.warning) {
				t.Errorf("Warning %v, want one mentioning %q", w, tt.warning)
			}
			if tt.code >= 300 { // a final error response is ACKed (RFC 3261 §17.1.1.3)
				ack := fmt.Sprintf("ACK sip:post-call@%s SIP/2.0\r\nVia: %s\r\nMax-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
					e.srv.Addr(), res.Via().Value(), headerValue(res.From()), headerValue(res.To()), headerValue(res.CallID()))
				p.send(ack)
			}
		})
	}
	if n := e.store.Count(); n != 0 {
		t.Errorf("%d interviews stored", n)
	}
	for deadline := time.Now().Add(5 * time.Second); e.srv.Active() > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls still counted", e.srv.Active())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func headerValue(h sip.Header) string {
	if h == nil || (fmt.Sprint(h) == "<nil>") {
		return ""
	}
	return h.Value()
}

// A caller that never ACKs our 200 OK gets it again at growing intervals,
// then a BYE, and its slot is free: the next call is taken with MaxCalls 1.
func TestNoAck(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.MaxCalls = 1
	e := start(t, opts, nil)
	e.srv.SetAckTimers(20*time.Millisecond, 160*time.Millisecond) // gives up after 1.28 s
	p := newRawPeer(t, "127.0.0.1", e.srv.Addr())
	p.send(p.invite("noack-1", "post-call", 0, 0, offer("127.0.0.1"), nil))
	oks := 0
	var bye *sip.Request
	for bye == nil {
		msg, _ := p.next(15*time.Second, nil)
		switch m := msg.(type) {
		case *sip.Response:
			if m.StatusCode == 200 {
				oks++
			}
		case *sip.Request:
			if m.Method == sip.BYE {
				bye = m
			}
		}
	}
	// 1 + resends at 20, 40, 80, 160 ms apart until 1.28 s: 11 or so.
	if oks < 5 {
		t.Errorf("the 200 OK came %d times before the BYE; want it resent until the BYE", oks)
	}
	t.Logf("200 OK sent %d times, then BYE", oks)
	res := sip.NewResponseFromRequest(bye, 200, "OK", nil)
	if _, err := p.conn.WriteToUDP([]byte(res.String()), p.srv); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); e.srv.Active() > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls still counted after the BYE", e.srv.Active())
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := e.dial(ctx, sipuatest.DialOptions{})
	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
}

// A scanner flooding the endpoint from one address (REGISTER and INVITE
// with a scanner's User-Agent, as fast as it can) is banned after its
// burst, is logged and counted, and a caller from another address places
// a normal call meanwhile.
func TestFlood(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.AllowFrom = []string{"127.0.0.1"} // the caller; the scanner is 127.0.0.2
	opts.Limits = sipua.LimitOptions{Rate: 20, Burst: 50, Ban: time.Minute}
	e := start(t, opts, nil)
	scanner := newRawPeer(t, "127.0.0.2", e.srv.Addr())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	flood, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var sent int
	began := time.Now()
	wg.Go(func() {
		for i := 0; flood.Err() == nil; i++ {
			msg := scanner.invite(fmt.Sprintf("scan-%d", i), fmt.Sprint(100+i%900), 0, 0, offer("127.0.0.2"), nil, "User-Agent: friendly-scanner")
			if i%2 == 0 {
				msg = fmt.Sprintf("REGISTER sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-reg-%d;rport\r\nFrom: <sip:%d@%s>;tag=%d\r\nTo: <sip:%d@%s>\r\nCall-ID: reg-%d\r\nCSeq: 1 REGISTER\r\nUser-Agent: sipvicious\r\nContent-Length: 0\r\n\r\n",
					e.srv.Addr(), scanner.addr(), i, i, e.srv.Addr(), i, i, e.srv.Addr(), i)
			}
			if _, err := scanner.conn.WriteToUDP([]byte(msg), scanner.srv); err != nil {
				t.Error(err)
				return
			}
			sent++
			if i%50 == 49 {
				time.Sleep(time.Millisecond) // leave the sockets' buffers some room
			}
		}
	})
	// The scanner's answers, by Call-ID: a final response over UDP is
	// resent until ACKed, and the scanner ACKs nothing.
	answered := map[string]bool{}
	wg.Go(func() {
		buf := make([]byte, 70000)
		for {
			scanner.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			n, _, err := scanner.conn.ReadFromUDP(buf)
			if err != nil {
				if flood.Err() != nil {
					return
				}
				continue
			}
			if msg, err := sip.ParseMessage(buf[:n]); err == nil && msg.CallID() != nil {
				answered[msg.CallID().Value()] = true
			}
		}
	})

	c := e.dial(ctx, sipuatest.DialOptions{})
	r := newRespondent(t, ctx, c)
	r.prompt()
	r.answer("9#")
	r.prompt()
	iv := e.hangUp(ctx, c)
	stop()
	wg.Wait()
	elapsed := time.Since(began)
	if got := iv.Answers; len(got) == 0 || got[0].Question != "nps" {
		t.Errorf("answers %v; want the caller's nps", got)
	}
	m := gather(t, e.srv.Collector())
	t.Logf("scanner sent %d messages in %s, got answers to %d; metrics %v", sent, elapsed.Round(time.Millisecond), len(answered), m)
	if m["canvass_sip_bans_total"] != 1 || m["canvass_sip_banned_sources"] != 1 {
		t.Errorf("bans %v, banned now %v; want the scanner banned once", m["canvass_sip_bans_total"], m["canvass_sip_banned_sources"])
	}
	// The limiter lets the burst through, and what the rate refills until
	// the ban; nothing after.
	if limit := 50 + 1 + int(20*elapsed.Seconds()); len(answered) > limit {
		t.Errorf("the scanner got answers to %d requests; its burst and rate allow at most %d", len(answered), limit)
	}
	if m[`canvass_sip_dropped_total{reason="banned"}`] == 0 {
		t.Error("nothing dropped from the banned scanner")
	}
}

// gather reads a collector's metrics as name{labels} → value.
func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += fmt.Sprintf("{%s=%q}", l.GetName(), l.GetValue())
			}
			out[name] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}
