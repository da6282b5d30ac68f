package ivr

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// stuckChannel never finishes a prompt or a hang-up until its context ends,
// as a channel whose Asterisk went away.
type stuckChannel struct{ hungUp chan error }

func (stuckChannel) Say(ctx context.Context, _ Prompt) error { <-ctx.Done(); return ctx.Err() }
func (stuckChannel) Ask(ctx context.Context, _ GatherSpec, _ ...Prompt) (Input, error) {
	<-ctx.Done()
	return Input{}, ctx.Err()
}
func (stuckChannel) Record(ctx context.Context, _ Prompt, _ RecordSpec) (Recording, error) {
	<-ctx.Done()
	return Recording{}, ctx.Err()
}
func (c stuckChannel) Hangup(ctx context.Context) error {
	<-ctx.Done()
	c.hungUp <- ctx.Err()
	return ctx.Err()
}

// An apology on a channel that never reports its prompt's end gives up
// after its limit and still tries the hang-up, within its own.
func TestApologyIsBounded(t *testing.T) {
	defer func(a, h time.Duration) { apologyLimit, hangupLimit = a, h }(apologyLimit, hangupLimit)
	apologyLimit, hangupLimit = 50*time.Millisecond, 50*time.Millisecond
	e := &Engine{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ch := stuckChannel{hungUp: make(chan error, 1)}
	done := make(chan struct{})
	go func() {
		e.apologize(t.Context(), ch, "en")
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("apologize still waiting on a stuck channel after a minute")
	}
	if err := <-ch.hungUp; err == nil {
		t.Error("the hang-up was not tried")
	}
}
