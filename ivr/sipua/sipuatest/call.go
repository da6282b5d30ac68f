package sipuatest

// This file is the media side of a test call: RTP out every 20 ms (silence,
// spoken audio, in-band tones, or RFC 4733 events for keys), RTP in (what
// the phone heard, the keys the far end sent as RFC 4733 events, and with
// KeepAudio every packet as it came), and prompt onsets: the first non-silent packet after
// silence, or a packet marked as a talkspurt start in sequence, which is how
// the endpoint starts every prompt.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/pion/rtp"

	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua/internal/sdp"
)

// KeyDuration is how long each key is held, and KeyPause the least
// silence between two keys (a DTMF receiver needs one to tell "2", "2"
// from a held "2").
const (
	KeyDuration = 100 * time.Millisecond
	KeyPause    = 80 * time.Millisecond
)

// silenceLevel: decoded packets whose samples all stay below this are
// silence.
const silenceLevel = 200

// Call is one call of a Phone.
type Call struct {
	p       *Phone
	keep    bool
	client  *sipgo.DialogClientSession // when we dialled
	server  *sipgo.DialogServerSession // when we answered
	dialog  context.Context
	ackLate bool // ByeBeforeAck: Hangup sends the ACK after the BYE

	invited, answered time.Time

	mu      sync.Mutex
	conn    *net.UDPConn // a socket of its own; nil on a shared port
	port    *mediaPort   // PhoneOptions.SharedMedia: the shared socket
	ip      netip.Addr   // on a shared port, the call's own loopback address
	rx      *receiver    // on a shared port, the state of RTP in
	local   sdp.Description
	remote  netip.AddrPort
	codec   media.Codec
	pt      uint8
	eventPT int
	heard   []int16
	packets []Packet
	onsets  []time.Time
	onsetCh chan struct{} // closed and replaced at each onset
	keys    []rune        // received as RFC 4733 events
	keyCh   chan struct{} // closed and replaced at each key

	jobs     chan *job
	halt     chan struct{}
	haltOnce sync.Once
	mute     atomic.Bool
	restart  atomic.Bool // RestartRTP: a new stream before the next job
	workers  sync.WaitGroup

	in, out         atomic.Int64
	jitterNS, maxNS atomic.Int64
	lastKey         atomic.Int64 // unix ns when the last key ended
	tap             atomic.Pointer[Tap]
}

// Tap lets a benchmark own a call's audio packet by packet: it fills each
// packet the phone would otherwise send as comfort silence, and sees when
// each audio packet left and arrived. Its functions run on the call's
// media goroutines: they must be quick, and must not keep the payload.
type Tap struct {
	// Fill writes the payload of the next packet (one code per sample, in
	// the call's codec) in place of silence.
	Fill func(payload []byte)
	// Sent sees each audio packet once the socket has taken it (not key
	// events, not packets held back by MuteRTP), at the time of the write;
	// with SharedMedia, just before the system call that sends its batch,
	// however long the batch took to fill (and also when the system then
	// refuses it).
	Sent func(payload []byte, at time.Time)
	// Heard sees each packet of the negotiated codec as it arrives, with
	// the time the socket read returned.
	Heard func(payload []byte, at time.Time)
}

// SetTap installs t on the call; nil removes it.
func (c *Call) SetTap(t *Tap) { c.tap.Store(t) }

// job is something to send: a key or audio.
type job struct {
	digit rune    // > 0: an RFC 4733 key; -1: pcm is an in-band key
	pcm   []int16 // audio (in-band keys, speech)
	mark  time.Time
	done  chan time.Time // receives mark once the job is sent
}

func (p *Phone) newCall(keep bool) (*Call, error) {
	c := &Call{p: p, keep: keep, onsetCh: make(chan struct{}), keyCh: make(chan struct{}), jobs: make(chan *job, 64), halt: make(chan struct{})}
	if p.opts.SharedMedia > 0 {
		if err := p.placeOnPort(c); err != nil {
			return nil, err
		}
		return c, nil
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("phone: RTP socket: %w", err)
	}
	c.conn = conn
	return c, nil
}

func (c *Call) localAddr() netip.AddrPort {
	if c.port != nil {
		return netip.AddrPortFrom(c.ip, c.port.port)
	}
	return c.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

func (c *Call) start(st sdp.Stream) {
	c.mu.Lock()
	c.remote, c.codec, c.pt, c.eventPT = st.Addr, st.Codec, st.CodecPT, st.EventPT
	conn := c.conn
	c.mu.Unlock()
	context.AfterFunc(c.dialog, c.stop)
	if c.port != nil {
		c.workers.Add(1)
		c.rx = c.newReceiver()
		c.port.attach(c, newSender(c))
		return
	}
	c.workers.Add(2)
	c.p.clock.Add(newSender(c))
	go c.recvLoop(conn)
}

func (c *Call) stop() {
	c.haltOnce.Do(func() {
		close(c.halt)
		c.release()
	})
}

// release gives back the call's media: its socket, or its place on a
// shared port.
func (c *Call) release() {
	if c.port != nil {
		c.port.detach(c)
		return
	}
	c.mu.Lock()
	c.conn.Close()
	c.mu.Unlock()
}

// Done is closed when the call has ended (BYE either way).
func (c *Call) Done() <-chan struct{} { return c.dialog.Done() }

// Close stops the call's media without signalling (after Done, or to
// abandon the call).
func (c *Call) Close() {
	c.stop()
	c.workers.Wait()
}

// SetupTime is the time from INVITE to answer.
func (c *Call) SetupTime() time.Duration { return c.answered.Sub(c.invited) }

// CallID is the SIP Call-ID.
func (c *Call) CallID() string {
	if c.client != nil {
		return c.client.InviteRequest.CallID().Value()
	}
	return c.server.InviteRequest.CallID().Value()
}

// LocalRTP is the phone's RTP address for this call; RemoteRTP the far
// end's.
func (c *Call) LocalRTP() netip.AddrPort {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.localAddr()
}

// RemoteRTP is where the call sends RTP.
func (c *Call) RemoteRTP() netip.AddrPort {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remote
}

func (c *Call) setRemote(a netip.AddrPort) {
	c.mu.Lock()
	c.remote = a
	c.mu.Unlock()
}

// moveRTP switches to a new RTP socket (the old one is closed).
func (c *Call) moveRTP() error {
	if c.port != nil {
		return errSharedMedia
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	c.mu.Lock()
	old := c.conn
	c.conn = conn
	c.mu.Unlock()
	old.Close()
	c.workers.Add(1)
	go c.recvLoop(conn)
	return nil
}

// MuteRTP stops (or resumes) sending RTP, as a dead or held peer would.
func (c *Call) MuteRTP(mute bool) { c.mute.Store(mute) }

// RestartRTP starts a new RTP stream before the next key or audio, as a
// PBX does when it switches media source (a transfer, a media server
// taking over): a new SSRC, and sequence numbers and timestamps that jump
// backwards, which a receiver ignoring the SSRC would take for late
// packets.
func (c *Call) RestartRTP() { c.restart.Store(true) }

// WriteRaw sends b from the call's RTP socket to the far end's RTP
// address (junk, floods).
func (c *Call) WriteRaw(b []byte) error {
	if c.port != nil {
		return errSharedMedia
	}
	c.mu.Lock()
	conn, to := c.conn, c.remote
	c.mu.Unlock()
	_, err := conn.WriteToUDPAddrPort(b, to)
	return err
}

// send queues j and waits until its last packet is out.
func (c *Call) send(ctx context.Context, j *job) (time.Time, error) {
	j.done = make(chan time.Time, 1)
	select {
	case c.jobs <- j:
	case <-c.halt:
		return time.Time{}, errors.New("call ended")
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
	select {
	case t := <-j.done:
		return t, nil
	case <-c.halt:
		return time.Time{}, errors.New("call ended")
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// SendKey presses d for KeyDuration: RFC 4733 events when negotiated,
// otherwise the DTMF tone in the audio. It returns once the key is over,
// with the time the far end could first tell it: when the first end event
// was sent (RFC 4733 receivers report a key on it), or when the tone
// started (in-band).
func (c *Call) SendKey(ctx context.Context, d rune) (sent time.Time, err error) {
	if wait := time.Until(time.Unix(0, c.lastKey.Load()).Add(KeyPause)); wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
	c.mu.Lock()
	events := c.eventPT >= 0
	c.mu.Unlock()
	if events {
		if _, ok := media.DigitEvent(d); !ok {
			return time.Time{}, fmt.Errorf("%q is not a key", d)
		}
		return c.send(ctx, &job{digit: d})
	}
	pcm := make([]int16, int(KeyDuration/time.Millisecond)*8)
	if !media.Tone(pcm, d, 6000, 0) {
		return time.Time{}, fmt.Errorf("%q is not a key", d)
	}
	return c.send(ctx, &job{pcm: pcm, digit: -1})
}

// SendKeys presses each key in turn with gap between them.
func (c *Call) SendKeys(ctx context.Context, keys string, gap time.Duration) error {
	for i, d := range keys {
		if i > 0 {
			select {
			case <-time.After(gap):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if _, err := c.SendKey(ctx, d); err != nil {
			return fmt.Errorf("key %c: %w", d, err)
		}
	}
	return nil
}

// Say sends audio (8 kHz samples) and returns when it has been sent.
func (c *Call) Say(ctx context.Context, pcm []int16) error {
	_, err := c.send(ctx, &job{pcm: pcm})
	return err
}

// WaitPrompt returns the first prompt onset after t.
func (c *Call) WaitPrompt(ctx context.Context, after time.Time) (time.Time, error) {
	for {
		c.mu.Lock()
		for _, o := range c.onsets {
			if o.After(after) {
				c.mu.Unlock()
				return o, nil
			}
		}
		ch := c.onsetCh
		c.mu.Unlock()
		select {
		case <-ch:
		case <-c.halt:
			return time.Time{}, errors.New("call ended before the next prompt")
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// KeyToPrompt presses d and measures the time from when the far end could
// tell the key (see SendKey) to the start of the next prompt: the latency
// a respondent hears, plus up to one packet time.
func (c *Call) KeyToPrompt(ctx context.Context, d rune) (time.Duration, error) {
	sent, err := c.SendKey(ctx, d)
	if err != nil {
		return 0, err
	}
	onset, err := c.WaitPrompt(ctx, sent)
	if err != nil {
		return 0, err
	}
	return onset.Sub(sent), nil
}

// Heard is the audio received so far (with DialOptions.KeepAudio).
func (c *Call) Heard() []int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int16(nil), c.heard...)
}

// Packet is an RTP packet the phone received, audio or event.
type Packet struct {
	At      time.Time
	Header  rtp.Header
	Payload []byte
}

// Packets are the RTP packets received so far, in the order they came
// (with DialOptions.KeepAudio or Answer(true)).
func (c *Call) Packets() []Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Packet(nil), c.packets...)
}

// Keys are the keys the far end sent as RFC 4733 events so far, each once
// (media.EventReceiver).
func (c *Call) Keys() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.keys)
}

// WaitKeys waits until n keys have come as RFC 4733 events and returns
// them.
func (c *Call) WaitKeys(ctx context.Context, n int) (string, error) {
	for {
		c.mu.Lock()
		keys, ch := string(c.keys), c.keyCh
		c.mu.Unlock()
		if len(keys) >= n {
			return keys, nil
		}
		select {
		case <-ch:
		case <-c.halt:
			return keys, fmt.Errorf("the call ended after keys %q, before %d keys", keys, n)
		case <-ctx.Done():
			return keys, fmt.Errorf("keys %q, waiting for %d: %w", keys, n, ctx.Err())
		}
	}
}

// Onsets are the times prompts started.
func (c *Call) Onsets() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.onsets...)
}

// Stats are what the phone measured of the far end's RTP.
type Stats struct {
	PacketsIn, PacketsOut int64
	Jitter                time.Duration // RFC 3550 interarrival jitter
	MaxGap                time.Duration // longest silence of the wire between two packets
}

// WaitSent waits until the phone has sent n RTP packets: a call that is to
// count as having carried audio.
func (c *Call) WaitSent(ctx context.Context, n int64) error {
	for c.out.Load() < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d RTP packets sent (%d so far): %w", n, c.out.Load(), ctx.Err())
		case <-c.Done():
			return fmt.Errorf("the call ended after %d RTP packets sent, before %d", c.out.Load(), n)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// Stats returns the RTP statistics so far.
func (c *Call) Stats() Stats {
	return Stats{PacketsIn: c.in.Load(), PacketsOut: c.out.Load(),
		Jitter: time.Duration(c.jitterNS.Load()), MaxGap: time.Duration(c.maxNS.Load())}
}

// sender is a call's RTP out, ticked every 20 ms by the phone's clock:
// one loop per core for all of the phone's calls, so that the load
// generator spends its CPU on calls rather than on timers.
type sender struct {
	c        *Call
	pkt      rtp.Packet
	buf      []byte
	payload  []byte
	cur      *job
	step     int
	keyTS    uint32
	finished bool // cur's last packet is the one in buf
	tap      *Tap
	conn     *net.UDPConn   // the call's own socket, when it has one
	to       netip.AddrPort // the far end's RTP address
}

func newSender(c *Call) *sender {
	return &sender{c: c, buf: make([]byte, 12+media.SamplesPerPacket), payload: make([]byte, media.SamplesPerPacket),
		pkt: rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32(), SSRC: rand.Uint32()}}}
}

// Tick sends the next packet of a call with its own socket; it reports
// false once the call has stopped.
func (s *sender) Tick(time.Time) bool {
	n, live := s.packet()
	if !live {
		return false
	}
	if n > 0 {
		if _, err := s.conn.WriteToUDPAddrPort(s.buf[:n], s.to); err == nil {
			s.sent()
		}
	}
	s.advance()
	return true
}

// packet makes the call's next packet in s.buf and returns its length (0
// when muted); false once the call has stopped.
func (s *sender) packet() (int, bool) {
	c, pkt, payload := s.c, &s.pkt, s.payload
	select {
	case <-c.halt:
		c.workers.Done()
		return 0, false
	default:
	}
	if s.cur == nil {
		if c.restart.Swap(false) {
			pkt.SSRC ^= 1 + rand.Uint32N(1<<31)
			pkt.SequenceNumber -= 1 << 14
			pkt.Timestamp -= 1 << 30
		}
		select {
		case s.cur = <-c.jobs:
			s.step, s.keyTS = 0, pkt.Timestamp
		default:
		}
	}
	cur := s.cur
	c.mu.Lock()
	s.conn, s.to = c.conn, c.remote
	codec, pt, evPT := c.codec, c.pt, c.eventPT
	c.mu.Unlock()
	s.tap = c.tap.Load()
	pkt.Marker = false
	s.finished = false
	switch {
	case cur != nil && cur.digit > 0:
		// Five updates, then three end packets, all stamped with the
		// key's start, as baresip does.
		code, _ := media.DigitEvent(cur.digit)
		ev := media.Event{Code: code, Volume: 10, Duration: uint16(min(s.step+1, 5) * media.SamplesPerPacket), End: s.step >= 5}
		pkt.PayloadType, pkt.Timestamp, pkt.Marker = uint8(evPT), s.keyTS, s.step == 0
		pkt.Payload = media.AppendEvent(payload[:0], ev)
		if s.step == 5 {
			cur.mark = time.Now()
		}
		s.step++
		s.finished = s.step == 8
	case cur != nil:
		if s.step == 0 {
			cur.mark = time.Now()
		}
		n := copy16(payload, cur.pcm[s.step*media.SamplesPerPacket:], codec)
		pkt.PayloadType, pkt.Payload = pt, payload
		s.step++
		s.finished = s.step*media.SamplesPerPacket >= len(cur.pcm) || n == 0
	case s.tap != nil && s.tap.Fill != nil:
		s.tap.Fill(payload)
		pkt.PayloadType, pkt.Payload = pt, payload
	default:
		for i := range payload {
			payload[i] = codec.Silence()
		}
		pkt.PayloadType, pkt.Payload = pt, payload
	}
	if c.mute.Load() {
		return 0, true
	}
	n, err := pkt.MarshalTo(s.buf)
	if err != nil {
		return 0, true
	}
	return n, true
}

// sent counts the packet in s.buf as gone out, and shows it to the tap.
func (s *sender) sent() {
	if t := s.counted(); t != nil {
		t.Sent(s.pkt.Payload, time.Now())
	}
}

// counted counts the packet in s.buf as gone out, and returns the tap that
// wants to see it sent (an audio packet), or nil.
func (s *sender) counted() *Tap {
	s.c.out.Add(1)
	if t := s.tap; t != nil && t.Sent != nil && s.pkt.PayloadType == s.c.pt {
		return t
	}
	return nil
}

// advance moves on to the next packet, closing the job that ended.
func (s *sender) advance() {
	pkt, cur := &s.pkt, s.cur
	pkt.SequenceNumber++
	if cur != nil && cur.digit > 0 {
		pkt.Timestamp = s.keyTS + uint32(s.step)*media.SamplesPerPacket
	} else {
		pkt.Timestamp += media.SamplesPerPacket
	}
	if s.finished {
		if cur.digit != 0 {
			s.c.lastKey.Store(time.Now().UnixNano())
		}
		cur.done <- cur.mark
		s.cur = nil
	}
}

// copy16 encodes up to one packet of src into dst, padding with silence.
func copy16(dst []byte, src []int16, codec media.Codec) int {
	n := min(len(dst), len(src))
	codec.Encode(dst[:n], src[:n])
	for i := n; i < len(dst); i++ {
		dst[i] = codec.Silence()
	}
	return n
}

// receiver is the state of a call's RTP in.
type receiver struct {
	pkt    rtp.Packet
	silent bool
	last   time.Time
	lastTS uint32
	// lastSeq is the sequence number of the packet before (seqKnown):
	// a marker after a gap is the sender catching up, not a new prompt.
	lastSeq  uint16
	seqKnown bool
	jitter   float64
	events   media.EventReceiver
	emit     func(rune) // c.emitKey, taken once
}

func (c *Call) newReceiver() *receiver { return &receiver{silent: true, emit: c.emitKey} }

// emitKey records a key received as RFC 4733 events; c.mu is held.
func (c *Call) emitKey(d rune) {
	c.keys = append(c.keys, d)
	close(c.keyCh)
	c.keyCh = make(chan struct{})
}

// recvLoop reads the RTP of a call with its own socket.
func (c *Call) recvLoop(conn *net.UDPConn) {
	defer c.workers.Done()
	buf := make([]byte, 2048)
	pcm := make([]int16, 2048)
	r := c.newReceiver()
	for {
		n, _, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		c.received(r, buf[:n], time.Now(), pcm)
	}
}

// received takes one datagram b that arrived at now; pcm is scratch room
// for decoding, at least as long as b.
func (c *Call) received(r *receiver, b []byte, now time.Time, pcm []int16) {
	pkt := &r.pkt
	if pkt.Unmarshal(b) != nil {
		return
	}
	inOrder := r.seqKnown && pkt.SequenceNumber == r.lastSeq+1
	r.lastSeq, r.seqKnown = pkt.SequenceNumber, true
	c.mu.Lock()
	pt, codec, evPT := c.pt, c.codec, c.eventPT
	if c.keep {
		c.packets = append(c.packets, Packet{At: now, Header: pkt.Header.Clone(), Payload: append([]byte(nil), pkt.Payload...)})
	}
	if evPT >= 0 && int(pkt.PayloadType) == evPT {
		r.events.Packet(pkt.Timestamp, pkt.Payload, r.emit)
	}
	c.mu.Unlock()
	if pkt.PayloadType != pt {
		return
	}
	c.in.Add(1)
	if tap := c.tap.Load(); tap != nil && tap.Heard != nil {
		tap.Heard(pkt.Payload, now)
	}
	if !r.last.IsZero() {
		gap := now.Sub(r.last)
		if gap > time.Duration(c.maxNS.Load()) {
			c.maxNS.Store(int64(gap))
		}
		// RFC 3550 §6.4.1: J += (|D| - J) / 16.
		d := gap.Seconds() - float64(pkt.Timestamp-r.lastTS)/media.SampleRate
		r.jitter += (math.Abs(d) - r.jitter) / 16
		c.jitterNS.Store(int64(r.jitter * 1e9))
	}
	r.last, r.lastTS = now, pkt.Timestamp
	var samples []int16
	quiet := true
	if table, ok := loud[codec]; ok && !c.keep {
		// Without keeping the audio, the codes tell: no decoding.
		for _, b := range pkt.Payload {
			if table[b] {
				quiet = false
				break
			}
		}
	} else {
		samples = pcm[:len(pkt.Payload)]
		codec.Decode(samples, pkt.Payload)
		for _, s := range samples {
			if s > silenceLevel || s < -silenceLevel {
				quiet = false
				break
			}
		}
	}
	c.mu.Lock()
	// A prompt starts after silence, or with the marker of a new
	// talkspurt. A marker after missing packets is a late sender skipping
	// ahead in the same audio (the server's pacer does, starved), which a
	// busy machine makes now and then: that is no onset.
	if !quiet && (r.silent || pkt.Marker && inOrder) {
		c.onsets = append(c.onsets, now)
		close(c.onsetCh)
		c.onsetCh = make(chan struct{})
	}
	if c.keep {
		c.heard = append(c.heard, samples...)
	}
	c.mu.Unlock()
	r.silent = quiet
}

// loud is, for each codec, the codes that decode above silenceLevel.
var loud = func() map[media.Codec]*[256]bool {
	m := map[media.Codec]*[256]bool{}
	for _, codec := range []media.Codec{media.PCMU, media.PCMA} {
		t := new([256]bool)
		var pcm [1]int16
		for b := range 256 {
			codec.Decode(pcm[:], []byte{byte(b)})
			t[b] = pcm[0] > silenceLevel || pcm[0] < -silenceLevel
		}
		m[codec] = t
	}
	return m
}()
