// What the endpoint refuses and what it survives: INVITEs it cannot serve
// (each with its SIP status), full capacity, digest auth, CANCEL before the
// answer, garbage on the SIP ports, RTP floods.

package sipua_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr/ivrtest"
	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
	"github.com/canvass/canvass/survey"
)

// sdpWith is a valid offer from the phone's side with its m= line set.
func sdpWith(m string) []byte {
	return []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" + m + "\r\n")
}

// Each INVITE the endpoint cannot serve gets the final response that tells
// the PBX why, and nothing is stored.
func TestRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    func(*sipua.Options)
		store   func(*ivrtest.Store)
		user    string
		dial    sipuatest.DialOptions
		code    int
		warning string // part of the Warning header, when one is expected
	}{
		{name: "unknown questionnaire", user: "no-such-survey", code: 404},
		{name: "not a keypad survey", user: "customer-study", code: 403, warning: "not a keypad survey"},
		{name: "no common codec", user: "post-call", dial: sipuatest.DialOptions{SDP: sdpWith("m=audio 4000 RTP/AVP 9 18\r\na=rtpmap:9 G722/8000")}, code: 488, warning: "PCMU or PCMA"},
		{name: "SRTP only", user: "post-call", dial: sipuatest.DialOptions{SDP: sdpWith("m=audio 4000 RTP/SAVP 0")}, code: 488},
		{name: "garbage SDP", user: "post-call", dial: sipuatest.DialOptions{SDP: []byte("this is not SDP\r\n\x00\xff")}, code: 400, warning: "malformed SDP"},
		{name: "not SDP at all", user: "post-call", dial: sipuatest.DialOptions{ContentType: "text/plain"}, code: 415},
		{name: "source not allowed", user: "post-call", opts: func(o *sipua.Options) { o.AllowFrom = []string{"10.0.0.0/8"} }, code: 403},
		{name: "database down", user: "post-call", store: func(m *ivrtest.Store) {
			m.OnLookup(func(context.Context) error { return errors.New("connection refused") })
		}, code: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := testOptions()
			if tt.opts != nil {
				tt.opts(&opts)
			}
			e := start(t, opts, nil)
			if tt.store != nil {
				tt.store(e.store)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := e.phone.Dial(ctx, e.uri(tt.user), tt.dial)
			if err == nil {
				c.Close()
				t.Fatalf("answered; want %d", tt.code)
			}
			var refused *sipuatest.StatusError
			if !errors.As(err, &refused) || refused.Code != tt.code {
				t.Fatalf("got %v, want %d", err, tt.code)
			}
			if tt.warning != "" {
				if h := refused.Res.GetHeader("Warning"); h == nil || !strings.Contains(h.Value(), tt.warning) {
					t.Errorf("Warning header %v, want one mentioning %q", h, tt.warning)
				}
			}
			if tt.code == 503 && refused.Res.GetHeader("Retry-After") == nil {
				t.Error("503 without Retry-After")
			}
			if n := e.store.Count(); n != 0 {
				t.Errorf("%d interviews stored", n)
			}
		})
	}
}

// Beyond MaxCalls, INVITEs get 503 with Retry-After; a slot freed by a
// hangup is taken again.
func TestMaxCalls(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.MaxCalls = 1
	e := start(t, opts, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	first := e.dial(ctx, sipuatest.DialOptions{})
	_, err := e.phone.Dial(ctx, e.uri("post-call"), sipuatest.DialOptions{})
	var refused *sipuatest.StatusError
	if !errors.As(err, &refused) || refused.Code != 503 || refused.Res.GetHeader("Retry-After") == nil {
		t.Fatalf("second call: %v; want 503 with Retry-After", err)
	}
	if err := first.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	e.store.WaitFinished(t, 5*time.Second)
	for deadline := time.Now().Add(3 * time.Second); e.srv.Active() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	again := e.dial(ctx, sipuatest.DialOptions{})
	if err := again.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
}

// Outside the allow-list, a caller must answer a digest challenge.
func TestDigestAuth(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.AllowFrom = nil // trust no address
	opts.Username, opts.Password = "pbx", "s3cret"
	e := start(t, opts, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tt := range []struct {
		name, user, password string
		code                 int
	}{
		{"no credentials", "", "", 401},
		{"wrong password", "pbx", "guess", 401},
		{"wrong user", "admin", "s3cret", 401},
		{"right credentials", "pbx", "s3cret", 0},
	} {
		c, err := e.phone.Dial(ctx, e.uri("post-call"), sipuatest.DialOptions{Username: tt.user, Password: tt.password,
			Headers: map[string]string{"X-Canvass-Language": "en"}})
		var refused *sipuatest.StatusError
		switch {
		case tt.code == 0 && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.code == 0:
			if err := c.Hangup(ctx); err != nil {
				t.Error(err)
			}
			c.Close()
		case !errors.As(err, &refused) || refused.Code != tt.code:
			t.Errorf("%s: %v, want %d", tt.name, err, tt.code)
		case refused.Res.GetHeader("WWW-Authenticate") == nil:
			t.Errorf("%s: 401 without a challenge", tt.name)
		}
	}
}

// A caller who gives up while the questionnaire is being looked up gets
// 487 from the transaction layer, and the endpoint lets the call go.
func TestCancelBeforeAnswer(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	entered := make(chan struct{}, 1)
	e.store.OnLookup(func(ctx context.Context) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-ctx.Done() // the lookup hangs until the CANCEL
		return ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := e.phone.Dial(ctx, e.uri("post-call"), sipuatest.DialOptions{})
		errc <- err
	}()
	<-entered
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("dial: %v, want cancelled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the CANCEL was not answered")
	}
	for deadline := time.Now().Add(3 * time.Second); e.srv.Active() > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls still counted after the CANCEL", e.srv.Active())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Garbage on the SIP ports (UDP datagrams, a TCP stream, requests missing
// mandatory headers) is dropped or refused, and calls go on.
func TestMalformedSIP(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	r := rand.New(rand.NewPCG(3, 4))
	junk := [][]byte{
		nil, {0}, []byte("\r\n\r\n"), []byte("INVITE"), []byte("INVITE sip:x SIP/2.0\r\n\r\n"),
		[]byte("INVITE sip:post-call@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\nContent-Length: 99999\r\n\r\nv=0"),
		[]byte("SIP/2.0 200 OK\r\nVia: nonsense\r\nCSeq: abc INVITE\r\n\r\n"),
		[]byte("BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKy\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: nope\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"),
		[]byte("INVITE sip:post-call@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKz\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:post-call@127.0.0.1>\r\nCall-ID: nocontact\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: 0\r\n\r\n"),
	}
	for range 200 {
		b := make([]byte, r.IntN(1400))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		junk = append(junk, b)
	}
	udp, err := net.Dial("udp", e.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	for _, b := range junk {
		if _, err := udp.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, b := range junk[:20] {
		wg.Go(func() {
			tcp, err := net.Dial("tcp", e.srv.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer tcp.Close()
			tcp.SetDeadline(time.Now().Add(2 * time.Second))
			tcp.Write(b)
			tcp.Write([]byte("\r\n\r\nGARBAGE GARBAGE\r\n\r\n"))
		})
	}
	wg.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := e.dial(ctx, sipuatest.DialOptions{})
	rsp := newRespondent(t, ctx, c)
	rsp.prompt()
	rsp.answer("9#")
	rsp.prompt()
	if iv := e.hangUp(ctx, c); ivrtest.Values(iv)["nps"] != int64(9) {
		t.Errorf("answers %v", ivrtest.Values(iv))
	}
}

// An RTP flood (packets from another address, with forged key events, and
// junk from the caller's own address) neither crashes the call nor stalls
// it, and injects no key.
func TestRTPFlood(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.dial(ctx, sipuatest.DialOptions{})
	r := newRespondent(t, ctx, c)
	r.prompt()
	r.prompt() // the phone's RTP has flowed for a while

	attacker, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(c.RemoteRTP()))
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	forged := func(seq uint16, event byte) []byte {
		return []byte{0x80, 101, byte(seq >> 8), byte(seq), 0, 0, byte(seq), 0, 0xde, 0xad, 0xbe, 0xef, event, 0x8a, 0x03, 0x20}
	}
	start := time.Now()
	sent := 0
	for i := range 20000 {
		// At most 2 s of flood: the question it runs over waits 3 × 1.5 s
		// for keys (fastIVR), and a loaded machine sends more slowly.
		if time.Since(start) > 2*time.Second {
			break
		}
		sent++
		var b []byte
		switch i % 4 {
		case 0:
			b = forged(uint16(i), byte(i%12)) // an end event for a key
		case 1:
			b = make([]byte, 12+160) // audio with the caller's codec
			b[0], b[1] = 0x80, 0
		default:
			b = make([]byte, rng.IntN(1500))
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
		}
		if _, err := attacker.Write(b); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 { // junk from the caller's own address: bad version, short, unknown payload type, oversized
			for _, j := range [][]byte{{0x40, 0, 0, 1}, {0x80}, {0x80, 77, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2}, make([]byte, 1600)} {
				if err := c.WriteRaw(j); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	t.Logf("sent %d foreign packets and junk from the caller's address in %s", sent, time.Since(start).Round(time.Millisecond))
	r.last = time.Now()
	r.answer("9#")
	r.answer("4")
	r.prompt()
	iv := e.hangUp(ctx, c)
	if got := ivrtest.Values(iv); got["nps"] != int64(9) || got["csat"] != int64(4) || len(got) != 2 {
		t.Errorf("answers %v; want nps 9, csat 4 and nothing forged", got)
	}
	for _, a := range iv.Answers {
		if a.Question == "nps" && a.Paradata.RawKeys != "9#" {
			t.Errorf("nps raw keys %q: forged keys got in", a.Paradata.RawKeys)
		}
	}
	if iv.Status == survey.StatusComplete {
		t.Errorf("status %s", iv.Status)
	}
}
