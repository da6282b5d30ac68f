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
	d := &dial{id: "canvass-" + hex.EncodeToString(b[:]), notify: make(chan struct{}, 1)}
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
	var body any
	if len(r.Variables) > 0 {
		body = map[string]any{"variables": r.Variables}
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
	for {
		select {
		case <-ctx.Done():
			c.abandon(ctx, d, log)
			res.Outcome, res.RingTime = survey.DialCancelled, time.Since(start)
			return nil, res, ctx.Err()
		case <-d.notify:
		}
		d.mu.Lock()
		cl, gone := d.answer, d.gone
		res.Rang, res.Q850Cause, res.Reason = d.rang, d.cause, d.causeText
		status := d.status
		d.mu.Unlock()
		res.RingTime = time.Since(start)
		if cl != nil {
			res.Outcome = survey.DialAnswered
			cl.log.Info("originated call answered")
			return &dialed{call: cl, answered: time.Now()}, res, nil
		}
		if gone {
			res.Outcome = outcomeOf(res.Q850Cause, status)
			log.Info("dial not answered", "outcome", res.Outcome, "q850_cause", res.Q850Cause, "cause_text", res.Reason, "rang", res.Rang)
			return nil, res, nil
		}
	}
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
