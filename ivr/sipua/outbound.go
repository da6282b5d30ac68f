package sipua

// This file places calls: Dial sends an INVITE through the configured trunk
// (answering its digest challenge), reports busy, no answer or a refusal
// with the SIP status and Q.850 cause (ivr.DialResult), and on answer
// returns the call, media running, for the caller to run a survey on
// (ivr.Engine.Survey) or anything else, and to Close.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua/internal/sdp"
	"github.com/canvass/canvass/survey"
)

// eventPT is the telephone-event payload type we offer.
const eventPT = 101

var (
	_ ivr.Call      = (*dialed)(nil)
	_ ivr.EndCauser = (*dialed)(nil)
	// A dialed call takes the console's keypad (SendDigits, digits.go).
	_ interface {
		SendDigits(context.Context, string) error
	} = (*dialed)(nil)
)

// Dial calls r.To (dialled as number@trunk, or a full sip: URI) and
// returns the answered call, running nothing on it (ivr.Dialer). When r
// asks for AMD, it returns once the detection has concluded (at most
// sip.amd.total_analysis_time after the answer, and a little more), with
// the verdict in the result. It returns
// an error, with no call placed, for a bad number, caller id or header, for
// channel variables (a SIP endpoint has none), or for a full or closing
// endpoint (ErrBusy, ErrClosed); busy, no answer and refusals are outcomes
// with a nil error. Cancelling ctx before the answer sends CANCEL. It waits
// for Run to be serving. The caller must Close an answered call.
func (s *Server) Dial(ctx context.Context, r ivr.DialRequest) (ivr.Call, ivr.DialResult, error) {
	failed := ivr.DialResult{Outcome: survey.DialTechnical}
	target, err := s.dialTarget(r.To)
	if err != nil {
		return nil, failed, err
	}
	if len(r.Variables) > 0 {
		return nil, failed, survey.Errorf(survey.EInvalid, "the SIP endpoint has no channel variables; send X- headers instead")
	}
	from, err := s.from(r.CallerID)
	if err != nil {
		return nil, failed, err
	}
	headers, err := dialHeaders(r.Headers)
	if err != nil {
		return nil, failed, err
	}
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil, failed, fmt.Errorf("dial %s before the endpoint runs: %w", r.To, ctx.Err())
	}
	release, err := s.admit()
	if err != nil {
		return nil, failed, fmt.Errorf("dial %s: %w", r.To, err)
	}
	port, err := s.rtp().take()
	if err != nil {
		release()
		return nil, failed, fmt.Errorf("dial %s: %w", r.To, err)
	}
	keep := false // the answered call owns the place on the port and the admission
	defer func() {
		if !keep {
			port.leave(nil)
			release()
		}
	}()

	offer := s.offer(port)
	offerSRTP(&offer, s.opts.Trunk.SRTP)
	req := sip.NewRequest(sip.INVITE, target)
	cache := s.outboundUDP
	if tr, _ := target.UriParams.Get("transport"); strings.EqualFold(tr, "tcp") {
		req.SetTransport("TCP")
		cache = s.outboundTCP
	}
	to := sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: target.User, Host: target.Host, Port: target.Port}}
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	for _, h := range headers {
		req.AppendHeader(h)
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer.Marshal())

	log := s.log.With("direction", "outbound", "to", target.String())
	if r.CaseID != 0 {
		log = log.With("case_id", r.CaseID, "attempt_id", r.AttemptID)
	}
	invited := time.Now()
	dlg, err := cache.WriteInvite(ctx, req)
	if err != nil {
		log.Warn("INVITE not sent", "err", err)
		return nil, ivr.DialResult{Outcome: survey.DialTechnical, Reason: err.Error()}, nil
	}
	defer func() {
		if !keep {
			dlg.Close()
		}
	}()
	res := ivr.DialResult{}
	if h := req.CallID(); h != nil {
		res.CallID = h.Value()
	}
	log = log.With("call_id", res.CallID)
	ring := s.opts.Trunk.RingTimeout
	if r.RingTimeout > 0 {
		ring = r.RingTimeout
	}
	ringCtx, cancel := context.WithTimeout(ctx, ring)
	err = dlg.WaitAnswer(ringCtx, sipgo.AnswerOptions{Username: s.opts.Trunk.Username, Password: s.opts.Trunk.Password,
		OnResponse: func(p *sip.Response) error {
			if p.StatusCode == sip.StatusRinging || p.StatusCode == sip.StatusSessionInProgress {
				if !res.Rang && r.Ringing != nil {
					r.Ringing()
				}
				res.Rang = true
			}
			return nil
		}})
	rang := errors.Is(ringCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	cancel()
	res.RingTime = time.Since(invited)
	if p := dlg.InviteResponse; p != nil && !p.IsProvisional() {
		res.SIPStatus, res.Reason, res.Q850Cause = p.StatusCode, p.Reason, q850Cause(p)
	}
	if err != nil {
		var refused *sipgo.ErrDialogResponse
		switch {
		case ctx.Err() != nil:
			res.Outcome = survey.DialCancelled
			log.Info("call cancelled before answer")
			return nil, res, fmt.Errorf("dial %s: %w", r.To, ctx.Err())
		case rang:
			res.Outcome = survey.DialNoAnswer
		case errors.As(err, &refused):
			p := refused.Res
			res.SIPStatus, res.Reason, res.Q850Cause = p.StatusCode, p.Reason, q850Cause(p)
			res.Outcome = refusal(p.StatusCode)
		default:
			res.Outcome = survey.DialTechnical
			if res.Reason == "" {
				res.Reason = err.Error()
			}
		}
		log.Info("call not answered", "outcome", res.Outcome, "status", res.SIPStatus, "q850", res.Q850Cause, "ring", res.RingTime.Round(time.Millisecond))
		return nil, res, nil
	}

	answer := dlg.InviteResponse
	st, err := sdp.NegotiateSRTP(answer.Body(), s.opts.AcceptTelephoneEvent, offeredPolicy(offer))
	if err == nil {
		err = reachable(s.rtpIP, st)
	}
	var secure *srtpSession
	if err == nil {
		secure, err = answeredSRTP(&offer, st)
	}
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
		res.Outcome, res.Reason = survey.DialTechnical, "answer SDP: "+err.Error()
		return nil, res, nil
	}
	res.Outcome = survey.DialAnswered
	c := newCall(port, st, s, log)
	c.dialog, c.bye, c.srtp = &dlg.Dialog, dlg.Bye, secure
	c.local = offer
	c.local.Codecs, c.local.CodecPTs, c.local.EventPT = []media.Codec{st.Codec}, []uint8{st.CodecPT}, st.EventPT
	c.local.Version++
	s.register(dlg.ID, c)
	warnClearKeys(log, secure, req.Transport())
	log.Info("call answered", "codec", st.Codec.Name(), "telephone_event", st.EventPT >= 0, "ring", res.RingTime.Round(time.Millisecond),
		"srtp", secure.name())
	var amd *amdRun
	if r.AMD {
		// Options were validated: this cannot fail.
		if amd, err = newAMDRun(s.opts.AMD); err != nil {
			log.Error("AMD", "err", err)
		} else {
			c.amd.Store(amd)
		}
	}
	d := &dialed{call: c, s: s, id: dlg.ID, close: dlg.Close, release: release, answered: time.Now(), over: make(chan struct{})}
	s.begin(c, dlg.Context())
	go func() {
		<-c.done
		d.endedAt = time.Now()
		close(d.over)
	}()
	keep = true
	if amd != nil {
		s.detect(ctx, c, amd, &res)
		log.Info("AMD", "verdict", res.AMD, "cause", res.AMDCause, "after", res.AMDTime)
	}
	return d, res, nil
}

// detect waits for the AMD verdict on an answered call and puts it in res:
// notsure when the audio does not come in time or ctx ends first, with
// cause HANGUP when the call ends first.
func (s *Server) detect(ctx context.Context, c *call, amd *amdRun, res *ivr.DialResult) {
	t := time.NewTimer(s.opts.AMD.TotalAnalysisTime + amdGrace)
	defer t.Stop()
	cause := ""
	select {
	case <-amd.done:
	case <-c.done:
		cause = "HANGUP"
	case <-t.C:
	case <-ctx.Done():
	}
	c.amd.Store(nil)
	v, ok, heard := amd.stop()
	res.AMDTime = heard
	switch {
	case ok:
		res.AMD, res.AMDCause = ivr.AMDVerdict(v.Verdict), v.String()
	case cause != "":
		res.AMD, res.AMDCause = ivr.AMDNotSure, cause
	default:
		res.AMD, res.AMDCause = ivr.AMDNotSure, "TOOLONG-"+strconv.FormatInt(heard.Milliseconds(), 10)
	}
}

// dialed is an answered outbound call, until its Close.
type dialed struct {
	*call
	s        *Server
	id       string       // SIP dialog id
	close    func() error // the dialog's
	release  func()       // the admission's
	answered time.Time
	endedAt  time.Time     // set before over closes
	over     chan struct{} // closed once the call has ended
	once     sync.Once
	result   ivr.CallEnd
}

// Close hangs up if the call is still up, waits for its media to stop and
// frees it. Calling it again returns the same end.
func (d *dialed) Close(ctx context.Context) (ivr.CallEnd, error) {
	var err error
	d.once.Do(func() {
		if !d.ended() {
			hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err = d.Hangup(hctx); err != nil {
				d.log.Warn("hang up", "err", err)
			}
			cancel()
		}
		d.s.finish(d.call)
		<-d.over
		d.s.unregister(d.id)
		if cerr := d.close(); cerr != nil {
			d.log.Debug("close dialog", "err", cerr)
		}
		d.release()
		d.result = ivr.CallEnd{Talk: d.endedAt.Sub(d.answered)}
	})
	return d.result, err
}

// refusal classifies a final failure status.
func refusal(code int) survey.DialOutcome {
	switch code {
	case sip.StatusBusyHere, 600:
		return survey.DialBusy
	case sip.StatusRequestTimeout, sip.StatusTemporarilyUnavailable, sip.StatusRequestTerminated:
		return survey.DialNoAnswer
	case sip.StatusNotFound, sip.StatusGone, sip.StatusAddressIncomplete, 604:
		return survey.DialNotWorking
	case 603: // Decline
		return survey.DialRejected // the callee or its network refused the call
	}
	return survey.DialTechnical
}

// from is the From header of an outbound call: callerID (`"Name" <user>`
// or a user), or else the trunk's caller id.
func (s *Server) from(callerID string) (sip.FromHeader, error) {
	display, user := s.opts.Trunk.FromDisplay, s.opts.Trunk.FromUser
	if callerID != "" {
		display, user = "", strings.TrimSpace(callerID)
		if name, rest, ok := strings.Cut(user, "<"); ok {
			addr, tail, closed := strings.Cut(rest, ">")
			if !closed || strings.TrimSpace(tail) != "" {
				return sip.FromHeader{}, survey.Errorf(survey.EInvalid, "caller id %q: want \"Name\" <number> or a number", callerID)
			}
			display, user = strings.Trim(strings.TrimSpace(name), `"`), strings.TrimSpace(addr)
		}
		if !validUser(user) || len(display) > 64 || strings.ContainsAny(display, "\"\\\r\n\x00") {
			return sip.FromHeader{}, survey.Errorf(survey.EInvalid, "caller id %q: want \"Name\" <number> or a number", callerID)
		}
	}
	host := s.opts.Trunk.FromHost
	if host == "" {
		host = s.advertise.String()
	}
	from := sip.FromHeader{DisplayName: display, Address: sip.Uri{Scheme: "sip", User: user, Host: host}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	return from, nil
}

// dialHeaders are a request's extra INVITE headers: X- headers only, so
// that nothing can rewrite the dialog's own, with values on one line.
func dialHeaders(hs map[string]string) ([]sip.Header, error) {
	names := slices.Sorted(maps.Keys(hs))
	out := make([]sip.Header, 0, len(names))
	for _, name := range names {
		v := hs[name]
		if len(name) < 3 || !strings.EqualFold(name[:2], "x-") || len(name) > 64 || !validUser(strings.ReplaceAll(name, "-", "")) ||
			len(v) > maxContextValue || strings.ContainsAny(v, "\r\n\x00") {
			return nil, survey.Errorf(survey.EInvalid, "header %q: only X- headers with a one-line value (up to %d bytes) can be added", name, maxContextValue)
		}
		out = append(out, sip.NewHeader(name, v))
	}
	return out, nil
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
