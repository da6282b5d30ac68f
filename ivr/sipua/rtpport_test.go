// Calls sharing an RTP port: datagrams reach their call by source, a NAT's
// source is learnt by the one call of the port that is still learning,
// and packets leave from the port's address.

package sipua

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua/internal/sdp"
)

func TestSharedPort(t *testing.T) {
	s := mediaServer(10)
	ps := s.rtp()
	sock := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	addr := func(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }
	take := func() *rtpPort {
		p, err := ps.take()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	newOn := func(p *rtpPort, peer netip.AddrPort) *call {
		c := newCall(p, sdp.Stream{Addr: peer, Codec: media.PCMU, EventPT: 101, Direction: sdp.SendRecv}, s, s.log)
		c.bye = func(context.Context) error { return nil }
		t.Cleanup(func() { c.end("test"); c.wait() })
		c.start()
		return c
	}
	seq := uint16(100)
	send := func(from *net.UDPConn, to netip.AddrPort) {
		seq++
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 7}, Payload: make([]byte, 160)}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := from.WriteToUDPAddrPort(b, to); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}

	peerA, peerB, natC, sdpC, sdpD, evil := sock(), sock(), sock(), sock(), sock(), sock()
	p := take()
	a := newOn(p, addr(peerA))
	if q := take(); q == p {
		t.Fatal("a port whose call is still learning its source took another call")
	} else {
		q.leave(nil)
	}
	send(peerA, p.addr)
	waitFor("a's packet", func() bool { return a.stats.received.Load() == 1 })

	if q := take(); q != p {
		t.Fatal("the port did not take a new call once its last one latched")
	}
	b := newOn(p, addr(peerB))
	send(peerB, p.addr)
	waitFor("b's packet", func() bool { return b.stats.received.Load() == 1 })
	if got := a.stats.received.Load(); got != 1 {
		t.Errorf("a received %d packets, want 1: b's went to a", got)
	}

	// c's SDP names sdpC, but its packets come from natC (a NAT): c is the
	// port's learning call, so it gets them and latches after probation.
	if q := take(); q != p {
		t.Fatal("the port did not take a third call")
	}
	c := newOn(p, addr(sdpC))
	for range probation {
		send(natC, p.addr)
	}
	waitFor("c to latch the NAT's source", func() bool { return c.send.Load().dst == addr(natC) })

	// Everyone has latched: a stranger's packets reach no call.
	send(evil, p.addr)
	waitFor("the stray datagram", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.strays == 1
	})
	if a.stats.received.Load() != 1 || b.stats.received.Load() != 1 || c.stats.received.Load() != 1 {
		t.Errorf("received %d, %d, %d, want 1 each", a.stats.received.Load(), b.stats.received.Load(), c.stats.received.Load())
	}

	// Packets leave from the port, to each call's peer (c's: the NAT).
	for _, peer := range []*net.UDPConn{peerA, natC} {
		peer.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 1500)
		_, from, err := peer.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatal(err)
		}
		if from != p.addr {
			t.Errorf("%v got a packet from %v, want the port %v", addr(peer), from, p.addr)
		}
	}

	// b hangs up, but its peer sends on, in sequence: the port's next
	// learning call does not take it for its NAT.
	b.end("test")
	b.wait()
	if q := take(); q != p {
		t.Fatal("the port did not take a call in b's place")
	}
	d := newOn(p, addr(sdpD))
	for range 2 * probation {
		send(peerB, p.addr)
	}
	waitFor("the departed peer's datagrams, as strays", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.strays == 1+2*probation
	})
	if d.stats.received.Load() != 0 || d.send.Load().dst != addr(sdpD) {
		t.Errorf("the new call took the departed peer's datagrams (received %d, sends to %v)", d.stats.received.Load(), d.send.Load().dst)
	}

	// The port closes with its last call.
	for _, c := range []*call{a, c, d} {
		c.end("test")
		c.wait()
	}
	if !p.isClosed() {
		t.Error("the port is still open after its last call")
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if len(ps.ports) != 0 {
		t.Errorf("%d ports left in the pool", len(ps.ports))
	}
}
