package sipua

// This file places calls: Originate prepares the survey, sends an INVITE
// through the configured trunk (answering its digest challenge), reports
// ringing, busy or no answer with the SIP status and Q.850 cause, and on
// answer runs the survey like an inbound call.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua/internal/sdp"
	"github.com/canvass/canvass/survey"
)

// Outcome is how an originated call went.
type Outcome string

// Outcomes of Originate.
const (
	Answered  Outcome = "answered"
	Busy      Outcome = "busy"      // 486 Busy Here, 600 Busy Everywhere
	NoAnswer  Outcome = "no_answer" // ring timeout, 408, 480, 487
	Failed    Outcome = "failed"    // any other refusal, no response, or an unusable answer
	Cancelled Outcome = "cancelled" // ctx ended before the answer (CANCEL sent)
)

// Result reports an originated call.
type Result struct {
	Outcome   Outcome
	SIPStatus int    // the final response (200 when answered; 0 when none came)
	Reason    string // its reason phrase
	// Q850Cause is the ISDN cause of a Reason: Q.850;cause=N header on the
	// final response (17 user busy, 19 no answer, 21 call rejected…); 0 when
	// there is none.
	Q850Cause int
	Ring      time.Duration // from the INVITE to the answer or the final failure
	Talk      time.Duration // from the answer to the end of the call
	Status    survey.Status // how the interview ended, when answered
}

// eventPT is the telephone-event payload type we offer.
const eventPT = 101

// Originate calls number (dialled as number@trunk, or a full sip: URI) and
// runs the survey described by info when someone answers. It returns an
// error, with no call placed, for a bad number, an unknown questionnaire
// (survey.ENotFound) or a full or closing endpoint (ErrBusy, ErrClosed);
// busy, no answer and refusals are Outcomes with a nil error. Cancelling
// ctx before the answer sends CANCEL; after it, the engine ends the survey
// and hangs up. It waits for Run to be serving.
func (s *Server) Originate(ctx context.Context, number string, info ivr.CallInfo) (Result, error) {
	target, err := s.dialTarget(number)
	if err != nil {
		return Result{}, err
	}
	select {
	case <-s.ready:
	case <-ctx.Done():
		return Result{}, fmt.Errorf("originate to %s before the endpoint runs: %w", number, ctx.Err())
	}
	sess, err := s.sessions.Prepare(ctx, info)
	if err != nil {
		return Result{}, fmt.Errorf("originate to %s: %w", number, err)
	}
	release, err := s.admit()
	if err != nil {
		return Result{}, fmt.Errorf("originate to %s: %w", number, err)
	}
	defer release()
	conn, err := s.listenRTP()
	if err != nil {
		return Result{}, fmt.Errorf("originate to %s: %w", number, err)
	}
	closeConn := true
	defer func() {
		if closeConn {
			conn.Close()
		}
	}()

	offer := s.offer(conn)
	req := sip.NewRequest(sip.INVITE, target)
	cache := s.outboundUDP
	if tr, _ := target.UriParams.Get("transport"); strings.EqualFold(tr, "tcp") {
		req.SetTransport("TCP")
		cache = s.outboundTCP
	}
	fromHost := s.opts.Trunk.FromHost
	if fromHost == "" {
		fromHost = s.advertise.String()
	}
	from := sip.FromHeader{DisplayName: s.opts.Trunk.FromDisplay,
		Address: sip.Uri{Scheme: "sip", User: s.opts.Trunk.FromUser, Host: fromHost}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	to := sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: target.User, Host: target.Host, Port: target.Port}}
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer.Marshal())

	log := s.log.With("direction", "outbound", "to", target.String(), "questionnaire", sess.Questionnaire().ID)
	invited := time.Now()
	dlg, err := cache.WriteInvite(ctx, req)
	if err != nil {
		log.Warn("INVITE not sent", "err", err)
		return Result{Outcome: Failed, Reason: err.Error()}, nil
	}
	defer dlg.Close()
	callID := ""
	if h := req.CallID(); h != nil {
		callID = h.Value()
	}
	log = log.With("call_id", callID)
	ringCtx, cancel := context.WithTimeout(ctx, s.opts.Trunk.RingTimeout)
	err = dlg.WaitAnswer(ringCtx, sipgo.AnswerOptions{Username: s.opts.Trunk.Username, Password: s.opts.Trunk.Password})
	rang := errors.Is(ringCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	cancel()
	res := Result{Ring: time.Since(invited)}
	if r := dlg.InviteResponse; r != nil && !r.IsProvisional() {
		res.SIPStatus, res.Reason, res.Q850Cause = r.StatusCode, r.Reason, q850Cause(r)
	}
	if err != nil {
		var refused *sipgo.ErrDialogResponse
		switch {
		case ctx.Err() != nil:
			res.Outcome = Cancelled
			log.Info("call cancelled before answer")
			return res, fmt.Errorf("originate to %s: %w", number, ctx.Err())
		case rang:
			res.Outcome = NoAnswer
		case errors.As(err, &refused):
			r := refused.Res
			res.SIPStatus, res.Reason, res.Q850Cause = r.StatusCode, r.Reason, q850Cause(r)
			res.Outcome = refusal(r.StatusCode)
		default:
			res.Outcome = Failed
			if res.Reason == "" {
				res.Reason = err.Error()
			}
		}
		log.Info("call not answered", "outcome", res.Outcome, "status", res.SIPStatus, "q850", res.Q850Cause, "ring", res.Ring.Round(time.Millisecond))
		return res, nil
	}

	answer := dlg.InviteResponse
	st, err := sdp.Negotiate(answer.Body(), s.opts.AcceptTelephoneEvent)
	if ackErr := dlg.Ack(ctx); ackErr != nil {
		log.Warn("ACK", "err", ackErr)
	}
	if err != nil {
		log.Warn("answer has no usable SDP; hanging up", "err", err)
		byeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if byeErr := dlg.Bye(byeCtx); byeErr != nil {
			log.Debug("BYE", "err", byeErr)
		}
		cancel()
		res.Outcome, res.Reason = Failed, "answer SDP: "+err.Error()
		return res, nil
	}
	res.Outcome = Answered
	c := newCall(conn, st, s, log)
	closeConn = false // the call owns it now
	c.dialog, c.bye = &dlg.Dialog, dlg.Bye
	c.local = offer
	c.local.Codecs, c.local.CodecPTs, c.local.EventPT = []media.Codec{st.Codec}, []uint8{st.CodecPT}, st.EventPT
	c.local.Version++
	s.register(dlg.ID, c)
	defer s.unregister(dlg.ID)
	log.Info("call answered", "codec", st.Codec.Name(), "telephone_event", st.EventPT >= 0, "ring", res.Ring.Round(time.Millisecond))
	answered := time.Now()
	res.Status, err = s.converse(ctx, c, sess, dlg.Context())
	res.Talk = time.Since(answered)
	return res, err
}

// refusal classifies a final failure status.
func refusal(code int) Outcome {
	switch code {
	case sip.StatusBusyHere, 600:
		return Busy
	case sip.StatusRequestTimeout, sip.StatusTemporarilyUnavailable, sip.StatusRequestTerminated:
		return NoAnswer
	}
	return Failed
}

// q850Cause reads Reason: Q.850;cause=N (RFC 3326).
func q850Cause(r *sip.Response) int {
	for _, h := range r.GetHeaders("Reason") {
		for v := range strings.SplitSeq(h.Value(), ",") {
			proto, params, _ := strings.Cut(strings.TrimSpace(v), ";")
			if !strings.EqualFold(strings.TrimSpace(proto), "Q.850") {
				continue
			}
			for p := range strings.SplitSeq(params, ";") {
				if k, val, ok := strings.Cut(p, "="); ok && strings.EqualFold(strings.TrimSpace(k), "cause") {
					if n, err := strconv.Atoi(strings.TrimSpace(val)); err == nil && n > 0 && n < 128 {
						return n
					}
				}
			}
		}
	}
	return 0
}

// dialTarget is the request URI for number.
func (s *Server) dialTarget(number string) (sip.Uri, error) {
	if strings.HasPrefix(number, "sip:") {
		var u sip.Uri
		if err := sip.ParseUri(number, &u); err != nil || u.Host == "" || !validUser(u.User) {
			return u, survey.Errorf(survey.EInvalid, "%q is not a sip: URI with a user", number)
		}
		return u, nil
	}
	if s.opts.Trunk.URI == "" {
		return sip.Uri{}, survey.Errorf(survey.EInvalid, "cannot dial %q: no trunk configured (sip.trunk.uri)", number)
	}
	if !validUser(number) {
		return sip.Uri{}, survey.Errorf(survey.EInvalid, "%q is not a dialable number", number)
	}
	u, err := parseTrunk(s.opts.Trunk.URI)
	if err != nil {
		return u, err
	}
	u.User, u.Headers = number, nil
	return u, nil
}
