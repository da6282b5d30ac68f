// SDES a=crypto lines: what is read, what is refused, and that what we
// write reads back.

package sdp

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/canvass/canvass/ivr/media"
)

// baresipKey is the key of a line baresip 1.0.0 offered (srtp-mand).
const baresipKey = "IH0tz1OvWD7gDGITeW0YJpz22S3Za/FyrC/gVpxE"

func TestParseCrypto(t *testing.T) {
	key := bytes.Repeat([]byte{0xab}, 30)
	for _, tc := range []struct {
		value string
		want  Crypto // zero: refused
	}{
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey, Crypto{Tag: 1, Suite: AESCM128SHA1_80}},
		{"2 AES_CM_128_HMAC_SHA1_32 inline:q6urq6urq6urq6urq6urq6urq6urq6urq6urq6ur", Crypto{Tag: 2, Suite: AESCM128SHA1_32, Key: key}},
		{"7  AES_CM_128_HMAC_SHA1_32\tinline:q6urq6urq6urq6urq6urq6urq6urq6urq6urq6ur|2^31", Crypto{Tag: 7, Suite: AESCM128SHA1_32, Key: key, Lifetime: 1 << 31}},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:q6urq6urq6urq6urq6urq6urq6urq6urq6urq6ur|1048576|1:1", Crypto{Tag: 1, Suite: AESCM128SHA1_80, Key: key, Lifetime: 1 << 20, MKI: []byte{1}}},
		{"1 AES_CM_128_HMAC_SHA1_80 INLINE:q6urq6urq6urq6urq6urq6urq6urq6urq6urq6ur|258:4", Crypto{Tag: 1, Suite: AESCM128SHA1_80, Key: key, MKI: []byte{0, 0, 1, 2}}},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:q6urq6urq6urq6urq6urq6urq6urq6urq6urq6ur|1000", Crypto{Tag: 1, Suite: AESCM128SHA1_80, Key: key, Lifetime: 1000}},

		{"1 AES_CM_128_HMAC_SHA1_80", Crypto{}},
		{"1 AEAD_AES_256_GCM inline:" + baresipKey, Crypto{}},
		{"1 F8_128_HMAC_SHA1_80 inline:" + baresipKey, Crypto{}},
		{"x AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey, Crypto{}},
		{"1234567890 AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey, Crypto{}},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey + " UNENCRYPTED_SRTP", Crypto{}},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey + ";inline:" + baresipKey, Crypto{}},
		{"1 AES_CM_128_HMAC_SHA1_80 uri:" + baresipKey, Crypto{}},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey[:30], Crypto{}},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey + "AAAA", Crypto{}},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey + "|2^64", Crypto{}},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey + "|0", Crypto{}},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey + "|1:1|2^20", Crypto{}},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey + "|256:1", Crypto{}},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey + "|1:9", Crypto{}},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey + "|1:1|1:1", Crypto{}},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey + "|2^20|2^20", Crypto{}},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey + "|a|b|c", Crypto{}},
	} {
		t.Run(tc.value, func(t *testing.T) {
			got, err := ParseCrypto(tc.value)
			if tc.want.Suite == "" {
				if !errors.Is(err, ErrCrypto) {
					t.Fatalf("read as %v, %v; want ErrCrypto", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.Key == nil {
				tc.want.Key = got.Key // the baresip line: checked by its length
			}
			if got.Tag != tc.want.Tag || got.Suite != tc.want.Suite || !bytes.Equal(got.Key, tc.want.Key) || len(got.Key) != 30 ||
				got.Lifetime != tc.want.Lifetime || !bytes.Equal(got.MKI, tc.want.MKI) {
				t.Errorf("got %d %s lifetime %d MKI %x; want %d %s lifetime %d MKI %x", got.Tag, got.Suite, got.Lifetime, got.MKI,
					tc.want.Tag, tc.want.Suite, tc.want.Lifetime, tc.want.MKI)
			}
			back, err := ParseCrypto(got.Value())
			if err != nil || !equalCrypto(back, got) {
				t.Errorf("%q reads back as %v, %v", got.Value(), back, err)
			}
		})
	}
}

func equalCrypto(a, b Crypto) bool {
	return a.Tag == b.Tag && a.Suite == b.Suite && bytes.Equal(a.Key, b.Key) && a.Lifetime == b.Lifetime && bytes.Equal(a.MKI, b.MKI)
}

// A key never shows in a formatted Crypto: logs and test failures print
// values with %v.
func TestCryptoKeyNotFormatted(t *testing.T) {
	c, err := ParseCrypto("1 AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %q %x", c, c, c, c, c, c), fmt.Sprintf("%v", Stream{Crypto: []Crypto{c}})} {
		if strings.Contains(s, baresipKey[:8]) || strings.Contains(s, fmt.Sprintf("%x", c.Key[:4])) || strings.Contains(s, fmt.Sprint(c.Key[:4])) {
			t.Errorf("the key shows in %q", s)
		}
	}
}

// Offers with and without SRTP under each policy.
func TestNegotiateSRTP(t *testing.T) {
	crypto80 := "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey
	crypto32 := "a=crypto:5 AES_CM_128_HMAC_SHA1_32 inline:" + baresipKey
	gcm := "a=crypto:2 AEAD_AES_256_GCM inline:" + baresipKey
	savp := offer("m=audio 20000 RTP/SAVP 0 101", "a=rtpmap:101 telephone-event/8000", crypto80) // baresip srtp-mand
	bestEffort := offer("m=audio 20000 RTP/AVP 0", crypto32, crypto80)                           // baresip srtp
	plain := offer("m=audio 20000 RTP/AVP 0")
	for _, tc := range []struct {
		name      string
		body      []byte
		policy    SRTP
		wantErr   error
		wantIndex int
		wantTags  []int // the usable keys, in the offer's order
		secure    bool
	}{
		{"SAVP, off", savp, SRTPOff, ErrProfile, 0, nil, false},
		{"SAVP, optional", savp, SRTPOptional, nil, 0, []int{1}, true},
		{"SAVP, required", savp, SRTPRequired, nil, 0, []int{1}, true},
		{"SAVPF, required", offer("m=audio 20000 RTP/SAVPF 0", crypto80), SRTPRequired, nil, 0, []int{1}, true},
		{"best effort, off: plain", bestEffort, SRTPOff, nil, 0, nil, false},
		{"best effort, optional", bestEffort, SRTPOptional, nil, 0, []int{5, 1}, false},
		{"best effort, required", bestEffort, SRTPRequired, nil, 0, []int{5, 1}, false},
		{"plain, off", plain, SRTPOff, nil, 0, nil, false},
		{"plain, optional", plain, SRTPOptional, nil, 0, nil, false},
		{"plain, required", plain, SRTPRequired, ErrProfile, 0, nil, false},
		{"SAVP with no suite we speak", offer("m=audio 20000 RTP/SAVP 0", gcm), SRTPRequired, ErrProfile, 0, nil, false},
		{"SAVP with DTLS", offer("m=audio 20000 UDP/TLS/RTP/SAVP 0", "a=fingerprint:sha-256 00"), SRTPRequired, ErrNoCommonCodec, 0, nil, false},
		{"unusable lines skipped", offer("m=audio 20000 RTP/SAVP 0", gcm, crypto80+" UNENCRYPTED_SRTP", crypto32), SRTPOptional, nil, 0, []int{5}, true},
		{"SAVP then AVP, off: the AVP", offer("m=audio 20000 RTP/SAVP 0", crypto80, "m=audio 20002 RTP/AVP 0"), SRTPOff, nil, 1, nil, false},
		{"AVP then SAVP, required: the SAVP", offer("m=audio 20002 RTP/AVP 0", "m=audio 20000 RTP/SAVP 0", crypto80), SRTPRequired, nil, 1, []int{1}, true},
		{"SAVP then AVP, optional: the first", offer("m=audio 20000 RTP/SAVP 0", crypto80, "m=audio 20002 RTP/AVP 0"), SRTPOptional, nil, 0, []int{1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := NegotiateSRTP(tc.body, true, tc.policy)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !errors.Is(err, ErrNoCommonCodec) {
					t.Fatalf("err = %v, want %v (and ErrNoCommonCodec: 488)", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var tags []int
			for _, c := range st.Crypto {
				tags = append(tags, c.Tag)
			}
			if st.Index != tc.wantIndex || fmt.Sprint(tags) != fmt.Sprint(tc.wantTags) || st.Secure != tc.secure {
				t.Errorf("took m= line %d with keys %v (secure %v); want line %d with %v (secure %v)", st.Index, tags, st.Secure, tc.wantIndex, tc.wantTags, tc.secure)
			}
		})
	}
}

// Our SRTP offer (RTP/SAVP, a key per suite) and our answer to one read
// back as what they say.
func TestDescriptionSRTP(t *testing.T) {
	k1 := Crypto{Tag: 1, Suite: AESCM128SHA1_80, Key: bytes.Repeat([]byte{1}, 30)}
	k2 := Crypto{Tag: 2, Suite: AESCM128SHA1_32, Key: bytes.Repeat([]byte{2}, 30)}
	d := Description{Addr: netip.MustParseAddrPort("127.0.0.1:4000"), SessionID: 1, Version: 1, Codecs: []media.Codec{media.PCMU, media.PCMA},
		EventPT: 101, Direction: SendRecv, Secure: true, Crypto: []Crypto{k1, k2}}
	body := d.Marshal()
	if !bytes.Contains(body, []byte("m=audio 4000 RTP/SAVP 0 8 101\r\n")) || !bytes.Contains(body, []byte("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB\r\n")) {
		t.Fatalf("offer:\n%s", body)
	}
	st, err := NegotiateSRTP(body, true, SRTPRequired)
	if err != nil || len(st.Crypto) != 2 || !equalCrypto(st.Crypto[0], k1) || !equalCrypto(st.Crypto[1], k2) || !st.Secure {
		t.Fatalf("offer read back: %+v %v", st, err)
	}
	if _, err := Negotiate(body, true); !errors.Is(err, ErrProfile) {
		t.Errorf("our SRTP offer read by a plain endpoint: %v, want ErrProfile", err)
	}
	// The best-effort offer of sip.trunk.srtp optional.
	d.Secure, d.Crypto = false, []Crypto{k2}
	if st, err := NegotiateSRTP(d.Marshal(), true, SRTPOptional); err != nil || len(st.Crypto) != 1 || st.Secure {
		t.Errorf("best-effort offer read back: %+v %v", st, err)
	}
	// An answer mirrors the offer's profile.
	answer := Description{Addr: netip.MustParseAddrPort("127.0.0.1:5000"), SessionID: 1, Version: 1, Codecs: []media.Codec{media.PCMU},
		CodecPTs: []uint8{0}, EventPT: -1, Direction: SendRecv, Crypto: []Crypto{k1}, Lines: st.Lines, Index: st.Index}
	answer.Lines[0].Protos = []string{"RTP", "SAVP"}
	if st, err := NegotiateSRTP(answer.Marshal(), true, SRTPRequired); err != nil || !st.Secure || len(st.Crypto) != 1 || !equalCrypto(st.Crypto[0], k1) {
		t.Errorf("answer read back: %+v %v\n%s", st, err, answer.Marshal())
	}
}

// FuzzCrypto: any attribute value either is refused with ErrCrypto or
// reads back from what Value writes as the same key.
func FuzzCrypto(f *testing.F) {
	f.Add("1 AES_CM_128_HMAC_SHA1_80 inline:" + baresipKey)
	f.Add("2 AES_CM_128_HMAC_SHA1_32 inline:" + baresipKey + "|2^31|1:1")
	f.Add("3 AES_CM_128_HMAC_SHA1_32 inline:" + baresipKey + "==|1000|65535:2")
	f.Add("1 AEAD_AES_128_GCM inline:" + baresipKey + " KDR=1")
	f.Fuzz(func(t *testing.T, value string) {
		c, err := ParseCrypto(value)
		if err != nil {
			if !errors.Is(err, ErrCrypto) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if len(c.Key) != c.Suite.KeyLen() || c.Suite.KeyLen() == 0 || len(c.MKI) > maxMKILen {
			t.Fatalf("read %q as a %d-byte key of %s, MKI of %d bytes", value, len(c.Key), c.Suite, len(c.MKI))
		}
		back, err := ParseCrypto(c.Value())
		if err != nil || !equalCrypto(back, c) {
			t.Fatalf("%q reads as %q, which reads back as %v, %v", value, c.Value(), back, err)
		}
	})
}
