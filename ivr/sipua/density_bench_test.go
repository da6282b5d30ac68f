// The density of the media alone: N calls' senders and receivers with no
// SIP, no engine and no load generator, so that what is measured is what
// a call's audio costs the server.
//
//	go test -run '^$' -bench MediaDensity -benchtime 1x ./ivr/sipua

package sipua

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua/internal/sdp"
)

// BenchmarkMediaDensity runs n calls in pairs that send each other RTP:
// one of each pair plays a prompt over and over, the other comfort
// silence, and each receives what the other sends (keys detection,
// checks, the RTP timeout watch). It reports the CPU the calls take, in
// % of one core per call, memory per call, and how much of the audio due
// arrived.
func BenchmarkMediaDensity(b *testing.B) {
	for _, n := range []int{1000, 3000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				mediaDensity(b, n)
			}
		})
	}
}

func mediaDensity(b *testing.B, n int) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &Server{opts: DefaultOptions()}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	conns := make([]*net.UDPConn, n)
	for i := range conns {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = conn
	}
	calls := make([]*call, n)
	for i, conn := range conns {
		peer := conns[i^1].LocalAddr().(*net.UDPAddr).AddrPort()
		calls[i] = newCall(conn, sdp.Stream{Addr: peer, Codec: media.PCMU, EventPT: 101, Direction: sdp.SendRecv}, s, quiet)
		calls[i].bye = func(context.Context) error { return nil }
	}
	for _, c := range calls {
		c.start()
		time.Sleep(time.Second / 500) // 500 calls a second
	}
	defer func() {
		for _, c := range calls {
			c.end("bench")
			c.wait()
		}
	}()
	pcm := make([]int16, 3*media.SampleRate)
	for i := range pcm {
		pcm[i] = int16(8000 * ((i / 4) % 2)) // 1 kHz square wave: not silence
	}
	stop := make(chan struct{})
	fed := make(chan struct{})
	go func() { // the talkers: a prompt again as soon as one ends
		defer close(fed)
		pbs := make([]*playback, n)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			for i := 0; i < n; i += 2 {
				if pbs[i] == nil {
					pbs[i] = calls[i].play(pcm)
					continue
				}
				select {
				case <-pbs[i].Done():
					pbs[i] = calls[i].play(pcm)
				default:
				}
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	defer func() { close(stop); <-fed }()
	time.Sleep(2 * time.Second) // settled
	runtime.GC()
	var up runtime.MemStats
	runtime.ReadMemStats(&up)
	recv0 := received(calls)
	cpu0, t0 := cpuTime(), time.Now()
	time.Sleep(5 * time.Second)
	cpu, wall := cpuTime()-cpu0, time.Since(t0)
	got := received(calls) - recv0
	due := float64(n) * wall.Seconds() / media.PacketInterval.Seconds()
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds()/float64(n), "cpu%/call")
	b.ReportMetric(float64(up.HeapInuse-before.HeapInuse)/1024/float64(n), "heap-KB/call")
	b.ReportMetric(float64(up.StackInuse-before.StackInuse)/1024/float64(n), "stack-KB/call")
	b.ReportMetric(100*float64(got)/due, "%audio-received")
}

func received(calls []*call) (n int64) {
	for _, c := range calls {
		n += c.stats.received.Load()
	}
	return n
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
