// The packet clock: one packet per 20 ms against the wall clock, small
// delays caught up, stalls skipped.

package media

import (
	"testing"
	"time"
)

func TestPacer(t *testing.T) {
	type tick struct {
		at         time.Duration // since the start
		skip, send int64
	}
	tests := []struct {
		name  string
		ticks []tick
	}{
		{"on time", []tick{{20 * time.Millisecond, 0, 1}, {40 * time.Millisecond, 0, 1}, {60 * time.Millisecond, 0, 1}}},
		{"a tick a little early or late still sends one", []tick{{19 * time.Millisecond, 0, 1}, {41 * time.Millisecond, 0, 1}, {59 * time.Millisecond, 0, 1}}},
		{"a delayed tick is caught up", []tick{{20 * time.Millisecond, 0, 1}, {80 * time.Millisecond, 0, 3}, {100 * time.Millisecond, 0, 1}}},
		{"a late tick does not drift", []tick{{29 * time.Millisecond, 0, 1}, {40 * time.Millisecond, 0, 1}, {60 * time.Millisecond, 0, 1}}},
		{"early ticks send nothing twice", []tick{{20 * time.Millisecond, 0, 1}, {25 * time.Millisecond, 0, 0}, {40 * time.Millisecond, 0, 1}}},
		{"MaxBurst late: caught up", []tick{{100 * time.Millisecond, 0, 5}}},
		{"a stall skips to the present and sends one", []tick{{20 * time.Millisecond, 0, 1}, {time.Second, 48, 1}, {1020 * time.Millisecond, 0, 1}}},
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPacer(start)
			for _, tk := range tt.ticks {
				if skip, send := p.Due(start.Add(tk.at)); skip != tk.skip || send != tk.send {
					t.Errorf("at %s: skip %d, send %d; want %d, %d", tk.at, skip, send, tk.skip, tk.send)
				}
			}
		})
	}
}
