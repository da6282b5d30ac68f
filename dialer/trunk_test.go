package dialer

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/canvass/canvass/survey"
)

// holdCalls is an Originator whose calls stay up until release closes.
type holdCalls struct{ release chan struct{} }

func (h holdCalls) Survey(ctx context.Context, c Call) (Result, error) {
	<-h.release
	return Result{}, nil
}

// The trunk-wide cap and rate hold every keypad campaign together: two
// campaigns of 10 lines each place 3 calls in all through a 3-line trunk,
// and 2 through a trunk of 2 calls a second.
func TestTrunkLimits(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		lines int
		cps   float64
		want  int
	}{
		{"no trunk limits", 0, 0, 20},
		{"3 trunk lines", 3, 0, 3},
		{"2 calls a second", 0, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			o.TrunkLines, o.TrunkCallsPerSecond = tc.lines, tc.cps
			st := &fakeStore{}
			h := holdCalls{release: make(chan struct{})}
			r := NewRunner(st, h, o, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
			d := survey.Dialing{CallsPerSecond: 100, MaxLines: 10}
			for id := range 2 {
				c := survey.Campaign{ID: survey.CampaignID(id + 1), Name: "k", Mode: survey.CampaignIVR, Status: survey.CampaignRunning}
				r.camps[c.ID] = &campaign{c: c, dialing: d, bucket: NewBucket(100, 100, now), running: true, statsAt: now}
			}
			r.step(t.Context(), now)
			r.step(t.Context(), now) // nothing more: the limits hold across steps
			close(h.release)
			r.calls.Wait()
			n := 0
			for _, c := range st.claims {
				n += c
			}
			if n != tc.want {
				t.Errorf("claimed %d calls (%v), want %d", n, st.claims, tc.want)
			}
		})
	}
}
