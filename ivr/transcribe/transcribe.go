// Package transcribe turns voice answers into text with a speech-to-text
// service that speaks the OpenAI audio transcription API, as Whisper
// servers do (faster-whisper-server, whisper.cpp's server with its
// OpenAI-compatible route, LocalAI, or OpenAI itself): a multipart POST of
// the WAV file with model and language, answered by {"text": "..."}.
//
// It is off until transcribe.url is set. A Worker finds the voice answers
// without a transcript in the store, claims each (so nodes never send one
// recording twice at once), sends it, and stores the text or the error,
// retrying with backoff. Comment themes then read the transcripts like
// typed comments.
package transcribe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/canvass/canvass/survey"
)

// Options configure the service (config `transcribe:`).
type Options struct {
	// URL is the transcription endpoint, e.g.
	// http://whisper:8000/v1/audio/transcriptions; "" turns transcription off.
	URL string `yaml:"url"`
	// Model names the model the service should use (whisper-1 for OpenAI,
	// e.g. Systran/faster-whisper-small for faster-whisper-server).
	Model string `yaml:"model"`
	// APIKey is sent as a bearer token when set (CANVASS_TRANSCRIBE_API_KEY
	// or _FILE; never in the config file).
	APIKey string `yaml:"-"`
	// Timeout bounds one request.
	Timeout time.Duration `yaml:"timeout"`
	// Every is how often the worker looks for new voice answers.
	Every time.Duration `yaml:"every"`
	// Since is how far back voice answers are transcribed when the service
	// is first set up.
	Since time.Duration `yaml:"since"`
	// Attempts is how many times one recording is sent before it is left
	// failed.
	Attempts int `yaml:"attempts"`
}

// DefaultOptions: off; once on, every 10 s, 2 min a request, 5 tries, the
// last 30 days.
func DefaultOptions() Options {
	return Options{Model: "whisper-1", Timeout: 2 * time.Minute, Every: 10 * time.Second, Since: 30 * 24 * time.Hour, Attempts: 5}
}

// Validate returns every problem at once, each naming its field.
func (o Options) Validate() error {
	if o.URL == "" {
		return nil
	}
	var errs []error
	if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("transcribe.url: %q is not an http(s) URL such as http://whisper:8000/v1/audio/transcriptions", o.URL))
	}
	if o.Model == "" {
		errs = append(errs, errors.New("transcribe.model: name the service's model, e.g. whisper-1"))
	}
	if o.Timeout < time.Second {
		errs = append(errs, fmt.Errorf("transcribe.timeout: at least 1s, not %s", o.Timeout))
	}
	if o.Every < time.Second {
		errs = append(errs, fmt.Errorf("transcribe.every: at least 1s, not %s", o.Every))
	}
	if o.Since <= 0 {
		errs = append(errs, fmt.Errorf("transcribe.since: a positive duration such as 720h, not %s", o.Since))
	}
	if o.Attempts < 1 || o.Attempts > 100 {
		errs = append(errs, fmt.Errorf("transcribe.attempts: from 1 to 100, not %d", o.Attempts))
	}
	return errors.Join(errs...)
}

// maxResponse bounds the service's answer: a transcript, not a novel.
const maxResponse = 1 << 20

// Client calls the service.
type Client struct {
	opts Options
	http *http.Client
}

// NewClient is a client of the service opts name.
func NewClient(opts Options) *Client {
	return &Client{opts: opts, http: &http.Client{Timeout: opts.Timeout}}
}

// Transcribe sends one WAV recording (named name) in language (an ISO 639-1
// code such as en or fr; "" lets the service detect it) and returns its
// text.
func (c *Client) Transcribe(ctx context.Context, wav io.Reader, name, language string) (string, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", name+".wav")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(fw, wav); err != nil {
		return "", fmt.Errorf("read the recording: %w", err)
	}
	fields := [][2]string{{"model", c.opts.Model}, {"response_format", "json"}}
	if lang, _, _ := strings.Cut(language, "-"); lang != "" {
		fields = append(fields, [2]string{"language", strings.ToLower(lang)})
	}
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return "", err
		}
	}
	if err := mw.Close(); err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.opts.URL, &body)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if c.opts.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.opts.APIKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return "", fmt.Errorf("read the answer: %w", err)
	}
	if len(data) > maxResponse {
		return "", fmt.Errorf("the answer is over %d bytes", maxResponse)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the service answered %s: %s", resp.Status, survey.Clip(strings.TrimSpace(string(data)), 200))
	}
	var out struct {
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(data, &out); err != nil || out.Text == nil {
		return "", fmt.Errorf("the answer is not {\"text\": ...}: %s", survey.Clip(string(data), 200))
	}
	return strings.TrimSpace(*out.Text), nil
}

// Store is where voice answers wait and transcripts go (sql.DB).
type Store interface {
	PendingRecordings(ctx context.Context, limit int, since, now time.Time) ([]survey.PendingRecording, error)
	ClaimRecording(ctx context.Context, p survey.PendingRecording, now time.Time, lease time.Duration) (attempts int, ok bool, err error)
	SaveTranscript(ctx context.Context, id survey.InterviewID, question, text, failure string, now, retry time.Time) error
}

// Recordings opens stored recordings by name (prompts.Catalog).
type Recordings interface {
	OpenRecording(name string) (*os.File, error)
}

// Worker transcribes the store's voice answers.
type Worker struct {
	opts   Options
	client *Client
	store  Store
	recs   Recordings
	log    *slog.Logger
	now    func() time.Time
}

// NewWorker is a worker over store and recs; nil when opts.URL is "".
func NewWorker(opts Options, store Store, recs Recordings, log *slog.Logger) *Worker {
	if opts.URL == "" {
		return nil
	}
	return &Worker{opts: opts, client: NewClient(opts), store: store, recs: recs, log: log, now: time.Now}
}

// Run transcribes every opts.Every until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	t := time.NewTicker(w.opts.Every)
	defer t.Stop()
	for {
		if _, err := w.Once(ctx); err != nil && ctx.Err() == nil {
			w.log.Error("transcribing voice answers", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// batch is how many recordings one pass takes at most.
const batch = 20

// Once transcribes the recordings waiting now, and says how many it
// transcribed.
func (w *Worker) Once(ctx context.Context) (int, error) {
	now := w.now()
	ps, err := w.store.PendingRecordings(ctx, batch, now.Add(-w.opts.Since), now)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, p := range ps {
		// The claim outlives the request, so a node that dies mid-request
		// leaves the recording to another after the lease.
		attempts, ok, err := w.store.ClaimRecording(ctx, p, w.now(), 2*w.opts.Timeout)
		if err != nil {
			return done, err
		}
		if !ok {
			continue
		}
		text, failure := w.transcribe(ctx, p)
		if ctx.Err() != nil {
			return done, nil // the lease lapses; another pass retries it
		}
		var retry time.Time
		if failure != "" {
			w.log.Warn("transcription failed", "interview", p.Interview, "question", p.Question, "attempt", attempts, "err", failure)
			if attempts < w.opts.Attempts {
				retry = w.now().Add(time.Duration(1<<min(attempts, 10)) * w.opts.Every)
			}
		}
		if err := w.store.SaveTranscript(ctx, p.Interview, p.Question, text, failure, w.now(), retry); err != nil {
			return done, err
		}
		if failure == "" {
			done++
		}
	}
	return done, nil
}

func (w *Worker) transcribe(ctx context.Context, p survey.PendingRecording) (text, failure string) {
	f, err := w.recs.OpenRecording(p.Recording)
	if err != nil {
		return "", fmt.Sprintf("open recording %s: %v", p.Recording, err)
	}
	defer f.Close()
	text, err = w.client.Transcribe(ctx, f, p.Recording, p.Language)
	if err != nil {
		return "", err.Error()
	}
	return text, ""
}
