package main

import (
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// series makes one sample every 30 s from per-sample RSS (MB), goroutines
// and fds, with 100 calls up throughout.
func series(rss []float64, goroutines, fds []int) []soakSample {
	s := make([]soakSample, len(rss))
	for i := range s {
		s[i] = soakSample{At: time.Duration(i) * 30 * time.Second, Calls: 100, RSS: int64(rss[i] * (1 << 20)),
			Goroutines: int64(goroutines[i]), FDs: fds[i]}
	}
	return s
}

func TestDrift(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		samples               []soakSample
		rss, goroutines, fds  float64
		rssVerdict, fdVerdict string
	}{{
		// The first quarter (warming up) is left out: only 80→ vs 80 counts.
		name:    "flat after warm-up",
		samples: series([]float64{40, 60, 80, 80, 80, 80, 80, 80}, []int{300, 900, 900, 900, 900, 900, 900, 900}, []int{20, 320, 320, 320, 320, 320, 320, 320}),
		rss:     0, goroutines: 0, fds: 0, rssVerdict: "flat", fdVerdict: "flat",
	}, {
		// A leak: RSS climbs 10 MB a sample, one fd per sample.
		name:    "rising",
		samples: series([]float64{100, 110, 120, 130, 140, 150, 160, 170}, []int{900, 900, 900, 900, 900, 900, 900, 900}, []int{100, 101, 102, 103, 104, 105, 106, 107}),
		// second quarter {120,130} = 125; last {160,170} = 165: +32%.
		rss: 32, goroutines: 0, fds: 100 * (106.5 - 102.5) / 102.5, rssVerdict: "rising", fdVerdict: "flat",
	}, {
		name:    "noise within the bound",
		samples: series([]float64{80, 80, 80, 84, 80, 80, 76, 80}, []int{900, 900, 910, 890, 900, 900, 880, 920}, []int{300, 300, 300, 300, 300, 300, 300, 300}),
		rss:     100 * (78 - 82) / 82.0, goroutines: 0, fds: 0, rssVerdict: "flat", fdVerdict: "flat",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := drift(tc.samples)
			if !ok {
				t.Fatal("no drift from 8 samples")
			}
			near := func(what string, got, want float64) {
				if math.Abs(got-want) > 0.01 {
					t.Errorf("%s drift = %.3f%%, want %.3f%%", what, got, want)
				}
			}
			near("RSS", d.RSS, tc.rss)
			near("goroutines", d.Goroutines, tc.goroutines)
			near("fds", d.FDs, tc.fds)
			near("calls", d.Calls, 0)
			if v := verdict(d.RSS); v != tc.rssVerdict {
				t.Errorf("RSS verdict %q, want %q", v, tc.rssVerdict)
			}
			if v := verdict(d.FDs); v != tc.fdVerdict {
				t.Errorf("fds verdict %q, want %q", v, tc.fdVerdict)
			}
		})
	}
	if _, ok := drift(series([]float64{1, 2, 3}, []int{1, 2, 3}, []int{1, 2, 3})); ok {
		t.Error("a drift from 3 samples: want none")
	}
}

func TestWriteSoak(t *testing.T) {
	s := series([]float64{64, 76, 80, 80, 80, 80, 80, 96}, []int{926, 926, 926, 926, 926, 926, 926, -1}, []int{323, 323, 323, 323, 323, 323, 323, 323})
	lost := 0
	var b strings.Builder
	if err := writeSoak(&b, s, &lost, 1234); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"    time  calls up    RSS MB  goroutines     fds\n",
		"      0s       100      64.0         926     323\n",
		"   3m30s       100      96.0           -     323\n", // a scrape that failed
		// second quarter {80,80}, last {80,96}: +10%; the unknown goroutines left out.
		"RSS +10.0% (flat), goroutines +0.0% (flat), fds +0.0% (flat); calls up +0.0%\n",
		"lost answers: 0 of 1234\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the soak table lacks %q:\n%s", want, out)
		}
	}
}

func TestParseGoMemory(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 926
go_gc_gogc_percent 100
go_memstats_heap_inuse_bytes 2.4e+07
go_memstats_next_gc_bytes 3e+07
go_memstats_stack_inuse_bytes 4.194304e+06
canvass_sip_answer_seconds_bucket{le="0.001"} 90
canvass_sip_answer_seconds_bucket{le="0.01"} 99
canvass_sip_answer_seconds_bucket{le="+Inf"} 100
`
	m, err := parseGoMemory(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if want := (goMemory{heapInuse: 24e6, liveHeap: 15e6, stacks: 4194304, goroutines: 926,
		answered: map[float64]float64{.001: 90, .01: 99, math.Inf(1): 100}}); !reflect.DeepEqual(m, want) {
		t.Errorf("parseGoMemory = %+v, want %+v", m, want)
	}
	if p99, ok := answerP99(nil, m.answered); !ok || p99 != .01 {
		t.Errorf("answerP99 = %v, %v; want 0.01 (99 of 100 calls)", p99, ok)
	}
	// Since a scrape with 50 calls, all within 1 ms: of the 50 new ones,
	// 40 within 1 ms, 49 within 10 ms, one beyond.
	before := map[float64]float64{.001: 50, .01: 50, math.Inf(1): 50}
	if p99, ok := answerP99(before, m.answered); !ok || !math.IsInf(p99, 1) {
		t.Errorf("answerP99 = %v, %v; want +Inf (49 of 50 calls within 10 ms)", p99, ok)
	}
	if _, ok := answerP99(m.answered, m.answered); ok {
		t.Error("answerP99 with no call answered between the scrapes reports a figure")
	}
	m, err = parseGoMemory(strings.NewReader("go_memstats_heap_inuse_bytes 1\n"))
	if err != nil || m.goroutines != -1 {
		t.Errorf("without go_goroutines: %+v, %v; want goroutines -1", m, err)
	}
}

func TestOpenFDs(t *testing.T) {
	before, err := openFDs(os.Getpid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if after, err := openFDs(os.Getpid()); err != nil || after != before+1 {
		t.Errorf("open fds %d after opening one, %d before (%v)", after, before, err)
	}
}
