//go:build !linux

package sipua

// This file is the portable stand-in for mmsg_linux.go: one system call
// per datagram.

import (
	"net"
	"net/netip"
)

// batch is the datagrams of one read or flush; one goroutine uses it at a
// time.
type batch struct {
	conn *net.UDPConn
	bufs [][]byte
	lens []int
	addr []netip.AddrPort
	n    int
}

func newBatch(conn *net.UDPConn, size, bufSize int) (*batch, error) {
	b := &batch{conn: conn, bufs: make([][]byte, size), lens: make([]int, size), addr: make([]netip.AddrPort, size)}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, bufSize)
	}
	return b, nil
}

// read waits for one datagram.
func (b *batch) read() (int, error) {
	n, from, err := b.conn.ReadFromUDPAddrPort(b.bufs[0])
	if err != nil {
		return 0, err
	}
	b.lens[0], b.addr[0], b.n = n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), 1
	return 1, nil
}

func (b *batch) data(i int) []byte         { return b.bufs[i][:b.lens[i]] }
func (b *batch) from(i int) netip.AddrPort { return b.addr[i] }

func (b *batch) next() []byte {
	if b.n == len(b.bufs) {
		return nil
	}
	return b.bufs[b.n]
}

func (b *batch) queue(size int, dst netip.AddrPort) {
	b.lens[b.n], b.addr[b.n] = size, dst
	b.n++
}

func (b *batch) flush() (dropped int, err error) {
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
