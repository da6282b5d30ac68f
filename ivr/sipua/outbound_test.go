// Dialing through a trunk: answered, busy, rejected, no answer, cancelled,
// digest auth, and what is refused before dialling.

package sipua_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
	"github.com/canvass/canvass/survey"
)

// Survey dials through a trunk (a test phone standing in for the PBX and
// the respondent): answered surveys run to the end; busy, no answer and
// cancellation come back as outcomes with their SIP status and Q.850 cause.
func TestSurveyDial(t *testing.T) {
	t.Parallel()
	info := ivr.CallInfo{Questionnaire: "post-call", Language: "en", Context: survey.Context{CallID: "case-7"}}
	tests := []struct {
		name           string
		callee         func(t *testing.T, in *sipuatest.Incoming)
		auth           bool
		cancelOnInvite bool // cancel Survey's ctx once the INVITE reaches the callee
		want           ivr.DialResult
		status         survey.Status // how the interview ends
		wantErr        error
	}{
		{name: "answered and surveyed", callee: func(t *testing.T, in *sipuatest.Incoming) {
			if from := in.Req.From(); from.DisplayName != "Acme Survey" || from.Address.User != "4000" {
				t.Errorf("caller id %q <%s>", from.DisplayName, from.Address.User)
			}
			in.Ring()
			c, err := in.Answer(false)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			r := newRespondent(t, ctx, c)
			r.prompt()
			r.answer("10")
			r.answer("5")
			r.answer("7")
			r.answer("1")
			<-c.Done() // the endpoint thanks and hangs up
		}, want: ivr.DialResult{Outcome: survey.DialAnswered, SIPStatus: 200}, status: survey.StatusComplete},
		{name: "answered through digest auth, callee hangs up", auth: true, callee: func(t *testing.T, in *sipuatest.Incoming) {
			c, err := in.Answer(false)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			newRespondent(t, ctx, c).prompt()
			if err := c.WaitSent(ctx, 5); err != nil { // audio carried: an interview, broken off
				t.Error(err)
			}
			if err := c.Hangup(ctx); err != nil {
				t.Error(err)
			}
		}, want: ivr.DialResult{Outcome: survey.DialAnswered, SIPStatus: 200}, status: survey.StatusBreakoff},
		{name: "busy", callee: func(t *testing.T, in *sipuatest.Incoming) {
			in.Ring()
			time.Sleep(100 * time.Millisecond)
			in.Reject(486, "Busy Here", sip.NewHeader("Reason", `Q.850;cause=17;text="User busy"`))
		}, want: ivr.DialResult{Outcome: survey.DialBusy, SIPStatus: 486, Reason: "Busy Here", Q850Cause: 17}},
		{name: "rejected", callee: func(t *testing.T, in *sipuatest.Incoming) {
			in.Reject(603, "Decline", sip.NewHeader("Reason", `Q.850;cause=21`))
		}, want: ivr.DialResult{Outcome: survey.DialRejected, SIPStatus: 603, Reason: "Decline", Q850Cause: 21}},
		{name: "no answer", callee: func(t *testing.T, in *sipuatest.Incoming) {
			in.Ring()
			<-in.Cancelled() // the ring timeout sends CANCEL
		}, want: ivr.DialResult{Outcome: survey.DialNoAnswer, SIPStatus: 487}},
		{name: "cancelled by the caller", cancelOnInvite: true, callee: func(t *testing.T, in *sipuatest.Incoming) {
			in.Ring()
			<-in.Cancelled()
		}, want: ivr.DialResult{Outcome: survey.DialCancelled, SIPStatus: 487}, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			invited := make(chan struct{}, 1)
			popts := sipuatest.PhoneOptions{Log: testLog(t).With("side", "callee"), OnInvite: func(in *sipuatest.Incoming) {
				select {
				case invited <- struct{}{}:
				default:
				}
				tt.callee(t, in)
			}}
			if tt.auth {
				popts.Username, popts.Password = "canvass", "trunk-secret"
			}
			callee, err := sipuatest.NewPhone(popts)
			if err != nil {
				t.Fatal(err)
			}
			defer callee.Close() // after the callee's side of the call is over too
			opts := testOptions()
			opts.Trunk.URI = "sip:" + callee.Addr().String()
			opts.Trunk.FromUser, opts.Trunk.FromDisplay = "4000", "Acme Survey"
			opts.Trunk.RingTimeout = 1500 * time.Millisecond
			if tt.auth {
				opts.Trunk.Username, opts.Trunk.Password = "canvass", "trunk-secret"
			}
			e := start(t, opts, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if tt.cancelOnInvite {
				// sipgo sends the CANCEL once a provisional response came,
				// so the callee's 180 is answered 487 whatever the timing.
				go func() {
					select {
					case <-invited:
						cancel()
					case <-ctx.Done():
					}
				}()
			}
			got, status, err := e.engine.Survey(ctx, e.srv, ivr.DialRequest{To: "+15550001111"}, info)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got.Outcome != tt.want.Outcome || got.SIPStatus != tt.want.SIPStatus || got.Q850Cause != tt.want.Q850Cause ||
				tt.want.Reason != "" && got.Reason != tt.want.Reason || status != tt.status {
				t.Errorf("result %+v (%q), want %+v (%q)", got, status, tt.want, tt.status)
			}
			if got.RingTime <= 0 || tt.want.Outcome == survey.DialAnswered && got.TalkTime <= 0 {
				t.Errorf("ring %s, talk %s", got.RingTime, got.TalkTime)
			}
			if tt.want.Outcome == survey.DialAnswered {
				iv := e.store.WaitFinished(t, 5*time.Second)
				if iv.Context.CallID != "case-7" {
					t.Errorf("interview context %+v", iv.Context)
				}
			}
		})
	}
}

// Survey and Dial refuse before dialling what cannot be called.
func TestDialRefusals(t *testing.T) {
	t.Parallel()
	dialled := make(chan struct{}, 1)
	callee, err := sipuatest.NewPhone(sipuatest.PhoneOptions{OnInvite: func(in *sipuatest.Incoming) {
		dialled <- struct{}{}
		in.Reject(480, "Temporarily Unavailable")
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close()
	opts := testOptions()
	opts.Trunk.URI = "sip:" + callee.Addr().String()
	e := start(t, opts, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tt := range []struct {
		number, questionnaire string
		code                  survey.ErrorCode
	}{
		{"+15550001111", "no-such-survey", survey.ENotFound},
		{"+1 555 000", "post-call", survey.EInvalid},
		{"1234>\r\nX-Evil: 1", "post-call", survey.EInvalid},
		{"sip:@", "post-call", survey.EInvalid},
	} {
		_, _, err := e.engine.Survey(ctx, e.srv, ivr.DialRequest{To: tt.number}, ivr.CallInfo{Questionnaire: tt.questionnaire, Language: "en"})
		if survey.ErrorCodeOf(err) != tt.code {
			t.Errorf("Survey(%q, %s): %v, want code %s", tt.number, tt.questionnaire, err, tt.code)
		}
	}
	for _, r := range []ivr.DialRequest{
		{To: "+15550001111", CallerID: `"Acme" <4000`},
		{To: "+15550001111", CallerID: "\"A\r\nB\" <4000>"},
		{To: "+15550001111", Headers: map[string]string{"Via": "SIP/2.0/UDP evil"}},
		{To: "+15550001111", Headers: map[string]string{"X-Case": "1\r\nX-Evil: 1"}},
		{To: "+15550001111", Variables: map[string]string{"CAMPAIGN": "q3"}},
	} {
		if call, _, err := e.srv.Dial(ctx, r); survey.ErrorCodeOf(err) != survey.EInvalid || call != nil {
			t.Errorf("Dial(%+v): %v, want code %s", r, err, survey.EInvalid)
		}
	}
	select {
	case <-dialled:
		t.Error("a refused call was dialled")
	default:
	}
}
