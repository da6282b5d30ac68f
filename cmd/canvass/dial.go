package main

// Both telephony adapters place calls through one dial seam: ivr.Dialer
// returns the answered leg, and ivr.Engine.Survey runs a questionnaire on
// it. keypadCalls is the dialer's Originator over them: it places a keypad
// campaign's call and translates the adapter's result into the dialer's
// Signal and the attempt's facts.

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/config"
	"github.com/canvass/canvass/dialer"
	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/asterisk"
	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

var (
	_ ivr.Dialer        = (*sipua.Server)(nil)
	_ ivr.Dialer        = (*asterisk.Client)(nil)
	_ dialer.Originator = keypadCalls{}
	_ dialer.Store      = (*sql.DB)(nil)
	_ dialer.Node       = (*ivr.Engine)(nil)
	_ dialer.Agents     = (*cati.Server)(nil)
	_ ivr.Resumer       = (*sql.DB)(nil)
)

// keypadCalls places keypad calls through an ivr.Dialer and runs the
// questionnaire on them with the engine.
type keypadCalls struct {
	engine     *ivr.Engine
	dialer     ivr.Dialer
	dialString string     // {number} replaced; "" dials the number as is
	transfers  *transfers // mixed mode; nil or empty: off
}

// Survey places c and runs its survey (dialer.Originator).
func (k keypadCalls) Survey(ctx context.Context, c dialer.Call) (dialer.Result, error) {
	to := c.Job.Phone
	if k.dialString != "" {
		to = strings.ReplaceAll(k.dialString, "{number}", c.Job.Phone)
	}
	req := ivr.DialRequest{To: to, CallerID: c.CallerID, RingTimeout: c.Ring, CaseID: c.Job.Case, AttemptID: c.Job.Attempt,
		AMD: c.AMD != survey.AMDOff}
	info := ivr.CallInfo{Questionnaire: c.Job.Questionnaire, Language: c.Job.Language, Contact: c.Job.Contact,
		Resume: c.Job.Interview, Keep: c.Keep, Context: c.Job.Context}
	if info.Context.CallerNumber == "" {
		info.Context.CallerNumber = c.Job.Phone
	}
	if c.AMD == survey.AMDHangup || c.AMD == survey.AMDMessage {
		info.OnMachine, info.Message = string(c.AMD), c.MachineMessage
	}
	k.transfers.callInfo(c, &info)
	start := time.Now()
	res, status, err := k.engine.Survey(ctx, k.dialer, req, info)
	out := keypadResult(res, status, start, err)
	out.Handed = res.Transferred
	return out, err
}

// keypadResult is what the dialer needs of an adapter's dial result.
func keypadResult(res ivr.DialResult, status survey.Status, start time.Time, err error) dialer.Result {
	answered := res.Outcome == survey.DialAnswered
	sig := dialer.SignalOf(res.Outcome, res.SIPStatus, res.Q850Cause)
	sig.AMD = dialer.AMD(res.AMD)
	if answered {
		sig.SIPStatus, sig.Q850 = 200, 0 // the hangup's cause is not the dial's
	}
	if status != "" {
		sig.AMD = "" // the survey ran (AMD policy survey, or not a machine): the interview decides
	}
	if err != nil && !answered && res.Outcome == "" {
		sig = dialer.Signal{} // not placed: no response, retried soon
	}
	f := survey.CallFacts{CallID: res.CallID, SIPStatus: res.SIPStatus, Q850Cause: res.Q850Cause,
		Ring: res.RingTime, Talk: res.TalkTime, EndedAt: time.Now(), Reason: res.Reason,
		AMD: string(res.AMD), AMDCause: res.AMDCause, AMDTime: res.AMDTime}
	if answered {
		f.AnsweredAt = start.Add(res.RingTime)
		f.HungUpBy = "system"
		if status == survey.StatusInProgress || status == survey.StatusPartial || status == survey.StatusBreakoff {
			f.HungUpBy = "respondent"
		}
	}
	return dialer.Result{Signal: sig, Facts: f, Status: status}
}

// wireDialer makes the dialer's runner: it dials keypad campaigns when a
// telephony can place their calls, and progressive campaigns and
// auto-dialed previews through the console when it has a phone. nil when
// dialer.via is off.
func wireDialer(cfg config.Config, db *sql.DB, engine *ivr.Engine, sip *sipua.Server, ari *asterisk.Client, t *transfers, log *slog.Logger) (*dialer.Runner, error) {
	o := cfg.Dialer
	trunk := sip != nil && cfg.SIP.Trunk.URI != ""
	var k dialer.Originator
	switch {
	case o.Via == "off":
		return nil, nil
	case (o.Via == "sip" || o.Via == "auto") && trunk:
		k = keypadCalls{engine: engine, dialer: sip, transfers: t}
	case (o.Via == "ari" || o.Via == "auto") && ari != nil:
		if !strings.Contains(o.ARIDial, "{number}") {
			return nil, errors.New("dialer.ari_dial: give the Asterisk dial string with {number}, e.g. PJSIP/{number}@trunk")
		}
		k = keypadCalls{engine: engine, dialer: ari, dialString: o.ARIDial, transfers: t}
		if cfg.ARI.AMDContext == "" {
			log.Warn("campaigns with an answering-machine policy cannot be dialed through Asterisk until ari.amd_context names a dialplan context that runs AMD() (README)")
		}
	case o.Via == "sip":
		return nil, errors.New("dialer.via: sip needs the SIP endpoint (sip.addr) and a trunk to dial through (sip.trunk.uri, CANVASS_SIP_TRUNK_URI)")
	case o.Via == "ari":
		return nil, errors.New("dialer.via: ari needs Asterisk (ari.url, CANVASS_ARI_URL)")
	default:
		log.Info("keypad campaigns are not dialed: they need a trunk (CANVASS_SIP_TRUNK_URI) or Asterisk to dial through")
	}
	return dialer.NewRunner(db, k, o, nil, log.With("component", "dialer")), nil
}

// dialerHint says in a line how campaigns are dialed, and what to set for
// keypad campaigns when nothing can dial them.
func dialerHint(cfg config.Config) string {
	o := cfg.Dialer
	trunk := cfg.SIP.Addr != "" && cfg.SIP.Trunk.URI != ""
	switch {
	case o.Via == "off":
		return "off (dialer.via); campaigns are dialed by interviewers in preview only"
	case (o.Via == "sip" || o.Via == "auto") && trunk:
		return "keypad campaigns dialed through the SIP trunk " + cfg.SIP.Trunk.URI + "; progressive and predictive through the browser phone"
	case (o.Via == "ari" || o.Via == "auto") && cfg.ARI.Enabled():
		return "keypad campaigns dialed through Asterisk as " + o.ARIDial + "; progressive and predictive through the browser phone"
	}
	return "keypad campaigns wait for a trunk (CANVASS_SIP_TRUNK_URI=sip:host:port) or Asterisk to dial through"
}
