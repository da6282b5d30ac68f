package asterisk

// Tests of the media URIs Asterisk is asked to play and of PromptServer,
// which serves prompts in the "http" prompt mode.

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
)

// oneFile is a prompt catalog holding one file.
type oneFile string

func (f oneFile) File(ctx context.Context, questionnaire, id, lang, text string) (string, error) {
	return string(f), nil
}

func TestMediaURIDir(t *testing.T) {
	c := &Client{opts: Options{PromptMode: PromptDir}, prompts: oneFile("/var/lib/canvass/prompts/post-call/v1.2/nps/en.wav")}
	got, err := c.mediaURI(t.Context(), ivr.Prompt{ID: "nps"})
	if err != nil || got != "sound:/var/lib/canvass/prompts/post-call/v1.2/nps/en" {
		t.Errorf("mediaURI = %q, %v; want the absolute path without its extension", got, err)
	}
	c.prompts = oneFile("relative/en.wav")
	if _, err := c.mediaURI(t.Context(), ivr.Prompt{ID: "nps"}); err == nil {
		t.Errorf("a relative path must be refused: Asterisk would look in its own sounds directory")
	}
}

func TestPromptServer(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "nps-en.wav")
	audio := append([]byte("RIFF"), make([]byte, 2000)...)
	if err := os.WriteFile(file, audio, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := NewPromptServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	const base = "http://canvass.internal:8080/ari/prompts/"
	c := &Client{opts: Options{PromptMode: PromptHTTP, PromptBaseURL: base}, prompts: oneFile(file), server: srv}
	uri, err := c.mediaURI(t.Context(), ivr.Prompt{ID: "nps", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	u, ok := strings.CutPrefix(uri, "sound:")
	if !ok || !strings.HasPrefix(u, "http://canvass.internal:8080/ari/prompts/") || !strings.HasSuffix(u, ".wav") {
		t.Fatalf("media %q", uri)
	}
	// asterisk/asterisk#444: the local cache path must fit in len(URL)+3.
	// "/var/cache/asterisk/bucket-XXXXXX.wav" needs 30 characters; ours
	// leave room for an astcachedir of 70 characters and more.
	if room := len(u) - 11; room < 70 {
		t.Errorf("URL %q leaves room for an astcachedir of only %d characters", u, room)
	}
	path := u[len("http://canvass.internal:8080"):]

	get := func(method, target string, h http.Header) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, nil)
		for k, v := range h {
			req.Header[k] = v
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		return w
	}
	w := get("GET", path, nil)
	h := w.Header()
	if w.Code != 200 || h.Get("Content-Type") != "audio/wav" || !strings.Contains(h.Get("Cache-Control"), "max-age=31536000") ||
		h.Get("ETag") == "" || w.Body.Len() != len(audio) {
		t.Errorf("GET %s: %d %v (%d bytes)", path, w.Code, h, w.Body.Len())
	}
	// Asterisk revalidates a stale entry with a HEAD and If-None-Match.
	if w := get("HEAD", path, http.Header{"If-None-Match": {h.Get("ETag")}}); w.Code != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", w.Code)
	}
	for _, bad := range []struct {
		method, path string
		code         int
	}{{"GET", "/ari/prompts/0000.wav", 404}, {"GET", "/ari/prompts/../../etc/passwd", 404}, {"POST", path, 405}} {
		if w := get(bad.method, bad.path, nil); w.Code != bad.code {
			t.Errorf("%s %s: %d, want %d", bad.method, bad.path, w.Code, bad.code)
		}
	}
	// A re-recorded prompt gets a new URL, which no cache has seen.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(file, later, later); err != nil {
		t.Fatal(err)
	}
	again, err := c.mediaURI(t.Context(), ivr.Prompt{ID: "nps", Language: "en"})
	if err != nil || again == uri {
		t.Errorf("changed file kept its URL %q (%v)", again, err)
	}
}
