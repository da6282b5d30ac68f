package webrtc_test

import (
	"context"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr/media"
)

// BenchmarkWriteFrame: one frame to a connected browser (pion client on
// loopback): rebasing, transcoding (PCMA in, PCMU negotiated), SRTP and
// the send, per packet.
func BenchmarkWriteFrame(b *testing.B) {
	srv := newServer(b)
	c := newClient(b)
	peer, _ := c.connect(b, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f := media.Frame{Codec: media.PCMA, Payload: make([]byte, media.SamplesPerPacket)}
	pcm := make([]int16, media.SamplesPerPacket)
	sine(pcm, 1000, 8000, 0)
	media.PCMA.Encode(f.Payload, pcm)
	// Connected once the client hears a packet.
	for heard := false; !heard; {
		if err := peer.WriteFrame(ctx, f); err != nil {
			b.Fatal(err)
		}
		select {
		case <-c.heard:
			heard = true
		case <-ctx.Done():
			b.Fatalf("not connected: %+v", peer.Stats())
		case <-time.After(media.PacketInterval):
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := peer.WriteFrame(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
}
