package prompts

// This file is how the catalog fails: a sentinel per kind of problem, for
// errors.Is, carried by a survey.Error whose message a user can act on (the
// API shows it as is), while callers add context for the logs.

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"

	"github.com/canvass/canvass/survey"
)

// Kinds of problem, for errors.Is.
var (
	// ErrFormat: the audio is not a WAV the decoder reads (not WAV at all,
	// an unsupported encoding, or a damaged header or data).
	ErrFormat = errors.New("unreadable audio")
	// ErrTooLong: the audio lasts longer than MaxDuration.
	ErrTooLong = errors.New("audio too long")
	// ErrTooLarge: the upload is bigger than MaxUploadBytes.
	ErrTooLarge = errors.New("upload too large")
	// ErrName: a questionnaire, prompt, language or recording name is not
	// one the catalog accepts (it would not be a safe file name).
	ErrName = errors.New("invalid name")
	// ErrNoAudio: the prompt has no recording and no text to synthesize.
	ErrNoAudio = errors.New("nothing to play")
	// ErrNoSpeech: speech synthesis is unavailable (espeak-ng missing).
	ErrNoSpeech = errors.New("speech synthesis unavailable")
)

// problem is a user-facing error of some kind: its message is the
// survey.Error's (code EInvalid), and errors.Is finds its kind.
type problem struct {
	kind error
	msg  *survey.Error
}

func (p *problem) Error() string   { return p.msg.Message }
func (p *problem) Unwrap() []error { return []error{p.kind, p.msg} }

// problemf returns a user-facing error of the given kind.
func problemf(kind error, format string, args ...any) error {
	return &problem{kind: kind, msg: survey.Errorf(survey.EInvalid, format, args...)}
}

// formatError is a problem with the audio itself.
func formatError(format string, args ...any) error {
	return problemf(ErrFormat, format, args...)
}

// nameError says which name is wrong and what it must look like.
func nameError(what, name, want string) error {
	if len(name) > 64 {
		name = name[:64] + "…"
	}
	return problemf(ErrName, "%s %q is not valid: %s", what, name, want)
}

// speechError reports that espeak-ng cannot be run, and what to do.
func speechError(binary string, err error) error {
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s is not installed; install the Debian package espeak-ng, or record the prompt", ErrNoSpeech, binary)
	}
	return fmt.Errorf("%w: %s cannot be run (%v); install the Debian package espeak-ng, or record the prompt", ErrNoSpeech, binary, err)
}
