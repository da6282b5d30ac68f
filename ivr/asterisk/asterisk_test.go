package asterisk_test

// These tests drive a real ivr.Engine through the adapter against aritest,
// a stand-in Asterisk that sends events cloned from traffic captured on
// Asterisk 20.20.1 (testdata/ari), and check what a user would: the
// answers stored, how the interview ended, what the caller heard and what
// Asterisk was asked to do.

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/asterisk"
	"github.com/canvass/canvass/ivr/asterisk/aritest"
	"github.com/canvass/canvass/ivr/ivrtest"
	"github.com/canvass/canvass/survey"
	"github.com/canvass/canvass/testdata"
)

//go:embed testdata/ari/*.jsonl
var captures embed.FS

// templates are the captured events, one of each type.
func templates(t testing.TB) map[string]json.RawMessage {
	t.Helper()
	files, err := fs.Glob(captures, "testdata/ari/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("captures: %v %v", files, err)
	}
	var all [][]byte
	for _, f := range files {
		b, err := captures.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b)
	}
	tm, err := aritest.Templates(all...)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// newStore is an in-memory store holding the example post-call survey.
func newStore(t testing.TB) *ivrtest.Store {
	t.Helper()
	src, err := fs.ReadFile(testdata.Questionnaires, "questionnaires/post-call.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := ivrtest.NewStore()
	if err := s.AddQuestionnaire(src); err != nil {
		t.Fatal(err)
	}
	return s
}

// finished waits for the next interview to end.
func (h *harness) finished() survey.InterviewRecord {
	h.t.Helper()
	return h.store.WaitFinished(h.t, 15*time.Second)
}

// prompts names a file per prompt; in dir mode Asterisk would read it.
type prompts struct{}

func (prompts) File(ctx context.Context, questionnaire, id, lang, text string) (string, error) {
	if questionnaire == "" {
		questionnaire = "stock"
	}
	return filepath.Join("/var/lib/canvass/prompts", questionnaire, id, lang+".wav"), nil
}

// recordings keeps voice answers in a directory.
type recordings string

func (d recordings) RecordingPath(name string) (string, error) {
	return filepath.Join(string(d), name+".wav"), nil
}

// logs collects the adapter's log lines.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// harness is an adapter connected to a stand-in Asterisk.
type harness struct {
	t      *testing.T
	srv    *aritest.Server
	client *asterisk.Client
	engine *ivr.Engine
	store  *ivrtest.Store
	logs   *logs
	recDir string
	stop   func() // stops Run and waits for it
}

// engineOptions are short but valid keypad timings.
var engineOptions = ivr.Options{Attempts: 3, InitialTimeout: 500 * time.Millisecond,
	InterDigitTimeout: 500 * time.Millisecond, ScaleInterDigitTimeout: 500 * time.Millisecond,
	MaxRepeats: 2, MaxCallDuration: time.Minute}

func start(t *testing.T, change func(*asterisk.Options, *aritest.Server)) *harness {
	t.Helper()
	return startWith(t, change, nil)
}

// startWith is start with a gate deciding which transferred calls are
// surveyed.
func startWith(t *testing.T, change func(*asterisk.Options, *aritest.Server), gate asterisk.Gate) *harness {
	t.Helper()
	srv := aritest.New(templates(t))
	t.Cleanup(srv.Close)
	h := &harness{t: t, srv: srv, store: newStore(t), logs: &logs{}, recDir: t.TempDir()}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := asterisk.DefaultOptions()
	opts.URL, opts.Username, opts.Password, opts.App = srv.URL, srv.User, srv.Pass, srv.App
	opts.Heartbeat, opts.Backoff, opts.RequestTimeout, opts.ConnectTimeout = time.Second, 50*time.Millisecond, 2*time.Second, 2*time.Second
	if change != nil {
		change(&opts, srv)
	}
	engine := ivr.New(engineOptions, h.store, h.store, log, nil)
	c, err := asterisk.New(opts, engine, prompts{}, recordings(h.recDir), nil, log)
	if err != nil {
		t.Fatal(err)
	}
	h.client, h.engine = c, engine
	if gate != nil {
		c.SetGate(gate)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	h.stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
	t.Cleanup(func() {
		h.stop()
		if t.Failed() {
			t.Logf("adapter log:\n%s", h.logs)
			for _, r := range srv.Requests() {
				t.Logf("ARI %s", r)
			}
		}
	})
	for deadline := time.Now().Add(10 * time.Second); !c.Connected(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the adapter did not connect")
		}
	}
	// The server side too: an event sent before it has the socket is lost
	// (the channel would sit unannounced, and be hung up as an orphan).
	if err := srv.AwaitConnections(h.ctx(), 1); err != nil {
		t.Fatal(err)
	}
	return h
}

// broken reports an interview that ended before its end: partial or
// break-off by the questionnaire's threshold.
func broken(iv survey.InterviewRecord) bool {
	return iv.Status == survey.StatusPartial || iv.Status == survey.StatusBreakoff
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// await waits for the n-th request matching method, a path suffix and a
// media substring ("" matches any).
func (h *harness) await(n int, method, pathSuffix, media string) aritest.Request {
	h.t.Helper()
	r, err := h.srv.Await(h.ctx(), n, func(r aritest.Request) bool {
		return r.Method == method && strings.HasSuffix(r.Path, pathSuffix) && strings.Contains(r.Query.Get("media"), media)
	})
	if err != nil {
		h.t.Fatalf("%s %s %s: %v", method, pathSuffix, media, err)
	}
	return r
}

// awaitLog waits for the adapter to log a line containing s.
func (h *harness) awaitLog(s string) {
	h.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(h.logs.String(), s); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			h.t.Fatalf("the adapter never logged %q", s)
		}
	}
}

// prompt waits for the n-th play of a prompt on channel id.
func (h *harness) prompt(id string, n int, prompt string) aritest.Request {
	h.t.Helper()
	return h.await(n, "POST", "/channels/"+id+"/play", "/"+prompt+"/")
}

func (h *harness) saw(method, path string, status int) bool {
	for _, r := range h.srv.Requests() {
		if r.Method == method && r.Path == path && (status == 0 || r.Status == status) {
			return true
		}
	}
	return false
}

func value(t *testing.T, iv survey.InterviewRecord, q string) any {
	t.Helper()
	a, ok := ivrtest.Answers(iv)[q]
	if !ok {
		t.Fatalf("no answer to %s; answers %v", q, iv.Answers)
	}
	return a.Value
}

func TestCompleteNPSSurvey(t *testing.T) {
	h := start(t, nil)
	id := h.srv.Call("+33612345678", "questionnaire=post-call", "agent=SIP/1001", "queue=support", "lang=en", "crm=4711")
	h.prompt(id, 1, "intro")
	h.prompt(id, 1, "nps")
	h.srv.Press(id, "9#")
	h.prompt(id, 1, "csat")
	h.srv.Press(id, "5")
	h.prompt(id, 1, "ces")
	h.srv.Press(id, "7")
	h.prompt(id, 1, "resolved")
	h.srv.Press(id, "1")
	iv := h.finished()
	if iv.Status != survey.StatusComplete || iv.EndCause != "completed" {
		t.Fatalf("interview ended %s (%s)", iv.Status, iv.EndCause)
	}
	for q, want := range map[string]any{"nps": int64(9), "csat": int64(5), "ces": int64(7), "resolved": true} {
		if got := value(t, iv, q); got != want {
			t.Errorf("%s = %v, want %v", q, got, want)
		}
	}
	want := survey.Context{Agent: "SIP/1001", Queue: "support", CallID: id, CallerNumber: "+33612345678", Extra: map[string]string{"crm": "4711"}}
	if got := iv.Context; got.Agent != want.Agent || got.Queue != want.Queue || got.CallID != want.CallID ||
		got.CallerNumber != want.CallerNumber || got.Extra["crm"] != "4711" || iv.Language != "en" || iv.Mode != survey.ModeIVR {
		t.Errorf("interview record %+v, want context %+v in en over ivr", iv, want)
	}
	h.await(1, "DELETE", "/channels/"+id, "") // the engine hangs up after thanks
	reqs := h.srv.Requests()
	answered, played := -1, -1
	for i, r := range reqs {
		if r.Path == "/channels/"+id+"/answer" && answered < 0 {
			answered = i
		}
		if r.Path == "/channels/"+id+"/play" && played < 0 {
			played = i
			if !strings.HasPrefix(r.Query.Get("media"), "sound:/var/lib/canvass/prompts/post-call/intro/en") || strings.HasSuffix(r.Query.Get("media"), ".wav") {
				t.Errorf("dir mode must play sound:/abs/path without the extension, got %q", r.Query.Get("media"))
			}
			if !strings.HasPrefix(r.Query.Get("playbackId"), id) {
				t.Errorf("playback id %q is not ours", r.Query.Get("playbackId"))
			}
		}
	}
	if answered < 0 || played < answered {
		t.Errorf("the channel must be answered before the first prompt (answer #%d, play #%d)", answered, played)
	}
}

func TestBargeIn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int // what DELETE /playbacks answers
	}{{"stops the prompt", 204}, {"tolerates a prompt that already ended (404)", 404}} {
		t.Run(tc.name, func(t *testing.T) {
			// Prompts long enough that a key always interrupts one.
			h := start(t, func(o *asterisk.Options, s *aritest.Server) { s.PromptLen = 2 * time.Second })
			id := h.srv.Call("tester", "questionnaire=post-call", "lang=en")
			pb := h.prompt(id, 1, "nps").Query.Get("playbackId")
			if tc.status == 404 {
				h.srv.Fail("DELETE", "/playbacks/", 404, 1)
			}
			h.srv.Press(id, "8#")
			del := h.await(1, "DELETE", "/playbacks/"+pb, "")
			if del.Status != tc.status {
				t.Errorf("DELETE /playbacks answered %d, want %d", del.Status, tc.status)
			}
			h.prompt(id, 1, "csat")
			h.srv.HangUp(id)
			iv := h.finished()
			if got := value(t, iv, "nps"); got != int64(8) || !ivrtest.Answers(iv)["nps"].Paradata.BargeIn {
				t.Errorf("nps = %v, barge-in %v; want 8 by barge-in", got, ivrtest.Answers(iv)["nps"].Paradata.BargeIn)
			}
		})
	}
}

func TestNoInputReprompt(t *testing.T) {
	h := start(t, nil)
	id := h.srv.Call("tester", "questionnaire=post-call", "lang=en")
	h.prompt(id, 1, "nps")
	h.prompt(id, 1, "nps.no_input") // silence: the initial timeout ran out
	h.prompt(id, 2, "nps")
	h.srv.Press(id, "10")
	h.prompt(id, 1, "csat")
	h.srv.HangUp(id)
	iv := h.finished()
	nps := ivrtest.Answers(iv)["nps"]
	if nps.Value != int64(10) || nps.Paradata.NoInput != 1 {
		t.Errorf("nps %v with %d no-inputs, want 10 after 1", nps.Value, nps.Paradata.NoInput)
	}
}

func TestRecording(t *testing.T) {
	h := start(t, nil)
	id := h.srv.Call("tester", "questionnaire=post-call", "lang=en")
	h.prompt(id, 1, "nps")
	h.srv.Press(id, "3#") // a detractor is asked why
	h.prompt(id, 1, "why")
	rec := h.await(1, "POST", "/channels/"+id+"/record", "")
	name := rec.Query.Get("name")
	if q := rec.Query; q.Get("format") != "wav" || q.Get("terminateOn") != "none" || q.Get("maxDurationSeconds") != "300" {
		t.Errorf("record request %s: the engine, not Asterisk, must decide when it ends", rec)
	}
	time.Sleep(1200 * time.Millisecond) // the caller speaks
	h.srv.Press(id, "#")
	h.await(1, "POST", "/recordings/live/"+name+"/stop", "")
	h.await(1, "GET", "/recordings/stored/"+name+"/file", "")
	h.prompt(id, 1, "csat")
	h.srv.HangUp(id)
	iv := h.finished()
	why := ivrtest.Answers(iv)["why"]
	if why.Value != name {
		t.Fatalf("why = %v, want the recording %q", why.Value, name)
	}
	if ms := why.Paradata.RecordingMS; ms < 1000 || ms > 5000 {
		t.Errorf("recording lasted %d ms, want about 1200", ms)
	}
	data, err := os.ReadFile(filepath.Join(h.recDir, name+".wav"))
	if err != nil || !bytes.HasPrefix(data, []byte("RIFF")) || len(data) < 16000 {
		t.Errorf("recording file: %d bytes, %v", len(data), err)
	}
	if _, still := h.srv.Stored(name); still || !h.saw("DELETE", "/recordings/stored/"+name, 204) {
		t.Errorf("Asterisk's copy must be deleted once kept")
	}
}

func TestHangupMidSurvey(t *testing.T) {
	h := start(t, nil)
	id := h.srv.Call("tester", "questionnaire=post-call", "lang=en")
	h.prompt(id, 1, "nps")
	h.srv.Press(id, "9#")
	h.prompt(id, 1, "csat")
	h.srv.HangUp(id)
	iv := h.finished()
	if !broken(iv) || iv.EndCause != "hangup" || iv.LastQuestion != "csat" {
		t.Errorf("interview ended %s (%s) at %s, want partial or break-off (hangup) at csat", iv.Status, iv.EndCause, iv.LastQuestion)
	}
	if value(t, iv, "nps") != int64(9) {
		t.Errorf("the nps answer must be kept")
	}
	if h.saw("DELETE", "/channels/"+id, 0) {
		t.Errorf("the caller hung up: no need to hang up the channel")
	}
}

// The cause of a hangup is ChannelDestroyed's Q.850 cause, never the
// soft-hangup flag or the missing cause of the ChannelHangupRequest before
// it: in the log line of an inbound call and in an originated call's end.
func TestHangupCause(t *testing.T) {
	for _, tc := range []struct {
		name   string
		hangUp func(s *aritest.Server, id string)
		cause  int
		text   string
	}{
		{"request without a cause", func(s *aritest.Server, id string) { s.HangUp(id) }, 16, "Normal Clearing"},
		{"soft request with a flag", func(s *aritest.Server, id string) { s.HangUpCause(id, 127, "Interworking, unspecified") }, 127, "Interworking, unspecified"},
	} {
		t.Run("inbound, "+tc.name, func(t *testing.T) {
			h := start(t, nil)
			id := h.srv.Call("tester", "questionnaire=post-call", "lang=en")
			h.prompt(id, 1, "nps")
			tc.hangUp(h.srv, id)
			h.finished()
			want := fmt.Sprintf("q850_cause=%d", tc.cause)
			h.awaitLog(want)
			for _, line := range strings.Split(h.logs.String(), "\n") {
				if strings.Contains(line, "q850_cause=") && !strings.Contains(line, want) {
					t.Errorf("logged another cause: %s", line)
				}
			}
		})
		t.Run("dialed, "+tc.name, func(t *testing.T) {
			h := start(t, func(o *asterisk.Options, s *aritest.Server) {
				s.OnOriginate = func(id string) { s.Answer(id) }
			})
			call, res, err := h.client.Dial(h.ctx(), ivr.DialRequest{To: "PJSIP/+33612345678@trunk"})
			if err != nil {
				t.Fatal(err)
			}
			tc.hangUp(h.srv, res.CallID)
			<-call.Done()
			end, err := call.Close(h.ctx())
			if err != nil || end.Q850Cause != tc.cause || end.Reason != tc.text {
				t.Errorf("call end %+v %v, want cause %d %q", end, err, tc.cause, tc.text)
			}
		})
	}
}

func TestHangupDuringRecordingKeepsIt(t *testing.T) {
	h := start(t, nil)
	id := h.srv.Call("tester", "questionnaire=post-call", "lang=en")
	h.prompt(id, 1, "nps")
	h.srv.Press(id, "2#")
	name := h.await(1, "POST", "/channels/"+id+"/record", "").Query.Get("name")
	time.Sleep(500 * time.Millisecond)
	h.srv.HangUp(id) // ChannelHangupRequest, RecordingFinished, StasisEnd, ChannelDestroyed
	iv := h.finished()
	if !broken(iv) || iv.EndCause != "hangup" || ivrtest.Answers(iv)["why"].Value != name {
		t.Errorf("interview %s (%s), why = %v; want the partial recording %s kept", iv.Status, iv.EndCause, ivrtest.Answers(iv)["why"].Value, name)
	}
	if _, err := os.Stat(filepath.Join(h.recDir, name+".wav")); err != nil {
		t.Errorf("recording file: %v", err)
	}
}

// Survey dials through the adapter and runs the survey on the answered
// call; unanswered calls come back with their outcome and Q.850 cause.
func TestSurveyDial(t *testing.T) {
	info := ivr.CallInfo{Questionnaire: "post-call", Language: "en", Context: survey.Context{CallID: "crm,42"}}
	req := ivr.DialRequest{To: "SIP/nobody@127.0.0.1:5999", CallerID: `"Survey" <100>`, RingTimeout: 5 * time.Second,
		Variables: map[string]string{"CAMPAIGN": "q3"}, CaseID: 12, AttemptID: 34}
	for _, tc := range []struct {
		name    string
		fate    func(s *aritest.Server, id string)
		outcome survey.DialOutcome
		cause   int
		rang    bool
	}{
		{"busy", func(s *aritest.Server, id string) { s.Unanswered(id, 17, "User busy") }, survey.DialBusy, 17, false},
		{"no answer", func(s *aritest.Server, id string) {
			s.Ring(id)
			s.Unanswered(id, 19, "User alerting, no answer")
		}, survey.DialNoAnswer, 19, true},
		{"rejected", func(s *aritest.Server, id string) { s.Unanswered(id, 21, "Call Rejected") }, survey.DialRejected, 21, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, func(o *asterisk.Options, s *aritest.Server) {
				s.OnOriginate = func(id string) { tc.fate(s, id) }
			})
			res, status, err := h.engine.Survey(h.ctx(), h.client, req, info)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tc.outcome || res.Q850Cause != tc.cause || res.Rang != tc.rang || res.CallID == "" || status != "" {
				t.Errorf("result %+v (%q), want %s cause %d rang %v", res, status, tc.outcome, tc.cause, tc.rang)
			}
			got := h.await(1, "POST", "/channels", "")
			q := got.Query
			if q.Get("app") != "canvass" || q.Get("channelId") != res.CallID || q.Get("timeout") != "5" ||
				q.Get("callerId") != `"Survey" <100>` || q.Get("endpoint") != "SIP/nobody@127.0.0.1:5999" ||
				!strings.Contains(q.Get("appArgs"), "canvass_dial="+res.CallID) || !strings.Contains(q.Get("appArgs"), "case=12") ||
				!strings.Contains(got.Body, `"CAMPAIGN":"q3"`) {
				t.Errorf("originate request %s body %s", got, got.Body)
			}
			if h.store.Count() != 0 {
				t.Errorf("an unanswered call must start no interview")
			}
		})
	}
	t.Run("answered", func(t *testing.T) {
		var h *harness
		h = start(t, func(o *asterisk.Options, s *aritest.Server) {
			s.OnOriginate = func(id string) {
				s.Ring(id)
				s.Answer(id)
			}
		})
		type out struct {
			res    ivr.DialResult
			status survey.Status
			err    error
		}
		done := make(chan out, 1)
		go func() {
			r := req
			r.To = "PJSIP/+33612345678@trunk"
			res, status, err := h.engine.Survey(context.Background(), h.client, r, info)
			done <- out{res, status, err}
		}()
		id := h.await(1, "POST", "/channels", "").Query.Get("channelId")
		h.prompt(id, 1, "nps")
		h.srv.Press(id, "10")
		for _, p := range []struct{ prompt, keys string }{{"csat", "4"}, {"ces", "6"}, {"resolved", "1"}} {
			h.prompt(id, 1, p.prompt)
			h.srv.Press(id, p.keys)
		}
		iv := h.finished()
		o := <-done
		if o.err != nil || o.res.Outcome != survey.DialAnswered || o.status != survey.StatusComplete || !o.res.Rang || o.res.TalkTime <= 0 {
			t.Errorf("result %+v %s %v", o.res, o.status, o.err)
		}
		if iv.Status != survey.StatusComplete || value(t, iv, "nps") != int64(10) || iv.Context.CallID != "crm,42" ||
			iv.CaseID != 12 || iv.AttemptID != 34 {
			t.Errorf("interview %s, nps %v, context %+v, case %d attempt %d", iv.Status, ivrtest.Answers(iv)["nps"].Value, iv.Context,
				iv.CaseID, iv.AttemptID)
		}
		if h.saw("POST", "/channels/"+id+"/answer", 0) {
			t.Errorf("an originated channel is already answered")
		}
	})
	// Dial returns the answered call and runs nothing on it: no prompt
	// plays until the caller does something with it, and Close hangs it
	// up and reports the talk time.
	t.Run("dial returns the answered call", func(t *testing.T) {
		h := start(t, func(o *asterisk.Options, s *aritest.Server) {
			s.OnOriginate = func(id string) { s.Answer(id) }
		})
		call, res, err := h.client.Dial(h.ctx(), ivr.DialRequest{To: "PJSIP/+33612345678@trunk"})
		if err != nil || call == nil || res.Outcome != survey.DialAnswered {
			t.Fatalf("dial: %v %+v %v", call, res, err)
		}
		if h.saw("POST", "/channels/"+res.CallID+"/play", 0) {
			t.Errorf("Dial played something on the call")
		}
		end, err := call.Close(h.ctx())
		if err != nil || end.Talk <= 0 {
			t.Errorf("close: %+v %v", end, err)
		}
		h.await(1, "DELETE", "/channels/"+res.CallID, "")
		if _, _, err := h.client.Dial(h.ctx(), ivr.DialRequest{To: "PJSIP/1@trunk", Headers: map[string]string{"X-A": "1"}}); survey.ErrorCodeOf(err) != survey.EInvalid {
			t.Errorf("dial with SIP headers: %v, want EInvalid", err)
		}
		h.stop() // Run waits for every call it took: Close let go of this one
	})
	// AMD runs in the dialplan: the answered channel is sent to
	// ari.amd_context, and its verdict comes back in the Stasis arguments
	// of its return to the application; a call that hangs up meanwhile is
	// answered and already over, verdict notsure (cause HANGUP), as with
	// the SIP endpoint.
	t.Run("AMD through the dialplan", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			fate     func(s *aritest.Server, id string, args []string)
			verdict  ivr.AMDVerdict
			cause    string
			finished bool
		}{
			{"machine", func(s *aritest.Server, id string, args []string) {
				s.Return(id, append(args, "amd=MACHINE", "amd_cause=MAXWORDS-4-3")...)
			}, ivr.AMDMachine, "MAXWORDS-4-3", false},
			{"human", func(s *aritest.Server, id string, args []string) {
				s.Return(id, append(args, "amd=HUMAN", "amd_cause=HUMAN-800-800")...)
			}, ivr.AMDHuman, "HUMAN-800-800", false},
			{"hung up during detection", func(s *aritest.Server, id string, args []string) { s.HangUp(id) }, ivr.AMDNotSure, "HANGUP", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var args []string
				var mu sync.Mutex
				h := start(t, func(o *asterisk.Options, s *aritest.Server) {
					o.AMDContext = "canvass-amd"
					s.OnOriginate = func(id string) { s.Answer(id) }
					s.OnContinue = func(id, context string) {
						mu.Lock()
						a := args
						mu.Unlock()
						if context == "canvass-amd" {
							tc.fate(s, id, a)
						}
					}
				})
				go func() {
					got := h.await(1, "POST", "/channels", "")
					mu.Lock()
					args = strings.Split(got.Query.Get("appArgs"), ",")
					mu.Unlock()
				}()
				call, res, err := h.client.Dial(h.ctx(), ivr.DialRequest{To: "PJSIP/+33612345678@trunk", AMD: true,
					Variables: map[string]string{"CAMPAIGN": "q3"}})
				if err != nil || call == nil || res.Outcome != survey.DialAnswered {
					t.Fatalf("dial: %v %+v %v", call, res, err)
				}
				if res.AMD != tc.verdict || res.AMDCause != tc.cause || res.AMDTime <= 0 {
					t.Errorf("AMD %q %q after %s, want %q %q", res.AMD, res.AMDCause, res.AMDTime, tc.verdict, tc.cause)
				}
				org := h.await(1, "POST", "/channels", "")
				if !strings.Contains(org.Body, `"CANVASS_APP":"canvass"`) || !strings.Contains(org.Body, `"CANVASS_ARGS":"canvass_dial=`+res.CallID) ||
					!strings.Contains(org.Body, `"CAMPAIGN":"q3"`) {
					t.Errorf("originate body %s: want the variables the AMD context returns with, and the caller's", org.Body)
				}
				cont := h.await(1, "POST", "/channels/"+res.CallID+"/continue", "")
				if cont.Query.Get("context") != "canvass-amd" || cont.Query.Get("extension") != "s" {
					t.Errorf("continue %s", cont)
				}
				if !h.saw("POST", "/applications/canvass/subscription", 0) {
					t.Errorf("the client must follow the channel while it is in the dialplan")
				}
				select {
				case <-call.Done():
					if !tc.finished {
						t.Errorf("the call is over")
					}
				default:
					if tc.finished {
						t.Errorf("a call that hung up during detection must be over")
					}
				}
				if _, err := call.Close(h.ctx()); err != nil {
					t.Errorf("close: %v", err)
				}
				h.stop()
			})
		}
		t.Run("refused without a context", func(t *testing.T) {
			h := start(t, nil)
			_, _, err := h.client.Dial(h.ctx(), ivr.DialRequest{To: "PJSIP/1@trunk", AMD: true})
			if survey.ErrorCodeOf(err) != survey.EInvalid || !strings.Contains(err.Error(), "amd_context") {
				t.Errorf("dial with AMD and no ari.amd_context: %v, want EInvalid naming amd_context", err)
			}
		})
	})
	// The dialer gives up just as the callee answers: the StasisStart
	// comes while the hangup is on its way. The call is hung up, nobody
	// is surveyed, and shutdown does not wait for a call nobody runs.
	t.Run("cancelled as the callee answers", func(t *testing.T) {
		h := start(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, _, err := h.engine.Survey(ctx, h.client, ivr.DialRequest{To: "PJSIP/+33612345678@trunk"}, info)
			done <- err
		}()
		id := h.await(1, "POST", "/channels", "").Query.Get("channelId")
		h.awaitLog("msg=originated ") // Dial follows the ringing channel
		h.srv.Delay("DELETE", "/channels/"+id, 500*time.Millisecond, 1)
		cancel()
		h.await(1, "DELETE", "/channels/"+id, "")
		h.srv.Answer(id)
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("survey: %v, want context.Canceled", err)
		}
		h.stop() // Run waits for every call it took
		if h.store.Count() != 0 {
			t.Errorf("a cancelled dial must start no interview")
		}
	})
	// The dialer gives up while POST /channels is in flight: Asterisk
	// created the channel all the same. It is hung up before the callee
	// can answer into a survey nobody asked for any more.
	t.Run("cancelled while Asterisk creates the channel", func(t *testing.T) {
		answered := make(chan struct{})
		h := start(t, func(o *asterisk.Options, s *aritest.Server) {
			s.Delay("POST", "/channels", 500*time.Millisecond, 1)
			s.OnOriginate = func(id string) {
				s.Answer(id) // nothing, once the channel is gone
				close(answered)
			}
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, _, err := h.engine.Survey(ctx, h.client, ivr.DialRequest{To: "PJSIP/+33612345678@trunk"}, info)
			done <- err
		}()
		id := h.await(1, "POST", "/channels", "").Query.Get("channelId")
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("survey: %v, want context.Canceled", err)
		}
		if del := h.await(1, "DELETE", "/channels/"+id, ""); del.Status != http.StatusNoContent {
			t.Errorf("hang up of the channel Asterisk made: %s", del)
		}
		<-answered
		h.stop()
		if h.store.Count() != 0 {
			t.Errorf("a cancelled dial must start no interview")
		}
	})
}

func TestWebSocketDropMidCall(t *testing.T) {
	h := start(t, func(o *asterisk.Options, s *aritest.Server) { o.Backoff = 700 * time.Millisecond })
	gone := h.srv.Call("tester", "questionnaire=post-call", "lang=en", "call_id=gone")
	live := h.srv.Call("tester", "questionnaire=post-call", "lang=en", "call_id=live")
	h.prompt(gone, 1, "nps")
	h.prompt(live, 1, "nps")
	h.srv.Press(live, "9#")
	pb := h.prompt(live, 1, "csat").Query.Get("playbackId")
	h.srv.Drop()
	// While the socket is down: one caller hangs up, the other's prompt
	// ends; Asterisk sends the events to nobody.
	h.srv.HangUp(gone)
	if err := h.srv.AwaitConnections(h.ctx(), 2); err != nil {
		t.Fatal(err)
	}
	if h.srv.Lost() == 0 {
		t.Fatalf("the test needs events lost while disconnected")
	}
	h.await(1, "GET", "/channels", "")
	if !h.saw("GET", "/playbacks/"+pb, 404) {
		h.await(1, "GET", "/playbacks/"+pb, "")
	}
	first := h.finished()
	if first.Context.CallID != "gone" || !broken(first) || first.EndCause != "hangup" {
		t.Fatalf("the call gone during the outage ended %s (%s), context %+v", first.Status, first.EndCause, first.Context)
	}
	// The live call goes on at csat: its prompt ended unheard, the gather
	// timed out, the question is asked again.
	h.prompt(live, 2, "csat")
	h.srv.Press(live, "5")
	h.prompt(live, 1, "ces")
	h.srv.Press(live, "7")
	h.prompt(live, 1, "resolved")
	h.srv.Press(live, "1")
	iv := h.finished()
	if iv.Status != survey.StatusComplete || value(t, iv, "nps") != int64(9) || value(t, iv, "csat") != int64(5) {
		t.Errorf("the live call ended %s with %v", iv.Status, iv.Answers)
	}
}

func TestDeadSocketIsDetected(t *testing.T) {
	h := start(t, func(o *asterisk.Options, s *aritest.Server) { o.Heartbeat = 200 * time.Millisecond })
	h.srv.Mute(true) // the socket stays open but nothing arrives, not even heartbeats
	if err := h.srv.AwaitConnections(h.ctx(), 2); err != nil {
		t.Fatal(err)
	}
	h.srv.Mute(false)
	h.await(1, "GET", "/channels", "") // reconciled after reconnecting
	if !strings.Contains(h.logs.String(), "i/o timeout") {
		t.Errorf("the dead socket should be given up for its silence")
	}
}

func TestUnknownEventAndMalformedFrameMidCall(t *testing.T) {
	h := start(t, nil)
	id := h.srv.Call("tester", "questionnaire=post-call", "lang=en")
	h.prompt(id, 1, "nps")
	for _, frame := range []string{
		`{"type":"ChannelToneDetected","application":"canvass","timestamp":"2026-11-22T19:18:58.558+0000","channel":{"id":"` + id + `"}}`,
		`{"type":"ChannelDtmfReceived","digit":"5"`,
		`not json at all`,
		`{"type":"PlaybackFinished","playback":"not an object"}`,
		`{"type":"ChannelDtmfReceived","digit":"F","channel":{"id":"` + id + `"}}`,
		`{"application":"canvass"}`,
	} {
		h.srv.SendRaw(frame)
	}
	h.srv.Press(id, "9#")
	for _, p := range []struct{ prompt, keys string }{{"csat", "5"}, {"ces", "7"}, {"resolved", "1"}} {
		h.prompt(id, 1, p.prompt)
		h.srv.Press(id, p.keys)
	}
	iv := h.finished()
	if iv.Status != survey.StatusComplete || value(t, iv, "nps") != int64(9) {
		t.Errorf("interview %s, nps %v", iv.Status, ivrtest.Answers(iv)["nps"].Value)
	}
	log := h.logs.String()
	for _, want := range []string{"type=ChannelToneDetected", "malformed ARI frame", "malformed ARI PlaybackFinished event"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func TestARIErrors(t *testing.T) {
	t.Run("500 on a prompt: apology, clean hangup, answers kept", func(t *testing.T) {
		h := start(t, nil)
		id := h.srv.Call("tester", "questionnaire=post-call", "lang=en")
		h.prompt(id, 1, "nps")
		h.srv.Fail("POST", "/channels/"+id+"/play", 500, 1) // the csat prompt
		h.srv.Press(id, "9#")
		iv := h.finished()
		if !broken(iv) || iv.EndCause != "error" || value(t, iv, "nps") != int64(9) {
			t.Errorf("interview %s (%s) %v", iv.Status, iv.EndCause, iv.Answers)
		}
		apology := h.await(1, "POST", "/channels/"+id+"/play", "sound:im-sorry")
		h.await(1, "DELETE", "/channels/"+id, "")
		if apology.Status != 201 {
			t.Errorf("apology %s", apology)
		}
		if log := h.logs.String(); !strings.Contains(log, "500 Internal Server Error") || !strings.Contains(log, "apology") {
			t.Errorf("no clear log line for the 500:\n%s", log)
		}
	})
	t.Run("401: nothing stored, hangup attempted, credentials named", func(t *testing.T) {
		h := start(t, nil)
		h.srv.Fail("POST", "/channels/", 401, 10) // answer and every play
		id := h.srv.Call("tester", "questionnaire=post-call", "lang=en")
		h.await(1, "DELETE", "/channels/"+id, "")
		if h.store.Count() != 0 {
			t.Errorf("no interview may start on a channel that could not be answered")
		}
		if log := h.logs.String(); !strings.Contains(log, "401 Unauthorized") || !strings.Contains(log, "check ari.username") {
			t.Errorf("no clear log line for the 401:\n%s", log)
		}
	})
	t.Run("unknown questionnaire: apology and hangup", func(t *testing.T) {
		h := start(t, nil)
		id := h.srv.Call("tester", "questionnaire=nope", "lang=en")
		h.await(1, "POST", "/channels/"+id+"/answer", "")
		h.await(1, "POST", "/channels/"+id+"/play", "sound:im-sorry")
		h.await(1, "DELETE", "/channels/"+id, "")
		if h.store.Count() != 0 {
			t.Errorf("an unknown questionnaire starts no interview")
		}
		if !strings.Contains(h.logs.String(), "unknown questionnaire") {
			t.Errorf("log:\n%s", h.logs)
		}
	})
	t.Run("no arguments: apology and hangup", func(t *testing.T) {
		h := start(t, nil)
		id := h.srv.Call("tester")
		h.await(1, "POST", "/channels/"+id+"/play", "sound:im-sorry")
		h.await(1, "DELETE", "/channels/"+id, "")
	})
}

func TestSampling(t *testing.T) {
	h := start(t, func(o *asterisk.Options, s *aritest.Server) { o.SampleShare = 0 })
	id := h.srv.Call("tester", "questionnaire=post-call", "lang=en")
	h.await(1, "POST", "/channels/"+id+"/continue", "")
	if h.saw("POST", "/channels/"+id+"/answer", 0) || h.store.Count() != 0 {
		t.Errorf("a call not drawn must go back to the dialplan untouched")
	}
}

// gateFunc is a Gate.
type gateFunc func(ivr.CallInfo) (asterisk.Admission, error)

func (g gateFunc) Admit(_ context.Context, info ivr.CallInfo) (asterisk.Admission, error) {
	return g(info)
}

// The request rules' gate decides after ari.sample_share: a call it does
// not admit goes back to the dialplan untouched; one it admits, or when it
// fails, is surveyed. It sees the call's context.
func TestGate(t *testing.T) {
	var seen []ivr.CallInfo
	var mu sync.Mutex
	for _, tc := range []struct {
		name   string
		ok     bool
		err    error
		survey bool
	}{{"not admitted", false, nil, false}, {"admitted", true, nil, true}, {"gate fails", false, errors.New("database down"), true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := startWith(t, nil, gateFunc(func(info ivr.CallInfo) (asterisk.Admission, error) {
				mu.Lock()
				seen = append(seen, info)
				mu.Unlock()
				return asterisk.Admission{Surveyed: tc.ok, Why: "fatigue"}, tc.err
			}))
			id := h.srv.Call("tester", "questionnaire=post-call", "lang=en", "touchpoint=billing", "customer_id=C-9")
			if tc.survey {
				h.prompt(id, 1, "nps")
				return
			}
			h.await(1, "POST", "/channels/"+id+"/continue", "")
			if h.saw("POST", "/channels/"+id+"/answer", 0) || h.store.Count() != 0 {
				t.Errorf("a call the gate did not admit must go back to the dialplan untouched")
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || seen[0].Context.Touchpoint != "billing" || seen[0].Context.CustomerID != "C-9" || seen[0].Context.CallerNumber == "" {
		t.Errorf("the gate saw %+v", seen)
	}
}

func TestShutdownClosesInterviews(t *testing.T) {
	h := start(t, nil)
	id := h.srv.Call("tester", "questionnaire=post-call", "lang=en")
	h.prompt(id, 1, "nps")
	h.srv.Press(id, "9#")
	h.prompt(id, 1, "csat")
	h.stop() // Run returns only once the call has closed its interview
	iv, ok := h.store.Interview(1)
	if !ok || iv.Status == survey.StatusInProgress {
		t.Fatal("shutdown left the interview open")
	}
	if !broken(iv) || iv.EndCause != "shutdown" || ivrtest.Answers(iv)["nps"].Value != int64(9) {
		t.Errorf("interview %s (%s) %v", iv.Status, iv.EndCause, iv.Answers)
	}
	h.await(1, "DELETE", "/channels/"+id, "")
}

// After a crash, the callers the dead process was serving sit in the
// application in silence. On its first connection the new process hangs up
// those of its application, and leaves other applications' channels and
// the calls that are its own.
func TestOrphansAreHungUp(t *testing.T) {
	t.Parallel()
	var left, theirs string
	h := start(t, func(_ *asterisk.Options, srv *aritest.Server) {
		left = srv.Orphan(srv.App, "200", "questionnaire=post-call")
		theirs = srv.Orphan("other-app", "201", "questionnaire=post-call")
	})
	live := h.srv.Call("202", "questionnaire=post-call", "lang=en")
	h.prompt(live, 1, "nps")
	h.await(1, "DELETE", "/channels/"+left, "")
	h.awaitLog("msg=\"done with the callers a previous Canvass process left\"") // the sweep is over
	for _, id := range []string{theirs, live} {
		if h.saw("DELETE", "/channels/"+id, 0) {
			t.Errorf("channel %s was hung up", id)
		}
	}
	if !strings.Contains(h.logs.String(), "previous Canvass process left") {
		t.Error("no log line says why the caller was hung up")
	}
}

// A transferred call waits for the gate only: preparing its session (the
// questionnaire, from the database when the gate did not name its version)
// runs beside the answer. A lookup held until the answer has been sent
// proves it; once released the survey goes on.
func TestAnswerDoesNotWaitForTheQuestionnaire(t *testing.T) {
	h := startWith(t, nil, gateFunc(func(ivr.CallInfo) (asterisk.Admission, error) { return asterisk.Admission{Surveyed: true}, nil }))
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // a call stuck in the lookup would hold up the harness's stop
	looked := make(chan struct{}, 1)
	h.store.OnLookup(func(ctx context.Context) error {
		looked <- struct{}{}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	id := h.srv.Call("tester", "questionnaire=post-call", "lang=en")
	h.await(1, "POST", "/channels/"+id+"/answer", "")
	select {
	case <-looked:
	case <-h.ctx().Done():
		t.Fatal("the questionnaire was never looked up")
	}
	if h.saw("POST", "/channels/"+id+"/play", 0) {
		t.Fatal("a prompt played before the session was prepared")
	}
	free()
	h.prompt(id, 1, "nps")
}

// A call the gate refuses goes back to the dialplan unanswered, and its
// questionnaire is not looked up.
func TestRefusedCallIsNotPrepared(t *testing.T) {
	h := startWith(t, nil, gateFunc(func(info ivr.CallInfo) (asterisk.Admission, error) {
		return asterisk.Admission{Surveyed: info.Context.Touchpoint != "refused", Why: "fatigue"}, nil
	}))
	var lookups atomic.Int32
	h.store.OnLookup(func(context.Context) error { lookups.Add(1); return nil })
	id := h.srv.Call("tester", "questionnaire=post-call", "lang=en", "touchpoint=refused")
	h.await(1, "POST", "/channels/"+id+"/continue", "")
	if h.saw("POST", "/channels/"+id+"/answer", 0) {
		t.Error("a call the gate refused was answered")
	}
	// A call admitted after it is prepared: had the refused one been, its
	// lookup would have come first.
	next := h.srv.Call("tester", "questionnaire=post-call", "lang=en")
	h.prompt(next, 1, "nps")
	if n := lookups.Load(); n != 1 {
		t.Errorf("%d questionnaire lookups for a refused and an admitted call; want 1", n)
	}
}

// When the gate names the questionnaire's latest version (read with its
// decision), calls run it parsed from memory: one lookup for the first
// call, none for the next; a new version named by the gate is looked up.
func TestGateVersionSkipsTheLookup(t *testing.T) {
	var version atomic.Int32
	version.Store(1)
	h := startWith(t, nil, gateFunc(func(ivr.CallInfo) (asterisk.Admission, error) {
		return asterisk.Admission{Surveyed: true, Version: int(version.Load())}, nil
	}))
	var lookups atomic.Int32
	h.store.OnLookup(func(context.Context) error { lookups.Add(1); return nil })
	for i, want := range []int32{1, 1, 2} {
		if i == 2 {
			version.Store(2)
		}
		id := h.srv.Call("tester", "questionnaire=post-call", "lang=en")
		h.prompt(id, 1, "nps")
		if n := lookups.Load(); n != want {
			t.Errorf("call %d: %d lookups so far; want %d", i+1, n, want)
		}
	}
}
