package sipua

// This file is the endpoint's frame: the interfaces it consumes, New (which
// binds the UDP and TCP listeners on one port), Run and its clean shutdown,
// call admission (MaxCalls, shutting down), the registry of live calls by
// SIP dialog, and the RTP port range.

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua/internal/sdp"
	"github.com/canvass/canvass/ivr/sipua/internal/siplimits"
)

// Sessions prepares calls; *ivr.Engine satisfies it.
type Sessions interface {
	Prepare(ctx context.Context, info ivr.CallInfo) (*ivr.Session, error)
}

// Prompts gives a prompt's audio as 8 kHz mono samples, synthesizing it
// when there is no recording. The endpoint only reads the slice.
type Prompts interface {
	PCM(ctx context.Context, questionnaire, id, lang, text string) ([]int16, error)
}

// Recordings says where a voice answer is written (a WAV file, 8 kHz mono
// 16-bit); its directory is created when missing.
type Recordings interface {
	RecordingPath(name string) (string, error)
}

var (
	_ Sessions         = (*ivr.Engine)(nil)
	_ ivr.Media        = (*call)(nil)
	_ ivr.EndCauser    = (*call)(nil)
	_ ivr.MediaWitness = (*call)(nil)
	_ interface {
		SendDigits(context.Context, string) error
	} = (*call)(nil)
)

// Errors of admission, checked with errors.Is.
var (
	// ErrBusy: MaxCalls calls are up.
	ErrBusy = errors.New("sip: too many calls")
	// ErrClosed: the endpoint is shutting down.
	ErrClosed = errors.New("sip: endpoint shutting down")
)

// Server is the SIP endpoint.
type Server struct {
	opts       Options
	sessions   Sessions
	prompts    Prompts
	recordings Recordings
	log        *slog.Logger

	ua          *sipgo.UserAgent
	sip         *sipgo.Server
	inbound     *sipgo.DialogServerCache
	outboundUDP *sipgo.DialogClientCache
	outboundTCP *sipgo.DialogClientCache
	inboundTLS  *sipgo.DialogServerCache // calls that came over TLS
	udp         net.PacketConn
	tcp         net.Listener
	tls         net.Listener   // nil without sip.tls_addr
	addr        netip.AddrPort // bound
	tlsAddr     netip.AddrPort // bound TLS listener
	advertise   netip.Addr
	rtpIP       netip.Addr
	rtpLo       int
	rtpHi       int
	allow       []netip.Prefix
	limits      *limiter
	answerTime  prometheus.Histogram // INVITE to 200 OK (metrics.go)
	nonceKey    [32]byte
	running     atomic.Bool
	ready       chan struct{} // closed once the listeners serve

	// What the calls share (call.go: media; rtpport.go).
	mediaOnce sync.Once
	clock     *media.Clock
	encoded   media.Encoded
	ports     *rtpPorts

	mu      sync.Mutex
	t1, t2  time.Duration // RFC 3261 timers of a 200 OK's wait for its ACK
	runCtx  context.Context
	calls   map[string]*call // by SIP dialog id
	active  int
	closing bool
	callsWG sync.WaitGroup
}

// New checks opts and binds the SIP listeners (UDP and TCP on the same
// port; with port 0 the system picks it, see Addr). Run serves them and
// closes them when it returns. recordings may be nil: voice questions are
// then skipped.
func New(opts Options, sessions Sessions, prompts Prompts, recordings Recordings, log *slog.Logger) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if sessions == nil || prompts == nil || log == nil {
		return nil, errors.New("sipua.New: sessions, prompts and log are required")
	}
	host, port, err := splitAddr(opts.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, sessions: sessions, prompts: prompts, recordings: recordings, log: log, answerTime: newAnswerTime(),
		advertise: host, rtpIP: host, calls: map[string]*call{}, runCtx: context.Background(), ready: make(chan struct{}),
		t1: sip.T1, t2: sip.T2}
	if opts.AdvertiseAddr != "" {
		s.advertise = netip.MustParseAddr(opts.AdvertiseAddr)
	}
	if opts.RTPAddr != "" {
		s.rtpIP = netip.MustParseAddr(opts.RTPAddr)
	}
	if s.rtpLo, s.rtpHi, err = parsePorts(opts.RTPPorts); err != nil {
		return nil, err // Validate passed: cannot happen
	}
	if s.allow, err = parseAllow(opts.AllowFrom); err != nil {
		return nil, err
	}
	exempt, err := parseAllow(opts.Limits.Exempt)
	if err != nil {
		return nil, err
	}
	if u, err := parseTrunk(opts.Trunk.URI); err == nil {
		if ip, err := netip.ParseAddr(strings.Trim(u.Host, "[]")); err == nil {
			exempt = append(exempt, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
		}
	}
	s.limits = newLimiter(opts.Limits, func(ip netip.Addr) bool {
		return s.allowed(ip) || slices.ContainsFunc(exempt, func(p netip.Prefix) bool { return p.Contains(ip) })
	}, log)
	if _, err := rand.Read(s.nonceKey[:]); err != nil {
		return nil, err
	}
	if s.udp, s.tcp, err = listen(host, port); err != nil {
		return nil, err
	}
	s.addr = s.udp.LocalAddr().(*net.UDPAddr).AddrPort()
	if opts.TLSAddr != "" {
		if err := s.listenTLS(); err != nil {
			s.udp.Close()
			s.tcp.Close()
			return nil, err
		}
	}
	if err := s.setUpSIP(); err != nil {
		s.udp.Close()
		s.tcp.Close()
		if s.tls != nil {
			s.tls.Close()
		}
		return nil, err
	}
	return s, nil
}

// listenTLS binds the SIP over TLS listener with the configured
// certificate.
func (s *Server) listenTLS() error {
	cert, err := loadKeyPair(s.opts.TLSCert, s.opts.TLSKey)
	if err != nil {
		return err
	}
	host, port, err := splitAddr(s.opts.TLSAddr)
	if err != nil {
		return err
	}
	network := "tcp4"
	if host.Is6() && !host.Is4In6() {
		network = "tcp6"
	}
	ln, err := net.ListenTCP(network, net.TCPAddrFromAddrPort(netip.AddrPortFrom(host, uint16(port))))
	if err != nil {
		return fmt.Errorf("listen on sip.tls_addr %s: %w", s.opts.TLSAddr, err)
	}
	s.tlsAddr = ln.Addr().(*net.TCPAddr).AddrPort()
	s.tls = tls.NewListener(screenedListener{ln, s.limits}, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	return nil
}

// screenedListener counts each new connection as a message of its source
// and closes, before any TLS handshake (the costly part), those from
// sources over their rate or banned; what they send once connected is
// screened as TCP's is.
type screenedListener struct {
	net.Listener
	limits *limiter
}

func (l screenedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.limits.allow(addrOf(c.RemoteAddr()), time.Now()) {
			return c, nil
		}
		c.Close()
	}
}

// sipBuffer is the receive buffer the SIP UDP socket asks for.
const sipBuffer = 4 << 20

// listen binds UDP, then TCP on the same port; with port 0 it retries
// until a port is free on both.
func listen(host netip.Addr, port int) (net.PacketConn, net.Listener, error) {
	network := "4"
	if host.Is6() && !host.Is4In6() {
		network = "6"
	}
	for attempt := 0; ; attempt++ {
		udp, err := net.ListenUDP("udp"+network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(host, uint16(port))))
		if err != nil {
			return nil, nil, fmt.Errorf("listen on udp %s: %w", netip.AddrPortFrom(host, uint16(port)), err)
		}
		bound := udp.LocalAddr().(*net.UDPAddr).AddrPort()
		tcp, err := net.ListenTCP("tcp"+network, net.TCPAddrFromAddrPort(bound))
		if err == nil {
			// Room for a burst of requests while the reader is held up
			// (the default, ~200 KB, is a few hundred INVITEs): a request
			// dropped here costs its caller a 500 ms retransmission.
			// Capped by net.core.rmem_max.
			udp.SetReadBuffer(sipBuffer)
			return udp, tcp, nil
		}
		udp.Close()
		if port != 0 || attempt == 20 {
			return nil, nil, fmt.Errorf("listen on tcp %s: %w", bound, err)
		}
	}
}

// setUpSIP builds the sipgo user agent, clients and handlers.
func (s *Server) setUpSIP() error {
	siplimits.Apply() // UDP messages up to 64 KB, both ways
	sipLog := newSipgoLogger(s.log)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("canvass"), sipgo.WithUserAgentHostname(s.advertise.String()),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(sipLog)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sipLog), sip.WithTransportLayerReadFilter(s.screen)))
	if err != nil {
		return fmt.Errorf("sip user agent: %w", err)
	}
	s.ua = ua
	if s.sip, err = sipgo.NewServer(ua, sipgo.WithServerLogger(sipLog)); err != nil {
		return fmt.Errorf("sip server: %w", err)
	}
	// Requests over UDP leave from the listening socket, so that peers and
	// NATs see one address; TCP requests open their own connections.
	udpClient, err := sipgo.NewClient(ua, sipgo.WithClientLogger(sipLog), sipgo.WithClientHostname(s.advertise.String()),
		sipgo.WithClientPort(int(s.addr.Port())), sipgo.WithClientConnectionAddr(s.addr.String()))
	if err != nil {
		return fmt.Errorf("sip client: %w", err)
	}
	udpClient.TxRequester = sizedRequests{txl: ua.TransactionLayer(), tpl: ua.TransportLayer(), log: s.log} // large requests over TCP (udpsize.go)
	tcpClient, err := sipgo.NewClient(ua, sipgo.WithClientLogger(sipLog), sipgo.WithClientHostname(s.advertise.String()))
	if err != nil {
		return fmt.Errorf("sip client: %w", err)
	}
	s.inbound = sipgo.NewDialogServerCache(udpClient, s.contact("udp"))
	if s.tls != nil {
		// Via names the TLS listener; requests in a call that came over
		// TLS go back on the caller's connection (see byeOf).
		tlsClient, err := sipgo.NewClient(ua, sipgo.WithClientLogger(sipLog), sipgo.WithClientHostname(s.advertise.String()),
			sipgo.WithClientPort(int(s.tlsAddr.Port())))
		if err != nil {
			return fmt.Errorf("sip client: %w", err)
		}
		s.inboundTLS = sipgo.NewDialogServerCache(tlsClient, s.contact("tls"))
	}
	s.outboundUDP = sipgo.NewDialogClientCache(udpClient, s.contact("udp"))
	s.outboundTCP = sipgo.NewDialogClientCache(tcpClient, s.contact("tcp"))

	s.sip.OnInvite(s.onInvite)
	s.sip.OnAck(s.onAck)
	s.sip.OnBye(s.onBye)
	s.sip.OnCancel(s.onCancel)
	s.sip.OnOptions(s.onOptions)
	s.sip.OnInfo(s.onInfo)
	s.sip.OnUpdate(s.onUpdate)
	return nil
}

// contact is our Contact header for a transport. Over TLS it names the
// TLS listener with transport=tls (not sips:, which would ask every hop
// to the caller to be TLS too, RFC 3261 §26.2.2).
func (s *Server) contact(transport string) sip.ContactHeader {
	c := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "canvass", Host: s.advertise.String(), Port: int(s.addr.Port())}}
	switch tr := sip.NetworkToLower(transport); tr {
	case "tcp", "tls":
		c.Address.UriParams = sip.NewParams()
		c.Address.UriParams.Add("transport", tr)
		if tr == "tls" {
			c.Address.Port = int(s.tlsAddr.Port())
		}
	}
	return c
}

// inboundFor is the dialog cache of a call's requests: the TLS one for
// calls that came over TLS.
func (s *Server) inboundFor(req *sip.Request) *sipgo.DialogServerCache {
	if s.inboundTLS != nil && sip.NetworkToLower(req.Transport()) == "tls" {
		return s.inboundTLS
	}
	return s.inbound
}

// byeOf hangs up an inbound call. Over TLS the BYE goes on the caller's
// own connection (its source address) rather than to its Contact: a
// phone rarely accepts TLS connections (it would need a certificate we
// trust), and one behind NAT cannot.
func byeOf(dlg *sipgo.DialogServerSession) func(context.Context) error {
	if sip.NetworkToLower(dlg.InviteRequest.Transport()) != "tls" {
		return dlg.Bye
	}
	return func(ctx context.Context) error {
		bye := sip.NewRequest(sip.BYE, dlg.InviteRequest.Contact().Address)
		bye.SetTransport(dlg.InviteRequest.Transport())
		bye.SetDestination(dlg.InviteRequest.Source())
		return dlg.WriteBye(ctx, bye)
	}
}

// Addr is the address SIP listens on (UDP and TCP).
func (s *Server) Addr() netip.AddrPort { return s.addr }

// TLSAddr is the address SIP over TLS listens on; invalid without
// sip.tls_addr.
func (s *Server) TLSAddr() netip.AddrPort { return s.tlsAddr }

// Active is the number of calls up or being set up.
func (s *Server) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// Run serves SIP until ctx ends, then shuts down: new calls get 503, calls
// in progress see ctx end (the engine closes their interviews and hangs
// up), and calls still up after Options.ShutdownGrace get a BYE.
func (s *Server) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("sipua: Run called twice")
	}
	s.mu.Lock()
	s.runCtx = ctx
	s.mu.Unlock()
	errc := make(chan error, 3)
	go func() { errc <- s.sip.ServeUDP(s.udp) }()
	go func() { errc <- s.sip.ServeTCP(s.tcp) }()
	if s.tls != nil {
		go func() { errc <- s.sip.ServeTLS(s.tls) }()
	}
	if err := awaitListener(ctx, s.ua, s.addr); err != nil {
		s.shutdown() // ctx ended before the listeners were up
		return nil
	}
	close(s.ready)
	go s.sweepLimits(ctx)
	log := s.log
	if s.tls != nil {
		log = log.With("tls_addr", s.tlsAddr)
	}
	log.Info("SIP endpoint listening", "addr", s.addr, "advertise", s.advertise,
		"rtp_ports", s.opts.RTPPorts, "telephone_event", s.opts.AcceptTelephoneEvent)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("serve SIP: %w", err)
	}
	s.shutdown()
	return err
}

// awaitListener waits until sipgo has registered the UDP listener, from
// which requests we send leave: before that, sending would try to bind
// the listener's port a second time.
func awaitListener(ctx context.Context, ua *sipgo.UserAgent, addr netip.AddrPort) error {
	for {
		if c, err := ua.TransportLayer().GetConnection("udp", addr.String()); err == nil && c != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// sweepLimits forgets, every minute, the sources the limiter no longer
// needs to remember.
func (s *Server) sweepLimits(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.limits.sweep(now)
		}
	}
}

func (s *Server) shutdown() {
	s.mu.Lock()
	s.closing = true
	n := s.active
	s.mu.Unlock()
	if n > 0 {
		s.log.Info("shutting down: waiting for calls", "calls", n, "grace", s.opts.ShutdownGrace)
	}
	idle := make(chan struct{})
	go func() { s.callsWG.Wait(); close(idle) }()
	select {
	case <-idle:
	case <-time.After(s.opts.ShutdownGrace):
		s.mu.Lock()
		left := make([]*call, 0, len(s.calls))
		for _, c := range s.calls {
			left = append(left, c)
		}
		s.mu.Unlock()
		s.log.Warn("shutting down: hanging up calls still up", "calls", len(left))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var wg sync.WaitGroup
		for _, c := range left {
			wg.Go(func() {
				if err := c.Hangup(ctx); err != nil {
					c.log.Warn("hang up at shutdown", "err", err)
				}
			})
		}
		wg.Wait()
		cancel()
		select {
		case <-idle:
		case <-time.After(5 * time.Second):
			s.log.Error("shutting down: calls did not end")
		}
	}
	s.udp.Close()
	s.tcp.Close()
	if s.tls != nil {
		s.tls.Close()
	}
	if err := s.ua.Close(); err != nil {
		s.log.Debug("close SIP user agent", "err", err)
	}
	s.log.Info("SIP endpoint stopped")
}

// admit counts a new call in, or refuses it.
func (s *Server) admit() (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return nil, ErrClosed
	}
	if s.active >= s.opts.MaxCalls {
		return nil, ErrBusy
	}
	s.active++
	s.callsWG.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			s.active--
			s.mu.Unlock()
			s.callsWG.Done()
		})
	}, nil
}

// callCtx is the context calls run under: Run's.
func (s *Server) callCtx() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runCtx
}

func (s *Server) register(id string, c *call) {
	s.mu.Lock()
	s.calls[id] = c
	s.mu.Unlock()
}

func (s *Server) unregister(id string) {
	s.mu.Lock()
	delete(s.calls, id)
	s.mu.Unlock()
}

// callFor finds the live call an in-dialog request belongs to, whichever
// side created the dialog.
func (s *Server) callFor(req *sip.Request) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, err := sip.DialogIDFromRequestUAS(req); err == nil {
		if c := s.calls[id]; c != nil {
			return c
		}
	}
	if id, err := sip.DialogIDFromRequestUAC(req); err == nil {
		return s.calls[id]
	}
	return nil
}

// listenRTP binds a UDP socket on a random free port of the range, or on
// the port the system picks when the range is "0".
func (s *Server) listenRTP() (*net.UDPConn, error) {
	network := "udp4"
	if s.rtpIP.Is6() {
		network = "udp6"
	}
	if s.rtpLo == 0 {
		conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(s.rtpIP, 0)))
		if err != nil {
			return nil, fmt.Errorf("RTP socket: %w", err)
		}
		return conn, nil
	}
	n := s.rtpHi - s.rtpLo + 1
	first := mrand.IntN(n)
	tries := min(n, 64)
	for i := range tries {
		port := s.rtpLo + (first+i*7919)%n // a stride prime to most ranges spreads the tries
		conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(s.rtpIP, uint16(port))))
		if err == nil {
			return conn, nil
		}
	}
	return nil, fmt.Errorf("no free RTP port in %s after %d tries", s.opts.RTPPorts, tries)
}

// localRTP is the RTP address we advertise for port.
func (s *Server) localRTP(port *rtpPort) netip.AddrPort {
	ip := s.advertise
	if s.opts.RTPAddr != "" && !s.rtpIP.IsUnspecified() {
		ip = s.rtpIP
	}
	return netip.AddrPortFrom(ip, port.addr.Port())
}

// newSessionID is an SDP o= session id that fits in int64: some peers
// parse it as a signed number.
func newSessionID() uint64 { return mrand.Uint64() >> 1 }

// retryAfter is the Retry-After header of a 503.
func retryAfter(d time.Duration) sip.Header {
	return sip.NewHeader("Retry-After", strconv.Itoa(int(d.Seconds())))
}

// ourDescription is our SDP for a negotiated stream.
func (s *Server) ourDescription(port *rtpPort, st sdp.Stream) sdp.Description {
	return sdp.Description{Addr: s.localRTP(port), SessionID: newSessionID(), Version: 1,
		Codecs: []media.Codec{st.Codec}, CodecPTs: []uint8{st.CodecPT}, EventPT: st.EventPT,
		Direction: st.Direction.Reverse(), Lines: st.Lines, Index: st.Index}
}

// errAddressFamily: the peer's RTP address is IPv6 and our RTP sockets
// are IPv4, or the other way round: no packet could reach it.
var errAddressFamily = errors.New("the RTP address is of an IP family the endpoint cannot send to")

// reachable checks that RTP sockets bound to local can send to the peer
// of st.
func reachable(local netip.Addr, st sdp.Stream) error {
	if peer := st.Addr.Addr().Unmap(); peer.Is4() != local.Unmap().Is4() {
		return fmt.Errorf("%w (%s)", errAddressFamily, peer)
	}
	return nil
}
