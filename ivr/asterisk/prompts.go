package asterisk

// This file turns a prompt into a media URI Asterisk can play, and serves
// prompt audio over HTTP for the "http" prompt mode.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/canvass/canvass/ivr"
)

// mediaURI is where Asterisk finds the prompt's audio.
func (c *Client) mediaURI(ctx context.Context, p ivr.Prompt) (string, error) {
	file, err := c.prompts.File(ctx, p.Questionnaire, p.ID, p.Language, p.Text)
	if err != nil {
		return "", fmt.Errorf("prompt %q (%s) of %q: %w", p.ID, p.Language, p.Questionnaire, err)
	}
	if !filepath.IsAbs(file) {
		return "", fmt.Errorf("prompt %q (%s): %q is not an absolute path", p.ID, p.Language, file)
	}
	if c.opts.PromptMode == PromptHTTP {
		u, err := c.server.url(c.opts.PromptBaseURL, file)
		if err != nil {
			return "", fmt.Errorf("prompt %q (%s): %w", p.ID, p.Language, err)
		}
		return "sound:" + u, nil
	}
	// Asterisk adds the extension of each format it knows and opens the
	// one that exists: the path goes without its own.
	return "sound:" + strings.TrimSuffix(file, filepath.Ext(file)), nil
}

// PromptServer serves prompt audio to Asterisk for the "http" prompt mode:
// cmd/canvass mounts it on a listener Asterisk can reach, at the path of
// ari.prompt_base_url. It serves only files the Client has named in a play
// request, each under an unguessable, content-versioned URL.
//
// Why http media failed on Asterisk 20.20.1, and what works (read in
// Asterisk's source: main/file.c, main/media_cache.c,
// res/res_http_media_cache.c):
//
//   - The download itself works, and Content-Type: audio/wav (or a URL path
//     ending in .wav) gives the cached file its .wav extension
//     (res_http_media_cache since 16.0; the URL path is parsed without the
//     query string since 16.20/18.6/20.0; parameters after ';' in the
//     Content-Type are tolerated since 16.22/18.8/20.0; a URL and type with
//     no known extension crashed Asterisk until 18.17/20.2/21.0).
//   - The failure is asterisk/asterisk#444, still open and unchanged in
//     20.20.1 and on master (2026-08): openstream_internal() sizes its path
//     buffer from the URL (strlen(lang)+strlen(url)+4), and
//     ast_media_cache_retrieve() copies the local cache path into it. When
//     the cache path ("<astcachedir>/bucket-XXXXXX.wav") is longer than the
//     URL plus the language plus 3, the path is cut, the file "does not
//     exist in any format", and PlaybackFinished says "failed" — although
//     the HTTP fetch returned 200. http://127.0.0.1:8099/q1.wav is 28
//     characters: it fits a default /var/cache/asterisk only to the last
//     byte, and fails for any longer astcachedir, such as one under a
//     --prefix of a hand-built Asterisk.
//   - media_cache.c also gives the cached file its extension only when the
//     whole path has no '.', and cuts the returned path at its last '.': an
//     astcachedir containing a dot (/opt/asterisk-20.20.1/var/cache) never
//     plays http media.
//
// Checked by hand on a 20.20.1 built from source with --prefix=/tmp/ast
// (astcachedir /tmp/ast/var/cache/asterisk, 27 characters), channel
// language en: URLs of 28 to 35 characters were fetched (HTTP 200, cached
// as bucket-*.wav) and failed to play; 36 characters and more played —
// exactly len(URL)+len(language)+3 >= len(astcachedir)+14.
//
// So Canvass's URLs are <base>/<64 hex digits>.wav — at least 70 characters
// longer than the base — with Content-Type: audio/wav, an ETag, and
// Cache-Control: public, max-age=31536000, immutable (a new file gets a new
// URL, so the cache never needs to revalidate; when it does, it sends a
// HEAD with If-None-Match, answered 304). This plays on any Asterisk from
// 20.2 (or 18.17) whose astcachedir has no '.' and is at most
// len(URL)-11 characters long. The WAV must be 8 kHz mono 16-bit PCM,
// which the prompt catalog writes. A cache refresh racing concurrent plays
// of the same URL can fail a playback (asterisk/asterisk#1689, 20.15–20.17):
// the year-long max-age keeps entries from going stale mid-campaign. The
// "dir" mode has none of these limits and stays the default.
type PromptServer struct {
	log *slog.Logger

	mu    sync.RWMutex
	files map[string]servedFile // by token
}

type servedFile struct {
	path string
	mod  time.Time
}

// NewPromptServer returns an empty PromptServer.
func NewPromptServer(log *slog.Logger) *PromptServer {
	return &PromptServer{log: log, files: map[string]servedFile{}}
}

// url registers file and returns its URL under base. The token hashes the
// path, size and modification time: a re-recorded prompt gets a new URL,
// which Asterisk's cache has never seen.
func (s *PromptServer) url(base, file string) (string, error) {
	st, err := os.Stat(file)
	if err != nil {
		return "", fmt.Errorf("serve prompt: %w", err)
	}
	sum := sha256.Sum256([]byte(file + "\x00" + strconv.FormatInt(st.Size(), 10) + "\x00" + strconv.FormatInt(st.ModTime().UnixNano(), 10)))
	token := hex.EncodeToString(sum[:])
	s.mu.Lock()
	s.files[token] = servedFile{path: file, mod: st.ModTime()}
	s.mu.Unlock()
	return strings.TrimRight(base, "/") + "/" + token + ".wav", nil
}

// ServeHTTP serves GET and HEAD of <anything>/<token>.wav.
func (s *PromptServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	token, ok := strings.CutSuffix(path.Base(r.URL.Path), ".wav")
	s.mu.RLock()
	f, known := s.files[token]
	s.mu.RUnlock()
	if !ok || !known {
		http.NotFound(w, r)
		return
	}
	fh, err := os.Open(f.path)
	if err != nil {
		s.log.Error("cannot serve a prompt to Asterisk", "path", f.path, "err", err)
		http.NotFound(w, r)
		return
	}
	defer fh.Close()
	h := w.Header()
	h.Set("Content-Type", "audio/wav")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", `"`+token+`"`)
	http.ServeContent(w, r, token+".wav", f.mod, fh)
}
