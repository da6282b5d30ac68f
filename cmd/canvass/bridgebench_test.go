package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestBridgebench runs the bridged-call benchmark for two calls, one with
// a supervisor listening, against the server in this process (so no CPU or
// memory is read). It checks the measurement, not the figures: every
// tagged packet sent in the window is heard by the right party, latencies
// were measured and are plausible, and the table prints.
func TestBridgebench(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	cfg := bridgeConfig{duration: 3 * time.Second, rate: 10, monitor: 2, shared: 8, log: &progress}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := bridgeMeasure(ctx, 2, cfg, func(trunk string) (bridgeEndpoint, error) {
		s, err := startBridgeServer(trunk, 20, log)
		if err != nil {
			return bridgeEndpoint{}, err
		}
		return bridgeEndpoint{addr: s.Addr(), echo: s.EchoAddr(), stop: s.Close}, nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if res.Failed != 0 || res.Supervisors != 1 || res.Errors != nil {
		t.Fatalf("%d calls failed, %d supervisors, want 0 and 1: %v", res.Failed, res.Supervisors, res.Errors)
	}
	// 3 s of 20 ms packets per call, give or take the senders' ticks.
	for _, f := range []struct {
		name string
		f    latencyFigures
	}{{"phone→browser", res.ToBrowser}, {"browser→phone", res.ToPhone}} {
		if f.f.Sent < 2*100 || f.f.Heard != f.f.Sent || f.f.Lost != 0 || f.f.Dup != 0 {
			t.Errorf("%s: %d sent, %d heard, %d lost, %d duplicates; want about 300 sent, all heard once", f.name, f.f.Sent, f.f.Heard, f.f.Lost, f.f.Dup)
		}
		if f.f.P50 <= 0 || f.f.P50 > f.f.P99 || f.f.P99 > f.f.Max || f.f.Max > 1000 {
			t.Errorf("%s: latency p50 %.2f, p99 %.2f, max %.2f ms: not plausible", f.name, f.f.P50, f.f.P99, f.f.Max)
		}
	}
	// Two bursts a second from each side, to the one supervisor.
	if m := res.Mixed; m.Sent < 8 || m.Heard == 0 || m.P50 <= 0 || m.Max > 1000 {
		t.Errorf("mixed route: %d bursts sent, %d heard, p50 %.2f ms, max %.2f ms", m.Sent, m.Heard, m.P50, m.Max)
	} else if m.Lost != 0 {
		t.Logf("mixed route: %d of %d bursts not heard (the mix may trim a frame when a source runs ahead)", m.Lost, m.Sent)
	}
	if b := res.Baseline; b.Heard == 0 || b.P50 <= 0 {
		t.Errorf("baseline: %d echoes sent, %d back, p50 %.2f ms", b.Sent, b.Heard, b.P50)
	}
	if res.Misrouted != 0 {
		t.Errorf("%d packets reached a party of another call or the wrong side", res.Misrouted)
	}
	if res.ServerCPU != nil || res.RSSPeak != nil {
		t.Errorf("server figures measured for a server in this process: %+v", res)
	}
	if s := res.Server; s == nil || s.Peers != 3 || s.PacketsIn == 0 || s.Answered != 2 {
		t.Errorf("server counters: %+v; want 3 browser legs (2 interviewers, 1 supervisor) and 2 answered calls", s)
	}
	var out bytes.Buffer
	if err := (&bridgeTable{w: &out}).row(res, cfg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "2+1") || !strings.Contains(out.String(), "0 / 0 /") {
		t.Errorf("table:\n%s", out.String())
	}
	t.Logf("\n%s", out.String())
}

// The tag reads back what was written, and nothing else passes for one.
func TestBridgeTag(t *testing.T) {
	p := make([]byte, 160)
	for _, c := range []struct {
		from  byte
		call  int
		seq   uint16
		burst bool
	}{{fromPhone, 0, 0, false}, {fromBrowser, 299, 65535, true}, {fromSup, 0xFFFF, 12345, false}} {
		frame(p, c.from, c.call, c.seq, c.burst)
		from, call, seq, ok := readTag(p)
		if !ok || from != c.from || call != c.call || seq != c.seq {
			t.Errorf("tag %+v read back as %d %d %d %v", c, from, call, seq, ok)
		}
		for _, b := range p[:tagLen] {
			if b&0xF0 != 0xF0 {
				t.Errorf("tag byte %#x is not a quiet μ-law code", b)
			}
		}
	}
	if _, _, _, ok := readTag(bytes.Repeat([]byte{0xFF}, 160)); ok {
		t.Error("silence read as a tag")
	}
}

// A stream counts what was sent in the window, what came back once, and
// what did not; a histogram's quantiles come from its samples.
func TestBridgeStream(t *testing.T) {
	var s stream
	h := newHistogram()
	t0 := time.Now()
	before := s.prepare(t0, false)
	s.confirm(before, time.Time{})
	var seqs []uint16
	for i := range 10 {
		seq := s.prepare(t0.Add(time.Duration(i)*20*time.Millisecond), true)
		s.confirm(seq, time.Time{})
		seqs = append(seqs, seq)
	}
	s.arrived(before, t0.Add(time.Millisecond), h) // heard, but sent before the window
	for i, seq := range seqs[:9] {                 // the last is lost
		s.arrived(seq, t0.Add(time.Duration(i)*20*time.Millisecond+time.Duration(i+1)*time.Millisecond), h)
	}
	s.arrived(seqs[0], t0.Add(time.Second), h)     // a duplicate
	s.arrived(seqs[9]+300, t0.Add(time.Second), h) // never sent
	if s.sent != 10 || s.heard != 9 || s.dup != 1 || s.late != 1 {
		t.Errorf("sent %d heard %d dup %d late %d, want 10 9 1 1", s.sent, s.heard, s.dup, s.late)
	}
	// Each quantile is its sample's bin: at most 10 µs above it.
	within := func(got, want time.Duration) bool { return got >= want && got <= want+histBin }
	if p50, p99, n := h.quantile(0.5), h.quantile(0.99), h.n.Load(); n != 9 || !within(p50, 5*time.Millisecond) || !within(p99, 9*time.Millisecond) {
		t.Errorf("%d samples, p50 %s, p99 %s; want 9, 5ms, 9ms", n, p50, p99)
	}

	// A packet the socket took later than it was numbered is timed from
	// the socket.
	h = newHistogram()
	seq := s.prepare(t0, true)
	s.confirm(seq, t0.Add(30*time.Millisecond))
	s.arrived(seq, t0.Add(32*time.Millisecond), h)
	if got := h.quantile(1); !within(got, 2*time.Millisecond) {
		t.Errorf("timed from its numbering: %s, want 2ms from the socket's write", got)
	}
}
