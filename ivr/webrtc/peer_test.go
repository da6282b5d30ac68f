package webrtc_test

// A pion client offering like Chrome (Opus first, then PCMU) connects to
// the Server over loopback through the one port; both directions carry a
// tone, checked by frequency.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/webrtc"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level}))
}

// newServer starts a Server on a free loopback port, closed at cleanup.
func newServer(t testing.TB) *webrtc.Server {
	t.Helper()
	o := webrtc.DefaultOptions()
	o.Listen = "127.0.0.1:0"
	s, err := webrtc.New(o, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	return s
}

// sine is a test tone: amplitude amp at freq Hz, 8 kHz, continuing from
// sample offset n.
func sine(dst []int16, freq, amp float64, n int) {
	for i := range dst {
		dst[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(n+i)/media.SampleRate))
	}
}

// toneShare is the share of s's energy at freq (Goertzel): near 1 for a
// pure tone at freq, near 0 for one elsewhere.
func toneShare(s []int16, freq float64) float64 {
	coef := 2 * math.Cos(2*math.Pi*freq/media.SampleRate)
	var q1, q2, energy float64
	for _, x := range s {
		v := float64(x)
		q1, q2 = coef*q1-q2+v, q1
		energy += v * v
	}
	if energy == 0 {
		return 0
	}
	power := q1*q1 + q2*q2 - coef*q1*q2 // |X|²
	// A tone's mean square is 2|X|²/N²; the signal's is energy/N.
	return 2 * power / float64(len(s)) / energy
}

// checkTone fails unless s is a tone at want, not at other, at the level
// sent (amplitude 8000; a law mixed up keeps the pitch, not the level).
func checkTone(t *testing.T, who string, s []int16, want, other float64) {
	t.Helper()
	if a, b := toneShare(s, want), toneShare(s, other); a < 0.8 || b > 0.05 {
		t.Errorf("%s: %.0f Hz holds %.2f of the energy and %.0f Hz %.2f; want a %.0f Hz tone", who, want, a, other, b, want)
	}
	var sum float64
	for _, x := range s {
		sum += float64(x) * float64(x)
	}
	if rms, want := math.Sqrt(sum/float64(len(s))), 8000/math.Sqrt2; rms < 0.9*want || rms > 1.1*want {
		t.Errorf("%s: level %.0f RMS, want %.0f", who, rms, want)
	}
}

// client is a browser stand-in: a pion PeerConnection that offers Opus
// first, then PCMU, sends a tone and collects what it hears.
type client struct {
	pc    *pion.PeerConnection
	track *pion.TrackLocalStaticRTP
	heard chan []int16 // decoded payloads of the server's packets
	hdrs  chan rtp.Header
	sent  atomic.Int64 // packets speak sent
	codec chan string  // mime type of the track received
}

func newClient(t testing.TB) *client {
	t.Helper()
	return newClientWith(t, pion.RTPCodecTypeAudio, pion.MimeTypePCMU,
		pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
		pion.RTPCodecParameters{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0})
}

// newClientWith is a client whose media engine has codecs (of kind) and
// whose track sends mime.
func newClientWith(t testing.TB, kind pion.RTPCodecType, mime string, codecs ...pion.RTPCodecParameters) *client {
	t.Helper()
	me := &pion.MediaEngine{}
	for _, c := range codecs {
		if err := me.RegisterCodec(c, kind); err != nil {
			t.Fatal(err)
		}
	}
	var se pion.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	pc, err := pion.NewAPI(pion.WithMediaEngine(me), pion.WithSettingEngine(se)).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.GracefulClose() }) // closed already by most tests
	track, err := pion.NewTrackLocalStaticRTP(codecs[len(codecs)-1].RTPCodecCapability, "mic", "browser")
	if err != nil {
		t.Fatal(err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			if _, _, err := sender.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	c := &client{pc: pc, track: track, heard: make(chan []int16, 500), hdrs: make(chan rtp.Header, 500), codec: make(chan string, 1)}
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		c.codec <- tr.Codec().MimeType
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			s := make([]int16, len(pkt.Payload))
			media.PCMU.Decode(s, pkt.Payload)
			select {
			case c.heard <- s:
			default:
			}
			select {
			case c.hdrs <- pkt.Header:
			default:
			}
		}
	})
	return c
}

// offer is the client's offer, candidates gathered.
func (c *client) offer(t testing.TB) string {
	t.Helper()
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := pion.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return c.pc.LocalDescription().SDP
}

// connect offers to srv and sets its answer.
func (c *client) connect(t testing.TB, srv *webrtc.Server) (*webrtc.Peer, string) {
	t.Helper()
	offer := c.offer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	peer, answer, err := srv.Answer(ctx, offer)
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	if err := c.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatalf("set answer: %v\n%s", err, answer)
	}
	return peer, answer
}

// speak sends a 440 Hz tone every 20 ms until ctx ends.
func (c *client) speak(ctx context.Context) {
	tick := time.NewTicker(media.PacketInterval)
	defer tick.Stop()
	pcm := make([]int16, media.SamplesPerPacket)
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1000, Timestamp: 5000}, Payload: make([]byte, media.SamplesPerPacket)}
	for n := 0; ; n += media.SamplesPerPacket {
		sine(pcm, 440, 8000, n)
		media.PCMU.Encode(pkt.Payload, pcm)
		if err := c.track.WriteRTP(&pkt); err != nil {
			return
		}
		c.sent.Add(1)
		pkt.SequenceNumber++
		pkt.Timestamp += media.SamplesPerPacket
		pkt.Marker = false
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// play writes a 1 kHz tone to peer every 20 ms until ctx ends, in PCMA so
// that the peer must transcode.
func play(ctx context.Context, peer *webrtc.Peer) error {
	tick := time.NewTicker(media.PacketInterval)
	defer tick.Stop()
	pcm := make([]int16, media.SamplesPerPacket)
	f := media.Frame{Codec: media.PCMA, Payload: make([]byte, media.SamplesPerPacket)}
	for n := 0; ; n += media.SamplesPerPacket {
		sine(pcm, 1000, 8000, n)
		media.PCMA.Encode(f.Payload, pcm)
		f.Timestamp = uint32(n)
		if err := peer.WriteFrame(ctx, f); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// hear reads n samples from peer, after skipping the first frames (the
// start of a stream).
func hear(ctx context.Context, peer *webrtc.Peer, n int) ([]int16, error) {
	return hearFrom(peer, n, func() (media.Frame, error) { return peer.ReadFrame(ctx) })
}

// hearPushed is hear with the frames pushed to a callback (a Room's fast
// path) instead of read.
func hearPushed(ctx context.Context, peer *webrtc.Peer, n int) ([]int16, error) {
	frames := make(chan media.Frame, 64)
	unpush := peer.Push(func(f media.Frame) {
		f.Payload = bytes.Clone(f.Payload) // the peer's until the call returns
		select {
		case frames <- f:
		default:
		}
	})
	defer unpush()
	return hearFrom(peer, n, func() (media.Frame, error) {
		select {
		case f := <-frames:
			return f, nil
		case <-ctx.Done():
			return media.Frame{}, ctx.Err()
		}
	})
}

func hearFrom(peer *webrtc.Peer, n int, next func() (media.Frame, error)) ([]int16, error) {
	var got []int16
	for skip := 5; len(got) < n; skip-- {
		f, err := next()
		if err != nil {
			return got, err
		}
		if f.Codec != peer.Codec() || len(f.Payload) != media.SamplesPerPacket {
			return got, errors.New("frame of " + f.Codec.Name() + ", " + strconv.Itoa(len(f.Payload)) + " bytes")
		}
		if skip > 0 {
			continue
		}
		s := make([]int16, len(f.Payload))
		f.Codec.Decode(s, f.Payload)
		got = append(got, s...)
	}
	return got[:n], nil
}

// heard collects n samples the client heard, after skipping the first
// packets.
func (c *client) collect(ctx context.Context, n int) ([]int16, error) {
	var got []int16
	for skip := 5; len(got) < n; skip-- {
		select {
		case s := <-c.heard:
			if skip <= 0 {
				got = append(got, s...)
			}
		case <-ctx.Done():
			return got, ctx.Err()
		}
	}
	return got[:n], nil
}

func candidatePorts(sdp string) []int {
	var ports []int
	for line := range strings.SplitSeq(sdp, "\n") {
		if f := strings.Fields(strings.TrimSpace(line)); len(f) >= 6 && strings.HasPrefix(f[0], "a=candidate:") {
			p, _ := strconv.Atoi(f[5])
			ports = append(ports, p)
		}
	}
	return ports
}

// TestTwoPeersOnePort: two clients at once on the server's one port; each
// direction of each carries its tone; Close ends a peer, and so does the
// client closing its side.
func TestTwoPeersOnePort(t *testing.T) {
	before := runtime.NumGoroutine()
	srv := newServer(t)
	port := srv.Addr().(*net.UDPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	clients := []*client{newClient(t), newClient(t)}
	peers := make([]*webrtc.Peer, len(clients))
	for i, c := range clients {
		var answer string
		peers[i], answer = c.connect(t, srv)
		if !strings.Contains(c.pc.LocalDescription().SDP, "opus/48000") {
			t.Fatalf("the client does not offer Opus:\n%s", c.pc.LocalDescription().SDP)
		}
		ports := candidatePorts(answer)
		if len(ports) == 0 {
			t.Fatalf("answer without candidates:\n%s", answer)
		}
		for _, p := range ports {
			if p != port {
				t.Errorf("peer %d: candidate port %d, want the server's one port %d", i, p, port)
			}
		}
		if got := peers[i].Codec(); got != media.PCMU {
			t.Errorf("peer %d negotiated %s, want PCMU", i, got.Name())
		}
		if !strings.Contains(answer, "PCMU/8000") || strings.Contains(strings.ToLower(answer), "opus") {
			t.Errorf("peer %d: the answer should hold PCMU only:\n%s", i, answer)
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, 4*len(clients))
	talk, stopTalk := context.WithCancel(ctx)
	for i, c := range clients {
		wg.Go(func() { c.speak(talk) })
		wg.Go(func() {
			if err := play(talk, peers[i]); err != nil {
				errs <- err
			}
		})
	}
	for i, c := range clients {
		hearing := hear
		if i == 1 {
			hearing = hearPushed
		}
		got, err := hearing(ctx, peers[i], 4000)
		if err != nil {
			t.Fatalf("peer %d: read: %v (%+v)", i, err, peers[i].Stats())
		}
		checkTone(t, "server from client "+strconv.Itoa(i), got, 440, 1000)
		heard, err := c.collect(ctx, 4000)
		if err != nil {
			t.Fatalf("client %d heard %d samples: %v (%+v)", i, len(heard), err, peers[i].Stats())
		}
		checkTone(t, "client "+strconv.Itoa(i)+" from server", heard, 1000, 440)
		select {
		case mime := <-c.codec:
			if mime != pion.MimeTypePCMU {
				t.Errorf("client %d received %s, want PCMU", i, mime)
			}
		default:
			t.Errorf("client %d: no track", i)
		}
	}
	stopTalk()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("write: %v", err)
	}
	for i, p := range peers {
		st := p.Stats()
		if st.State != "connected" || st.PacketsIn < 25 || st.PacketsOut < 25 || st.BytesIn != 160*st.PacketsIn {
			t.Errorf("peer %d stats: %+v", i, st)
		}
	}

	// The server closes peer 0: its Done closes, reads and writes end.
	if err := peers[0].Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	select {
	case <-peers[0].Done():
	default:
		t.Fatal("Done is open after Close")
	}
	if _, err := peers[0].ReadFrame(ctx); err != nil && !errors.Is(err, media.ErrEnded) {
		t.Errorf("read after close: %v", err)
	}
	if err := peers[0].WriteFrame(ctx, media.Frame{Codec: media.PCMU, Payload: make([]byte, 160)}); !errors.Is(err, media.ErrEnded) {
		t.Errorf("write after close: %v, want ErrEnded", err)
	}
	// Client 1 hangs up: the server's peer ends by itself.
	if err := clients[1].pc.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-peers[1].Done():
	case <-ctx.Done():
		t.Fatalf("the client closed, the peer did not end: %+v", peers[1].Stats())
	}
	// A third client connects after the others left, and closing the
	// server ends its peer.
	third := newClient(t)
	p3, _ := third.connect(t, srv)
	if err := clients[0].pc.GracefulClose(); err != nil {
		t.Error(err)
	}
	if err := third.pc.GracefulClose(); err != nil {
		t.Error(err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("close server: %v", err)
	}
	select {
	case <-p3.Done():
	default:
		t.Error("closing the server left a peer open")
	}
	// No goroutine outlives the server and the clients.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
