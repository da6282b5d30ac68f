package sipuatest

// This file is the lean media of a load generator (PhoneOptions.SharedMedia):
// many calls share one UDP socket, bound to the wildcard address, and each
// call has a loopback address of its own (127.1.0.1, 127.1.0.2, …), so that
// the far end still sees one peer address per call. The phone's clock ticks
// a port, whose calls' packets go out by one sendmmsg per batch, each from
// its call's address (IP_PKTINFO); one reader per port drains the socket by
// recvmmsg and hands each datagram to the call it was sent to. A thousand
// calls then cost a few system calls per tick instead of a socket, a
// reader goroutine and a system call per packet each.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/canvass/canvass/ivr/internal/mmsg"
)

// errSharedMedia is what the per-socket tricks (moving RTP, raw writes)
// answer on a shared port.
var errSharedMedia = errors.New("phone: not possible with SharedMedia (the call has no socket of its own)")

// portBuffer is the socket buffer a shared port asks for (the system caps
// it at net.core.rmem_max / wmem_max).
const portBuffer = 4 << 20

// firstIP is the first of the calls' loopback addresses; they are never
// given twice by one phone, since a far end may ignore an address that just
// ended a call.
var firstIP = [4]byte{127, 1, 0, 0}

// mediaPort is one shared socket and its calls.
type mediaPort struct {
	conn *net.UDPConn
	port uint16
	out  *mmsg.Batch // the clock's goroutine only

	mu      sync.Mutex
	calls   map[netip.Addr]*Call
	placed  int // calls on the port, started or not
	joining []*sender
	closed  bool

	senders []*sender // the clock's goroutine only
	queued  []queued  // the clock's goroutine only: packets in out, for Tap.Sent
}

// queued is an audio packet in the port's batch that a Tap wants to see
// sent.
type queued struct {
	tap     *Tap
	payload []byte // in the batch's buffer
}

// placeOnPort gives c a loopback address on a port with room, opening one
// when none has.
func (p *Phone) placeOnPort(c *Call) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("phone: closed")
	}
	var mp *mediaPort
	for _, q := range p.ports {
		q.mu.Lock()
		room := q.placed < p.opts.SharedMedia
		q.mu.Unlock()
		if room {
			mp = q
			break
		}
	}
	if mp == nil {
		var err error
		if mp, err = p.openPort(); err != nil {
			return err
		}
		p.ports = append(p.ports, mp)
	}
	p.lastIP++
	if p.lastIP&0xff == 0 || p.lastIP&0xff == 0xff {
		p.lastIP++ // no .0 or .255 host parts
	}
	n := p.lastIP
	ip := netip.AddrFrom4([4]byte{firstIP[0], firstIP[1] + byte(n>>16), byte(n >> 8), byte(n)})
	if n>>16 >= 254 {
		return errors.New("phone: out of loopback addresses")
	}
	mp.mu.Lock()
	mp.placed++
	mp.mu.Unlock()
	c.port, c.ip = mp, ip
	return nil
}

// openPort binds a shared socket and starts its reader and its ticks.
func (p *Phone) openPort() (*mediaPort, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		return nil, fmt.Errorf("phone: RTP socket: %w", err)
	}
	out, err := mmsg.Local(conn, 64, 12+1500)
	if err == nil {
		var in *mmsg.Batch
		if in, err = mmsg.Local(conn, 64, 2048); err == nil {
			conn.SetReadBuffer(portBuffer)
			conn.SetWriteBuffer(portBuffer)
			mmsg.DontFragment(conn) // cheaper sends; best effort
			mp := &mediaPort{conn: conn, port: conn.LocalAddr().(*net.UDPAddr).AddrPort().Port(), out: out, calls: map[netip.Addr]*Call{}}
			go mp.read(in)
			p.clock.Add(mp)
			return mp, nil
		}
	}
	conn.Close()
	return nil, fmt.Errorf("phone: shared RTP socket: %w", err)
}

// attach starts c's media on the port.
func (mp *mediaPort) attach(c *Call, s *sender) {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	mp.calls[c.ip] = c
	mp.joining = append(mp.joining, s)
}

// detach takes c off the port (its sender stops at its next tick).
func (mp *mediaPort) detach(c *Call) {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	if mp.calls[c.ip] == c {
		delete(mp.calls, c.ip)
	}
	mp.placed--
}

// close stops the port: its reader and its ticks end.
func (mp *mediaPort) close() {
	mp.mu.Lock()
	mp.closed = true
	mp.mu.Unlock()
	mp.conn.Close()
}

// Tick sends one packet of every call on the port, in batches.
func (mp *mediaPort) Tick(time.Time) bool {
	mp.mu.Lock()
	closed := mp.closed
	mp.senders = append(mp.senders, mp.joining...)
	clear(mp.joining)
	mp.joining = mp.joining[:0]
	mp.mu.Unlock()
	live := mp.senders[:0]
	for _, s := range mp.senders {
		if closed {
			s.c.stop()
		}
		n, ok := s.packet()
		if !ok {
			continue
		}
		live = append(live, s)
		if n > 0 {
			buf := mp.out.Next()
			if buf == nil {
				mp.flush()
				buf = mp.out.Next()
			}
			mp.out.QueueFrom(copy(buf, s.buf[:n]), s.c.ip, s.to)
			if t := s.counted(); t != nil {
				mp.queued = append(mp.queued, queued{t, buf[s.pkt.Header.MarshalSize():n]})
			}
		}
		s.advance()
	}
	clear(mp.senders[len(live):])
	mp.senders = live
	mp.flush()
	return !closed || len(live) > 0
}

// flush sends the batch. Its packets are Sent at the time of the system
// call, which delivers them on loopback: the time the far end's socket
// received them, to within the call's own duration.
func (mp *mediaPort) flush() {
	if len(mp.queued) > 0 {
		now := time.Now()
		for _, q := range mp.queued {
			q.tap.Sent(q.payload, now)
		}
		clear(mp.queued)
		mp.queued = mp.queued[:0]
	}
	mp.out.Flush()
}

// read hands each datagram the port receives to the call it was sent to,
// until the socket closes.
func (mp *mediaPort) read(in *mmsg.Batch) {
	to := make([]*Call, in.Size())
	pcm := make([]int16, 2048)
	for {
		n, err := in.Read()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		now := time.Now()
		mp.mu.Lock()
		for i := range n {
			to[i] = mp.calls[in.To(i)]
		}
		mp.mu.Unlock()
		for i := range n {
			if c := to[i]; c != nil {
				at := in.At(i) // when the system received it: the reader may run late
				if at.IsZero() || at.After(now) {
					at = now
				}
				c.received(c.rx, in.Data(i), at, pcm)
			}
			to[i] = nil
		}
	}
}
