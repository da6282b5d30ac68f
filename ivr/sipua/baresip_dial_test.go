// The endpoint dialing a real phone (baresip, run by baresiptest): the
// console's keypad reaches it as RFC 4733 events (baresip 1.0.0 prints
// "received event: 'K' (end=0|1)" for each) or as tones in the audio it
// records, and Dial's outcomes are what the phone's answers mean: 404 for
// a user it does not have, 486 when the user rejects the call or the phone
// is at its call_max_calls, and no answer when it rings past RingTimeout.

package sipua_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua/baresiptest"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
	"github.com/canvass/canvass/survey"
)

// baresipEvent is how baresip 1.0.0 logs a telephone-event it received
// (src/call.c audio_event_handler).
var baresipEvent = regexp.MustCompile(`received event: '(.)' \(end=([01])\)`)

func TestBaresipReceivesDigits(t *testing.T) {
	t.Parallel()
	const digits = "0123456789*#ABCD"
	silence := make([]int16, 8000*20)
	t.Run("rfc4733", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		phone := baresiptest.Start(t, baresiptest.Options{Name: "keypad-rfc4733", Say: silence, AutoAnswer: true})
		e := start(t, testOptions(), nil)
		call, res, err := e.srv.Dial(ctx, ivr.DialRequest{To: phone.URI("tester")})
		if err != nil || res.Outcome != survey.DialAnswered {
			t.Fatalf("dial: %+v %v", res, err)
		}
		defer func() {
			if _, err := call.Close(ctx); err != nil {
				t.Error(err)
			}
		}()
		if err := keypadOf(t, call).SendDigits(ctx, digits); err != nil {
			t.Fatal(err)
		}
		if !phone.Printed("(end=1)", len(digits), 5*time.Second) {
			t.Fatalf("baresip did not see %d key releases:\n%s", len(digits), phone.Output())
		}
		var starts, ends strings.Builder
		for _, m := range baresipEvent.FindAllStringSubmatch(phone.Output(), -1) {
			if m[2] == "0" {
				starts.WriteString(m[1])
			} else {
				ends.WriteString(m[1])
			}
		}
		if starts.String() != digits {
			t.Errorf("baresip received keys %q, want %q", starts.String(), digits)
		}
		if n := strings.Count(phone.Output(), "(end=1)"); n != len(digits) {
			t.Errorf("baresip saw %d key releases, want %d", n, len(digits))
		}
	})
	t.Run("in-band", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		phone := baresiptest.Start(t, baresiptest.Options{Name: "keypad-inband", Say: silence, AutoAnswer: true})
		opts := testOptions()
		opts.AcceptTelephoneEvent = false // our offer has no telephone-event
		e := start(t, opts, nil)
		call, res, err := e.srv.Dial(ctx, ivr.DialRequest{To: phone.URI("tester")})
		if err != nil || res.Outcome != survey.DialAnswered {
			t.Fatalf("dial: %+v %v", res, err)
		}
		if err := keypadOf(t, call).SendDigits(ctx, digits); err != nil {
			t.Fatal(err)
		}
		if _, err := call.Close(ctx); err != nil {
			t.Fatal(err)
		}
		phone.WaitClosed(5 * time.Second)
		var got strings.Builder
		media.NewDetector().Write(phone.Heard(), func(d rune) { got.WriteRune(d) })
		if got.String() != digits {
			t.Errorf("media's detector found %q in what baresip heard, want %q", got.String(), digits)
		}
		if baresipEvent.MatchString(phone.Output()) {
			t.Error("baresip received telephone-events on a call that negotiated none")
		}
	})
}

func TestBaresipDialOutcomes(t *testing.T) {
	t.Parallel()
	silence := make([]int16, 8000*20)
	// dial calls the phone through a fresh endpoint (no trunk: a sip: URI).
	dial := func(t *testing.T, ctx context.Context, uri string, ring time.Duration) ivr.DialResult {
		t.Helper()
		e := start(t, testOptions(), nil)
		call, res, err := e.srv.Dial(ctx, ivr.DialRequest{To: uri, RingTimeout: ring})
		if err != nil || call != nil {
			t.Fatalf("dial %s: %v %+v %v; want an unanswered call", uri, call, res, err)
		}
		if res.RingTime <= 0 || res.CallID == "" {
			t.Errorf("result %+v: no ring time or Call-ID", res)
		}
		return res
	}
	t.Run("no such user", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		phone := baresiptest.Start(t, baresiptest.Options{Name: "outcome-404", Say: silence})
		res := dial(t, ctx, phone.URI("nobody"), 5*time.Second)
		if res.Outcome != survey.DialNotWorking || res.SIPStatus != 404 || res.Rang {
			t.Errorf("result %+v, want not_working by 404 without ringing", res)
		}
	})
	t.Run("rejected by the user", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		phone := baresiptest.Start(t, baresiptest.Options{Name: "outcome-reject", Say: silence})
		go func() {
			// baresip rejects a ringing call it hangs up with 486
			// (src/call.c call_hangup).
			if phone.Printed("Incoming call", 1, 10*time.Second) {
				phone.Type("b")
			}
		}()
		res := dial(t, ctx, phone.URI("tester"), 10*time.Second)
		if res.Outcome != survey.DialBusy || res.SIPStatus != 486 || !res.Rang {
			t.Errorf("result %+v, want busy by 486 after ringing", res)
		}
	})
	t.Run("at its call limit", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		// The phone is on a call (to a test phone that answers), and takes
		// one call at a time.
		hungUp := make(chan struct{})
		other, err := sipuatest.NewPhone(sipuatest.PhoneOptions{Log: testLog(t).With("side", "other"), OnInvite: func(in *sipuatest.Incoming) {
			defer close(hungUp)
			c, err := in.Answer(false)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			<-c.Done()
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		phone := baresiptest.Start(t, baresiptest.Options{Name: "outcome-max-calls", Say: silence, MaxCalls: 1})
		phone.Dial(other.URI("someone"))
		phone.WaitEstablished(10 * time.Second)
		res := dial(t, ctx, phone.URI("tester"), 5*time.Second)
		if res.Outcome != survey.DialBusy || res.SIPStatus != 486 || res.Rang {
			t.Errorf("result %+v, want busy by 486 without ringing", res)
		}
		phone.Type("b") // hang up: the other phone's handler returns
		select {
		case <-hungUp:
		case <-ctx.Done():
			t.Fatal("baresip did not hang up its first call")
		}
	})
	t.Run("rings, never answered", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		phone := baresiptest.Start(t, baresiptest.Options{Name: "outcome-no-answer", Say: silence})
		const ring = 1500 * time.Millisecond
		res := dial(t, ctx, phone.URI("tester"), ring)
		if res.Outcome != survey.DialNoAnswer || res.SIPStatus != 487 || !res.Rang || res.RingTime < ring || res.RingTime > ring+2*time.Second {
			t.Errorf("result %+v, want no_answer after ringing %s (487 to our CANCEL)", res, ring)
		}
		phone.WaitOutput("Incoming call", time.Second)
	})
}
