package media

// This file is the Room: what joins legs. Each party is a Leg; a route says
// whom a party hears. A listener that hears one source gets that source's
// frames passed through as they arrive (no decoding, no tick: the bridge of
// an interviewer and a respondent adds next to no delay). A listener that
// hears two or more sources gets a mix, made on a 20 ms tick from one frame
// per source taken from a short per-source queue. Routes are a snapshot
// rebuilt on each change (Join, Leave, Hear, a leg's end) and read without a
// lock by the media goroutines, so switching Listen -> Whisper -> Barge is
// instant and never waits on media, and the frame path allocates nothing.
// Legs that push their frames and write at once (Pusher, ImmediateWriter:
// a browser, a SIP call) are bridged on the goroutine that received the
// packet, from one socket to the other, with no goroutine of the room's
// in between.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// jitterDepth bounds a source's frames waiting for the mix tick; a
	// frame arriving at a full queue drops the oldest, so a mix lags its
	// sources by at most this many frames. A source holding its spare can
	// still take three frames that come at once.
	jitterDepth = 3 + spareFrames
	// spareFrames is how many frames a source may keep in hand beyond
	// the one its tick takes: a source whose frame came late to a tick
	// has one left over from then on, and the next frame that is as late
	// still makes its tick instead of being lost. It costs the mix up to
	// 20 ms of delay on a source that was late once.
	spareFrames = 1
	// trimAfter is the window, in ticks, over which a source that always
	// had more than spareFrames frames left over at the tick (it runs two
	// frames ahead) loses its oldest one: latency comes back down after a
	// burst.
	trimAfter = 10
	// writeQueue bounds the frames waiting for a listener's leg (80 ms):
	// a slow leg drops its own oldest frames and stalls nobody else.
	writeQueue = 4
)

// Errors of a Room, checked with errors.Is.
var (
	// ErrRoomClosed: the room was closed.
	ErrRoomClosed = errors.New("media: the room is closed")
	// ErrInRoom: a party of that id is already in the room.
	ErrInRoom = errors.New("media: the party is already in the room")
	// ErrRecording: the room is already recording.
	ErrRecording = errors.New("media: the room is already recording")
)

// RoomStats counts what a room did since it was made.
type RoomStats struct {
	Passed   uint64 // frames written to a listener as their one source sent them
	Mixed    uint64 // frames written to a listener as a sum of two or more sources
	Dropped  uint64 // frames dropped because a queue was full (or ran ahead of the tick)
	Trimmed  uint64 // of Dropped, a mix source's frames dropped because it ran more than spareFrames ahead of the tick
	Recorded uint64 // 20 ms ticks written to recordings
}

// Add adds o's counts to s.
func (s *RoomStats) Add(o RoomStats) {
	s.Passed += o.Passed
	s.Mixed += o.Mixed
	s.Dropped += o.Dropped
	s.Trimmed += o.Trimmed
	s.Recorded += o.Recorded
}

// Room joins legs: each party hears the parties its route names (Hear),
// passed through when there is one, mixed when there are more. A party never
// hears itself. The zero value is not ready: use NewRoom.
type Room struct {
	mu      sync.Mutex
	closed  bool
	parties map[string]*party
	routes  map[string][]string // listener -> sources, as Hear set them
	rec     *Recording

	plan   atomic.Pointer[mixPlan] // nil while nothing mixes or records
	tickMu sync.Mutex              // held by a tick; Stop waits on it
	wake   chan struct{}           // the plan changed
	quit   chan struct{}
	ticker sync.WaitGroup

	passed, mixed, dropped, trimmed, recorded atomic.Uint64
}

// party is a leg in the room: its reader feeds the listeners that hear it,
// its writer plays what it hears.
type party struct {
	id     string
	leg    Leg
	cancel context.CancelFunc
	wg     sync.WaitGroup // reader and writer
	ended  bool           // its leg failed (guarded by Room.mu)

	codec atomic.Uint32              // of the last frame read: the mix is coded in it
	view  atomic.Pointer[sourceView] // where its frames go
	jq    jitter

	out chan outFrame // frames to write to the leg; nil for an ImmediateWriter
	cur outFrame      // the frame being written (here, not on the stack: the leg keeps a reference during WriteFrame)

	// An ImmediateWriter is written to by whoever has the frame, under
	// wmu; gone, set by Leave and Close, stops those writes.
	ctx  context.Context
	wmu  sync.Mutex
	gone bool
	// unpush stops a Pusher's frames coming to the room.
	unpush func()

	// Reader only (for a Pusher, the goroutine that pushes): frames of another size than 20 ms are cut and joined
	// into 20 ms ones.
	acc      [SamplesPerPacket]byte
	accN     int
	accCodec Codec
}

// sourceView is where a party's frames go: to listeners that hear it alone,
// and to the tick if a mix or a recording takes them.
type sourceView struct {
	pass  []*party
	queue bool
}

// outFrame is a frame on its way to a listener, held by value so that
// nothing is allocated per frame.
type outFrame struct {
	codec   Codec
	payload [SamplesPerPacket]byte
}

// mixPlan is what a tick does: the sources to take a frame from, the mixes
// to make of them, the recording to feed. Its buffers belong to the tick.
type mixPlan struct {
	sources []*party
	mixes   []mixOut
	rec     *Recording
	left    int // index in sources of the recording's channels, -1 for silence
	right   int

	have  []bool
	codec []Codec
	raw   [][SamplesPerPacket]byte
	pcm   [][SamplesPerPacket]int16
	sum   [SamplesPerPacket]int32
	mix   [SamplesPerPacket]int16
	enc   [SamplesPerPacket]byte
	chunk [recordChunk]byte
}

type mixOut struct {
	to   *party
	from []int // indexes in mixPlan.sources
}

// NewRoom returns an empty room.
func NewRoom() *Room {
	r := newRoom()
	r.ticker.Add(1)
	go r.run()
	return r
}

// newRoom returns a room without its tick (a benchmark ticks it by hand).
func newRoom() *Room {
	return &Room{
		parties: map[string]*party{},
		routes:  map[string][]string{},
		wake:    make(chan struct{}, 1),
		quit:    make(chan struct{}),
	}
}

// Join adds leg l as party id and starts reading its frames (one goroutine
// per party, stopped by Leave or Close; a Pusher's frames come on its own
// goroutine, and an ImmediateWriter is written to without a goroutine of
// the room's). It returns ErrRoomClosed after Close and ErrInRoom if id is
// already in the room.
func (r *Room) Join(id string, l Leg) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrRoomClosed
	}
	if _, ok := r.parties[id]; ok {
		return fmt.Errorf("join %q: %w", id, ErrInRoom)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &party{id: id, leg: l, cancel: cancel, ctx: ctx}
	_, immediate := l.(ImmediateWriter)
	if !immediate {
		p.out = make(chan outFrame, writeQueue)
	}
	p.codec.Store(uint32(PCMU))
	p.view.Store(&sourceView{})
	r.parties[id] = p
	r.rebuild()
	p.wg.Add(1)
	if pl, ok := l.(Pusher); ok {
		p.unpush = pl.Push(func(f Frame) { r.received(p, f) })
		go r.watch(ctx, p)
	} else {
		go r.read(ctx, p)
	}
	if !immediate {
		p.wg.Add(1)
		go r.write(ctx, p)
	}
	return nil
}

// Leave stops reading id's leg and writing to it, and takes id out of every
// route, its own included; the leg itself is not ended. When Leave returns,
// the room no longer calls the leg. An unknown id is a no-op.
func (r *Room) Leave(id string) {
	r.mu.Lock()
	p := r.parties[id]
	if p == nil {
		r.mu.Unlock()
		return
	}
	delete(r.parties, id)
	delete(r.routes, id)
	for k, from := range r.routes {
		r.routes[k] = slices.DeleteFunc(from, func(s string) bool { return s == id })
	}
	r.rebuild()
	r.mu.Unlock()
	p.cancel()
	p.stopWrites()
	p.wg.Wait()
}

// Hear sets whom party id hears: the parties from (none: silence). It takes
// effect at the next frame and never waits on media. It may name parties
// not yet joined (silent until they join), and id itself is ignored.
func (r *Room) Hear(id string, from ...string) {
	var srcs []string
	for _, s := range from {
		if s != id && !slices.Contains(srcs, s) {
			srcs = append(srcs, s)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if len(srcs) == 0 {
		delete(r.routes, id)
	} else {
		r.routes[id] = srcs
	}
	r.rebuild()
}

// Close stops everything, recording included; the legs are not ended. When
// it returns, no goroutine of the room is left.
func (r *Room) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	parties := r.parties
	r.parties, r.routes = map[string]*party{}, map[string][]string{}
	rec := r.rec
	r.rebuild()
	r.mu.Unlock()
	if rec != nil {
		// Its owner gets the outcome from its own Stop.
		rec.stop()
	}
	close(r.quit)
	r.ticker.Wait()
	for _, p := range parties {
		p.cancel()
	}
	for _, p := range parties {
		p.stopWrites()
		p.wg.Wait()
	}
}

// stopWrites waits for a write to an ImmediateWriter under way, and stops
// any after it.
func (p *party) stopWrites() {
	p.wmu.Lock()
	p.gone = true
	p.wmu.Unlock()
}

// Stats returns the room's counters.
func (r *Room) Stats() RoomStats {
	return RoomStats{
		Passed:   r.passed.Load(),
		Mixed:    r.mixed.Load(),
		Dropped:  r.dropped.Load(),
		Trimmed:  r.trimmed.Load(),
		Recorded: r.recorded.Load(),
	}
}

// rebuild publishes the routes as the media goroutines read them: who is
// passed through what, who is mixed, what a tick takes. r.mu is held.
func (r *Room) rebuild() {
	views := map[*party]*sourceView{}
	view := func(p *party) *sourceView {
		if views[p] == nil {
			views[p] = &sourceView{}
		}
		return views[p]
	}
	plan := &mixPlan{left: -1, right: -1}
	index := map[*party]int{}
	source := func(p *party) int {
		if i, ok := index[p]; ok {
			return i
		}
		index[p] = len(plan.sources)
		plan.sources = append(plan.sources, p)
		view(p).queue = true
		return index[p]
	}
	live := func(id string) *party {
		if p := r.parties[id]; p != nil && !p.ended {
			return p
		}
		return nil
	}
	for id, to := range r.parties {
		if to.ended {
			continue
		}
		var from []*party
		for _, s := range r.routes[id] {
			if p := live(s); p != nil && p != to {
				from = append(from, p)
			}
		}
		switch len(from) {
		case 0:
		case 1:
			v := view(from[0])
			v.pass = append(v.pass, to)
		default:
			m := mixOut{to: to}
			for _, p := range from {
				m.from = append(m.from, source(p))
			}
			plan.mixes = append(plan.mixes, m)
		}
	}
	if plan.rec = r.rec; plan.rec != nil {
		if p := live(plan.rec.left); p != nil {
			plan.left = source(p)
		}
		if p := live(plan.rec.right); p != nil {
			plan.right = source(p)
		}
	}
	n := len(plan.sources)
	plan.have, plan.codec = make([]bool, n), make([]Codec, n)
	plan.raw, plan.pcm = make([][SamplesPerPacket]byte, n), make([][SamplesPerPacket]int16, n)
	for _, p := range r.parties {
		v := views[p]
		if v == nil {
			v = &sourceView{}
		}
		if !v.queue {
			// Frames left from an earlier mix would play late at the next.
			p.jq.reset()
		}
		p.view.Store(v)
	}
	if len(plan.mixes) == 0 && plan.rec == nil {
		plan = nil
	}
	r.plan.Store(plan)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// read is a party's reader: each frame goes at once to whoever hears the
// party alone, and to the tick's queue when a mix or a recording takes it.
func (r *Room) read(ctx context.Context, p *party) {
	defer p.wg.Done()
	for {
		f, err := p.leg.ReadFrame(ctx)
		if err != nil {
			if ctx.Err() == nil {
				// ErrEnded, or a leg that can no longer be read: either
				// way the party is silent from now on.
				r.ended(p)
			}
			return
		}
		r.received(p, f)
	}
}

// watch is a Pusher's reader: the frames come on the leg's goroutine
// (received); it waits for the end, and stops the pushing before Leave or
// Close returns.
func (r *Room) watch(ctx context.Context, p *party) {
	defer p.wg.Done()
	select {
	case <-p.leg.Done():
		r.ended(p)
	case <-ctx.Done():
	}
	p.unpush()
}

// received routes a frame read from p, cut or joined into 20 ms frames when
// the peer packs another duration.
func (r *Room) received(p *party, f Frame) {
	if f.Codec != PCMU && f.Codec != PCMA {
		return
	}
	p.codec.Store(uint32(f.Codec))
	if len(f.Payload) == SamplesPerPacket && p.accN == 0 {
		r.dispatch(p, f.Codec, f.Payload)
		return
	}
	if f.Codec != p.accCodec {
		p.accN, p.accCodec = 0, f.Codec
	}
	for b := f.Payload; len(b) > 0; {
		n := copy(p.acc[p.accN:], b)
		p.accN += n
		b = b[n:]
		if p.accN == SamplesPerPacket {
			r.dispatch(p, p.accCodec, p.acc[:])
			p.accN = 0
		}
	}
}

func (r *Room) dispatch(p *party, c Codec, b []byte) {
	v := p.view.Load()
	for _, to := range v.pass {
		r.send(to, c, b)
		r.passed.Add(1)
	}
	if v.queue {
		if p.jq.push(c, b) {
			r.dropped.Add(1)
		}
	}
}

// send queues a frame for listener to's writer; a full queue loses its
// oldest frame. An ImmediateWriter is written to at once.
func (r *Room) send(to *party, c Codec, b []byte) {
	if to.out == nil {
		r.writeNow(to, c, b)
		return
	}
	var f outFrame
	f.codec = c
	copy(f.payload[:], b)
	for {
		select {
		case to.out <- f:
			return
		default:
		}
		select {
		case <-to.out:
			r.dropped.Add(1)
		default:
		}
	}
}

// write is a party's writer: it plays what the party hears, paced by its
// leg.
func (r *Room) write(ctx context.Context, p *party) {
	defer p.wg.Done()
	for {
		select {
		case p.cur = <-p.out:
		case <-ctx.Done():
			return
		}
		err := p.leg.WriteFrame(ctx, Frame{Codec: p.cur.codec, Payload: p.cur.payload[:]})
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrEnded):
			r.ended(p)
			return
		default:
			// The room writes only 20 ms of G.711: any other error is the
			// leg's own, and the next frame may go through.
			r.dropped.Add(1)
		}
	}
}

// writeNow writes a frame to an ImmediateWriter on this goroutine. A leg
// that has ended is left to its own reader, which sees the end too.
func (r *Room) writeNow(to *party, c Codec, b []byte) {
	to.wmu.Lock()
	defer to.wmu.Unlock()
	if to.gone {
		return
	}
	err := to.leg.WriteFrame(to.ctx, Frame{Codec: c, Payload: b})
	if err != nil && to.ctx.Err() == nil && !errors.Is(err, ErrEnded) {
		r.dropped.Add(1) // the leg's own error; the next frame may go through
	}
}

// ended takes a party whose leg is over out of the routes: whoever heard it
// with one other source now hears that source passed through.
func (r *Room) ended(p *party) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.parties[p.id] == p && !p.ended {
		p.ended = true
		r.rebuild()
	}
}

// run drives the tick while something mixes or records. Ticks are
// counted against the clock (Pacer): when the goroutine runs late, the
// ticks owed are made at once rather than lost, so the sources' queues do
// not overflow on a busy machine.
func (r *Room) run() {
	defer r.ticker.Done()
	t := time.NewTicker(PacketInterval)
	defer t.Stop()
	pacer := NewPacer(time.Now())
	for {
		if r.plan.Load() == nil {
			t.Stop()
			select {
			case <-r.wake:
				pacer = NewPacer(time.Now())
				t.Reset(PacketInterval)
			case <-r.quit:
				return
			}
			continue
		}
		select {
		case now := <-t.C:
			_, send := pacer.Due(now)
			for range send {
				r.tick()
			}
		case <-r.wake:
		case <-r.quit:
			return
		}
	}
}

// tick takes one frame per queued source, writes each mix, and records.
// A mix of which only one source had a frame is that frame, passed as is;
// a mix of none writes nothing (the leg plays its own silence).
func (r *Room) tick() {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	p := r.plan.Load()
	if p == nil {
		return
	}
	for i, s := range p.sources {
		c, ok, trimmed := s.jq.pop(&p.raw[i])
		if trimmed {
			r.dropped.Add(1)
			r.trimmed.Add(1)
		}
		p.have[i], p.codec[i] = ok, c
		if ok {
			c.Decode(p.pcm[i][:], p.raw[i][:])
		}
	}
	for _, m := range p.mixes {
		n, last := 0, 0
		for _, i := range m.from {
			if p.have[i] {
				n, last = n+1, i
			}
		}
		switch n {
		case 0:
			continue
		case 1:
			r.send(m.to, p.codec[last], p.raw[last][:])
			r.passed.Add(1)
			continue
		}
		clear(p.sum[:])
		for _, i := range m.from {
			if p.have[i] {
				for k, s := range &p.pcm[i] {
					p.sum[k] += int32(s)
				}
			}
		}
		for k, s := range &p.sum {
			p.mix[k] = int16(max(-32768, min(32767, s)))
		}
		c := Codec(m.to.codec.Load())
		c.Encode(p.enc[:], p.mix[:])
		r.send(m.to, c, p.enc[:])
		r.mixed.Add(1)
	}
	if p.rec != nil {
		p.record()
		if !p.rec.push(&p.chunk) {
			r.dropped.Add(1)
		}
	}
}

// jitter is a source's frames waiting for the tick.
type jitter struct {
	mu    sync.Mutex
	codec [jitterDepth]Codec
	buf   [jitterDepth][SamplesPerPacket]byte
	head  int
	n     int
	low   int // fewest frames queued at a tick in this window
	ticks int // ticks in this window
}

// push queues a frame, dropping the oldest if the queue is full.
func (j *jitter) push(c Codec, b []byte) (dropped bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.n == jitterDepth {
		j.head, j.n, dropped = (j.head+1)%jitterDepth, j.n-1, true
	}
	i := (j.head + j.n) % jitterDepth
	j.codec[i] = c
	copy(j.buf[i][:], b)
	j.n++
	return dropped
}

// pop takes the oldest frame into dst. A source that had more than
// spareFrames frames left over at every tick of a window of trimAfter
// ticks runs ahead of the tick by more than the spare, which only adds
// delay: it loses its oldest frame.
func (j *jitter) pop(dst *[SamplesPerPacket]byte) (c Codec, ok, trimmed bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.ticks == 0 || j.n < j.low {
		j.low = j.n
	}
	if j.ticks++; j.ticks == trimAfter {
		if j.low > 1+spareFrames {
			j.head, j.n, trimmed = (j.head+1)%jitterDepth, j.n-1, true
		}
		j.ticks = 0
	}
	if j.n == 0 {
		return 0, false, trimmed
	}
	c, *dst = j.codec[j.head], j.buf[j.head]
	j.head, j.n = (j.head+1)%jitterDepth, j.n-1
	return c, true, trimmed
}

func (j *jitter) reset() {
	j.mu.Lock()
	j.n, j.ticks = 0, 0
	j.mu.Unlock()
}
