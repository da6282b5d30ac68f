package sipua

// Benchmarks of the per-call media work: what one RTP packet costs to send
// (every 20 ms, for the whole call) and to receive (keys, in-band
// detection, recording). Multiply by 50 packets a second for the cost of a
// call.

import (
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua/internal/sdp"
)

// benchCall is a call whose RTP goes to a sink socket drained in the
// background.
func benchCall(b testing.TB, eventPT int) *call {
	b.Helper()
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := sink.ReadFromUDP(buf); err != nil {
				return
			}
		}
	}()
	s := mediaServer(DefaultOptions().RTPCallsPerPort)
	port, err := s.rtp().take()
	if err != nil {
		b.Fatal(err)
	}
	st := sdp.Stream{Addr: sink.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: media.PCMU, EventPT: eventPT, Direction: sdp.SendRecv}
	c := newCall(port, st, s, s.log)
	b.Cleanup(func() { c.end("test"); sink.Close() })
	return c
}

// mediaServer is a server for calls' media alone, on loopback.
func mediaServer(perPort int) *Server {
	opts := DefaultOptions()
	opts.RTPPorts, opts.RTPCallsPerPort = "0", perPort
	return &Server{opts: opts, rtpIP: netip.MustParseAddr("127.0.0.1"), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func BenchmarkSendPacket(b *testing.B) {
	for _, tt := range []struct {
		name   string
		prompt bool
	}{{"silence", false}, {"prompt", true}} {
		b.Run(tt.name, func(b *testing.B) {
			c := benchCall(b, 101)
			s := newSender(c)
			pcm := beep()
			b.ReportAllocs()
			for b.Loop() {
				if tt.prompt && s.cur == nil && c.pending.Load() == nil {
					b.StopTimer()
					c.play(pcm)
					b.StartTimer()
				}
				s.packet()
			}
		})
	}
}

// BenchmarkTick is one call's 20 ms tick as the shared clock drives it in
// steady state: pacing, a prompt packet from the encoded cache, the send.
// It allocates nothing.
func BenchmarkTick(b *testing.B) {
	c := benchCall(b, 101)
	c.rtpTimeout = math.MaxInt64 // the bench's clock runs ahead of the socket's
	s := c.sender
	start := time.Now()
	s.begin(start)
	now := start
	pcm := make([]int16, 10*media.SampleRate)
	b.ReportAllocs()
	for b.Loop() {
		if s.cur == nil && c.pending.Load() == nil {
			b.StopTimer()
			c.play(pcm)
			b.StartTimer()
		}
		now = now.Add(media.PacketInterval)
		s.Tick(now)
	}
}

func BenchmarkReceivePacket(b *testing.B) {
	for _, tt := range []struct {
		name    string
		eventPT int
	}{{"audio, RFC 4733 keys", 101}, {"audio, in-band detection", -1}} {
		b.Run(tt.name, func(b *testing.B) {
			c := benchCall(b, tt.eventPT)
			r := receiver{c: c, emit: func(rune) {}}
			from := netip.MustParseAddrPort("127.0.0.1:4000")
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 1}, Payload: make([]byte, 160)}
			pcm := make([]int16, maxPacket)
			var buf [200]byte
			b.ReportAllocs()
			for b.Loop() {
				pkt.SequenceNumber++
				pkt.Timestamp += 160
				n, _ := pkt.MarshalTo(buf[:])
				r.packet(buf[:n], from, pcm)
			}
		})
	}
}
