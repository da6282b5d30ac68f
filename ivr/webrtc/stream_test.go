package webrtc_test

// What the browser receives looks like one steady stream whatever the
// writer does: sequence numbers go on by one, timestamps follow the wall
// clock across a pause, and a new talkspurt (after a pause, or from
// another source) carries the marker bit.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/canvass/canvass/ivr/media"
)

func TestStreamAcrossPausesAndSources(t *testing.T) {
	srv := newServer(t)
	c := newClient(t)
	peer, _ := c.connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f := media.Frame{Codec: media.PCMU, Payload: make([]byte, media.SamplesPerPacket)}
	write := func(ts uint32) {
		f.Timestamp = ts
		if err := peer.WriteFrame(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	next := func() rtp.Header {
		select {
		case h := <-c.hdrs:
			return h
		case <-ctx.Done():
			t.Fatalf("the client received nothing more: %+v", peer.Stats())
			return rtp.Header{}
		}
	}
	// Until the connection is up, written frames are dropped: write at
	// the packet pace until the client receives one, then drain.
	tick := time.NewTicker(media.PacketInterval)
	defer tick.Stop()
	ts := uint32(1000)
	for up := false; !up; {
		write(ts)
		ts += media.SamplesPerPacket
		select {
		case <-c.hdrs:
			up = true
		case <-tick.C:
		}
	}
	for len(c.hdrs) > 0 {
		<-c.hdrs
	}
	// A steady run (written back to back, well within a pause): +1,
	// +160, no marker.
	write(ts)
	prev := next()
	for range 5 {
		ts += media.SamplesPerPacket
		write(ts)
		h := next()
		if h.SequenceNumber != prev.SequenceNumber+1 || h.Timestamp != prev.Timestamp+media.SamplesPerPacket || h.Marker {
			t.Fatalf("steady run: %+v after %+v", h, prev)
		}
		prev = h
	}
	// A pause of at least 300 ms: the timestamp jumps by the time that
	// passed, the marker says a talkspurt starts, the sequence goes on.
	pause := time.Now()
	<-time.After(300 * time.Millisecond)
	ts += media.SamplesPerPacket
	write(ts)
	elapsed := time.Since(pause)
	h := next()
	jump := time.Duration(h.Timestamp-prev.Timestamp) * time.Second / media.SampleRate
	if h.SequenceNumber != prev.SequenceNumber+1 || !h.Marker || jump < 300*time.Millisecond || jump > elapsed+media.PacketInterval {
		t.Fatalf("after a %s pause: seq %d→%d, timestamp moved %s, marker %v", elapsed, prev.SequenceNumber, h.SequenceNumber, jump, h.Marker)
	}
	prev = h
	// Another source at once (its timestamps do not follow): a marker,
	// one packet's step, the sequence goes on.
	write(777777)
	h = next()
	if h.SequenceNumber != prev.SequenceNumber+1 || !h.Marker || h.Timestamp-prev.Timestamp > 5*media.SamplesPerPacket || h.Timestamp == prev.Timestamp {
		t.Fatalf("source change: %+v after %+v", h, prev)
	}
	prev = h
	write(777777 + media.SamplesPerPacket)
	if h = next(); h.Marker || h.SequenceNumber != prev.SequenceNumber+1 {
		t.Fatalf("the new source's second packet: %+v after %+v", h, prev)
	}
	// Frames that are not 20 ms of G.711 are refused.
	for _, bad := range []media.Frame{{Codec: media.PCMU, Payload: make([]byte, 80)}, {Codec: 9, Payload: make([]byte, 160)}} {
		if err := peer.WriteFrame(ctx, bad); !errors.Is(err, media.ErrFrame) {
			t.Errorf("WriteFrame(%d bytes of codec %d) = %v, want ErrFrame", len(bad.Payload), bad.Codec, err)
		}
	}
}
