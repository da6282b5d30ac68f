// SRTP sessions keyed from SDP offers and answers, both ways, with what
// must fail (replays, tampering, another key, plain RTP); re-offers; the
// settings.

package sipua

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua/internal/sdp"
)

// keyed is an offer and its answer, read back through SDP, and the
// session each side keyed from them.
func keyed(t testing.TB, mode SRTP, suites ...sdp.Suite) (offerer, answerer *srtpSession, offer, answer sdp.Description) {
	t.Helper()
	offer = sdp.Description{Addr: netip.MustParseAddrPort("127.0.0.1:4000"), SessionID: 1, Version: 1,
		Codecs: []media.Codec{media.PCMU}, EventPT: 101, Direction: sdp.SendRecv}
	offerSRTP(&offer, mode)
	if len(suites) > 0 { // the offer lists only these, in this order
		var keep []sdp.Crypto
		for _, s := range suites {
			for _, c := range offer.Crypto {
				if c.Suite == s {
					keep = append(keep, c)
				}
			}
		}
		offer.Crypto = keep
	}
	st, err := sdp.NegotiateSRTP(offer.Marshal(), true, mode.policy())
	if err != nil {
		t.Fatal(err)
	}
	answer = sdp.Description{Addr: netip.MustParseAddrPort("127.0.0.1:5000"), SessionID: 2, Version: 1, Codecs: []media.Codec{st.Codec},
		CodecPTs: []uint8{st.CodecPT}, EventPT: st.EventPT, Direction: sdp.SendRecv, Lines: st.Lines, Index: st.Index}
	if answerer, err = answerSRTP(st, &answer); err != nil {
		t.Fatal(err)
	}
	back, err := sdp.NegotiateSRTP(answer.Marshal(), true, offeredPolicy(offer))
	if err != nil {
		t.Fatal(err)
	}
	if offerer, err = answeredSRTP(&offer, back); err != nil {
		t.Fatal(err)
	}
	return offerer, answerer, offer, answer
}

// rtpPacket is a marshalled RTP packet.
func rtpPacket(t testing.TB, seq uint16, pt uint8, payload []byte) []byte {
	t.Helper()
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 0xcafe},
		Payload: payload}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withRoom is a copy of pkt in a buffer with room for the SRTP tag, as
// the sender's: protect encrypts it in place.
func withRoom(pkt []byte) []byte {
	b := make([]byte, len(pkt), len(pkt)+srtpOverhead)
	copy(b, pkt)
	return b
}

func TestSRTPRoundTrip(t *testing.T) {
	audio := bytes.Repeat([]byte{0x55}, media.SamplesPerPacket)
	event := []byte{5, 0x8a, 0, 160} // RFC 4733: key 5, end, 160 samples
	for _, tc := range []struct {
		name   string
		mode   SRTP
		suites []sdp.Suite
		want   sdp.Suite
		tag    int // the bytes SRTP adds
	}{
		{"required, our preference", SRTPRequired, nil, sdp.AESCM128SHA1_80, 10},
		{"required, 32-bit tags only", SRTPRequired, []sdp.Suite{sdp.AESCM128SHA1_32}, sdp.AESCM128SHA1_32, 4},
		{"optional (best effort), 32 first", SRTPOptional, []sdp.Suite{sdp.AESCM128SHA1_32, sdp.AESCM128SHA1_80}, sdp.AESCM128SHA1_32, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, offer, answer := keyed(t, tc.mode, tc.suites...)
			if a.suite != tc.want || b.suite != tc.want || len(offer.Crypto) != 1 || len(answer.Crypto) != 1 ||
				offer.Crypto[0].Tag != answer.Crypto[0].Tag || bytes.Equal(offer.Crypto[0].Key, answer.Crypto[0].Key) {
				t.Fatalf("suites %s/%s, offer keeps %v, answer %v; want %s under one tag, a key each", a.suite, b.suite, offer.Crypto, answer.Crypto, tc.want)
			}
			if got := bytes.Contains(offer.Marshal(), []byte("RTP/SAVP")); got != (tc.mode == SRTPRequired) {
				t.Errorf("offer with RTP/SAVP: %v, want %v:\n%s", got, tc.mode == SRTPRequired, offer.Marshal())
			}
			for i, dir := range []struct{ from, to *srtpSession }{{a, b}, {b, a}} {
				for _, p := range []struct {
					seq     uint16
					payload []byte
				}{{65534, audio}, {65535, event}, {0, audio}, {1, audio}} { // across a rollover
					seq, payload := p.seq, p.payload
					plain := rtpPacket(t, seq, 0, payload)
					enc, err := dir.from.protect(withRoom(plain))
					if err != nil {
						t.Fatal(err)
					}
					if len(enc) != len(plain)+tc.tag || bytes.Contains(enc, payload) {
						t.Fatalf("direction %d: %d bytes from %d, payload visible: %v", i, len(enc), len(plain), bytes.Contains(enc, payload))
					}
					wire := bytes.Clone(enc)
					dec, err := dir.to.unprotect(enc)
					if err != nil || !bytes.Equal(dec, plain) {
						t.Fatalf("direction %d seq %d: %v, decrypted equal: %v", i, seq, err, bytes.Equal(dec, plain))
					}
					if _, err := dir.to.unprotect(bytes.Clone(wire)); err == nil {
						t.Errorf("direction %d seq %d: a replayed packet was taken", i, seq)
					}
				}
				next := rtpPacket(t, 200, 0, audio)
				enc, err := dir.from.protect(withRoom(next))
				if err != nil {
					t.Fatal(err)
				}
				tampered := bytes.Clone(enc)
				tampered[20] ^= 1
				if _, err := dir.to.unprotect(tampered); err == nil {
					t.Errorf("direction %d: a tampered packet was taken", i)
				}
				if _, err := dir.to.unprotect(rtpPacket(t, 201, 0, audio)); err == nil {
					t.Errorf("direction %d: a plain RTP packet was taken", i)
				}
				if _, err := dir.to.unprotect([]byte("hello")); err == nil {
					t.Errorf("direction %d: junk was taken", i)
				}
				if _, err := dir.to.unprotect(enc); err != nil {
					t.Errorf("direction %d: the packet itself, after the failures: %v", i, err)
				}
			}
			// Another call's key does not open this call's packets.
			other, _, _, _ := keyed(t, tc.mode, tc.suites...)
			enc, err := other.protect(withRoom(rtpPacket(t, 300, 0, audio)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.unprotect(enc); err == nil {
				t.Error("a packet under another key was taken")
			}
		})
	}
}

// A peer key with an MKI: its packets carry the MKI, and decrypt.
func TestSRTPPeerMKI(t *testing.T) {
	theirs := newKey(1, sdp.AESCM128SHA1_80)
	theirs.MKI = []byte{0, 7}
	parsed, err := sdp.ParseCrypto(theirs.Value())
	if err != nil || !bytes.Equal(parsed.MKI, theirs.MKI) {
		t.Fatalf("%v %v", parsed, err)
	}
	ours := newKey(1, sdp.AESCM128SHA1_80)
	us, err := newSRTPSession(ours, parsed)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := srtpContext(theirs)
	if err != nil {
		t.Fatal(err)
	}
	plain := rtpPacket(t, 9, 0, bytes.Repeat([]byte{1}, 160))
	enc, err := peer.EncryptRTP(nil, plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) != len(plain)+2+10 {
		t.Fatalf("%d bytes; want the MKI and the tag after %d", len(enc), len(plain))
	}
	if dec, err := us.unprotect(enc); err != nil || !bytes.Equal(dec, plain) {
		t.Errorf("%v", err)
	}
}

// Answers to our offers that do not fit it.
func TestAnsweredSRTP(t *testing.T) {
	offer := func(mode SRTP) sdp.Description {
		d := sdp.Description{Addr: netip.MustParseAddrPort("127.0.0.1:4000"), Codecs: []media.Codec{media.PCMU}, EventPT: -1}
		offerSRTP(&d, mode)
		return d
	}
	if d := offer(SRTPOff); d.Secure || len(d.Crypto) != 0 {
		t.Errorf("off offers %v", d.Crypto)
	}
	d := offer(SRTPRequired)
	if _, err := answeredSRTP(&d, sdp.Stream{Secure: true}); !errors.Is(err, errSRTPAnswer) {
		t.Errorf("a keyless answer to RTP/SAVP: %v", err)
	}
	stranger := newKey(9, sdp.AESCM128SHA1_80)
	if _, err := answeredSRTP(&d, sdp.Stream{Secure: true, Crypto: []sdp.Crypto{stranger}}); !errors.Is(err, errSRTPAnswer) {
		t.Errorf("an answer under a tag we did not offer: %v", err)
	}
	wrongSuite := newKey(1, sdp.AESCM128SHA1_32) // tag 1 is our _80 line
	if _, err := answeredSRTP(&d, sdp.Stream{Secure: true, Crypto: []sdp.Crypto{wrongSuite}}); !errors.Is(err, errSRTPAnswer) {
		t.Errorf("an answer with our tag and another suite: %v", err)
	}
	d = offer(SRTPOptional)
	if s, err := answeredSRTP(&d, sdp.Stream{}); s != nil || err != nil || len(d.Crypto) != 0 {
		t.Errorf("a plain answer to a best-effort offer: %v %v, keys kept %d; want plain RTP", s, err, len(d.Crypto))
	}
}

// A re-offer in an SRTP call: the same key keeps the receiver's context, a
// new one replaces it, a new suite or plain RTP is refused (488) and the
// call keeps its media. A plain call refuses an SRTP re-offer.
func TestSRTPReoffer(t *testing.T) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := &rtpPort{conn: conn, addr: netip.MustParseAddrPort(conn.LocalAddr().String()), demux: map[netip.AddrPort]*call{}, gone: map[netip.AddrPort]time.Time{}}
	_, answerer, _, answer := keyed(t, SRTPRequired) // the call answered an SRTP offer
	c := &call{log: slog.New(slog.DiscardHandler), port: port, srtp: answerer, local: answer}
	c.update(sdp.Stream{Addr: netip.MustParseAddrPort("127.0.0.1:4000"), Codec: media.PCMU, EventPT: 101, Direction: sdp.SendRecv})

	reoffer := func(keys ...sdp.Crypto) []byte {
		d := sdp.Description{Addr: netip.MustParseAddrPort("127.0.0.1:4002"), SessionID: 1, Version: 2, Codecs: []media.Codec{media.PCMU},
			EventPT: 101, Direction: sdp.SendRecv, Secure: len(keys) > 0, Crypto: keys}
		return d.Marshal()
	}
	in := c.srtp.in.Load()
	same := c.srtp.theirs
	same.Tag = 3
	body, err := c.renegotiate(reoffer(newKey(1, sdp.AESCM128SHA1_32), same), true)
	if err != nil {
		t.Fatal(err)
	}
	if c.srtp.in.Load() != in {
		t.Error("the same key replaced the receiver's context")
	}
	st, err := sdp.NegotiateSRTP(body, true, sdp.SRTPRequired)
	if err != nil || len(st.Crypto) != 1 || st.Crypto[0].Tag != 3 || !bytes.Equal(st.Crypto[0].Key, answer.Crypto[0].Key) {
		t.Fatalf("answer to the re-offer %v: %v; want our key under tag 3", st.Crypto, err)
	}

	fresh := newKey(1, sdp.AESCM128SHA1_80)
	if _, err := c.renegotiate(reoffer(fresh), true); err != nil {
		t.Fatal(err)
	}
	if c.srtp.in.Load() == in {
		t.Fatal("a new key kept the old context")
	}
	peerCtx, err := srtpContext(fresh)
	if err != nil {
		t.Fatal(err)
	}
	plain := rtpPacket(t, 50, 0, bytes.Repeat([]byte{3}, 160))
	enc, err := peerCtx.EncryptRTP(nil, plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := c.srtp.unprotect(enc); err != nil || !bytes.Equal(dec, plain) {
		t.Errorf("a packet under the peer's new key: %v", err)
	}

	before := c.local.Marshal()
	for name, body := range map[string][]byte{
		"another suite": reoffer(newKey(1, sdp.AESCM128SHA1_32)),
		"plain RTP":     reoffer(),
	} {
		if _, err := c.renegotiate(body, true); !errors.Is(err, sdp.ErrNoCommonCodec) {
			t.Errorf("%s: %v, want a 488", name, err)
		}
	}
	if !bytes.Equal(before, c.local.Marshal()) {
		t.Error("a refused re-offer changed our SDP")
	}

	plainCall := &call{log: slog.New(slog.DiscardHandler), port: port, local: sdp.Description{Addr: netip.MustParseAddrPort("127.0.0.1:5000"),
		Codecs: []media.Codec{media.PCMU}, EventPT: 101, Direction: sdp.SendRecv}}
	plainCall.update(sdp.Stream{Addr: netip.MustParseAddrPort("127.0.0.1:4000"), Codec: media.PCMU, EventPT: 101, Direction: sdp.SendRecv})
	if _, err := plainCall.renegotiate(reoffer(fresh), true); !errors.Is(err, sdp.ErrProfile) {
		t.Errorf("SRTP re-offer in a plain call: %v, want ErrProfile", err)
	}
}

// The settings: each problem names its key and what it takes.
func TestSRTPOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Options)
		want string
	}{
		{"defaults", func(*Options) {}, ""},
		{"required both ways", func(o *Options) { o.SRTP, o.Trunk.SRTP = SRTPRequired, SRTPRequired }, ""},
		{"optional", func(o *Options) { o.SRTP, o.Trunk.SRTP = SRTPOptional, SRTPOptional }, ""},
		{"empty is off", func(o *Options) { o.SRTP, o.Trunk.SRTP = "", "" }, ""},
		{"endpoint", func(o *Options) { o.SRTP = "yes" }, `sip.srtp: "yes" must be off, optional`},
		{"trunk", func(o *Options) { o.Trunk.SRTP = "mandatory" }, `sip.trunk.srtp: "mandatory" must be off, optional`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			tc.set(&o)
			err := o.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v; want one saying %q", err, tc.want)
			}
		})
	}
	if o := DefaultOptions(); o.SRTP != SRTPOff || o.Trunk.SRTP != SRTPOff {
		t.Errorf("defaults %q, %q; want off", o.SRTP, o.Trunk.SRTP)
	}
}

// BenchmarkSRTP is one 20 ms packet protected by the sender and
// unprotected by the receiver: the cost SRTP adds per packet each way.
func BenchmarkSRTP(b *testing.B) {
	for _, suite := range []sdp.Suite{sdp.AESCM128SHA1_80, sdp.AESCM128SHA1_32} {
		b.Run(string(suite), func(b *testing.B) {
			tx, rx, _, _ := keyed(b, SRTPRequired, suite)
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1}, Payload: bytes.Repeat([]byte{0x55}, media.SamplesPerPacket)}
			buf := make([]byte, 12+media.SamplesPerPacket+srtpOverhead)
			in := make([]byte, maxPacket+1)
			b.ReportAllocs()
			for b.Loop() {
				pkt.SequenceNumber++
				n, err := pkt.MarshalTo(buf)
				if err != nil {
					b.Fatal(err)
				}
				enc, err := tx.protect(buf[:n])
				if err != nil {
					b.Fatal(err)
				}
				if _, err := rx.unprotect(in[:copy(in, enc)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
