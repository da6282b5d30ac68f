package media

// This file is G.711 (ITU-T G.711, the public-domain Sun reference
// algorithms): 16-bit linear PCM to and from 8-bit µ-law (PCMU, payload
// type 0) and A-law (PCMA, payload type 8), one sample at a time, with no
// tables, so that nothing is shared and nothing allocates.

// Codec is one of the two G.711 laws.
type Codec uint8

// The G.711 codecs, numbered by their static RTP payload types.
const (
	PCMU Codec = 0
	PCMA Codec = 8
)

// SamplesPerPacket is 20 ms at 8 kHz: the one packet size Canvass sends.
const SamplesPerPacket = 160

// SampleRate is G.711's clock rate.
const SampleRate = 8000

// Name is the codec's SDP encoding name.
func (c Codec) Name() string {
	if c == PCMA {
		return "PCMA"
	}
	return "PCMU"
}

// PayloadType is the codec's static RTP payload type.
func (c Codec) PayloadType() uint8 { return uint8(c) }

// Silence is the code of a zero sample.
func (c Codec) Silence() byte {
	if c == PCMA {
		return 0xD5
	}
	return 0xFF
}

// Encode writes len(src) codes into dst, which must be at least as long.
func (c Codec) Encode(dst []byte, src []int16) {
	dst = dst[:len(src)]
	if c == PCMA {
		for i, s := range src {
			dst[i] = AlawEncode(s)
		}
		return
	}
	for i, s := range src {
		dst[i] = MulawEncode(s)
	}
}

// Decode writes len(src) samples into dst, which must be at least as long.
func (c Codec) Decode(dst []int16, src []byte) {
	dst = dst[:len(src)]
	if c == PCMA {
		for i, b := range src {
			dst[i] = AlawDecode(b)
		}
		return
	}
	for i, b := range src {
		dst[i] = MulawDecode(b)
	}
}

const (
	ulawBias = 0x84
	ulawClip = 32635
)

// MulawEncode codes one sample in µ-law.
func MulawEncode(s int16) byte {
	x := int(s)
	sign := 0
	if x < 0 {
		x, sign = -x, 0x80
	}
	x = min(x, ulawClip) + ulawBias
	exp := 7
	for mask := 0x4000; x&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (x >> (exp + 3)) & 0x0F
	return ^byte(sign | exp<<4 | mant)
}

// MulawDecode expands one µ-law code.
func MulawDecode(u byte) int16 {
	u = ^u
	exp := int(u>>4) & 7
	x := ((int(u&0x0F) << 3) + ulawBias) << exp
	x -= ulawBias
	if u&0x80 != 0 {
		return int16(-x)
	}
	return int16(x)
}

// AlawEncode codes one sample in A-law.
func AlawEncode(s int16) byte {
	pcm := int(s) >> 3 // A-law works on 13 bits
	mask := 0xD5
	if pcm < 0 {
		mask, pcm = 0x55, -pcm-1
	}
	seg := 0
	for end := 0x1F; seg < 8 && pcm > end; end = end<<1 | 1 {
		seg++
	}
	if seg >= 8 {
		return byte(0x7F ^ mask)
	}
	a := seg << 4
	if seg < 2 {
		a |= (pcm >> 1) & 0x0F
	} else {
		a |= (pcm >> seg) & 0x0F
	}
	return byte(a ^ mask)
}

// AlawDecode expands one A-law code.
func AlawDecode(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0F) << 4
	switch seg := int(a&0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t = (t + 0x108) << (seg - 1)
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// Transcode writes src, coded in from, into dst coded in to; dst must be
// at least as long. The same law is copied as is.
func Transcode(dst []byte, to Codec, src []byte, from Codec) {
	switch {
	case to == from:
		copy(dst, src)
	case from == PCMA:
		for i, b := range src {
			dst[i] = MulawEncode(AlawDecode(b))
		}
	default:
		for i, b := range src {
			dst[i] = AlawEncode(MulawDecode(b))
		}
	}
}
