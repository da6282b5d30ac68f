package main

// This file is the server side of `canvass bridgebench`: the console's
// phone as cmd wires it (ivr/phone's Switchboard over ivr/webrtc and the
// embedded SIP endpoint dialing out through a trunk), without the console
// or PostgreSQL, driven over a small loopback HTTP API by the load side.
// The load side spawns it as a child (`canvass bridgebench -serve`) so
// that the CPU and memory it reads are the server's alone.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/phone"
	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/ivr/webrtc"
	"github.com/canvass/canvass/survey"
)

// noSurveys is the bridge server's survey side: it runs none (it only
// dials out), so an inbound call is refused.
type noSurveys struct{}

var errNoSurveys = errors.New("the bridge benchmark server runs no surveys")

func (noSurveys) Prepare(context.Context, ivr.CallInfo) (*ivr.Session, error) {
	return nil, errNoSurveys
}
func (noSurveys) PCM(context.Context, string, string, string, string) ([]int16, error) {
	return nil, errNoSurveys
}

// bridgeServer is the console's phone and its control API.
type bridgeServer struct {
	log  *slog.Logger
	sip  *sipua.Server
	rtc  *webrtc.Server
	sb   *phone.Switchboard
	ln   net.Listener
	http *http.Server
	echo *net.UDPConn // returns each datagram to its sender: the baseline path

	stopSIP context.CancelFunc
	sipDone chan error
	quit    chan struct{} // stops follow

	mu      sync.Mutex
	peers   []*webrtc.Peer
	calls   []ivr.Call // answered SIP calls, for their legs' counters
	states  map[survey.UserID]survey.CallState
	changed chan struct{} // closed and replaced when a call's state changes
}

// bridgeStats is what /stats reports: the browser legs' counters summed,
// and the server's Go memory.
type bridgeStats struct {
	Peers        int    `json:"peers"`
	PacketsIn    uint64 `json:"packets_in"`  // from the browsers
	LostIn       uint64 `json:"lost_in"`     // gaps in their sequence numbers, as the server received them
	Dropped      uint64 `json:"dropped"`     // received but dropped: the room read them too late
	StaleIn      uint64 `json:"stale_in"`    // from the browsers, dropped as stale (arrived too late to play)
	StaleSIP     uint64 `json:"stale_sip"`   // from the phones, dropped as stale by the SIP legs
	BufferFull   uint64 `json:"buffer_full"` // from the browsers, dropped by pion's full (bounded) receive buffers
	PacketsOut   uint64 `json:"packets_out"` // to the browsers
	LostOut      uint64 `json:"lost_out"`    // what the browsers report lost (RTCP)
	HeapInuse    uint64 `json:"heap_inuse"`
	StackInuse   uint64 `json:"stack_inuse"`
	Goroutines   int    `json:"goroutines"`
	Answered     int    `json:"answered"`
	NotAnswered  int    `json:"not_answered"` // calls that ended before or without an answer
	CallsStarted int    `json:"calls_started"`
	// The ICE port's datagrams and system calls (whole run).
	ICE webrtc.PortStats `json:"ice_port"`
	// The calls' rooms: frames passed, mixed, and dropped (whole run).
	Room media.RoomStats `json:"room"`
}

// startBridgeServer starts the phone on loopback, dialing out through
// trunk (HOST:PORT), with its control API on a free port.
func startBridgeServer(trunk string, maxCalls int, log *slog.Logger) (*bridgeServer, error) {
	sopts := sipua.DefaultOptions()
	sopts.Addr, sopts.RTPPorts, sopts.MaxCalls = "127.0.0.1:0", "0", maxCalls
	sopts.Trunk.URI = "sip:" + trunk
	sip, err := sipua.New(sopts, noSurveys{}, noSurveys{}, nil, log.With("component", "sip"))
	if err != nil {
		return nil, err
	}
	wopts := webrtc.DefaultOptions()
	wopts.Listen = "127.0.0.1:0"
	rtc, err := webrtc.New(wopts, log.With("component", "webrtc"))
	if err != nil {
		return nil, err
	}
	s := &bridgeServer{log: log, sip: sip, rtc: rtc, sipDone: make(chan error, 1), quit: make(chan struct{}),
		states: map[survey.UserID]survey.CallState{}, changed: make(chan struct{})}
	s.sb = phone.New(phone.Deps{Dialer: keptCalls{sip, s}, Log: log.With("component", "phone"),
		Answer: func(ctx context.Context, offer string) (phone.Browser, string, error) {
			p, answer, err := rtc.Answer(ctx, offer)
			if err != nil {
				return nil, "", err
			}
			s.mu.Lock()
			s.peers = append(s.peers, p)
			s.mu.Unlock()
			return p, answer, nil
		}})
	ctx, cancel := context.WithCancel(context.Background())
	s.stopSIP = cancel
	go func() { s.sipDone <- sip.Run(ctx) }()
	go s.follow()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /connect", s.connect)
	mux.HandleFunc("POST /dial", s.dial)
	mux.HandleFunc("POST /monitor", s.monitor)
	mux.HandleFunc("GET /stats", s.stats)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile) // bridgebench -cpuprofile
	mux.Handle("GET /debug/pprof/goroutine", pprof.Handler("goroutine"))
	if s.ln, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if s.echo, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := s.echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return // closed
			}
			_, _ = s.echo.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	// Idle connections are kept longer than the load side keeps them, so
	// that no request goes out on a connection the server just closed.
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	go func() {
		if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("bridge control API", "err", err)
		}
	}()
	return s, nil
}

// keptCalls is the SIP endpoint as the switchboard's dialer, keeping each
// answered call so that /stats can read its leg's counters.
type keptCalls struct {
	ivr.Dialer
	s *bridgeServer
}

func (d keptCalls) Dial(ctx context.Context, r ivr.DialRequest) (ivr.Call, ivr.DialResult, error) {
	c, res, err := d.Dialer.Dial(ctx, r)
	if c != nil {
		d.s.mu.Lock()
		d.s.calls = append(d.s.calls, c)
		d.s.mu.Unlock()
	}
	return c, res, err
}

// Addr is the control API's address.
func (s *bridgeServer) Addr() string { return s.ln.Addr().String() }

// EchoAddr is the UDP echo's address.
func (s *bridgeServer) EchoAddr() string { return s.echo.LocalAddr().String() }

// Close hangs up every call and stops everything.
func (s *bridgeServer) Close() error {
	var errs []error
	if s.echo != nil {
		errs = append(errs, s.echo.Close())
	}
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, s.http.Shutdown(ctx))
		cancel()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	errs = append(errs, s.sb.Close(ctx))
	cancel()
	errs = append(errs, s.rtc.Close())
	s.stopSIP()
	errs = append(errs, <-s.sipDone)
	close(s.quit)
	return errors.Join(errs...)
}

// follow keeps each interviewer's call state from the switchboard's
// events (a reader that keeps up, as the console is).
func (s *bridgeServer) follow() {
	for {
		var ev survey.CallEvent
		select {
		case ev = <-s.sb.Events():
		case <-s.quit:
			return
		}
		s.mu.Lock()
		if s.states[ev.User] != ev.State {
			s.states[ev.User] = ev.State
			close(s.changed)
			s.changed = make(chan struct{})
		}
		if ev.State == survey.CallEnded && ev.Outcome != survey.DialAnswered {
			s.log.Warn("bridged call not answered", "user_id", ev.User, "outcome", ev.Outcome, "reason", ev.Reason)
		}
		s.mu.Unlock()
	}
}

// waitAnswered waits until user's call is answered.
func (s *bridgeServer) waitAnswered(ctx context.Context, user survey.UserID) error {
	for {
		s.mu.Lock()
		st, ch := s.states[user], s.changed
		s.mu.Unlock()
		switch st {
		case survey.CallAnswered:
			return nil
		case survey.CallEnded:
			return errors.New("the call ended")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("call of user %d not answered (%s): %w", user, st, ctx.Err())
		}
	}
}

func userParam(r *http.Request, name string) (survey.UserID, error) {
	n, err := strconv.ParseInt(r.URL.Query().Get(name), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s: want a positive user id", name)
	}
	return survey.UserID(n), nil
}

func httpFail(w http.ResponseWriter, code int, err error) { http.Error(w, err.Error(), code) }

// connect: POST /connect?user=ID with the browser's SDP offer; the answer
// comes back.
func (s *bridgeServer) connect(w http.ResponseWriter, r *http.Request) {
	user, err := userParam(r, "user")
	if err != nil {
		httpFail(w, http.StatusBadRequest, err)
		return
	}
	offer, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		httpFail(w, http.StatusBadRequest, err)
		return
	}
	answer, err := s.sb.Connect(r.Context(), user, string(offer))
	if err != nil {
		httpFail(w, http.StatusConflict, err)
		return
	}
	io.WriteString(w, answer)
}

// dial: POST /dial?user=ID&number=N; returns once the call is answered
// and bridged.
func (s *bridgeServer) dial(w http.ResponseWriter, r *http.Request) {
	user, err := userParam(r, "user")
	if err != nil {
		httpFail(w, http.StatusBadRequest, err)
		return
	}
	if err := s.sb.Dial(user, survey.PhoneCall{Number: r.URL.Query().Get("number")}); err != nil {
		httpFail(w, http.StatusConflict, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if err := s.waitAnswered(ctx, user); err != nil {
		httpFail(w, http.StatusGatewayTimeout, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// monitor: POST /monitor?sup=ID&target=ID puts a supervisor on the
// target's answered call in listen mode.
func (s *bridgeServer) monitor(w http.ResponseWriter, r *http.Request) {
	sup, err := userParam(r, "sup")
	if err != nil {
		httpFail(w, http.StatusBadRequest, err)
		return
	}
	target, err := userParam(r, "target")
	if err != nil {
		httpFail(w, http.StatusBadRequest, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if err := s.waitAnswered(ctx, target); err != nil {
		httpFail(w, http.StatusGatewayTimeout, err)
		return
	}
	if err := s.sb.Monitor(sup, target, survey.MonitorListen); err != nil {
		httpFail(w, http.StatusConflict, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// stats: GET /stats.
func (s *bridgeServer) stats(w http.ResponseWriter, _ *http.Request) {
	var st bridgeStats
	s.mu.Lock()
	peers := append([]*webrtc.Peer(nil), s.peers...)
	calls := append([]ivr.Call(nil), s.calls...)
	st.CallsStarted = len(s.states)
	for _, c := range s.states {
		switch c {
		case survey.CallAnswered:
			st.Answered++
		case survey.CallEnded:
			st.NotAnswered++
		}
	}
	s.mu.Unlock()
	for _, p := range peers {
		ps := p.Stats()
		st.Peers++
		st.PacketsIn += ps.PacketsIn
		st.LostIn += ps.LostIn
		st.Dropped += ps.Dropped
		st.PacketsOut += ps.PacketsOut
		st.LostOut += uint64(ps.LostOut)
		st.StaleIn += ps.Stale
	}
	for _, c := range calls {
		if l, ok := c.(interface{ Leg() media.Leg }); ok {
			if sl, ok := l.Leg().(interface{ StaleFrames() uint64 }); ok {
				st.StaleSIP += sl.StaleFrames()
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st.HeapInuse, st.StackInuse, st.Goroutines = ms.HeapInuse, ms.StackInuse, runtime.NumGoroutine()
	st.BufferFull = s.rtc.BufferFull()
	st.ICE = s.rtc.PortStats()
	st.Room = s.sb.RoomStats()
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(st); err != nil {
		s.log.Warn("write stats", "err", err)
	}
}

// serveBridge is `canvass bridgebench -serve -trunk HOST:PORT`: the
// server as a child of the load side. It prints {"http": ADDR, "echo":
// ADDR} on stdout
// once it serves, logs warnings and errors on stderr, and stops when
// stdin closes (the load side is done, or gone) or on a signal.
func serveBridge(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bridgebench -serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	trunk := fs.String("trunk", "", "HOST:PORT of the phone that answers the calls")
	maxCalls := fs.Int("max-calls", 1000, "the SIP endpoint's cap on concurrent calls")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *trunk == "" {
		return fmt.Errorf("%w: -serve needs -trunk", errUsage)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := startBridgeServer(*trunk, *maxCalls, log)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(stdout).Encode(map[string]string{"http": s.Addr(), "echo": s.EchoAddr()}); err != nil {
		return errors.Join(err, s.Close())
	}
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(stdin)) // returns when the load side closes our stdin
		close(eof)
	}()
	select {
	case <-ctx.Done():
	case <-eof:
	}
	return s.Close()
}
