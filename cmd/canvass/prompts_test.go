package main

// Tests of `canvass prompts check`, called directly with the catalog's
// options (the dispatch from the command line is main.go's).

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/canvass/canvass/prompts"
)

// promptOptions points a catalog at fresh directories.
func promptOptions(t *testing.T) prompts.Options {
	t.Helper()
	dir := t.TempDir()
	opts := prompts.DefaultOptions()
	opts.Dir, opts.CacheDir, opts.RecordingsDir = filepath.Join(dir, "p"), filepath.Join(dir, "c"), filepath.Join(dir, "r")
	return opts
}

// promptsRow finds the table line of a prompt and returns its status column.
func promptsRow(t *testing.T, out, prompt, lang string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(prompt) + `\s+` + lang + `\s+(\S+(?: \([a-z ]+\))?)`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no line for %s %s in:\n%s", prompt, lang, out)
	}
	return m[1]
}

// promptsSilence is a WAV of n samples of 8 kHz silence.
func promptsSilence(n int) []byte {
	var b bytes.Buffer
	if err := prompts.EncodeWAV(&b, make([]int16, n)); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func TestPromptsCheck(t *testing.T) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Fatal("espeak-ng is not installed, and this test checks prompts that it synthesizes; `make test` installs it (Debian package espeak-ng)")
	}
	opts := promptOptions(t)
	c, err := prompts.New(opts, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(context.Background(), "post-call", "nps", "fr", bytes.NewReader(promptsSilence(800))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PCM(context.Background(), "post-call", "thanks", "en", "Thank you, your answers have been recorded. Goodbye."); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := promptsCheck([]string{postCall}, opts, &out); err != nil {
		t.Fatalf("nothing is missing, yet: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []struct{ prompt, lang, status string }{
		{"post-call/nps", "fr", "recorded"},
		{"post-call/nps", "en", "synthesized"},
		{"post-call/thanks", "en", "synthesized (cached)"},
		{"(stock)/language_menu.2", "fr", "synthesized"},
		{"(stock)/apology", "en", "synthesized"},
	} {
		if s := promptsRow(t, got, want.prompt, want.lang); s != want.status {
			t.Errorf("%s %s: %q, want %q", want.prompt, want.lang, s, want.status)
		}
	}
	if !strings.HasPrefix(got, "PROMPT") || !strings.Contains(got, "28 prompts: 1 recorded, 27 synthesized") {
		t.Errorf("table header or summary missing:\n%s", got)
	}
}

func TestPromptsCheckMissing(t *testing.T) {
	opts := promptOptions(t)
	opts.ESpeak = filepath.Join(t.TempDir(), "no-espeak")
	var out bytes.Buffer
	err := promptsCheck([]string{postCall}, opts, &out)
	var exit exitError
	if !errors.As(err, &exit) || exit != 1 {
		t.Fatalf("missing prompts: %v, want exit status 1", err)
	}
	if s := promptsRow(t, out.String(), "post-call/intro", "en"); s != "missing" {
		t.Errorf("intro en: %q, want missing", s)
	}
	if !strings.Contains(out.String(), "28 prompts: 28 missing") || !strings.Contains(out.String(), "Debian package espeak-ng") {
		t.Errorf("the report does not say what is missing and why:\n%s", out.String())
	}
}

func TestPromptsCheckPiped(t *testing.T) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Fatal("espeak-ng is not installed; `make test` installs it (Debian package espeak-ng)")
	}
	file := filepath.Join(t.TempDir(), "piped.yaml")
	promptsWriteFile(t, file, "id: piped\nlanguages: [en]\nmodes: [ivr]\ncontact: [first_name]\n"+
		"intro: \"Hello {{contact.first_name}}.\"\nquestions:\n  - id: ok\n    type: yes_no\n    text: \"Press 1 for yes.\"\n")
	var out bytes.Buffer
	if err := promptsCheck([]string{file}, promptOptions(t), &out); err != nil {
		t.Fatal(err)
	}
	if s := promptsRow(t, out.String(), "piped/intro", "en"); s != "piped (per call)" {
		t.Errorf("piped intro: %q\n%s", s, out.String())
	}
}

func TestPromptsCheckRefuses(t *testing.T) {
	opts := promptOptions(t)
	if err := promptsCheck(nil, opts, &bytes.Buffer{}); !errors.Is(err, errUsage) {
		t.Errorf("no FILE: %v, want a usage error", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	promptsWriteFile(t, bad, "id: bad\nquestions:\n  - id: q\n    type: nps\n")
	var out bytes.Buffer
	err := promptsCheck([]string{bad}, opts, &out)
	var exit exitError
	if !errors.As(err, &exit) || !strings.Contains(out.String(), bad+":") {
		t.Errorf("a questionnaire with problems: %v, output %q; want its problems and exit status 1", err, out.String())
	}
	out.Reset()
	if err := promptsCheck([]string{"../../testdata/questionnaires/customer-study.yaml"}, opts, &out); err != nil ||
		!strings.Contains(out.String(), "does not run by keypad") {
		t.Errorf("CATI-only questionnaire: %v, %q", err, out.String())
	}
}

func promptsWriteFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
