package ivr

// This file holds the gather semantics of DESIGN.md §3, once for every
// telephony adapter: NewCall turns an adapter's Media (audio out, keys in)
// into a Channel. Timers are plain time.Timer, so tests run them under
// testing/synctest.

import (
	"context"
	"errors"
	"time"
)

// call is a Channel over Media.
type call struct {
	m     Media
	now   func() time.Time
	ahead []Key // type-ahead: keys pressed but not yet part of an entry
	// full is set when the last entry ended at its maximum length: a "#"
	// right after it ("10#", as prompts invite) still belongs to it.
	full bool
}

// NewCall returns the Channel for an answered call.
func NewCall(m Media, now func() time.Time) Channel {
	if now == nil {
		now = time.Now
	}
	return &call{m: m, now: now}
}

// play plays p until it ends; keys pressed meanwhile are kept as type-ahead.
func (c *call) play(ctx context.Context, p Prompt) error {
	pb, err := c.m.Play(ctx, p)
	if err != nil {
		return err
	}
	for {
		select {
		case err := <-pb.Done():
			return err
		case k := <-c.m.Keys():
			c.ahead = append(c.ahead, k)
		case <-c.m.Done():
			pb.Stop()
			return ErrHangup
		case <-ctx.Done():
			pb.Stop()
			return ctx.Err()
		}
	}
}

// Say plays a prompt to its end.
func (c *call) Say(ctx context.Context, p Prompt) error { return c.play(ctx, p) }

// Ask plays ps in turn and gathers one entry:
//   - keys typed before the prompt (type-ahead) count as typed at its start;
//   - with barge-in, the first key stops the prompt and skips the rest;
//   - "#" ends the entry and is not part of it; "*" asks for a repeat;
//   - the entry ends at MaxDigits, or when the initial timeout (after the
//     prompts end, with no key yet) or the inter-digit timeout expires, with
//     whatever digits were typed — none is a no-input.
func (c *call) Ask(ctx context.Context, spec GatherSpec, ps ...Prompt) (Input, error) {
	g := gather{spec: spec, in: Input{PromptStart: c.now()}}
	var pb Playback
	var pbDone <-chan error
	next := 0
	startNext := func() error {
		if next >= len(ps) {
			pb, pbDone = nil, nil
			return nil
		}
		var err error
		pb, err = c.m.Play(ctx, ps[next])
		next++
		if err != nil {
			return err
		}
		pbDone = pb.Done()
		return nil
	}
	stopPrompts := func() {
		if pb != nil {
			pb.Stop()
			pb, pbDone, next = nil, nil, len(ps)
		}
	}
	defer stopPrompts()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	armed := false
	arm := func(d time.Duration) {
		timer.Reset(d)
		armed = true
	}

	handle := func(k Key) bool {
		if c.full {
			c.full = false
			if k.Digit == '#' {
				return false // the terminator of the previous, full entry
			}
		}
		if len(g.in.Raw) == 0 {
			at := k.At
			if at.IsZero() || at.Before(g.in.PromptStart) {
				at = c.now()
			}
			g.in.FirstKey = max(at.Sub(g.in.PromptStart), time.Millisecond)
		}
		if pb != nil && spec.BargeIn {
			g.in.BargeIn = true
			stopPrompts()
		}
		done := g.key(k.Digit)
		if !done && pb == nil {
			arm(spec.InterDigitTimeout)
		}
		c.full = done && k.Digit != '#' && k.Digit != '*'
		return done
	}

	if err := startNext(); err != nil {
		return g.in, err
	}
	// Type-ahead: keys already pressed are handled as if typed now.
	for len(c.ahead) > 0 {
		k := c.ahead[0]
		c.ahead = c.ahead[1:]
		if handle(k) {
			return g.in, nil
		}
	}
	if pb == nil && !armed {
		arm(spec.InitialTimeout)
	}
	for {
		select {
		case err := <-pbDone:
			if err != nil {
				return g.in, err
			}
			if err := startNext(); err != nil {
				return g.in, err
			}
			if pb == nil {
				// The prompts ended: wait for a first key, or for the next
				// one after keys typed during the prompt without barge-in.
				if len(g.in.Raw) == 0 {
					arm(spec.InitialTimeout)
				} else {
					arm(spec.InterDigitTimeout)
				}
			}
		case k := <-c.m.Keys():
			if handle(k) {
				return g.in, nil
			}
		case <-timer.C:
			armed = false
			return g.in, nil
		case <-c.m.Done():
			return g.in, ErrHangup
		case <-ctx.Done():
			return g.in, ctx.Err()
		}
	}
}

// gather accumulates one entry.
type gather struct {
	spec GatherSpec
	in   Input
}

// key adds one key and reports whether the entry is complete.
func (g *gather) key(d rune) bool {
	g.in.Raw += string(d)
	switch d {
	case '#':
		return true
	case '*':
		g.in.Repeat, g.in.Digits = true, ""
		return true
	}
	g.in.Digits += string(d)
	return g.spec.MaxDigits > 0 && len(g.in.Digits) >= g.spec.MaxDigits
}

// Record plays the prompt, then records until "#", the length limit or a
// hangup. A recording cut short by a hangup is kept; the hangup surfaces at
// the next prompt.
func (c *call) Record(ctx context.Context, p Prompt, spec RecordSpec) (Recording, error) {
	if err := c.play(ctx, p); err != nil {
		return Recording{}, err
	}
	c.ahead, c.full = nil, false // a key pressed during the prompt must not end the recording
	rec, err := c.m.StartRecording(ctx, spec.Name)
	if err != nil {
		return Recording{}, err
	}
	limit := time.NewTimer(spec.MaxDuration)
	defer limit.Stop()
wait:
	for {
		select {
		case k := <-c.m.Keys():
			if k.Digit == '#' {
				break wait
			}
		case <-limit.C:
			break wait
		case <-c.m.Done():
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	return rec.Stop(context.WithoutCancel(ctx))
}

// EndCause is the Media's reason the call ended, if it gives one.
func (c *call) EndCause() string {
	if ec, ok := c.m.(EndCauser); ok {
		return ec.EndCause()
	}
	return ""
}

// ReceivedMedia reports whether the Media saw the caller's audio; true when
// it cannot tell.
func (c *call) ReceivedMedia() bool {
	if w, ok := c.m.(MediaWitness); ok {
		return w.ReceivedMedia()
	}
	return true
}

// Hangup ends the call.
func (c *call) Hangup(ctx context.Context) error {
	select {
	case <-c.m.Done():
		return nil
	default:
	}
	if err := c.m.Hangup(ctx); err != nil && !errors.Is(err, ErrHangup) {
		return err
	}
	return nil
}
