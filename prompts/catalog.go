package prompts

// This file is the catalog itself: its options (the prompts section of the
// configuration), where prompts live on disk, and the ways in and out —
// samples for the embedded SIP endpoint (PCM), a file for Asterisk (File),
// an upload (Put), and the voice answers callers leave (RecordingPath).
//
// On disk, under Dir, every recording is stored already converted to 8 kHz
// mono 16-bit PCM:
//
//	Dir/<questionnaire>/<lang>/<prompt id>.wav   a questionnaire's prompts
//	Dir/_stock/<lang>/<id>.wav                   stock phrases (no_input, apology, …)
//
// A recording always wins; a prompt without one is spoken by espeak-ng and
// kept in CacheDir/speech, named by a hash of (voice, text).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Options is the prompts section of the configuration.
type Options struct {
	// Dir holds the recordings of prompts (see the layout above). Asterisk
	// must be able to read it when prompts are played as files.
	Dir string `yaml:"dir"`
	// CacheDir holds synthesized speech and converted copies; it may be
	// emptied at any time.
	CacheDir string `yaml:"cache_dir"`
	// RecordingsDir holds the voice answers callers leave.
	RecordingsDir string `yaml:"recordings_dir"`
	// Voices maps a language to an espeak-ng voice; by default the voice is
	// the language code (en, fr, pt-br…).
	Voices map[string]string `yaml:"voices"`
	// ESpeak is the espeak-ng binary, a name looked up on PATH or a path.
	ESpeak string `yaml:"espeak"`
}

// DefaultOptions keeps everything under prompts-data/ in the working
// directory.
func DefaultOptions() Options {
	return Options{
		Dir:           filepath.Join("prompts-data", "prompts"),
		CacheDir:      filepath.Join("prompts-data", "cache"),
		RecordingsDir: filepath.Join("prompts-data", "recordings"),
		ESpeak:        "espeak-ng",
	}
}

// within reports whether path is dir or lies below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// Validate returns every problem of o at once, each naming its field.
func (o Options) Validate() error {
	var errs []error
	for _, d := range []struct{ name, v string }{{"dir", o.Dir}, {"cache_dir", o.CacheDir}, {"recordings_dir", o.RecordingsDir}} {
		if strings.TrimSpace(d.v) == "" {
			errs = append(errs, fmt.Errorf("prompts.%s: must not be empty", d.name))
		}
	}
	for _, d := range []struct{ name, v string }{{"dir", o.Dir}, {"recordings_dir", o.RecordingsDir}} {
		if o.CacheDir != "" && d.v != "" && within(d.v, o.CacheDir) {
			errs = append(errs, fmt.Errorf("prompts.cache_dir: must not hold prompts.%s (%s): the cache may be emptied, recordings may not", d.name, d.v))
		}
	}
	if o.ESpeak == "" {
		errs = append(errs, errors.New("prompts.espeak: must not be empty (the espeak-ng binary, by default espeak-ng)"))
	}
	for lang, voice := range o.Voices {
		if !langPattern.MatchString(lang) {
			errs = append(errs, fmt.Errorf("prompts.voices: %q is not a language code such as en, fr or pt-BR", lang))
		}
		if !voicePattern.MatchString(voice) {
			errs = append(errs, fmt.Errorf("prompts.voices: voice %q for %s is not an espeak-ng voice name (see espeak-ng --voices)", voice, lang))
		}
	}
	return errors.Join(errs...)
}

// Limits.
const (
	// MaxDuration is the longest prompt the catalog accepts.
	MaxDuration = 5 * time.Minute
	// MaxUploadBytes bounds an uploaded WAV.
	MaxUploadBytes = 50 << 20
	// memorySamples bounds the samples kept in memory: 64 MiB of 16-bit
	// audio, over two hours of prompts.
	memorySamples = 64 << 20 / 2
	// recheck is how long a look for a recording on disk is trusted; a file
	// placed by hand is picked up within it (uploads at once).
	recheck = 2 * time.Second
	// maxLookups bounds the remembered looks; past it they start over.
	maxLookups = 1 << 14
	stockDir   = "_stock"
)

// Names as the catalog accepts them: safe as path elements by construction.
var (
	questionnairePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	promptPattern        = regexp.MustCompile(`^[a-z][a-z0-9_.]{0,127}$`)
	langPattern          = regexp.MustCompile(`^[a-z]{2,3}(-[A-Z]{2})?$`)
	recordingPattern     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)
	voicePattern         = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_+./-]{0,63}$`)
)

// Catalog finds, converts, synthesizes and caches prompts. It is safe for
// concurrent use. Build one with New.
type Catalog struct {
	opts     Options // directories absolute
	log      *slog.Logger
	now      func() time.Time
	memory   *lru
	loads    singleflight.Group
	speakers chan struct{} // bounds concurrent espeak-ng processes

	mu      sync.Mutex
	lookups map[string]lookup // by recording path
	gen     uint64
}

// lookup is what the catalog last saw at a recording's path.
type lookup struct {
	exists  bool
	mod     time.Time
	size    int64
	gen     uint64 // changes whenever the file does; keys the samples in memory
	native  bool   // already 8 kHz mono 16-bit PCM: Asterisk can play it as is
	broken  error  // the file cannot be decoded
	checked time.Time
}

func (l lookup) key() string { return "rec\x00" + strconv.FormatUint(l.gen, 10) }

// New returns a catalog over opts, creating its directories.
func New(opts Options, log *slog.Logger) (*Catalog, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	for _, p := range []*string{&opts.Dir, &opts.CacheDir, &opts.RecordingsDir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, fmt.Errorf("prompts: %w", err)
		}
		*p = abs
	}
	for _, d := range []string{opts.Dir, filepath.Join(opts.CacheDir, "speech"), filepath.Join(opts.CacheDir, "recorded"), opts.RecordingsDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("prompts: %w", err)
		}
	}
	if _, err := exec.LookPath(opts.ESpeak); err != nil {
		log.Warn("speech synthesis unavailable: prompts without a recording cannot be played; install the Debian package espeak-ng",
			"espeak", opts.ESpeak, "err", err)
	}
	return &Catalog{
		opts:     opts,
		log:      log,
		now:      time.Now,
		memory:   newLRU(memorySamples),
		speakers: make(chan struct{}, 4),
		lookups:  map[string]lookup{},
	}, nil
}

// promptName is how messages name a prompt: questionnaire/lang/id.
func promptName(questionnaire, id, lang string) string {
	if questionnaire == "" {
		questionnaire = stockDir
	}
	return questionnaire + "/" + lang + "/" + id
}

// path returns where the recording of a prompt lives.
func (c *Catalog) path(questionnaire, id, lang string) (string, error) {
	dir := stockDir
	if questionnaire != "" {
		if !questionnairePattern.MatchString(questionnaire) {
			return "", nameError("questionnaire", questionnaire, "use lower-case letters, digits and -")
		}
		dir = questionnaire
	}
	if !promptPattern.MatchString(id) {
		return "", nameError("prompt id", id, "use lower-case letters, digits, _ and ., starting with a letter")
	}
	if !langPattern.MatchString(lang) {
		return "", nameError("language", lang, "use a code such as en, fr or pt-BR")
	}
	return filepath.Join(c.opts.Dir, dir, lang, id+".wav"), nil
}

// look returns what is at a recording's path, from memory when it was
// looked at less than recheck ago.
func (c *Catalog) look(path string) (lookup, error) {
	now := c.now()
	c.mu.Lock()
	prev, seen := c.lookups[path]
	c.mu.Unlock()
	if seen && now.Sub(prev.checked) < recheck && !now.Before(prev.checked) {
		return prev, nil
	}
	l := lookup{checked: now}
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.Mode().IsRegular():
		l.exists, l.mod, l.size = true, fi.ModTime(), fi.Size()
	case err == nil, errors.Is(err, fs.ErrNotExist):
	default:
		return l, fmt.Errorf("look for recording %s: %w", path, err)
	}
	if seen && prev.exists == l.exists && prev.mod.Equal(l.mod) && prev.size == l.size {
		l.gen, l.native, l.broken = prev.gen, prev.native, prev.broken
	} else if l.exists {
		l.native, l.broken = readHeader(path)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.gen == 0 {
		c.gen++
		l.gen = c.gen
	}
	if len(c.lookups) >= maxLookups {
		clear(c.lookups)
	}
	c.lookups[path] = l
	return l, nil
}

// readHeader reports whether a recording is stored as the catalog stores
// them, or why it cannot be read.
func readHeader(path string) (native bool, broken error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	d, err := newWAVReader(f)
	if err != nil {
		return false, err
	}
	fm := d.format
	return fm.Encoding == EncodingPCM && fm.SampleRate == Rate && fm.Channels == 1 && fm.BitsPerSample == 16 && fm.Frames > 0, nil
}

// markBroken remembers that the recording l describes cannot be decoded, so
// that calls stop trying until the file changes.
func (c *Catalog) markBroken(path string, l lookup, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.lookups[path]; ok && cur.gen == l.gen {
		cur.broken = err
		c.lookups[path] = cur
	}
}

// forget drops what the catalog knows of a recording, after it changed.
func (c *Catalog) forget(path string) {
	c.mu.Lock()
	l, ok := c.lookups[path]
	delete(c.lookups, path)
	c.mu.Unlock()
	if ok {
		c.memory.remove(l.key())
	}
}

// PCM returns a prompt as 8 kHz mono 16-bit samples: its recording when
// there is one, else text spoken by espeak-ng. questionnaire is "" for stock
// phrases. The slice is shared with other callers: do not modify it.
func (c *Catalog) PCM(ctx context.Context, questionnaire, id, lang, text string) ([]int16, error) {
	name := promptName(questionnaire, id, lang)
	path, err := c.path(questionnaire, id, lang)
	if err != nil {
		return nil, fmt.Errorf("prompt %s: %w", name, err)
	}
	l, err := c.look(path)
	if err != nil {
		return nil, fmt.Errorf("prompt %s: %w", name, err)
	}
	if l.exists {
		pcm, err := c.recorded(ctx, path, l)
		if err == nil {
			return pcm, nil
		}
		if text == "" || ctx.Err() != nil {
			return nil, fmt.Errorf("prompt %s: %w", name, err)
		}
	}
	pcm, _, err := c.speech(ctx, lang, text)
	if err != nil {
		return nil, fmt.Errorf("prompt %s: %w", name, err)
	}
	return pcm, nil
}

// recorded returns the samples of the recording l found at path.
func (c *Catalog) recorded(ctx context.Context, path string, l lookup) ([]int16, error) {
	if l.broken != nil {
		return nil, fmt.Errorf("recording %s cannot be read: %w", path, l.broken)
	}
	key := l.key()
	if pcm, ok := c.memory.get(key); ok {
		return pcm, nil
	}
	return flight(ctx, &c.loads, key, func(ctx context.Context) ([]int16, error) {
		pcm, err := readWAVFile(path)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				c.markBroken(path, l, err)
				c.log.Warn("recording cannot be read; its prompt will be synthesized", "file", path, "err", err)
			}
			return nil, fmt.Errorf("recording %s cannot be read: %w", path, err)
		}
		c.memory.add(key, pcm)
		return pcm, nil
	})
}

// readWAVFile converts a WAV file of any supported format to 8 kHz mono.
func readWAVFile(path string) ([]int16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pcm, _, err := ConvertWAV(f, MaxDuration)
	return pcm, err
}

// File returns the absolute path of an 8 kHz mono 16-bit WAV file of the
// prompt, for players that read files (Asterisk's sound:/path, without the
// extension). The file is the recording itself when it is stored in that
// format, else a converted copy or synthesized speech in the cache.
func (c *Catalog) File(ctx context.Context, questionnaire, id, lang, text string) (string, error) {
	name := promptName(questionnaire, id, lang)
	path, err := c.path(questionnaire, id, lang)
	if err != nil {
		return "", fmt.Errorf("prompt %s: %w", name, err)
	}
	l, err := c.look(path)
	if err != nil {
		return "", fmt.Errorf("prompt %s: %w", name, err)
	}
	if l.exists && l.broken == nil && l.native {
		return path, nil
	}
	if l.exists && l.broken == nil {
		// Placed by hand in another format: play a converted copy.
		conv := filepath.Join(c.opts.CacheDir, "recorded", hashKey(path, l.mod.String(), strconv.FormatInt(l.size, 10))+".wav")
		if _, err := os.Stat(conv); err == nil {
			return conv, nil
		}
		pcm, err := c.recorded(ctx, path, l)
		if err == nil {
			if err := writeWAVFile(conv, pcm); err != nil {
				return "", fmt.Errorf("prompt %s: %w", name, err)
			}
			return conv, nil
		}
		if text == "" || ctx.Err() != nil {
			return "", fmt.Errorf("prompt %s: %w", name, err)
		}
	}
	if l.exists && l.broken != nil && text == "" {
		return "", fmt.Errorf("prompt %s: recording %s cannot be read: %w", name, path, l.broken)
	}
	pcm, file, err := c.speech(ctx, lang, text)
	if err != nil {
		return "", fmt.Errorf("prompt %s: %w", name, err)
	}
	if _, err := os.Stat(file); err != nil {
		// The cache was emptied under us, or could not be written: write
		// it again from memory.
		if err := writeWAVFile(file, pcm); err != nil {
			return "", fmt.Errorf("prompt %s: %w", name, err)
		}
	}
	return file, nil
}

// Put stores a recording of a prompt from a WAV of any supported format,
// converted once to 8 kHz mono 16-bit, replacing any earlier one. Uploads
// over MaxUploadBytes or longer than MaxDuration are refused; the errors
// carry a message for the uploader (ErrFormat, ErrTooLong, ErrTooLarge,
// ErrName).
func (c *Catalog) Put(ctx context.Context, questionnaire, id, lang string, r io.Reader) (Info, error) {
	name := promptName(questionnaire, id, lang)
	path, err := c.path(questionnaire, id, lang)
	if err != nil {
		return Info{}, fmt.Errorf("prompt %s: %w", name, err)
	}
	pcm, info, err := ConvertWAV(&limitReader{r: r, left: MaxUploadBytes}, MaxDuration)
	if err != nil {
		return info, fmt.Errorf("prompt %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return info, fmt.Errorf("prompt %s: %w", name, err)
	}
	if err := writeWAVFile(path, pcm); err != nil {
		return info, fmt.Errorf("prompt %s: %w", name, err)
	}
	c.forget(path)
	if l, err := c.look(path); err == nil && l.exists {
		c.memory.add(l.key(), pcm) // the next call plays it without reading it back
	}
	c.log.Info("prompt recorded", "prompt", name, "duration", info.Duration,
		"source_rate", info.SampleRate, "source_channels", info.Channels, "source_encoding", info.Encoding.String())
	return info, nil
}

// limitReader fails with ErrTooLarge once more than left bytes are read.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, tooLarge()
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	if l.left -= int64(n); l.left < 0 {
		return n, tooLarge()
	}
	return n, err
}

func tooLarge() error {
	return problemf(ErrTooLarge, "the upload is larger than %d MiB; send a shorter recording, or a mono, 16-bit, 8 or 16 kHz one", MaxUploadBytes>>20)
}

// writeWAVFile writes samples as a WAV at path atomically: a reader (a call,
// Asterisk) sees the old file or the new one, never half of one.
func writeWAVFile(path string, pcm []int16) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, ".tmp-*.wav")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	err = EncodeWAV(f, pcm)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644) // Asterisk may run as another user
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		if rerr := os.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// RecordingPath returns where the voice answer called name is kept
// (RecordingsDir/<name>.wav); the SIP endpoint writes it there.
func (c *Catalog) RecordingPath(name string) (string, error) {
	if !recordingPattern.MatchString(name) || strings.Contains(name, "..") {
		return "", nameError("recording", name, "use letters, digits, _, . and -, starting with a letter or digit")
	}
	return filepath.Join(c.opts.RecordingsDir, name+".wav"), nil
}

// OpenRecording opens the voice answer called name. An unknown name returns
// an error wrapping fs.ErrNotExist; an invalid one, ErrName.
func (c *Catalog) OpenRecording(name string) (*os.File, error) {
	path, err := c.RecordingPath(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open recording %s: %w", name, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open recording %s: %w", name, err), f.Close())
	}
	return f, nil
}
