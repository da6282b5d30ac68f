// SRTP (SDES) with a real phone: baresip 1.0.0's srtp module, which
// encrypts with its own SRTP code (libre), not pion's. Both ends refuse
// plain packets once SRTP is on (baresip logs "failed to decrypt", the
// endpoint counts junk), so a prompt the phone heard proves our packets
// decrypt there, and a stored key proves the phone's RFC 4733 packets
// decrypt here.

package sipua_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/ivrtest"
	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/ivr/sipua/baresiptest"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

// baresipSRTPOn is what baresip 1.0.0 prints once a call's SRTP is keyed.
const baresipSRTPOn = "SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)"

// Keypad calls from baresip with SRTP into an endpoint that requires it:
// one with srtp-mand (RTP/SAVP) over UDP, one with srtp-mand over TLS (the
// production shape: the keys travel encrypted), one with best-effort srtp
// (RTP/AVP with a key). Each answers NPS and CSAT by RFC 4733 keys, which
// must be stored.
func TestBaresipSRTP(t *testing.T) {
	t.Parallel()
	db := sqltest.New(t)
	putPostCall(t, db)
	opts := testOptions()
	opts.RTPTimeout = 10 * time.Second
	opts.SRTP = sipua.SRTPRequired
	opts.TLSAddr = "127.0.0.1:0"
	opts.TLSCert, opts.TLSKey = certFiles(t, t.TempDir(), "127.0.0.1")
	e := startPG(t, db, opts)
	silence := make([]int16, 8000*30)

	var calls sync.WaitGroup
	call := func(name string, f func(t *testing.T)) { calls.Go(func() { t.Run(name, f) }) }
	defer calls.Wait()
	for _, tc := range []struct {
		name, mediaEnc, callID, uri string
	}{
		{"srtp-mand over UDP", "srtp-mand", "srtp-udp", fmt.Sprintf("sip:post-call@%s;lang=en;call_id=srtp-udp", e.srv.Addr())},
		{"srtp-mand over TLS", "srtp-mand", "srtp-tls", fmt.Sprintf("sip:post-call@%s;transport=tls;lang=en;call_id=srtp-tls", e.srv.TLSAddr())},
		{"best-effort srtp", "srtp", "srtp-be", fmt.Sprintf("sip:post-call@%s;lang=en;call_id=srtp-be", e.srv.Addr())},
	} {
		call(tc.name, func(t *testing.T) {
			b := baresiptest.Start(t, baresiptest.Options{Name: tc.callID, Say: silence, MediaEnc: tc.mediaEnc, CAFile: opts.TLSCert})
			b.Dial(tc.uri)
			b.WaitEstablished(10 * time.Second)
			b.WaitOutput(baresipSRTPOn, 5*time.Second)
			b.TypeAfter(1500*time.Millisecond, "9")
			b.TypeAfter(time.Second, "#")
			e.answered(t, tc.callID, "nps", 10*time.Second)
			b.Type("5")
			e.answered(t, tc.callID, "csat", 10*time.Second)
			b.Type("b")
			b.WaitClosed(5 * time.Second)
			iv := e.interview(t, tc.callID, 5*time.Second)
			if got := ivrtest.Values(iv); got["nps"] != int64(9) || got["csat"] != int64(5) || iv.EndCause != "hangup" {
				t.Errorf("interview %s (%s) with %v; want nps 9 and csat 5 stored, ended by the phone", iv.Status, iv.EndCause, got)
			}
			heard := b.Heard()
			if p := baresiptest.Power(heard, 440, 8000); len(heard) < 8000 || p < 1e5 {
				t.Errorf("the phone heard %.1fs with 440 Hz at power %.0f; want the prompts' tone (our SRTP decrypted)", float64(len(heard))/8000, p)
			}
			if strings.Contains(b.Output(), "failed to decrypt") {
				t.Errorf("baresip could not decrypt some of our packets:\n%s", b.Output())
			}
		})
	}
}

// What does not match is refused with 488 before anything rings: a plain
// phone calling an endpoint that requires SRTP, and an SRTP-only phone
// calling one that does not do SRTP.
func TestBaresipSRTPRefused(t *testing.T) {
	t.Parallel()
	silence := make([]int16, 8000*10)
	for _, tc := range []struct {
		name     string
		endpoint sipua.SRTP
		phone    string
	}{
		{"plain phone, SRTP required", sipua.SRTPRequired, ""},
		{"SRTP phone, SRTP off", sipua.SRTPOff, "srtp-mand"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := testOptions()
			opts.SRTP = tc.endpoint
			e := start(t, opts, nil)
			b := baresiptest.Start(t, baresiptest.Options{Name: "refused-" + string(tc.endpoint), Say: silence, MediaEnc: tc.phone})
			b.Dial(fmt.Sprintf("sip:post-call@%s;lang=en", e.srv.Addr()))
			b.WaitOutput("488 Not Acceptable Here", 10*time.Second)
			if strings.Contains(b.Output(), "Call established") {
				t.Errorf("the call was answered:\n%s", b.Output())
			}
		})
	}
}

// Canvass dials phones through a trunk with SRTP: required, to a phone
// that takes SRTP only; optional, to a phone with best-effort SRTP, and to
// a plain phone (the call is plain RTP). Keys go both ways as RFC 4733
// events, inside SRTP when it was negotiated.
func TestBaresipDialSRTP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		trunk    sipua.SRTP
		mediaEnc string
		srtp     bool
	}{
		{"required, srtp-mand phone", sipua.SRTPRequired, "srtp-mand", true},
		{"optional, best-effort phone", sipua.SRTPOptional, "srtp", true},
		{"optional, plain phone", sipua.SRTPOptional, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			phone := baresiptest.Start(t, baresiptest.Options{Name: "dial-srtp-" + tc.mediaEnc, Say: make([]int16, 8000*20), AutoAnswer: true, MediaEnc: tc.mediaEnc})
			opts := testOptions()
			opts.Trunk.URI = "sip:" + phone.Addr()
			opts.Trunk.SRTP = tc.trunk
			e := start(t, opts, nil)
			call, res, err := e.srv.Dial(ctx, ivr.DialRequest{To: "tester"})
			if err != nil || call == nil {
				t.Fatalf("dial: %+v %v", res, err)
			}
			defer func() {
				if _, err := call.Close(ctx); err != nil {
					t.Error(err)
				}
			}()
			phone.WaitEstablished(5 * time.Second)
			if tc.srtp {
				phone.WaitOutput(baresipSRTPOn, 5*time.Second)
			}
			if err := keypadOf(t, call).SendDigits(ctx, "42#"); err != nil {
				t.Fatal(err)
			}
			if !phone.Printed("(end=1)", 3, 5*time.Second) {
				t.Fatalf("baresip did not see our 3 keys:\n%s", phone.Output())
			}
			if got := strings.Join(keysOf(phone.Output()), ""); got != "42#" {
				t.Errorf("baresip received %q, want 42#", got)
			}
			phone.Type("7")
			select {
			case k := <-call.Keys():
				if k.Digit != '7' {
					t.Errorf("key %q from the phone, want 7", k.Digit)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no key from the phone")
			}
			if on := strings.Contains(phone.Output(), "SRTP is Enabled"); on != tc.srtp {
				t.Errorf("baresip's SRTP on: %v, want %v", on, tc.srtp)
			}
			if strings.Contains(phone.Output(), "failed to decrypt") {
				t.Errorf("baresip could not decrypt some of our packets:\n%s", phone.Output())
			}
		})
	}
}

// With sip.srtp optional, a plain phone gets a plain call: its offer has
// no key; and, calling with a late offer, it answers in its ACK our offer
// of RTP/AVP with keys in plain RTP. It hears the prompts, and its keys
// (typed until one lands in a question: the first prompts take none) are
// stored.
func TestSRTPOptionalPlainPhone(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.SRTP = sipua.SRTPOptional
	e := start(t, opts, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for i, o := range []sipuatest.DialOptions{{}, {LateOffer: true}} {
		c := e.dial(ctx, o)
		r := newRespondent(t, ctx, c)
		r.prompt()
		id := survey.InterviewID(i + 1)
		for stored := false; !stored; {
			if ctx.Err() != nil {
				t.Fatalf("call %d: no answer stored", i+1)
			}
			if err := c.SendKeys(ctx, "9#", 150*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			iv, _ := e.store.Interview(id)
			stored = len(iv.Answers) > 0
		}
		if iv := e.hangUp(ctx, c); ivrtest.Values(iv)["nps"] != int64(9) {
			t.Errorf("call %d (late offer %v): answers %v, want nps 9", i+1, o.LateOffer, ivrtest.Values(iv))
		}
	}
}

// keysOf are the keys baresip printed as received, once each.
func keysOf(out string) []string {
	var keys []string
	for _, m := range baresipEvent.FindAllStringSubmatch(out, -1) {
		if m[2] == "0" {
			keys = append(keys, m[1])
		}
	}
	return keys
}
