package ivr

// This file is the dial seam (DESIGN.md §1, STYLE.md 16): a DialRequest and
// a DialResult shared by every telephony adapter, and a Dialer that places
// a call and hands back the answered leg without running anything on it.
// Whoever dialed decides what runs on the Call: Engine.Survey runs a
// questionnaire through the session seam (session.go), as an inbound call
// does; a bridge to an interviewer can take it instead.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/canvass/canvass/survey"
)

// A DialResult's Outcome is one of survey's dial outcomes; the adapters
// reach them so (a Q.850 cause is that of the Reason header of sipua's final
// response, or of the ChannelDestroyed Asterisk sends):
//
//	outcome         ivr/sipua (SIP final response)        ivr/asterisk (Q.850 cause, else Dial status)
//	answered        2xx with a usable SDP answer           StasisStart of the originated channel
//	busy            486, 600                               17; BUSY
//	no_answer       the ring timeout, 408, 480, 487        18, 19; NOANSWER
//	rejected        603 Decline                            21
//	not_working     404, 410, 484, 604                     1, 22, 28
//	technical       any other response, none, a bad SDP    any other cause
//	cancelled       ctx ended before the answer (CANCEL)   ctx ended before the answer (channel deleted)

// AMDVerdict is what answering-machine detection concluded; the values are
// those the attempt table stores. "" means AMD did not run.
type AMDVerdict string

// AMD verdicts.
const (
	AMDHuman   AMDVerdict = "human"
	AMDMachine AMDVerdict = "machine"
	AMDNotSure AMDVerdict = "notsure"
)

// DialRequest is a call to place.
type DialRequest struct {
	// To is whom to call: a number, dialed through the adapter's trunk
	// (ivr/sipua: number@trunk), or an address of the adapter's own (a sip:
	// URI for ivr/sipua; an Asterisk dial string such as
	// PJSIP/+33612345678@trunk for ivr/asterisk, which needs one).
	To string
	// CallerID is `"Name" <number>` or a number; "" is the adapter's
	// configured caller id.
	CallerID string
	// RingTimeout is how long the call may ring; 0 is the adapter's
	// default.
	RingTimeout time.Duration
	// CaseID and AttemptID say which case and dial attempt the call is;
	// Engine.Survey stores them with the interview.
	CaseID    survey.CaseID
	AttemptID survey.AttemptID
	// Headers are SIP headers for the INVITE (ivr/sipua; X- headers only).
	// ivr/asterisk refuses them: a PJSIP_HEADER(add,…) channel variable
	// does that job there.
	Headers map[string]string
	// Variables are channel variables of the new channel (ivr/asterisk).
	// ivr/sipua has no channel and refuses them.
	Variables map[string]string
	// AMD asks for answering-machine detection on the first seconds of
	// the answered call's audio: ivr/sipua runs media.AMD (app_amd's rules,
	// its options under sip.amd) before Dial returns; ivr/asterisk sends
	// the answered channel to the dialplan context ari.amd_context, which
	// runs Asterisk's AMD() and returns the verdict as Stasis arguments.
	AMD bool
	// Ringing, when set, is called once when the far end is first seen
	// ringing (a console's phone bar shows it); it must not block.
	Ringing func()
}

// DialResult reports a dial.
type DialResult struct {
	Outcome survey.DialOutcome
	// CallID is the adapter's id of the call: the SIP Call-ID, or the
	// Asterisk channel id; "" when no call was placed.
	CallID string
	// SIPStatus is the final SIP response (200 when answered; 0 when none
	// came, and always with ivr/asterisk, which does not see it).
	SIPStatus int
	// Q850Cause is the ISDN cause of a call not answered (17 user busy, 19
	// no answer, 21 call rejected…); 0 when there is none. For an answered
	// call Engine.Survey sets the cause of its hangup when the adapter
	// knows it.
	Q850Cause int
	// Reason is the SIP reason phrase, Asterisk's text for the cause, or
	// why the call failed.
	Reason string
	// Rang: the far end was seen ringing. Provisional responses can be
	// lost, so false does not prove it did not ring.
	Rang bool
	// RingTime runs from the request to the answer or the final failure.
	RingTime time.Duration
	// TalkTime runs from the answer to the hangup: it is known once the
	// call is over, from Call.Close (Engine.Survey fills it in).
	TalkTime time.Duration
	// AMD is the detection's verdict; "" when it did not run.
	AMD AMDVerdict
	// AMDCause is why, as app_amd's AMDCAUSE reads ("MAXWORDS-3-3",
	// "HUMAN-800-800", "TOOLONG-5000"; "HANGUP" when the call ended
	// first), and AMDTime the audio heard until the verdict.
	AMDCause string
	AMDTime  time.Duration
	// Transferred: Engine.Survey handed the answered call to an
	// interviewer (CallInfo.Transfer), who now has it and the interview in
	// progress; TalkTime is then unknown to the caller.
	Transferred bool
}

// Call is an answered call returned by Dial. It is the call's Media, so
// Session.Run conducts a survey over it as over an inbound call.
type Call interface {
	Media
	// Close hangs the call up if it is still up, waits until the adapter
	// has let go of it, and reports how long it lasted. Whoever dialed
	// calls it once when done with the call, whoever hung up: until then
	// the call counts against the adapter's limits and holds up its
	// shutdown.
	Close(ctx context.Context) (CallEnd, error)
}

// CallEnd is how an answered call ended.
type CallEnd struct {
	Talk      time.Duration // from the answer to the hangup
	Q850Cause int           // of the hangup, when the adapter knows it; else 0
	Reason    string        // the adapter's text for the cause
}

// Dialer places calls; ivr/sipua's Server and ivr/asterisk's Client are
// Dialers (the assertions are in cmd/canvass).
type Dialer interface {
	// Dial calls r.To and returns once the call is answered or has
	// failed. An answered call is returned, with the outcome
	// survey.DialAnswered, for the caller to use and Close; otherwise the Call is
	// nil and the result says why (busy, no answer… with a nil error).
	// Ending ctx before the answer abandons the call (survey.DialCancelled, with
	// ctx's error); after the answer it does nothing to the call. A
	// request the adapter cannot place (a bad number, the adapter full,
	// shutting down or disconnected) is an error, with no call placed.
	Dial(ctx context.Context, r DialRequest) (Call, DialResult, error)
}

// Survey places r's call through d and, when someone answers, runs the
// survey of info on it to the end and closes it. The interview keeps r's
// case and attempt. The questionnaire is found before dialing (Prepare), so
// nobody is called for a survey that cannot run. It returns the dial's
// result, with the talk time once the call is over, and how the interview
// ended ("" when nobody answered). Ending ctx before the answer abandons
// the call; after it, the engine closes the interview (cause "shutdown")
// and hangs up.
func (e *Engine) Survey(ctx context.Context, d Dialer, r DialRequest, info CallInfo) (DialResult, survey.Status, error) {
	info.CaseID, info.AttemptID = r.CaseID, r.AttemptID
	handed := false
	if tr := info.Transfer; tr != nil {
		info.Transfer = func(ctx context.Context, c Call, id survey.InterviewID) (bool, error) {
			ok, err := tr(ctx, c, id)
			handed = handed || ok
			return ok, err
		}
	}
	sess, err := e.Prepare(ctx, info)
	if err != nil {
		return DialResult{Outcome: survey.DialTechnical}, "", fmt.Errorf("dial %s: %w", r.To, err)
	}
	call, res, err := d.Dial(ctx, r)
	if err != nil || call == nil {
		return res, "", err
	}
	if res.AMD == AMDMachine && info.OnMachine != "" {
		return e.machine(ctx, call, res, info)
	}
	status, err := sess.Run(ctx, call)
	if handed {
		// The call is the interviewer's now, to carry and close.
		res.Transferred = true
		return res, survey.StatusInProgress, err
	}
	if errors.Is(err, ErrHangup) {
		err = nil
	}
	end, cerr := call.Close(context.WithoutCancel(ctx))
	res.TalkTime = end.Talk
	if end.Q850Cause != 0 {
		res.Q850Cause, res.Reason = end.Q850Cause, end.Reason
	}
	if cerr != nil {
		err = errors.Join(err, fmt.Errorf("close call %s: %w", res.CallID, cerr))
	}
	return res, status, err
}

// machine ends a call answering-machine detection took for a machine, as
// info.OnMachine says: with its message said first, or at once.
func (e *Engine) machine(ctx context.Context, call Call, res DialResult, info CallInfo) (DialResult, survey.Status, error) {
	var err error
	if info.OnMachine == "message" && info.Message != "" {
		ch := NewCall(call, e.now)
		err = ch.Say(ctx, Prompt{ID: "machine_message", Language: info.Language, Text: info.Message})
		if errors.Is(err, ErrHangup) {
			err = nil
		}
	}
	end, cerr := call.Close(context.WithoutCancel(ctx))
	res.TalkTime = end.Talk
	if cerr != nil {
		err = errors.Join(err, fmt.Errorf("close call %s: %w", res.CallID, cerr))
	}
	return res, "", err
}
