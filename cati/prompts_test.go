package cati_test

// Tests of the prompt endpoints over a real database and a real catalog:
// uploads in the forms clients send them, what is refused and why, the
// coverage list, and voice answers served as audio.

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/prompts"
	store "github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// catalogAudio is cmd/canvass's adapter (cmd/canvass/prompts.go) restated,
// since a test cannot import package main.
type catalogAudio struct{ c *prompts.Catalog }

func (a catalogAudio) PutPrompt(ctx context.Context, questionnaire, prompt, lang string, r io.Reader) (cati.PromptInfo, error) {
	info, err := a.c.Put(ctx, questionnaire, prompt, lang, r)
	return cati.PromptInfo{Duration: info.Duration, SourceSampleRate: info.SampleRate, SourceChannels: info.Channels,
		SourceFormat: fmt.Sprintf("%s %d-bit", info.Encoding, info.Bits)}, err
}

func (a catalogAudio) PromptCoverage(q *survey.Questionnaire) []cati.PromptCoverage {
	var out []cati.PromptCoverage
	for _, c := range a.c.Check(q) {
		out = append(out, cati.PromptCoverage{Stock: c.Questionnaire == "", Prompt: c.ID, Language: c.Language,
			Text: c.Text, Status: string(c.Status), Cached: c.Cached, Detail: c.Detail})
	}
	return out
}

func (a catalogAudio) OpenRecording(name string) (*os.File, error) { return a.c.OpenRecording(name) }

var _ cati.Audio = catalogAudio{}

// withCatalog starts a server with a catalog over fresh directories, with
// the post-call questionnaire uploaded.
func withCatalog(t *testing.T) (*fixture, *prompts.Catalog, prompts.Options) {
	t.Helper()
	dir := t.TempDir()
	opts := prompts.DefaultOptions()
	opts.Dir, opts.CacheDir, opts.RecordingsDir = filepath.Join(dir, "p"), filepath.Join(dir, "c"), filepath.Join(dir, "r")
	c, err := prompts.New(opts, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	f := setup(t, cati.DefaultOptions(), nil, func(_ *store.DB, d *cati.Deps) { d.Audio = catalogAudio{c} })
	decode(t, f.upload(survey.RoleAdmin, questionnaireFile(t, "post-call.yaml")), http.StatusCreated, nil)
	return f, c, opts
}

// wav is seconds of a 440 Hz tone as 16-bit PCM at rate with channels.
func wav(seconds float64, rate, channels int) []byte {
	n := int(seconds * float64(rate))
	data := make([]byte, 0, n*channels*2)
	for i := range n {
		v := int16(10000 * math.Sin(2*math.Pi*440*float64(i)/float64(rate)))
		for range channels {
			data = binary.LittleEndian.AppendUint16(data, uint16(v))
		}
	}
	h := make([]byte, 44)
	copy(h, "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+len(data)))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], uint16(channels))
	binary.LittleEndian.PutUint32(h[24:], uint32(rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(rate*channels*2))
	binary.LittleEndian.PutUint16(h[32:], uint16(channels*2))
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(len(data)))
	return append(h, data...)
}

// multipartWAV is a form with a name field and the WAV as file.
func multipartWAV(t *testing.T, field string, b []byte) (io.Reader, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if err := mw.WriteField("note", "studio take 3"); err != nil {
		t.Fatal(err)
	}
	fw, err := mw.CreateFormFile(field, "take3.wav")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return &body, mw.FormDataContentType()
}

type uploadedJSON struct {
	Questionnaire    string `json:"questionnaire"`
	Prompt           string `json:"prompt"`
	Language         string `json:"language"`
	DurationMS       int64  `json:"duration_ms"`
	SampleRate       int    `json:"sample_rate"`
	SourceSampleRate int    `json:"source_sample_rate"`
	SourceChannels   int    `json:"source_channels"`
	SourceFormat     string `json:"source_format"`
}

type coverageJSON struct {
	Questionnaire string                `json:"questionnaire"`
	Version       int                   `json:"version"`
	Summary       map[string]int        `json:"summary"`
	Prompts       []cati.PromptCoverage `json:"prompts"`
}

func TestPromptUpload(t *testing.T) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Fatal("espeak-ng is not installed, and the coverage list reports prompts it synthesizes; `make test` installs it (Debian package espeak-ng)")
	}
	f, _, opts := withCatalog(t)

	// A raw body, as curl --data-binary sends it: 44.1 kHz stereo, 2 s.
	var got uploadedJSON
	resp := f.request(http.MethodPut, "/api/v1/questionnaires/post-call/prompts/en/nps", survey.RoleIntegrator,
		bytes.NewReader(wav(2, 44100, 2)), "Content-Type", "audio/wav")
	decode(t, resp, http.StatusCreated, &got)
	want := uploadedJSON{Questionnaire: "post-call", Prompt: "nps", Language: "en", DurationMS: 2000, SampleRate: 8000,
		SourceSampleRate: 44100, SourceChannels: 2, SourceFormat: "PCM 16-bit"}
	if got != want {
		t.Errorf("upload answered %+v, want %+v", got, want)
	}
	stored := filepath.Join(opts.Dir, "post-call", "en", "nps.wav")
	if fi, err := os.Stat(stored); err != nil || fi.Size() != 44+2*16000 {
		t.Errorf("stored file: %v, %v; want 2 s of 8 kHz mono 16-bit", fi, err)
	}

	// A browser form, with another field before the file.
	body, ct := multipartWAV(t, "file", wav(0.5, 16000, 1))
	resp = f.request(http.MethodPut, "/api/v1/questionnaires/post-call/prompts/fr/nps.no_input", survey.RoleAdmin, body, "Content-Type", ct)
	decode(t, resp, http.StatusCreated, &got)
	if got.Prompt != "nps.no_input" || got.Language != "fr" || got.DurationMS != 500 || got.SourceSampleRate != 16000 {
		t.Errorf("multipart upload answered %+v", got)
	}

	// The coverage list shows both as recorded, the rest synthesized.
	var cov coverageJSON
	f.get("/api/v1/questionnaires/post-call/prompts", survey.RoleSupervisor, http.StatusOK, &cov)
	status := map[string]string{}
	for _, p := range cov.Prompts {
		key := p.Language + "/" + p.Prompt
		if p.Stock {
			key = "stock:" + key
		}
		status[key] = p.Status
	}
	for key, want := range map[string]string{"en/nps": "recorded", "fr/nps.no_input": "recorded", "fr/nps": "synthesized",
		"en/intro": "synthesized", "stock:fr/language_menu.2": "synthesized", "stock:en/apology": "synthesized"} {
		if status[key] != want {
			t.Errorf("%s: %q, want %q", key, status[key], want)
		}
	}
	if cov.Questionnaire != "post-call" || cov.Version != 1 || cov.Summary["recorded"] != 2 || cov.Summary["synthesized"] != len(cov.Prompts)-2 {
		t.Errorf("coverage header %s v%d %v over %d prompts", cov.Questionnaire, cov.Version, cov.Summary, len(cov.Prompts))
	}
}

func TestPromptUploadRefusals(t *testing.T) {
	f, _, opts := withCatalog(t)
	const path = "/api/v1/questionnaires/post-call/prompts/en/nps"
	good := wav(0.2, 8000, 1)
	fiveMinutes := wav(301, 8000, 1) // 4.8 MB: over http.max_body_bytes, under the prompt limit
	notWAV := []byte("<html><body>not audio</body></html>")
	body, ct := multipartWAV(t, "audio", good)

	tests := []struct {
		name   string
		path   string
		role   survey.Role
		body   io.Reader
		header []string
		status int
		code   survey.ErrorCode
		msg    string
	}{
		{"supervisor", path, survey.RoleSupervisor, bytes.NewReader(good), []string{"Content-Type", "audio/wav"}, http.StatusForbidden, survey.EForbidden, ""},
		{"no token", path, "", bytes.NewReader(good), []string{"Content-Type", "audio/wav"}, http.StatusUnauthorized, survey.EUnauthorized, ""},
		{"unknown questionnaire", "/api/v1/questionnaires/nope/prompts/en/nps", survey.RoleAdmin, bytes.NewReader(good),
			[]string{"Content-Type", "audio/wav"}, http.StatusNotFound, survey.ENotFound, `no questionnaire "nope"`},
		{"unknown language", "/api/v1/questionnaires/post-call/prompts/de/nps", survey.RoleAdmin, bytes.NewReader(good),
			[]string{"Content-Type", "audio/wav"}, http.StatusNotFound, survey.ENotFound, `has no language "de"; its languages are en, fr`},
		{"unknown prompt", "/api/v1/questionnaires/post-call/prompts/en/npss", survey.RoleAdmin, bytes.NewReader(good),
			[]string{"Content-Type", "audio/wav"}, http.StatusNotFound, survey.ENotFound, `plays no prompt "npss"; its prompts are intro, nps,`},
		{"traversal", "/api/v1/questionnaires/post-call/prompts/en/..%2F..%2Fx", survey.RoleAdmin, bytes.NewReader(good),
			[]string{"Content-Type", "audio/wav"}, http.StatusNotFound, survey.ENotFound, "plays no prompt"},
		{"wrong content type", path, survey.RoleAdmin, bytes.NewReader(good), []string{"Content-Type", "application/json"},
			http.StatusUnsupportedMediaType, survey.EInvalid, "Content-Type application/json is not accepted; send a WAV file as audio/wav"},
		{"no content type", path, survey.RoleAdmin, bytes.NewReader(good), nil, http.StatusUnsupportedMediaType, survey.EInvalid, "Content-Type none"},
		{"form without file", path, survey.RoleAdmin, body, []string{"Content-Type", ct}, http.StatusBadRequest, survey.EInvalid, "no part named file"},
		{"not audio", path, survey.RoleAdmin, bytes.NewReader(notWAV), []string{"Content-Type", "audio/wav"},
			http.StatusUnprocessableEntity, survey.EInvalid, "not a WAV file: missing RIFF header"},
		{"mp3 named .wav", path, survey.RoleAdmin, strings.NewReader("ID3\x04\x00\x00\x00\x00\x00\x00 and then frames"), []string{"Content-Type", "audio/x-wav"},
			http.StatusUnprocessableEntity, survey.EInvalid, "this looks like an MP3; convert it to WAV (PCM)"},
		{"truncated", path, survey.RoleAdmin, bytes.NewReader(good[:len(good)-100]), []string{"Content-Type", "audio/wav"},
			http.StatusUnprocessableEntity, survey.EInvalid, "truncated WAV"},
		{"too long", path, survey.RoleAdmin, bytes.NewReader(fiveMinutes), []string{"Content-Type", "audio/wav"},
			http.StatusUnprocessableEntity, survey.EInvalid, "the recording lasts 5m1s; a prompt may last at most 5m0s"},
		{"query parameter", path + "?lang=en", survey.RoleAdmin, bytes.NewReader(good), []string{"Content-Type", "audio/wav"},
			http.StatusBadRequest, survey.EInvalid, `unknown parameter "lang"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refused(t, f.request(http.MethodPut, tt.path, tt.role, tt.body, tt.header...), tt.status, tt.code, tt.msg)
		})
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, "post-call", "en", "nps.wav")); err == nil {
		t.Error("a refused upload was stored")
	}
}

// TestPromptUploadTooLarge: a body over 50 MiB is refused with 413, whether
// it says its length or streams it.
func TestPromptUploadTooLarge(t *testing.T) {
	f, _, _ := withCatalog(t)
	const path = "/api/v1/questionnaires/post-call/prompts/en/nps"
	// 64 channels of 32-bit float at 192 kHz, open-ended: 50 MiB is about a second.
	h := make([]byte, 44)
	copy(h, "RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x03\x00\x40\x00")
	binary.LittleEndian.PutUint32(h[24:], 192000)
	binary.LittleEndian.PutUint32(h[28:], 192000*256)
	binary.LittleEndian.PutUint16(h[32:], 256)
	binary.LittleEndian.PutUint16(h[34:], 32)
	copy(h[36:], "data\xff\xff\xff\xff")
	big := int64(51 << 20)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, f.http.URL+path, io.MultiReader(bytes.NewReader(h), io.LimitReader(zeroReader{}, big)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.tokens[survey.RoleAdmin])
	req.Header.Set("Content-Type", "audio/wav")
	req.ContentLength = big + 44
	resp, err := f.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	refused(t, resp, http.StatusRequestEntityTooLarge, survey.EInvalid, "larger than 50 MiB")

	// Streamed (chunked, no length): found while reading.
	resp = f.request(http.MethodPut, path, survey.RoleAdmin,
		io.MultiReader(bytes.NewReader(h), io.LimitReader(zeroReader{}, big)), "Content-Type", "audio/wav")
	refused(t, resp, http.StatusRequestEntityTooLarge, survey.EInvalid, "larger than 50 MiB")
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestRecordingDownload(t *testing.T) {
	f, c, _ := withCatalog(t)
	path, err := c.RecordingPath("why-1712345678")
	if err != nil {
		t.Fatal(err)
	}
	want := wav(1, 8000, 1)
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"why-1712345678", "why-1712345678.wav"} {
		resp := f.request(http.MethodGet, "/api/v1/recordings/"+name, survey.RoleSupervisor, nil)
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "audio/wav" || !bytes.Equal(got, want) {
			t.Errorf("%s: %d %s, %d bytes; want 200 audio/wav with the file", name, resp.StatusCode, resp.Header.Get("Content-Type"), len(got))
		}
	}
	// Players seek with ranges.
	resp := f.request(http.MethodGet, "/api/v1/recordings/why-1712345678", survey.RoleIntegrator, nil, "Range", "bytes=0-3")
	if got, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusPartialContent || string(got) != "RIFF" {
		t.Errorf("range: %d %q", resp.StatusCode, got)
	}
	for _, name := range []string{"nobody", "..%2F..%2Fetc%2Fpasswd", ".hidden", "a..b"} {
		refused(t, f.request(http.MethodGet, "/api/v1/recordings/"+name, survey.RoleAdmin, nil), http.StatusNotFound, survey.ENotFound, "no recording")
	}
	refused(t, f.request(http.MethodGet, "/api/v1/recordings/why-1712345678", "", nil), http.StatusUnauthorized, survey.EUnauthorized)
}

// TestPromptsNotConfigured: without a catalog the endpoints say so.
func TestPromptsNotConfigured(t *testing.T) {
	f := setup(t, cati.DefaultOptions(), nil)
	refused(t, f.request(http.MethodGet, "/api/v1/recordings/x", survey.RoleAdmin, nil), http.StatusServiceUnavailable, survey.EInternal, "prompts are not configured")
}
