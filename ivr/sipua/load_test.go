// A small load measurement (not the load generator, which is its own
// command): N concurrent calls from one sipuatest phone into one endpoint,
// in one process. It reports setup time, key-to-next-prompt latency, RTP
// arrival jitter, and CPU and heap per call for both sides together.
//
//	go test -run '^$' -bench Concurrent -benchtime 1x ./ivr/sipua

package sipua_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
)

func BenchmarkConcurrentCalls(b *testing.B) {
	for _, n := range []int{100, 300} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				measureCalls(b, n)
			}
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}

func measureCalls(b *testing.B, n int) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := newStore(b, "questionnaires/post-call.yaml")
	engine := ivr.New(ivr.DefaultOptions(), store, store, quiet, nil)
	opts := testOptions()
	opts.MaxCalls = n + 10
	srv, err := sipua.New(opts, engine, &tonePrompts{}, nil, quiet)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Run(ctx) }()
	defer func() { cancel(); <-stopped }()
	phone, err := sipuatest.NewPhone(sipuatest.PhoneOptions{Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer phone.Close()

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	uri := fmt.Sprintf("sip:post-call@%s;lang=en", srv.Addr())
	calls := make([]*sipuatest.Call, n)
	setups := make([]time.Duration, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []error
	for i := range n {
		wg.Go(func() {
			dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
			defer dcancel()
			c, err := phone.Dial(dctx, uri, sipuatest.DialOptions{})
			if err != nil {
				mu.Lock()
				failed = append(failed, err)
				mu.Unlock()
				return
			}
			calls[i], setups[i] = c, c.SetupTime()
		})
		time.Sleep(2 * time.Millisecond) // 500 call attempts a second
	}
	wg.Wait()
	if len(failed) > 0 {
		b.Fatalf("%d of %d calls failed, first: %v", len(failed), n, failed[0])
	}
	defer func() {
		for _, c := range calls {
			c.Close()
		}
	}()
	time.Sleep(2 * time.Second) // intro and the NPS question play
	runtime.GC()
	var up runtime.MemStats
	runtime.ReadMemStats(&up)
	cpu0, t0 := cpuTime(), time.Now()
	time.Sleep(2 * time.Second) // every call waits for a key, RTP flowing both ways
	cpuIdle := cpuTime() - cpu0
	wall := time.Since(t0)

	latencies := make([]time.Duration, n)
	for i, c := range calls {
		wg.Go(func() {
			kctx, kcancel := context.WithTimeout(ctx, 10*time.Second)
			defer kcancel()
			if _, err := c.SendKey(kctx, '9'); err != nil {
				b.Error(err)
				return
			}
			d, err := c.KeyToPrompt(kctx, '#')
			if err != nil {
				b.Error(err)
				return
			}
			latencies[i] = d
		})
	}
	wg.Wait()
	var jitter, gaps []time.Duration
	for _, c := range calls {
		st := c.Stats()
		jitter, gaps = append(jitter, st.Jitter), append(gaps, st.MaxGap)
	}
	b.ReportMetric(float64(percentile(setups, 0.5).Microseconds())/1000, "setup-p50-ms")
	b.ReportMetric(float64(percentile(setups, 0.99).Microseconds())/1000, "setup-p99-ms")
	b.ReportMetric(float64(percentile(latencies, 0.5).Microseconds())/1000, "key→prompt-p50-ms")
	b.ReportMetric(float64(percentile(latencies, 0.99).Microseconds())/1000, "key→prompt-p99-ms")
	b.ReportMetric(float64(percentile(jitter, 0.99).Microseconds())/1000, "jitter-p99-ms")
	b.ReportMetric(float64(percentile(gaps, 0.99).Microseconds())/1000, "max-gap-p99-ms")
	b.ReportMetric(100*cpuIdle.Seconds()/wall.Seconds()/float64(n), "cpu%/call")
	b.ReportMetric(float64(up.HeapInuse-before.HeapInuse)/1024/float64(n), "heap-KB/call")
}
