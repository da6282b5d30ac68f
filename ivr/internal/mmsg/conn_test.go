package mmsg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// testConn wraps a fresh loopback socket.
func testConn(t *testing.T, size, slot int) (*Conn, netip.AddrPort) {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadBuffer(1 << 20); err != nil {
		t.Fatal(err)
	}
	conn, err := NewConn(c, size, slot)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// peer is a plain loopback socket with room for a burst.
func peer(t *testing.T) (*net.UDPConn, netip.AddrPort) {
	t.Helper()
	p, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.SetReadBuffer(1 << 20); err != nil {
		t.Fatal(err)
	}
	if err := p.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return p, p.LocalAddr().(*net.UDPAddr).AddrPort()
}

// datagram is writer w's n-th datagram: its numbers, then filler up to
// size bytes.
func datagram(w, n, size int) []byte {
	b := bytes.Repeat([]byte{byte(w*7 + n)}, size)
	binary.BigEndian.PutUint32(b, uint32(w))
	binary.BigEndian.PutUint32(b[4:], uint32(n))
	return b
}

// Datagrams queued before the reader comes are read in one recvmmsg (on
// Linux), each whole, in the order each sender sent them, with its source.
func TestConnReadsBurstsInOrder(t *testing.T) {
	conn, addr := testConn(t, 64, 2048)
	a, aAddr := peer(t)
	b, bAddr := peer(t)
	const each = 40
	for n := range each {
		for w, p := range []*net.UDPConn{a, b} {
			if _, err := p.WriteToUDPAddrPort(datagram(w, n, 100+n), addr); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	next := [2]int{}
	buf := make([]byte, 2048)
	for range 2 * each {
		n, from, err := conn.ReadFromAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		w := map[netip.AddrPort]int{aAddr: 0, bAddr: 1}
		sender, ok := w[from]
		if !ok {
			t.Fatalf("datagram from %v, want %v or %v", from, aAddr, bAddr)
		}
		if want := datagram(sender, next[sender], 100+next[sender]); !bytes.Equal(buf[:n], want) {
			t.Fatalf("sender %d's datagram %d: got % x, want % x", sender, next[sender], buf[:min(n, 8)], want[:8])
		}
		next[sender]++
	}
	st := conn.Stats()
	if st.Read != 2*each {
		t.Errorf("stats count %d datagrams read, want %d", st.Read, 2*each)
	}
	if runtime.GOOS == "linux" && st.Recvs > 4 {
		t.Errorf("%d datagrams queued took %d recvmmsg calls; a batch of 64 should take them in 2", st.Read, st.Recvs)
	}
}

// A buffer shorter than the datagram gets its start, as from a UDP
// socket, and the next read the next datagram whole; a datagram longer
// than a slot is cut to the slot.
func TestConnShortBuffers(t *testing.T) {
	conn, addr := testConn(t, 8, 64)
	p, pAddr := peer(t)
	for _, size := range []int{50, 30, 200} {
		if _, err := p.WriteToUDPAddrPort(datagram(1, size, size), addr); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ buf, want, size int }{{10, 10, 50}, {64, 30, 30}, {100, 64, 200}} {
		buf := make([]byte, c.buf)
		n, from, err := conn.ReadFromAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if from != pAddr {
			t.Errorf("from %v, want %v", from, pAddr)
		}
		if want := datagram(1, c.size, c.size)[:c.want]; !bytes.Equal(buf[:n], want) {
			t.Errorf("a %d-byte datagram into %d bytes: got %d bytes % x, want %d", c.size, c.buf, n, buf[:min(n, 8)], c.want)
		}
	}
	// ReadFrom gives the same as a *net.UDPAddr.
	if _, err := p.WriteToUDPAddrPort([]byte("x"), addr); err != nil {
		t.Fatal(err)
	}
	n, from, err := conn.ReadFrom(make([]byte, 8))
	if err != nil || n != 1 || from.(*net.UDPAddr).AddrPort() != pAddr {
		t.Errorf("ReadFrom: %d bytes from %v, %v; want 1 from %v", n, from, err, pAddr)
	}
}

// Many writers at once, each reusing its buffer as soon as WriteTo
// returns (as pion does): every datagram arrives intact, each writer's in
// order, from the Conn's address, and none is dropped.
func TestConnConcurrentWriters(t *testing.T) {
	conn, addr := testConn(t, 8, 1500) // a small batch, to fill it
	peers := make([]*net.UDPConn, 2)
	dsts := make([]netip.AddrPort, 2)
	for i := range peers {
		peers[i], dsts[i] = peer(t)
	}
	const writers, each = 16, 300
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			buf := make([]byte, 172)
			for n := range each {
				copy(buf, datagram(w, n, len(buf)))
				var err error
				if n%2 == 0 {
					_, err = conn.WriteToAddrPort(buf, dsts[w%2])
				} else {
					_, err = conn.WriteTo(buf, net.UDPAddrFromAddrPort(dsts[w%2]))
				}
				if err != nil {
					t.Error(err)
					return
				}
				clear(buf) // the datagram was copied: this must not reach the wire
			}
		})
	}
	got := make([][]int, writers)
	var rg sync.WaitGroup
	var mu sync.Mutex
	for i, p := range peers {
		rg.Go(func() {
			buf := make([]byte, 2048)
			for range writers / 2 * each {
				n, from, err := p.ReadFromUDPAddrPort(buf)
				if err != nil {
					t.Errorf("peer %d: %v", i, err)
					return
				}
				if from != addr {
					t.Errorf("a datagram from %v, want %v", from, addr)
				}
				w, seq := int(binary.BigEndian.Uint32(buf)), int(binary.BigEndian.Uint32(buf[4:]))
				if w >= writers || !bytes.Equal(buf[:n], datagram(w, seq, 172)) {
					t.Errorf("peer %d: a damaged datagram % x", i, buf[:min(n, 12)])
					return
				}
				mu.Lock()
				got[w] = append(got[w], seq)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	rg.Wait()
	for w, seqs := range got {
		if len(seqs) != each {
			t.Errorf("writer %d: %d datagrams arrived, want %d", w, len(seqs), each)
			continue
		}
		for i, s := range seqs {
			if s != i {
				t.Errorf("writer %d: datagram %d arrived %d-th", w, s, i)
				break
			}
		}
	}
	st := conn.Stats()
	if st.Sent != writers*each || st.Dropped != 0 {
		t.Errorf("stats: %d sent, %d dropped; want %d and 0", st.Sent, st.Dropped, writers*each)
	}
	t.Logf("%d datagrams in %d sends", st.Sent, st.Sends)
}

// A lone datagram goes out with nothing after it to fill a batch; one
// longer than a slot goes out whole, by itself; a destination the socket
// cannot reach fails as the socket's own write does.
func TestConnLoneLongAndBadWrites(t *testing.T) {
	conn, _ := testConn(t, 4, 64)
	p, pAddr := peer(t)
	lone := datagram(2, 2, 20)
	if _, err := conn.WriteToAddrPort(lone, pAddr); err != nil {
		t.Fatal(err)
	}
	if n, _, err := p.ReadFromUDPAddrPort(make([]byte, 64)); err != nil || n != len(lone) {
		t.Fatalf("the lone datagram: %d bytes, %v", n, err)
	}
	long := datagram(3, 3, 1000)
	if n, err := conn.WriteToAddrPort(long, pAddr); n != len(long) || err != nil {
		t.Fatalf("write %d bytes: %d, %v", len(long), n, err)
	}
	buf := make([]byte, 2048)
	n, _, err := p.ReadFromUDPAddrPort(buf)
	if err != nil || !bytes.Equal(buf[:n], long) {
		t.Fatalf("read %d bytes (%v), want the %d written", n, err, len(long))
	}
	if _, err := conn.WriteToAddrPort([]byte("x"), netip.MustParseAddrPort("[2001:db8::1]:5000")); err == nil {
		t.Error("an IPv6 destination from an IPv4 socket: no error")
	}
	if _, err := conn.WriteToAddrPort([]byte("x"), netip.AddrPort{}); err == nil {
		t.Error("no destination: no error")
	}
}

// Close ends a read waiting for datagrams with net.ErrClosed, and later
// writes fail with it.
func TestConnClose(t *testing.T) {
	conn, _ := testConn(t, 8, 64)
	_, pAddr := peer(t)
	done := make(chan error, 1)
	go func() {
		_, _, err := conn.ReadFromAddrPort(make([]byte, 64))
		done <- err
	}()
	// Let the reader reach the socket (it may not have: Close must end the
	// read either way).
	runtime.Gosched()
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Errorf("the waiting read ended with %v, want net.ErrClosed", err)
	}
	if _, err := conn.WriteToAddrPort([]byte("x"), pAddr); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Close: %v, want net.ErrClosed", err)
	}
	if _, _, err := conn.ReadFrom(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Close: %v, want net.ErrClosed", err)
	}
}

// A read deadline ends a wait with a timeout, which pion's mux takes as
// "read again".
func TestConnReadDeadline(t *testing.T) {
	conn, _ := testConn(t, 8, 64)
	if err := conn.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := conn.ReadFromAddrPort(make([]byte, 64)); !os.IsTimeout(err) {
		t.Errorf("read past the deadline: %v, want a timeout", err)
	}
	if conn.LocalAddr().(*net.UDPAddr).AddrPort().Port() == 0 {
		t.Error("LocalAddr has no port")
	}
}

// A local Conn on the wildcard address sends from, and reads what was sent
// to, many loopback addresses.
func TestLocalConn(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("local addresses need Linux (IP_PKTINFO)")
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := NewLocalConn(c, 8, 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	port := c.LocalAddr().(*net.UDPAddr).AddrPort().Port()
	p, pAddr := peer(t)
	srcs := []netip.Addr{netip.MustParseAddr("127.3.0.1"), netip.MustParseAddr("127.3.0.2")}
	for i, src := range srcs {
		if _, err := conn.WriteFromTo([]byte{byte(i)}, src, pAddr); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 64)
	for i, src := range srcs {
		n, from, err := p.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if want := netip.AddrPortFrom(src, port); from != want || n != 1 || buf[0] != byte(i) {
			t.Errorf("datagram %d from %v (%d bytes, %d), want from %v", i, from, n, buf[0], want)
		}
		if _, err := p.WriteToUDPAddrPort([]byte{byte(10 + i)}, from); err != nil {
			t.Fatal(err)
		}
	}
	for i, src := range srcs {
		n, from, to, err := conn.ReadFromTo(buf)
		if err != nil {
			t.Fatal(err)
		}
		if to != src || from != pAddr || n != 1 || buf[0] != byte(10+i) {
			t.Errorf("answer %d: to %v from %v (%d bytes, %d), want to %v from %v", i, to, from, n, buf[0], src, pAddr)
		}
	}
}
