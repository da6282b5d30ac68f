package main

// This file is `canvass loadtest` (make bench): N concurrent keypad calls
// from sipuatest phones into a Canvass SIP endpoint, each answering the
// post-call survey as a respondent would (RFC 4733 keys a moment after each
// prompt ends). It measures what a caller feels — call setup time, key to next
// prompt, RTP jitter as received — and, for a server it spawned itself
// (`canvass dev` as a child), what the server spends per call: CPU from
// /proc/PID/stat, resident memory from /proc/PID/status, Go heap from
// /metrics. Lost answers are the answers keyed minus the rows stored in
// PostgreSQL for those calls, matched by SIP Call-ID.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/canvass/canvass/ivr/sipua/sipuatest"
	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// respondent is what every call keys: the post-call survey answered
// promoter-style, so that no voice comment (nps <= 6) and no callback
// question (resolved = no) come up. The last key of each answer is the one
// whose latency to the next prompt is measured.
var respondent = []struct {
	question string
	keys     string
	want     any // the value stored
}{
	{"nps", "9#", int64(9)},
	{"csat", "5", int64(5)},
	{"ces", "6", int64(6)},
	{"resolved", "1", true},
}

// loadConfig shapes one run.
type loadConfig struct {
	target   string        // sip: URI of the survey
	rate     float64       // call attempts per second
	duration time.Duration // the measured window: every call up, answering
	warmup   bool          // one call through the survey first
	quiet    time.Duration // no talkspurt for this long: the prompt is over
	think    time.Duration // at most this long after a prompt, the answer
	dbURL    string        // where the answers are counted; "" = not counted
	server   string        // the canvass binary -spawn starts; "" = this one
	sample   time.Duration // soak: sample the server this often in the window; 0 = not
	shared   int           // calls per RTP socket of the generator (SharedMedia); 0 = a socket each
	log      io.Writer     // progress
}

// serverProbe reads a local server's resource use; zero fields are
// unknown.
type serverProbe struct {
	pid        int    // canvass process
	metricsURL string // its /metrics
	pgDir      string // its PostgreSQL data directory (postmaster.pid)
}

// loadResult is one row of the table. Pointers are nil when not measured.
type loadResult struct {
	Calls    int     `json:"calls"`
	Rate     float64 `json:"rate_per_second"`
	Dialled  int     `json:"calls_dialled"` // slots dial again when a call ends in the window
	Failed   int     `json:"failed_calls"`
	SetupP50 float64 `json:"setup_p50_ms"`
	SetupP99 float64 `json:"setup_p99_ms"`
	KeyP50   float64 `json:"key_to_prompt_p50_ms"`
	KeyP99   float64 `json:"key_to_prompt_p99_ms"`
	KeyMax   float64 `json:"key_to_prompt_max_ms"`
	// KeyByQuestion is p50 and p99 after each question's last key.
	KeyByQuestion map[string][2]float64 `json:"key_to_prompt_by_question_ms"`
	JitterP99     float64               `json:"jitter_p99_ms"`  // RFC 3550 interarrival jitter, sampled every 100 ms per call
	MaxGapP99     float64               `json:"max_gap_p99_ms"` // p99 over calls of the longest gap between two packets
	MaxGap        float64               `json:"max_gap_ms"`     // the longest gap any call heard
	GappedCalls   int                   `json:"calls_gap_over_60ms"`
	// ServerAnswerP99 bounds the server's own share of setup at p99: the
	// bucket of canvass_sip_answer_seconds (INVITE in, 200 out) that holds
	// the 99th percentile of the calls answered since the run began.
	ServerAnswerP99 *float64     `json:"server_answer_p99_ms_at_most"`
	Window          float64      `json:"window_s"`         // the measured window, every call up
	ClientCPU       float64      `json:"client_cpu_pct"`   // this process, % of one core, over the window
	MachineIdle     float64      `json:"machine_idle_pct"` // all cores, over the window
	OtherCPU        *float64     `json:"other_cpu_pct"`    // machine busy time not spent by the server, its database or this process: other load
	ServerCPU       *float64     `json:"server_cpu_pct"`   // % of one core over the window
	CPUPerCall      *float64     `json:"server_cpu_pct_per_call"`
	DBCPUPerCall    *float64     `json:"db_cpu_pct_per_call"` // PostgreSQL's processes
	RSSBefore       *float64     `json:"rss_before_kb"`
	RSSPeak         *float64     `json:"rss_peak_kb"`
	RSSPerCall      *float64     `json:"rss_kb_per_call"`
	HeapPerCall     *float64     `json:"heap_kb_per_call"`      // go_memstats_heap_inuse_bytes, peak in the window minus before
	LiveHeapPerCall *float64     `json:"live_heap_kb_per_call"` // heap live after a GC, peak minus before
	StackPerCall    *float64     `json:"stack_kb_per_call"`     // goroutine stacks, peak minus before
	Expected        int          `json:"answers_expected"`
	Lost            *int         `json:"lost_answers"`
	Errors          []string     `json:"errors,omitempty"` // the first distinct ones, with counts
	Soak            []soakSample `json:"soak,omitempty"`   // -sample: the server through the window
	Drift           *soakDrift   `json:"soak_drift_pct,omitempty"`
}

func loadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	callsFlag := fs.String("calls", "100", "concurrent calls; a comma-separated list makes one run each (100,500,1000)")
	target := fs.String("target", "sip:post-call@127.0.0.1:5060", "the survey to call: a sip: URI or HOST:PORT (then post-call@HOST:PORT)")
	spawn := fs.String("spawn", "", "start canvass dev -data `DIR` for each run, measure its CPU and memory, stop it after (DIR must be reachable by user postgres when root)")
	server := fs.String("server", "", "with -spawn, the canvass `binary` to start (another build, to compare servers under one load generator); default this one")
	dbURL := fs.String("database", os.Getenv("CANVASS_DATABASE_URL"), "PostgreSQL URL where the answers are counted; default $CANVASS_DATABASE_URL, or the spawned server's")
	rate := fs.Float64("rate", 200, "call attempts per second: calls start staggered, not all at once")
	duration := fs.Duration("duration", 45*time.Second, "the measured window: every call up, answering (a call that ends is replaced)")
	warmup := fs.Bool("warmup", true, "place one call through the survey before measuring (prompts synthesized and cached)")
	asJSON := fs.Bool("json", false, "print one JSON object per run instead of the table")
	shared := fs.Int("shared", 250, "calls per RTP socket of the load generator, each call on a loopback address of its own (127.1.x.y), so the generator costs little next to the server; 0 = a socket on 127.0.0.1 per call")
	sample := fs.Duration("sample", 0, "soak: with -spawn, sample the server's RSS, goroutines and open files this often during the window and print the series and its drift (make soak)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: loadtest takes no arguments, got %q", errUsage, fs.Args())
	}
	var runs []int
	for f := range strings.SplitSeq(*callsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("%w: -calls %q: want positive numbers separated by commas", errUsage, *callsFlag)
		}
		runs = append(runs, n)
	}
	if *shared < 0 {
		return fmt.Errorf("%w: -shared must be 0 (a socket per call) or more", errUsage)
	}
	if *rate <= 0 || *duration < time.Second {
		return fmt.Errorf("%w: -rate must be positive and -duration at least 1s", errUsage)
	}
	if *sample < 0 || *sample > 0 && *spawn == "" {
		return fmt.Errorf("%w: -sample needs -spawn (the server it samples) and a positive interval", errUsage)
	}
	uri, err := surveyURI(*target)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	// Each call holds an RTP socket on both sides (and the child inherits
	// the limit).
	raiseFileLimit(uint64(2*slices.Max(runs)+256), stderr)

	cfg := loadConfig{target: uri, rate: *rate, duration: *duration, warmup: *warmup, dbURL: *dbURL, server: *server, sample: *sample, shared: *shared, log: stderr,
		quiet: 2 * time.Second, think: time.Second}
	out := newLoadTable(stdout, *asJSON)
	for _, n := range runs {
		res, err := loadRun(ctx, n, cfg, *spawn)
		if err != nil {
			return fmt.Errorf("%d calls: %w", n, err)
		}
		if err := out.row(res); err != nil {
			return err
		}
	}
	return nil
}

// surveyURI turns -target into the URI each call dials.
func surveyURI(target string) (string, error) {
	if !strings.HasPrefix(target, "sip:") {
		if strings.ContainsAny(target, "@;") || !strings.Contains(target, ":") {
			return "", fmt.Errorf("-target %q: want sip:USER@HOST:PORT or HOST:PORT", target)
		}
		target = "sip:post-call@" + target
	}
	if !strings.Contains(target, "@") {
		return "", fmt.Errorf("-target %q: the user part names the questionnaire (sip:post-call@HOST:PORT)", target)
	}
	return target, nil
}

// raiseFileLimit lifts the soft limit on open files to the hard one.
func raiseFileLimit(want uint64, warn io.Writer) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintf(warn, "loadtest: open-file limit: %v\n", err)
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			fmt.Fprintf(warn, "loadtest: raise the open-file limit: %v\n", err)
		}
	}
	if lim.Cur < want {
		fmt.Fprintf(warn, "loadtest: the open-file limit (%d) is below the %d this run needs: expect failed calls (raise it with ulimit -n)\n", lim.Cur, want)
	}
}

// loadRun is one row: spawn the server if asked, warm it up, measure n
// calls, stop the server.
func loadRun(ctx context.Context, n int, cfg loadConfig, spawnDir string) (loadResult, error) {
	var probe *serverProbe
	if spawnDir != "" {
		exe, err := os.Executable()
		if cfg.server != "" {
			exe, err = cfg.server, nil
		}
		if err != nil {
			return loadResult{}, err
		}
		// Room for the calls of a slot that redials while the server
		// still closes its previous one: the cap is not what is measured.
		srv, err := spawnServer(ctx, exe, spawnDir, cfg.dbURL, 2*n+16, cfg.log)
		if err != nil {
			return loadResult{}, err
		}
		defer func() {
			if err := srv.stop(); err != nil {
				fmt.Fprintf(cfg.log, "loadtest: stop the server: %v\n", err)
			}
		}()
		user, _, _ := strings.Cut(strings.TrimPrefix(cfg.target, "sip:"), "@")
		cfg.target = "sip:" + user + "@" + srv.sipAddr
		if cfg.dbURL == "" {
			cfg.dbURL = srv.dbURL
		}
		probe = &serverProbe{pid: srv.cmd.Process.Pid, metricsURL: "http://" + srv.httpAddr + "/metrics", pgDir: srv.pgDir}
		fmt.Fprintf(cfg.log, "loadtest: server pid %d, SIP %s, HTTP %s (log in %s)\n", probe.pid, srv.sipAddr, srv.httpAddr, srv.logPath)
	}
	return measure(ctx, n, cfg, probe)
}

// callState is one call of a run.
type callState struct {
	callID    string
	setup     time.Duration
	latencies []time.Duration // one per answer, in respondent order
	sent      int             // answers whose keys were all sent
	maxGap    time.Duration   // the longest gap heard, when the call ended
	// windowGap is the longest gap heard up to the window's close, plus
	// one (0: the call had ended): every call hanging up at once stalls
	// both processes for a moment after it, which is not the window's.
	windowGap atomic.Int64
	call      atomic.Pointer[sipuatest.Call] // once dialled
	err       error
}

// loadCalls is what the calls of one measurement share.
type loadCalls struct {
	cfg   loadConfig
	phone *sipuatest.Phone
	slots []atomic.Pointer[sipuatest.Call] // each slot's call while it is up, for the jitter sampler
	state []atomic.Pointer[callState]      // each slot's current call
	up    sync.WaitGroup                   // every slot's first call up, or failed
	open  chan struct{}                    // closed when the window opens
	shut  chan struct{}                    // closed when it closes: hang up at the next safe point

	mu    sync.Mutex
	calls []*callState
}

// measure keeps n calls up against cfg.target. The slots start at
// cfg.rate a second; once every slot's call is up (or failed), the window
// opens for cfg.duration, during which a slot whose call ended dials
// again. When the window closes, each respondent hangs up at its next safe
// point: while it listens to a prompt, which proves its last answer was
// stored.
func measure(ctx context.Context, n int, cfg loadConfig, probe *serverProbe) (loadResult, error) {
	ramp := time.Duration(float64(n) / cfg.rate * float64(time.Second))
	ctx, cancel := context.WithTimeout(ctx, 2*ramp+cfg.duration+3*time.Minute)
	defer cancel()
	phone, err := sipuatest.NewPhone(sipuatest.PhoneOptions{User: "loadtest", SharedMedia: cfg.shared})
	if err != nil {
		return loadResult{}, err
	}
	defer phone.Close()
	r := &loadCalls{cfg: cfg, phone: phone, slots: make([]atomic.Pointer[sipuatest.Call], n), state: make([]atomic.Pointer[callState], n),
		open: make(chan struct{}), shut: make(chan struct{})}

	if cfg.warmup {
		fmt.Fprintf(cfg.log, "loadtest: warm-up call\n")
		if err := r.warmup(ctx); err != nil {
			return loadResult{}, fmt.Errorf("warm-up call: %w", err)
		}
		time.Sleep(time.Second) // let the server settle before the baseline
	}

	res := loadResult{Calls: n, Rate: cfg.rate}
	var rssBefore int64
	var memBefore goMemory
	haveMem := false
	if probe != nil {
		if rssBefore, err = probe.rss(); err != nil {
			return res, err
		}
		if memBefore, err = probe.memory(ctx); err != nil {
			fmt.Fprintf(cfg.log, "loadtest: no Go memory figures: %v\n", err)
		}
		haveMem = err == nil
	}
	since := time.Now().Add(-time.Second)

	// The watchers: resident memory through the whole run (the peak comes
	// with the calls), jitter of every call up during the window.
	rss := watchRSS(probe, 100*time.Millisecond)
	stopWatch := make(chan struct{})
	var jitter []time.Duration
	var watching sync.WaitGroup
	watching.Go(func() {
		// At most ~3,000 rounds of samples: a soak of an hour at 100 ms
		// would keep tens of millions.
		t := time.NewTicker(max(100*time.Millisecond, cfg.duration/3000))
		defer t.Stop()
		for {
			select {
			case <-stopWatch:
				return
			case <-t.C:
			}
			select {
			case <-r.open:
			default:
				continue
			}
			for i := range r.slots {
				if c := r.slots[i].Load(); c != nil {
					if st := c.Stats(); st.PacketsIn > 1 {
						jitter = append(jitter, st.Jitter)
					}
				}
			}
		}
	})

	fmt.Fprintf(cfg.log, "loadtest: %d calls, starting %g a second (%s)\n", n, cfg.rate, ramp.Round(time.Millisecond))
	r.up.Add(n)
	var slots sync.WaitGroup
	start := time.Now()
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(float64(i) / cfg.rate * float64(time.Second)))); wait > 0 {
			time.Sleep(wait)
		}
		slots.Go(func() { r.slot(ctx, i) })
	}
	r.up.Wait()
	window := time.Now()
	fmt.Fprintf(cfg.log, "loadtest: all up after %s; measuring for %s\n", window.Sub(start).Round(time.Millisecond), cfg.duration)
	cpu0, db0, self0, idle0 := probe.cpu(), probe.dbCPU(), selfCPU(), machineIdle()
	close(r.open)
	var memPeak, memLast goMemory
	nextSample := window
	for end := window.Add(cfg.duration); ; {
		var m goMemory
		var merr error = errors.New("not read")
		if haveMem {
			if m, merr = probe.memory(ctx); merr == nil {
				memLast = m
				memPeak.heapInuse = max(memPeak.heapInuse, m.heapInuse)
				memPeak.liveHeap = max(memPeak.liveHeap, m.liveHeap)
				memPeak.stacks = max(memPeak.stacks, m.stacks)
			}
		}
		wait := time.Until(end)
		if cfg.sample > 0 && probe != nil && (!time.Now().Before(nextSample) || wait <= 0) {
			s := r.sample(probe, time.Since(window), m, merr)
			res.Soak = append(res.Soak, s)
			fmt.Fprintf(cfg.log, "loadtest: %s: %d calls up, RSS %.1f MB, %d goroutines, %d fds\n",
				s.At.Round(time.Second), s.Calls, float64(s.RSS)/(1<<20), s.Goroutines, s.FDs)
			for !nextSample.After(time.Now()) {
				nextSample = nextSample.Add(cfg.sample)
			}
		}
		if wait <= 0 || ctx.Err() != nil {
			break
		}
		time.Sleep(min(wait, 500*time.Millisecond))
	}
	wall := time.Since(window)
	cpu1, db1, self1, idle1 := probe.cpu(), probe.dbCPU(), selfCPU(), machineIdle()
	for i := range r.slots {
		if st := r.state[i].Load(); st != nil {
			if c := st.call.Load(); c != nil {
				st.windowGap.Store(int64(c.Stats().MaxGap) + 1)
			}
		}
	}
	close(r.shut)
	fmt.Fprintf(cfg.log, "loadtest: window closed; hanging up\n")
	slots.Wait()
	close(stopWatch)
	watching.Wait()
	rss.stop()

	r.summarize(&res)
	if d, ok := drift(res.Soak); ok {
		res.Drift = &d
	}
	res.JitterP99 = ms(percentile(jitter, 0.99))
	res.Window = wall.Seconds()
	pct := func(d time.Duration) float64 { return 100 * d.Seconds() / wall.Seconds() }
	res.ClientCPU = pct(self1 - self0)
	if idle1.total > idle0.total {
		res.MachineIdle = 100 * float64(idle1.idle-idle0.idle) / float64(idle1.total-idle0.total)
	}
	if probe != nil {
		if cpu0 >= 0 && cpu1 >= cpu0 {
			res.ServerCPU = ptr(pct(cpu1 - cpu0))
			res.CPUPerCall = ptr(*res.ServerCPU / float64(n))
		}
		if db0 >= 0 && db1 >= db0 {
			res.DBCPUPerCall = ptr(pct(db1-db0) / float64(n))
			if res.ServerCPU != nil && idle1.total > idle0.total {
				busy := (100 - res.MachineIdle) * float64(runtime.NumCPU())
				res.OtherCPU = ptr(max(0, busy-*res.ServerCPU-pct(db1-db0)-res.ClientCPU))
				if *res.OtherCPU > 25 {
					fmt.Fprintf(cfg.log, "loadtest: other processes used %.0f%% of a core during the window: the figures are disturbed\n", *res.OtherCPU)
				}
			}
		}
		res.RSSBefore, res.RSSPeak = ptr(float64(rssBefore)/1024), ptr(float64(rss.peak.Load())/1024)
		res.RSSPerCall = ptr(float64(rss.peak.Load()-rssBefore) / 1024 / float64(n))
		if haveMem && memPeak.heapInuse > 0 {
			perCall := func(peak, before int64) *float64 { return ptr(float64(peak-before) / 1024 / float64(n)) }
			res.HeapPerCall = perCall(memPeak.heapInuse, memBefore.heapInuse)
			res.LiveHeapPerCall = perCall(memPeak.liveHeap, memBefore.liveHeap)
			res.StackPerCall = perCall(memPeak.stacks, memBefore.stacks)
		}
		if bound, ok := answerP99(memBefore.answered, memLast.answered); ok {
			res.ServerAnswerP99 = ptr(bound * 1000)
		}
	}
	if cfg.dbURL != "" {
		ids := map[string]int{}
		for i, c := range r.calls {
			if c.callID != "" {
				ids[c.callID] = i
			}
		}
		stored, err := storedAnswers(ctx, cfg.dbURL, since, ids)
		if err != nil {
			return res, fmt.Errorf("count the stored answers: %w", err)
		}
		lost := 0
		for i, c := range r.calls {
			lost += max(0, c.sent-stored[i])
		}
		res.Lost = &lost
	}
	return res, nil
}

// summarize fills in what the calls measured: setup and key→prompt
// percentiles, gaps, failures.
func (r *loadCalls) summarize(res *loadResult) {
	var setups, latencies, gaps []time.Duration
	errs := map[string]int{}
	var errOrder []string
	for _, c := range r.calls {
		res.Expected += c.sent
		latencies = append(latencies, c.latencies...)
		if c.callID != "" {
			setups = append(setups, c.setup)
			gap := c.maxGap
			if g := c.windowGap.Load(); g > 0 {
				gap = time.Duration(g - 1)
			}
			gaps = append(gaps, gap)
		}
		if c.err != nil {
			res.Failed++
			msg := c.err.Error()
			if errs[msg]++; errs[msg] == 1 {
				errOrder = append(errOrder, msg)
			}
		}
	}
	res.Dialled = len(r.calls)
	for _, msg := range errOrder[:min(len(errOrder), 5)] {
		res.Errors = append(res.Errors, fmt.Sprintf("%d× %s", errs[msg], msg))
	}
	res.SetupP50, res.SetupP99 = ms(percentile(setups, 0.50)), ms(percentile(setups, 0.99))
	res.KeyP50, res.KeyP99, res.KeyMax = ms(percentile(latencies, 0.50)), ms(percentile(latencies, 0.99)), ms(percentile(latencies, 1))
	res.MaxGapP99, res.MaxGap = ms(percentile(gaps, 0.99)), ms(percentile(gaps, 1))
	for _, g := range gaps {
		if g > 60*time.Millisecond {
			res.GappedCalls++
		}
	}
	res.KeyByQuestion = map[string][2]float64{}
	for k, a := range respondent {
		var ds []time.Duration
		for _, c := range r.calls {
			if k < len(c.latencies) {
				ds = append(ds, c.latencies[k])
			}
		}
		res.KeyByQuestion[a.question] = [2]float64{ms(percentile(ds, 0.50)), ms(percentile(ds, 0.99))}
	}
}

// sample is the server now, for the soak: m and merr are this moment's
// /metrics scrape.
func (r *loadCalls) sample(probe *serverProbe, at time.Duration, m goMemory, merr error) soakSample {
	s := soakSample{At: at, Goroutines: -1, FDs: -1}
	for i := range r.slots {
		if r.slots[i].Load() != nil {
			s.Calls++
		}
	}
	if merr == nil {
		s.Goroutines = m.goroutines
	}
	if v, err := probe.rss(); err == nil {
		s.RSS = v
	}
	if n, err := openFDs(probe.pid); err == nil {
		s.FDs = n
	}
	return s
}

// slot keeps one call up: it dials again when its call ends, or a second
// after it failed, until the window closes.
func (r *loadCalls) slot(ctx context.Context, i int) {
	upDone := false
	up := func() {
		if !upDone {
			upDone = true
			r.up.Done()
		}
	}
	defer up()
	for {
		st := &callState{}
		r.state[i].Store(st)
		r.mu.Lock()
		r.calls = append(r.calls, st)
		r.mu.Unlock()
		r.respond(ctx, st, &r.slots[i], up)
		if ctx.Err() != nil {
			return
		}
		// A failed call is counted and its slot dials again a second later,
		// so the load (and a soak's) stays at n calls after a bad moment.
		pause := time.Duration(0)
		if st.err != nil {
			up()
			pause = time.Second
		}
		select {
		case <-r.shut: // first: a select with both ready picks at random
			return
		default:
		}
		select {
		case <-r.shut:
			return
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

// respond is one respondent: dial, listen to the intro and the first
// question to its end, then answer each question a moment after its prompt
// ended. Once the window has closed it hangs up while it listens: the next
// prompt has begun, so its last answer is stored.
func (r *loadCalls) respond(ctx context.Context, st *callState, live *atomic.Pointer[sipuatest.Call], up func()) {
	fail := func(step string, err error) { st.err = fmt.Errorf("%s: %w", step, err) }
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	c, err := r.phone.Dial(dctx, r.cfg.target, sipuatest.DialOptions{Headers: dialHeaders(r.cfg.target)})
	cancel()
	if err != nil {
		fail("dial", err)
		return
	}
	defer c.Close()
	st.callID, st.setup = c.CallID(), c.SetupTime()
	st.call.Store(c)
	defer func() { st.maxGap = c.Stats().MaxGap }()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	intro, err := c.WaitPrompt(wctx, time.Time{})
	cancel()
	if err != nil {
		fail("intro", err)
		return
	}
	live.Store(c)
	defer live.Store(nil)
	up()

	// Listening ends early when the window closes.
	lctx, stopListening := context.WithCancel(ctx)
	defer stopListening()
	go func() {
		select {
		case <-r.shut:
			stopListening()
		case <-lctx.Done():
		}
	}()
	closed := func() bool {
		select {
		case <-r.shut:
			return ctx.Err() == nil
		default:
			return false
		}
	}
	// The intro runs straight into the first question: one stretch of
	// speech to the listener.
	if err := listen(lctx, c, intro, r.cfg.quiet); err != nil {
		if closed() {
			r.hangup(ctx, c, st)
			return
		}
		fail("first question", err)
		return
	}
	for k, a := range respondent {
		select {
		case <-r.shut:
			r.hangup(ctx, c, st)
			return
		case <-time.After(rand.N(r.cfg.think + 1)):
		case <-ctx.Done():
			fail(a.question, ctx.Err())
			return
		}
		kctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var sent, onset time.Time
		for _, key := range a.keys {
			if sent, err = c.SendKey(kctx, key); err != nil {
				break
			}
		}
		if err == nil {
			st.sent++
			if onset, err = c.WaitPrompt(kctx, sent); err == nil {
				st.latencies = append(st.latencies, onset.Sub(sent))
			}
		}
		cancel()
		if err != nil {
			fail(a.question, err)
			return
		}
		last := k == len(respondent)-1
		if err := listen(lctx, c, onset, r.cfg.quiet); err != nil {
			switch {
			case last && isHangup(c):
				return // the thanks is over and the server hung up
			case closed():
				r.hangup(ctx, c, st)
				return
			}
			fail(a.question, err)
			return
		}
	}
	// The thanks has played; the server hangs up after it.
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		fail("hang-up after the thanks", errors.New("no BYE from the server"))
		r.hangup(ctx, c, st)
	case <-ctx.Done():
		fail("hang-up after the thanks", ctx.Err())
	}
}

func isHangup(c *sipuatest.Call) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

func (r *loadCalls) hangup(ctx context.Context, c *sipuatest.Call, st *callState) {
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// A BYE that crossed the server's (the thanks just ended) is no failure.
	if err := c.Hangup(hctx); err != nil && !isHangup(c) {
		st.err = errors.Join(st.err, fmt.Errorf("hang up: %w", err))
	}
}

// listen returns once no talkspurt has started for quiet: the prompt is
// over. (sipuatest notes every talkspurt: a prompt's start, and each word
// after a pause.)
func listen(ctx context.Context, c *sipuatest.Call, last time.Time, quiet time.Duration) error {
	for {
		qctx, cancel := context.WithTimeout(ctx, quiet)
		on, err := c.WaitPrompt(qctx, last)
		cancel()
		switch {
		case err == nil:
			last = on
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			return nil
		default:
			return err // the call ended
		}
	}
}

// warmup places one call that types every answer during the intro (the
// engine keeps them as type-ahead), so that each prompt is synthesized
// and loaded before the baseline is taken.
func (r *loadCalls) warmup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, err := r.phone.Dial(ctx, r.cfg.target, sipuatest.DialOptions{Headers: dialHeaders(r.cfg.target)})
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.WaitPrompt(ctx, time.Time{}); err != nil {
		return err
	}
	for _, a := range respondent {
		if err := c.SendKeys(ctx, a.keys, 0); err != nil {
			return err
		}
	}
	select {
	case <-c.Done():
		return nil
	case <-ctx.Done():
		hctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return errors.Join(ctx.Err(), c.Hangup(hctx))
	}
}

// dialHeaders: English (so no language menu), unless the URI picks a
// language; and an agent name that marks the interviews as load.
func dialHeaders(uri string) map[string]string {
	h := map[string]string{"X-Canvass-Agent": "loadtest"}
	if !strings.Contains(uri, ";lang=") {
		h["X-Canvass-Language"] = "en"
	}
	return h
}

// storedAnswers counts, per call index, the answers stored with the value
// the respondent keyed, in interviews started since then.
func storedAnswers(ctx context.Context, url string, since time.Time, ids map[string]int) (map[int]int, error) {
	db, err := sql.Open(ctx, url, 2)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	want := map[string]any{}
	for _, a := range respondent {
		want[a.question] = a.want
	}
	stored := map[int]int{}
	err = db.EachInterview(ctx, survey.InterviewFilter{From: since, WithAnswers: true}, func(r survey.InterviewRecord) error {
		i, ok := ids[r.Context.Extra["sip_call_id"]]
		if !ok {
			return nil
		}
		for _, a := range r.Answers {
			if w, ok := want[a.Question]; ok && a.Value == w {
				stored[i]++
			}
		}
		return nil
	})
	return stored, err
}

// percentile is the nearest-rank p-quantile (p = 1: the maximum).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, max(0, int(float64(len(s))*p+0.5)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func ptr[T any](v T) *T { return &v }

// clockTick is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go runs on.
const clockTick = 10 * time.Millisecond

// procCPU is the user and system time of pid from /proc/PID/stat, and its
// parent's pid.
func procCPU(pid int) (cpu time.Duration, ppid int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from the last ')'. After it: state, ppid, … utime (12th), stime.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ppid, err1 := strconv.Atoi(f[1])
	ut, err2 := strconv.ParseInt(f[11], 10, 64)
	stt, err3 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ut+stt) * clockTick, ppid, nil
}

// cpu is the server's CPU time so far; -1 if unknown.
func (p *serverProbe) cpu() time.Duration {
	if p == nil {
		return -1
	}
	d, _, err := procCPU(p.pid)
	if err != nil {
		return -1
	}
	return d
}

// dbCPU is the CPU time of the PostgreSQL postmaster and its children
// (the backends are the pool's long-lived connections); -1 if unknown.
func (p *serverProbe) dbCPU() time.Duration {
	if p == nil || p.pgDir == "" {
		return -1
	}
	b, err := os.ReadFile(filepath.Join(p.pgDir, "postmaster.pid"))
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pm, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return -1
	}
	total, _, err := procCPU(pm)
	if err != nil {
		return -1
	}
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return -1
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if cpu, ppid, err := procCPU(pid); err == nil && ppid == pm {
			total += cpu
		}
	}
	return total
}

// rss is the server's resident set size in bytes (VmRSS).
func (p *serverProbe) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmRSS %q: %w", v, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", p.pid)
}

// goMemory is what the server's /metrics says of its Go memory, in bytes.
type goMemory struct {
	heapInuse int64 // go_memstats_heap_inuse_bytes: spans in use, garbage not yet swept included
	liveHeap  int64 // the heap live after the last GC: next_gc / (1 + GOGC/100)
	stacks    int64 // go_memstats_stack_inuse_bytes: goroutine stacks
	// goroutines is go_goroutines (-1: not exposed): no memory, but read
	// from the same scrape, for the soak.
	goroutines int64
	// answered is canvass_sip_answer_seconds: calls answered within each
	// bucket's bound in seconds (cumulative), read from the same scrape.
	answered map[float64]float64
}

// memory reads the server's Go memory from its /metrics.
func (p *serverProbe) memory(ctx context.Context) (goMemory, error) {
	if p.metricsURL == "" {
		return goMemory{}, errors.New("no metrics address")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.metricsURL, nil)
	if err != nil {
		return goMemory{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return goMemory{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return goMemory{}, fmt.Errorf("%s: %s", p.metricsURL, resp.Status)
	}
	m, err := parseGoMemory(resp.Body)
	if err != nil {
		return goMemory{}, fmt.Errorf("%s: %w", p.metricsURL, err)
	}
	return m, nil
}

// parseGoMemory reads the Go runtime's figures from Prometheus text.
func parseGoMemory(r io.Reader) (goMemory, error) {
	v := map[string]float64{}
	var answered map[float64]float64
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if le, found := strings.CutPrefix(name, `canvass_sip_answer_seconds_bucket{le="`); found && ok {
			bound, berr := strconv.ParseFloat(strings.TrimSuffix(le, `"}`), 64)
			n, nerr := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if berr == nil && nerr == nil {
				if answered == nil {
					answered = map[float64]float64{}
				}
				answered[bound] = n
			}
			continue
		}
		switch name {
		case "go_memstats_heap_inuse_bytes", "go_memstats_next_gc_bytes", "go_memstats_stack_inuse_bytes", "go_gc_gogc_percent", "go_goroutines":
			if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); ok && err == nil {
				v[name] = f
			}
		}
	}
	if err := sc.Err(); err != nil {
		return goMemory{}, err
	}
	if _, ok := v["go_memstats_heap_inuse_bytes"]; !ok {
		return goMemory{}, errors.New("no go_memstats_heap_inuse_bytes")
	}
	m := goMemory{heapInuse: int64(v["go_memstats_heap_inuse_bytes"]), stacks: int64(v["go_memstats_stack_inuse_bytes"]), goroutines: -1, answered: answered}
	if gogc, ok := v["go_gc_gogc_percent"]; ok && gogc > 0 {
		m.liveHeap = int64(v["go_memstats_next_gc_bytes"] / (1 + gogc/100))
	}
	if g, ok := v["go_goroutines"]; ok {
		m.goroutines = int64(g)
	}
	return m, nil
}

// answerP99 is the upper bound of the canvass_sip_answer_seconds bucket
// holding the 99th percentile of the calls answered between two scrapes
// (cumulative buckets by bound).
func answerP99(before, after map[float64]float64) (float64, bool) {
	bounds := slices.Sorted(maps.Keys(after))
	if len(bounds) == 0 {
		return 0, false
	}
	total := after[bounds[len(bounds)-1]] - before[bounds[len(bounds)-1]] // +Inf
	if total <= 0 {
		return 0, false
	}
	for _, b := range bounds {
		if after[b]-before[b] >= 0.99*total {
			return b, true
		}
	}
	return bounds[len(bounds)-1], true
}

// selfCPU is this process's CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuTimes are the machine's idle and total jiffies from /proc/stat.
type cpuTimes struct{ idle, total int64 }

func machineIdle() cpuTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	if len(f) < 9 || f[0] != "cpu" {
		return cpuTimes{}
	}
	var t cpuTimes
	for i, s := range f[1:] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return cpuTimes{} // unknown
		}
		if i < 8 {
			t.total += v
		}
		if i == 3 || i == 4 {
			t.idle += v
		}
	}
	return t
}

// spawned is a `canvass dev` child process.
type spawned struct {
	cmd *exec.Cmd
	serverLog
	logPath string
	exited  chan struct{} // closed when the child has exited
	waitErr error
}

// serverLog is what loadtest reads in a canvass server's JSON log: where
// it listens and, for `canvass dev`, its local PostgreSQL.
type serverLog struct {
	sipAddr, httpAddr string
	dbURL, pgDir      string
}

// line takes what it needs from one log line; it reports whether the line
// told it something.
func (l *serverLog) line(b []byte) bool {
	var rec struct{ Msg, Addr, URL, Dir string }
	if json.Unmarshal(b, &rec) != nil {
		return false
	}
	switch rec.Msg {
	case "sip listening":
		l.sipAddr = rec.Addr
	case "http listening":
		l.httpAddr = rec.Addr
	case "local PostgreSQL running":
		l.dbURL, l.pgDir = rec.URL, rec.Dir
	default:
		return false
	}
	return true
}

// spawnServer starts `exe dev -data dir` with HTTP and SIP on free
// loopback ports and JSON logs (read for the addresses it bound and its
// database), copies its log to dir/loadtest-server.log, and returns once
// it serves. With dbURL it stores the answers there instead of in a local
// PostgreSQL.
func spawnServer(ctx context.Context, exe, dir, dbURL string, maxCalls int, progress io.Writer) (*spawned, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "dev", "-data", dir)
	cmd.Env = append(os.Environ(), "CANVASS_HTTP_ADDR=127.0.0.1:0", "CANVASS_SIP_ADDR=127.0.0.1:0",
		"CANVASS_SIP_MAX_CALLS="+strconv.Itoa(maxCalls), "CANVASS_LOG_FORMAT=json", "CANVASS_LOG_LEVEL=info")
	if dbURL != "" {
		cmd.Env = append(cmd.Env, "CANVASS_DATABASE_URL="+dbURL) // answers stored where they are counted
	}
	return spawn(ctx, cmd, filepath.Join(dir, "loadtest-server.log"), true, progress)
}

// spawn starts cmd, a canvass server logging JSON to stderr, copies its
// output to logPath, and returns once it serves SIP and HTTP (and, with
// banner, once `canvass dev` has printed its banner).
func spawn(ctx context.Context, cmd *exec.Cmd, logPath string, banner bool, progress io.Writer) (*spawned, error) {
	s := &spawned{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	fmt.Fprintf(progress, "starting %s\n", strings.Join(s.cmd.Args, " "))
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	var mu sync.Mutex // guards seen and banner
	var seen serverLog
	found := make(chan struct{}, 1)
	wake := func() { // never blocks: the logs must keep flowing
		select {
		case found <- struct{}{}:
		default:
		}
	}
	bannered := !banner
	var streams sync.WaitGroup
	streams.Go(func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(logFile, sc.Text())
			if strings.HasPrefix(sc.Text(), "Stop with") {
				mu.Lock()
				bannered = true
				mu.Unlock()
				wake()
			}
		}
		if err := sc.Err(); err != nil {
			fmt.Fprintf(logFile, "loadtest: reading the server's output: %v\n", err)
		}
		io.Copy(io.Discard, stdout) // keep the pipe flowing
	})
	streams.Go(func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			fmt.Fprintf(logFile, "%s\n", sc.Bytes())
			mu.Lock()
			told := seen.line(sc.Bytes())
			mu.Unlock()
			if told {
				wake()
			}
		}
		if err := sc.Err(); err != nil {
			fmt.Fprintf(logFile, "loadtest: reading the server's log: %v\n", err)
		}
		io.Copy(io.Discard, stderr) // keep the pipe flowing
	})
	go func() {
		streams.Wait() // the pipes must be drained before Wait
		s.waitErr = s.cmd.Wait()
		logFile.Close()
		close(s.exited)
	}()
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
	for {
		mu.Lock()
		ready := bannered && seen.sipAddr != "" && seen.httpAddr != ""
		s.serverLog = seen
		mu.Unlock()
		if ready {
			return s, nil
		}
		select {
		case <-found:
		case <-s.exited:
			return nil, fmt.Errorf("the server exited before it was ready (%v); its log: %s", s.waitErr, s.logPath)
		case <-deadline.C:
			return nil, errors.Join(fmt.Errorf("the server was not ready after 2 minutes; its log: %s", s.logPath), s.stop())
		case <-ctx.Done():
			return nil, errors.Join(ctx.Err(), s.stop())
		}
	}
}

// stop sends SIGTERM (in-flight calls finish, the local PostgreSQL stops)
// and waits; SIGKILL after a minute.
func (s *spawned) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-s.exited:
	case <-time.After(time.Minute):
		if err := s.cmd.Process.Kill(); err != nil {
			return err
		}
		<-s.exited
		return errors.New("the server did not stop within a minute of SIGTERM: killed")
	}
	var exit *exec.ExitError
	if errors.As(s.waitErr, &exit) {
		return fmt.Errorf("the server exited with %v; its log: %s", s.waitErr, s.logPath)
	}
	return s.waitErr
}

// loadTable prints the rows as they come: a table, or JSON lines.
type loadTable struct {
	w      io.Writer
	json   bool
	header bool
}

func newLoadTable(w io.Writer, asJSON bool) *loadTable { return &loadTable{w: w, json: asJSON} }

var loadColumns = []string{"calls", "setup p50/p99 ms", "server p99 ≤ ms", "key→prompt p50/p99 ms", "max gap p99/max ms", "calls gap>60ms", "jitter p99 ms", "cpu %/call",
	"db cpu %/call", "RSS KB/call", "heap KB/call", "lost answers", "failed calls"}

func (t *loadTable) row(r loadResult) error {
	if t.json {
		return json.NewEncoder(t.w).Encode(r)
	}
	opt := func(v *float64, prec int) string {
		if v == nil {
			return "-"
		}
		return strconv.FormatFloat(*v, 'f', prec, 64)
	}
	lost := "-"
	if r.Lost != nil {
		lost = fmt.Sprintf("%d of %d", *r.Lost, r.Expected)
	}
	cells := []string{strconv.Itoa(r.Calls), fmt.Sprintf("%.1f / %.1f", r.SetupP50, r.SetupP99), opt(r.ServerAnswerP99, 0),
		fmt.Sprintf("%.1f / %.1f", r.KeyP50, r.KeyP99), fmt.Sprintf("%.0f / %.0f", r.MaxGapP99, r.MaxGap), strconv.Itoa(r.GappedCalls), fmt.Sprintf("%.2f", r.JitterP99), opt(r.CPUPerCall, 3),
		opt(r.DBCPUPerCall, 3), opt(r.RSSPerCall, 0), opt(r.HeapPerCall, 0), lost, strconv.Itoa(r.Failed)}
	var b strings.Builder
	line := func(cs []string) {
		for i, c := range cs {
			pad := max(utf8.RuneCountInString(loadColumns[i]), 10) - utf8.RuneCountInString(c)
			b.WriteString(strings.Repeat(" ", max(pad, 0)+2))
			b.WriteString(c)
		}
		b.WriteByte('\n')
	}
	if !t.header {
		t.header = true
		fmt.Fprintf(&b, "Calls start %g a second, staggered; server figures over %.0f s with every call up (a call that ends is\n"+
			"replaced), per call = (peak - before) / calls. server p99: INVITE in to 200 out at the server (a bucket\n"+
			"bound of canvass_sip_answer_seconds). key→prompt: a respondent's last key to the next prompt's first\n"+
			"audio packet. max gap: p99 over calls, and the most, of each call's longest time between two packets heard\n"+
			"(read when the window closes); calls gap>60ms: how many heard one over 60 ms. Jitter: RFC 3550,\n"+
			"as received. lost answers: keyed but not stored, of all keyed.\n", r.Rate, r.Window)
		line(loadColumns)
	}
	line(cells)
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "    %s\n", e)
	}
	if _, err := io.WriteString(t.w, b.String()); err != nil {
		return err
	}
	if len(r.Soak) > 0 {
		fmt.Fprintf(t.w, "\nSoak: the server sampled through the window (%d calls kept up)\n", r.Calls)
		return writeSoak(t.w, r.Soak, r.Lost, r.Expected)
	}
	return nil
}

// rssWatch samples a server's resident memory until stopped, keeping the
// peak (it comes with the calls, not at the end of a run).
type rssWatch struct {
	peak atomic.Int64
	done chan struct{}
	wg   sync.WaitGroup
}

// watchRSS samples probe's RSS every period; a nil probe samples nothing.
func watchRSS(probe *serverProbe, every time.Duration) *rssWatch {
	w := &rssWatch{done: make(chan struct{})}
	if probe == nil {
		return w
	}
	w.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if v, err := probe.rss(); err == nil && v > w.peak.Load() {
				w.peak.Store(v)
			}
			select {
			case <-w.done:
				return
			case <-t.C:
			}
		}
	})
	return w
}

// stop ends the sampling and waits for it.
func (w *rssWatch) stop() {
	close(w.done)
	w.wg.Wait()
}
