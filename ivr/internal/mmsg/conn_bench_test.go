//go:build linux

package mmsg

import (
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// BenchmarkPortWrites: the CPU of this process (both cores, the peer's
// draining included) per datagram written to a loopback peer, in bursts
// of 8 (a writer that then blocks, as a leg's reader does after a batch),
// by one sendto each and through a Conn. ns/op is wall time; cpu-ns/dgram
// is the figure.
func BenchmarkPortWrites(b *testing.B) {
	for _, batched := range []bool{false, true} {
		name := map[bool]string{false: "sendto", true: "Conn"}[batched]
		b.Run(name, func(b *testing.B) {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer peer.Close()
			_ = peer.SetReadBuffer(4 << 20)
			in, err := New(peer, 64, 256)
			if err != nil {
				b.Fatal(err)
			}
			go func() {
				for {
					if _, err := in.Read(); err != nil {
						return
					}
				}
			}()
			dst := peer.LocalAddr().(*net.UDPAddr).AddrPort()
			write := func(p []byte, to netip.AddrPort) { _, _ = c.WriteToUDPAddrPort(p, to) }
			if batched {
				conn, err := NewConn(c, 64, 256)
				if err != nil {
					b.Fatal(err)
				}
				defer conn.Close()
				write = func(p []byte, to netip.AddrPort) { _, _ = conn.WriteToAddrPort(p, to) }
			}
			p := make([]byte, 172)
			start := cpuTime()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				write(p, dst)
				if i%8 == 7 {
					runtime.Gosched() // lets the sender run, as a writer that blocks would
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/dgram")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
