package transcribe_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr/transcribe"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
	"github.com/canvass/canvass/testdata"
)

func TestMain(m *testing.M) { sqltest.Main(m) }

type dir string

func (d dir) OpenRecording(name string) (*os.File, error) {
	return os.Open(filepath.Join(string(d), name+".wav"))
}

// whisper answers as the OpenAI transcription API does, after failing
// first (a service restarting): it checks what a Whisper server needs.
type whisper struct {
	t     *testing.T
	calls atomic.Int32
}

func (s *whisper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.calls.Add(1)
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f, h, err := r.FormFile("file")
	if err != nil {
		http.Error(w, "file: "+err.Error(), http.StatusBadRequest)
		return
	}
	audio, _ := io.ReadAll(f)
	if r.Header.Get("Authorization") != "Bearer k3y" || r.FormValue("model") != "whisper-1" || r.FormValue("response_format") != "json" ||
		r.FormValue("language") != "fr" || h.Filename != "why-1.wav" || string(audio) != "RIFF....WAVE" {
		s.t.Errorf("request: auth %q model %q format %q language %q file %q %q", r.Header.Get("Authorization"), r.FormValue("model"),
			r.FormValue("response_format"), r.FormValue("language"), h.Filename, audio)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if n == 1 {
		http.Error(w, "model loading", http.StatusServiceUnavailable)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"text": " Le livreur était en retard. ", "language": "fr"})
}

// A voice answer is sent to the service with its language, retried after
// the service fails once, and its text stored once; a recording that
// cannot be opened is left failed with the reason after its attempts; a
// claimed recording is not sent by a second worker.
func TestWorker(t *testing.T) {
	ctx := t.Context()
	db := sqltest.New(t)
	src, err := testdata.Questionnaires.ReadFile("questionnaires/post-call.yaml")
	if err != nil {
		t.Fatal(err)
	}
	q, err := survey.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.PutQuestionnaire(ctx, q.Version(src)); err != nil {
		t.Fatal(err)
	}
	recs := t.TempDir()
	if err := os.WriteFile(filepath.Join(recs, "why-1.wav"), []byte("RIFF....WAVE"), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	voice := func(rec string) survey.InterviewID {
		id, err := db.StartInterview(ctx, survey.InterviewRecord{Questionnaire: "post-call", Version: 1, Mode: survey.ModeIVR, Language: "fr-CA", StartedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.SaveAnswer(ctx, id, survey.Answer{Question: "why", Value: rec, Paradata: survey.Paradata{RecordingMS: 4000}}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	good, missing := voice("why-1"), voice("why-gone")

	svc := &whisper{t: t}
	hs := httptest.NewServer(svc)
	defer hs.Close()
	opts := transcribe.DefaultOptions()
	opts.URL, opts.APIKey, opts.Attempts, opts.Every = hs.URL+"/v1/audio/transcriptions", "k3y", 2, time.Second
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	clock := now
	w := transcribe.NewWorker(opts, db, dir(recs), log)
	transcribe.SetNow(w, func() time.Time { return clock })

	state := func(id survey.InterviewID) (status, text, failure string, attempts int) {
		t.Helper()
		err := db.Pool().QueryRow(ctx, `SELECT status, text, error, attempts FROM transcript WHERE interview_id = $1`, id).Scan(&status, &text, &failure, &attempts)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if n, err := w.Once(ctx); err != nil || n != 0 {
		t.Fatalf("first pass: %d, %v", n, err)
	}
	if st, _, failure, _ := state(good); st != "retry" || failure == "" {
		t.Errorf("after the service failed: %s %q", st, failure)
	}
	if n, err := w.Once(ctx); err != nil || n != 0 {
		t.Fatalf("a pass before the retry is due: %d, %v", n, err)
	}
	clock = clock.Add(time.Hour)
	if n, err := w.Once(ctx); err != nil || n != 1 {
		t.Fatalf("retry: %d, %v", n, err)
	}
	if st, text, _, attempts := state(good); st != "done" || text != "Le livreur était en retard." || attempts != 2 {
		t.Errorf("transcript: %s %q after %d", st, text, attempts)
	}
	if st, _, failure, attempts := state(missing); st != "failed" || attempts != 2 || failure == "" {
		t.Errorf("a missing recording: %s %q after %d", st, failure, attempts)
	}
	clock = clock.Add(time.Hour)
	if n, err := w.Once(ctx); err != nil || n != 0 || svc.calls.Load() != 2 {
		t.Errorf("nothing left: %d, %v, %d calls", n, err, svc.calls.Load())
	}
	ts, err := db.Transcripts(ctx, "post-call", "why", time.Time{}, time.Time{})
	if err != nil || ts[good] != "Le livreur était en retard." || len(ts) != 1 {
		t.Errorf("Transcripts = %v, %v", ts, err)
	}

	// A recording claimed by one node is not another's until the lease ends.
	third := voice("why-1")
	p := survey.PendingRecording{Interview: third, Question: "why", Recording: "why-1"}
	if _, ok, err := db.ClaimRecording(ctx, p, clock, time.Minute); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if _, ok, err := db.ClaimRecording(ctx, p, clock.Add(time.Second), time.Minute); err != nil || ok {
		t.Errorf("a second claim within the lease: %v %v", ok, err)
	}
	if _, ok, err := db.ClaimRecording(ctx, p, clock.Add(2*time.Minute), time.Minute); err != nil || !ok {
		t.Errorf("a claim after the lease: %v %v", ok, err)
	}
}

func TestOptions(t *testing.T) {
	o := transcribe.DefaultOptions()
	if err := o.Validate(); err != nil {
		t.Errorf("off: %v", err)
	}
	o.URL, o.Attempts = "ftp://x", 0
	err := o.Validate()
	for _, want := range []string{"transcribe.url", "transcribe.attempts"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %s", err, want)
		}
	}
}
