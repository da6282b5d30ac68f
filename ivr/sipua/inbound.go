package sipua

// This file answers calls: an INVITE is checked (who sent it, room for one
// more call, its SDP, its questionnaire) before anything rings; then 180,
// 200 with our SDP, and, once ACKed, the survey runs in the INVITE's own
// goroutine. In-dialog requests (re-INVITE, UPDATE, INFO, BYE) find their
// call by dialog id.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua/internal/sdp"
	"github.com/canvass/canvass/survey"
)

// prepareTimeout bounds the questionnaire lookup before answering.
const prepareTimeout = 10 * time.Second

// respond sends a response built from req, logging a failure.
func respond(log *slog.Logger, tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		log.Debug("respond", "code", code, "err", err)
	}
}

// warning is a Warning header (RFC 3261 §20.43) explaining a refusal.
func warning(code int, text string) sip.Header {
	return sip.NewHeader("Warning", fmt.Sprintf("%d canvass %q", code, text))
}

func hasToTag(req *sip.Request) bool {
	to := req.To()
	return to != nil && to.Params.Has("tag")
}

func sourceIP(req *sip.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func (s *Server) allowed(ip netip.Addr) bool {
	for _, p := range s.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// badRequest says what makes a request unusable (RFC 3261 §8.1.1: every
// request carries To, From, Call-ID, CSeq, Via; the CSeq method is the
// request's), or "" when nothing does.
func badRequest(req *sip.Request) string {
	switch cseq := req.CSeq(); {
	case req.CallID() == nil || req.CallID().Value() == "":
		return "no Call-ID header"
	case req.From() == nil:
		return "no From header"
	case req.To() == nil:
		return "no To header"
	case cseq == nil:
		return "no CSeq header"
	case cseq.MethodName != req.Method:
		return fmt.Sprintf("the CSeq method %s is not the request's (%s)", cseq.MethodName, req.Method)
	}
	return ""
}

func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if bad := badRequest(req); bad != "" {
		s.log.Info("INVITE refused: malformed", "from", req.Source(), "reason", bad)
		respond(s.log, tx, req, sip.StatusBadRequest, "Bad Request", warning(399, bad))
		return
	}
	if hasToTag(req) {
		s.onReoffer(req, tx)
		return
	}
	invited := time.Now()
	log := s.log.With("call_id", req.CallID().Value(), "from", req.Source(), "transport", req.Transport())
	respond(log, tx, req, sip.StatusTrying, "Trying")

	if src := sourceIP(req); !s.allowed(src) {
		if s.opts.Password == "" {
			log.Warn("INVITE refused: source outside sip.allow_from")
			respond(log, tx, req, sip.StatusForbidden, "Forbidden")
			return
		}
		if ok, stale := s.authorized(req); !ok {
			log.Info("INVITE challenged", "stale_nonce", stale)
			respond(log, tx, req, sip.StatusUnauthorized, "Unauthorized", s.challenge(stale))
			return
		}
	}
	release, err := s.admit()
	if err != nil {
		log.Warn("INVITE refused", "err", err)
		respond(log, tx, req, sip.StatusServiceUnavailable, "Service Unavailable", retryAfter(5*time.Second), warning(399, err.Error()))
		return
	}
	defer release()

	if ct := req.ContentType(); ct != nil && !strings.HasPrefix(strings.ToLower(ct.Value()), "application/sdp") {
		respond(log, tx, req, sip.StatusUnsupportedMediaType, "Unsupported Media Type", sip.NewHeader("Accept", "application/sdp"))
		return
	}
	// An INVITE without a body is a late offer (a delayed-offer trunk):
	// we offer in the 200 and the caller answers in its ACK.
	lateOffer := len(req.Body()) == 0
	var st sdp.Stream
	if !lateOffer {
		if st, err = sdp.NegotiateSRTP(req.Body(), s.opts.AcceptTelephoneEvent, s.opts.SRTP.policy()); err == nil {
			err = reachable(s.rtpIP, st)
		}
	}
	switch {
	case errors.Is(err, sdp.ErrProfile):
		log.Info("INVITE refused: SRTP or plain RTP (sip.srtp)", "err", err, "srtp", s.opts.SRTP)
		respond(log, tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here", warning(302, err.Error()))
		return
	case errors.Is(err, sdp.ErrNoCommonCodec):
		log.Info("INVITE refused: no common codec", "err", err)
		respond(log, tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here", warning(305, "Incompatible media format: PCMU or PCMA over RTP/AVP"))
		return
	case errors.Is(err, errAddressFamily):
		log.Info("INVITE refused: RTP address of another IP family", "err", err)
		respond(log, tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here", warning(301, "Incompatible network address formats"))
		return
	case err != nil:
		log.Info("INVITE refused: bad SDP", "err", err)
		respond(log, tx, req, sip.StatusBadRequest, "Bad Request", warning(399, err.Error()))
		return
	}

	info := s.callInfo(req)
	log = log.With("questionnaire", info.Questionnaire)
	// A CANCEL (which sipgo answers itself) abandons the lookup at once.
	prepCtx, cancel := context.WithTimeout(s.callCtx(), prepareTimeout)
	var cancelled atomic.Bool
	if !tx.OnCancel(func(*sip.Request) { cancelled.Store(true); cancel() }) {
		cancel()
		log.Info("call cancelled before answer")
		return
	}
	sess, err := s.sessions.Prepare(prepCtx, info)
	cancel()
	if cancelled.Load() {
		log.Info("call cancelled before answer")
		return
	}
	if err != nil {
		code, reason := prepareFailure(err)
		if code == sip.StatusServiceUnavailable {
			log.Error("INVITE refused: cannot prepare the survey", "err", err)
			respond(log, tx, req, code, reason, retryAfter(30*time.Second))
			return
		}
		log.Info("INVITE refused", "code", code, "err", err)
		respond(log, tx, req, code, reason, warning(399, survey.ErrorMessage(err)))
		return
	}

	dlg, err := s.inboundFor(req).ReadInvite(req, tx)
	if err != nil {
		// No Contact, or the caller cancelled already.
		log.Info("INVITE dropped", "err", err)
		if errors.Is(err, sipgo.ErrDialogInviteNoContact) {
			respond(log, tx, req, sip.StatusBadRequest, "Bad Request", warning(399, "no Contact header"))
		}
		return
	}
	defer dlg.Close()
	port, err := s.rtp().take()
	if err != nil {
		log.Error("INVITE refused", "err", err)
		if rerr := dlg.Respond(sip.StatusServiceUnavailable, "Service Unavailable", nil, retryAfter(5*time.Second)); rerr != nil {
			log.Debug("respond", "err", rerr)
		}
		return
	}
	c := newCall(port, st, s, log)
	c.dialog, c.bye = &dlg.Dialog, byeOf(dlg)
	c.local = s.ourDescription(port, st)
	c.srtp, err = answerSRTP(st, &c.local)
	if lateOffer {
		c.local = s.offer(port)
		offerSRTP(&c.local, s.opts.SRTP)
		c.lateOffer = true
	}
	if err != nil {
		log.Error("INVITE refused", "err", err)
		if rerr := dlg.Respond(sip.StatusInternalServerError, "Server Internal Error", nil); rerr != nil {
			log.Debug("respond", "err", rerr)
		}
		c.end("error")
		return
	}
	s.register(dlg.ID, c)
	defer s.unregister(dlg.ID)

	if err := dlg.Respond(sip.StatusRinging, "Ringing", nil); err != nil {
		log.Info("call cancelled before answer", "err", err)
		c.end("cancel")
		return
	}
	res := sip.NewSDPResponseFromRequest(dlg.InviteRequest, c.local.Marshal())
	contact := s.contact(req.Transport())
	res.AppendHeader(&contact)
	s.answerTime.Observe(time.Since(invited).Seconds())
	if err := s.answer(dlg, tx, res); errors.Is(err, errNoAck) && !c.byeFirst.Load() {
		// RFC 3261 §13.3.1.4: the dialog is confirmed, and ended with a BYE.
		log.Warn("hanging up", "err", err)
		c.end("no_ack")
		release()      // the slot is free now, whatever the BYE meets
		tx.Terminate() // else the BYE waits for the INVITE transaction to time out
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.callCtx()), 5*time.Second)
		if err := byeOf(dlg)(ctx); err != nil {
			log.Info("BYE after no ACK", "err", err)
		}
		cancel()
		return
	} else if err != nil && !c.byeFirst.Load() {
		// CANCEL arrived (sipgo answered it 200 and the INVITE 487).
		log.Info("call not established", "err", err)
		c.end("cancel")
		return
	}
	if lateOffer {
		if st, err = c.lateAnswer(s.opts.AcceptTelephoneEvent); err != nil && !c.byeFirst.Load() {
			// RFC 3261 §13.3.1.4: a session that cannot be set up is ended with BYE.
			log.Warn("the ACK carries no usable answer to our offer; hanging up", "err", err)
			if err := c.Hangup(context.WithoutCancel(s.callCtx())); err != nil {
				log.Debug("BYE", "err", err)
			}
			return
		}
	}
	warnClearKeys(log, c.srtp, req.Transport())
	log.Info("call answered", "codec", st.Codec.Name(), "telephone_event", st.EventPT >= 0, "rtp_peer", st.Addr, "rtp_local", c.local.Addr,
		"late_offer", lateOffer, "srtp", c.srtp.name())
	s.converse(s.callCtx(), c, sess, dlg.Context()) // logs how the survey ended
}

// errNoAck: our 200 OK to an INVITE was retransmitted for 64*T1 and no
// ACK came.
var errNoAck = errors.New("no ACK for the 200 OK")

// answer sends our 200 OK to an INVITE and waits for its ACK (RFC 3261
// §13.3.1.4). sipgo's dialog sends the 200, resends it after T1 and then
// every T2, and only stops when its transaction ends; here the 200 is
// also resent at the doubling intervals in between (T1, 2*T1, 4*T1, … up
// to T2), and after 64*T1 the wait ends with errNoAck.
func (s *Server) answer(dlg *sipgo.DialogServerSession, tx sip.ServerTransaction, res *sip.Response) error {
	s.mu.Lock()
	t1, t2 := s.t1, s.t2
	s.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- dlg.WriteResponse(res) }()
	giveUp := time.NewTimer(64 * t1)
	defer giveUp.Stop()
	interval := t1
	resend := time.NewTimer(interval)
	defer resend.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-resend.C:
			if err := tx.Respond(res); err != nil {
				return <-done // the transaction ended: so does WriteResponse
			}
			interval = min(2*interval, t2)
			resend.Reset(interval)
		case <-giveUp.C:
			return fmt.Errorf("%w after %s", errNoAck, 64*t1)
		}
	}
}

// offer is our SDP offer for a new call on port: PCMU and PCMA, and
// telephone-event unless it is turned off.
func (s *Server) offer(port *rtpPort) sdp.Description {
	events := -1
	if s.opts.AcceptTelephoneEvent {
		events = eventPT
	}
	return sdp.Description{Addr: s.localRTP(port), SessionID: newSessionID(), Version: 1,
		Codecs: []media.Codec{media.PCMU, media.PCMA}, EventPT: events, Direction: sdp.SendRecv}
}

// lateAnswer applies the answer the caller put in its ACK to our offer in
// the 200 (late offer).
func (c *call) lateAnswer(events bool) (sdp.Stream, error) {
	body := c.ackBody.Load()
	if body == nil || len(*body) == 0 {
		return sdp.Stream{}, errors.New("the ACK has no SDP")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := sdp.NegotiateSRTP(*body, events, offeredPolicy(c.local))
	if err == nil {
		err = reachable(c.localIP(), st)
	}
	if err != nil {
		return sdp.Stream{}, err
	}
	if !slices.Contains(c.local.Codecs, st.Codec) || st.EventPT >= 0 && st.EventPT != c.local.EventPT {
		return sdp.Stream{}, fmt.Errorf("the answer picks %s/%d, which we did not offer", st.Codec.Name(), st.EventPT)
	}
	if c.srtp, err = answeredSRTP(&c.local, st); err != nil {
		return sdp.Stream{}, err
	}
	c.local.Codecs, c.local.CodecPTs, c.local.EventPT = []media.Codec{st.Codec}, []uint8{st.CodecPT}, st.EventPT
	c.local.Direction = st.Direction.Reverse()
	c.local.Version++
	c.update(st)
	return st, nil
}

// converse runs the survey over an established call and ends it.
func (s *Server) converse(ctx context.Context, c *call, sess *ivr.Session, dialog context.Context) (survey.Status, error) {
	s.begin(c, dialog)
	status, err := sess.Run(ctx, c)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		c.log.Info("survey stopped: its context ended (shutdown)", "status", status)
	} else if err != nil {
		c.log.Error("survey ended with an error", "status", status, "err", err)
	} else {
		c.log.Info("survey ended", "status", status)
	}
	if !c.ended() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := c.Hangup(ctx); err != nil {
			c.log.Warn("hang up", "err", err)
		}
		cancel()
	}
	s.finish(c)
	return status, err
}

// begin starts an established call's media; the call ends when its dialog
// does (a BYE from the peer).
func (s *Server) begin(c *call, dialog context.Context) {
	c.start()
	go func() {
		select {
		case <-dialog.Done(): // BYE from the peer, or the dialog died
			c.end("peer")
		case <-c.done:
		}
	}()
}

// finish stops a call's media, hung up or not, and waits until it has.
func (s *Server) finish(c *call) {
	c.end("done")
	c.wait()
}

// prepareFailure maps a Prepare error to a SIP final response.
func prepareFailure(err error) (int, string) {
	switch survey.ErrorCodeOf(err) {
	case survey.ENotFound:
		return sip.StatusNotFound, "Not Found"
	case survey.EInvalid, survey.EForbidden:
		// Permanent: the questionnaire exists but cannot run on a keypad
		// call (or the call names none). 403 tells the PBX not to retry.
		return sip.StatusForbidden, "Forbidden"
	}
	// The database or the catalog failed: 503 lets a proxy try another
	// node, and Retry-After says when to come back.
	return sip.StatusServiceUnavailable, "Service Unavailable"
}

// Limits on what a call's headers may put in an interview's context.
const (
	maxContextValue = 200
	maxExtra        = 16
)

// callInfo reads the questionnaire and context from the INVITE: the
// request-URI user routes it; X-Canvass-* headers, or else the same names as
// URI parameters (;agent=…;queue=…;call_id=…;touchpoint=…;lang=…), give the
// context; the caller number is the P-Asserted-Identity user, or the From
// user.
func (s *Server) callInfo(req *sip.Request) ivr.CallInfo {
	user := req.Recipient.User
	q := s.opts.Routes[user]
	if q == "" {
		q = s.opts.DefaultQuestionnaire
	}
	if q == "" {
		q = user
	}
	param := func(name string) string {
		v, _ := req.Recipient.UriParams.Get(name)
		if u, err := url.PathUnescape(v); err == nil {
			v = u
		}
		return v
	}
	header := func(name string) string {
		if h := req.GetHeader(name); h != nil {
			return h.Value()
		}
		return ""
	}
	pick := func(h, p string) string {
		v := header(h)
		if v == "" {
			v = param(p)
		}
		return clean(v)
	}
	c := survey.Context{
		Agent:        pick("X-Canvass-Agent", "agent"),
		Queue:        pick("X-Canvass-Queue", "queue"),
		CallID:       pick("X-Canvass-Call-Id", "call_id"),
		Touchpoint:   pick("X-Canvass-Touchpoint", "touchpoint"),
		CustomerID:   pick("X-Canvass-Customer-Id", "customer_id"),
		CallerNumber: callerNumber(req),
		Extra:        map[string]string{},
	}
	if h := req.CallID(); h != nil {
		c.Extra["sip_call_id"] = clean(h.Value())
	}
	known := map[string]bool{"x-canvass-agent": true, "x-canvass-queue": true, "x-canvass-call-id": true,
		"x-canvass-touchpoint": true, "x-canvass-language": true, "x-canvass-customer-id": true}
	for _, h := range req.Headers() {
		name := strings.ToLower(h.Name())
		if !strings.HasPrefix(name, "x-canvass-") || known[name] || len(c.Extra) >= maxExtra {
			continue
		}
		if key := strings.TrimPrefix(name, "x-canvass-"); key != "" {
			c.Extra[strings.ReplaceAll(key, "-", "_")] = clean(h.Value())
		}
	}
	return ivr.CallInfo{Questionnaire: q, Language: strings.ToLower(pick("X-Canvass-Language", "lang")), Context: c}
}

// clean drops control characters and invalid UTF-8 from a header value
// and bounds its length (in bytes, cut on a character boundary).
func clean(v string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(v) {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > maxContextValue {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

func callerNumber(req *sip.Request) string {
	if h := req.GetHeader("P-Asserted-Identity"); h != nil {
		var u sip.Uri
		if _, err := sip.ParseAddressValue(h.Value(), &u, nil); err == nil && u.User != "" {
			return clean(u.User)
		}
		// tel: URIs keep the number in the raw part.
		if v := h.Value(); strings.Contains(v, "tel:") {
			num, _, _ := strings.Cut(v[strings.Index(v, "tel:")+4:], ">")
			num, _, _ = strings.Cut(num, ";")
			return clean(num)
		}
	}
	if f := req.From(); f != nil {
		return clean(f.Address.User)
	}
	return ""
}

// onReoffer answers a re-INVITE or UPDATE in a dialog: a new offer moves
// the peer's RTP address, changes hold state or codec; no offer gets our
// current description. A bad offer is refused and the call goes on.
func (s *Server) onReoffer(req *sip.Request, tx sip.ServerTransaction) {
	c := s.callFor(req)
	if c == nil {
		respond(s.log, tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	if req.IsInvite() {
		// Keeps the dialog's CSeq in step, so the ACK that follows matches.
		if err := c.dialog.ReadRequest(req, tx); err != nil {
			respond(c.log, tx, req, sip.StatusInternalServerError, "Server Internal Error", retryAfter(time.Second))
			return
		}
	}
	answer, err := c.renegotiate(req.Body(), s.opts.AcceptTelephoneEvent)
	if err != nil {
		c.log.Info("re-offer refused; the call keeps its media", "method", req.Method, "err", err)
		if errors.Is(err, sdp.ErrNoCommonCodec) {
			respond(c.log, tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here", warning(305, "Incompatible media format"))
		} else if errors.Is(err, errAddressFamily) {
			respond(c.log, tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here", warning(301, "Incompatible network address formats"))
		} else {
			respond(c.log, tx, req, sip.StatusBadRequest, "Bad Request", warning(399, err.Error()))
		}
		return
	}
	res := sip.NewSDPResponseFromRequest(req, answer)
	contact := s.contact(req.Transport())
	res.AppendHeader(&contact)
	if err := tx.Respond(res); err != nil {
		c.log.Debug("respond to re-offer", "err", err)
	}
}

func (s *Server) onUpdate(req *sip.Request, tx sip.ServerTransaction) { s.onReoffer(req, tx) }

func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if c := s.callFor(req); c != nil && c.lateOffer && len(req.Body()) > 0 {
		body := slices.Clone(req.Body())
		c.ackBody.CompareAndSwap(nil, &body) // before ReadAck lets the INVITE go on
	}
	if err := s.inboundFor(req).ReadAck(req, tx); err != nil && !errors.Is(err, sipgo.ErrDialogDoesNotExists) {
		s.log.Debug("ACK", "err", err)
	}
}

func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	inbound := s.inboundFor(req)
	if dt, err := inbound.MatchDialogRequest(req); err == nil && dt.LoadState() == sip.DialogStateEstablished {
		if c := s.callFor(req); c != nil {
			c.byeFirst.Store(true) // before ReadBye ends the wait for the ACK
		}
	}
	if err := inbound.ReadBye(req, tx); err == nil {
		return
	}
	for _, out := range []interface {
		ReadBye(*sip.Request, sip.ServerTransaction) error
	}{s.outboundUDP, s.outboundTCP} {
		if err := out.ReadBye(req, tx); err == nil {
			return
		}
	}
	respond(s.log, tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

// onCancel sees only a CANCEL that matched no INVITE: sipgo answers those
// that do (200, then 487 to the INVITE).
func (s *Server) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	respond(s.log, tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

// onOptions answers keep-alive and capability probes (a proxy's
// dispatcher pings with them).
func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	respond(s.log, tx, req, sip.StatusOK, "OK",
		sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE"),
		sip.NewHeader("Accept", "application/sdp"))
}

// onInfo takes keys sent as SIP INFO (application/dtmf-relay or
// application/dtmf), which some PBXes use instead of RFC 4733.
func (s *Server) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c := s.callFor(req)
	if c == nil {
		respond(s.log, tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = strings.ToLower(strings.TrimSpace(h.Value()))
	}
	var digit string
	switch {
	case strings.HasPrefix(ct, "application/dtmf-relay"):
		for line := range strings.SplitSeq(string(req.Body()), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				digit = strings.TrimSpace(v)
			}
		}
	case strings.HasPrefix(ct, "application/dtmf"):
		digit = strings.TrimSpace(string(req.Body()))
	default:
		respond(c.log, tx, req, sip.StatusUnsupportedMediaType, "Unsupported Media Type", sip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		return
	}
	// A key, or its event number ("10" for *, "11" for #).
	var d rune
	ok := false
	if n, err := strconv.Atoi(digit); err == nil && n >= 0 && n <= 15 {
		d, ok = media.EventDigit(uint8(n))
	} else if len(digit) == 1 {
		if code, valid := media.DigitEvent(rune(digit[0])); valid {
			d, ok = media.EventDigit(code)
		}
	}
	if !ok {
		respond(c.log, tx, req, sip.StatusBadRequest, "Bad Request", warning(399, "no DTMF signal in the body"))
		return
	}
	c.pushKey(d)
	respond(c.log, tx, req, sip.StatusOK, "OK")
}
