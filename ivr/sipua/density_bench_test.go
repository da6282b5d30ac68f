// The density of the media alone: N calls' senders and receivers with no
// SIP, no engine and no load generator, so that what is measured is what
// a call's audio costs the server.
//
//	go test -run '^$' -bench MediaDensity -benchtime 1x ./ivr/sipua

package sipua

import (
	"context"
	"fmt"
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
// % of one core per call, memory per call, allocations per packet in the
// steady state, and how much of the audio due arrived.
//
// "port-per-call" gives each call its own RTP port, as before ports were
// shared; "shared" puts the calls on m ports, each pair of ports carrying
// one pair of calls (so that every call on a port has a peer of its own
// address, as real peers do): about √n calls per port.
func BenchmarkMediaDensity(b *testing.B) {
	for _, n := range []int{1000, 3000} {
		for _, mode := range []struct {
			name    string
			perPort int
		}{{"port-per-call", 1}, {"shared", 1000}} {
			b.Run(fmt.Sprintf("%s/%d", mode.name, n), func(b *testing.B) {
				for b.Loop() {
					mediaDensity(b, n, mode.perPort)
				}
			})
		}
	}
}

func mediaDensity(b *testing.B, n, perPort int) {
	s := mediaServer(perPort)
	ps := s.rtp()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	m := n
	if perPort > 1 {
		for m = 2; m*(m-1) < n; m++ {
		}
	}
	ports := make([]*rtpPort, m)
	for i := range ports {
		ps.mu.Lock()
		p, err := ps.open()
		ps.mu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
		ports[i] = p
	}
	var pairs [][2]*rtpPort
	if perPort == 1 {
		for i := 0; i+1 < m; i += 2 {
			pairs = append(pairs, [2]*rtpPort{ports[i], ports[i+1]})
		}
	} else {
		for i := 0; i < m && len(pairs) < n/2; i++ {
			for j := i + 1; j < m && len(pairs) < n/2; j++ {
				pairs = append(pairs, [2]*rtpPort{ports[i], ports[j]})
			}
		}
	}
	calls := make([]*call, 0, n)
	for _, pr := range pairs {
		for k := range 2 {
			p, peer := pr[k], pr[1-k]
			p.mu.Lock()
			p.calls++
			p.reserved++
			p.mu.Unlock()
			c := newCall(p, sdp.Stream{Addr: peer.addr, Codec: media.PCMU, EventPT: 101, Direction: sdp.SendRecv}, s, s.log)
			c.bye = func(context.Context) error { return nil }
			calls = append(calls, c)
		}
	}
	n = len(calls)
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
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	due := float64(n) * wall.Seconds() / media.PacketInterval.Seconds()
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds()/float64(n), "cpu%/call")
	b.ReportMetric(float64(up.HeapInuse-before.HeapInuse)/1024/float64(n), "heap-KB/call")
	b.ReportMetric(float64(up.StackInuse-before.StackInuse)/1024/float64(n), "stack-KB/call")
	b.ReportMetric(100*float64(got)/due, "%audio-received")
	// Packets sent and received in the window: about twice those received.
	b.ReportMetric(float64(after.Mallocs-up.Mallocs)/float64(2*got), "allocs/packet")
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
