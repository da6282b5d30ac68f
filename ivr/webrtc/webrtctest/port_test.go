package webrtctest_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"

	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/webrtc"
	"github.com/canvass/canvass/ivr/webrtc/webrtctest"
)

// browser is a pion peer connection on a shared port's address.
type browser struct {
	pc    *pion.PeerConnection
	track *pion.TrackLocalStaticRTP
	mux   *webrtctest.Mux
	heard chan heard // the packets it hears
}

// heard is a packet a browser heard: its payload, when the socket
// received it (Mux.Arrived) and when the track's reader had it.
type heard struct {
	payload      []byte
	arrived, got time.Time
}

func newBrowser(t *testing.T, port *webrtctest.Port) *browser {
	t.Helper()
	mux, err := port.Mux()
	if err != nil {
		t.Fatal(err)
	}
	me := &pion.MediaEngine{}
	pcmu := pion.RTPCodecCapability{MimeType: pion.MimeTypePCMU, ClockRate: 8000}
	if err := me.RegisterCodec(pion.RTPCodecParameters{RTPCodecCapability: pcmu, PayloadType: 0}, pion.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	var se pion.SettingEngine
	se.SetICEUDPMux(mux)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	pc, err := pion.NewAPI(pion.WithMediaEngine(me), pion.WithSettingEngine(se)).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	b := &browser{pc: pc, mux: mux, heard: make(chan heard, 100)}
	if b.track, err = pion.NewTrackLocalStaticRTP(pcmu, "mic", "browser"); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(b.track); err != nil {
		t.Fatal(err)
	}
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			got := time.Now()
			select {
			case b.heard <- heard{pkt.Payload, mux.Arrived(pkt.SSRC, pkt.SequenceNumber), got}:
			default:
			}
		}
	})
	return b
}

// connect offers to srv and returns the server's peer once both ends are
// connected.
func (b *browser) connect(t *testing.T, ctx context.Context, srv *webrtc.Server) *webrtc.Peer {
	t.Helper()
	connected := make(chan struct{})
	b.pc.OnConnectionStateChange(func(s pion.PeerConnectionState) {
		if s == pion.PeerConnectionStateConnected {
			close(connected)
		}
	})
	offer, err := b.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := pion.GatheringCompletePromise(b.pc)
	if err := b.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	peer, answer, err := srv.Answer(ctx, b.pc.LocalDescription().SDP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	if err := b.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-ctx.Done():
		t.Fatalf("not connected: %s", b.pc.ConnectionState())
	}
	return peer
}

// Browsers on one shared port connect to the WebRTC server, each from its
// own address, and each hears only its own peer, and is heard by it alone;
// each packet it hears was received by the socket at a time Mux.Arrived
// knows, before its reader had it.
func TestBrowsersShareAPort(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("a shared port needs Linux (IP_PKTINFO)")
	}
	o := webrtc.DefaultOptions()
	o.Listen = "127.0.0.1:0"
	srv, err := webrtc.New(o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	port, err := webrtctest.NewPort()
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	const n = 3
	browsers := make([]*browser, n)
	peers := make([]*webrtc.Peer, n)
	for i := range n {
		browsers[i] = newBrowser(t, port)
		peers[i] = browsers[i].connect(t, ctx, srv)
	}
	// Each side of pair i sends payloads filled with its own byte, until
	// the other side has heard 10 of them.
	for i := range n {
		toServer, toBrowser := byte(0x10+i), byte(0x40+i)
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: uint32(1000 + i)}, Payload: bytes.Repeat([]byte{toServer}, media.SamplesPerPacket)}
		frame := media.Frame{Codec: peers[i].Codec(), Payload: bytes.Repeat([]byte{toBrowser}, media.SamplesPerPacket)}
		fromBrowser, fromServer := 0, 0
		for tick := time.NewTicker(media.PacketInterval); fromBrowser < 10 || fromServer < 10; {
			pkt.SequenceNumber++
			pkt.Timestamp += media.SamplesPerPacket
			if err := browsers[i].track.WriteRTP(&pkt); err != nil {
				t.Fatal(err)
			}
			if err := peers[i].WriteFrame(ctx, frame); err != nil {
				t.Fatal(err)
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				t.Fatalf("pair %d: the server heard %d packets, the browser %d", i, fromBrowser, fromServer)
			}
			for more := true; more; {
				select {
				case h := <-browsers[i].heard:
					if !bytes.Equal(h.payload, frame.Payload) {
						t.Fatalf("browser %d heard % x…, want its peer's %x", i, h.payload[:4], toBrowser)
					}
					if h.arrived.IsZero() || h.arrived.After(h.got) || h.got.Sub(h.arrived) > 5*time.Second {
						t.Fatalf("browser %d had a packet at %s that its socket received at %s", i, h.got.Format(time.StampMicro), h.arrived.Format(time.StampMicro))
					}
					fromServer++
				default:
					more = false
				}
			}
			rctx, rcancel := context.WithTimeout(ctx, time.Millisecond)
			f, err := peers[i].ReadFrame(rctx)
			rcancel()
			if err == nil {
				if !bytes.Equal(f.Payload, pkt.Payload) {
					t.Fatalf("peer %d heard % x…, want its browser's %x", i, f.Payload[:4], toServer)
				}
				fromBrowser++
			}
		}
	}
	st := srv.PortStats()
	if st.Read == 0 || st.Sent == 0 {
		t.Errorf("the server's port stats count nothing: %+v", st)
	}
	if _, err := port.Mux(); err != nil {
		t.Errorf("another address: %v", err)
	}
	if err := port.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if _, err := port.Mux(); err == nil {
		t.Error("an address on a closed port: no error")
	}
}
