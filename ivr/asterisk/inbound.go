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
	"sync"
	"time"

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
// the store.
type Gate interface {
	Admit(ctx context.Context, info ivr.CallInfo) (Admission, error)
}

// Admission is a gate's decision on a call.
type Admission struct {
	Surveyed bool
	Why      string // why not
	// Version is the latest version of the call's questionnaire as the
	// gate read it with its decision (0 = not read): the call is prepared
	// from it without another lookup.
	Version int
}

// SetGate makes g decide which transferred calls are surveyed, after
// ari.sample_share. Call it before Run.
func (c *Client) SetGate(g Gate) { c.gate = g }

// admit reports whether the gate admits a call drawn for the survey, and
// the questionnaire version it read. A gate that fails (the database) does
// not stop the survey: it is logged.
func (c *Client) admit(ctx context.Context, info ivr.CallInfo, log *slog.Logger) Admission {
	if c.gate == nil {
		return Admission{Surveyed: true}
	}
	a, err := c.gate.Admit(ctx, info)
	if err != nil {
		log.Error("survey rules could not decide; surveying the call", "err", err)
		return Admission{Surveyed: true}
	}
	if !a.Surveyed {
		log.Info("call not surveyed by the request rules; continuing in the dialplan", "why", a.Why)
	}
	return a
}

// continueDialplan sends a call not surveyed on in the dialplan; one that
// cannot be is hung up.
func (c *Client) continueDialplan(ctx context.Context, cl *call, log *slog.Logger) {
	err := c.rest.do(ctx, http.MethodPost, "/channels/"+esc(cl.id)+"/continue", nil, nil, nil)
	if err != nil && !isNotFound(err) {
		log.Error("cannot continue the channel in the dialplan; hanging up", "err", err)
		if herr := cl.hangupChannel(context.WithoutCancel(ctx)); herr != nil {
			log.Debug("hang up", "err", herr)
		}
	}
}

// prepared is a session prepared for a call, or why it could not be.
type prepared struct {
	sess *ivr.Session
	err  error
}

// setup is when a transferred call reached each step before its answer.
type setup struct {
	created time.Time // Asterisk created the channel (ms precision)
	sent    time.Time // Asterisk raised StasisStart (ms precision)
	read    time.Time // its frame was read from the events WebSocket
	start   time.Time // inbound began
	admit   time.Time // the draw and the gate decided
}

// logAnswered logs the answer of a surveyed call with how long each step
// before it took: setup_ms is StasisStart read → answer, the part that is
// Canvass's; wait_ms until the call's goroutine ran; gate_ms the request
// rules (one database round trip); answer_ms the answer request;
// event_lag_ms StasisStart raised → read; since_created_ms the channel's
// creation → answer.
func (s setup) logAnswered(log *slog.Logger, info ivr.CallInfo) {
	now := time.Now()
	args := []any{"language", info.Language, "agent", info.Context.Agent, "queue", info.Context.Queue,
		"setup_ms", ms(now.Sub(s.read)), "wait_ms", ms(s.start.Sub(s.read)), "gate_ms", ms(s.admit.Sub(s.start)),
		"answer_ms", ms(now.Sub(s.admit))}
	if !s.sent.IsZero() {
		args = append(args, "event_lag_ms", ms(s.read.Sub(s.sent)))
	}
	if !s.created.IsZero() {
		args = append(args, "since_created_ms", ms(now.Sub(s.created)))
	}
	log.Info("survey call answered", args...)
}

// ms is d in milliseconds, for log lines.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// inbound runs the survey on a channel that entered the application.
func (c *Client) inbound(ctx context.Context, cl *call, info ivr.CallInfo, st setup) {
	st.start = time.Now()
	defer func() {
		cl.awaitCause(ctx) // so the cause logged is Q.850
		c.end(cl)
	}()
	log := cl.log.With("questionnaire", info.Questionnaire)
	if _, originated := info.Context.Extra[dialKey]; originated {
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
	if !survey.Draw(c.opts.SampleShare) {
		log.Info("call not drawn for the survey; continuing in the dialplan", "sample_share", c.opts.SampleShare)
		c.continueDialplan(ctx, cl, log)
		return
	}
	// The caller waits, in silence, for the answer; the gate is all it
	// must wait for (one database round trip). Its decision names the
	// questionnaire's latest version, which is then found parsed in
	// memory: preparing the session runs beside the answer, and needs the
	// database only for a version not yet parsed, or when there is no
	// gate. A call the gate admits is answered whether or not a session
	// can be prepared (one that cannot is answered for its apology).
	a := c.admit(ctx, info, log)
	st.admit = time.Now()
	if !a.Surveyed {
		c.continueDialplan(ctx, cl, log)
		return
	}
	info.Version = a.Version
	var preparing sync.WaitGroup
	defer preparing.Wait() // after cancel: a call that ends early does not wait for the lookup
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan prepared, 1)
	preparing.Go(func() {
		sess, err := c.sessions.Prepare(pctx, info)
		ready <- prepared{sess: sess, err: err}
	})
	if c.serialSetup {
		// The benchmark's "before": answer only once prepared.
		p := <-ready
		ready <- p
	}
	if err := cl.answer(ctx); err != nil {
		if !errors.Is(err, ivr.ErrHangup) {
			c.refuse(ctx, cl, err)
		}
		return
	}
	st.logAnswered(log, info)
	p := <-ready
	sess, err := p.sess, p.err
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
