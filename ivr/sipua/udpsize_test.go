// The endpoint's own large requests (RFC 3261 §18.1.1): over TCP when the
// peer takes TCP, over UDP when it refuses it.

package sipua_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/sipua/internal/siplimits"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
	"github.com/canvass/canvass/survey"
)

// bigHeaders are X- headers that make an INVITE about 2 KB, as a trunk
// call carrying a survey request's context would be.
func bigHeaders() map[string]string {
	hs := map[string]string{}
	for i := range 8 {
		hs[fmt.Sprintf("X-Context-%d", i)] = strings.Repeat(string(rune('a'+i)), 180)
	}
	return hs
}

// TestLargeInviteOverTCP: an INVITE to a trunk over 1,300 bytes goes over
// TCP to a trunk that listens on UDP and TCP (its Via says TCP), the call
// is answered and its BYE reaches the phone; a small one stays on UDP.
func TestLargeInviteOverTCP(t *testing.T) {
	t.Parallel()
	type seen struct {
		transport, via string
		size           int
		err            error // of the answer, once ACKed
	}
	invites := make(chan seen, 2)
	callee, err := sipuatest.NewPhone(sipuatest.PhoneOptions{Log: testLog(t).With("side", "callee"), OnInvite: func(in *sipuatest.Incoming) {
		got := seen{transport: in.Req.Transport(), via: in.Req.Via().Transport, size: len(in.Req.String())}
		c, err := in.Answer(false)
		got.err = err
		invites <- got
		if err != nil {
			return
		}
		defer c.Close()
		<-c.Done()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close()
	opts := testOptions()
	opts.Trunk.URI = "sip:" + callee.Addr().String()
	e := start(t, opts, nil)
	for _, tt := range []struct {
		name    string
		headers map[string]string
		want    string
	}{
		{"large", bigHeaders(), "TCP"},
		{"small", nil, "UDP"},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		call, res, err := e.srv.Dial(ctx, ivr.DialRequest{To: "+15550001111", Headers: tt.headers})
		if err != nil || call == nil || res.Outcome != survey.DialAnswered {
			cancel()
			t.Fatalf("%s INVITE: %+v %v", tt.name, res, err)
		}
		got := <-invites
		if got.err != nil {
			t.Errorf("%s INVITE: the phone's answer: %v", tt.name, got.err)
		}
		if got.transport != tt.want || got.via != tt.want {
			t.Errorf("%s INVITE (%d bytes) came over %s, Via %s; want %s", tt.name, got.size, got.transport, got.via, tt.want)
		}
		if tt.want == "TCP" && got.size <= 1300 {
			t.Errorf("the large INVITE is %d bytes: the test needs one over 1,300", got.size)
		}
		if _, err := call.Close(ctx); err != nil {
			t.Errorf("%s: hang up (BYE): %v", tt.name, err)
		}
		cancel()
	}
}

// TestLargeInviteUDPOnly: a trunk that refuses TCP gets the large INVITE
// over UDP all the same, whole (here it answers busy).
func TestLargeInviteUDPOnly(t *testing.T) {
	t.Parallel()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing listens on TCP at that port: a TCP connection is refused.
	siplimits.Apply()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("trunk"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	sizes := make(chan int, 4)
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		sizes <- len(req.String())
		if err := tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBusyHere, "Busy Here", nil)); err != nil {
			t.Error(err)
		}
	})
	srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	go srv.ServeUDP(conn)
	defer conn.Close()

	opts := testOptions()
	opts.Trunk.URI = "sip:" + conn.LocalAddr().String()
	e := start(t, opts, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	_, res, err := e.srv.Dial(ctx, ivr.DialRequest{To: "+15550001111", Headers: bigHeaders()})
	if err != nil || res.Outcome != survey.DialBusy || res.SIPStatus != 486 {
		t.Fatalf("large INVITE to a UDP-only trunk: %+v %v; want busy, 486", res, err)
	}
	if n := <-sizes; n <= 1300 {
		t.Errorf("the INVITE the trunk read is %d bytes; the test needs one over 1,300", n)
	}
}
