package mmsg

// This file is Conn: a net.PacketConn for a library that owns a UDP
// socket's read loop and writes one datagram per call (pion's ICE UDP mux),
// which then costs one recvmmsg per burst of datagrams read and one
// sendmmsg per burst written, instead of a system call per datagram.

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Conn reads and writes a UDP socket in batches behind the one-datagram
// net.PacketConn methods (and the netip.AddrPort ones pion's mux prefers).
//
// Reads: ReadFrom hands out the datagrams of the last recvmmsg one by one,
// and calls recvmmsg again, waiting for the socket, only when they are all
// handed out. Every datagram queued in the kernel when the reader comes
// back costs no system call of its own.
//
// Writes: a writer copies its datagram into the pending batch. The writer
// that finds no send in flight sends the pending batch itself, by
// sendmmsg, and again while other writers queued more during that send;
// those return at once, their datagrams in its next batch. No goroutine is
// woken for a datagram to leave. Each writer's datagrams leave in the
// order it wrote them. Sends never wait for room in the socket (a datagram
// the system refuses is dropped and counted, as on a full network), and
// their errors reach no writer: see Stats.
//
// (Until 7 December a sender goroutine, woken by the first datagram
// queued, sent the batches: 6.4–7.0 datagrams per sendmmsg at 300 bridged
// calls against 1.04 now, but each datagram waited for that goroutine to
// get a core. On a busy machine that added 4.5–10 ms to the passthrough
// p99 over the benchmark's baseline echo; sending at once adds 0–1 ms,
// for the same server CPU within the noise. Since sendmmsg is a raw
// system call, a writer keeps its P through the send.)
type Conn struct {
	conn *net.UDPConn
	slot int  // the longest datagram a batch slot holds
	v6   bool // an IPv6 socket (else IPv4 only)

	rmu       sync.Mutex
	in        *Batch
	next, got int // datagrams of in handed out, and read

	wmu      sync.Mutex
	pending  *Batch    // writers queue here
	spare    *Batch    // the other batch; nil while a writer sends it
	flushing bool      // a writer is sending
	room     sync.Cond // signalled when the sending writer takes the pending batch, and on Close
	closed   bool

	dropped     atomic.Uint64
	reads, recv atomic.Uint64 // datagrams read, recvmmsg calls
	sent, sends atomic.Uint64 // datagrams sent by batch, sendmmsg rounds
}

// NewConn wraps conn, a UDP socket no one else reads or writes, in
// batches of size datagrams of up to slot bytes each. A longer datagram
// read is cut to slot bytes; a longer one written goes out by itself
// (from the socket's own address).
func NewConn(conn *net.UDPConn, size, slot int) (*Conn, error) {
	return newConn(conn, size, slot, New)
}

// NewLocalConn is NewConn with Local batches: conn, an IPv4 socket bound
// to the wildcard address, stands for many local addresses (ReadFromTo,
// WriteFromTo).
func NewLocalConn(conn *net.UDPConn, size, slot int) (*Conn, error) {
	return newConn(conn, size, slot, Local)
}

func newConn(conn *net.UDPConn, size, slot int, batch func(*net.UDPConn, int, int) (*Batch, error)) (*Conn, error) {
	in, err := batch(conn, size, slot)
	if err != nil {
		return nil, err
	}
	a, err := batch(conn, size, slot)
	if err != nil {
		return nil, err
	}
	b, err := batch(conn, size, slot)
	if err != nil {
		return nil, err
	}
	v6 := conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Is6()
	c := &Conn{conn: conn, slot: slot, v6: v6, in: in, pending: a, spare: b}
	c.room.L = &c.wmu
	return c, nil
}

// ReadFromAddrPort reads the next datagram into p, cutting it to len(p)
// as a UDP socket does, and returns its source, IPv4 unmapped.
func (c *Conn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	n, from, _, err := c.ReadFromTo(p)
	return n, from, err
}

// ReadFromTo is ReadFromAddrPort that also returns the address the
// datagram was sent to (NewLocalConn; else the zero Addr).
func (c *Conn) ReadFromTo(p []byte) (int, netip.AddrPort, netip.Addr, error) {
	n, from, to, _, err := c.ReadFromToAt(p)
	return n, from, to, err
}

// ReadFromToAt is ReadFromTo that also returns when the system received
// the datagram (NewLocalConn on Linux; else the zero Time), however late
// it is read.
func (c *Conn) ReadFromToAt(p []byte) (int, netip.AddrPort, netip.Addr, time.Time, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.next == c.got {
		n, err := c.in.Read()
		if err != nil {
			return 0, netip.AddrPort{}, netip.Addr{}, time.Time{}, err
		}
		c.next, c.got = 0, n
		c.recv.Add(1)
		c.reads.Add(uint64(n))
	}
	i := c.next
	c.next++
	return copy(p, c.in.Data(i)), c.in.From(i), c.in.To(i), c.in.At(i), nil
}

// ReadFrom is ReadFromAddrPort with a *net.UDPAddr.
func (c *Conn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddrPort(p)
	if err != nil {
		return 0, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// WriteToAddrPort queues a copy of p to addr and sends it, or leaves it to
// the writer sending (see Conn).
// It reports len(p) and no error once the datagram is queued.
func (c *Conn) WriteToAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	return c.WriteFromTo(p, netip.Addr{}, addr)
}

// WriteFromTo is WriteToAddrPort from src, a local IPv4 address
// (NewLocalConn; the zero Addr for the socket's own).
func (c *Conn) WriteFromTo(p []byte, src netip.Addr, addr netip.AddrPort) (int, error) {
	if len(p) > c.slot || !addr.IsValid() || !c.v6 && !addr.Addr().Unmap().Is4() {
		// Too long for a slot, or an address the socket's own write
		// refuses with the right error.
		return c.conn.WriteToUDPAddrPort(p, addr)
	}
	c.wmu.Lock()
	if c.closed {
		c.wmu.Unlock()
		return 0, c.closedError(addr)
	}
	buf := c.pending.Next()
	for buf == nil {
		// Writers outran the send in flight by a whole batch (only then is
		// the pending batch full): wait for the sending writer to take
		// it, rather than send this one past its writer's earlier
		// datagrams.
		c.room.Wait()
		if c.closed {
			c.wmu.Unlock()
			return 0, c.closedError(addr)
		}
		buf = c.pending.Next()
	}
	c.pending.QueueFrom(copy(buf, p), src, addr)
	if !c.flushing {
		c.flushing = true
		c.sendPending()
	}
	c.wmu.Unlock()
	return len(p), nil
}

// sendPending sends the pending batch, and again while writers queue more
// during the send. wmu is held, and released during each send.
func (c *Conn) sendPending() {
	for c.pending.Queued() > 0 {
		out := c.pending
		c.pending, c.spare = c.spare, nil
		c.room.Broadcast()
		c.wmu.Unlock()
		n := out.Queued()
		dropped, _ := out.Flush()
		c.sends.Add(1)
		c.sent.Add(uint64(n - dropped))
		c.dropped.Add(uint64(dropped))
		c.wmu.Lock()
		c.spare = out
	}
	c.flushing = false
}

func (c *Conn) closedError(addr netip.AddrPort) error {
	return &net.OpError{Op: "write", Net: "udp", Source: c.conn.LocalAddr(), Addr: net.UDPAddrFromAddrPort(addr), Err: net.ErrClosed}
}

// WriteTo is WriteToAddrPort for a *net.UDPAddr; other addresses go to
// the socket, which refuses them.
func (c *Conn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if ua, ok := addr.(*net.UDPAddr); ok {
		return c.WriteToAddrPort(p, ua.AddrPort())
	}
	return c.conn.WriteTo(p, addr)
}

// Close closes the socket: a read waiting returns net.ErrClosed, later
// writes fail with it, and datagrams still queued are dropped.
func (c *Conn) Close() error {
	c.wmu.Lock()
	c.closed = true
	c.room.Broadcast()
	c.wmu.Unlock()
	return c.conn.Close()
}

// LocalAddr is the socket's *net.UDPAddr.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// The deadlines are the socket's: a read deadline ends a wait for
// datagrams, a write deadline makes the sends fail (their datagrams
// dropped).
func (c *Conn) SetDeadline(t time.Time) error      { return c.conn.SetDeadline(t) }
func (c *Conn) SetReadDeadline(t time.Time) error  { return c.conn.SetReadDeadline(t) }
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// ConnStats counts a Conn's traffic since NewConn.
type ConnStats struct {
	Read, Recvs uint64 // datagrams read, and the recvmmsg calls that read them
	Sent, Sends uint64 // datagrams sent in batches, and the batches
	Dropped     uint64 // datagrams queued that the system refused
}

// Stats is the Conn's counters.
func (c *Conn) Stats() ConnStats {
	return ConnStats{Read: c.reads.Load(), Recvs: c.recv.Load(), Sent: c.sent.Load(), Sends: c.sends.Load(), Dropped: c.dropped.Load()}
}
