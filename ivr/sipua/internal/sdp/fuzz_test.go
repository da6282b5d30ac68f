// Fuzz target for the SDP parser (untrusted input). `make fuzz` runs it;
// crashers go to testdata/fuzz/.

package sdp

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/canvass/canvass/ivr/media"
)

// FuzzSDP: any body either negotiates a G.711 stream whose answer reads
// back to the same stream, or fails as malformed (400) or as having no
// common codec (488) — never a panic, never another error. Under an SRTP
// policy (srtp % 3), a stream taken as SRTP has a usable key, and one
// required to be SRTP is.
func FuzzSDP(f *testing.F) {
	f.Add(offer("m=audio 20000 RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=sendrecv"), true, uint8(0))
	f.Add(offer("m=audio 20000 RTP/AVP 8 0 96", "a=rtpmap:96 PCMU/8000", "a=sendonly"), false, uint8(1))
	f.Add(offer("m=audio 0 RTP/AVP 0\r\nm=video 1 RTP/AVP 96\r\nm=audio 5 RTP/AVPF 18 8"), true, uint8(2))
	f.Add([]byte("v=0\r\no=- 1 2 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::ffff:1.2.3.4\r\nt=0 0\r\nm=audio 1/2 RTP/AVP 0\r\n"), true, uint8(0))
	f.Add([]byte("garbage"), false, uint8(0))
	f.Add(offer("m=audio 20000 RTP/SAVP 0 101", "a=rtpmap:101 telephone-event/8000", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"+baresipKey), true, uint8(2))
	f.Add(offer("m=audio 20000 RTP/AVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:"+baresipKey+"|2^20|1:1"), true, uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, events bool, srtp uint8) {
		policy := SRTP(srtp % 3)
		st, err := NegotiateSRTP(body, events, policy)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoCommonCodec) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if st.Codec != media.PCMU && st.Codec != media.PCMA || st.CodecPT > 127 || st.Addr.Port() == 0 {
			t.Fatalf("negotiated %+v", st)
		}
		if policy == SRTPOff && (len(st.Crypto) > 0 || st.Secure) || policy == SRTPRequired && len(st.Crypto) == 0 || st.Secure && len(st.Crypto) == 0 {
			t.Fatalf("policy %d took a stream secure %v with %d keys", policy, st.Secure, len(st.Crypto))
		}
		if st.EventPT >= 0 && (!events || st.EventPT > 127 || st.EventPT == int(st.CodecPT)) {
			t.Fatalf("telephone-event %d (accepted: %v) with codec %d", st.EventPT, events, st.CodecPT)
		}
		d := Description{Addr: netip.MustParseAddrPort("127.0.0.1:4000"), SessionID: 1, Version: 1,
			Codecs: []media.Codec{st.Codec}, CodecPTs: []uint8{st.CodecPT}, EventPT: st.EventPT, Direction: st.Direction.Reverse(),
			Lines: st.Lines, Index: st.Index}
		if len(st.Crypto) > 0 {
			d.Crypto = st.Crypto[:1]
		}
		back, err := NegotiateSRTP(d.Marshal(), events, policy)
		if err != nil || len(back.Crypto) != len(d.Crypto) || back.Secure != st.Secure || back.Codec != st.Codec || back.CodecPT != st.CodecPT || back.EventPT != st.EventPT || back.Direction != d.Direction ||
			back.Index != st.Index || len(back.Lines) != len(st.Lines) {
			t.Fatalf("our answer to %+v reads back as %+v, %v:\n%s", st, back, err, d.Marshal())
		}
	})
}
