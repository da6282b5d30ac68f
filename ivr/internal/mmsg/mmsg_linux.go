//go:build linux

// Package mmsg moves many UDP datagrams per system call on Linux (recvmmsg
// and sendmmsg), for the SIP endpoint's shared RTP ports and the load
// generator's, and for the WebRTC leg's ICE port (Conn). The headers, addresses and buffers are allocated once per
// batch and reused, so that reading or writing a batch allocates nothing
// (golang.org/x/net's ReadBatch allocates the source address of every
// datagram read).
//
// A batch made with Local sees each datagram's local address as well (IPv4
// IP_PKTINFO): read, the address the datagram was sent to; written, the
// address it leaves from. One socket bound to the wildcard address can then
// stand for many addresses, as the load generator's calls do, each on its
// own loopback address. It also reads when the system received each
// datagram (SO_TIMESTAMPNS), so that a reader that runs late, or waits on
// purpose to read bigger batches, still knows when its packets came.
package mmsg

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Batch is the datagrams of one recvmmsg or sendmmsg; one goroutine uses
// it at a time.
type Batch struct {
	raw   syscall.RawConn
	v6    bool
	hs    []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for either family
	bufs  [][]byte
	ctrl  []byte // Local: room for the control messages of each datagram (ctrlSpace)
	n     int    // datagrams read, or queued to write
	sent  int    // of those queued, sent so far

	// The system call's result, and the closures handed to the raw conn,
	// made once: a method value allocates each time it is taken.
	got    int
	errno  syscall.Errno
	readF  func(fd uintptr) bool
	writeF func(fd uintptr) bool
}

// pktinfoSpace is the room of one IP_PKTINFO control message; ctrlSpace
// that of a datagram read by a Local batch: its receive time and its
// IP_PKTINFO.
const timespecSize = int(unsafe.Sizeof(unix.Timespec{}))

var (
	pktinfoSpace = unix.CmsgSpace(unix.SizeofInet4Pktinfo)
	ctrlSpace    = unix.CmsgSpace(timespecSize) + pktinfoSpace
)

// New makes a batch of size datagrams of up to bufSize bytes each.
func New(conn *net.UDPConn, size, bufSize int) (*Batch, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &Batch{raw: raw, v6: conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Is6(),
		hs: make([]unix.Mmsghdr, size), iovs: make([]unix.Iovec, size), names: make([]unix.RawSockaddrInet6, size),
		bufs: make([][]byte, size)}
	mem := make([]byte, size*bufSize)
	for i := range b.hs {
		b.bufs[i] = mem[i*bufSize : (i+1)*bufSize : (i+1)*bufSize]
		b.iovs[i].Base = &b.bufs[i][0]
		b.hs[i].Hdr.Iov = &b.iovs[i]
		b.hs[i].Hdr.SetIovlen(1)
		b.hs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	}
	b.readF, b.writeF = b.recv, b.send
	return b, nil
}

// Local makes a batch like New on an IPv4 socket, and turns on the
// socket's IP_PKTINFO so that To reports the local address of each
// datagram read, and QueueFrom chooses the one each datagram leaves from;
// and its SO_TIMESTAMPNS, so that At reports when each was received.
func Local(conn *net.UDPConn, size, bufSize int) (*Batch, error) {
	b, err := New(conn, size, bufSize)
	if err != nil {
		return nil, err
	}
	if b.v6 {
		return nil, unix.EAFNOSUPPORT
	}
	var serr error
	if err := b.raw.Control(func(fd uintptr) {
		serr = errors.Join(unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1),
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1))
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	b.ctrl = make([]byte, size*ctrlSpace)
	for i := range b.hs {
		b.hs[i].Hdr.Control = &b.ctrl[i*ctrlSpace]
	}
	return b, nil
}

// DontFragment sets the Don't Fragment bit on the IPv4 datagrams conn
// sends, and ignores the path MTU (IP_PMTUDISC_PROBE): media packets are
// far below any MTU, and the kernel then stamps them IP ID 0 instead of
// drawing each an ID from its shared, hashed counters, a few per cent of
// a busy media server's CPU. IPv6 has no IP ID: nothing to do.
func DontFragment(conn *net.UDPConn) error {
	if conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Is6() {
		return nil
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
	}); err != nil {
		return err
	}
	return serr
}

// Read waits for datagrams and reads as many as are queued, up to the
// batch's size; they are then Data(i) and From(i) for i < n.
func (b *Batch) Read() (int, error) {
	for i := range b.hs {
		b.iovs[i].SetLen(len(b.bufs[i]))
		b.hs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		if b.ctrl != nil {
			b.hs[i].Hdr.SetControllen(ctrlSpace)
		}
		b.hs[i].Hdr.Flags = 0
		b.hs[i].Len = 0
	}
	b.n = 0
	if err := b.raw.Read(b.readF); err != nil {
		return 0, err
	}
	if b.errno != 0 {
		return 0, b.errno
	}
	b.n = b.got
	return b.n, nil
}

func (b *Batch) recv(fd uintptr) bool {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hs[0])), uintptr(len(b.hs)), 0, 0, 0)
		switch errno {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false // wait until readable
		}
		b.got, b.errno = int(n), errno
		return true
	}
}

// Data is datagram i as read; one longer than the buffer was cut, and
// comes out as long as the buffer.
func (b *Batch) Data(i int) []byte { return b.bufs[i][:min(int(b.hs[i].Len), len(b.bufs[i]))] }

// From is the source of datagram i, IPv4 unmapped.
func (b *Batch) From(i int) netip.AddrPort {
	sa := &b.names[i]
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), portOf(sa4.Port))
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), portOf(sa.Port))
	}
	return netip.AddrPort{}
}

// To is the address datagram i was sent to, read from its IP_PKTINFO; the
// zero Addr when the batch is not Local or the system gave none.
func (b *Batch) To(i int) netip.Addr {
	if data := b.cmsg(i, unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo); data != nil {
		return netip.AddrFrom4((*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0])).Addr)
	}
	return netip.Addr{}
}

// At is when the system received datagram i (its SO_TIMESTAMPNS, wall
// clock); the zero Time when the batch is not Local or the system gave
// none.
func (b *Batch) At(i int) time.Time {
	if data := b.cmsg(i, unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, timespecSize); data != nil {
		ts := (*unix.Timespec)(unsafe.Pointer(&data[0]))
		return time.Unix(ts.Unix())
	}
	return time.Time{}
}

// cmsg is the data of datagram i's control message of level and type, at
// least size bytes; nil when it has none.
func (b *Batch) cmsg(i int, level, typ int32, size int) []byte {
	if b.ctrl == nil {
		return nil
	}
	c := b.ctrl[i*ctrlSpace : i*ctrlSpace+min(int(b.hs[i].Hdr.Controllen), ctrlSpace)]
	for len(c) >= unix.CmsgLen(0) {
		cm := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
		n := int(cm.Len)
		if n < unix.CmsgLen(0) || n > len(c) {
			return nil
		}
		if cm.Level == level && cm.Type == typ && n >= unix.CmsgLen(size) {
			return c[unix.CmsgLen(0):n]
		}
		c = c[min(unix.CmsgSpace(n-unix.CmsgLen(0)), len(c)):]
	}
	return nil
}

// portOf reads a port stored in network byte order.
func portOf(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// Size is how many datagrams the batch holds.
func (b *Batch) Size() int { return len(b.hs) }

// Queued is how many datagrams are queued to write.
func (b *Batch) Queued() int { return b.n }

// Next is the buffer of the next datagram to write, or nil when the batch
// is full (Flush it).
func (b *Batch) Next() []byte {
	if b.n == len(b.hs) {
		return nil
	}
	return b.bufs[b.n]
}

// Queue adds the first size bytes of Next() as a datagram to dst.
func (b *Batch) Queue(size int, dst netip.AddrPort) {
	b.QueueFrom(size, netip.Addr{}, dst)
}

// QueueFrom adds the first size bytes of Next() as a datagram to dst that
// leaves from src, an IPv4 address of this host (a Local batch; the
// socket's own address when src is the zero Addr).
func (b *Batch) QueueFrom(size int, src netip.Addr, dst netip.AddrPort) {
	i := b.n
	sa := &b.names[i]
	if b.v6 {
		*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: dst.Addr().As16()}
		setPort(&sa.Port, dst.Port())
		b.hs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
	} else {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: dst.Addr().Unmap().As4()}
		setPort(&sa4.Port, dst.Port())
		b.hs[i].Hdr.Namelen = unix.SizeofSockaddrInet4
	}
	if b.ctrl != nil {
		if src.Is4() {
			c := b.ctrl[i*ctrlSpace : i*ctrlSpace+pktinfoSpace]
			cm := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
			cm.Level, cm.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
			cm.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
			*(*unix.Inet4Pktinfo)(unsafe.Pointer(&c[unix.CmsgLen(0)])) = unix.Inet4Pktinfo{Spec_dst: src.As4()}
			b.hs[i].Hdr.SetControllen(pktinfoSpace)
		} else {
			b.hs[i].Hdr.SetControllen(0)
		}
	}
	b.iovs[i].SetLen(size)
	b.n++
}

func setPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// Flush sends the queued datagrams and empties the batch. It never waits
// for the socket: a datagram the system refuses (a full buffer, an
// unreachable network) is dropped, and the first such error returned,
// with how many were dropped.
func (b *Batch) Flush() (dropped int, err error) {
	for b.sent = 0; b.sent < b.n; {
		b.got, b.errno = 0, 0
		if werr := b.raw.Write(b.writeF); werr != nil {
			dropped += b.n - b.sent
			err = werr
			break
		}
		if b.errno != 0 {
			// The datagram at sent failed (sendmmsg reports an error only
			// when the first one fails): drop it and go on.
			dropped++
			if err == nil {
				err = b.errno
			}
			b.sent++
			continue
		}
		b.sent += b.got
	}
	b.n = 0
	return dropped, err
}

// send is a raw system call: with MSG_DONTWAIT it never waits for room in
// the socket's buffer, so it is short, and the goroutine keeps its P
// through it (the thread may still be descheduled inside it, holding the
// P; a stop-the-world waits for it to return). With Syscall6 the runtime
// took the P back during the longer sends, and the packet clock's
// goroutine then waited for one behind the readers before its next port:
// at 3,000 calls the longest gap a caller heard fell from 204–267 ms to
// 122–148 ms with this, and the jitter p99 from 29–39 to 17 ms. Reads stay
// Syscall6: a reader that kept its P starved the rest.
func (b *Batch) send(fd uintptr) bool {
	hs := b.hs[b.sent:b.n]
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&hs[0])), uintptr(len(hs)), unix.MSG_DONTWAIT, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		b.got, b.errno = int(n), errno
		return true
	}
}
