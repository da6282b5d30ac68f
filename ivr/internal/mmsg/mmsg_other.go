//go:build !linux

// Package mmsg is, off Linux, the portable stand-in for mmsg_linux.go: one
// system call per datagram, and no local addresses (Local fails).
package mmsg

import (
	"errors"
	"net"
	"net/netip"
	"time"
)

// Batch is the datagrams of one read or flush; one goroutine uses it at a
// time.
type Batch struct {
	conn *net.UDPConn
	bufs [][]byte
	lens []int
	addr []netip.AddrPort
	n    int
}

// New makes a batch of size datagrams of up to bufSize bytes each.
func New(conn *net.UDPConn, size, bufSize int) (*Batch, error) {
	b := &Batch{conn: conn, bufs: make([][]byte, size), lens: make([]int, size), addr: make([]netip.AddrPort, size)}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, bufSize)
	}
	return b, nil
}

// Local needs IP_PKTINFO, which this stand-in does not use.
func Local(*net.UDPConn, int, int) (*Batch, error) {
	return nil, errors.New("local addresses per datagram need Linux")
}

// DontFragment does nothing off Linux.
func DontFragment(*net.UDPConn) error { return nil }

// Read waits for one datagram.
func (b *Batch) Read() (int, error) {
	n, from, err := b.conn.ReadFromUDPAddrPort(b.bufs[0])
	if err != nil {
		return 0, err
	}
	b.lens[0], b.addr[0], b.n = n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), 1
	return 1, nil
}

func (b *Batch) Data(i int) []byte         { return b.bufs[i][:b.lens[i]] }
func (b *Batch) From(i int) netip.AddrPort { return b.addr[i] }
func (b *Batch) To(int) netip.Addr         { return netip.Addr{} }
func (b *Batch) At(int) time.Time          { return time.Time{} }

func (b *Batch) Size() int { return len(b.bufs) }

func (b *Batch) Queued() int { return b.n }

func (b *Batch) Next() []byte {
	if b.n == len(b.bufs) {
		return nil
	}
	return b.bufs[b.n]
}

func (b *Batch) Queue(size int, dst netip.AddrPort) {
	b.lens[b.n], b.addr[b.n] = size, dst
	b.n++
}

func (b *Batch) QueueFrom(size int, _ netip.Addr, dst netip.AddrPort) { b.Queue(size, dst) }

func (b *Batch) Flush() (dropped int, err error) {
	for i := range b.n {
		if _, werr := b.conn.WriteToUDPAddrPort(b.bufs[i][:b.lens[i]], b.addr[i]); werr != nil {
			dropped++
			if err == nil {
				err = werr
			}
		}
	}
	b.n = 0
	return dropped, err
}
