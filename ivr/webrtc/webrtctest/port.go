// Package webrtctest helps a load generator stand in for many browsers at
// little cost: Port, one UDP socket that many pion peer connections share,
// each on a loopback address of its own (127.2.x.y), as sipuatest's
// SharedMedia does for SIP calls. The far end (one ICE port for all its
// peers, which tells them apart by address) still sees one address per
// browser; here, the packets of all of them go out by one sendmmsg per
// burst (a tick of the browsers' packet clock) and come in by recvmmsg,
// instead of a socket, a reader goroutine and a system call per packet
// each. Linux only (IP_PKTINFO): NewPort fails elsewhere.
package webrtctest

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/ice/v4"

	"github.com/canvass/canvass/ivr/internal/mmsg"
)

const (
	portBatch  = 64
	portSlot   = 2048
	portBuffer = 4 << 20 // the system caps it at net.core.rmem_max / wmem_max
	queueLen   = 64      // datagrams a browser's reader may fall behind by; more are dropped
	arrivals   = 256     // RTP packets a browser remembers the arrival of (5 s of one stream)
)

// firstIP is the first browser's address, after which they are counted
// (never given twice by one Port).
var firstIP = [4]byte{127, 2, 0, 0}

// Port is one shared socket and the browsers on it.
type Port struct {
	conn *mmsg.Conn
	port uint16
	read chan struct{} // closed when the reader ends

	mu     sync.Mutex
	muxes  map[netip.Addr]*Mux
	last   uint32
	closed bool
}

// NewPort opens a socket on the wildcard address and starts reading it.
func NewPort() (*Port, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		return nil, err
	}
	// Best effort: the system caps the sizes.
	_ = c.SetReadBuffer(portBuffer)
	_ = c.SetWriteBuffer(portBuffer)
	conn, err := mmsg.NewLocalConn(c, portBatch, portSlot)
	if err != nil {
		return nil, errors.Join(err, c.Close())
	}
	p := &Port{conn: conn, port: c.LocalAddr().(*net.UDPAddr).AddrPort().Port(), read: make(chan struct{}),
		muxes: map[netip.Addr]*Mux{}}
	go p.readLoop()
	return p, nil
}

// Mux is a new browser's address on the port, as the ice.UDPMux its
// pion SettingEngine takes (SetICEUDPMux); a SettingEngine, and so an API,
// per browser. Closing it (pion does, with the peer connection) frees
// nothing for reuse.
func (p *Port) Mux() (*Mux, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, net.ErrClosed
	}
	p.last++
	if p.last >= 1<<16 {
		return nil, errors.New("webrtctest: a port's 65,535 addresses are used up")
	}
	ip := firstIP
	ip[2], ip[3] = byte(p.last>>8), byte(p.last)
	m := &Mux{port: p, addr: netip.AddrPortFrom(netip.AddrFrom4(ip), p.port),
		bufs: make([][]byte, queueLen), lens: make([]int, queueLen), from: make([]netip.AddrPort, queueLen)}
	for i := range m.bufs {
		m.bufs[i] = make([]byte, portSlot)
	}
	m.ready.L = &m.mu
	p.muxes[m.addr.Addr()] = m
	return m, nil
}

// Close closes the socket and every browser's address on it.
func (p *Port) Close() error {
	p.mu.Lock()
	p.closed = true
	muxes := make([]*Mux, 0, len(p.muxes))
	for _, m := range p.muxes {
		muxes = append(muxes, m)
	}
	p.mu.Unlock()
	err := p.conn.Close()
	<-p.read
	for _, m := range muxes {
		m.Close()
	}
	return err
}

// readLoop hands each datagram to the browser it was sent to.
func (p *Port) readLoop() {
	defer close(p.read)
	buf := make([]byte, portSlot)
	for {
		n, from, to, at, err := p.conn.ReadFromToAt(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		p.mu.Lock()
		m := p.muxes[to]
		p.mu.Unlock()
		if m != nil {
			m.deliver(buf[:n], from, at)
		}
	}
}

// Mux is one browser's address on a Port: an ice.UDPMux whose one
// connection reads what was sent to the address and writes from it.
type Mux struct {
	port *Port
	addr netip.AddrPort

	mu         sync.Mutex
	ready      sync.Cond // a datagram queued, or closed
	bufs       [][]byte  // a ring of queueLen datagrams
	lens       []int
	from       []netip.AddrPort
	head, n    int
	closed     bool
	overflowed uint64
	arrived    [arrivals]arrival // by sequence number modulo arrivals: one stream's (a second would evict it)
}

// arrival is when the system received one SRTP packet.
type arrival struct {
	ssrc uint32
	seq  uint16
	at   time.Time
}

var _ ice.UDPMux = (*Mux)(nil)

// Addr is the browser's address.
func (m *Mux) Addr() netip.AddrPort { return m.addr }

// GetConn is the browser's connection (ICE asks once per local address).
func (m *Mux) GetConn(string, net.Addr) (net.PacketConn, error) { return (*muxConn)(m), nil }

// RemoveConnByUfrag does nothing: the connection ends with the Mux.
func (m *Mux) RemoveConnByUfrag(string) {}

// GetListenAddresses is the browser's one address.
func (m *Mux) GetListenAddresses() []net.Addr { return []net.Addr{net.UDPAddrFromAddrPort(m.addr)} }

// Close ends the browser's reads and forgets its address.
func (m *Mux) Close() error {
	m.port.mu.Lock()
	if m.port.muxes[m.addr.Addr()] == m {
		delete(m.port.muxes, m.addr.Addr())
	}
	m.port.mu.Unlock()
	m.mu.Lock()
	m.closed = true
	m.ready.Broadcast()
	m.mu.Unlock()
	return nil
}

// Overflowed counts the datagrams dropped because the browser's reader
// was queueLen behind.
func (m *Mux) Overflowed() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.overflowed
}

// Arrived is when the system received the browser's SRTP packet of ssrc
// and sequence number seq (an SRTP header is not encrypted), so that a
// reader behind pion's decryption and its goroutines can time what it
// hears as the socket did; the zero Time when it is not among the last
// few hundred, or the system gave no time.
func (m *Mux) Arrived(ssrc uint32, seq uint16) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.arrived[int(seq)%arrivals]
	if a.ssrc != ssrc || a.seq != seq {
		return time.Time{}
	}
	return a.at
}

func (m *Mux) deliver(b []byte, from netip.AddrPort, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	// RTP, not RTCP (RFC 5761's payload types 64–95 with the marker) nor
	// STUN or DTLS (RFC 7983: RTP's first byte is 128–191).
	if len(b) >= 12 && b[0]>>6 == 2 && (b[1]&0x7f < 64 || b[1]&0x7f > 95) && !at.IsZero() {
		seq := binary.BigEndian.Uint16(b[2:])
		m.arrived[int(seq)%arrivals] = arrival{ssrc: binary.BigEndian.Uint32(b[8:]), seq: seq, at: at}
	}
	if m.n == len(m.bufs) {
		m.overflowed++
		return
	}
	i := (m.head + m.n) % len(m.bufs)
	m.lens[i] = copy(m.bufs[i], b)
	m.from[i] = from
	m.n++
	if m.n == 1 {
		m.ready.Signal()
	}
}

// muxConn is the Mux as the net.PacketConn pion's ICE agent reads and
// writes (with the netip.AddrPort methods it prefers).
type muxConn Mux

func (c *muxConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	m := (*Mux)(c)
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.n == 0 && !m.closed {
		m.ready.Wait()
	}
	if m.n == 0 {
		return 0, netip.AddrPort{}, net.ErrClosed
	}
	i := m.head
	m.head = (m.head + 1) % len(m.bufs)
	m.n--
	return copy(p, m.bufs[i][:m.lens[i]]), m.from[i], nil
}

func (c *muxConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddrPort(p)
	if err != nil {
		return 0, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

func (c *muxConn) WriteToAddrPort(p []byte, to netip.AddrPort) (int, error) {
	m := (*Mux)(c)
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return 0, net.ErrClosed
	}
	return m.port.conn.WriteFromTo(p, m.addr.Addr(), to)
}

func (c *muxConn) WriteTo(p []byte, to net.Addr) (int, error) {
	ua, ok := to.(*net.UDPAddr)
	if !ok {
		return 0, &net.AddrError{Err: "not a UDP address", Addr: to.String()}
	}
	return c.WriteToAddrPort(p, ua.AddrPort())
}

func (c *muxConn) Close() error        { return (*Mux)(c).Close() }
func (c *muxConn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.addr) }

// Deadlines are not kept: pion sets one only to end a read it then ends
// by Close.
func (c *muxConn) SetDeadline(time.Time) error      { return nil }
func (c *muxConn) SetReadDeadline(time.Time) error  { return nil }
func (c *muxConn) SetWriteDeadline(time.Time) error { return nil }
