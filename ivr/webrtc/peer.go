package webrtc

// This file is one browser's audio as a media.Leg. What the browser sends
// is queued for the reader (bounded: a reader that falls behind hears the
// present), or pushed to a Room; frames that arrive too late to be worth
// playing (the process was starved and pion's buffers held them) are
// dropped first. What is written goes out at once, numbered as one steady
// stream whatever wrote it.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/canvass/canvass/ivr/media"
)

const (
	// readQueue bounds frames received and not yet read (1 s); past it the
	// oldest are dropped, and counted.
	readQueue = 50
	// talkspurtGap is how long a pause in writes must be for the next
	// frame to start a new talkspurt: marker bit, and a timestamp that
	// jumps by the time that passed. Shorter pauses are the writer's
	// jitter, and timestamps go on packet by packet.
	talkspurtGap = 5 * media.PacketInterval
)

var (
	_ media.Pusher          = (*Peer)(nil)
	_ media.ImmediateWriter = (*Peer)(nil)
)

// Peer is one browser's audio, a media.Leg.
//
// ReadFrame returns the frames of the browser's track as they came (20 ms
// of the negotiated law from a browser), Timestamp from RTP; a Room has
// them pushed instead (Push), on the track's reader.
//
// WriteFrame sends at once: unlike a SIP leg, a peer has no packet clock
// of its own (a browser needs no comfort noise), so the writer paces it.
// The peer numbers what it sends as one stream: a frame whose Timestamp
// does not follow the previous frame's (another source), or that comes
// after a pause, starts a new talkspurt, with the marker bit and a
// timestamp that follows the wall clock.
//
// Done is closed when the peer is over: Close, ICE or DTLS failed, the
// browser closed the connection, or it never connected. A brief
// "disconnected" is not the end.
type Peer struct {
	s     *Server
	pc    *pion.PeerConnection
	codec media.Codec
	log   *slog.Logger

	in   chan media.Frame
	done chan struct{}

	// mu guards closed and adding to wg, so that no goroutine starts once
	// shutdown waits for them.
	mu       sync.Mutex
	closed   bool
	wg       sync.WaitGroup
	endOnce  sync.Once
	closeErr error
	timer    *time.Timer // ends a peer that does not connect
	haveIn   bool        // a track of the browser is being read

	// pushes (a Room's fast path) take the browser's frames instead of
	// in, on the track's reader.
	pushes media.Fanout

	// w is the writer's state, one writer at a time.
	w struct {
		sync.Mutex
		track   *pion.TrackLocalStaticRTP
		reb     *media.Rebaser
		pkt     rtp.Packet
		buf     [media.SamplesPerPacket]byte
		seq     uint16 // of the current source, as the rebaser sees it
		ts      uint32
		src     uint32 // current source, a count
		wrote   bool
		lastAt  time.Time
		lastIn  uint32 // Timestamp of the last frame written
		started bool
	}

	stats struct {
		packetsIn, bytesIn, lostIn atomic.Uint64
		packetsOut, bytesOut       atomic.Uint64
		dropped, discarded, stale  atomic.Uint64
		lostOut                    atomic.Uint32
	}
}

// PeerStats are a peer's counters so far.
type PeerStats struct {
	// State is the peer connection's: new, connecting, connected,
	// disconnected, failed or closed.
	State string
	Codec media.Codec
	// PacketsIn and BytesIn count the browser's audio packets and their
	// payload bytes; LostIn the gaps in their sequence numbers.
	PacketsIn, BytesIn, LostIn uint64
	// PacketsOut and BytesOut count what was sent; LostOut is how many of
	// those the browser reports lost (RTCP receiver reports).
	PacketsOut, BytesOut uint64
	LostOut              uint32
	// Dropped counts received frames dropped because the reader fell
	// behind; Discarded, received packets that were not audio of the
	// negotiated codec (telephone-event, comfort noise); Stale, received
	// frames dropped because they arrived too far behind their stream's
	// pace to be worth playing (media.Freshness: the server read them
	// late). None of them is counted in LostIn.
	Dropped, Discarded, Stale uint64
}

func newPeer(s *Server, pc *pion.PeerConnection, codec media.Codec, log *slog.Logger) *Peer {
	p := &Peer{s: s, pc: pc, codec: codec, log: log, in: make(chan media.Frame, readQueue), done: make(chan struct{})}
	return p
}

// start begins sending on track and reading sender's RTCP; false if the
// peer already ended.
func (p *Peer) start(track *pion.TrackLocalStaticRTP, sender *pion.RTPSender) bool {
	p.w.Lock()
	p.w.track = track
	p.w.pkt.Header = rtp.Header{Version: 2, PayloadType: p.codec.PayloadType()}
	// pion sets the SSRC; the first sequence number and timestamp are
	// random (RFC 3550).
	p.w.reb = media.NewRebaser(0, uint16(rand.Uint32()), rand.Uint32())
	p.w.Unlock()
	if !p.goroutine(func() { p.readRTCP(sender) }) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	if p.pc.ConnectionState() != pion.PeerConnectionStateConnected {
		p.timer = time.AfterFunc(p.s.o.ConnectTimeout, func() {
			if p.pc.ConnectionState() != pion.PeerConnectionStateConnected {
				p.shutdown("not connected within connect_timeout")
			}
		})
	}
	return true
}

// goroutine runs f unless the peer is closing; shutdown waits for it.
func (p *Peer) goroutine(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
	return true
}

// stateChanged follows the peer connection: failed or closed ends the
// peer; disconnected is left to ICE, which may recover.
func (p *Peer) stateChanged(st pion.PeerConnectionState) {
	p.log.Debug("webrtc state", "state", st.String())
	switch st {
	case pion.PeerConnectionStateConnected:
		p.mu.Lock()
		if p.timer != nil {
			p.timer.Stop()
		}
		p.mu.Unlock()
	case pion.PeerConnectionStateFailed, pion.PeerConnectionStateClosed:
		// Not in pion's callback: shutdown closes the connection and waits.
		go p.shutdown("connection " + st.String())
	}
}

// onTrack reads the browser's first audio track into the queue; any other
// track is drained and counted as discarded.
func (p *Peer) onTrack(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	first := tr.Kind() == pion.RTPCodecTypeAudio && !p.haveIn
	p.haveIn = p.haveIn || first
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()
	p.read(tr, first)
}

func (p *Peer) read(tr *pion.TrackRemote, keep bool) {
	pt := tr.PayloadType()
	codec := media.PCMU
	if tr.Codec().MimeType == pion.MimeTypePCMA {
		codec = media.PCMA
	}
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	var last uint16
	seen := false
	var fresh media.Freshness
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return // the receiver stopped: the peer is closing
		}
		now := time.Now()
		select {
		case <-p.done:
			// Closing: what pion still holds for us (it hands out its
			// buffers' backlog before the end) is no longer wanted.
			return
		default:
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil || !keep || pkt.PayloadType != uint8(pt) || len(pkt.Payload) == 0 {
			p.stats.discarded.Add(1)
			continue
		}
		p.stats.packetsIn.Add(1)
		p.stats.bytesIn.Add(uint64(len(pkt.Payload)))
		if d := int16(pkt.SequenceNumber - last); seen && d > 1 {
			p.stats.lostIn.Add(uint64(d - 1))
		}
		if d := int16(pkt.SequenceNumber - last); !seen || d > 0 {
			last, seen = pkt.SequenceNumber, true
		}
		if fresh.Stale(pkt.SSRC, pkt.Timestamp, now) {
			if n := p.stats.stale.Add(1); n == 1 || n%500 == 0 {
				p.log.Debug("webrtc frames dropped as stale: read too late to play", "stale", n)
			}
			continue
		}
		f := media.Frame{Codec: codec, Payload: pkt.Payload, Timestamp: pkt.Timestamp}
		if !p.pushes.Send(f) {
			f.Payload = bytes.Clone(f.Payload)
			p.queue(f)
		}
	}
}

// Push hands the browser's frames to f on the track's reader instead of
// queueing them for ReadFrame, until stop (media.Pusher).
func (p *Peer) Push(f func(media.Frame)) (stop func()) { return p.pushes.Add(f) }

// WritesImmediately marks the peer a media.ImmediateWriter: WriteFrame
// sends at once and never waits.
func (p *Peer) WritesImmediately() {}

// queue hands a frame to the reader; when the queue is full the oldest
// frame makes room.
func (p *Peer) queue(f media.Frame) {
	for {
		select {
		case p.in <- f:
			return
		default:
		}
		select {
		case <-p.in:
			if n := p.stats.dropped.Add(1); n == 1 || n%500 == 0 {
				// Normal for a browser not in a call (nobody reads
				// it); a bridge falling behind shows in its own stats.
				p.log.Debug("webrtc frames dropped: nobody reads them, or too slowly", "dropped", n, "queue", readQueue)
			}
		default:
		}
	}
}

// readRTCP reads what the browser reports about our stream (unread, it
// would only wait in pion's bounded buffer) and keeps the loss it
// reports.
func (p *Peer) readRTCP(sender *pion.RTPSender) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				p.log.Debug("webrtc rtcp read ended", "err", err)
			}
			return
		}
		for _, pkt := range pkts {
			var reports []rtcp.ReceptionReport
			switch r := pkt.(type) {
			case *rtcp.ReceiverReport:
				reports = r.Reports
			case *rtcp.SenderReport:
				reports = r.Reports
			}
			for _, rr := range reports {
				p.stats.lostOut.Store(rr.TotalLost)
			}
		}
	}
}

// ReadFrame returns the next frame the browser sent; its Payload is the
// caller's. After the end it returns ErrEnded once the queue is empty.
func (p *Peer) ReadFrame(ctx context.Context) (media.Frame, error) {
	select {
	case f := <-p.in:
		return f, nil
	default:
	}
	select {
	case f := <-p.in:
		return f, nil
	case <-p.done:
		return media.Frame{}, media.ErrEnded
	case <-ctx.Done():
		return media.Frame{}, ctx.Err()
	}
}

// WriteFrame sends f to the browser now, transcoded if it is in the other
// law. f must pass Frame.Check. Before the connection is up, frames are
// dropped (there is nobody to send to yet).
func (p *Peer) WriteFrame(ctx context.Context, f media.Frame) error {
	if err := f.Check(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-p.done:
		return media.ErrEnded
	default:
	}
	w := &p.w
	w.Lock()
	defer w.Unlock()
	if w.track == nil {
		return media.ErrEnded // Answer failed: the peer never started
	}
	now := time.Now()
	// A new source or a pause starts a talkspurt: the rebaser moves the
	// timestamp on by the time that passed and sets the marker.
	if !w.started || now.Sub(w.lastAt) > talkspurtGap || f.Timestamp != w.lastIn+media.SamplesPerPacket && (f.Timestamp != 0 || w.lastIn != 0) {
		w.src++
	}
	w.started, w.lastAt, w.lastIn = true, now, f.Timestamp
	h := &w.pkt.Header
	h.SSRC, h.SequenceNumber, h.Timestamp, h.Marker = w.src, w.seq, w.ts, false
	w.seq++
	w.ts += media.SamplesPerPacket
	w.reb.Rewrite(h, now)
	media.Transcode(w.buf[:], p.codec, f.Payload, f.Codec)
	w.pkt.Payload = w.buf[:]
	if err := w.track.WriteRTP(&w.pkt); err != nil {
		select {
		case <-p.done:
			return media.ErrEnded
		default:
		}
		return err
	}
	p.stats.packetsOut.Add(1)
	p.stats.bytesOut.Add(uint64(len(w.buf)))
	return nil
}

// Done is closed when the peer is over.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Codec is the law negotiated with the browser, both ways.
func (p *Peer) Codec() media.Codec { return p.codec }

// Stats returns the peer's counters so far.
func (p *Peer) Stats() PeerStats {
	return PeerStats{
		State:      p.pc.ConnectionState().String(),
		Codec:      p.codec,
		PacketsIn:  p.stats.packetsIn.Load(),
		BytesIn:    p.stats.bytesIn.Load(),
		LostIn:     p.stats.lostIn.Load(),
		PacketsOut: p.stats.packetsOut.Load(),
		BytesOut:   p.stats.bytesOut.Load(),
		LostOut:    p.stats.lostOut.Load(),
		Dropped:    p.stats.dropped.Load(),
		Discarded:  p.stats.discarded.Load(),
		Stale:      p.stats.stale.Load(),
	}
}

// Close ends the peer: it closes the connection (the browser sees it
// closed) and returns once the peer's goroutines have stopped.
func (p *Peer) Close() error {
	p.shutdown("closed")
	return p.closeErr
}

// shutdown ends the peer once; later callers wait for the first to finish.
func (p *Peer) shutdown(why string) {
	p.endOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		if p.timer != nil {
			p.timer.Stop()
		}
		p.mu.Unlock()
		close(p.done)
		p.closeErr = p.pc.GracefulClose()
		p.wg.Wait()
		p.s.remove(p)
		st := p.Stats()
		p.log.Info("webrtc peer ended", "why", why, "packets_in", st.PacketsIn, "packets_out", st.PacketsOut,
			"lost_in", st.LostIn, "lost_out", st.LostOut, "dropped", st.Dropped, "stale", st.Stale)
	})
}
