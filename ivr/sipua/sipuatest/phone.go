// Package sipuatest is a scriptable SIP phone for tests of the embedded
// endpoint and for the load generator: a sipgo user agent that dials
// (INVITE with SDP, digest auth), answers (for Dial), sends keys as
// RFC 4733 events or in-band tones, speaks audio, hears the far end's RTP
// (and the keys it sends as RFC 4733 events), notes when each prompt
// starts, and hangs up. One Phone carries many concurrent calls, each with
// its own RTP socket.
package sipuatest

// This file is the SIP side: the Phone, Dial, answering, in-dialog
// requests.

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua/internal/sdp"
	"github.com/canvass/canvass/ivr/sipua/internal/siplimits"
)

// PhoneOptions configure a Phone.
type PhoneOptions struct {
	// User is the phone's SIP user (From, Contact); default "tester".
	User string
	// Log receives sipgo's and the phone's messages; default: discarded.
	Log *slog.Logger
	// OnInvite handles incoming calls (for Dial tests); nil refuses
	// them with 480.
	OnInvite func(*Incoming)
	// Username and Password, when set, make incoming INVITEs authenticate
	// with digest, as a trunk would.
	Username, Password string
	// SharedMedia, when positive, puts up to that many calls on each RTP
	// socket, each call on a loopback address of its own (127.1.x.y), for
	// a load generator that must cost little next to the server it
	// measures (shared.go; Linux only). 0 gives every call a socket on
	// 127.0.0.1.
	SharedMedia int
}

// Phone is a SIP user agent on 127.0.0.1 (UDP and TCP on one port).
type Phone struct {
	opts    PhoneOptions
	log     *slog.Logger
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	udpOut  *sipgo.DialogClientCache
	tcpOut  *sipgo.DialogClientCache
	in      *sipgo.DialogServerCache
	udp     net.PacketConn
	tcp     net.Listener
	addr    netip.AddrPort
	cancel  context.CancelFunc
	serving sync.WaitGroup
	clock   *media.Clock // ticks every call's RTP out

	mu       sync.Mutex
	closed   bool
	handlers sync.WaitGroup // OnInvite calls in progress
	ports    []*mediaPort   // SharedMedia
	lastIP   uint32         // the last call's loopback address, counted from firstIP
}

// NewPhone starts a phone on 127.0.0.1 with a free port.
func NewPhone(opts PhoneOptions) (*Phone, error) {
	if opts.User == "" {
		opts.User = "tester"
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p := &Phone{opts: opts, log: opts.Log, clock: media.NewClock(0)}
	var err error
	for range 20 {
		var udp *net.UDPConn
		if udp, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			return nil, err
		}
		p.addr = udp.LocalAddr().(*net.UDPAddr).AddrPort()
		if p.tcp, err = net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(p.addr)); err == nil {
			udp.SetReadBuffer(portBuffer) // a load test's bursts of responses
			p.udp = udp
			break
		}
		udp.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("phone: listen: %w", err)
	}
	sipLog := p.log.With("component", "phone")
	siplimits.Apply()
	if p.ua, err = sipgo.NewUA(sipgo.WithUserAgent(opts.User), sipgo.WithUserAgentHostname("127.0.0.1"),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(sipLog)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sipLog))); err != nil {
		return nil, err
	}
	if p.srv, err = sipgo.NewServer(p.ua, sipgo.WithServerLogger(sipLog)); err != nil {
		return nil, err
	}
	udpClient, err := sipgo.NewClient(p.ua, sipgo.WithClientLogger(sipLog), sipgo.WithClientHostname("127.0.0.1"),
		sipgo.WithClientPort(int(p.addr.Port())), sipgo.WithClientConnectionAddr(p.addr.String()))
	if err != nil {
		return nil, err
	}
	tcpClient, err := sipgo.NewClient(p.ua, sipgo.WithClientLogger(sipLog), sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		return nil, err
	}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: opts.User, Host: "127.0.0.1", Port: int(p.addr.Port())}}
	tcpContact := contact
	tcpContact.Address.UriParams = sip.NewParams()
	tcpContact.Address.UriParams.Add("transport", "tcp")
	p.udpOut = sipgo.NewDialogClientCache(udpClient, contact)
	p.tcpOut = sipgo.NewDialogClientCache(tcpClient, tcpContact)
	p.in = sipgo.NewDialogServerCache(udpClient, contact)

	p.srv.OnBye(p.onBye)
	p.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := p.in.ReadAck(req, tx); err != nil {
			p.log.Debug("phone: ACK", "err", err)
		}
	})
	p.srv.OnInvite(p.onInvite)
	p.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		p.reply(tx, req, sip.StatusOK, "OK")
	})

	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.serving.Add(2)
	go func() { defer p.serving.Done(); p.serve(p.srv.ServeUDP(p.udp)) }()
	go func() { defer p.serving.Done(); p.serve(p.srv.ServeTCP(p.tcp)) }()
	go func() { <-ctx.Done(); p.udp.Close(); p.tcp.Close() }()
	// Requests leave from the UDP listener once sipgo has registered it.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c, err := p.ua.TransportLayer().GetConnection("udp", p.addr.String()); err == nil && c != nil {
			break
		}
		if time.Now().After(deadline) {
			p.Close()
			return nil, errors.New("phone: the SIP listener did not start")
		}
		time.Sleep(time.Millisecond)
	}
	return p, nil
}

func (p *Phone) serve(err error) {
	if err != nil && !errors.Is(err, net.ErrClosed) {
		p.log.Debug("phone: serve", "err", err)
	}
}

// Addr is the phone's SIP address.
func (p *Phone) Addr() netip.AddrPort { return p.addr }

// URI is a sip: URI of the phone for user.
func (p *Phone) URI(user string) string { return fmt.Sprintf("sip:%s@%s", user, p.addr) }

// Close waits for OnInvite handlers to return, then stops the phone
// (calls still up are abandoned, not hung up).
func (p *Phone) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.handlers.Wait()
	p.mu.Lock()
	ports := p.ports
	p.mu.Unlock()
	for _, mp := range ports {
		mp.close()
	}
	p.cancel()
	p.serving.Wait()
	return p.ua.Close()
}

func (p *Phone) reply(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		p.log.Debug("phone: respond", "code", code, "err", err)
	}
}

func (p *Phone) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if err := p.udpOut.ReadBye(req, tx); err == nil {
		return
	}
	if err := p.tcpOut.ReadBye(req, tx); err == nil {
		return
	}
	if err := p.in.ReadBye(req, tx); err == nil {
		return
	}
	p.reply(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

// DialOptions shape one outgoing call.
type DialOptions struct {
	// Headers are added to the INVITE (X-Canvass-Agent…).
	Headers map[string]string
	// From is the From user; default the phone's user.
	From string
	// Codecs offered, in order; default PCMU.
	Codecs []media.Codec
	// InBand offers no telephone-event: keys are sent as tones.
	InBand bool
	// Username and Password answer a digest challenge.
	Username, Password string
	// SDP replaces the generated offer (bad-input tests); ContentType its
	// Content-Type (default application/sdp).
	SDP         []byte
	ContentType string
	// KeepAudio keeps everything heard (Heard); otherwise only prompt
	// onsets and statistics are kept.
	KeepAudio bool
	// Video offers a video stream before the audio one, as a softphone
	// with a camera does; the endpoint must refuse it in place.
	Video bool
	// Mute sends no RTP at all, as a phone whose audio failed.
	Mute bool
	// LateOffer sends the INVITE without SDP (a delayed-offer trunk): the
	// endpoint offers in its 200 and the phone answers in the ACK, unless
	// AckWithoutAnswer, which sends a bare ACK.
	LateOffer, AckWithoutAnswer bool
	// ByeBeforeAck holds the ACK of the 200 back until Hangup, which sends
	// the BYE first: what the endpoint sees when it handles a phone's ACK
	// and immediate BYE out of order.
	ByeBeforeAck bool
}

// StatusError is a final failure response to an INVITE.
type StatusError struct {
	Code   int
	Reason string
	Res    *sip.Response
}

func (e *StatusError) Error() string { return fmt.Sprintf("INVITE refused: %d %s", e.Code, e.Reason) }

// Dial calls uri (sip:user@host:port[;params]) and returns the answered
// call. A refusal is a *StatusError.
func (p *Phone) Dial(ctx context.Context, uri string, o DialOptions) (*Call, error) {
	var target sip.Uri
	if err := sip.ParseUri(uri, &target); err != nil {
		return nil, fmt.Errorf("dial %s: %w", uri, err)
	}
	c, err := p.newCall(o.KeepAudio)
	if err != nil {
		return nil, err
	}
	c.MuteRTP(o.Mute)
	ok := false
	defer func() {
		if !ok {
			c.release()
		}
	}()
	if len(o.Codecs) == 0 {
		o.Codecs = []media.Codec{media.PCMU}
	}
	events := 101
	if o.InBand {
		events = -1
	}
	c.local = sdp.Description{Addr: c.localAddr(), SessionID: rand.Uint64() >> 1, Version: 1, Codecs: o.Codecs, EventPT: events, Direction: sdp.SendRecv}
	body, ct := c.local.Marshal(), "application/sdp"
	if o.Video {
		i := bytes.Index(body, []byte("m=audio"))
		body = slices.Concat(body[:i], []byte("m=video 9 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"), body[i:])
	}
	if o.SDP != nil {
		body = o.SDP
	}
	if o.ContentType != "" {
		ct = o.ContentType
	}
	req := sip.NewRequest(sip.INVITE, target)
	cache := p.udpOut
	if tr, _ := target.UriParams.Get("transport"); strings.EqualFold(tr, "tcp") {
		req.SetTransport("TCP")
		cache = p.tcpOut
	}
	from := o.From
	if from == "" {
		from = p.opts.User
	}
	fh := sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: from, Host: "127.0.0.1"}, Params: sip.NewParams()}
	fh.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(&fh)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: target.User, Host: target.Host, Port: target.Port}})
	for k, v := range o.Headers {
		req.AppendHeader(sip.NewHeader(k, v))
	}
	if o.LateOffer {
		body = nil
	} else {
		req.AppendHeader(sip.NewHeader("Content-Type", ct))
	}
	req.SetBody(body)

	c.invited = time.Now()
	sess, err := cache.WriteInvite(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", uri, err)
	}
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{Username: o.Username, Password: o.Password}); err != nil {
		sess.Close()
		var refused *sipgo.ErrDialogResponse
		if errors.As(err, &refused) {
			return nil, &StatusError{Code: refused.Res.StatusCode, Reason: refused.Res.Reason, Res: refused.Res}
		}
		return nil, fmt.Errorf("dial %s: %w", uri, err)
	}
	c.answered = time.Now()
	st, err := sdp.Negotiate(sess.InviteResponse.Body(), !o.InBand)
	if err == nil && !o.LateOffer && len(st.Lines) != strings.Count(string(body), "\nm=") {
		err = fmt.Errorf("the answer has %d m= lines for the offer's %d (RFC 3264 §6)", len(st.Lines), strings.Count(string(body), "\nm="))
	}
	if o.LateOffer && err == nil {
		// The 200 was the offer: answer it in the ACK.
		c.local.Codecs, c.local.CodecPTs, c.local.EventPT = []media.Codec{st.Codec}, []uint8{st.CodecPT}, st.EventPT
		ack := sip.NewRequest(sip.ACK, sess.InviteRequest.Recipient)
		if ct := sess.InviteResponse.Contact(); ct != nil {
			ack.Recipient = *ct.Address.Clone()
		}
		ack.SetTransport(sess.InviteRequest.Transport())
		if !o.AckWithoutAnswer {
			ack.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
			ack.SetBody(c.local.Marshal())
		}
		if ackErr := sess.WriteAck(ctx, ack); ackErr != nil {
			return nil, fmt.Errorf("dial %s: ACK: %w", uri, ackErr)
		}
	} else if o.ByeBeforeAck && err == nil {
		c.ackLate = true
	} else if ackErr := sess.Ack(ctx); ackErr != nil {
		return nil, fmt.Errorf("dial %s: ACK: %w", uri, ackErr)
	}
	if err != nil {
		byeCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if byeErr := sess.Bye(byeCtx); byeErr != nil {
			err = errors.Join(err, byeErr)
		}
		return nil, fmt.Errorf("dial %s: answer SDP: %w", uri, err)
	}
	c.client = sess
	c.dialog = sess.Context()
	c.start(st)
	ok = true
	return c, nil
}

// Incoming is an INVITE the phone received.
type Incoming struct {
	p   *Phone
	Req *sip.Request
	tx  sip.ServerTransaction
	dlg *sipgo.DialogServerSession
}

func (p *Phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		p.reply(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here") // no re-INVITEs in this phone
		return
	}
	p.mu.Lock()
	if p.opts.OnInvite == nil || p.closed {
		p.mu.Unlock()
		p.reply(tx, req, sip.StatusTemporarilyUnavailable, "Temporarily Unavailable")
		return
	}
	p.handlers.Add(1)
	p.mu.Unlock()
	defer p.handlers.Done()
	if p.opts.Password != "" && !p.authorized(req) {
		chal := digest.Challenge{Realm: "sipuatest", Nonce: fmt.Sprintf("%x", rand.Uint64()), Algorithm: "MD5", QOP: []string{"auth"}}
		p.reply(tx, req, sip.StatusUnauthorized, "Unauthorized", sip.NewHeader("WWW-Authenticate", chal.String()))
		return
	}
	dlg, err := p.in.ReadInvite(req, tx)
	if err != nil {
		p.reply(tx, req, sip.StatusBadRequest, "Bad Request")
		return
	}
	defer dlg.Close()
	p.opts.OnInvite(&Incoming{p: p, Req: req, tx: tx, dlg: dlg})
}

// authorized checks digest credentials (any nonce: a test trunk).
func (p *Phone) authorized(req *sip.Request) bool {
	h := req.GetHeader("Authorization")
	if h == nil {
		return false
	}
	creds, err := digest.ParseCredentials(h.Value())
	if err != nil {
		return false
	}
	chal := &digest.Challenge{Realm: creds.Realm, Nonce: creds.Nonce, Algorithm: creds.Algorithm}
	if creds.QOP != "" {
		chal.QOP = []string{creds.QOP}
	}
	want, err := digest.Digest(chal, digest.Options{Method: string(req.Method), URI: creds.URI, Username: p.opts.Username,
		Password: p.opts.Password, Cnonce: creds.Cnonce, Count: creds.Nc})
	return err == nil && creds.Username == p.opts.Username && subtle.ConstantTimeCompare([]byte(want.Response), []byte(creds.Response)) == 1
}

// Ring sends 180 Ringing.
func (in *Incoming) Ring() error { return in.dlg.Respond(sip.StatusRinging, "Ringing", nil) }

// Reject ends the INVITE with a failure, e.g. 486 with a Reason header.
func (in *Incoming) Reject(code int, reason string, hdrs ...sip.Header) error {
	return in.dlg.Respond(code, reason, nil, hdrs...)
}

// Cancelled is closed if the caller cancels before an answer.
func (in *Incoming) Cancelled() <-chan struct{} { return in.dlg.Context().Done() }

// Answer accepts the call with our SDP and returns it once ACKed. It must
// be called inside OnInvite, which should then wait for the call to end.
func (in *Incoming) Answer(keepAudio bool) (*Call, error) {
	st, err := sdp.Negotiate(in.Req.Body(), true)
	if err != nil {
		return nil, errors.Join(err, in.Reject(sip.StatusNotAcceptableHere, "Not Acceptable Here"))
	}
	c, err := in.p.newCall(keepAudio)
	if err != nil {
		return nil, err
	}
	c.local = sdp.Description{Addr: c.localAddr(), SessionID: rand.Uint64() >> 1, Version: 1,
		Codecs: []media.Codec{st.Codec}, CodecPTs: []uint8{st.CodecPT}, EventPT: st.EventPT, Direction: st.Direction.Reverse()}
	c.invited = time.Now()
	if err := in.dlg.RespondSDP(c.local.Marshal()); err != nil {
		c.release()
		return nil, err
	}
	c.answered = time.Now()
	c.server = in.dlg
	c.dialog = in.dlg.Context()
	c.start(st)
	return c, nil
}

// Hangup sends BYE.
func (c *Call) Hangup(ctx context.Context) error {
	defer c.stop()
	if c.ackLate {
		return c.byeThenAck(ctx)
	}
	if c.client != nil {
		return c.client.Bye(ctx)
	}
	return c.server.Bye(ctx)
}

// Reinvite sends a re-INVITE with the call's SDP, first moving its RTP to a
// new socket when move is set and setting its direction (hold: SendOnly).
// It returns the status of the final response.
func (c *Call) Reinvite(ctx context.Context, dir sdp.Direction, move bool) (int, error) {
	if c.client == nil {
		return 0, errors.New("re-INVITE from an answered call is not supported")
	}
	if move {
		if err := c.moveRTP(); err != nil {
			return 0, err
		}
	}
	c.mu.Lock()
	c.local.Direction = dir
	c.local.Addr = c.localAddr()
	c.local.Version++
	body := c.local.Marshal()
	c.mu.Unlock()
	req := sip.NewRequest(sip.INVITE, c.client.InviteRequest.Recipient)
	if cont := c.client.InviteResponse.Contact(); cont != nil {
		req.Recipient = cont.Address
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	res, err := c.client.Do(ctx, req)
	if err != nil {
		return 0, err
	}
	ack := sip.NewRequest(sip.ACK, req.Recipient)
	if err := c.client.WriteRequest(ack); err != nil {
		return res.StatusCode, err
	}
	if res.StatusCode == sip.StatusOK {
		if st, err := sdp.Negotiate(res.Body(), c.eventPT >= 0); err == nil {
			c.setRemote(st.Addr)
		}
	}
	return res.StatusCode, nil
}

// Info sends a key as SIP INFO (application/dtmf-relay).
func (c *Call) Info(ctx context.Context, d rune) (int, error) {
	if c.client == nil {
		return 0, errors.New("INFO from an answered call is not supported")
	}
	req := sip.NewRequest(sip.INFO, c.client.InviteRequest.Recipient)
	if cont := c.client.InviteResponse.Contact(); cont != nil {
		req.Recipient = cont.Address
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/dtmf-relay"))
	req.SetBody(fmt.Appendf(nil, "Signal=%c\r\nDuration=160\r\n", d))
	res, err := c.client.Do(ctx, req)
	if err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}

// byeThenAck hangs up a call whose ACK was held back (ByeBeforeAck): the
// BYE goes out first, then the ACK, too late to matter.
func (c *Call) byeThenAck(ctx context.Context) error {
	defer c.client.Close()
	target := c.client.InviteRequest.Recipient
	if ct := c.client.InviteResponse.Contact(); ct != nil {
		target = ct.Address
	}
	bye := sip.NewRequest(sip.BYE, *target.Clone())
	bye.SetTransport(c.client.InviteRequest.Transport())
	bye.AppendHeader(&sip.CSeqHeader{SeqNo: c.client.InviteRequest.CSeq().SeqNo + 1, MethodName: sip.BYE})
	res, err := c.client.Do(ctx, bye)
	if err == nil && res.StatusCode != sip.StatusOK {
		err = &StatusError{Code: res.StatusCode, Reason: res.Reason, Res: res}
	}
	return errors.Join(err, c.client.Ack(ctx))
}
