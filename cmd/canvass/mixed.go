package main

// Mixed mode meets here, where ivr, the switchboard and the console are
// all in reach: a keypad respondent who presses the campaign's agent key is
// handed through the console (cati.Server.Transfer) to the switchboard
// (phone.Switchboard.Adopt), and an interviewer's respondent is handed to
// the IVR engine's keypad (ivr.Engine.Keypad) through the switchboard
// (phone.Switchboard.Keypad).

import (
	"context"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/dialer"
	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/phone"
	"github.com/canvass/canvass/survey"
)

var _ cati.Keypads = keypads{}

// keypads hands interviewers' respondents to the engine's keypad.
type keypads struct {
	sb     *phone.Switchboard
	engine *ivr.Engine
}

// Keypad asks the interview's keypad questions from from on user's call
// (cati.Keypads).
func (k keypads) Keypad(user survey.UserID, interview survey.InterviewID, from string, done func(error)) error {
	return k.sb.Keypad(user, func(ctx context.Context, m ivr.Media) error {
		_, err := k.engine.Keypad(ctx, m, interview, from)
		done(err)
		return err
	})
}

// transfers hands keypad respondents who press the agent key to free
// interviewers; set once the console server exists.
type transfers struct {
	sb  *phone.Switchboard
	srv *cati.Server
}

// callInfo gives info the campaign's agent key and the hand-over to an
// interviewer, when c's campaign is in mixed mode and the console has a
// phone.
func (t *transfers) callInfo(c dialer.Call, info *ivr.CallInfo) {
	if t == nil || t.srv == nil || t.sb == nil || c.AgentKey == "" {
		return
	}
	info.AgentKey = c.AgentKey
	info.Transfer = func(ctx context.Context, call ivr.Call, id survey.InterviewID) (bool, error) {
		job := c.Job
		job.Interview = id
		pc := survey.PhoneCall{CaseID: job.Case, AttemptID: job.Attempt, Number: job.Phone, Language: job.Language}
		user, err := t.srv.Transfer(ctx, job, func(u survey.UserID) error { return t.sb.Adopt(call, pc, u, "") })
		return user != 0, err
	}
}
