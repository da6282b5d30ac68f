// Fixtures shared by the endpoint's tests: a real ivr.Engine over an
// in-memory store, prompts synthesized as tones, a running Server, and the
// sipuatest phone that calls it. The baresip tests use PostgreSQL instead
// (sqltest, started once for this test binary).

package sipua_test

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/ivrtest"
	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
	"github.com/canvass/canvass/testdata"
)

func TestMain(m *testing.M) { sqltest.Main(m) }

// newStore is an in-memory store holding the questionnaires files (paths
// in testdata).
func newStore(t testing.TB, files ...string) *ivrtest.Store {
	t.Helper()
	s := ivrtest.NewStore()
	for _, f := range files {
		src, err := fs.ReadFile(testdata.Questionnaires, f)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AddQuestionnaire(src); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// tonePrompts synthesizes every prompt as a 440 Hz tone whose length
// grows with the text (200 ms + 2 ms per character, at most 700 ms), so
// the phone can tell prompts apart from silence.
type tonePrompts struct {
	mu     sync.Mutex
	played []string // prompt ids, in order
}

func (p *tonePrompts) PCM(ctx context.Context, questionnaire, id, lang, text string) ([]int16, error) {
	p.mu.Lock()
	p.played = append(p.played, id)
	p.mu.Unlock()
	n := min(200+2*len(text), 700) * 8
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(4000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	return pcm, nil
}

func (p *tonePrompts) Played() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.played)
}

// dirRecordings writes recordings under a directory.
type dirRecordings string

func (d dirRecordings) RecordingPath(name string) (string, error) {
	return filepath.Join(string(d), "recordings", name+".wav"), nil
}

// fastIVR are keypad timeouts short enough for tests.
func fastIVR() ivr.Options {
	o := ivr.DefaultOptions()
	o.InitialTimeout, o.InterDigitTimeout, o.ScaleInterDigitTimeout = 1500*time.Millisecond, 700*time.Millisecond, 700*time.Millisecond
	return o
}

// env is a running endpoint and a phone to call it.
type env struct {
	t       *testing.T
	srv     *sipua.Server
	engine  *ivr.Engine
	store   *ivrtest.Store
	prompts *tonePrompts
	dir     string
	phone   *sipuatest.Phone
	cancel  context.CancelFunc
	stopped chan error
	once    sync.Once
}

// testOptions are endpoint options for a test: loopback, free ports for
// SIP and RTP.
func testOptions() sipua.Options {
	o := sipua.DefaultOptions()
	o.Addr = "127.0.0.1:0"
	o.RTPPorts = "0" // any free port: tests running at once never collide
	o.RTPTimeout = 5 * time.Second
	o.ShutdownGrace = 3 * time.Second
	return o
}

func testLog(t *testing.T) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("SIPUA_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level}))
}

func start(t *testing.T, opts sipua.Options, sessions func(*ivr.Engine) sipua.Sessions) *env {
	t.Helper()
	e := &env{t: t, store: newStore(t, "questionnaires/post-call.yaml", "questionnaires/customer-study.yaml"), prompts: &tonePrompts{}, dir: t.TempDir(), stopped: make(chan error, 1)}
	log := testLog(t)
	engine := ivr.New(fastIVR(), e.store, e.store, log, nil)
	var sess sipua.Sessions = engine
	if sessions != nil {
		sess = sessions(engine)
	}
	srv, err := sipua.New(opts, sess, e.prompts, dirRecordings(e.dir), log)
	if err != nil {
		t.Fatal(err)
	}
	e.srv, e.engine = srv, engine
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { e.stopped <- srv.Run(ctx) }()
	if e.phone, err = sipuatest.NewPhone(sipuatest.PhoneOptions{Log: log.With("side", "phone")}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.stop()
		e.phone.Close()
	})
	return e
}

// stop shuts the endpoint down and waits for Run to return.
func (e *env) stop() {
	e.once.Do(func() {
		e.cancel()
		select {
		case err := <-e.stopped:
			if err != nil {
				e.t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			e.t.Errorf("Run did not return after its context ended")
		}
	})
}

// uri is the endpoint's address for a request-URI user.
func (e *env) uri(user string, params ...string) string {
	u := fmt.Sprintf("sip:%s@%s", user, e.srv.Addr())
	for _, p := range params {
		u += ";" + p
	}
	return u
}

// dial calls the post-call survey in English.
func (e *env) dial(ctx context.Context, o sipuatest.DialOptions) *sipuatest.Call {
	e.t.Helper()
	if o.Headers == nil {
		o.Headers = map[string]string{"X-Canvass-Language": "en"}
	}
	c, err := e.phone.Dial(ctx, e.uri("post-call"), o)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(c.Close)
	return c
}

// hangUp hangs c up from the phone and returns its interview, once the
// endpoint has closed it.
func (e *env) hangUp(ctx context.Context, c *sipuatest.Call) survey.InterviewRecord {
	e.t.Helper()
	if err := c.Hangup(ctx); err != nil {
		e.t.Fatal(err)
	}
	return e.store.WaitFinished(e.t, 5*time.Second)
}

// respondent walks a call prompt by prompt.
type respondent struct {
	t    *testing.T
	ctx  context.Context
	call *sipuatest.Call
	last time.Time
}

func newRespondent(t *testing.T, ctx context.Context, c *sipuatest.Call) *respondent {
	return &respondent{t: t, ctx: ctx, call: c}
}

// prompt waits for the next prompt to start.
func (r *respondent) prompt() {
	r.t.Helper()
	o, err := r.call.WaitPrompt(r.ctx, r.last)
	if err != nil {
		r.t.Fatalf("waiting for a prompt: %v", err)
	}
	r.last = o
}

// answer waits for the next prompt and keys an answer during it.
func (r *respondent) answer(keys string) {
	r.t.Helper()
	r.prompt()
	if len(keys) > 1 {
		if err := r.call.SendKeys(r.ctx, keys[:len(keys)-1], 150*time.Millisecond); err != nil {
			r.t.Fatalf("keys %s: %v", keys, err)
		}
		time.Sleep(150 * time.Millisecond)
	}
	// The next prompt may start as soon as the last key begins: an
	// in-band key is detected within 30 ms of its start.
	r.last = time.Now()
	if _, err := r.call.SendKey(r.ctx, rune(keys[len(keys)-1])); err != nil {
		r.t.Fatalf("keys %s: %v", keys, err)
	}
}

func waitDone(t *testing.T, c *sipuatest.Call, within time.Duration) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(within):
		t.Fatalf("the call did not end within %s", within)
	}
}
