package asterisk

// This file is a call's audio as a media.Leg, for what joins calls
// together (a bridge to an interviewer's browser). Asterisk is asked to
// mix the call's channel with an externalMedia channel in a bridge of our
// own; the externalMedia channel sends the call's audio as RTP (PCMU) to a
// UDP socket Canvass opened on ari.media_address, and plays what Canvass
// sends back from that same socket to UNICASTRTP_LOCAL_ADDRESS/PORT (the
// same socket, so Asterisk's strict RTP takes it). Canvass sends on its own
// 20 ms clock: written frames, or silence when none is waiting.
//
// The externalMedia channel enters the Stasis application too (its
// StasisStart): its id starts with mediaPrefix, so it is routed to its leg
// and never taken for an inbound call. The leg ends when the call ends,
// when its externalMedia channel goes, or when it is closed; it then
// deletes the externalMedia channel and the bridge (whoever hung up), and
// the call's channel, if still up, is back in the application alone.

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/pion/rtp"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/survey"
)

// Ids of what a leg makes in Asterisk. The prefixes tell a leg's channel
// from a call when it enters the application.
const (
	mediaPrefix  = "canvass-media-"
	bridgePrefix = "canvass-bridge-"
)

const (
	// legReadQueue bounds frames received and not yet read (1 s); past
	// it the oldest are dropped, so a slow reader hears the present.
	legReadQueue = 50
	// legWriteQueue bounds frames written and not yet sent (100 ms); a
	// writer waits for room, so it is paced by the leg.
	legWriteQueue = 5
)

var _ media.Leg = (*leg)(nil)

// leg is a call bridged to an externalMedia channel.
type leg struct {
	c      *Client
	cl     *call
	id     string // the externalMedia channel
	bridge string
	log    *slog.Logger
	conn   *net.UDPConn
	peer   netip.AddrPort // Asterisk's RTP socket

	in      chan media.Frame
	out     chan [media.SamplesPerPacket]byte // PCMU
	started chan struct{}                     // the externalMedia channel is in the application
	startMu sync.Once
	done    chan struct{} // the leg is over
	torn    chan struct{} // ... and Asterisk's side is gone
	once    sync.Once

	mu      sync.Mutex
	created bool // the externalMedia channel exists (reconcile may end it)
	why     string
	dropped int
}

// Leg bridges the call's audio to Canvass and returns it as a media.Leg
// (PCMU, 20 ms frames): Asterisk mixes the call's channel with an
// externalMedia channel whose RTP comes to a UDP socket on
// ari.media_address. A prompt still playing on the call is stopped. The
// leg ends (Done) when the call ends, and its bridge and externalMedia
// channel are then deleted; closing the call does the same. Its dynamic
// type also has Close(ctx) error, which unbridges the call and leaves it
// up. While a leg is live, Leg returns it again. It returns ivr.ErrHangup
// once the call has ended.
func (cl *call) Leg(ctx context.Context) (media.Leg, error) {
	cl.legMu.Lock()
	defer cl.legMu.Unlock()
	if cl.leg != nil && !cl.leg.over() {
		return cl.leg, nil
	}
	if cl.ended() {
		return nil, ivr.ErrHangup
	}
	l, err := cl.c.newLeg(ctx, cl)
	if err != nil {
		return nil, err
	}
	cl.leg = l
	return l, nil
}

// closeLeg tears down the call's leg, if any, and waits for it.
func (cl *call) closeLeg(ctx context.Context) error {
	cl.legMu.Lock()
	l := cl.leg
	cl.legMu.Unlock()
	if l == nil {
		return nil
	}
	return l.Close(ctx)
}

// SendDigits plays DTMF keys ('0'-'9', '*', '#', 'A'-'D') to the call
// (POST /channels/{id}/dtmf; Asterisk sends them as the channel's
// negotiated DTMF, 100 ms each, 100 ms apart). It returns ivr.ErrHangup
// once the call has ended.
func (cl *call) SendDigits(ctx context.Context, digits string) error {
	if digits == "" || len(digits) > 64 || strings.Trim(digits, "0123456789*#ABCD") != "" {
		return survey.Errorf(survey.EInvalid, "DTMF %q: send 1 to 64 of 0-9, *, #, A-D", digits)
	}
	if cl.ended() {
		return ivr.ErrHangup
	}
	err := cl.c.rest.do(ctx, http.MethodPost, "/channels/"+esc(cl.id)+"/dtmf", url.Values{"dtmf": {digits}}, nil, nil)
	if isNotFound(err) {
		cl.hungUp(0, "channel not found")
		return ivr.ErrHangup
	}
	if err != nil {
		return fmt.Errorf("send DTMF to %s: %w", cl.id, err)
	}
	return nil
}

// newLeg makes the bridge and the externalMedia channel and starts the
// leg's audio. On failure it undoes what it made.
func (c *Client) newLeg(ctx context.Context, cl *call) (_ *leg, err error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.mediaAddr, 0)))
	if err != nil {
		return nil, fmt.Errorf("leg: open the RTP socket on ari.media_address %s: %w", c.mediaAddr, err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		conn.Close()
		return nil, fmt.Errorf("leg: ids: %w", err)
	}
	suffix := hex.EncodeToString(b[:])
	l := &leg{c: c, cl: cl, id: mediaPrefix + suffix, bridge: bridgePrefix + suffix, conn: conn,
		in: make(chan media.Frame, legReadQueue), out: make(chan [media.SamplesPerPacket]byte, legWriteQueue),
		started: make(chan struct{}), done: make(chan struct{}), torn: make(chan struct{})}
	l.log = cl.log.With("leg", l.id, "bridge", l.bridge)
	// Known before it exists: its StasisStart may beat the REST answer.
	c.mu.Lock()
	c.media[l.id] = l
	c.calls.Add(1) // Run waits for the teardown
	c.mu.Unlock()
	go l.watch()
	defer func() {
		if err != nil {
			l.log.Warn("cannot bridge the call to a leg", "err", err)
			l.end("setup failed")
			<-l.torn
			if cl.ended() {
				err = ivr.ErrHangup
			}
		}
	}()

	// Prompts stop: the call now hears the leg.
	cl.stopPlaybacks()
	err = c.rest.do(ctx, http.MethodPost, "/bridges", url.Values{"type": {"mixing"}, "bridgeId": {l.bridge},
		"name": {"canvass-leg"}}, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("leg: create bridge: %w", err)
	}
	if err := c.rest.do(ctx, http.MethodPost, "/bridges/"+esc(l.bridge)+"/addChannel",
		url.Values{"channel": {cl.id}}, nil, nil); err != nil {
		return nil, fmt.Errorf("leg: add the call to the bridge: %w", err)
	}
	local := netip.MustParseAddrPort(conn.LocalAddr().String())
	var ch ari.ChannelData
	err = c.rest.do(ctx, http.MethodPost, "/channels/externalMedia", url.Values{"app": {c.opts.App},
		"channelId": {l.id}, "external_host": {local.String()}, "format": {"ulaw"}, "direction": {"both"},
		"encapsulation": {"rtp"}, "transport": {"udp"}, "connection_type": {"client"}}, nil, &ch)
	l.mu.Lock()
	l.created = err == nil
	l.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("leg: create the externalMedia channel: %w", err)
	}
	peer, err := rtpAddr(ch.ChannelVars)
	if err != nil {
		return nil, fmt.Errorf("leg: externalMedia channel %s: %w", l.id, err)
	}
	l.peer = peer
	// Asterisk refuses to bridge a channel not yet in the application
	// (422): wait for its StasisStart. Should the event be lost (the
	// socket reconnecting), try anyway after a while.
	wait := time.NewTimer(c.opts.RequestTimeout)
	select {
	case <-l.started:
	case <-wait.C:
		l.log.Warn("no StasisStart for the externalMedia channel; bridging it anyway")
	case <-cl.done:
	case <-ctx.Done():
	}
	wait.Stop()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("leg: %w", err)
	}
	if err := c.rest.do(ctx, http.MethodPost, "/bridges/"+esc(l.bridge)+"/addChannel",
		url.Values{"channel": {l.id}}, nil, nil); err != nil {
		return nil, fmt.Errorf("leg: add the externalMedia channel to the bridge: %w", err)
	}
	go l.receive()
	go l.send()
	l.log.Info("call bridged to a leg", "local_rtp", local, "asterisk_rtp", peer)
	return l, nil
}

// rtpAddr reads where an externalMedia channel takes RTP from its
// channel variables.
func rtpAddr(vars map[string]string) (netip.AddrPort, error) {
	host := strings.Trim(vars["UNICASTRTP_LOCAL_ADDRESS"], "[]")
	addr, err := netip.ParseAddr(host)
	if err != nil || addr.IsUnspecified() {
		return netip.AddrPort{}, fmt.Errorf("UNICASTRTP_LOCAL_ADDRESS %q is not an address to send RTP to", host)
	}
	port, err := strconv.ParseUint(vars["UNICASTRTP_LOCAL_PORT"], 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, fmt.Errorf("UNICASTRTP_LOCAL_PORT %q is not a port", vars["UNICASTRTP_LOCAL_PORT"])
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

// inApp notes the externalMedia channel's StasisStart.
func (l *leg) inApp() { l.startMu.Do(func() { close(l.started) }) }

// event takes an event of the externalMedia channel: its end ends the leg.
func (l *leg) event(ev event) {
	switch ev.Type {
	case "StasisEnd", "ChannelDestroyed", "ChannelHangupRequest":
		l.end("the externalMedia channel ended")
	}
}

// end ends the leg; watch tears it down.
func (l *leg) end(why string) {
	l.once.Do(func() {
		l.mu.Lock()
		l.why = why
		l.mu.Unlock()
		close(l.done)
	})
}

func (l *leg) over() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// watch ends the leg with the call, then deletes what the leg made in
// Asterisk, whoever ended it.
func (l *leg) watch() {
	defer l.c.calls.Done()
	select {
	case <-l.cl.done:
		l.end("the call ended")
	case <-l.done:
	}
	if err := l.conn.Close(); err != nil {
		l.log.Debug("close the RTP socket", "err", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*l.c.opts.RequestTimeout)
	defer cancel()
	for _, path := range []string{"/channels/" + esc(l.id), "/bridges/" + esc(l.bridge)} {
		if err := l.c.rest.do(ctx, http.MethodDelete, path, nil, nil, nil); err != nil && !isNotFound(err) {
			l.log.Warn("leg teardown", "delete", path, "err", err)
		}
	}
	l.c.mu.Lock()
	delete(l.c.media, l.id)
	l.c.mu.Unlock()
	l.mu.Lock()
	why, dropped := l.why, l.dropped
	l.mu.Unlock()
	l.log.Info("leg ended", "why", why, "dropped_frames", dropped)
	close(l.torn)
}

// receive queues the audio Asterisk sends; it ends when the socket is
// closed.
func (l *leg) receive() {
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, from, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) != l.peer {
			continue // not Asterisk's RTP socket
		}
		if p.Unmarshal(buf[:n]) != nil || p.PayloadType != media.PCMU.PayloadType() || len(p.Payload) == 0 {
			continue
		}
		f := media.Frame{Codec: media.PCMU, Payload: append([]byte(nil), p.Payload...), Timestamp: p.Timestamp}
		for queued := false; !queued; {
			select {
			case l.in <- f:
				queued = true
			default:
				select { // full: the oldest makes room
				case <-l.in:
					l.mu.Lock()
					l.dropped++
					l.mu.Unlock()
				default:
				}
			}
		}
	}
}

// send sends a packet every 20 ms: the next written frame, or silence. A
// change between the two starts a new talkspurt (Rebaser).
func (l *leg) send() {
	var seed [10]byte
	if _, err := rand.Read(seed[:]); err != nil {
		l.end("no random numbers for RTP")
		return
	}
	ssrc := binary.BigEndian.Uint32(seed[0:])
	reb := media.NewRebaser(ssrc, binary.BigEndian.Uint16(seed[4:]), binary.BigEndian.Uint32(seed[6:]))
	var silence [media.SamplesPerPacket]byte
	for i := range silence {
		silence[i] = media.PCMU.Silence()
	}
	pacer := media.NewPacer(time.Now())
	tick := time.NewTicker(media.PacketInterval)
	defer tick.Stop()
	var seq uint16
	var ts uint32
	written := false
	pkt := make([]byte, 12+media.SamplesPerPacket)
	for {
		var now time.Time
		select {
		case <-l.done:
			return
		case now = <-tick.C:
		}
		skip, n := pacer.Due(now)
		seq, ts = seq+uint16(skip), ts+uint32(skip)*media.SamplesPerPacket
		for range n {
			payload, fromLeg := silence, false
			select {
			case payload = <-l.out:
				fromLeg = true
			default:
			}
			if fromLeg != written {
				reb.Switch()
				written = fromLeg
			}
			h := rtp.Header{Version: 2, PayloadType: media.PCMU.PayloadType(), SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}
			reb.Rewrite(&h, now)
			seq, ts = seq+1, ts+media.SamplesPerPacket
			hn, err := h.MarshalTo(pkt)
			if err != nil {
				l.log.Error("RTP header", "err", err)
				l.end("cannot build RTP")
				return
			}
			copy(pkt[hn:], payload[:])
			if _, err := l.conn.WriteToUDPAddrPort(pkt[:hn+len(payload)], l.peer); err != nil {
				if !errors.Is(err, net.ErrClosed) {
					l.log.Warn("send RTP to Asterisk", "err", err)
				}
			}
		}
	}
}

// ReadFrame returns the next frame of the call's audio (PCMU); once the
// leg is over, ErrEnded (frames still queued are stale then).
func (l *leg) ReadFrame(ctx context.Context) (media.Frame, error) {
	if l.over() {
		return media.Frame{}, media.ErrEnded
	}
	select {
	case f := <-l.in:
		return f, nil
	case <-l.done:
		return media.Frame{}, media.ErrEnded
	case <-ctx.Done():
		return media.Frame{}, ctx.Err()
	}
}

// WriteFrame queues f to be sent to the call, in PCMU, waiting while the
// queue is full.
func (l *leg) WriteFrame(ctx context.Context, f media.Frame) error {
	if err := f.Check(); err != nil {
		return err
	}
	if l.over() {
		return media.ErrEnded
	}
	var p [media.SamplesPerPacket]byte
	media.Transcode(p[:], media.PCMU, f.Payload, f.Codec)
	select {
	case l.out <- p:
		return nil
	case <-l.done:
		return media.ErrEnded
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the leg is over.
func (l *leg) Done() <-chan struct{} { return l.done }

// Close ends the leg and waits until its bridge and externalMedia channel
// are deleted (or ctx ends). The call stays up.
func (l *leg) Close(ctx context.Context) error {
	l.end("closed")
	select {
	case <-l.torn:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
