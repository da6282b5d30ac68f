package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/sql/sqltest"
)

// TestLoadtest runs the load generator's measurement for three calls
// against the server as serve wires it (in this process, on a real
// PostgreSQL), with short recorded prompts so that a call lasts seconds.
// It checks that every keyed answer is stored and that each figure was
// measured; the figures themselves are for `make bench`, not for a test.
func TestLoadtest(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	dir := t.TempDir()
	promptDir := filepath.Join(dir, "prompts")
	// Each prompt: 300 ms of tone, no pause inside, so a respondent hears
	// its end after a short silence.
	for _, id := range []string{"intro", "nps", "csat", "ces", "resolved", "thanks"} {
		writeToneWAV(t, filepath.Join(promptDir, "post-call", "en", id+".wav"), 300*time.Millisecond)
	}
	dbURL := sqltest.EmptyURL(t)
	logs := &logWatch{}
	e := env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: logs, getenv: func(k string) string {
		return map[string]string{"CANVASS_DATABASE_URL": dbURL, "CANVASS_HTTP_ADDR": "127.0.0.1:0", "CANVASS_WEBRTC_LISTEN": "127.0.0.1:0", "CANVASS_SIP_ADDR": "127.0.0.1:0",
			"CANVASS_PROMPTS_DIR": promptDir, "CANVASS_RECORDINGS_DIR": filepath.Join(dir, "recordings"), "CANVASS_LOG_FORMAT": "json"}[k]
	}}
	_, cfg, log, err := e.setup("serve", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Prompts.CacheDir = filepath.Join(dir, "cache")
	db, closeDB, err := open(ctx, cfg, "", log)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	if _, err := loadExamples(ctx, db); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.serveDB(ctx, cfg, db, log, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	addrs := logs.wait(t)

	var progress bytes.Buffer
	lc := loadConfig{target: "sip:post-call@" + addrs.sipAddr, rate: 50, duration: 6 * time.Second, warmup: true,
		dbURL: dbURL, log: &progress, quiet: 300 * time.Millisecond, think: 100 * time.Millisecond, shared: 2}
	// The server runs in this process: its CPU and memory include the
	// phones'; what is checked is that they were read.
	probe := &serverProbe{pid: os.Getpid(), metricsURL: "http://" + addrs.httpAddr + "/metrics"}
	res, err := measure(ctx, 3, lc, probe)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if res.Failed != 0 || res.Errors != nil {
		t.Errorf("%d failed calls: %v", res.Failed, res.Errors)
	}
	if res.Lost == nil || *res.Lost != 0 || res.Expected < len(respondent) {
		t.Errorf("answers: %d keyed, lost %v", res.Expected, res.Lost)
	}
	for _, q := range respondent {
		if res.KeyByQuestion[q.question][0] <= 0 {
			t.Errorf("no key→prompt latency measured after %s: %v", q.question, res.KeyByQuestion)
		}
	}
	if res.SetupP50 <= 0 || res.KeyP99 < res.KeyP50 || res.JitterP99 < 0 || res.Window <= 0 {
		t.Errorf("figures: %+v", res)
	}
	if res.ServerCPU == nil || *res.ServerCPU <= 0 || res.RSSPerCall == nil || res.HeapPerCall == nil {
		t.Errorf("server figures not measured: %+v", res)
	}

	var out bytes.Buffer
	if err := newLoadTable(&out, false).row(res); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s%s", out.String(), progress.String())
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) < 3 ||
		!strings.Contains(lines[len(lines)-2], "key→prompt p50/p99 ms") || !strings.HasPrefix(strings.TrimSpace(lines[len(lines)-1]), "3 ") {
		t.Errorf("table:\n%s", out.String())
	}
}

func TestSurveyURI(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"sip:post-call@127.0.0.1:5060", "sip:post-call@127.0.0.1:5060"},
		{"127.0.0.1:5080", "sip:post-call@127.0.0.1:5080"},
		{"sip:nps@10.0.0.1;transport=tcp", "sip:nps@10.0.0.1;transport=tcp"},
		{"sip:127.0.0.1:5060", ""},
		{"localhost", ""},
	} {
		got, err := surveyURI(tc.in)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("surveyURI(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// logWatch is the server's stderr: it reads the JSON log for the addresses
// the server bound, as loadtest -spawn does.
type logWatch struct {
	mu   sync.Mutex
	seen serverLog
}

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for line := range bytes.Lines(p) {
		w.seen.line(line)
	}
	return len(p), nil
}

func (w *logWatch) wait(t *testing.T) serverLog {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		w.mu.Lock()
		s := w.seen
		w.mu.Unlock()
		if s.sipAddr != "" && s.httpAddr != "" {
			return s
		}
	}
	t.Fatal("the server did not log where it listens")
	return serverLog{}
}

// writeToneWAV writes d of a 440 Hz tone as an 8 kHz mono 16-bit WAV.
func writeToneWAV(t *testing.T, path string, d time.Duration) {
	t.Helper()
	n := int(d.Seconds() * 8000)
	le := binary.LittleEndian
	b := le.AppendUint32([]byte("RIFF"), uint32(36+2*n))
	b = append(b, "WAVEfmt "...)
	b = le.AppendUint32(b, 16)
	b = le.AppendUint16(b, 1) // PCM
	b = le.AppendUint16(b, 1) // mono
	b = le.AppendUint32(b, 8000)
	b = le.AppendUint32(b, 16000) // bytes a second
	b = le.AppendUint16(b, 2)     // bytes a frame
	b = le.AppendUint16(b, 16)
	b = le.AppendUint32(append(b, "data"...), uint32(2*n))
	for i := range n {
		b = le.AppendUint16(b, uint16(int16(8000*math.Sin(2*math.Pi*440*float64(i)/8000))))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
