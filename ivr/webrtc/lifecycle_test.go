package webrtc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	pion "github.com/pion/webrtc/v4"

	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/webrtc"
)

// A peer whose browser never takes the answer ends by itself after
// connect_timeout.
func TestNeverConnected(t *testing.T) {
	o := webrtc.DefaultOptions()
	o.Listen = "127.0.0.1:0"
	o.ConnectTimeout = time.Second
	srv, err := webrtc.New(o, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	peer, _, err := srv.Answer(ctx, newClient(t).offer(t))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	select {
	case <-peer.Done():
	case <-ctx.Done():
		t.Fatalf("a peer that never connected is still up: %+v", peer.Stats())
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("ended after %s, before connect_timeout (1s)", d)
	}
	if _, err := peer.ReadFrame(ctx); !errors.Is(err, media.ErrEnded) {
		t.Errorf("read: %v, want ErrEnded", err)
	}
}

// A reader that falls behind hears the present: the queue keeps the
// newest second (50 frames), and what it dropped is counted.
func TestSlowReader(t *testing.T) {
	srv := newServer(t)
	c := newClient(t)
	peer, _ := c.connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var err error
	talk, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); c.speak(talk) }()
	// Nobody reads while 80 packets arrive.
	tick := time.NewTicker(media.PacketInterval)
	defer tick.Stop()
	for peer.Stats().PacketsIn < 80 {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("packets do not arrive: %+v", peer.Stats())
		}
	}
	stop()
	<-done
	// Read until the newest packet sent (the client's last) comes out:
	// what was queued, and anything still in flight at the stop.
	final := uint32(5000 + media.SamplesPerPacket*(c.sent.Load()-1))
	queued := 0
	for f := (media.Frame{}); f.Timestamp != final; queued++ {
		if f, err = peer.ReadFrame(ctx); err != nil {
			t.Fatalf("the newest packet never came out of the queue: %v (%+v)", err, peer.Stats())
		}
	}
	st := peer.Stats()
	if queued < 50 || st.Dropped < 30 || uint64(queued)+st.Dropped != st.PacketsIn {
		t.Errorf("read %d, dropped %d of %d: want the newest 50 kept, the rest dropped and counted", queued, st.Dropped, st.PacketsIn)
	}
	// The client's pion state says the peer is up, as Stats does.
	if st.State != pion.PeerConnectionStateConnected.String() {
		t.Errorf("state %q", st.State)
	}
}
