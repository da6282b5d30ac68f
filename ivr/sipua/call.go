package sipua

// This file is one call's media, the ivr.Media the engine drives: a place
// on a shared RTP port (rtpport.go), a sender that emits one RTP packet
// every 20 ms for the whole call (a frame written to the call's leg, the
// playing prompt, or comfort silence), ticked by its port with the port's
// other calls and copying prompts from codes encoded once for all calls
// (media.Encoded); a receiver that turns the caller's packets into keys
// (RFC 4733 events, or Goertzel detection on the audio when no events were
// negotiated), recorded audio and the leg's frames; and the RTP timeout
// watch. Work per received packet is bounded, and allocation-free unless a
// leg reader takes the frames (leg.go). Keys we send the far end
// (SendDigits) take the sender's slots: digits.go. Every packet leaves
// through writePacket and comes in through datagram.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/pion/rtp"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua/internal/sdp"
)

const (
	// keyQueue bounds unread keys; only a flood of events can fill it.
	keyQueue = 256
	// maxPacket is the largest datagram read; larger ones are cut and
	// rejected as not RTP.
	maxPacket = 1500
)

// sendState is what the sender needs to address a packet; replaced as a
// whole when a re-INVITE or symmetric-RTP latching changes it.
type sendState struct {
	dst   netip.AddrPort
	codec media.Codec
	pt    uint8
	// eventPT is the peer's telephone-event payload type; -1 when none
	// was negotiated (keys we send go in-band).
	eventPT int
	active  bool // false while on hold: packets are built but not sent
}

// recvState is what the receiver accepts.
type recvState struct {
	peer    netip.AddrPort // the address the peer's SDP gave
	codec   media.Codec
	codecPT uint8
	eventPT int // -1: in-band detection
}

// probation is how many consecutive, in-sequence packets a source other
// than the SDP address must send before it is taken as the caller (a NAT
// rewrote the address): a stray or hostile sender that gets in first does
// not capture the call.
const probation = 4

// call is the media of one answered call.
type call struct {
	log          *slog.Logger // carries call_id
	port         *rtpPort
	prompts      Prompts
	recordings   Recordings
	maxRecording time.Duration
	rtpTimeout   time.Duration
	bye          func(ctx context.Context) error // hangs up from our side
	dialog       *sipgo.Dialog                   // for in-dialog requests

	// mu guards local, our SDP, which re-offers change.
	mu    sync.Mutex
	local sdp.Description

	send      atomic.Pointer[sendState]
	recv      atomic.Pointer[recvState]
	relatch   atomic.Bool  // a re-INVITE moved the peer: learn its source again
	expectRTP atomic.Bool  // the peer is supposed to send (not on hold)
	lastRTP   atomic.Int64 // unix nanoseconds of the last valid packet
	started   time.Time
	// byeFirst: a BYE came for this dialog while we still waited for the
	// ACK of our 200. Each SIP request is handled on its own goroutine, so
	// an ACK followed at once by a BYE can be seen in either order; only a
	// caller that had our 200 can send that BYE, so the call was answered.
	byeFirst atomic.Bool
	// lateOffer: the INVITE had no SDP, we offered in the 200, and the
	// caller's answer comes in its ACK (ackBody).
	lateOffer bool
	ackBody   atomic.Pointer[[]byte]
	// cause is why we hung up when the caller did not ("rtp_timeout"); the
	// engine stores it as the interview's end cause (ivr.EndCauser).
	cause atomic.Pointer[string]

	keys    chan ivr.Key
	done    chan struct{}
	endOnce sync.Once

	pending atomic.Pointer[playback] // next prompt for the sender
	// sender is ticked by the port from start on; prompts are encoded
	// once for every call, in encoded.
	sender  *sender
	encoded *media.Encoded
	// rx is the receiver, run by the port's reader only, from start on
	// (receiving).
	rx        receiver
	receiving atomic.Bool
	// over is set as done closes: ended reads it for every packet, and a
	// flag beside receiving costs less than a look at another object.
	over atomic.Bool
	// demuxSDP and demuxSrc are the sources the port routes to the call;
	// guarded by the port's mu.
	demuxSDP, demuxSrc netip.AddrPort

	// keyTurn serializes SendDigits; keyNext is the digits for the sender
	// (digits.go).
	keyTurn chan struct{}
	keyNext atomic.Pointer[keying]

	// legQ is set once Leg is called (leg.go).
	legQ    atomic.Pointer[legQueues]
	legOnce sync.Once

	recMu sync.Mutex
	rec   *recorder

	// amd is answering-machine detection while Dial waits for it (amd.go).
	amd atomic.Pointer[amdRun]

	// srtp encrypts the call's packets; nil: plain RTP (srtp.go). Set
	// before the media starts.
	srtp *srtpSession

	stats callStats
}

// callStats count what the receiver saw, for logs and tests.
type callStats struct {
	received, foreign, junk, keys, droppedKeys, droppedFrames atomic.Int64
}

// newCall makes the call of a place taken on port (rtpPorts.take); start
// begins the media once answered.
func newCall(port *rtpPort, st sdp.Stream, s *Server, log *slog.Logger) *call {
	c := &call{
		log: log, port: port,
		prompts: s.prompts, recordings: s.recordings,
		maxRecording: s.opts.MaxRecording, rtpTimeout: s.opts.RTPTimeout,
		keys: make(chan ivr.Key, keyQueue), done: make(chan struct{}), keyTurn: make(chan struct{}, 1),
	}
	c.encoded = s.media()
	c.sender = newSender(c)
	c.rx = receiver{c: c, emit: c.pushKey}
	c.update(st)
	port.attach(c)
	return c
}

// update applies the peer's (re-)negotiated stream.
func (c *call) update(st sdp.Stream) {
	ss := &sendState{dst: st.Addr, codec: st.Codec, pt: st.CodecPT, eventPT: st.EventPT,
		active: st.Direction.Receives() && !st.Addr.Addr().IsUnspecified()}
	if prev := c.recv.Load(); prev != nil && prev.peer == st.Addr {
		ss.dst = c.send.Load().dst // same SDP address: keep the latched source
	} else if prev != nil {
		c.relatch.Store(true) // moved: learn the new source
		c.port.moved(c, st.Addr)
	}
	c.send.Store(ss)
	c.recv.Store(&recvState{peer: st.Addr, codec: st.Codec, codecPT: st.CodecPT, eventPT: st.EventPT})
	c.expectRTP.Store(st.Direction.Sends() && !st.Addr.Addr().IsUnspecified())
}

// renegotiate applies a re-offer and returns our answer; no offer gets
// our current description (as our offer).
func (c *call) renegotiate(offer []byte, events bool) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(offer) == 0 {
		return c.local.Marshal(), nil
	}
	st, err := sdp.NegotiateSRTP(offer, events, c.srtpPolicy(), c.local.Codecs[0])
	if err == nil {
		err = reachable(c.localIP(), st)
	}
	if err != nil {
		return nil, err
	}
	next := c.local
	next.Codecs, next.CodecPTs, next.EventPT, next.Direction = []media.Codec{st.Codec}, []uint8{st.CodecPT}, st.EventPT, st.Direction.Reverse()
	next.Lines, next.Index = st.Lines, st.Index
	if err := c.rekey(st, &next); err != nil {
		return nil, err
	}
	if !bytes.Equal(next.Marshal(), c.local.Marshal()) {
		next.Version++
	}
	c.local = next
	c.update(st)
	c.log.Info("media renegotiated", "rtp_peer", st.Addr, "direction", st.Direction, "codec", st.Codec.Name())
	return next.Marshal(), nil
}

// localIP is the address the call's RTP port is bound to.
func (c *call) localIP() netip.Addr { return c.port.addr.Addr() }

// start runs the sender (ticked by the port) and takes the datagrams the
// port's reader hands the call, until the call ends. Those that came
// before (between our 200 and the ACK) are dropped.
func (c *call) start() {
	c.started = time.Now()
	c.lastRTP.Store(c.started.UnixNano())
	c.sender.mu.Lock()
	c.sender.begin(c.started)
	c.sender.mu.Unlock()
	c.port.add(c.sender)
	c.receiving.Store(true)
}

// media is what the calls of a server share: the encoded prompts (and,
// for the ports, the packet clock).
func (s *Server) media() *media.Encoded {
	s.mediaOnce.Do(s.initMedia)
	return &s.encoded
}

func (s *Server) initMedia() {
	s.clock = media.NewClock(0)
	s.ports = &rtpPorts{s: s, perPort: max(s.opts.RTPCallsPerPort, 1)}
}

// end stops the media; it is safe to call more than once.
func (c *call) end(why string) {
	c.endOnce.Do(func() {
		c.over.Store(true)
		close(c.done)
		c.sender.stop()
		c.port.leave(c)
		c.recMu.Lock()
		if c.rec != nil {
			c.rec.finish() // a hangup keeps the partial recording
		}
		c.recMu.Unlock()
		c.log.Info("call ended", "by", why, "rtp_received", c.stats.received.Load(),
			"rtp_foreign", c.stats.foreign.Load(), "rtp_junk", c.stats.junk.Load(), "keys", c.stats.keys.Load())
	})
}

// wait returns once no datagram is being handed to the call (after end).
func (c *call) wait() { c.port.quiesce() }

func (c *call) ended() bool { return c.over.Load() }

// sender builds and sends the call's packets. The call's port ticks it
// every 20 ms (Tick) on the server's media.Clock; a frame written to the
// call's leg is sent at once by the writer (live). mu guards all of it.
type sender struct {
	c         *call
	mu        sync.Mutex
	stopped   bool
	pkt       rtp.Packet
	buf       []byte
	payload   []byte
	cur       *playback
	talkspurt bool
	fromLeg   bool // the last packet was a frame written to the leg
	keys      digitState
	errs      int
	pacer     media.Pacer // kept in the sender: it is read every tick; zero until begin
	liveAt    time.Time   // when a written frame last went out
	nextCheck time.Time   // of the RTP timeout
}

func newSender(c *call) *sender {
	return &sender{c: c, talkspurt: true, buf: make([]byte, 12+media.SamplesPerPacket+srtpOverhead), payload: make([]byte, media.SamplesPerPacket),
		pkt: rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32(), SSRC: rand.Uint32()}}}
}

// packet sends the next 20 ms: a frame written to the leg, the playing
// prompt, or silence. Written frames take the slot while they come; a
// playing prompt waits, and resumes where it was. A digit being sent
// (SendDigits) takes the slot before either, and the written frame due
// then is dropped.
func (s *sender) packet() {
	c := s.c
	if p := c.pending.Swap(nil); p != nil {
		s.cur.finish(nil) // replaced by a newer prompt
		s.cur, s.talkspurt = p, true
	}
	ss := c.send.Load()
	if s.cur != nil && s.cur.stopped.Load() {
		s.cur.finish(nil)
		s.cur = nil
	}
	var written outFrame
	fromLeg := false
	if q := c.legQ.Load(); q != nil {
		written, fromLeg = q.next()
	}
	if s.digit(ss) {
		return
	}
	if fromLeg != s.fromLeg && (fromLeg || s.cur != nil) {
		s.talkspurt = true // the source changed: leg audio starts, or the prompt resumes
	}
	s.fromLeg = fromLeg
	last := false
	switch {
	case fromLeg:
		media.Transcode(s.payload, ss.codec, written.payload[:], written.codec)
	case s.cur != nil:
		last = s.cur.fill(s.payload, ss.codec, c.encoded)
	default:
		copy(s.payload, silence(ss.codec))
	}
	s.pkt.PayloadType, s.pkt.Marker, s.pkt.Payload = ss.pt, s.talkspurt, s.payload
	s.write(ss)
	s.pkt.SequenceNumber++
	s.pkt.Timestamp += media.SamplesPerPacket
	s.talkspurt = false
	if last {
		s.cur.finish(nil) // Done once its last packet is out
		s.cur = nil
	}
}

// Packets of silence, one per law.
var (
	silencePCMU = bytes.Repeat([]byte{media.PCMU.Silence()}, media.SamplesPerPacket)
	silencePCMA = bytes.Repeat([]byte{media.PCMA.Silence()}, media.SamplesPerPacket)
)

func silence(c media.Codec) []byte {
	if c == media.PCMA {
		return silencePCMA
	}
	return silencePCMU
}

// write sends the packet as it is, unless the call is on hold.
func (s *sender) write(ss *sendState) {
	if !ss.active {
		return
	}
	n, err := s.pkt.MarshalTo(s.buf)
	b := s.buf[:n]
	if err == nil && s.c.srtp != nil {
		b, err = s.c.srtp.protect(b) // in place: buf has room for the tag
	}
	if err == nil {
		err = s.c.writePacket(b, ss.dst)
	}
	if err != nil {
		if s.errs++; s.errs == 1 || s.errs%500 == 0 {
			s.c.log.Warn("send RTP", "to", ss.dst, "errors", s.errs, "err", err)
		}
	}
}

// writePacket sends a finished RTP packet to the peer: every packet the
// call sends leaves here. The port queues a copy and sends it with its
// other calls' packets at the end of the tick (or of live).
func (c *call) writePacket(b []byte, dst netip.AddrPort) error {
	return c.port.write(b, dst)
}

// datagram hands the call a datagram its port received from from: every
// packet the call receives comes in here, on the port's reader. pcm is
// the reader's decoding scratch.
func (c *call) datagram(b []byte, from netip.AddrPort, pcm []int16) {
	if !c.receiving.Load() || c.ended() {
		return
	}
	if c.srtp != nil {
		var err error
		if b, err = c.srtp.unprotect(b); err != nil {
			c.stats.junk.Add(1) // another key, tampered, replayed, or not SRTP
			return
		}
	}
	c.rx.packet(b, from, pcm)
}

// keying reports whether digits are being sent, or wait to be.
func (s *sender) keying() bool {
	return s.keys.job != nil || s.keys.rest > 0 || s.c.keyNext.Load() != nil
}

// flush sends every frame written to the leg and waiting, each as its own
// packet; it reports whether any went.
func (s *sender) flush() bool {
	q := s.c.legQ.Load()
	sent := false
	for q != nil && len(q.out) > 0 {
		s.packet()
		sent = true
	}
	return sent
}

// skip jumps n packets ahead without sending them.
func (s *sender) skip(n int64) {
	s.pkt.Timestamp += uint32(n * media.SamplesPerPacket)
	s.pkt.SequenceNumber += uint16(n) // a gap the peer reads as loss
	s.talkspurt = true
}

// begin starts the packet clock at now.
func (s *sender) begin(now time.Time) {
	s.pacer = *media.NewPacer(now)
	s.nextCheck = now.Add(time.Second)
}

// Tick emits the packets due at now, paced against the wall clock so
// that scheduling delays do not accumulate (media.Pacer). It reports
// false once the call has ended.
func (s *sender) Tick(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	if now.Sub(s.liveAt) < 2*media.PacketInterval && !s.keying() {
		return true // the writer keeps the pace; a slot now would come between its frames
	}
	skip, send := s.pacer.Due(now)
	if skip > 0 {
		s.skip(skip)
	}
	for range send {
		s.packet()
	}
	if now.After(s.nextCheck) {
		s.nextCheck = now.Add(time.Second)
		s.c.checkTimeout(now)
	}
	return true
}

// live sends the frames written to the leg at once; the clock starts
// again from the last one, for when they stop. Keys take their slots on
// the clock: meanwhile frames wait for them (and are dropped when the
// digit's slot comes).
func (s *sender) live() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || !s.pacer.Started() || s.keying() {
		return // over, not answered yet (frames wait), or keying
	}
	now := time.Now()
	if s.flush() {
		s.c.port.flush()
		s.liveAt = now
		s.pacer = *media.NewPacer(now)
	}
}

// ahead sends a prompt just handed over at once, as the packet due next,
// instead of at the port's next tick (up to 20 ms later): the caller's
// key → next prompt. The packet keeps its place in the stream (sequence
// number and timestamp), so it is at most one interval early, which a
// receiver's jitter buffer takes as jitter; the tick does not send it again.
// Nothing goes ahead while digits or a leg's frames hold the clock.
func (s *sender) ahead() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.stopped || !s.pacer.Started() || s.keying() || now.Sub(s.liveAt) < 2*media.PacketInterval || !s.pacer.Ahead(now) {
		return
	}
	s.packet()
	s.c.port.flush()
}

// stop ends the sending: nothing is sent after it returns, and the
// prompts playing or due end with ivr.ErrHangup.
func (s *sender) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	s.cur.finish(ivr.ErrHangup)
	s.cur = nil
	s.c.pending.Swap(nil).finish(ivr.ErrHangup)
}

// checkTimeout hangs up a call whose peer stopped sending RTP.
func (c *call) checkTimeout(now time.Time) {
	if !c.expectRTP.Load() {
		c.lastRTP.Store(now.UnixNano()) // on hold: the clock restarts when the peer resumes
		return
	}
	idle := now.Sub(time.Unix(0, c.lastRTP.Load()))
	if idle < c.rtpTimeout {
		return
	}
	c.expectRTP.Store(false) // once
	c.log.Warn("no RTP from the caller; hanging up", "idle", idle.Round(time.Millisecond))
	cause := "rtp_timeout"
	c.cause.Store(&cause)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Hangup(ctx); err != nil {
			c.log.Warn("hang up after RTP timeout", "err", err)
		}
	}()
}

// receiver is what the receive side keeps between datagrams.
type receiver struct {
	c        *call
	emit     func(rune)
	pkt      rtp.Packet
	latched  netip.AddrPort
	haveSrc  bool
	ssrc     uint32 // of the stream being received
	haveSSRC bool
	lastTS   uint32 // the stream's newest timestamp
	lastSeq  uint16
	haveSeq  bool
	events   media.EventReceiver
	detector *media.Detector
	// A source on probation (see probation).
	cand    netip.AddrPort
	candSeq uint16
	candN   int
}

// packet handles one datagram: bounded work, no allocation once warm.
func (r *receiver) packet(b []byte, from netip.AddrPort, pcm []int16) {
	c := r.c
	if len(b) < 12 || b[0]>>6 != 2 || len(b) > maxPacket {
		c.stats.junk.Add(1)
		return
	}
	if c.relatch.Swap(false) {
		r.haveSrc = false
		r.restart()
	}
	if r.haveSrc && from != r.latched {
		c.stats.foreign.Add(1)
		return
	}
	if err := r.pkt.Unmarshal(b); err != nil {
		c.stats.junk.Add(1)
		return
	}
	rs := c.recv.Load()
	pt := r.pkt.PayloadType
	isEvent := rs.eventPT >= 0 && int(pt) == rs.eventPT
	if !isEvent && pt != rs.codecPT {
		c.stats.junk.Add(1)
		return
	}
	if !r.haveSrc {
		// Symmetric RTP: the first valid packet from the SDP address, or a
		// source that passed probation, fixes the caller's source, and our
		// packets go back there (through any NAT).
		if from != rs.peer {
			seq := r.pkt.SequenceNumber
			if from == r.cand && seq == r.candSeq+1 {
				r.candN++
			} else {
				r.cand, r.candN = from, 1
			}
			r.candSeq = seq
			if r.candN < probation {
				c.stats.foreign.Add(1)
				return
			}
		}
		r.latched, r.haveSrc = from, true
		c.port.latched(c, from)
		if ss := c.send.Load(); ss.dst != from {
			next := *ss
			next.dst = from
			c.send.Store(&next)
			c.log.Debug("RTP source latched", "from", from, "sdp", ss.dst)
		}
	}
	c.stats.received.Add(1)
	now := time.Now()
	c.lastRTP.Store(now.UnixNano())
	ts := r.pkt.Timestamp
	if r.haveSSRC && (r.pkt.SSRC != r.ssrc || int32(ts-r.lastTS) < -maxLate) {
		r.restart() // the PBX switched media source
	}
	if !r.haveSSRC || int32(ts-r.lastTS) > 0 {
		r.lastTS = ts
	}
	r.ssrc, r.haveSSRC = r.pkt.SSRC, true
	if isEvent {
		r.events.Packet(r.pkt.Timestamp, r.pkt.Payload, r.emit)
		return
	}
	seq := r.pkt.SequenceNumber
	if d := int16(seq - r.lastSeq); r.haveSeq && d <= 0 && d >= -maxMisorder {
		return // duplicate or late: already played past it
	}
	r.lastSeq, r.haveSeq = seq, true
	r.events.Audio(r.pkt.Timestamp, r.emit)
	c.legFrame(rs.codec, r.pkt.Timestamp, r.pkt.Payload, now)
	// The audio is decoded only for what listens to it: the in-band key
	// detector (no telephone-event), answering-machine detection, a
	// recording. A keypad call with RFC 4733 keys needs none of them.
	n := len(r.pkt.Payload)
	decoded := false
	if a := c.amd.Load(); rs.eventPT < 0 || a != nil {
		rs.codec.Decode(pcm[:n], r.pkt.Payload)
		decoded = true
		if rs.eventPT < 0 {
			if r.detector == nil {
				r.detector = media.NewDetector()
			}
			r.detector.Write(pcm[:n], r.emit)
		}
		if a != nil {
			a.write(pcm[:n])
		}
	}
	c.recMu.Lock()
	if c.rec != nil {
		if !decoded {
			rs.codec.Decode(pcm[:n], r.pkt.Payload)
		}
		c.rec.write(pcm[:n])
	}
	c.recMu.Unlock()
}

// maxLate is how far behind the stream's newest timestamp a packet may
// fall and still be a late packet of it (an event packet carries its
// key's start, seconds behind the audio). Further back, it is a new stream
// that kept the SSRC: its timestamps start anywhere, as likely behind as
// ahead.
const maxLate = 30 * media.SampleRate

// maxMisorder is how many packets behind the newest one a packet may come
// and still be a late one (RFC 3550 A.1); further back, the sequence was
// restarted and the packet is played.
const maxMisorder = 100

// restart forgets the stream being received: a new one (a new SSRC, moved
// by a re-INVITE, or timestamps far back) starts at random sequence
// numbers and timestamps, which compared with the old ones would drop its
// audio as late and its keys as already over.
func (r *receiver) restart() {
	r.haveSSRC, r.haveSeq = false, false
	r.events.Restart(r.emit)
}

// pushKey queues a key for the engine; it never blocks the receiver.
func (c *call) pushKey(d rune) {
	c.stats.keys.Add(1)
	select {
	case c.keys <- ivr.Key{Digit: d, At: time.Now()}:
		c.log.Debug("key", "digit", string(d))
	default:
		// Only a flood of events fills the queue: say so once in a while.
		if n := c.stats.droppedKeys.Add(1); n == 1 || n%1000 == 0 {
			c.log.Warn("keys dropped: the queue of unread keys is full", "dropped", n, "queue", keyQueue)
		}
	}
}

// Play starts playing p.
func (c *call) Play(ctx context.Context, p ivr.Prompt) (ivr.Playback, error) {
	if c.ended() {
		return nil, ivr.ErrHangup
	}
	pcm, err := c.prompts.PCM(ctx, p.Questionnaire, p.ID, p.Language, p.Text)
	if err != nil {
		return nil, fmt.Errorf("play: %w", err)
	}
	return c.play(pcm), nil
}

// play hands samples to the sender.
func (c *call) play(pcm []int16) *playback {
	pb := &playback{pcm: pcm, done: make(chan error, 1)}
	c.pending.Swap(pb).finish(nil)
	if c.ended() {
		pb.finish(ivr.ErrHangup) // the sender may already be gone
		return pb
	}
	c.sender.ahead()
	return pb
}

// Keys delivers the caller's keys.
func (c *call) Keys() <-chan ivr.Key { return c.keys }

// Done is closed when the call has ended.
func (c *call) Done() <-chan struct{} { return c.done }

// Hangup sends BYE and ends the media.
func (c *call) Hangup(ctx context.Context) error {
	if c.ended() {
		return nil
	}
	err := c.bye(ctx)
	c.end("us")
	if err != nil {
		return fmt.Errorf("send BYE: %w", err)
	}
	return nil
}

// ReceivedMedia reports whether the phone sent any audio we kept.
func (c *call) ReceivedMedia() bool { return c.stats.received.Load() > 0 }

// EndCause says why we ended the call when the caller did not hang up.
func (c *call) EndCause() string {
	if p := c.cause.Load(); p != nil {
		return *p
	}
	return ""
}

// StartRecording writes what the caller says to a WAV file, after a beep.
func (c *call) StartRecording(ctx context.Context, name string) (ivr.Recorder, error) {
	if c.recordings == nil {
		return nil, ivr.ErrCannotRecord
	}
	if c.ended() {
		return nil, ivr.ErrHangup
	}
	path, err := c.recordings.RecordingPath(name)
	if err != nil {
		return nil, fmt.Errorf("recording %s: %w", name, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("recording %s: %w", name, err)
	}
	w, err := createWAV(path)
	if err != nil {
		return nil, fmt.Errorf("recording %s: %w", name, err)
	}
	r := &recorder{c: c, name: name, w: w, max: int64(c.maxRecording / time.Second * media.SampleRate)}
	c.recMu.Lock()
	if c.rec != nil {
		c.rec.finish()
	}
	c.rec = r
	c.recMu.Unlock()
	if c.ended() {
		r.stop()
	}
	c.play(beep())
	c.log.Debug("recording", "name", name, "path", path)
	return r, nil
}

// beep is the tone the questionnaires announce before a voice answer:
// 250 ms of 1 kHz at -12 dBFS, with 5 ms ramps.
func beep() []int16 {
	const n, ramp = 2000, 40
	out := make([]int16, n)
	for i := range out {
		g := min(1, float64(min(i, n-1-i))/ramp)
		out[i] = int16(8200 * g * math.Sin(2*math.Pi*1000*float64(i)/media.SampleRate))
	}
	return out
}

// playback is a prompt being played; the sender owns its position.
type playback struct {
	pcm     []int16 // shared with the prompt catalog: read only
	codes   []byte  // pcm in codec, shared with every call: read only
	codec   media.Codec
	pos     int
	stopped atomic.Bool
	once    sync.Once
	done    chan error
}

// fill copies the next packet into dst, from the prompt encoded once for
// every call; it reports whether that was the last one. A short last
// packet is padded with silence.
func (p *playback) fill(dst []byte, codec media.Codec, enc *media.Encoded) bool {
	if p.codes == nil || p.codec != codec {
		p.codes, p.codec = enc.Encode(p.pcm, codec), codec // a re-INVITE may change the codec
	}
	n := copy(dst, p.codes[p.pos:])
	copy(dst[n:], silence(codec))
	p.pos += n
	return p.pos >= len(p.pcm)
}

// finish reports the playback's end once; nil-safe.
func (p *playback) finish(err error) {
	if p == nil {
		return
	}
	p.once.Do(func() {
		p.done <- err
		close(p.done)
	})
}

// Done receives the playback's end.
func (p *playback) Done() <-chan error { return p.done }

// Stop ends the playback within one packet.
func (p *playback) Stop() { p.stopped.Store(true) }

// recorder is a voice answer being written.
type recorder struct {
	c    *call
	name string
	max  int64 // samples

	// Guarded by c.recMu.
	w        *wavWriter
	closed   bool
	err      error
	duration time.Duration
}

// write appends caller audio; c.recMu is held.
func (r *recorder) write(pcm []int16) {
	if r.closed || r.err != nil {
		return
	}
	if room := r.max - r.w.samples; int64(len(pcm)) > room {
		pcm = pcm[:max(room, 0)]
	}
	if len(pcm) == 0 {
		return
	}
	if err := r.w.write(pcm); err != nil {
		r.err = err
		r.c.log.Error("write recording", "name", r.name, "err", err)
	}
}

// finish closes the file; c.recMu is held.
func (r *recorder) finish() {
	if r.closed {
		return
	}
	r.closed = true
	r.duration = time.Duration(r.w.samples) * time.Second / media.SampleRate
	if err := r.w.close(); err != nil && r.err == nil {
		r.err = err
	}
}

func (r *recorder) stop() {
	r.c.recMu.Lock()
	defer r.c.recMu.Unlock()
	if r.c.rec == r {
		r.c.rec = nil
	}
	r.finish()
}

// Stop ends the recording; the file keeps what was said.
func (r *recorder) Stop(ctx context.Context) (ivr.Recording, error) {
	r.stop()
	if r.err != nil {
		return ivr.Recording{}, fmt.Errorf("recording %s: %w", r.name, r.err)
	}
	return ivr.Recording{Name: r.name, Duration: r.duration}, nil
}
