package webrtc

// This file is the server side of the browser leg: one UDP port shared by
// every peer connection (an ICE UDP mux), one pion API configured for
// G.711 only, and Answer, which turns a browser's offer into a Peer.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v5/packetio"
	pion "github.com/pion/webrtc/v4"

	"github.com/canvass/canvass/ivr/internal/mmsg"
	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/survey"
)

// iceKeepalive is how often ICE checks go to a connected browser.
const iceKeepalive = 2 * time.Second

// muxReadBuffer is the receive buffer asked for the shared port. Every
// browser's packets queue there: the default (about 200 KB, some 160
// packets) is 10 ms of 300 calls' audio, so a busy moment loses packets
// in the kernel. A megabyte (Linux doubles it: some 1,600 packets) holds
// about 100 ms of them; more would only deliver stale audio to a server
// that cannot keep up. The kernel caps it at net.core.rmem_max.
const muxReadBuffer = 1 << 20

// The shared port is read and written in batches (mmsg.Conn): one
// recvmmsg takes every packet queued since the last read, and one sendmmsg
// sends every packet written since the last send (a goroutine's burst of
// writes, and other goroutines' at the same time), so that the port's
// system calls no longer cost one per packet. A slot holds any
// datagram a browser sends (DTLS keeps its records under the path MTU);
// 64 of them are more than a busy moment queues between two reads.
const (
	portBatch = 64
	portSlot  = 2048
)

// rtpBufferPackets bounds the packets pion holds for a peer's track after
// decrypting them and before the peer reads them (1 s of 20 ms packets);
// rtcpBufferPackets, its RTCP. pion's default is a megabyte each (some
// 5,000 audio packets: 100 s), which a starved server fills with audio
// that then plays late, and keeps as heap once drained. Past the bound
// pion drops the newest packet, so the bound must hold a whole backlog
// that media.Freshness is still dropping (it gives up after a second):
// with 500 ms, a 600 ms burst lost its freshest frames.
const (
	rtpBufferPackets  = 50
	rtcpBufferPackets = 32
)

// Errors of Answer and Server, checked with errors.Is.
var (
	// ErrBadOffer: the offer is not SDP, is not an offer (an answer, or
	// JSON of another type), or has no audio to answer.
	ErrBadOffer = errors.New("webrtc: not a usable SDP offer")
	// ErrNoCodec: the offer's audio has neither PCMU nor PCMA.
	ErrNoCodec = errors.New("webrtc: the offer has neither PCMU nor PCMA audio")
	// ErrClosed: the server is closed.
	ErrClosed = errors.New("webrtc: the server is closed")
)

// Server owns the ICE port and answers browsers' offers. Its peers end
// with it.
type Server struct {
	o    Options
	log  *slog.Logger
	conn *net.UDPConn
	port *mmsg.Conn // conn, batched: what the mux reads and writes
	mux  ice.UDPMux
	api  *pion.API
	full *atomic.Uint64 // packets pion's bounded receive buffers refused

	mu     sync.Mutex
	peers  map[*Peer]struct{}
	closed bool
	nextID uint64
}

// New listens on o.Listen and builds the pion API: a MediaEngine with
// PCMU (payload type 0) and PCMA (8) only, no interceptors (no NACK, TWCC
// or header extensions are negotiated then), SRTP receive buffers bounded,
// mDNS off, UDP4, and loopback candidates when the listen address is
// loopback.
func New(o Options, log *slog.Logger) (*Server, error) {
	if o.Listen == "" {
		return nil, errors.New("webrtc: no listen address (WebRTC is off)")
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	addr, _ := parseListen(o.Listen) // checked by Validate
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("webrtc: listen %s: %w", o.Listen, err)
	}
	if err := conn.SetReadBuffer(muxReadBuffer); err != nil {
		log.Warn("webrtc: cannot enlarge the receive buffer", "err", err)
	}
	batched, err := mmsg.NewConn(conn, portBatch, portSlot)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("webrtc: batch the port: %w", err), conn.Close())
	}
	logs := loggerFactory{log: log}
	mux := pion.NewICEUDPMux(logs.NewLogger("ice"), batched)

	me := &pion.MediaEngine{}
	for _, c := range []media.Codec{media.PCMU, media.PCMA} {
		if err := me.RegisterCodec(codecParameters(c), pion.RTPCodecTypeAudio); err != nil {
			return nil, errors.Join(fmt.Errorf("webrtc: register %s: %w", c.Name(), err), mux.Close(), conn.Close())
		}
	}
	// No interceptors at all: NACK, TWCC and header extensions are not
	// negotiated then (Chrome sends plain 12-byte RTP, as a SIP leg does),
	// and each peer connection saves the report interceptors' two
	// goroutines and their work on every packet. The browser still sends
	// its receiver reports, which the peer reads (LostOut); it gets no
	// sender or receiver reports from us, which only its statistics
	// (remote-inbound-rtp) would show.
	ir := &interceptor.Registry{}
	var se pion.SettingEngine
	se.LoggerFactory = logs
	se.SetICEUDPMux(mux)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(addr.Addr().IsLoopback())
	// Keepalives every 2 s: pion takes 0 as "never", and its ICE agent
	// does not count media from a known address as activity, so without
	// them only the browser's own checks (about every 25 s) would keep a
	// connection from "disconnected" (seen against a real Asterisk call).
	se.SetICETimeouts(o.DisconnectedTimeout, o.FailedTimeout, iceKeepalive)
	full := new(atomic.Uint64)
	se.BufferFactory = func(t packetio.BufferPacketType, _ uint32) io.ReadWriteCloser { return boundedBuffer(t, full) }
	if len(o.PublicIPs) > 0 {
		ips := make([]string, len(o.PublicIPs))
		for i, ip := range o.PublicIPs {
			ips[i] = strings.TrimSpace(ip)
		}
		rule := pion.ICEAddressRewriteRule{External: ips, AsCandidateType: pion.ICECandidateTypeHost, Mode: pion.ICEAddressRewriteReplace}
		if err := se.SetICEAddressRewriteRules(rule); err != nil {
			return nil, errors.Join(fmt.Errorf("webrtc: public_ips: %w", err), mux.Close(), conn.Close())
		}
	}
	api := pion.NewAPI(pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se))
	log.Info("webrtc listening", "addr", conn.LocalAddr().String(), "public_ips", o.PublicIPs)
	return &Server{o: o, log: log, conn: conn, port: batched, mux: mux, api: api, full: full, peers: map[*Peer]struct{}{}}, nil
}

// boundedBuffer is the SettingEngine's BufferFactory: pion's own packet
// buffer, bounded in packets rather than a megabyte; full counts the
// packets it refused.
func boundedBuffer(t packetio.BufferPacketType, full *atomic.Uint64) io.ReadWriteCloser {
	b := packetio.NewBuffer()
	if t == packetio.RTPBufferPacket {
		b.SetLimitCount(rtpBufferPackets)
	} else {
		b.SetLimitCount(rtcpBufferPackets)
	}
	return packetBuffer{b, full}
}

// packetBuffer is a packetio.Buffer as the io.ReadWriteCloser pion's
// SRTP streams take; they use the attribute methods when present.
type packetBuffer struct {
	*packetio.Buffer
	full *atomic.Uint64
}

func (b packetBuffer) Read(p []byte) (int, error) {
	n, _, err := b.Buffer.Read(p, nil)
	return n, err
}

func (b packetBuffer) Write(p []byte) (int, error) { return b.WriteWithAttributes(p, nil) }

func (b packetBuffer) ReadWithAttributes(p []byte, a packetio.Attributes) (int, packetio.Attributes, error) {
	return b.Buffer.Read(p, a)
}

func (b packetBuffer) WriteWithAttributes(p []byte, a packetio.Attributes) (int, error) {
	n, err := b.Buffer.Write(p, a)
	if errors.Is(err, packetio.ErrFull) {
		b.full.Add(1)
	}
	return n, err
}

// BufferFull counts the packets dropped since New because a peer's
// receive buffer was full (rtpBufferPackets: its reader was a second
// behind).
func (s *Server) BufferFull() uint64 { return s.full.Load() }

// PortStats counts the shared ICE port's datagrams and the system calls
// that moved them, since New.
type PortStats struct {
	Read, Recvs uint64 // datagrams read, recvmmsg calls
	Sent, Sends uint64 // datagrams sent in batches, sendmmsg batches
	Dropped     uint64 // datagrams the system refused to send
}

// PortStats is the ICE port's counters.
func (s *Server) PortStats() PortStats {
	st := s.port.Stats()
	return PortStats{Read: st.Read, Recvs: st.Recvs, Sent: st.Sent, Sends: st.Sends, Dropped: st.Dropped}
}

// Addr is the ICE port's address.
func (s *Server) Addr() net.Addr { return s.conn.LocalAddr() }

// ICEServers is what the browser's RTCPeerConnection configuration needs
// (iceServers): the configured TURN/STUN servers, JSON-ready. It is a
// copy.
func (s *Server) ICEServers() []ICEServer {
	out := make([]ICEServer, len(s.o.TURN))
	for i, srv := range s.o.TURN {
		out[i] = srv
		out[i].URLs = append([]string(nil), srv.URLs...)
	}
	return out
}

// Close ends every peer and releases the port.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	peers := make([]*Peer, 0, len(s.peers))
	for p := range s.peers {
		peers = append(peers, p)
	}
	s.mu.Unlock()
	var errs []error
	for _, p := range peers {
		errs = append(errs, p.Close())
	}
	errs = append(errs, s.mux.Close())
	if err := s.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// remove forgets an ended peer.
func (s *Server) remove(p *Peer) {
	s.mu.Lock()
	delete(s.peers, p)
	s.mu.Unlock()
}

// Answer answers a browser's offer: the SDP text, or the JSON of an
// RTCSessionDescription ({"type":"offer","sdp":…}). It waits for ICE
// gathering to finish, so the answer carries the candidates (on the
// shared port they are immediate) and the browser need not trickle. The
// peer connects once the browser has set the answer; it ends by itself if
// that does not happen within ConnectTimeout.
//
// Errors: ErrBadOffer, ErrNoCodec (both also survey.EInvalid errors whose
// message says what is wrong), ErrClosed, or ctx's.
func (s *Server) Answer(ctx context.Context, offer string) (*Peer, string, error) {
	p, answer, err := s.answer(ctx, offer)
	if errors.Is(err, ErrBadOffer) || errors.Is(err, ErrNoCodec) {
		// The browser's fault: a refusal a console shows as it is.
		err = errors.Join(survey.Errorf(survey.EInvalid, "%s", err.Error()), err)
	}
	return p, answer, err
}

func (s *Server) answer(ctx context.Context, offer string) (*Peer, string, error) {
	text, codec, err := parseOffer(offer)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, "", ErrClosed
	}
	s.nextID++
	id := s.nextID
	s.mu.Unlock()

	pc, err := s.api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return nil, "", fmt.Errorf("webrtc: new peer connection: %w", err)
	}
	p := newPeer(s, pc, codec, s.log.With("webrtc_peer", id))
	fail := func(err error) (*Peer, string, error) {
		p.shutdown("answer failed")
		return nil, "", err
	}
	pc.OnConnectionStateChange(p.stateChanged)
	pc.OnTrack(p.onTrack)
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: text}); err != nil {
		return fail(fmt.Errorf("%w: %v", ErrBadOffer, err))
	}
	track, err := pion.NewTrackLocalStaticRTP(codecParameters(codec).RTPCodecCapability, "audio", "canvass")
	if err != nil {
		return fail(fmt.Errorf("webrtc: local track: %w", err))
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		return fail(fmt.Errorf("%w: cannot send audio: %v", ErrBadOffer, err))
	}
	// One codec in the answer, so that both directions use it.
	for _, tr := range pc.GetTransceivers() {
		if tr.Sender() == sender {
			if err := tr.SetCodecPreferences([]pion.RTPCodecParameters{codecParameters(codec)}); err != nil {
				return fail(fmt.Errorf("%w: %v", ErrNoCodec, err))
			}
		}
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(fmt.Errorf("%w: %v", ErrBadOffer, err))
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fail(fmt.Errorf("%w: %v", ErrBadOffer, err))
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	local := pc.LocalDescription()
	if local == nil {
		return fail(errors.New("webrtc: no local description after gathering"))
	}
	if !p.start(track, sender) {
		return fail(ErrClosed)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fail(ErrClosed)
	}
	s.peers[p] = struct{}{}
	s.mu.Unlock()
	p.log.Info("webrtc answered", "codec", codec.Name())
	return p, local.SDP, nil
}

// codecParameters is how the MediaEngine registers a G.711 law.
func codecParameters(c media.Codec) pion.RTPCodecParameters {
	mime := pion.MimeTypePCMU
	if c == media.PCMA {
		mime = pion.MimeTypePCMA
	}
	return pion.RTPCodecParameters{
		RTPCodecCapability: pion.RTPCodecCapability{MimeType: mime, ClockRate: media.SampleRate},
		PayloadType:        pion.PayloadType(c.PayloadType()),
	}
}

// parseOffer checks what pion would accept less clearly: that offer is an
// SDP offer with audio in PCMU or PCMA. It returns the SDP text and the
// law to use, PCMU when both are offered.
func parseOffer(offer string) (string, media.Codec, error) {
	text := offer
	if strings.HasPrefix(strings.TrimSpace(text), "{") {
		var d struct {
			Type string `json:"type"`
			SDP  string `json:"sdp"`
		}
		if err := json.Unmarshal([]byte(text), &d); err != nil {
			return "", 0, fmt.Errorf("%w: %v", ErrBadOffer, err)
		}
		if d.Type != "offer" {
			return "", 0, fmt.Errorf("%w: an RTCSessionDescription of type %q", ErrBadOffer, d.Type)
		}
		text = d.SDP
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\r\n" // the SDP parser wants every line ended
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(text); err != nil {
		return "", 0, fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	var audio *sdp.MediaDescription
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media == "audio" && m.MediaName.Port.Value != 0 {
			audio = m
			break
		}
	}
	if audio == nil {
		return "", 0, fmt.Errorf("%w: no audio m-line", ErrBadOffer)
	}
	// An offerer says actpass (RFC 5763 §5); an answer says active or
	// passive. Without it no DTLS can be set up at all.
	setup, ok := audio.Attribute("setup")
	if !ok {
		setup, ok = sd.Attribute("setup")
	}
	if !ok {
		return "", 0, fmt.Errorf("%w: no a=setup (DTLS role)", ErrBadOffer)
	}
	if setup != "actpass" {
		return "", 0, fmt.Errorf("%w: a=setup:%s is an answerer's; an offer says actpass", ErrBadOffer, setup)
	}
	// A format is G.711 by its static number or by its rtpmap; only the
	// formats the m-line lists count.
	names := map[string]string{"0": "PCMU/8000", "8": "PCMA/8000"}
	for _, a := range audio.Attributes {
		if a.Key == "rtpmap" {
			pt, enc, _ := strings.Cut(a.Value, " ")
			names[pt] = strings.TrimSuffix(strings.ToUpper(enc), "/1")
		}
	}
	pcmu, pcma := false, false
	for _, f := range audio.MediaName.Formats {
		pcmu = pcmu || names[f] == "PCMU/8000"
		pcma = pcma || names[f] == "PCMA/8000"
	}
	switch {
	case pcmu:
		return text, media.PCMU, nil
	case pcma:
		return text, media.PCMA, nil
	}
	return "", 0, ErrNoCodec
}
