//go:build linux

package mmsg

import (
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

func listen(t *testing.T, ip net.IP) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A Local batch on one wildcard socket sends from, and tells apart, many
// loopback addresses: the load generator's calls.
func TestLocalAddresses(t *testing.T) {
	shared := listen(t, net.IPv4zero)
	port := shared.LocalAddr().(*net.UDPAddr).AddrPort().Port()
	peer := listen(t, net.IPv4(127, 0, 0, 1))
	peerAddr := peer.LocalAddr().(*net.UDPAddr).AddrPort()

	if err := DontFragment(shared); err != nil {
		t.Fatal(err)
	}
	out, err := Local(shared, 8, 64)
	if err != nil {
		t.Fatal(err)
	}
	srcs := []netip.Addr{netip.MustParseAddr("127.1.0.1"), netip.MustParseAddr("127.1.0.2"), netip.MustParseAddr("127.200.3.4")}
	for i, src := range srcs {
		n := copy(out.Next(), []byte{byte(i)})
		out.QueueFrom(n, src, peerAddr)
	}
	if dropped, err := out.Flush(); dropped != 0 || err != nil {
		t.Fatalf("flush: %d dropped, %v", dropped, err)
	}
	buf := make([]byte, 64)
	var answered time.Time
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i, src := range srcs {
		n, from, err := peer.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if want := netip.AddrPortFrom(src, port); from != want || n != 1 || buf[0] != byte(i) {
			t.Errorf("datagram %d came from %v (%d bytes, %d), want %v", i, from, n, buf[0], want)
		}
		// Answer to the address it came from.
		if i == 0 {
			answered = time.Now()
		}
		if _, err := peer.WriteToUDPAddrPort([]byte{byte(10 + i)}, from); err != nil {
			t.Fatal(err)
		}
	}

	in, err := Local(shared, 8, 64)
	if err != nil {
		t.Fatal(err)
	}
	got := map[netip.Addr]byte{}
	for len(got) < len(srcs) {
		shared.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := in.Read()
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if in.From(i) != peerAddr {
				t.Errorf("datagram from %v, want %v", in.From(i), peerAddr)
			}
			got[in.To(i)] = in.Data(i)[0]
			// Received after it was sent, before it was read (the
			// wall clock, with a little room for its resolution).
			if at := in.At(i); at.Before(answered.Add(-time.Millisecond)) || at.After(time.Now()) {
				t.Errorf("datagram to %v received at %v; sent at %v, read by %v", in.To(i), at, answered, time.Now())
			}
		}
	}
	for i, src := range srcs {
		if got[src] != byte(10+i) {
			t.Errorf("to %v: got %d, want %d (all: %v)", src, got[src], 10+i, got)
		}
	}
}

// A plain batch has no local addresses, and Queue leaves from the socket's.
func TestPlainBatch(t *testing.T) {
	a := listen(t, net.IPv4(127, 0, 0, 1))
	b := listen(t, net.IPv4(127, 0, 0, 1))
	out, err := New(a, 4, 32)
	if err != nil {
		t.Fatal(err)
	}
	out.Queue(copy(out.Next(), "hello"), b.LocalAddr().(*net.UDPAddr).AddrPort())
	if _, err := out.Flush(); err != nil {
		t.Fatal(err)
	}
	in, err := New(b, 4, 32)
	if err != nil {
		t.Fatal(err)
	}
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := in.Read()
	if err != nil || n != 1 {
		t.Fatalf("read %d, %v", n, err)
	}
	if string(in.Data(0)) != "hello" || in.From(0) != a.LocalAddr().(*net.UDPAddr).AddrPort() || in.To(0).IsValid() {
		t.Errorf("got %q from %v to %v", in.Data(0), in.From(0), in.To(0))
	}
}

func BenchmarkLocalFlush(b *testing.B) {
	shared, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		b.Fatal(err)
	}
	defer shared.Close()
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	sink.SetReadBuffer(8 << 20)
	to := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	out, err := Local(shared, 64, 172)
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv("MMSG_FRAGMENTABLE") == "" {
		DontFragment(shared)
	}
	go func() {
		buf := make([]byte, 200)
		for {
			if _, _, err := sink.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	src := netip.MustParseAddr("127.1.2.3")
	b.ReportAllocs()
	for b.Loop() {
		for range 64 {
			out.QueueFrom(172, src, to)
		}
		out.Flush()
	}
}
