package sipua

// This file is the RTP ports calls share. A port (one UDP socket) carries
// up to Options.RTPCallsPerPort calls: the server's media.Clock ticks the
// port, which ticks its calls' senders and sends all their packets in a
// few system calls (sendmmsg); one reader per port drains the socket many
// datagrams at a time (recvmmsg) and hands each to its call, found by the
// datagram's source. At thousands of calls, one socket per call cost ~70 %
// of the server's CPU in a system call per packet each way.
//
// A call is found by the address its SDP gave, or by the source it
// latched (symmetric RTP through a NAT, call.go). Only a source that is
// neither can be a NAT's: a port has at most one call still learning its
// source (the "open" call, which gets those datagrams and puts them on
// probation), so a port takes a new call only once its last one has
// latched; and the sources of calls that just ended are not given to it
// (their peers send on after the BYE). A re-INVITE that moves a caller
// while another call of its port is learning can latch only its new SDP
// address. An outbound call is placed when it is dialed (its INVITE
// offers the port), so it holds the learning place while it rings. Ports
// open as calls need them and close when their last call ends. RTPCallsPerPort 1 is a port per call, as before ports were shared.

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/canvass/canvass/ivr/internal/mmsg"
	"github.com/canvass/canvass/ivr/media"
)

const (
	// readBatch is how many datagrams a port reads per system call at most.
	readBatch = 64
	// writeBatch is how many packets a port sends per system call at most.
	writeBatch = 64
	// packetRoom is a sent packet's buffer: header, payload, and room for
	// what a transform of the finished packet may append.
	packetRoom = 12 + media.SamplesPerPacket + 64
	// goneFor is how long a port ignores the sources of a call that left.
	goneFor = 10 * time.Second
	// portBuffer is the socket buffers asked for a shared port (the system
	// caps them at net.core.rmem_max and wmem_max): a reader that stalls
	// 100 ms must not lose the packets of 250 calls.
	portBuffer = 4 << 20
)

// rtpPorts is the server's pool of RTP ports.
type rtpPorts struct {
	s       *Server
	perPort int

	mu    sync.Mutex
	ports []*rtpPort
}

// rtpPort is one shared RTP socket and the calls on it.
type rtpPort struct {
	pool *rtpPorts
	conn *net.UDPConn
	addr netip.AddrPort // bound
	log  *slog.Logger

	mu       sync.Mutex
	calls    int // attached or reserved
	reserved int // taken for a call not made yet (take, attach)
	open     *call
	demux    map[netip.AddrPort]*call
	// gone holds the sources of calls that left, until when their
	// datagrams are strays: a peer sends on for a while after the BYE, in
	// sequence, and would pass the open call's probation.
	gone    map[netip.AddrPort]time.Time
	joining []*sender
	closed  bool
	strays  int64 // datagrams from sources no call here knows

	// rx is held by the reader while it hands a batch to the calls: once
	// a call has left, waiting for rx means no datagram of it is in
	// flight.
	rx sync.Mutex

	outMu   sync.Mutex
	out     *mmsg.Batch
	errs    int
	dropped int64

	tickMu  sync.Mutex // the clock ticks a port from one goroutine; a benchmark from another
	senders []*sender
}

// rtp is the server's pool, made on first use.
func (s *Server) rtp() *rtpPorts {
	s.mediaOnce.Do(s.initMedia)
	return s.ports
}

// take reserves a place for a new call on a port that has room and no call
// still learning its source, opening a port when none has. The call is
// then made on it (newCall), or the place given back (leave(nil)).
func (ps *rtpPorts) take() (*rtpPort, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var best *rtpPort
	if ps.perPort > 1 {
		for _, p := range ps.ports {
			p.mu.Lock()
			ok := p.reserved == 0 && p.open == nil && p.calls < ps.perPort
			if ok && (best == nil || p.calls > best.calls) {
				best = p // the fullest with room: fewer, fuller batches
			}
			p.mu.Unlock()
		}
	}
	if best == nil {
		p, err := ps.open()
		if err != nil {
			return nil, err
		}
		best = p
	}
	best.mu.Lock()
	best.calls++
	best.reserved++
	best.mu.Unlock()
	return best, nil
}

// open binds a new port and starts its reader and its ticks; ps.mu is
// held.
func (ps *rtpPorts) open() (*rtpPort, error) {
	conn, err := ps.s.listenRTP()
	if err != nil {
		return nil, err
	}
	p, err := ps.newPort(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	ps.ports = append(ps.ports, p)
	return p, nil
}

func (ps *rtpPorts) newPort(conn *net.UDPConn) (*rtpPort, error) {
	out, err := mmsg.New(conn, min(ps.perPort, writeBatch), packetRoom)
	if err != nil {
		return nil, fmt.Errorf("RTP socket: %w", err)
	}
	in, err := mmsg.New(conn, min(ps.perPort, readBatch), maxPacket+1)
	if err != nil {
		return nil, fmt.Errorf("RTP socket: %w", err)
	}
	if ps.perPort > 1 {
		// Best effort: the defaults still work, with less slack.
		conn.SetReadBuffer(portBuffer)
		conn.SetWriteBuffer(portBuffer)
	}
	if err := mmsg.DontFragment(conn); err != nil {
		ps.s.log.Debug("RTP socket: Don't Fragment", "err", err) // only costlier without
	}
	addr := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	p := &rtpPort{pool: ps, conn: conn, addr: addr, out: out, demux: map[netip.AddrPort]*call{}, gone: map[netip.AddrPort]time.Time{},
		log: ps.s.log.With("rtp_port", addr.Port())}
	ps.s.clock.Add(p)
	go p.read(in)
	return p, nil
}

// attach makes c the call of a place taken on p. c learns its source
// here if no other call does.
func (p *rtpPort) attach(c *call) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reserved--
	if p.open == nil {
		p.open = c
	}
	p.route(c, c.recv.Load().peer, &c.demuxSDP)
}

// route sends the datagrams from a to c, unless they go to another call
// already; key remembers it for leave. p.mu is held.
func (p *rtpPort) route(c *call, a netip.AddrPort, key *netip.AddrPort) {
	if *key == a {
		return
	}
	if p.demux[*key] == c {
		delete(p.demux, *key)
		if c.ended() {
			p.gone[*key] = time.Now().Add(goneFor)
		}
	}
	*key = netip.AddrPort{}
	if !a.IsValid() || a.Addr().IsUnspecified() {
		return
	}
	if other := p.demux[a]; other != nil && other != c {
		c.log.Warn("another call on the RTP port has the same peer address: datagrams go to it", "rtp_peer", a)
		return
	}
	p.demux[a] = c
	delete(p.gone, a)
	*key = a
}

// latched: c's source is from (call.go's receiver).
func (p *rtpPort) latched(c *call, from netip.AddrPort) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open == c {
		p.open = nil
	}
	p.route(c, from, &c.demuxSrc)
}

// moved: a re-offer moved c's peer to a; c learns its source again, here
// if no other call does.
func (p *rtpPort) moved(c *call, a netip.AddrPort) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.route(c, netip.AddrPort{}, &c.demuxSrc)
	p.route(c, a, &c.demuxSDP)
	if p.open == nil && p.reserved == 0 {
		p.open = c
	}
}

// leave gives c's place back (nil: a place taken and never used), and
// closes the port when it was the last.
func (p *rtpPort) leave(c *call) {
	ps := p.pool
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls--
	now := time.Now()
	for a, until := range p.gone {
		if now.After(until) {
			delete(p.gone, a)
		}
	}
	if c == nil {
		p.reserved--
	} else {
		p.route(c, netip.AddrPort{}, &c.demuxSDP)
		p.route(c, netip.AddrPort{}, &c.demuxSrc)
		if p.open == c {
			p.open = nil
		}
	}
	if p.calls > 0 {
		return
	}
	p.closed = true
	if err := p.conn.Close(); err != nil {
		p.log.Debug("close RTP socket", "err", err)
	}
	for i, q := range ps.ports {
		if q == p {
			ps.ports[i] = ps.ports[len(ps.ports)-1]
			ps.ports[len(ps.ports)-1] = nil
			ps.ports = ps.ports[:len(ps.ports)-1]
			break
		}
	}
	if p.strays > 0 {
		p.log.Debug("RTP port closed", "stray_datagrams", p.strays)
	}
}

// quiesce returns once no datagram of a call that has left is being
// handed to it.
func (p *rtpPort) quiesce() {
	p.rx.Lock()
	p.rx.Unlock()
}

// add starts ticking s with the port's other senders.
func (p *rtpPort) add(s *sender) {
	p.mu.Lock()
	p.joining = append(p.joining, s)
	p.mu.Unlock()
}

// Tick ticks the port's senders, then sends what they queued. It reports
// false once the port is closed (media.Ticked).
func (p *rtpPort) Tick(now time.Time) bool {
	p.tickMu.Lock()
	defer p.tickMu.Unlock()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		clear(p.senders)
		return false
	}
	p.senders = append(p.senders, p.joining...)
	clear(p.joining)
	p.joining = p.joining[:0]
	p.mu.Unlock()
	ss := p.senders
	for k := 0; k < len(ss); {
		if ss[k].Tick(now) {
			k++
			continue
		}
		last := len(ss) - 1
		ss[k], ss[last] = ss[last], nil
		ss = ss[:last]
	}
	p.senders = ss
	p.flush()
	return true
}

// write queues a finished packet to dst; flush sends it (or a full batch
// does). It copies b.
func (p *rtpPort) write(b []byte, dst netip.AddrPort) error {
	p.outMu.Lock()
	defer p.outMu.Unlock()
	buf := p.out.Next()
	if buf == nil {
		p.flushLocked()
		buf = p.out.Next()
	}
	if len(b) > len(buf) {
		return fmt.Errorf("RTP packet of %d bytes: more than %d", len(b), len(buf))
	}
	p.out.Queue(copy(buf, b), dst)
	return nil
}

// flush sends the packets queued.
func (p *rtpPort) flush() {
	p.outMu.Lock()
	p.flushLocked()
	p.outMu.Unlock()
}

func (p *rtpPort) flushLocked() {
	dropped, err := p.out.Flush()
	if err == nil || errors.Is(err, net.ErrClosed) {
		return
	}
	p.dropped += int64(dropped)
	if p.errs++; p.errs == 1 || p.errs%500 == 0 {
		p.log.Warn("send RTP", "errors", p.errs, "dropped", p.dropped, "err", err)
	}
}

// read hands the datagrams the port receives to their calls until the
// socket closes.
func (p *rtpPort) read(in *mmsg.Batch) {
	to := make([]*call, in.Size())
	pcm := make([]int16, maxPacket) // decoding scratch, shared by the calls
	for {
		n, err := in.Read()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || p.isClosed() {
				return
			}
			continue // e.g. an ICMP error surfaced on the socket
		}
		p.rx.Lock()
		p.mu.Lock()
		for i := range n {
			from := in.From(i)
			if to[i] = p.demux[from]; to[i] != nil {
				continue
			}
			if _, gone := p.gone[from]; !gone {
				to[i] = p.open
			}
			if to[i] == nil {
				p.strays++
			}
		}
		p.mu.Unlock()
		for i := range n {
			if c := to[i]; c != nil {
				c.datagram(in.Data(i), in.From(i), pcm)
			}
			to[i] = nil
		}
		p.rx.Unlock()
	}
}

func (p *rtpPort) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}
