package main

// This file is `canvass bridgebench` (make bench): N concurrent bridged
// calls through the console's phone. Each call is a pion PeerConnection
// standing in for an interviewer's browser (it offers Opus and PCMU, as
// Chrome does) joined by the Switchboard to a call the SIP endpoint places
// to a sipuatest phone; a share of the calls also has a supervisor's
// browser listening (a mixed route). The server runs as a child process
// (bridgeserver.go), so that its CPU and memory are its own; the browsers
// and the phone run here, on the same machine.
//
// Every packet either side sends carries a tag in its first bytes: the
// call, the sender and a sequence number, in quiet μ-law codes. The
// bridge passes a lone source's frames through unchanged, so the receiver
// reads the tag back and gets, per packet, the one-way time from the
// sender's socket write to the receiver's read, and whether it arrived at
// all. A mix changes the bytes, so for the supervisor each side also sends
// a loud one-frame burst every 500 ms (the phone positive, the browser
// negative, a quarter period apart), and the supervisor times the bursts'
// onsets.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
	"github.com/canvass/canvass/ivr/webrtc/webrtctest"
)

// The tag: magic, sender, call (4 nibbles), sequence number (4 nibbles),
// each nibble in a μ-law code of at most ±120 (quiet).
const (
	tagLen       = 11
	tagMagic0    = 0xFA
	tagMagic1    = 0xF5
	fromPhone    = 1
	fromBrowser  = 2
	fromSup      = 3
	burstEvery   = 500 * time.Millisecond
	burstLevel   = 8000
	burstHeard   = 2000 // a frame whose mean is beyond ± this is a burst
	ringSize     = 256  // packets remembered per stream: 5 s
	histBin      = 10 * time.Microsecond
	histBins     = 50_000 // up to 500 ms; beyond is counted in the last bin
	supervisorID = 100_000
)

func putTag(b []byte, from byte, call int, seq uint16) {
	b[0], b[1], b[2] = tagMagic0, tagMagic1, 0xF0|from
	for k := range 4 {
		b[3+k] = 0xF0 | byte(call>>(12-4*k))&0xF
		b[7+k] = 0xF0 | byte(seq>>(12-4*k))&0xF
	}
}

func readTag(b []byte) (from byte, call int, seq uint16, ok bool) {
	if len(b) < tagLen || b[0] != tagMagic0 || b[1] != tagMagic1 {
		return 0, 0, 0, false
	}
	from = b[2] & 0xF
	for k := range 4 {
		call = call<<4 | int(b[3+k]&0xF)
		seq = seq<<4 | uint16(b[7+k]&0xF)
	}
	return from, call, seq, true
}

// burstCodes are the μ-law codes of the loud bursts: positive from the
// phone, negative from the browser.
var burstCodes = func() (c [3]byte) {
	var b [1]byte
	media.PCMU.Encode(b[:], []int16{burstLevel})
	c[fromPhone] = b[0]
	media.PCMU.Encode(b[:], []int16{-burstLevel})
	c[fromBrowser] = b[0]
	return c
}()

// frame fills p: the tag, then silence or a burst.
func frame(p []byte, from byte, call int, seq uint16, burst bool) {
	putTag(p, from, call, seq)
	fill := media.PCMU.Silence()
	if burst {
		fill = burstCodes[from]
	}
	for i := tagLen; i < len(p); i++ {
		p[i] = fill
	}
}

// window is the measured stretch of a run: what is sent while it is open
// counts.
type window struct{ state atomic.Int32 } // 0 before, 1 open, 2 closed

func (w *window) open() bool { return w.state.Load() == 1 }

// histogram counts one-way times in 10 µs bins.
type histogram struct {
	bins []atomic.Uint64
	n    atomic.Uint64
	max  atomic.Int64
}

func newHistogram() *histogram { return &histogram{bins: make([]atomic.Uint64, histBins)} }

func (h *histogram) add(d time.Duration) {
	h.bins[min(max(int(d/histBin), 0), histBins-1)].Add(1)
	h.n.Add(1)
	for m := h.max.Load(); int64(d) > m && !h.max.CompareAndSwap(m, int64(d)); m = h.max.Load() {
	}
}

// quantile is the upper edge of the bin holding the nearest-rank
// p-quantile; 0 with no samples.
func (h *histogram) quantile(p float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := max(uint64(float64(n)*p+0.5), 1)
	var seen uint64
	for i := range h.bins {
		if seen += h.bins[i].Load(); seen >= rank {
			return min(time.Duration(i+1)*histBin, time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// stream is one direction of one call: the packets sent, by sequence
// number, and which came back.
type stream struct {
	mu    sync.Mutex
	next  uint16
	ring  [ringSize]sentPacket
	sent  int // sent while the window was open
	heard int // of those, heard
	dup   int // heard twice
	late  int // heard too late to be matched (> 5 s), or never sent
}

type sentPacket struct {
	seq   uint16
	at    time.Time // just before the write
	valid bool
	win   bool
	heard bool
}

// prepare numbers the next packet, sent at now.
func (s *stream) prepare(now time.Time, win bool) uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.next
	s.next++
	s.ring[seq%ringSize] = sentPacket{seq: seq, at: now, valid: true, win: win}
	return seq
}

// confirm counts packet seq as sent: the socket took it, at when that is
// known (else the time it was numbered stands).
func (s *stream) confirm(seq uint16, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := &s.ring[seq%ringSize]; p.valid && p.seq == seq && p.win {
		s.sent++
		if !at.IsZero() {
			p.at = at
		}
	}
}

// arrived notes packet seq heard at now.
func (s *stream) arrived(seq uint16, now time.Time, h *histogram) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &s.ring[seq%ringSize]
	switch {
	case !p.valid || p.seq != seq:
		s.late++
	case p.heard:
		s.dup++
	default:
		p.heard = true
		if p.win {
			s.heard++
			h.add(now.Sub(p.at))
		}
	}
}

// bursts are one side's loud frames, as the supervisor hears them.
type bursts struct {
	mu      sync.Mutex
	next    time.Time // when the next is due
	n       int       // bursts sent
	at      time.Time // the latest's send time
	win     bool
	matched int // n of the latest heard
	sent    int // in the window
	heard   int
}

// due reports whether the frame sent at now is a burst.
func (b *bursts) due(now time.Time, win bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Before(b.next) {
		return false
	}
	for !now.Before(b.next) {
		b.next = b.next.Add(burstEvery)
	}
	b.n++
	b.at, b.win = now, win
	if win {
		b.sent++
	}
	return true
}

// arrived notes a burst onset heard at now: the latest burst sent.
func (b *bursts) arrived(now time.Time, h *histogram) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n == 0 || b.matched == b.n {
		return // the onset of a frame that was not a new burst
	}
	b.matched = b.n
	if b.win {
		b.heard++
		h.add(now.Sub(b.at))
	}
}

// benchCall is one bridged call on the load side.
type benchCall struct {
	i                       int
	supervised              bool
	toBrowser, toPhone      stream
	phoneBursts, webBursts  bursts
	interviewer, supervisor *browser
	answered                chan *sipuatest.Call // the phone's side, once answered
	misrouted               atomic.Int64         // tagged packets of another call or sender
	err                     error
}

// bridgeRun is what the calls of one run share.
type bridgeRun struct {
	win       window
	toBrowser *histogram // phone → bridge → interviewer's browser
	toPhone   *histogram // interviewer's browser → bridge → phone
	mixed     *histogram // either side → bridge's mix → supervisor's browser
	baseline  *histogram // here → the server's UDP echo → here: the same two hops, no bridge
	calls     []*benchCall
	api       *pion.API        // the browsers' pion, unless each has its own on port
	port      *webrtctest.Port // the browsers' shared socket (-shared); nil: a socket each
	clock     *media.Clock     // paces every browser's packets, as the phone's clock paces its calls'
	ctl       *bridgeClient
	quit      chan struct{} // the run is over: phone handlers return
	echoSent  atomic.Int64
}

// echoProbes is how many probes time the baseline, each every 20 ms.
const echoProbes = 4

// echo times round trips through the server's UDP echo until done, and
// hears the last echoes until drained: the path of a bridged packet (into
// the server process and back out, through the kernel and both
// schedulers) without the bridge's work.
func (r *bridgeRun) echo(addr string, done, drained <-chan struct{}) error {
	raddr, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return err
	}
	// Timed as the phones' packets are: sent just before the system call
	// (which delivers it on loopback), heard when the socket received it.
	conn, err := listenTimedUDP()
	if err != nil {
		return err
	}
	defer conn.Close()
	go func() {
		buf, oob := make([]byte, 64), make([]byte, 128)
		for {
			n, at, err := readTimed(conn, buf, oob)
			if err != nil {
				return // closed
			}
			if n == 8 {
				r.baseline.add(at.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(buf)))))
			}
		}
	}()
	tick := time.NewTicker(media.PacketInterval)
	defer tick.Stop()
	var b [8]byte
	for {
		select {
		case <-done:
			<-drained
			return nil
		case <-tick.C:
		}
		binary.BigEndian.PutUint64(b[:], uint64(time.Now().UnixNano()))
		if _, err := conn.WriteToUDP(b[:], raddr); err == nil {
			r.echoSent.Add(1)
		}
	}
}

// bridgeConfig shapes a run.
type bridgeConfig struct {
	duration time.Duration // the measured window
	rate     float64       // calls set up per second
	monitor  int           // every monitor-th call has a supervisor listening; 0: none
	shared   int           // the phones' calls per RTP socket (SharedMedia); 0 = a socket each
	profile  string        // when set, CPU profiles of the window go to PROFILE-server-N.pprof and PROFILE-load-N.pprof
	log      io.Writer
}

// latencyFigures are one route's one-way times and packet counts.
type latencyFigures struct {
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Sent  int     `json:"sent"`
	Heard int     `json:"heard"`
	Lost  int     `json:"lost"`
	// Stale: of the lost, how many the server dropped on purpose because
	// they reached it too late to be worth playing (counted by the server
	// over the window; the passthrough routes only).
	Stale int `json:"dropped_stale"`
	// Full: of the lost, how many pion's bounded receive buffer refused
	// (browser→phone only: the server's reader was a second behind).
	Full int `json:"dropped_buffer_full"`
	Late int `json:"late_or_unknown"`
	Dup  int `json:"duplicates"`
}

// bridgeResult is one row of the table.
type bridgeResult struct {
	Calls       int            `json:"calls"`
	Supervisors int            `json:"supervisors"`
	Failed      int            `json:"failed_calls"`
	Window      float64        `json:"window_s"`
	ServerCPU   *float64       `json:"server_cpu_pct"` // of one core, over the window
	CPUPerCall  *float64       `json:"server_cpu_pct_per_call"`
	RSSBefore   *float64       `json:"rss_before_mb"`
	RSSPeak     *float64       `json:"rss_peak_mb"`
	RSSPerCall  *float64       `json:"rss_kb_per_call"`
	HeapPerCall *float64       `json:"heap_kb_per_call"`
	ClientCPU   float64        `json:"load_cpu_pct"`     // this process (browsers and phone), % of one core
	MachineIdle float64        `json:"machine_idle_pct"` // both cores, over the window
	ToBrowser   latencyFigures `json:"phone_to_browser"`
	ToPhone     latencyFigures `json:"browser_to_phone"`
	Mixed       latencyFigures `json:"mixed_to_supervisor"`
	Baseline    latencyFigures `json:"baseline_echo"` // round trip through the server's UDP echo
	Misrouted   int64          `json:"misrouted"`
	// Datagrams the kernel dropped in the window because a process did not
	// read its sockets in time: the server's (browser legs, SIP legs, echo;
	// all of it when the server runs in this process), and this process's.
	KernelDropsServer uint64       `json:"kernel_udp_drops_server"`
	KernelDropsLoad   uint64       `json:"kernel_udp_drops_load"`
	Server            *bridgeStats `json:"server"`
	Errors            []string     `json:"errors,omitempty"`
}

func bridgebench(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "-serve" {
		return serveBridge(ctx, args[1:], stdin, stdout, stderr)
	}
	fs := flag.NewFlagSet("bridgebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	callsFlag := fs.String("calls", "100,300", "concurrent bridged calls; a comma-separated list makes one run each")
	duration := fs.Duration("duration", 30*time.Second, "the measured window, every call up")
	rate := fs.Float64("rate", 25, "bridged calls set up per second")
	monitor := fs.Int("monitor", 10, "every Nth call has a supervisor listening (a mixed route); 0: none")
	asJSON := fs.Bool("json", false, "print one JSON object per run instead of the table")
	server := fs.String("server", "", "run this canvass `BINARY` as the server instead of this one (to compare two builds under one load generator)")
	shared := fs.Int("shared", 8, "the phones' calls per RTP socket, each call on a loopback address of its own (127.1.x.y), and all browsers on one socket (127.2.x.y), so that the generator leaves more CPU to the server; a socket's calls send together, so keep it small; Linux only; 0 = a socket on 127.0.0.1 per call and per browser")
	profile := fs.String("cpuprofile", "", "write CPU profiles of each window, the server's to `PREFIX`-server-N.pprof and this process's to PREFIX-load-N.pprof")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: bridgebench takes no arguments, got %q", errUsage, fs.Args())
	}
	var runs []int
	for f := range strings.SplitSeq(*callsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n >= supervisorID {
			return fmt.Errorf("%w: -calls %q: want positive numbers separated by commas", errUsage, *callsFlag)
		}
		runs = append(runs, n)
	}
	if *rate <= 0 || *duration < time.Second || *monitor < 0 || *shared < 0 {
		return fmt.Errorf("%w: -rate must be positive, -duration at least 1s, -monitor and -shared 0 or more", errUsage)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if *server != "" {
		exe = *server
	}
	// Here, unless shared: a browser socket and an RTP socket per call; in
	// the server an RTP socket per call.
	raiseFileLimit(uint64(3*slices.Max(runs)+256), stderr)
	cfg := bridgeConfig{duration: *duration, rate: *rate, monitor: *monitor, shared: *shared, profile: *profile, log: stderr}
	out := &bridgeTable{w: stdout, json: *asJSON}
	for _, n := range runs {
		res, err := bridgeSpawned(ctx, exe, n, cfg)
		if err != nil {
			return fmt.Errorf("%d bridged calls: %w", n, err)
		}
		if err := out.row(res, cfg); err != nil {
			return err
		}
	}
	return nil
}

// bridgeEndpoint is a running bridge server: its control API, its UDP
// echo, the pid to measure (0: it runs in this process, nothing is
// measured), and how to stop it.
type bridgeEndpoint struct {
	addr, echo string
	pid        int
	stop       func() error
}

// bridgeSpawned runs n calls against a fresh child server.
func bridgeSpawned(ctx context.Context, exe string, n int, cfg bridgeConfig) (bridgeResult, error) {
	return bridgeMeasure(ctx, n, cfg, func(trunk string) (bridgeEndpoint, error) {
		cmd := exec.Command(exe, "bridgebench", "-serve", "-trunk", trunk, "-max-calls", strconv.Itoa(n+16))
		cmd.Stderr = cfg.log
		in, err := cmd.StdinPipe()
		if err != nil {
			return bridgeEndpoint{}, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return bridgeEndpoint{}, err
		}
		if err := cmd.Start(); err != nil {
			return bridgeEndpoint{}, err
		}
		stop := func() error {
			in.Close() // the child stops when its stdin closes
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				return err
			case <-time.After(time.Minute):
				return errors.Join(errors.New("the bridge server did not stop within a minute: killed"), cmd.Process.Kill(), <-done)
			}
		}
		ready := make(chan bridgeEndpoint, 1)
		go func() {
			sc := bufio.NewScanner(out)
			if sc.Scan() {
				var v struct{ HTTP, Echo string }
				if json.Unmarshal(sc.Bytes(), &v) == nil {
					ready <- bridgeEndpoint{addr: v.HTTP, echo: v.Echo, pid: cmd.Process.Pid, stop: stop}
				}
			}
			close(ready)
			io.Copy(io.Discard, out)
		}()
		select {
		case ep, ok := <-ready:
			if !ok || ep.addr == "" || ep.echo == "" {
				return bridgeEndpoint{}, errors.Join(errors.New("the bridge server did not start"), stop())
			}
			fmt.Fprintf(cfg.log, "bridgebench: server pid %d, control %s\n", ep.pid, ep.addr)
			return ep, nil
		case <-time.After(30 * time.Second):
			return bridgeEndpoint{}, errors.Join(errors.New("the bridge server was not ready after 30 s"), cmd.Process.Kill(), stop())
		}
	})
}

// bridgeMeasure is one row: start the phone that answers, start the
// server (start is given the phone's address), set up n bridged calls,
// measure a window with all of them up, and stop.
func bridgeMeasure(ctx context.Context, n int, cfg bridgeConfig, start func(trunk string) (bridgeEndpoint, error)) (res bridgeResult, err error) {
	ramp := time.Duration(float64(n) / cfg.rate * float64(time.Second))
	ctx, cancel := context.WithTimeout(ctx, ramp+cfg.duration+3*time.Minute)
	defer cancel()
	r := &bridgeRun{toBrowser: newHistogram(), toPhone: newHistogram(), mixed: newHistogram(), baseline: newHistogram(),
		clock: media.NewClock(0), quit: make(chan struct{})}
	if cfg.shared > 0 {
		// The browsers share one socket, each on an address of its own
		// (then each needs an API of its own, for its SettingEngine).
		if r.port, err = webrtctest.NewPort(); err != nil {
			return res, fmt.Errorf("the browsers' shared port: %w", err)
		}
		defer r.port.Close()
	} else if r.api, err = browserAPI(nil); err != nil {
		return res, err
	}
	for i := range n {
		c := &benchCall{i: i, supervised: cfg.monitor > 0 && i%cfg.monitor == 0, answered: make(chan *sipuatest.Call, 1)}
		// Bursts staggered across calls; the browser's a quarter period
		// after the phone's.
		epoch := time.Now().Add(time.Duration(rand.Int64N(int64(burstEvery))))
		c.phoneBursts.next, c.webBursts.next = epoch, epoch.Add(burstEvery/4)
		r.calls = append(r.calls, c)
	}
	ph, err := sipuatest.NewPhone(sipuatest.PhoneOptions{User: "bridgebench", OnInvite: r.answer, SharedMedia: cfg.shared})
	if err != nil {
		return res, err
	}
	defer ph.Close()
	defer close(r.quit) // before ph.Close: handlers still up return
	srv, err := start(ph.Addr().String())
	if err != nil {
		return res, err
	}
	stopped := false
	stopServer := func() {
		if !stopped {
			stopped = true
			if serr := srv.stop(); serr != nil {
				err = errors.Join(err, fmt.Errorf("stop the bridge server: %w", serr))
			}
		}
	}
	defer stopServer()
	r.ctl = newBridgeClient(srv.addr)
	var probe *serverProbe
	if srv.pid != 0 {
		probe = &serverProbe{pid: srv.pid}
	}
	res.Calls = n

	// Memory before any call, and its peak through the run.
	var rssBefore int64
	var heapBefore uint64
	if probe != nil {
		if rssBefore, err = probe.rss(); err != nil {
			return res, err
		}
		st, err := r.ctl.stats(ctx)
		if err != nil {
			return res, err
		}
		heapBefore = st.HeapInuse
	}
	rss := watchRSS(probe, 200*time.Millisecond)
	defer rss.stop()

	// Set up the calls at cfg.rate a second.
	fmt.Fprintf(cfg.log, "bridgebench: setting up %d bridged calls, %g a second\n", n, cfg.rate)
	var setup sync.WaitGroup
	for i, c := range r.calls {
		at := time.Duration(float64(i) / cfg.rate * float64(time.Second))
		setup.Go(func() {
			select {
			case <-time.After(at):
			case <-ctx.Done():
				c.err = ctx.Err()
				return
			}
			if err := r.setUp(ctx, c); err != nil {
				c.err = err
			}
		})
	}
	setup.Wait()
	defer r.closeBrowsers()
	failed := 0
	for _, c := range r.calls {
		if c.err != nil {
			failed++
		}
		if c.supervised && c.err == nil {
			res.Supervisors++
		}
	}
	if failed == n {
		return res, fmt.Errorf("no call was bridged: %v", r.calls[0].err)
	}

	// The window: every call up and its media flowing for a second first.
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	fmt.Fprintf(cfg.log, "bridgebench: %d calls up (%d failed); measuring for %s\n", n-failed, failed, cfg.duration)
	echoDone, echoDrained := make(chan struct{}), make(chan struct{})
	var echoing sync.WaitGroup
	for range echoProbes {
		echoing.Go(func() {
			if err := r.echo(srv.echo, echoDone, echoDrained); err != nil {
				fmt.Fprintf(cfg.log, "bridgebench: baseline: %v\n", err)
			}
		})
	}
	srvPID := srv.pid
	if srvPID == 0 {
		srvPID = os.Getpid()
	}
	drops := func() (server, load uint64) {
		server, _ = udpDrops(srvPID)
		if srv.pid != 0 {
			load, _ = udpDrops(os.Getpid())
		}
		return server, load
	}
	srvDrops0, loadDrops0 := drops()
	var profiled chan error
	if cfg.profile != "" {
		profiled = make(chan error, 1)
		go func() { profiled <- profileWindow(ctx, cfg, n, srv.addr) }()
	}
	st0, err := r.ctl.stats(ctx)
	if err != nil {
		return res, err
	}
	cpu0, self0, idle0, t0 := probe.cpu(), selfCPU(), machineIdle(), time.Now()
	r.win.state.Store(1)
	select {
	case <-time.After(cfg.duration):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	r.win.state.Store(2)
	cpu1, self1, idle1, t1 := probe.cpu(), selfCPU(), machineIdle(), time.Now()
	if profiled != nil {
		if perr := <-profiled; perr != nil {
			fmt.Fprintf(cfg.log, "bridgebench: profile: %v\n", perr)
		}
	}
	close(echoDone)
	// Packets sent at the window's end are still on their way.
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
	}
	close(echoDrained)
	echoing.Wait()
	srvDrops1, loadDrops1 := drops()
	res.KernelDropsServer, res.KernelDropsLoad = srvDrops1-srvDrops0, loadDrops1-loadDrops0
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	st, err := r.ctl.stats(ctx)
	if err != nil {
		return res, err
	}
	res.Server = &st

	wall := t1.Sub(t0)
	res.Window = wall.Seconds()
	res.ClientCPU = 100 * float64(self1-self0) / float64(wall)
	if total := idle1.total - idle0.total; total > 0 {
		res.MachineIdle = 100 * float64(idle1.idle-idle0.idle) / float64(total)
	}
	up := float64(n - failed)
	if cpu0 >= 0 && cpu1 >= 0 {
		res.ServerCPU = ptr(100 * float64(cpu1-cpu0) / float64(wall))
		res.CPUPerCall = ptr(*res.ServerCPU / up)
	}
	if probe != nil {
		mb := func(b int64) *float64 { return ptr(float64(b) / (1 << 20)) }
		res.RSSBefore, res.RSSPeak = mb(rssBefore), mb(rss.peak.Load())
		res.RSSPerCall = ptr(float64(rss.peak.Load()-rssBefore) / 1024 / up)
		res.HeapPerCall = ptr((float64(st.HeapInuse) - float64(heapBefore)) / 1024 / up)
	}
	r.summarize(&res)
	res.ToBrowser.Stale, res.ToPhone.Stale = int(st.StaleSIP-st0.StaleSIP), int(st.StaleIn-st0.StaleIn)
	res.ToPhone.Full = int(st.BufferFull - st0.BufferFull)
	// The window is measured: a server slow to hang up (on a starved
	// machine the phones answer 300 BYEs late) is noted in the row, not
	// a reason to lose it.
	stopped = true
	if serr := srv.stop(); serr != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("stop the bridge server: %v", serr))
	}
	return res, nil
}

// profileWindow writes CPU profiles of the measured window: the
// server's, fetched from its control API's /debug/pprof/profile, and this
// process's.
func profileWindow(ctx context.Context, cfg bridgeConfig, n int, ctl string) error {
	load, err := os.Create(fmt.Sprintf("%s-load-%d.pprof", cfg.profile, n))
	if err != nil {
		return err
	}
	defer load.Close()
	if err := pprof.StartCPUProfile(load); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	secs := max(1, int(cfg.duration.Round(time.Second)/time.Second))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", ctl, secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server profile: %s", resp.Status)
	}
	f, err := os.Create(fmt.Sprintf("%s-server-%d.pprof", cfg.profile, n))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}

// summarize adds up what the calls measured.
func (r *bridgeRun) summarize(res *bridgeResult) {
	figures := func(h *histogram) latencyFigures {
		return latencyFigures{P50: ms(h.quantile(0.5)), P99: ms(h.quantile(0.99)), Max: ms(time.Duration(h.max.Load()))}
	}
	res.ToBrowser, res.ToPhone, res.Mixed = figures(r.toBrowser), figures(r.toPhone), figures(r.mixed)
	res.Baseline = figures(r.baseline)
	res.Baseline.Sent, res.Baseline.Heard = int(r.echoSent.Load()), int(r.baseline.n.Load())
	res.Baseline.Lost = max(0, res.Baseline.Sent-res.Baseline.Heard)
	errs := map[string]int{}
	var order []string
	for _, c := range r.calls {
		if c.err != nil {
			res.Failed++
			if errs[c.err.Error()]++; errs[c.err.Error()] == 1 {
				order = append(order, c.err.Error())
			}
			continue
		}
		res.Misrouted += c.misrouted.Load()
		for _, s := range []struct {
			f *latencyFigures
			s *stream
		}{{&res.ToBrowser, &c.toBrowser}, {&res.ToPhone, &c.toPhone}} {
			s.s.mu.Lock()
			s.f.Sent += s.s.sent
			s.f.Heard += s.s.heard
			s.f.Late += s.s.late
			s.f.Dup += s.s.dup
			s.s.mu.Unlock()
		}
		if c.supervised {
			for _, b := range []*bursts{&c.phoneBursts, &c.webBursts} {
				b.mu.Lock()
				res.Mixed.Sent += b.sent
				res.Mixed.Heard += b.heard
				b.mu.Unlock()
			}
		}
	}
	for _, f := range []*latencyFigures{&res.ToBrowser, &res.ToPhone, &res.Mixed} {
		f.Lost = max(0, f.Sent-f.Heard)
	}
	for _, msg := range order[:min(len(order), 5)] {
		res.Errors = append(res.Errors, fmt.Sprintf("%d× %s", errs[msg], msg))
	}
}

// setUp bridges call c: the interviewer's browser connects, the call is
// placed and answered, and, for a supervised call, the supervisor's
// browser connects and listens.
func (r *bridgeRun) setUp(ctx context.Context, c *benchCall) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	user := int64(c.i + 1)
	b, err := r.connect(ctx, user, func(p []byte, at time.Time) { r.browserHeard(c, p, at) })
	if err != nil {
		return fmt.Errorf("interviewer's browser: %w", err)
	}
	c.interviewer = b
	b.speak(r.clock, func(p []byte, now time.Time) func() {
		win := r.win.open()
		seq := c.toPhone.prepare(now, win)
		frame(p, fromBrowser, c.i, seq, c.webBursts.due(now, win))
		return func() { c.toPhone.confirm(seq, time.Time{}) }
	})
	if err := r.ctl.post(ctx, "/dial", url.Values{"user": {strconv.FormatInt(user, 10)}, "number": {strconv.Itoa(c.i + 1000)}}, nil); err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	if !c.supervised {
		return nil
	}
	sup, err := r.connect(ctx, supervisorID+user, func(p []byte, at time.Time) { r.supervisorHeard(c, p, at) })
	if err != nil {
		return fmt.Errorf("supervisor's browser: %w", err)
	}
	c.supervisor = sup
	var seq uint16
	sup.speak(r.clock, func(p []byte, _ time.Time) func() {
		frame(p, fromSup, c.i, seq, false) // heard by nobody in listen mode
		seq++
		return func() {}
	})
	q := url.Values{"sup": {strconv.FormatInt(supervisorID+user, 10)}, "target": {strconv.FormatInt(user, 10)}}
	if err := r.ctl.post(ctx, "/monitor", q, nil); err != nil {
		return fmt.Errorf("monitor: %w", err)
	}
	return nil
}

// connect makes a browser, connects it as user and waits until its peer
// connection is up.
func (r *bridgeRun) connect(ctx context.Context, user int64, heard func([]byte, time.Time)) (*browser, error) {
	api := r.api
	var arrived func(ssrc uint32, seq uint16) time.Time
	if r.port != nil {
		mux, err := r.port.Mux()
		if err != nil {
			return nil, err
		}
		if api, err = browserAPI(mux); err != nil {
			return nil, err
		}
		arrived = mux.Arrived
	}
	b, err := newBrowser(api, heard, arrived)
	if err != nil {
		return nil, err
	}
	offer, err := b.offer(ctx)
	if err != nil {
		return nil, errors.Join(err, b.close())
	}
	var answer strings.Builder
	if err := r.ctl.post(ctx, "/connect", url.Values{"user": {strconv.FormatInt(user, 10)}}, strings.NewReader(offer), &answer); err != nil {
		return nil, errors.Join(fmt.Errorf("connect: %w", err), b.close())
	}
	if err := b.connect(ctx, answer.String()); err != nil {
		return nil, errors.Join(err, b.close())
	}
	return b, nil
}

// browserHeard is the interviewer's browser hearing the phone.
func (r *bridgeRun) browserHeard(c *benchCall, p []byte, at time.Time) {
	from, call, seq, ok := readTag(p)
	switch {
	case !ok:
		return // not yet bridged: nothing, or the peer's own silence
	case from != fromPhone || call != c.i:
		c.misrouted.Add(1)
	default:
		c.toBrowser.arrived(seq, at, r.toBrowser)
	}
}

// phoneHeard is the phone hearing the interviewer's browser.
func (r *bridgeRun) phoneHeard(c *benchCall, p []byte, at time.Time) {
	from, call, seq, ok := readTag(p)
	switch {
	case !ok:
		return // the endpoint's comfort silence
	case from != fromBrowser || call != c.i:
		c.misrouted.Add(1)
	default:
		c.toPhone.arrived(seq, at, r.toPhone)
	}
}

// supervisorHeard is the supervisor hearing the mix of both sides: a
// burst's onset is timed against the side that sent it.
func (r *bridgeRun) supervisorHeard(c *benchCall, p []byte, at time.Time) {
	if len(p) != media.SamplesPerPacket {
		return
	}
	var pcm [media.SamplesPerPacket]int16
	media.PCMU.Decode(pcm[:], p)
	sum := 0
	for _, s := range pcm[tagLen:] {
		sum += int(s)
	}
	mean := sum / (len(pcm) - tagLen)
	switch {
	case mean > burstHeard:
		c.phoneBursts.arrived(at, r.mixed)
	case mean < -burstHeard:
		c.webBursts.arrived(at, r.mixed)
	}
}

// answer is the phone's OnInvite: it answers the call the number names
// and taps its audio until the call or the run ends.
func (r *bridgeRun) answer(in *sipuatest.Incoming) {
	i, err := strconv.Atoi(in.Req.Recipient.User)
	if err != nil || i < 1000 || i-1000 >= len(r.calls) {
		in.Reject(404, "Not Found")
		return
	}
	c := r.calls[i-1000]
	call, err := in.Answer(false)
	if err != nil {
		return // the dial fails, and says why
	}
	defer call.Close()
	call.SetTap(&sipuatest.Tap{
		Fill: func(p []byte) {
			now := time.Now()
			win := r.win.open()
			seq := c.toBrowser.prepare(now, win)
			frame(p, fromPhone, c.i, seq, c.phoneBursts.due(now, win))
		},
		Sent: func(p []byte, at time.Time) {
			if _, _, seq, ok := readTag(p); ok {
				c.toBrowser.confirm(seq, at)
			}
		},
		Heard: func(p []byte, at time.Time) { r.phoneHeard(c, p, at) },
	})
	select {
	case <-call.Done():
	case <-r.quit:
	}
}

func (r *bridgeRun) closeBrowsers() {
	var wg sync.WaitGroup
	for _, c := range r.calls {
		for _, b := range []*browser{c.interviewer, c.supervisor} {
			if b != nil {
				wg.Go(func() { _ = b.close() })
			}
		}
	}
	wg.Wait()
}

// browserAPI is the browsers' pion: Opus then PCMU offered, as Chrome
// does; RTCP reports, as Chrome sends; host candidates on loopback, on
// mux when given (a browser's address on the shared port).
func browserAPI(mux ice.UDPMux) (*pion.API, error) {
	me := &pion.MediaEngine{}
	for _, c := range []pion.RTPCodecParameters{
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
	} {
		if err := me.RegisterCodec(c, pion.RTPCodecTypeAudio); err != nil {
			return nil, err
		}
	}
	ir := &interceptor.Registry{}
	if err := pion.ConfigureRTCPReports(ir); err != nil {
		return nil, err
	}
	var se pion.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	if mux != nil {
		se.SetICEUDPMux(mux)
	}
	return pion.NewAPI(pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se)), nil
}

// browser is a console user's browser stand-in: a peer connection that
// sends a microphone track and hands each packet it hears to heard, timed
// by arrived when it knows (when the packet reached the socket: pion's
// decryption and goroutines are the load generator's, not the bridge's),
// else as read.
type browser struct {
	pc        *pion.PeerConnection
	track     *pion.TrackLocalStaticRTP
	connected chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	workers   sync.WaitGroup
}

func newBrowser(api *pion.API, heard func(payload []byte, at time.Time), arrived func(ssrc uint32, seq uint16) time.Time) (*browser, error) {
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return nil, err
	}
	b := &browser{pc: pc, connected: make(chan struct{}), done: make(chan struct{})}
	if b.track, err = pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000}, "mic", "browser"); err != nil {
		return nil, errors.Join(err, pc.Close())
	}
	sender, err := pc.AddTrack(b.track)
	if err != nil {
		return nil, errors.Join(err, pc.Close())
	}
	b.workers.Go(func() {
		for {
			if _, _, err := sender.ReadRTCP(); err != nil {
				return
			}
		}
	})
	var once sync.Once
	pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		if s == pion.PeerConnectionStateConnected {
			once.Do(func() { close(b.connected) })
		}
	})
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		buf := make([]byte, 1500)
		var pkt rtp.Packet
		for {
			n, _, err := tr.Read(buf)
			if err != nil {
				return
			}
			at := time.Now()
			if pkt.Unmarshal(buf[:n]) == nil {
				if arrived != nil {
					if t := arrived(pkt.SSRC, pkt.SequenceNumber); !t.IsZero() && t.Before(at) {
						at = t
					}
				}
				heard(pkt.Payload, at)
			}
		}
	})
	return b, nil
}

// offer is the browser's offer, candidates gathered.
func (b *browser) offer(ctx context.Context) (string, error) {
	o, err := b.pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	gathered := pion.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(o); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return b.pc.LocalDescription().SDP, nil
}

// connect sets the server's answer and waits for the connection.
func (b *browser) connect(ctx context.Context, answer string) error {
	if err := b.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("set the answer: %w", err)
	}
	select {
	case <-b.connected:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("not connected (%s): %w", b.pc.ConnectionState(), ctx.Err())
	}
}

// speak starts sending a packet every 20 ms, paced by clock, until the
// browser closes: fill writes its payload, and the func it returns is
// called once the packet is written. One clock for every browser keeps the
// load generator's own cost down (a ticker per browser woke a goroutine
// per packet).
func (b *browser) speak(clock *media.Clock, fill func(payload []byte, now time.Time) (written func())) {
	clock.Add(&browserSender{b: b, fill: fill, pacer: media.NewPacer(time.Now()),
		pkt: rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32()},
			Payload: make([]byte, media.SamplesPerPacket)}})
}

// browserSender is a browser's microphone, ticked by a media.Clock.
type browserSender struct {
	b     *browser
	fill  func(payload []byte, now time.Time) (written func())
	pacer *media.Pacer
	pkt   rtp.Packet
}

func (s *browserSender) Tick(now time.Time) bool {
	select {
	case <-s.b.done:
		return false
	default:
	}
	skip, send := s.pacer.Due(now)
	s.pkt.SequenceNumber += uint16(skip)
	s.pkt.Timestamp += uint32(skip) * media.SamplesPerPacket
	for range send {
		written := s.fill(s.pkt.Payload, time.Now())
		if err := s.b.track.WriteRTP(&s.pkt); err == nil {
			written()
		}
		s.pkt.SequenceNumber++
		s.pkt.Timestamp += media.SamplesPerPacket
	}
	return true
}

func (b *browser) close() error {
	var err error
	b.closeOnce.Do(func() {
		close(b.done)
		err = b.pc.Close()
		b.workers.Wait()
	})
	return err
}

// bridgeClient calls the bridge server's control API.
type bridgeClient struct {
	base string
	http *http.Client
}

func newBridgeClient(addr string) *bridgeClient {
	return &bridgeClient{base: "http://" + addr, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}}}
}

// post sends body to path?q; the reply's body goes to out (when not nil).
func (c *bridgeClient) post(ctx context.Context, path string, q url.Values, body io.Reader, out ...io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path+"?"+q.Encode(), body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	for _, w := range out {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

func (c *bridgeClient) stats(ctx context.Context) (bridgeStats, error) {
	var st bridgeStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/stats", nil)
	if err != nil {
		return st, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("/stats: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// bridgeTable prints the rows as they come: a table, or JSON lines.
type bridgeTable struct {
	w      io.Writer
	json   bool
	header bool
}

var bridgeColumns = []string{"calls+sup", "server cpu %", "cpu %/call", "RSS MB", "RSS KB/call", "heap KB/call",
	"phone→browser p50/p99", "browser→phone p50/p99", "mixed p50/p99", "baseline p50/p99", "lost p→b / b→p / mix", "stale p→b / b→p", "failed"}

func (t *bridgeTable) row(r bridgeResult, cfg bridgeConfig) error {
	if t.json {
		return json.NewEncoder(t.w).Encode(r)
	}
	opt := func(v *float64, prec int) string {
		if v == nil {
			return "-"
		}
		return strconv.FormatFloat(*v, 'f', prec, 64)
	}
	pq := func(f latencyFigures) string { return fmt.Sprintf("%.2f / %.2f", f.P50, f.P99) }
	cells := []string{fmt.Sprintf("%d+%d", r.Calls, r.Supervisors), opt(r.ServerCPU, 0), opt(r.CPUPerCall, 3),
		fmt.Sprintf("%s→%s", opt(r.RSSBefore, 0), opt(r.RSSPeak, 0)), opt(r.RSSPerCall, 0), opt(r.HeapPerCall, 0),
		pq(r.ToBrowser), pq(r.ToPhone), pq(r.Mixed), pq(r.Baseline),
		fmt.Sprintf("%d / %d / %d", r.ToBrowser.Lost, r.ToPhone.Lost, r.Mixed.Lost),
		fmt.Sprintf("%d / %d", r.ToBrowser.Stale, r.ToPhone.Stale), strconv.Itoa(r.Failed)}
	var b strings.Builder
	line := func(cs []string) {
		for i, c := range cs {
			pad := max(utf8.RuneCountInString(bridgeColumns[i]), 8) - utf8.RuneCountInString(c)
			b.WriteString(strings.Repeat(" ", max(pad, 0)+2))
			b.WriteString(c)
		}
		b.WriteByte('\n')
	}
	if !t.header {
		t.header = true
		monitored := "no supervisors"
		if cfg.monitor > 0 {
			monitored = fmt.Sprintf("every %s call also has a supervisor's browser listening (+sup)", ordinal(cfg.monitor))
		}
		phones := "each call and each browser on a socket of its own"
		if cfg.shared > 0 {
			phones = fmt.Sprintf("up to %d calls per RTP socket, the browsers on one socket", cfg.shared)
		}
		fmt.Fprintf(&b, "Bridged calls: a pion browser (PCMU) joined by the switchboard to a SIP call the endpoint placed to a\n"+
			"sipuatest phone (%s); %s. The server is a child process: its CPU (%% of one core)\n"+
			"is over the %.0f s window with every call up, RSS before → peak, per call = (peak - before) / calls.\n"+
			"Latency, ms, END TO END, one way: sender → receiver's socket (the system's receive time; as read without\n"+
			"-shared), two loopback hops, SRTP and the co-located load included. A phone's packet is timed from its\n"+
			"sendmmsg, a browser's from when it was numbered, before the generator's SRTP and send goroutine.\n"+
			"baseline: the same two hops without the bridge (a round trip through a UDP echo in the server process,\n"+
			"timed alongside by its own socket's send and receive) - compare with it, nothing is subtracted.\n"+
			"phone→browser is the passthrough route; browser→phone also waits for the SIP leg's own 20 ms packet\n"+
			"clock (0-20 ms per packet, plus any frames already queued for it). mixed: a burst from either side to\n"+
			"the supervisor, through the room's 20 ms mix tick. lost: tagged packets sent in the window, never heard.\n"+
			"stale: of those, how many the server dropped because they reached it more than 150 ms behind their\n"+
			"stream's pace (read late by a starved process: played, they would only add delay).\n", phones, monitored, r.Window)
		line(bridgeColumns)
	}
	line(cells)
	fmt.Fprintf(&b, "    phone→browser %d sent, %d heard (max %.1f ms); browser→phone %d sent, %d heard (max %.1f ms); "+
		"mixed %d bursts sent, %d heard (max %.1f ms); misrouted %d, duplicates %d, unmatched %d\n",
		r.ToBrowser.Sent, r.ToBrowser.Heard, r.ToBrowser.Max, r.ToPhone.Sent, r.ToPhone.Heard, r.ToPhone.Max,
		r.Mixed.Sent, r.Mixed.Heard, r.Mixed.Max, r.Misrouted, r.ToBrowser.Dup+r.ToPhone.Dup, r.ToBrowser.Late+r.ToPhone.Late)
	if lost := r.ToBrowser.Lost + r.ToPhone.Lost; lost > 0 {
		kernel := int(r.KernelDropsServer + r.KernelDropsLoad)
		stale := r.ToBrowser.Stale + r.ToPhone.Stale
		fmt.Fprintf(&b, "    datagrams the kernel dropped in the window, unread (socket buffer full: a starved process): %d at the server, %d here;\n"+
			"    %d dropped as stale by the server, %d at its full receive buffers; so of the %d tagged packets lost, between %d and %d were lost in the bridge itself\n",
			r.KernelDropsServer, r.KernelDropsLoad, stale, r.ToPhone.Full, lost, max(0, lost-kernel-stale-r.ToPhone.Full), max(0, lost-stale))
	}
	fmt.Fprintf(&b, "    load: this process (browsers and phone) %.0f%% of a core, machine idle %.0f%% of both cores; baseline %d echoes, %d back (max %.1f ms)\n",
		r.ClientCPU, r.MachineIdle, r.Baseline.Sent, r.Baseline.Heard, r.Baseline.Max)
	if s := r.Server; s != nil {
		fmt.Fprintf(&b, "    server's browser legs (whole run): %d in, %d gaps on arrival, %d dropped unread, %d at a full receive buffer, %d stale; %d out, %d reported lost by the browsers; SIP legs: %d stale; %d goroutines\n",
			s.PacketsIn, s.LostIn, s.Dropped, s.BufferFull, s.StaleIn, s.PacketsOut, s.LostOut, s.StaleSIP, s.Goroutines)
		if i := s.ICE; i.Recvs+i.Sends > 0 {
			fmt.Fprintf(&b, "    server's ICE port (whole run): %d datagrams read in %d recvmmsg (%.2f each), %d sent in %d sendmmsg (%.2f each), %d refused\n",
				i.Read, i.Recvs, float64(i.Read)/float64(max(i.Recvs, 1)), i.Sent, i.Sends, float64(i.Sent)/float64(max(i.Sends, 1)), i.Dropped)
		}
		fmt.Fprintf(&b, "    the calls' rooms (whole run): %d frames passed through, %d mixed; %d dropped, of which %d trimmed (a mix source more than a spare frame ahead of the tick)\n",
			s.Room.Passed, s.Room.Mixed, s.Room.Dropped, s.Room.Trimmed)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "    %s\n", e)
	}
	_, err := io.WriteString(t.w, b.String())
	return err
}

func ordinal(n int) string {
	switch {
	case n == 1:
		return "single"
	case n%10 == 2 && n%100 != 12:
		return strconv.Itoa(n) + "nd"
	case n%10 == 3 && n%100 != 13:
		return strconv.Itoa(n) + "rd"
	case n%10 == 1 && n%100 != 11:
		return strconv.Itoa(n) + "st"
	}
	return strconv.Itoa(n) + "th"
}

// udpDrops is how many datagrams the kernel dropped on pid's UDP sockets
// (their receive buffers were full: the process did not read in time),
// from the drops column of /proc/PID/net/udp, for the sockets pid has
// open now.
func udpDrops(pid int) (uint64, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := strings.CutPrefix(link, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/udp", pid))
	if err != nil {
		return 0, err
	}
	var drops uint64
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 13 || !inodes[f[9]] {
			continue
		}
		d, err := strconv.ParseUint(f[12], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/net/udp: drops %q: %w", pid, f[12], err)
		}
		drops += d
	}
	return drops, nil
}
