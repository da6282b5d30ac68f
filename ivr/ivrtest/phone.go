// Package ivrtest has test helpers for the IVR engine and its adapters:
// Phone, an ivr.Media whose prompts last a set time and whose caller
// presses scripted keys (in real time and under testing/synctest), and
// Store, an in-memory ivr.Store and ivr.Questionnaires.
package ivrtest

import (
	"context"
	"sync"
	"time"

	"github.com/canvass/canvass/ivr"
)

// Phone is a scripted call.
type Phone struct {
	PromptLen time.Duration // how long every prompt plays

	keys     chan ivr.Key
	done     chan struct{}
	hangOnce sync.Once

	mu         sync.Mutex
	played     []ivr.Prompt
	stopped    []string
	hungUp     bool
	recordings int
}

// NewPhone returns a Phone whose prompts each last promptLen.
func NewPhone(promptLen time.Duration) *Phone {
	return &Phone{PromptLen: promptLen, keys: make(chan ivr.Key, 256), done: make(chan struct{})}
}

var _ ivr.Media = (*Phone)(nil)

type playback struct {
	done chan error
	stop chan struct{}
	once sync.Once
}

func (p *playback) Done() <-chan error { return p.done }
func (p *playback) Stop()              { p.once.Do(func() { close(p.stop) }) }

// Play plays p for PromptLen, or until stopped or hung up.
func (ph *Phone) Play(ctx context.Context, p ivr.Prompt) (ivr.Playback, error) {
	ph.mu.Lock()
	ph.played = append(ph.played, p)
	ph.mu.Unlock()
	pb := &playback{done: make(chan error, 1), stop: make(chan struct{})}
	go func() {
		t := time.NewTimer(ph.PromptLen)
		defer t.Stop()
		select {
		case <-t.C:
			pb.done <- nil
		case <-pb.stop:
			ph.mu.Lock()
			ph.stopped = append(ph.stopped, p.ID)
			ph.mu.Unlock()
			pb.done <- nil
		case <-ph.done:
			pb.done <- ivr.ErrHangup
		}
		close(pb.done)
	}()
	return pb, nil
}

// Keys delivers the scripted keys.
func (ph *Phone) Keys() <-chan ivr.Key { return ph.keys }

// Done is closed once either side hangs up.
func (ph *Phone) Done() <-chan struct{} { return ph.done }

// Hangup hangs up from the engine's side.
func (ph *Phone) Hangup(ctx context.Context) error {
	ph.mu.Lock()
	ph.hungUp = true
	ph.mu.Unlock()
	ph.hangOnce.Do(func() { close(ph.done) })
	return nil
}

// CallerHangsUp hangs up from the caller's side.
func (ph *Phone) CallerHangsUp() { ph.hangOnce.Do(func() { close(ph.done) }) }

// Type queues keys as if typed now (type-ahead for what comes next).
func (ph *Phone) Type(keys string) {
	for _, k := range keys {
		ph.keys <- ivr.Key{Digit: k, At: time.Now()}
	}
}

// PressAt presses key after d, from a goroutine.
func (ph *Phone) PressAt(d time.Duration, key rune) {
	go func() {
		time.Sleep(d)
		ph.keys <- ivr.Key{Digit: key, At: time.Now()}
	}()
}

// Played returns the prompts played so far.
func (ph *Phone) Played() []ivr.Prompt {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return append([]ivr.Prompt(nil), ph.played...)
}

// Stopped returns the ids of prompts cut short by a key.
func (ph *Phone) Stopped() []string {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return append([]string(nil), ph.stopped...)
}

// HungUp reports whether the engine hung up.
func (ph *Phone) HungUp() bool {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return ph.hungUp
}

// StartRecording records for as long as the recording runs.
func (ph *Phone) StartRecording(ctx context.Context, name string) (ivr.Recorder, error) {
	ph.mu.Lock()
	ph.recordings++
	ph.mu.Unlock()
	return &tape{name: name, started: time.Now()}, nil
}

// Recordings counts the recordings started so far.
func (ph *Phone) Recordings() int {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return ph.recordings
}

type tape struct {
	name    string
	started time.Time
}

func (t *tape) Stop(ctx context.Context) (ivr.Recording, error) {
	return ivr.Recording{Name: t.name, Duration: time.Since(t.started)}, nil
}
