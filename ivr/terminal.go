package ivr

// This file is the terminal Channel behind `canvass survey try`: prompts are
// printed, and each line read stands for what the caller keyed during one
// gather. Time does not pass in a terminal, so the end of a line is the
// timeout: digits without "#" are the partial entry a timeout would return.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Terminal is a Channel on a text stream.
type Terminal struct {
	in    *bufio.Scanner
	out   io.Writer
	ahead string // keys typed beyond the last entry: type-ahead for the next
	now   func() time.Time
}

// NewTerminal reads key lines from r and writes prompts to w.
func NewTerminal(r io.Reader, w io.Writer, now func() time.Time) *Terminal {
	if now == nil {
		now = time.Now
	}
	return &Terminal{in: bufio.NewScanner(r), out: w, now: now}
}

var _ Channel = (*Terminal)(nil)

// Say prints a prompt.
func (t *Terminal) Say(ctx context.Context, p Prompt) error {
	_, err := fmt.Fprintf(t.out, "  %s\n", p.Text)
	return err
}

// line reads the next line; end of input is a hangup.
func (t *Terminal) line() (string, error) {
	if !t.in.Scan() {
		if err := t.in.Err(); err != nil {
			return "", err
		}
		return "", ErrHangup
	}
	s := strings.TrimSpace(t.in.Text())
	if strings.EqualFold(s, "hangup") {
		return "", ErrHangup
	}
	return s, nil
}

// Ask prints the prompt and the keys it takes, then consumes keys: those
// left over from the previous line first, else one new line.
func (t *Terminal) Ask(ctx context.Context, spec GatherSpec, ps ...Prompt) (Input, error) {
	in := Input{PromptStart: t.now()}
	for _, p := range ps[:max(len(ps)-1, 0)] {
		fmt.Fprintf(t.out, "  %s\n", p.Text)
	}
	p := ps[len(ps)-1]
	hint := fmt.Sprintf("%d digit", spec.MaxDigits)
	if spec.MaxDigits > 1 {
		hint = fmt.Sprintf("%d to %d digits", spec.MinDigits, spec.MaxDigits)
	}
	fmt.Fprintf(t.out, "? %s\n  [%s, # to finish, * to repeat, empty line = no input, hangup]\n", p.Text, hint)
	keys := t.ahead
	t.ahead = ""
	if keys == "" {
		var err error
		if keys, err = t.line(); err != nil {
			return in, err
		}
	}
	keys = strings.ReplaceAll(keys, " ", "")
	for i, k := range keys {
		in.Raw += string(k)
		switch {
		case k == '*':
			in.Repeat, in.Digits = true, ""
			t.ahead = keys[i+1:]
			return in, nil
		case k == '#':
			t.ahead = keys[i+1:]
			return in, nil
		default:
			// Not a keypad key: kept so the entry is a no-match, as a
			// garbled tone would be.
			in.Digits += string(k)
			if len(in.Digits) == spec.MaxDigits && spec.MaxDigits > 0 {
				// A full entry ends the gather; a "#" right after it is
				// still part of this entry.
				rest := keys[i+1:]
				if strings.HasPrefix(rest, "#") {
					in.Raw += "#"
					rest = rest[1:]
				}
				t.ahead = rest
				return in, nil
			}
		}
	}
	return in, nil
}

// Record cannot record in a terminal: it reads one line (so a script can
// hang up during the comment) and reports ErrCannotRecord.
func (t *Terminal) Record(ctx context.Context, p Prompt, spec RecordSpec) (Recording, error) {
	fmt.Fprintf(t.out, "? %s\n  [voice comment: a terminal cannot record; Enter to go on, or hangup]\n", p.Text)
	t.ahead = ""
	if _, err := t.line(); err != nil {
		return Recording{}, err
	}
	return Recording{}, ErrCannotRecord
}

// Hangup prints the end of the call.
func (t *Terminal) Hangup(ctx context.Context) error {
	_, err := fmt.Fprintln(t.out, "  (call ended)")
	return err
}
