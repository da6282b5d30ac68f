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

// A packet sent ahead is not sent again by its tick; one at most goes ahead.
func TestPacerAhead(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	if (&Pacer{}).Started() {
		t.Error("a zero pacer has started")
	}
	p := NewPacer(start)
	if !p.Started() {
		t.Error("a new pacer has not started")
	}
	if _, send := p.Due(at(20)); send != 1 {
		t.Fatalf("first tick sent %d", send)
	}
	if !p.Ahead(at(22)) {
		t.Fatal("the next packet could not go ahead")
	}
	if p.Ahead(at(23)) {
		t.Error("a second packet went ahead")
	}
	if _, send := p.Due(at(40)); send != 0 {
		t.Errorf("the tick after sent %d, want 0: its packet went ahead", send)
	}
	if _, send := p.Due(at(60)); send != 1 {
		t.Errorf("the next tick sent %d, want 1", send)
	}
	if !p.Ahead(at(61)) || p.sent != 4 {
		t.Errorf("ahead again: sent %d, want 4", p.sent)
	}
	// Behind (a stalled sender): ahead takes one, the ticks send the rest.
	q := NewPacer(start)
	if !q.Ahead(at(75)) {
		t.Fatal("a late pacer could not send one ahead")
	}
	if skip, send := q.Due(at(80)); skip != 0 || send != 3 {
		t.Errorf("after one ahead at 75 ms: skip %d, send %d; want 0, 3", skip, send)
	}
}
