package asterisk

// This file takes an inbound channel from the dialplan to a survey:
//
//	same => n,Stasis(canvass,questionnaire=post-call,agent=${MEMBERINTERFACE},queue=${QUEUENAME},lang=fr)
//	same => n,Hangup()
//
// Asterisk splits the arguments on commas; each is key=value. The interview
// context comes from them (agent, queue, call_id, touchpoint, lang; other
// keys go to Context.Extra), then from channel variables that ari.conf's
// `channelvars` exposes (MEMBERINTERFACE, QUEUENAME, CHANNEL(linkedid)),
// then from the channel itself (caller id number; its uniqueid as the call
// id when nothing better is given).
//
// Sampling: with ari.sample_share below 1, Canvass draws each inbound call
// with crypto/rand. A call not drawn is sent back to the dialplan with
// POST /channels/{id}/continue, so it goes on at the priority after Stasis()
// — normally Hangup(). Originated calls never come here, except one that
// answers after its Dial gave up: it is hung up.

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/survey"
)

// dialKey is the Stasis argument that marks a channel Canvass originated.
const dialKey = "canvass_dial"

// callInfo reads the interview context of a StasisStart.
func callInfo(ev event) ivr.CallInfo {
	var info ivr.CallInfo
	ctx := &info.Context
	set := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	for i, arg := range ev.Args {
		k, v, ok := strings.Cut(arg, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok { // Stasis(canvass,post-call): a bare first word names the questionnaire
			if i == 0 {
				info.Questionnaire = k
			} else if k != "" {
				extra(ctx, "arg"+strconv.Itoa(i), k)
			}
			continue
		}
		if v == "" {
			continue // agent=${MEMBERINTERFACE} with the variable unset
		}
		switch k {
		case "questionnaire", "survey":
			info.Questionnaire = v
		case "lang", "language":
			info.Language = v
		case "agent":
			ctx.Agent = v
		case "queue":
			ctx.Queue = v
		case "call_id", "callid":
			ctx.CallID = v
		case "touchpoint":
			ctx.Touchpoint = v
		case "customer_id", "customer":
			ctx.CustomerID = v
		case "caller", "caller_number":
			ctx.CallerNumber = v
		default:
			extra(ctx, k, v)
		}
	}
	set(&ctx.Agent, ev.Vars["MEMBERINTERFACE"])
	set(&ctx.Queue, ev.Vars["QUEUENAME"])
	set(&ctx.CallID, ev.Vars["CHANNEL(linkedid)"])
	set(&ctx.CallID, ev.Vars["LINKEDID"])
	set(&ctx.CallID, ev.Channel) // the channel's uniqueid
	set(&ctx.CallerNumber, ev.Caller)
	return info
}

func extra(ctx *survey.Context, k, v string) {
	if ctx.Extra == nil {
		ctx.Extra = map[string]string{}
	}
	ctx.Extra[k] = v
}

// Gate decides whether a call Asterisk transferred is surveyed, by the
// rules of survey requests (sampling by touchpoint or agent, survey
// fatigue, do-not-call), and keeps the decision; cmd/canvass makes one of
// the store. It reports why a call is not surveyed.
type Gate interface {
	Admit(ctx context.Context, info ivr.CallInfo) (ok bool, why string, err error)
}

// SetGate makes g decide which transferred calls are surveyed, after
// ari.sample_share. Call it before Run.
func (c *Client) SetGate(g Gate) { c.gate = g }

// admitted reports whether a transferred call is surveyed: drawn at
// ari.sample_share, then admitted by the gate. A gate that fails (the
// database) does not stop the survey: it is logged.
func (c *Client) admitted(ctx context.Context, info ivr.CallInfo, log *slog.Logger) bool {
	if !survey.Draw(c.opts.SampleShare) {
		log.Info("call not drawn for the survey; continuing in the dialplan", "sample_share", c.opts.SampleShare)
		return false
	}
	if c.gate == nil {
		return true
	}
	ok, why, err := c.gate.Admit(ctx, info)
	if err != nil {
		log.Error("survey rules could not decide; surveying the call", "err", err)
		return true
	}
	if !ok {
		log.Info("call not surveyed by the request rules; continuing in the dialplan", "why", why)
	}
	return ok
}

// inbound runs the survey on a channel that entered the application.
func (c *Client) inbound(ctx context.Context, cl *call, info ivr.CallInfo) {
	defer func() {
		cl.awaitCause(ctx) // so the cause logged is Q.850
		c.end(cl)
	}()
	log := cl.log.With("questionnaire", info.Questionnaire)
	_, originated := info.Context.Extra[dialKey]
	if !originated && !c.admitted(ctx, info, log) {
		err := c.rest.do(ctx, http.MethodPost, "/channels/"+esc(cl.id)+"/continue", nil, nil, nil)
		if err != nil && !isNotFound(err) {
			log.Error("cannot continue the channel in the dialplan; hanging up", "err", err)
			if herr := cl.hangupChannel(context.WithoutCancel(ctx)); herr != nil {
				log.Debug("hang up", "err", herr)
			}
		}
		return
	}
	if originated {
		// Nobody waits for it any more: what would run on it was the
		// dialer's to decide.
		log.Info("an originated call answered after its dialer gave up; hanging up")
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.RequestTimeout)
		defer cancel()
		if err := cl.hangupChannel(hctx); err != nil {
			log.Debug("hang up", "err", err)
		}
		return
	}
	sess, err := c.sessions.Prepare(ctx, info)
	if err != nil {
		switch survey.ErrorCodeOf(err) {
		case survey.ENotFound:
			log.Error("the Stasis arguments name an unknown questionnaire; apologizing and hanging up", "args", info, "err", err)
		case survey.EInvalid:
			log.Error("this call cannot be surveyed; apologizing and hanging up (check the Stasis arguments)", "err", err)
		default:
			log.Error("cannot prepare the survey; apologizing and hanging up", "err", err)
		}
		c.refuse(ctx, cl, err)
		return
	}
	if err := cl.answer(ctx); err != nil {
		if !errors.Is(err, ivr.ErrHangup) {
			c.refuse(ctx, cl, err)
		}
		return
	}
	log.Info("survey call answered", "language", info.Language, "agent", info.Context.Agent, "queue", info.Context.Queue)
	status, err := sess.Run(ctx, cl)
	if err != nil {
		log.Error("survey call ended with an error", "status", status, "err", err)
		return
	}
	log.Info("survey call done", "status", status)
}

// refuse answers (so the apology is heard), apologizes and hangs up.
func (c *Client) refuse(ctx context.Context, cl *call, why error) {
	ctx = context.WithoutCancel(ctx)
	cl.fail(why)
	if err := cl.answer(ctx); err != nil {
		cl.log.Warn("cannot answer to apologize", "err", err)
	}
	if err := cl.Hangup(ctx); err != nil {
		cl.log.Debug("hang up after apology", "err", err)
	}
}
