package prompts_test

// Tests of the catalog: uploads stored converted, a recording always
// winning, files placed by hand, speech synthesized once with the real
// espeak-ng and cached, and the names it refuses.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/prompts"
	"github.com/canvass/canvass/survey"
)

// needESpeak fails the test when espeak-ng is missing: speech synthesis is
// part of what Canvass promises, so its tests must not quietly skip.
func needESpeak(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Fatal("espeak-ng is not installed, and this test checks speech synthesis with it; `make test` installs it (Debian package espeak-ng: apt-get install espeak-ng)")
	}
}

// newCatalog returns a catalog over fresh directories; mod adjusts its
// options.
func newCatalog(t testing.TB, mod func(*prompts.Options)) (*prompts.Catalog, prompts.Options) {
	t.Helper()
	dir := t.TempDir()
	opts := prompts.DefaultOptions()
	opts.Dir = filepath.Join(dir, "prompts")
	opts.CacheDir = filepath.Join(dir, "cache")
	opts.RecordingsDir = filepath.Join(dir, "recordings")
	if mod != nil {
		mod(&opts)
	}
	var log *slog.Logger
	if tt, ok := t.(*testing.T); ok {
		log = slog.New(slog.NewTextHandler(tt.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := prompts.New(opts, log)
	if err != nil {
		t.Fatal(err)
	}
	return c, opts
}

// decodeFile reads a WAV the catalog wrote.
func decodeFile(t *testing.T, path string) *prompts.Audio {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := prompts.DecodeWAV(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return a
}

func toFloat(pcm []int16) []float64 {
	x := make([]float64, len(pcm))
	for i, s := range pcm {
		x[i] = float64(s) / 32768
	}
	return x
}

func TestOptionsValidate(t *testing.T) {
	if err := prompts.DefaultOptions().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	bad := prompts.Options{Dir: "p", CacheDir: "p/", RecordingsDir: " ", Voices: map[string]string{"english": "en", "fr": "-x"}}
	err := bad.Validate()
	for _, want := range []string{
		"prompts.cache_dir: must not hold prompts.dir (p)",
		"prompts.recordings_dir: must not be empty",
		"prompts.espeak: must not be empty",
		`prompts.voices: "english" is not a language code`,
		`prompts.voices: voice "-x" for fr is not an espeak-ng voice name`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; want it to say %q", err, want)
		}
	}
	// Emptying the cache must not take voice answers or recordings with it.
	nested := prompts.DefaultOptions()
	nested.CacheDir, nested.Dir, nested.RecordingsDir = "data", "data/prompts", "data/../data/rec"
	if err := nested.Validate(); err == nil || !strings.Contains(err.Error(), "must not hold prompts.dir") || !strings.Contains(err.Error(), "must not hold prompts.recordings_dir") {
		t.Errorf("prompts and recordings inside the cache: %v", err)
	}
	nested.Dir, nested.RecordingsDir = "data-prompts", "../data/rec"
	if err := nested.Validate(); err != nil {
		t.Errorf("siblings of the cache: %v", err)
	}
	if _, err := prompts.New(bad, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("New accepted invalid options")
	}
}

func TestPutStoresConverted(t *testing.T) {
	c, opts := newCatalog(t, nil)
	src := pcm16(2, 44100).build(t, sine(1000, 44100, 2, 1.5, 0.5, false))
	info, err := c.Put(t.Context(), "post-call", "nps", "en", bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if info.SampleRate != 44100 || info.Channels != 2 || info.Duration != 1500*time.Millisecond {
		t.Errorf("info %+v, want the source's 44100 Hz and 2 channels, lasting 1.5s", info)
	}
	path := filepath.Join(opts.Dir, "post-call", "en", "nps.wav")
	a := decodeFile(t, path)
	if a.SampleRate != 8000 || a.Channels != 1 || a.BitsPerSample != 16 || a.Encoding != prompts.EncodingPCM || a.Frames != 12000 {
		t.Errorf("stored as %+v, want 12000 frames of 8 kHz mono 16-bit PCM", a.Format)
	}
	pcm, err := c.PCM(t.Context(), "post-call", "nps", "en", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := amplitude(toFloat(pcm[100:len(pcm)-100]), 1000, 8000); math.Abs(got-0.5) > 0.005 {
		t.Errorf("played back at amplitude %.4f, want 0.5", got)
	}
	// Asterisk plays the stored file itself.
	file, err := c.File(t.Context(), "post-call", "nps", "en", "")
	if err != nil || file != path {
		t.Errorf("File = %q, %v; want %q", file, err, path)
	}
	// A new upload replaces the old one at once, for calls too.
	if _, err := c.Put(t.Context(), "post-call", "nps", "en", bytes.NewReader(pcm16(1, 16000).build(t, sine(500, 16000, 1, 0.5, 0.25, false)))); err != nil {
		t.Fatal(err)
	}
	pcm, err = c.PCM(t.Context(), "post-call", "nps", "en", "")
	if err != nil || len(pcm) != 4000 {
		t.Errorf("after a new upload: %d samples, %v; want the new 0.5 s recording", len(pcm), err)
	}
}

func TestPutStock(t *testing.T) {
	c, opts := newCatalog(t, nil)
	src := wavSpec{tag: 7, channels: 1, rate: 8000, bits: 8, dataSize: -1}.build(t, sine(400, 8000, 1, 0.5, 0.5, false))
	if _, err := c.Put(t.Context(), "", "no_input", "fr", bytes.NewReader(src)); err != nil {
		t.Fatal(err)
	}
	decodeFile(t, filepath.Join(opts.Dir, "_stock", "fr", "no_input.wav"))
}

func TestPutRefuses(t *testing.T) {
	c, opts := newCatalog(t, nil)
	good := pcm16(1, 8000).build(t, sine(400, 8000, 1, 0.5, 0.5, false))
	if _, err := c.Put(t.Context(), "q", "intro", "en", bytes.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	// 64 channels of 32-bit float at 192 kHz: 50 MiB pass in about a second.
	huge := wavSpec{tag: 3, channels: 64, rate: 192000, bits: 32, dataSize: 0xFFFFFFFF}.build(t, nil)
	hugeBody := io.MultiReader(bytes.NewReader(huge), zeros{})
	tests := []struct {
		name                    string
		questionnaire, id, lang string
		body                    io.Reader
		kind                    error
		want                    string
	}{
		{"traversal in questionnaire", "../etc", "intro", "en", bytes.NewReader(good), prompts.ErrName, `questionnaire "../etc" is not valid`},
		{"upper-case questionnaire", "Post", "intro", "en", bytes.NewReader(good), prompts.ErrName, "questionnaire"},
		{"slash in id", "q", "a/b", "en", bytes.NewReader(good), prompts.ErrName, `prompt id "a/b" is not valid`},
		{"id with a digit first", "q", "1st", "en", bytes.NewReader(good), prompts.ErrName, "prompt id"},
		{"language", "q", "intro", "english", bytes.NewReader(good), prompts.ErrName, `language "english" is not valid: use a code such as en, fr or pt-BR`},
		{"language traversal", "q", "intro", "..", bytes.NewReader(good), prompts.ErrName, "language"},
		{"not audio", "q", "intro", "en", strings.NewReader("<html>not audio</html>"), prompts.ErrFormat, "not a WAV file: missing RIFF header"},
		{"mp3", "q", "intro", "en", bytes.NewReader(wavSpec{tag: 0x55, channels: 1, rate: 8000, bits: 16, dataSize: -1}.build(t, make([]float64, 100))), prompts.ErrFormat, "unsupported WAV format 0x55 (MP3); convert to PCM"},
		{"too long", "q", "intro", "en", bytes.NewReader(wavSpec{tag: 7, channels: 1, rate: 8000, bits: 8, dataSize: -1}.build(t, make([]float64, 8000*301))), prompts.ErrTooLong, "lasts 5m1s"},
		{"too large", "q", "intro", "en", hugeBody, prompts.ErrTooLarge, "larger than 50 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Put(t.Context(), tt.questionnaire, tt.id, tt.lang, tt.body)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("error %v, want %v", err, tt.kind)
			}
			if msg := survey.ErrorMessage(err); !strings.Contains(msg, tt.want) || survey.ErrorCodeOf(err) != survey.EInvalid {
				t.Errorf("user sees %q (%s), want %q", msg, survey.ErrorCodeOf(err), tt.want)
			}
		})
	}
	// Nothing refused replaced the good recording, nor escaped the directory.
	a := decodeFile(t, filepath.Join(opts.Dir, "q", "en", "intro.wav"))
	if a.Frames != 4000 {
		t.Errorf("the stored recording changed: %d frames", a.Frames)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(opts.Dir), "etc")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("something was written outside the catalog: %v", err)
	}
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestRecordingPlacedByHand: a file copied into the directory, in any
// format, is played converted; Asterisk gets a converted copy; a change is
// noticed once the catalog looks again.
func TestRecordingPlacedByHand(t *testing.T) {
	c, opts := newCatalog(t, nil)
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	prompts.SetNow(c, func() time.Time { return now })
	path := filepath.Join(opts.Dir, "q", "en", "intro.wav")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pcm16(2, 48000).build(t, sine(1000, 48000, 2, 1, 0.5, false)), 0o644); err != nil {
		t.Fatal(err)
	}
	pcm, err := c.PCM(t.Context(), "q", "intro", "en", "spoken only when there is no recording")
	if err != nil || len(pcm) != 8000 {
		t.Fatalf("PCM: %d samples, %v; want the 1 s recording at 8 kHz", len(pcm), err)
	}
	file, err := c.File(t.Context(), "q", "intro", "en", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(file, opts.CacheDir) || !filepath.IsAbs(file) {
		t.Errorf("File = %s, want an absolute converted copy under %s", file, opts.CacheDir)
	}
	if a := decodeFile(t, file); a.SampleRate != 8000 || a.Channels != 1 || a.Frames != 8000 {
		t.Errorf("converted copy is %+v", a.Format)
	}
	if err := os.WriteFile(path, pcm16(1, 8000).build(t, sine(1000, 8000, 1, 2, 0.5, false)), 0o644); err != nil {
		t.Fatal(err)
	}
	if pcm, _ := c.PCM(t.Context(), "q", "intro", "en", ""); len(pcm) != 8000 {
		t.Errorf("within the recheck interval: %d samples, want the remembered 8000", len(pcm))
	}
	now = now.Add(3 * time.Second)
	if pcm, _ := c.PCM(t.Context(), "q", "intro", "en", ""); len(pcm) != 16000 {
		t.Errorf("after the recheck interval: %d samples, want the new 16000", len(pcm))
	}
	if file, err := c.File(t.Context(), "q", "intro", "en", ""); err != nil || file != path {
		t.Errorf("an 8 kHz mono 16-bit file placed by hand is played as is: File = %q, %v", file, err)
	}
}

// TestRecordingWins: a recording is played even though the prompt has a
// text espeak-ng could say.
func TestRecordingWins(t *testing.T) {
	needESpeak(t)
	c, _ := newCatalog(t, nil)
	src := pcm16(1, 8000).build(t, sine(700, 8000, 1, 0.25, 0.5, false))
	if _, err := c.Put(t.Context(), "q", "thanks", "en", bytes.NewReader(src)); err != nil {
		t.Fatal(err)
	}
	pcm, err := c.PCM(t.Context(), "q", "thanks", "en", "Thank you, goodbye.")
	if err != nil || len(pcm) != 2000 {
		t.Errorf("PCM: %d samples, %v; want the 2000-sample recording", len(pcm), err)
	}
}

func TestSpeech(t *testing.T) {
	needESpeak(t)
	c, opts := newCatalog(t, nil)
	const text = "How likely are you to recommend us to a friend?"
	pcm, err := c.PCM(t.Context(), "post-call", "nps", "en", text)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(len(pcm)) * time.Second / 8000; d < time.Second || d > 10*time.Second {
		t.Errorf("speech lasts %s; want a spoken sentence", d)
	}
	if r := rms(toFloat(pcm)); r < 0.01 {
		t.Errorf("speech RMS %.4f: silence", r)
	}
	again, err := c.PCM(t.Context(), "post-call", "nps", "en", text)
	if err != nil || &again[0] != &pcm[0] {
		t.Errorf("second play not served from memory (%v)", err)
	}
	file, err := c.File(t.Context(), "post-call", "nps", "en", text)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(file, filepath.Join(opts.CacheDir, "speech")+string(filepath.Separator)) {
		t.Errorf("File = %s, want it in the speech cache", file)
	}
	if a := decodeFile(t, file); a.Frames != int64(len(pcm)) || a.SampleRate != 8000 {
		t.Errorf("cached file %+v, want the %d samples at 8 kHz", a.Format, len(pcm))
	}
	// Another catalog over the same directories reads the cache and needs
	// no espeak-ng.
	opts.ESpeak = filepath.Join(t.TempDir(), "no-espeak-here")
	c2, err := prompts.New(opts, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	from, err := c2.PCM(t.Context(), "other", "intro", "en", text)
	if err != nil || !slices.Equal(from, pcm) {
		t.Errorf("from the disk cache: %d samples, %v; want the same %d", len(from), err, len(pcm))
	}
	// The same text in French is other speech.
	fr, err := c.PCM(t.Context(), "post-call", "nps", "fr", text)
	if err != nil || slices.Equal(fr, pcm) {
		t.Errorf("French voice: %v, or the same samples as English", err)
	}
}

// The cache may be emptied at any time (README, config): speech is made
// again, into folders made again.
func TestSpeechAfterCacheEmptied(t *testing.T) {
	needESpeak(t)
	c, opts := newCatalog(t, nil)
	if _, err := c.PCM(t.Context(), "post-call", "intro", "en", "Hello there."); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(opts.CacheDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(opts.CacheDir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if pcm, err := c.PCM(t.Context(), "post-call", "thanks", "en", "Goodbye now."); err != nil || len(pcm) == 0 {
		t.Errorf("speech after the cache was emptied: %d samples, %v", len(pcm), err)
	}
}

// TestSpeechTextIsText: a text that looks like an option is spoken, not
// obeyed (it goes to espeak-ng's stdin).
func TestSpeechTextIsText(t *testing.T) {
	needESpeak(t)
	c, _ := newCatalog(t, nil)
	for _, text := range []string{"--version", "-w /tmp/owned.wav hello", "$(touch /tmp/owned); `id` | true"} {
		pcm, err := c.PCM(t.Context(), "q", "intro", "en", text)
		if err != nil || len(pcm) < 4000 {
			t.Errorf("%q: %d samples, %v; want it spoken", text, len(pcm), err)
		}
	}
	if _, err := os.Stat("/tmp/owned.wav"); err == nil {
		t.Error("a text was taken for an option")
	}
}

// TestSpeechOnce: many calls asking at once for the same missing prompt
// start espeak-ng once.
func TestSpeechOnce(t *testing.T) {
	needESpeak(t)
	dir := t.TempDir()
	count := filepath.Join(dir, "runs")
	wrapper := filepath.Join(dir, "espeak-counting")
	script := fmt.Sprintf("#!/bin/sh\necho run >> %s\nexec espeak-ng \"$@\"\n", count)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c, _ := newCatalog(t, func(o *prompts.Options) { o.ESpeak = wrapper })
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			text := "Thank you for calling."
			if i%2 == 1 {
				text = "Please press one for yes."
			}
			if _, err := c.PCM(t.Context(), "q", "thanks", "en", text); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	b, err := os.ReadFile(count)
	if err != nil {
		t.Fatal(err)
	}
	if runs := strings.Count(string(b), "run"); runs != 2 {
		t.Errorf("espeak-ng ran %d times for 2 texts asked by 64 calls", runs)
	}
}

func TestSpeechErrors(t *testing.T) {
	needESpeak(t)
	c, _ := newCatalog(t, func(o *prompts.Options) { o.Voices = map[string]string{"en": "zz"} })
	_, err := c.PCM(t.Context(), "q", "intro", "en", "hello")
	if err == nil || !strings.Contains(err.Error(), "voice does not exist") {
		t.Errorf("unknown voice: %v; want espeak-ng's message", err)
	}
	_, err = c.PCM(t.Context(), "q", "intro", "fr", "")
	if !errors.Is(err, prompts.ErrNoAudio) {
		t.Errorf("no recording, no text: %v; want ErrNoAudio", err)
	}
	missing, _ := newCatalog(t, func(o *prompts.Options) { o.ESpeak = "/nonexistent/espeak-ng" })
	_, err = missing.PCM(t.Context(), "q", "intro", "en", "hello")
	if !errors.Is(err, prompts.ErrNoSpeech) || !strings.Contains(err.Error(), "Debian package espeak-ng") {
		t.Errorf("no espeak-ng: %v; want ErrNoSpeech naming the package", err)
	}
	if err := missing.SpeechAvailable(); !errors.Is(err, prompts.ErrNoSpeech) {
		t.Errorf("SpeechAvailable = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.PCM(ctx, "q", "intro", "de", "Guten Tag"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: %v", err)
	}
}

// TestBrokenRecording: a damaged file placed by hand does not silence the
// prompt when it has a text; without one, the error says what is wrong.
func TestBrokenRecording(t *testing.T) {
	needESpeak(t)
	c, opts := newCatalog(t, nil)
	path := filepath.Join(opts.Dir, "q", "en", "nps.wav")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	good := pcm16(1, 8000).build(t, sine(400, 8000, 1, 1, 0.5, false))
	if err := os.WriteFile(path, good[:len(good)/2], 0o644); err != nil { // truncated
		t.Fatal(err)
	}
	pcm, err := c.PCM(t.Context(), "q", "nps", "en", "Rate us from zero to ten.")
	if err != nil || len(pcm) == 4000 {
		t.Errorf("broken recording with a text: %d samples, %v; want speech", len(pcm), err)
	}
	if _, err := c.PCM(t.Context(), "q", "nps", "en", ""); err == nil || !strings.Contains(err.Error(), "truncated WAV") {
		t.Errorf("broken recording without a text: %v; want the decoder's reason", err)
	}
	if _, err := c.File(t.Context(), "q", "nps", "en", ""); err == nil || !strings.Contains(err.Error(), "truncated WAV") {
		t.Errorf("File of a broken recording without a text: %v", err)
	}
}

func TestRecordings(t *testing.T) {
	c, opts := newCatalog(t, nil)
	path, err := c.RecordingPath("why-1712345678")
	if err != nil || path != filepath.Join(opts.RecordingsDir, "why-1712345678.wav") {
		t.Fatalf("RecordingPath = %q, %v", path, err)
	}
	if err := os.WriteFile(path, []byte("RIFF"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := c.OpenRecording("why-1712345678")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, name := range []string{"", "../x", "a/b", ".hidden", "a..b", strings.Repeat("x", 200), "a\x00b"} {
		if _, err := c.RecordingPath(name); !errors.Is(err, prompts.ErrName) {
			t.Errorf("RecordingPath(%q) = %v, want ErrName", name, err)
		}
	}
	if _, err := c.OpenRecording("nobody"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unknown recording: %v, want fs.ErrNotExist", err)
	}
}

// BenchmarkPCMCached is a call playing a prompt the catalog already holds:
// what every prompt of every call costs once the catalog is warm.
func BenchmarkPCMCached(b *testing.B) {
	c, _ := newCatalog(b, nil)
	src := pcm16(1, 8000).build(b, sine(400, 8000, 1, 3, 0.5, false))
	if _, err := c.Put(context.Background(), "post-call", "nps", "en", bytes.NewReader(src)); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.PCM(context.Background(), "post-call", "nps", "en", "text"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPCMSpeechCached plays a synthesized prompt once it is cached.
func BenchmarkPCMSpeechCached(b *testing.B) {
	needESpeak(b)
	c, _ := newCatalog(b, nil)
	const text = "Thank you, your answers have been recorded. Goodbye."
	if _, err := c.PCM(context.Background(), "post-call", "thanks", "en", text); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.PCM(context.Background(), "post-call", "thanks", "en", text); err != nil {
				b.Fatal(err)
			}
		}
	})
}
