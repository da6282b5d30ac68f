// Keys sent to the far end (SendDigits), with the sipuatest phone at the
// other end: RFC 4733 events on the call's packet clock, in-band tones when
// no events were negotiated, bridged audio dropped (not delayed) while a
// digit lasts, refusals, turns, cancellation and the end of the call.

package sipua_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
	"github.com/canvass/canvass/survey"
)

// keypad is what the console's keypad needs of a call.
type keypad interface {
	SendDigits(ctx context.Context, digits string) error
}

// dialPhone dials a sipuatest phone that answers (keeping every packet it
// receives) and holds the call until it ends; it returns both ends.
func dialPhone(t *testing.T, ctx context.Context, opts sipua.Options) (ivr.Call, *sipuatest.Call) {
	t.Helper()
	answered := make(chan *sipuatest.Call, 1)
	callee, err := sipuatest.NewPhone(sipuatest.PhoneOptions{Log: testLog(t).With("side", "callee"), OnInvite: func(in *sipuatest.Incoming) {
		c, err := in.Answer(true)
		if err != nil {
			t.Error(err)
			close(answered)
			return
		}
		answered <- c
		<-c.Done()
	}})
	if err != nil {
		t.Fatal(err)
	}
	opts.Trunk.URI = "sip:" + callee.Addr().String()
	e := start(t, opts, nil)
	call, res, err := e.srv.Dial(ctx, ivr.DialRequest{To: "+15550001111"})
	if err != nil || call == nil || res.Outcome != survey.DialAnswered {
		t.Fatalf("dial: %v %+v %v", call, res, err)
	}
	c := <-answered
	if c == nil {
		t.FailNow()
	}
	t.Cleanup(func() {
		if _, err := call.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
		c.Close()
		callee.Close()
	})
	return call, c
}

// settled returns the packets the phone received once the audio after
// the last event packet has come: all of the last digit's end packets are
// in.
func settled(t *testing.T, ctx context.Context, phone *sipuatest.Call) []sipuatest.Packet {
	t.Helper()
	for {
		pkts := phone.Packets()
		if n := len(pkts); n > 0 && pkts[n-1].Header.PayloadType != 101 {
			return pkts
		}
		select {
		case <-ctx.Done():
			t.Fatal("no audio after the last event packet")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func keypadOf(t *testing.T, call any) keypad {
	t.Helper()
	k, ok := call.(keypad)
	if !ok {
		t.Fatalf("%T has no SendDigits", call)
	}
	return k
}

// digitGroup is one digit's event packets, as the phone received them.
type digitGroup struct {
	first, last int // indexes in the packets
	ts          uint32
	events      []media.Event
	marker      bool
}

// checkEvents checks RFC 4733 packets of digits in pkts: per digit, 100 ms
// of updates of growing duration sharing one timestamp, the first marked,
// then three end packets, no audio in between, two audio packets between
// digits (when they were sent by one call, at least two otherwise); and
// one stream throughout: sequence numbers one by one, audio
// timestamps on the packet clock, events stamped with their slot's time,
// the audio after a digit marked. It returns the digits' groups.
func checkEvents(t *testing.T, pkts []sipuatest.Packet, eventPT uint8, digits string, oneCall bool) []digitGroup {
	t.Helper()
	var groups []digitGroup
	for i, p := range pkts {
		if p.Header.PayloadType != eventPT {
			continue
		}
		ev, ok := media.ParseEvent(p.Payload)
		if !ok {
			t.Fatalf("packet %d: bad event payload %x", i, p.Payload)
		}
		if n := len(groups); n == 0 || groups[n-1].ts != p.Header.Timestamp {
			groups = append(groups, digitGroup{first: i, ts: p.Header.Timestamp, marker: p.Header.Marker})
		} else if p.Header.Marker {
			t.Errorf("packet %d: a marker inside an event", i)
		}
		g := &groups[len(groups)-1]
		g.last = i
		g.events = append(g.events, ev)
	}
	var got strings.Builder
	for gi, g := range groups {
		d, _ := media.EventDigit(g.events[0].Code)
		got.WriteRune(d)
		if !g.marker {
			t.Errorf("digit %d (%c): no marker on its first packet", gi, d)
		}
		if g.last-g.first+1 != len(g.events) {
			t.Errorf("digit %d (%c): audio among its event packets (%d packets from %d to %d)", gi, d, len(g.events), g.first, g.last)
		}
		var updates, ends int
		for k, ev := range g.events {
			switch {
			case ev.Code != g.events[0].Code:
				t.Errorf("digit %d: event codes change within it", gi)
			case !ev.End && ends > 0:
				t.Errorf("digit %d: an update after an end packet", gi)
			case !ev.End:
				updates++
				if k > 0 && ev.Duration <= g.events[k-1].Duration {
					t.Errorf("digit %d: durations %d then %d; want growing", gi, g.events[k-1].Duration, ev.Duration)
				}
			default:
				ends++
				if ev.Duration != g.events[updates-1].Duration {
					t.Errorf("digit %d: end duration %d, last update %d", gi, ev.Duration, g.events[updates-1].Duration)
				}
			}
		}
		if updates != 5 || ends != 3 || g.events[len(g.events)-1].Duration != 800 {
			t.Errorf("digit %d (%c): %d updates and %d end packets lasting %d; want 5 and 3, 100 ms (800)", gi, d, updates, ends, g.events[len(g.events)-1].Duration)
		}
		if gi > 0 {
			// Two packets within one SendDigits; at least two between two.
			if gap := g.first - groups[gi-1].last - 1; gap < 2 || oneCall && gap != 2 {
				t.Errorf("digit %d: %d audio packets before it, want 2", gi, gap)
			}
		}
		if next := g.last + 1; next < len(pkts) && !pkts[next].Header.Marker {
			t.Errorf("digit %d: the audio after it is not marked as a new talkspurt", gi)
		}
	}
	if got.String() != digits {
		t.Errorf("event packets carry %q, want %q", got.String(), digits)
	}
	// One stream: every packet's slot is its sequence number (a sender
	// that fell far behind skips slots: a gap in both).
	var audio0 *sipuatest.Packet
	for i := range pkts {
		if pkts[i].Header.PayloadType != eventPT {
			audio0 = &pkts[i]
			break
		}
	}
	if audio0 == nil {
		t.Fatal("no audio packet")
	}
	// The timestamp of the slot of sequence number seq (which may come
	// before the first audio packet: digits sent as the call starts).
	slot := func(seq uint16) uint32 {
		return audio0.Header.Timestamp + uint32(int32(int16(seq-audio0.Header.SequenceNumber))*media.SamplesPerPacket)
	}
	for i := range pkts {
		h := pkts[i].Header
		if i > 0 && int16(h.SequenceNumber-pkts[i-1].Header.SequenceNumber) <= 0 {
			t.Fatalf("packet %d: sequence %d after %d", i, h.SequenceNumber, pkts[i-1].Header.SequenceNumber)
		}
		slotTS := slot(h.SequenceNumber)
		if h.PayloadType != eventPT && h.Timestamp != slotTS {
			t.Fatalf("audio packet %d: timestamp %d, want %d on the packet clock", i, h.Timestamp, slotTS)
		}
	}
	for gi, g := range groups {
		h := pkts[g.first].Header
		if want := slot(h.SequenceNumber); g.ts != want {
			t.Errorf("digit %d: stamped %d, want its first slot's %d", gi, g.ts, want)
		}
	}
	return groups
}

// A dialed call sends all sixteen keys as RFC 4733 events while a bridge
// writes audio to its leg in real time: the phone decodes every key, the
// packets follow RFC 4733 on the call's clock, and the bridged audio loses
// the digits' slots but gains no delay.
func TestSendDigitsEvents(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	call, phone := dialPhone(t, ctx, testOptions())
	kp := keypadOf(t, call)
	leg := call.(interface{ Leg() media.Leg }).Leg()

	// The bridge: a frame is due every 20 ms (as a browser leg delivers
	// them) and is written to the leg as soon as the leg takes it.
	frames := sweep(500)
	index := make(map[string]int, len(frames))
	for i, f := range frames {
		index[string(f)] = i
	}
	due := make([]time.Time, len(frames))
	bctx, stopBridge := context.WithCancel(ctx)
	defer stopBridge()
	var bridge sync.WaitGroup
	queue := make(chan int, 50)
	bridge.Go(func() {
		defer close(queue)
		tick := time.NewTicker(media.PacketInterval)
		defer tick.Stop()
		start := time.Now()
		for i := range due {
			due[i] = start.Add(time.Duration(i) * media.PacketInterval)
		}
		next := 0
		for next < len(frames) {
			// Every frame due by now, however late this goroutine runs.
			for ; next < len(frames) && !due[next].After(time.Now()); next++ {
				select {
				case queue <- next:
				default:
					t.Errorf("the bridge fell a second behind the leg at frame %d", next)
					return
				}
			}
			select {
			case <-tick.C:
			case <-bctx.Done():
				return
			}
		}
	})
	bridge.Go(func() {
		for i := range queue {
			if err := leg.WriteFrame(bctx, media.Frame{Codec: media.PCMU, Payload: frames[i]}); err != nil {
				return
			}
		}
	})
	heardFrame := func(after time.Time) bool {
		for _, p := range phone.Packets() {
			if _, ok := index[string(p.Payload)]; ok && p.At.After(after) {
				return true
			}
		}
		return false
	}
	// Half a second of bridged audio before the digits.
	for since := time.Now(); !heardFrame(since.Add(500 * time.Millisecond)); {
		select {
		case <-ctx.Done():
			t.Fatal("the phone never heard the bridged audio")
		case <-time.After(20 * time.Millisecond):
		}
	}

	const digits = "1234567890*#ABCD"
	began := time.Now()
	if err := kp.SendDigits(ctx, digits); err != nil {
		t.Fatal(err)
	}
	ended := time.Now()
	if got, err := phone.WaitKeys(ctx, len(digits)); err != nil || got != digits {
		t.Fatalf("the phone decoded %q (%v), want %q", got, err, digits)
	}
	// 16 digits of 160 ms, 15 gaps of 40 ms.
	if took, want := ended.Sub(began), 16*160*time.Millisecond+15*40*time.Millisecond; took < want-40*time.Millisecond || took > want+time.Second {
		t.Errorf("SendDigits took %s, want about %s", took, want)
	}
	for !heardFrame(ended.Add(400 * time.Millisecond)) {
		select {
		case <-ctx.Done():
			t.Fatal("the bridged audio did not resume after the digits")
		case <-time.After(20 * time.Millisecond):
		}
	}
	stopBridge()
	bridge.Wait()

	pkts := phone.Packets()
	checkEvents(t, pkts, 101, digits, true)
	// The bridged frames come in order; after the digits their delay is
	// about what it was before (a packet slot or so), not that plus the
	// digits' 2.56 s, as if the frames had been held back while they were
	// sent (medians, with a margin for a loaded machine whose sender stalls
	// and skips slots); the frames due while digits were sent are the ones
	// missing.
	last, lastAt, heard := -1, time.Time{}, 0
	var before, after []time.Duration
	for _, p := range pkts {
		i, ok := index[string(p.Payload)]
		if !ok {
			continue
		}
		if i <= last {
			t.Fatalf("frame %d heard after frame %d", i, last)
		}
		last, lastAt, heard = i, p.At, heard+1
		switch {
		case p.At.Before(began):
			before = append(before, p.At.Sub(due[i]))
		case p.At.After(ended):
			after = append(after, p.At.Sub(due[i]))
		}
	}
	median := func(d []time.Duration) time.Duration {
		if len(d) < 5 {
			t.Fatalf("%d bridged frames heard before or after the digits", len(d))
		}
		slices.Sort(d)
		return d[len(d)/2]
	}
	if b, a := median(before), median(after); a-b > 400*time.Millisecond {
		t.Errorf("bridged frames reach the phone %s after they are due before the digits, %s after them (medians); want no delay built up by the digits", b, a)
	}
	if missing := last + 1 - heard; missing < 16*8-8 || missing > 16*8+8 {
		t.Errorf("%d bridged frames missing up to frame %d (heard at %s); want the 128 slots the digits took", missing, last, lastAt.Format(time.StampMilli))
	}
}

// Without telephone-event the digits are DTMF tones in the audio, which
// media's detector decodes from what the phone heard.
func TestSendDigitsInBand(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	opts := testOptions()
	opts.AcceptTelephoneEvent = false
	call, phone := dialPhone(t, ctx, opts)
	const digits = "159#*0D"
	if err := keypadOf(t, call).SendDigits(ctx, digits); err != nil {
		t.Fatal(err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, phone, 5*time.Second)
	var got strings.Builder
	media.NewDetector().Write(phone.Heard(), func(d rune) { got.WriteRune(d) })
	if got.String() != digits {
		t.Errorf("the phone heard tones %q, want %q", got.String(), digits)
	}
	for _, p := range phone.Packets() {
		if p.Header.PayloadType != 0 {
			t.Fatalf("a packet of payload type %d on a call without telephone-event", p.Header.PayloadType)
		}
	}
}

// A bad digit is refused with nothing sent; calls take turns; a caller
// that gives up stops after the digit being sent; the end of the call ends
// SendDigits.
func TestSendDigitsRefusalsTurnsAndEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	call, phone := dialPhone(t, ctx, testOptions())
	kp := keypadOf(t, call)

	for _, bad := range []string{"12x3", "a", "1 2", "5\n", "١"} {
		err := kp.SendDigits(ctx, bad)
		if survey.ErrorCodeOf(err) != survey.EInvalid {
			t.Errorf("SendDigits(%q): %v, want an EInvalid error", bad, err)
		}
	}
	if err := kp.SendDigits(ctx, "12x3"); err == nil || !strings.Contains(err.Error(), `'x'`) {
		t.Errorf("the error %q does not name the bad character", err)
	}
	if err := kp.SendDigits(ctx, "7"); err != nil {
		t.Fatal(err)
	}
	if got, err := phone.WaitKeys(ctx, 1); err != nil || got != "7" {
		t.Fatalf("keys %q (%v); want only the 7 sent after the refusals", got, err)
	}

	// Two at once: one string, then the other, never mixed.
	var wg sync.WaitGroup
	for _, s := range []string{"111", "222"} {
		wg.Go(func() {
			if err := kp.SendDigits(ctx, s); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got, err := phone.WaitKeys(ctx, 7); err != nil || got != "7111222" && got != "7222111" {
		t.Fatalf("keys %q (%v); want 7 then 111 and 222 one after the other", got, err)
	}

	// Giving up: the digit being sent ends properly, no other starts.
	cctx, stop := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- kp.SendDigits(cctx, "3456789") }()
	if _, err := phone.WaitKeys(ctx, 8); err != nil {
		t.Fatal(err)
	}
	stop()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("SendDigits after its ctx ended: %v, want context.Canceled", err)
	}
	if err := kp.SendDigits(ctx, "0"); err != nil {
		t.Fatal(err)
	}
	got, err := phone.WaitKeys(ctx, 9)
	if err != nil {
		t.Fatal(err)
	}
	sent, ok := strings.CutSuffix(got[7:], "0")
	if !ok || len(sent) == 0 || len(sent) > 3 || !strings.HasPrefix("3456789", sent) {
		t.Fatalf("keys %q; want a few of 3456789 then 0", got)
	}
	checkEvents(t, settled(t, ctx, phone), 101, got, false)

	// The far end hangs up while digits are being sent.
	sending := make(chan error, 1)
	go func() { sending <- kp.SendDigits(ctx, "ABCDABCD") }()
	if _, err := phone.WaitKeys(ctx, len(got)+1); err != nil {
		t.Fatal(err)
	}
	if err := phone.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-sending; !errors.Is(err, media.ErrEnded) {
		t.Errorf("SendDigits as the call ends: %v, want media.ErrEnded", err)
	}
	if err := kp.SendDigits(ctx, "1"); !errors.Is(err, media.ErrEnded) {
		t.Errorf("SendDigits after the end: %v, want media.ErrEnded", err)
	}
}

// An inbound call's media (what its survey runs on) takes digits too,
// during a prompt: the prompt waits and the phone gets the keys.
func TestSendDigitsInbound(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c := e.dial(ctx, sipuatest.DialOptions{KeepAudio: true})
	newRespondent(t, ctx, c).prompt()
	m, ok := e.srv.CallOf(c.CallID())
	if !ok {
		t.Fatal("no live call with the phone's Call-ID")
	}
	if _, ok := m.(ivr.Media); !ok {
		t.Fatalf("%T is not the call's ivr.Media", m)
	}
	if err := keypadOf(t, m).SendDigits(ctx, "42"); err != nil {
		t.Fatal(err)
	}
	if got, err := c.WaitKeys(ctx, 2); err != nil || got != "42" {
		t.Fatalf("keys %q (%v), want 42", got, err)
	}
	checkEvents(t, settled(t, ctx, c), 101, "42", true)
}
