package prompts

// This file is the speech fallback: a prompt with no recording is spoken by
// espeak-ng (run directly, the text on its stdin — never through a shell, and
// never as an argument it could take for an option), converted to 8 kHz,
// and cached on disk under a hash of the voice and the text, so that piped
// texts ("Hello {{contact.first_name}}") each get their own file.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const (
	// speechVersion is part of every cache key: change it when the way
	// speech is made changes, and old cache files stop being used.
	speechVersion = "espeak-ng/1"
	// maxSpeechBytes bounds a text to synthesize (a prompt, not a book).
	maxSpeechBytes = 4000
	// speechTimeout bounds one espeak-ng run.
	speechTimeout = time.Minute
)

// voice returns the espeak-ng voice for a language.
func (c *Catalog) voice(lang string) string {
	if v, ok := c.opts.Voices[lang]; ok {
		return v
	}
	return strings.ToLower(lang)
}

// speechFile returns where the speech of text in voice is cached.
func (c *Catalog) speechFile(voice, text string) string {
	return filepath.Join(c.opts.CacheDir, "speech", hashKey(speechVersion, voice, text)+".wav")
}

// hashKey is a file name for a tuple of strings.
func hashKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// speech returns text spoken in lang's voice, and the file that caches it.
func (c *Catalog) speech(ctx context.Context, lang, text string) ([]int16, string, error) {
	if strings.TrimSpace(text) == "" {
		return nil, "", problemf(ErrNoAudio, "no recording and no text to synthesize")
	}
	if len(text) > maxSpeechBytes {
		return nil, "", problemf(ErrNoAudio, "the text is %d bytes; speech is synthesized for at most %d", len(text), maxSpeechBytes)
	}
	voice := c.voice(lang)
	file := c.speechFile(voice, text)
	key := "tts\x00" + filepath.Base(file)
	if pcm, ok := c.memory.get(key); ok {
		return pcm, file, nil
	}
	pcm, err := flight(ctx, &c.loads, key, func(ctx context.Context) ([]int16, error) {
		pcm, err := readWAVFile(file)
		if err == nil {
			c.memory.add(key, pcm)
			return pcm, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("cached speech unreadable; synthesizing it again", "file", file, "err", err)
		}
		if pcm, err = c.synthesize(ctx, voice, text); err != nil {
			return nil, err
		}
		if err := writeWAVFile(file, pcm); err != nil {
			// Calls can go on from memory; Asterisk needs the file (File
			// tries again).
			c.log.Warn("cannot cache synthesized speech", "err", err)
		}
		c.memory.add(key, pcm)
		return pcm, nil
	})
	return pcm, file, err
}

// synthesize runs espeak-ng and converts what it says to 8 kHz.
func (c *Catalog) synthesize(ctx context.Context, voice, text string) ([]int16, error) {
	bin, err := exec.LookPath(c.opts.ESpeak)
	if err != nil {
		return nil, speechError(c.opts.ESpeak, err)
	}
	select {
	case c.speakers <- struct{}{}:
		defer func() { <-c.speakers }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// The cache may have been emptied since New made the folder.
	dir := filepath.Join(c.opts.CacheDir, "speech")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("synthesize: %w", err)
	}
	out, err := os.CreateTemp(dir, ".espeak-*.wav")
	if err != nil {
		return nil, fmt.Errorf("synthesize: %w", err)
	}
	tmp := out.Name()
	defer os.Remove(tmp)
	if err := out.Close(); err != nil {
		return nil, fmt.Errorf("synthesize: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, speechTimeout)
	defer cancel()
	start := time.Now()
	// -b 1: the text is UTF-8; --stdin: read it from stdin, so that a text
	// starting with "-" is still just text.
	cmd := exec.CommandContext(ctx, bin, "-v", voice, "-b", "1", "-w", tmp, "--stdin")
	cmd.Stdin = strings.NewReader(text)
	var stderr capped
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("synthesize with %s -v %s: %s (%w)", bin, voice, msg, err)
	}
	pcm, err := readWAVFile(tmp)
	if err != nil {
		return nil, fmt.Errorf("synthesize with %s -v %s: reading its output: %w", bin, voice, err)
	}
	c.log.Debug("speech synthesized", "voice", voice, "chars", len(text), "took", time.Since(start),
		"duration", time.Duration(len(pcm))*time.Second/Rate)
	return pcm, nil
}

// capped keeps the first few KiB written to it (a child's stderr).
type capped struct{ bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := 4096 - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// SpeechAvailable reports whether prompts without a recording can be
// synthesized, and if not, why.
func (c *Catalog) SpeechAvailable() error {
	if _, err := exec.LookPath(c.opts.ESpeak); err != nil {
		return speechError(c.opts.ESpeak, err)
	}
	return nil
}
