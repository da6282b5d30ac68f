package main

// This file is the soak mode of `canvass loadtest` (-sample, make soak): while
// the calls run, the spawned server is sampled every interval — resident
// memory, goroutines, open file descriptors — and the series is printed with
// its drift, so that a leak shows as a curve that keeps rising while the
// load stays the same.

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// soakSample is the server at one moment of the window.
type soakSample struct {
	At         time.Duration `json:"at_ns"`    // since the window opened
	Calls      int           `json:"calls_up"` // calls past their intro
	RSS        int64         `json:"rss_bytes"`
	Goroutines int64         `json:"goroutines"` // go_goroutines; -1 unknown
	FDs        int           `json:"fds"`        // entries of /proc/PID/fd; -1 unknown
}

// soakDrift is how far the last quarter of the window sits from the
// second, in % of the second quarter's mean. The first quarter is left out:
// caches, pools and the heap grow into their steady size there.
type soakDrift struct {
	RSS        float64 `json:"rss_pct"`
	Goroutines float64 `json:"goroutines_pct"`
	FDs        float64 `json:"fds_pct"`
	Calls      float64 `json:"calls_pct"` // the load itself: a drift elsewhere means little if this one moved too
}

// soakFlat is the drift, in %, under which a curve is called flat. Timing
// noise on a shared machine moves the figures by a few %; a leak of one
// object per call over an hour of calls does not stay under it.
const soakFlat = 10.0

// drift compares the means of the second and last quarters of samples
// (unknown values, -1, left out); ok is false with fewer than 4 samples.
func drift(samples []soakSample) (d soakDrift, ok bool) {
	n := len(samples)
	if n < 4 {
		return soakDrift{}, false
	}
	q2, q4 := samples[n/4:n/2], samples[n-n/4:]
	pct := func(v func(soakSample) float64) float64 {
		mean := func(s []soakSample) float64 { // over the known values
			sum, n := 0.0, 0
			for _, x := range s {
				if f := v(x); f >= 0 {
					sum, n = sum+f, n+1
				}
			}
			if n == 0 {
				return 0
			}
			return sum / float64(n)
		}
		a, b := mean(q2), mean(q4)
		if a == 0 {
			return 0
		}
		return 100 * (b - a) / a
	}
	return soakDrift{
		RSS:        pct(func(s soakSample) float64 { return float64(s.RSS) }),
		Goroutines: pct(func(s soakSample) float64 { return float64(s.Goroutines) }),
		FDs:        pct(func(s soakSample) float64 { return float64(s.FDs) }),
		Calls:      pct(func(s soakSample) float64 { return float64(s.Calls) }),
	}, true
}

// verdict names a drift: flat, or which way it went.
func verdict(pct float64) string {
	switch {
	case pct > soakFlat:
		return "rising"
	case pct < -soakFlat:
		return "falling"
	default:
		return "flat"
	}
}

// writeSoak prints the series as a table, then the drift of each curve
// and the lost answers.
func writeSoak(w io.Writer, samples []soakSample, lost *int, expected int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%8s  %8s  %8s  %10s  %6s\n", "time", "calls up", "RSS MB", "goroutines", "fds")
	for _, s := range samples {
		g, f := "-", "-"
		if s.Goroutines >= 0 {
			g = strconv.FormatInt(s.Goroutines, 10)
		}
		if s.FDs >= 0 {
			f = strconv.Itoa(s.FDs)
		}
		fmt.Fprintf(&b, "%8s  %8d  %8.1f  %10s  %6s\n", s.At.Round(time.Second), s.Calls, float64(s.RSS)/(1<<20), g, f)
	}
	if d, ok := drift(samples); ok {
		fmt.Fprintf(&b, "drift, last quarter's mean vs the second quarter's (flat: within ±%g%%):\n", soakFlat)
		fmt.Fprintf(&b, "  RSS %+.1f%% (%s), goroutines %+.1f%% (%s), fds %+.1f%% (%s); calls up %+.1f%%\n",
			d.RSS, verdict(d.RSS), d.Goroutines, verdict(d.Goroutines), d.FDs, verdict(d.FDs), d.Calls)
	} else {
		fmt.Fprintf(&b, "drift: fewer than 4 samples, none computed\n")
	}
	if lost != nil {
		fmt.Fprintf(&b, "lost answers: %d of %d\n", *lost, expected)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// openFDs counts pid's open file descriptors.
func openFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	return len(ents), nil
}
