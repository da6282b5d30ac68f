package survey

// This file is the interviewer's phone as the console and the store see it:
// the state of a call placed from the console, what the network said when it
// ended, and how a supervisor joins it. The switchboard (ivr/phone) moves
// calls through these states; the console shows them and records them.

import (
	"fmt"
	"strings"
	"time"
)

// CallState is where an interviewer's call is.
type CallState string

// Call states. A call goes dialing → (ringing) → answered → ended, or
// dialing → ended when nobody answered.
const (
	CallDialing  CallState = "dialing"
	CallRinging  CallState = "ringing"
	CallAnswered CallState = "answered"
	CallEnded    CallState = "ended"
)

// MonitorMode is how a supervisor joins an interviewer's call.
type MonitorMode string

// Monitor modes; MonitorOff leaves the call.
const (
	MonitorOff     MonitorMode = ""
	MonitorListen  MonitorMode = "listen"  // hears both sides; nobody hears the supervisor
	MonitorWhisper MonitorMode = "whisper" // the interviewer hears the supervisor, the respondent does not
	MonitorBarge   MonitorMode = "barge"   // all three talk
)

// ParseMonitorMode checks a mode sent by a page.
func ParseMonitorMode(s string) (MonitorMode, error) {
	switch m := MonitorMode(s); m {
	case MonitorOff, MonitorListen, MonitorWhisper, MonitorBarge:
		return m, nil
	}
	return "", Errorf(EInvalid, "mode %q is not listen, whisper, barge or \"\" (stop)", Clip(s, 20))
}

// PhoneCall asks for a call from an interviewer's console.
type PhoneCall struct {
	CaseID    CaseID
	AttemptID AttemptID
	Number    string // E.164
	// Language is the respondent's, for what the system says to them
	// (an abandoned call's message); "" is English.
	Language string
	// AMD runs answering-machine detection on a predictive call when set:
	// a machine is hung up on, or told MachineMessage, or (AMDSurvey)
	// passed to an interviewer like a person.
	AMD            AMDPolicy
	MachineMessage string
	// Record: the campaign records its calls; Consent is the wording the
	// interviewer reads when it starts.
	Record bool
}

// CallEvent is an interviewer's call as it moves, sent to their console
// and the floor.
type CallEvent struct {
	User      UserID
	CaseID    CaseID
	AttemptID AttemptID
	CallID    string // the adapter's id of the call
	State     CallState
	// Outcome, once ended: what the network said (DialAnswered when the
	// call was answered; busy, no_answer, not_working… when not). It is
	// what the console pre-fills for the interviewer to record.
	Outcome   DialOutcome
	SIPStatus int
	Q850Cause int
	Reason    string // the network's words, or why the call failed
	// HungUpBy is who ended an answered call: "respondent", "interviewer",
	// "supervisor", "system" (shutdown, the interviewer's browser gone).
	HungUpBy   string
	StartedAt  time.Time
	AnsweredAt time.Time // zero until answered
	EndedAt    time.Time // zero until ended
	Muted      bool
	Held       bool
	// Keypad: the respondent is answering on the keypad (mixed mode);
	// the interviewer does not hear them meanwhile.
	Keypad    bool
	Recording string // the name of the call's recording, "" when not recorded
	// Monitor is how a supervisor is on the call ("" when none), and
	// Supervisor who.
	Monitor    MonitorMode
	Supervisor UserID
}

// Ring is how long the call rang (to the answer or to the end).
func (e CallEvent) Ring() time.Duration {
	switch {
	case !e.AnsweredAt.IsZero():
		return e.AnsweredAt.Sub(e.StartedAt)
	case !e.EndedAt.IsZero():
		return e.EndedAt.Sub(e.StartedAt)
	}
	return 0
}

// Talk is how long the answered call lasted (so far, at now).
func (e CallEvent) Talk(now time.Time) time.Duration {
	if e.AnsweredAt.IsZero() {
		return 0
	}
	if !e.EndedAt.IsZero() {
		now = e.EndedAt
	}
	return now.Sub(e.AnsweredAt)
}

// Cause says in words why a call that was not answered ended, for the phone
// bar: "busy (SIP 486 Busy Here)".
func (e CallEvent) Cause() string {
	var b strings.Builder
	b.WriteString(e.Outcome.Label())
	var detail []string
	if e.SIPStatus != 0 {
		detail = append(detail, fmt.Sprintf("SIP %d", e.SIPStatus))
	}
	if e.Q850Cause != 0 {
		detail = append(detail, fmt.Sprintf("cause %d", e.Q850Cause))
	}
	if e.Reason != "" {
		detail = append(detail, Clip(e.Reason, 80))
	}
	if len(detail) > 0 {
		b.WriteString(" (" + strings.Join(detail, ", ") + ")")
	}
	return b.String()
}

// CallFacts is what the store keeps of a call on its attempt.
type CallFacts struct {
	CallID     string
	SIPStatus  int
	Q850Cause  int
	AnsweredAt time.Time // zero: not answered
	EndedAt    time.Time
	Ring, Talk time.Duration
	Recording  string
	HungUpBy   string // as CallEvent's
	Reason     string // why it ended, in words
	// AMD is the answering-machine detection's verdict (human, machine,
	// notsure, hangup; "" when it did not run), AMDCause why, in app_amd's
	// words, and AMDTime the audio heard until the verdict.
	AMD      string
	AMDCause string
	AMDTime  time.Duration
	// Rule is the cause-table row that settled the attempt ("SIP 486").
	Rule string
	// Abandoned: a person answered and no interviewer was there for them
	// in time; they heard the campaign's abandoned-call message.
	Abandoned bool
}

// Facts is what the store keeps of an ended call.
func (e CallEvent) Facts() CallFacts {
	f := CallFacts{CallID: e.CallID, SIPStatus: e.SIPStatus, Q850Cause: e.Q850Cause, AnsweredAt: e.AnsweredAt,
		EndedAt: e.EndedAt, Ring: e.Ring(), Talk: e.Talk(e.EndedAt), Recording: e.Recording,
		HungUpBy: e.HungUpBy, Reason: e.Reason}
	if f.Reason == "" && e.Outcome != DialAnswered {
		f.Reason = e.Cause()
	}
	return f
}
