package asterisk

// This file places outbound survey calls (callbacks, the dialer): POST
// /channels into our Stasis application with a channel id of our choosing,
// then follow that channel's events. An answered call enters the
// application (StasisStart) and runs the survey; one that never answers
// produces no StasisStart, only Dial events and a ChannelDestroyed whose
// Q.850 cause tells busy (17), no answer (18, 19), rejected (21) and the
// rest.

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

// OriginateOptions shape an outbound call.
type OriginateOptions struct {
	CallerID  string            // `"Name" <number>` or a number
	Timeout   time.Duration     // how long it may ring; 0 = 30 s
	Variables map[string]string // channel variables for the new channel
}

// Outcome is how an outbound call went.
type Outcome string

// Outcomes.
const (
	Answered Outcome = "answered"
	Busy     Outcome = "busy"
	NoAnswer Outcome = "no_answer"
	Rejected Outcome = "rejected"
	Failed   Outcome = "failed" // unreachable, congestion, invalid number…
)

// Result reports an outbound call once it is over.
type Result struct {
	ChannelID string
	Outcome   Outcome
	Rang      bool   // the far end was seen ringing
	Cause     int    // Q.850 cause of the hangup (0 when unknown)
	CauseText string // Asterisk's text for it
	// Status is how the interview ended, for an answered call.
	Status   survey.Status
	RingTime time.Duration // from the request to the answer or the failure
	TalkTime time.Duration // from the answer to the end
}

// outcomeOf maps a Q.850 cause (or, without one, a Dial status) of a call
// that never answered.
func outcomeOf(cause int, dialStatus string) Outcome {
	switch cause {
	case 17:
		return Busy
	case 18, 19:
		return NoAnswer
	case 21:
		return Rejected
	case 0:
		switch dialStatus {
		case "BUSY":
			return Busy
		case "NOANSWER":
			return NoAnswer
		}
	}
	return Failed
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
	closed    bool // Originate has returned: nobody will run an answer
}

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

// answered hands the answered call to Originate, or reports that
// Originate has already returned.
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

// Originate calls endpoint (e.g. PJSIP/+33123456789@trunk) and, when it
// answers, runs the survey of info on it. It returns when the call is
// over: unanswered (busy, no answer… with the Q.850 cause) or answered and
// surveyed (with the interview's status). The questionnaire is checked
// before dialing, so nobody is called for a survey that cannot run.
// Cancelling ctx hangs the call up.
func (c *Client) Originate(ctx context.Context, endpoint string, info ivr.CallInfo, o OriginateOptions) (Result, error) {
	c.mu.Lock()
	up := c.connected
	c.mu.Unlock()
	if !up {
		return Result{Outcome: Failed}, ErrNotConnected
	}
	sess, err := c.sessions.Prepare(ctx, info)
	if err != nil {
		return Result{Outcome: Failed}, fmt.Errorf("originate to %s: %w", endpoint, err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Result{Outcome: Failed}, fmt.Errorf("originate: channel id: %w", err)
	}
	d := &dial{id: "canvass-" + hex.EncodeToString(b[:]), notify: make(chan struct{}, 1)}
	log := c.log.With("channel", d.id, "endpoint", endpoint, "questionnaire", info.Questionnaire)
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
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	q := url.Values{"endpoint": {endpoint}, "app": {c.opts.App}, "appArgs": {dialArgs(info, d.id)},
		"channelId": {d.id}, "timeout": {strconv.Itoa(max(1, int(timeout/time.Second)))}}
	if o.CallerID != "" {
		q.Set("callerId", o.CallerID)
	}
	var body any
	if len(o.Variables) > 0 {
		body = map[string]any{"variables": o.Variables}
	}
	start := time.Now()
	res := Result{ChannelID: d.id}
	if err := c.rest.do(ctx, http.MethodPost, "/channels", q, body, nil); err != nil {
		res.Outcome = Failed
		var refused *Error
		if errors.As(err, &refused) {
			log.Error("originate refused by Asterisk", "err", err)
		} else {
			// No answer (ctx ended, a timeout): Asterisk may have created
			// the channel all the same, and would ring the callee.
			log.Error("originate got no answer from Asterisk; hanging up any channel it made", "err", err)
			c.abandon(ctx, d, log)
		}
		return res, fmt.Errorf("originate to %s: %w", endpoint, err)
	}
	log.Info("originated")
	for {
		select {
		case <-ctx.Done():
			c.abandon(ctx, d, log)
			res.Outcome, res.RingTime = Failed, time.Since(start)
			return res, ctx.Err()
		case <-d.notify:
		}
		d.mu.Lock()
		cl, gone := d.answer, d.gone
		res.Rang, res.Cause, res.CauseText = d.rang, d.cause, d.causeText
		status := d.status
		d.mu.Unlock()
		res.RingTime = time.Since(start)
		if cl != nil {
			return c.surveyAnswered(ctx, sess, cl, res)
		}
		if gone {
			res.Outcome = outcomeOf(res.Cause, status)
			log.Info("originate not answered", "outcome", res.Outcome, "q850_cause", res.Cause, "cause_text", res.CauseText, "rang", res.Rang)
			return res, nil
		}
	}
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

// surveyAnswered runs the survey on an answered originated call.
func (c *Client) surveyAnswered(ctx context.Context, sess *ivr.Session, cl *call, res Result) (Result, error) {
	defer c.end(cl)
	res.Outcome = Answered
	answered := time.Now()
	cl.log.Info("originated call answered; running the survey")
	status, err := sess.Run(ctx, cl)
	res.Status, res.TalkTime = status, time.Since(answered)
	cl.mu.Lock()
	res.Cause, res.CauseText = cl.cause, cl.causeText
	cl.mu.Unlock()
	if err != nil && !errors.Is(err, ivr.ErrHangup) {
		return res, fmt.Errorf("survey on %s: %w", cl.id, err)
	}
	return res, nil
}

// dialArgs are the Stasis arguments of an originated channel: what a log
// reader wants to see, and our correlation id. Asterisk splits them on
// commas, so values lose theirs.
func dialArgs(info ivr.CallInfo, id string) string {
	clean := func(s string) string { return strings.ReplaceAll(s, ",", " ") }
	args := []string{"questionnaire=" + clean(info.Questionnaire)}
	add := func(k, v string) {
		if v != "" {
			args = append(args, k+"="+clean(v))
		}
	}
	add("lang", info.Language)
	add("call_id", info.Context.CallID)
	add("agent", info.Context.Agent)
	add("queue", info.Context.Queue)
	add("touchpoint", info.Context.Touchpoint)
	return strings.Join(append(args, dialKey+"="+id), ",")
}
