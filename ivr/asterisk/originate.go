package asterisk

// This file places outbound calls (callbacks, the dialer): POST /channels
// into our Stasis application with a channel id of our choosing, then
// follow that channel's events. An answered call enters the application
// (StasisStart) and Dial returns it, for whoever dialed to run a survey on
// (ivr.Engine.Survey) or anything else; one that never answers produces no
// StasisStart, only Dial events and a ChannelDestroyed whose Q.850 cause
// tells busy (17), no answer (18, 19), rejected (21), an invalid number
// (1, 22, 28) and the rest.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/survey"
)

// outcomeOf maps a Q.850 cause (or, without one, a Dial status) of a call
// that never answered; the table is survey.DialOutcome's.
func outcomeOf(cause int, dialStatus string) survey.DialOutcome {
	switch cause {
	case 17:
		return survey.DialBusy
	case 18, 19:
		return survey.DialNoAnswer
	case 21:
		return survey.DialRejected
	case 1, 22, 28: // unallocated number, number changed, invalid number format
		return survey.DialNotWorking
	case 0:
		switch dialStatus {
		case "BUSY":
			return survey.DialBusy
		case "NOANSWER":
			return survey.DialNoAnswer
		}
	}
	return survey.DialTechnical
}

// dial follows an originated channel until it answers or ends.
type dial struct {
	id     string
	notify chan struct{} // a state change, coalesced

	mu        sync.Mutex
	rang      bool
	status    string // the last Dial status
	gone      bool
	cause     int
	causeText string
	answer    *call
	closed    bool // Dial has returned: nobody will take an answer

	// Answering-machine detection (Options.AMDContext): the answered
	// channel's first StasisStart is held back, Dial sends the channel to
	// the AMD context, and the second StasisStart, with the verdict in its
	// arguments, is the answer.
	wantAMD   bool
	amd       amdState
	upAt      time.Time // the first StasisStart, when detecting
	amdStatus string    // AMDSTATUS: HUMAN, MACHINE, NOTSURE
	amdCause  string    // AMDCAUSE
}

// amdState is where a dial is in answering-machine detection.
type amdState int

const (
	amdNone      amdState = iota // not asked for, or the channel has not answered
	amdAnswered                  // the channel answered: Dial sends it to the AMD context
	amdDetecting                 // in the AMD context: the verdict comes with its StasisStart
	amdDone                      // the verdict came, or the channel ended
)

func (d *dial) signal() {
	select {
	case d.notify <- struct{}{}:
	default:
	}
}

// event updates the dial without blocking the reader.
func (d *dial) event(ev event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.answer != nil || d.gone {
		return
	}
	switch ev.Type {
	case "Dial":
		d.status = ev.State
		if ev.State == "RINGING" {
			d.rang = true
		}
	case "ChannelStateChange":
		if ev.State == "Ringing" {
			d.rang = true
		}
	case "ChannelDestroyed":
		d.gone, d.cause, d.causeText = true, ev.Cause, ev.CauseText
	default:
		return
	}
	d.signal()
}

// detecting reports whether a StasisStart of the dial's channel is its
// answer before detection, which Dial takes and sends to the AMD context.
// The StasisStart back from that context carries the verdict, kept for
// Dial; it is the answer.
func (d *dial) detecting(ev event) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed || !d.wantAMD:
		return false
	case d.amd == amdNone:
		d.amd, d.upAt = amdAnswered, time.Now()
		d.signal()
		return true
	case d.amd == amdDetecting:
		d.amd = amdDone
		for _, arg := range ev.Args {
			k, v, _ := strings.Cut(arg, "=")
			switch strings.TrimSpace(k) {
			case "amd":
				d.amdStatus = strings.ToUpper(strings.TrimSpace(v))
			case "amd_cause":
				d.amdCause = strings.TrimSpace(v)
			}
		}
	}
	return false
}

// verdict is the dial result's AMD verdict for Asterisk's AMDSTATUS.
func verdict(status string) ivr.AMDVerdict {
	switch status {
	case "HUMAN":
		return ivr.AMDHuman
	case "MACHINE":
		return ivr.AMDMachine
	}
	return ivr.AMDNotSure
}

// answered hands the answered call to Dial, or reports that Dial has
// already returned.
func (d *dial) answered(cl *call) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	d.answer = cl
	d.signal()
	return true
}

var _ ivr.Call = (*dialed)(nil)

// Dial calls r.To, an Asterisk dial string (PJSIP/+33612345678@trunk),
// into the Stasis application and returns the answered channel, running
// nothing on it (ivr.Dialer). A call that never answers produces no
// StasisStart, only Dial events and a ChannelDestroyed whose Q.850 cause
// gives the outcome. It returns an error, with no call placed, while the
// events WebSocket is down (ErrNotConnected), for SIP headers (set a
// PJSIP_HEADER(add,…) variable instead) or when Asterisk refuses the
// request. Ending ctx before the answer hangs the channel up. The caller
// must Close an answered call.
func (c *Client) Dial(ctx context.Context, r ivr.DialRequest) (ivr.Call, ivr.DialResult, error) {
	failed := ivr.DialResult{Outcome: survey.DialTechnical}
	if len(r.Headers) > 0 {
		return nil, failed, survey.Errorf(survey.EInvalid, "ARI cannot add SIP headers to a call: set PJSIP_HEADER(add,Name) channel variables instead")
	}
	c.mu.Lock()
	up := c.connected
	c.mu.Unlock()
	if !up {
		return nil, failed, ErrNotConnected
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, failed, fmt.Errorf("dial: channel id: %w", err)
	}
	if r.AMD && c.opts.AMDContext == "" {
		return nil, failed, survey.Errorf(survey.EInvalid, "answering-machine detection over Asterisk needs ari.amd_context (%s): a dialplan context that runs AMD() and returns to Stasis, see the README", EnvAMDContext)
	}
	d := &dial{id: "canvass-" + hex.EncodeToString(b[:]), notify: make(chan struct{}, 1), wantAMD: r.AMD}
	log := c.log.With("channel", d.id, "endpoint", r.To)
	if r.CaseID != 0 {
		log = log.With("case_id", r.CaseID, "attempt_id", r.AttemptID)
	}
	// Follow the channel before creating it: its first events may beat
	// the REST answer.
	c.mu.Lock()
	c.dials[d.id] = d
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.dials, d.id)
		c.mu.Unlock()
		d.mu.Lock()
		d.closed = true
		d.mu.Unlock()
	}()
	timeout := r.RingTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	q := url.Values{"endpoint": {r.To}, "app": {c.opts.App}, "appArgs": {dialArgs(r, d.id)},
		"channelId": {d.id}, "timeout": {strconv.Itoa(max(1, int(timeout/time.Second)))}}
	if r.CallerID != "" {
		q.Set("callerId", r.CallerID)
	}
	vars := r.Variables
	if r.AMD {
		// The AMD context returns the channel with
		// Stasis(${CANVASS_APP},${CANVASS_ARGS},amd=${AMDSTATUS},amd_cause=${AMDCAUSE}).
		vars = make(map[string]string, len(r.Variables)+2)
		for k, v := range r.Variables {
			vars[k] = v
		}
		vars["CANVASS_APP"], vars["CANVASS_ARGS"] = c.opts.App, dialArgs(r, d.id)
	}
	var body any
	if len(vars) > 0 {
		body = map[string]any{"variables": vars}
	}
	start := time.Now()
	res := ivr.DialResult{CallID: d.id}
	if err := c.rest.do(ctx, http.MethodPost, "/channels", q, body, nil); err != nil {
		res.Outcome = survey.DialTechnical
		var refused *Error
		if errors.As(err, &refused) {
			log.Error("dial refused by Asterisk", "err", err)
		} else {
			// No answer (ctx ended, a timeout): Asterisk may have created
			// the channel all the same, and would ring the callee.
			log.Error("dial got no answer from Asterisk; hanging up any channel it made", "err", err)
			c.abandon(ctx, d, log)
		}
		return nil, res, fmt.Errorf("dial %s: %w", r.To, err)
	}
	log.Info("originated")
	var verdictDue <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			c.abandon(ctx, d, log)
			res.Outcome, res.RingTime = survey.DialCancelled, time.Since(start)
			return nil, res, ctx.Err()
		case <-verdictDue:
			log.Error("no AMD verdict came back from the dialplan; hanging up (check that ari.amd_context runs AMD() then Stasis as the README shows)", "context", c.opts.AMDContext)
			c.abandon(ctx, d, log)
			res.Outcome = survey.DialTechnical
			return nil, res, fmt.Errorf("dial %s: no AMD verdict from context %s within %s", r.To, c.opts.AMDContext, amdVerdictWait)
		case <-d.notify:
		}
		d.mu.Lock()
		cl, gone, state, upAt := d.answer, d.gone, d.amd, d.upAt
		res.Rang, res.Q850Cause, res.Reason = d.rang, d.cause, d.causeText
		status := d.status
		amdStatus, amdCause := d.amdStatus, d.amdCause
		if state == amdAnswered {
			d.amd = amdDetecting
		}
		d.mu.Unlock()
		if state == amdAnswered {
			res.RingTime = upAt.Sub(start)
			if err := c.detect(ctx, d.id); err != nil {
				log.Error("cannot send the answered call to the AMD context; hanging up", "context", c.opts.AMDContext, "err", err)
				c.abandon(ctx, d, log)
				res.Outcome = survey.DialTechnical
				return nil, res, fmt.Errorf("dial %s: AMD: %w", r.To, err)
			}
			t := time.NewTimer(amdVerdictWait)
			defer t.Stop()
			verdictDue = t.C
			continue
		}
		if upAt.IsZero() {
			res.RingTime = time.Since(start)
		}
		if cl != nil {
			res.Outcome = survey.DialAnswered
			answered := time.Now()
			if d.wantAMD {
				answered = upAt
				res.AMD, res.AMDCause, res.AMDTime = verdict(amdStatus), amdCause, time.Since(upAt)
				cl.log.Info("AMD", "verdict", res.AMD, "cause", res.AMDCause, "after", res.AMDTime.Round(time.Millisecond))
			}
			cl.log.Info("originated call answered")
			return &dialed{call: cl, answered: answered}, res, nil
		}
		if gone && !upAt.IsZero() {
			// Answered, then hung up during the detection: as ivr/sipua,
			// an answered call that has already ended, verdict notsure.
			res.Outcome = survey.DialAnswered
			res.AMD, res.AMDCause, res.AMDTime = ivr.AMDNotSure, "HANGUP", time.Since(upAt)
			log.Info("call hung up during AMD", "q850_cause", res.Q850Cause)
			return &dialed{call: c.endedCall(d.id, log, res.Q850Cause, res.Reason), answered: upAt}, res, nil
		}
		if gone {
			res.Outcome = outcomeOf(res.Q850Cause, status)
			log.Info("dial not answered", "outcome", res.Outcome, "q850_cause", res.Q850Cause, "cause_text", res.Reason, "rang", res.Rang)
			return nil, res, nil
		}
	}
}

// amdVerdictWait bounds the wait for the AMD context's verdict: app_amd
// concludes within its total_analysis_time (5 s by default).
const amdVerdictWait = 15 * time.Second

// detect sends an answered channel to the AMD context, following its
// events there (an application stops hearing of a channel that leaves it).
func (c *Client) detect(ctx context.Context, id string) error {
	sub := url.Values{"eventSource": {"channel:" + id}}
	if err := c.rest.do(ctx, http.MethodPost, "/applications/"+esc(c.opts.App)+"/subscription", sub, nil, nil); err != nil {
		return fmt.Errorf("subscribe to the channel: %w", err)
	}
	q := url.Values{"context": {c.opts.AMDContext}, "extension": {"s"}, "priority": {"1"}}
	return c.rest.do(ctx, http.MethodPost, "/channels/"+esc(id)+"/continue", q, nil, nil)
}

// endedCall is the call of an answered channel that ended before Dial
// could return it, for whoever dialed to find over and Close.
func (c *Client) endedCall(id string, log *slog.Logger, cause int, text string) *call {
	cl := newCall(c, id, log)
	c.mu.Lock()
	c.live[id] = cl
	c.calls.Add(1)
	c.mu.Unlock()
	cl.hungUp(cause, text)
	return cl
}

// dialed is an answered originated channel, until its Close.
type dialed struct {
	*call
	answered time.Time
	once     sync.Once
	result   ivr.CallEnd
}

// Close tears down the call's leg, if any, hangs the channel up if it is
// still up and lets the client forget it. Calling it again returns the same end.
func (d *dialed) Close(ctx context.Context) (ivr.CallEnd, error) {
	var err error
	d.once.Do(func() {
		err = d.closeLeg(ctx)
		if !d.ended() {
			err = errors.Join(err, d.Hangup(ctx))
		}
		d.awaitCause(ctx) // the callee hung up: the Q.850 cause is on its way
		d.c.end(d.call)
		d.mu.Lock()
		endedAt := d.endedAt
		d.result = ivr.CallEnd{Q850Cause: d.cause, Reason: d.causeText}
		d.mu.Unlock()
		if endedAt.IsZero() { // the hangup failed: the call is over for us now
			endedAt = time.Now()
		}
		d.result.Talk = endedAt.Sub(d.answered)
	})
	return d.result, err
}

// abandon hangs up an originated channel Originate gives up on. The
// callee may answer meanwhile, and the dial takes its StasisStart until
// it is closed: it is closed only once the hangup is done, and a call it
// took is ended here (nobody else would end it, and Run would wait for it
// forever). A StasisStart after that goes to inbound, as any late answer.
func (c *Client) abandon(ctx context.Context, d *dial, log *slog.Logger) {
	err := c.rest.do(context.WithoutCancel(ctx), http.MethodDelete, "/channels/"+esc(d.id), nil, nil, nil)
	if err != nil && !isNotFound(err) {
		log.Warn("hang up an abandoned originate", "err", err)
	}
	d.mu.Lock()
	d.closed = true
	cl := d.answer
	d.mu.Unlock()
	if cl != nil {
		cl.hungUp(16, "hung up by canvass")
		c.end(cl)
	}
}

// dialArgs are the Stasis arguments of an originated channel: our
// correlation id, and what a log reader wants to see.
func dialArgs(r ivr.DialRequest, id string) string {
	args := []string{dialKey + "=" + id}
	if r.CaseID != 0 {
		args = append(args, "case="+strconv.FormatInt(int64(r.CaseID), 10), "attempt="+strconv.FormatInt(int64(r.AttemptID), 10))
	}
	return strings.Join(args, ",")
}
