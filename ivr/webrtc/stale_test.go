package webrtc_test

// A browser's audio that reaches the server late (here: held back by the
// sender and then sent at once, as a starved receiver would read it) is
// dropped as stale before it reaches the bridge; the present plays.

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/canvass/canvass/ivr/media"
)

func TestStaleFramesFromTheBrowserAreDropped(t *testing.T) {
	srv := newServer(t)
	c := newClient(t)
	peer, _ := c.connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// What the bridge gets: the index each frame carries in its first
	// byte.
	got := make(chan byte, 1000)
	defer peer.Push(func(f media.Frame) {
		select {
		case got <- f.Payload[0]:
		default:
		}
	})()
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 100, Timestamp: 8000}, Payload: bytes.Repeat([]byte{0xFF}, media.SamplesPerPacket)}
	send := func(i int) {
		t.Helper()
		pkt.Payload[0] = byte(i)
		if err := c.track.WriteRTP(&pkt); err != nil {
			t.Fatal(err)
		}
		pkt.SequenceNumber++
		pkt.Timestamp += media.SamplesPerPacket
	}
	// Frames at their pace until the server hears one (the connection is
	// up), and 20 more: the stream's anchor.
	tick := time.NewTicker(media.PacketInterval)
	defer tick.Stop()
	i := 1
	for heard := false; !heard; i++ {
		send(i)
		select {
		case <-got:
			heard = true
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("the server heard nothing: %+v", peer.Stats())
		}
	}
	for range 20 {
		<-tick.C
		send(i)
		i++
	}
	// 600 ms of audio held back, then sent at once (frames 0-29 of the
	// backlog): 600 ms late down to 20 ms late. About the first 22 are
	// more than media.StaleAfter behind; the last ones are fresh enough.
	time.Sleep(30 * media.PacketInterval)
	first := 128
	for k := range 30 {
		send(first + k)
	}
	// Then the present again, at its pace, up to frame 39 of the backlog.
	for k := range 10 {
		<-tick.C
		send(first + 30 + k)
	}
	const last = 128 + 39
	var backlog []int
	for f := byte(0); f != last; {
		select {
		case f = <-got:
			if int(f) >= first {
				backlog = append(backlog, int(f)-first)
			}
		case <-ctx.Done():
			t.Fatalf("the last frame never came; backlog frames heard %v; %+v", backlog, peer.Stats())
		}
	}
	st := peer.Stats()
	// Sending 30 packets takes a little time, and the anchor is a frame
	// whose own lag was the least: allow a frame or two either way.
	if st.Stale < 19 || st.Stale > 25 {
		t.Errorf("%d frames dropped as stale, want about 22 (the backlog's oldest); backlog frames heard: %v", st.Stale, backlog)
	}
	if len(backlog) == 0 || backlog[0] < 19 || backlog[0] > 25 {
		t.Errorf("the first backlog frame passed on is %v, want about the 23rd (22)", backlog)
	}
	for k, want := 1, backlog[0]+1; k < len(backlog); k, want = k+1, want+1 {
		if backlog[k] != want {
			t.Fatalf("after the stale ones, frames %v were passed on, want every one from %d to 39", backlog, backlog[0])
		}
	}
	if st.LostIn != 0 {
		t.Errorf("%d frames counted lost: stale frames are not loss", st.LostIn)
	}
}
