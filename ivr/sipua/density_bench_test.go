// The density of the media alone: N calls' senders and receivers with no
// SIP, no engine and no load generator, so that what is measured is what
// a call's audio costs the server.
//
//	go test -run '^$' -bench MediaDensity -benchtime 1x ./ivr/sipua

package sipua

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"

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
	// On a machine shared with other work, the calls may not get the CPU
	// they need and part of the audio never comes: the CPU per packet that
	// did (sent and received) is then the fairer figure, and cpu%/call-due
	// what a call would take at the full 50 packets a second.
	b.ReportMetric(float64(cpu.Microseconds())/float64(got), "cpu-µs/packet")
	b.ReportMetric(100*cpu.Seconds()/float64(got)*50, "cpu%/call-due")
	b.ReportMetric((float64(up.HeapInuse)-float64(before.HeapInuse))/1024/float64(n), "heap-KB/call")
	b.ReportMetric((float64(up.StackInuse)-float64(before.StackInuse))/1024/float64(n), "stack-KB/call")
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

// BenchmarkPortTick is one 20 ms tick of a port shared by 64 calls: each
// call's packet built and all sent by sendmmsg, and each call's peer
// sending one back, which the port's reader takes by recvmmsg and hands
// to its call. The steady state allocates nothing (allocs/op); ns/op
// includes the peers' 64 sendto calls, which the server does not pay.
func BenchmarkPortTick(b *testing.B) {
	const n = 64
	s := mediaServer(n)
	p, err := s.rtp().take()
	if err != nil {
		b.Fatal(err)
	}
	p.leave(nil)
	peers := make([]*net.UDPConn, n)
	calls := make([]*call, n)
	for i := range peers {
		if peers[i], err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
			b.Fatal(err)
		}
		p2, err := s.rtp().take()
		if err != nil || p2 != p && i > 0 {
			b.Fatalf("take: %v, another port", err)
		}
		p = p2
		calls[i] = newCall(p, sdp.Stream{Addr: peers[i].LocalAddr().(*net.UDPAddr).AddrPort(), Codec: media.PCMU, EventPT: 101, Direction: sdp.SendRecv}, s, s.log)
		calls[i].bye = func(context.Context) error { return nil }
		calls[i].rtpTimeout = time.Hour
		calls[i].start()
		// Latch, so that the port takes the next call.
		pkt, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 1, SSRC: 9}, Payload: make([]byte, 160)}).Marshal()
		if _, err := peers[i].WriteToUDPAddrPort(pkt, p.addr); err != nil {
			b.Fatal(err)
		}
		for calls[i].stats.received.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	defer func() {
		for i, c := range calls {
			c.end("bench")
			c.wait()
			peers[i].Close()
		}
	}()
	// The peers' packets: audio, one sequence number further each tick.
	pkts := make([][]byte, n)
	for i := range pkts {
		pkts[i], _ = (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 1, SSRC: 9}, Payload: make([]byte, 160)}).Marshal()
	}
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		now = now.Add(media.PacketInterval)
		p.Tick(now)
		for k, peer := range peers {
			pk := pkts[k]
			seq := uint16(i + 2)
			pk[2], pk[3] = byte(seq>>8), byte(seq)
			ts := uint32(i+2) * media.SamplesPerPacket
			pk[4], pk[5], pk[6], pk[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
			if _, err := peer.WriteToUDPAddrPort(pk, p.addr); err != nil {
				b.Fatal(err)
			}
		}
	}
}
