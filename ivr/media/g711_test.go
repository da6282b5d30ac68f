// G.711 against reference values from sox.

package media

import "testing"

// Reference values from sox 14.4 (`sox -D … -e u-law` / `-e a-law`). The
// encoders follow the Sun reference code (g711.c), which truncates to 13
// bits by an arithmetic shift: sox rounds small negative A-law samples one
// step differently (-100 gives 0x50 there), which is inaudible.
func TestG711Vectors(t *testing.T) {
	mulaw := []struct {
		in   int16
		code byte
	}{{0, 0xFF}, {100, 0xF2}, {-100, 0x72}, {1000, 0xCE}, {-1000, 0x4E}, {4000, 0xAF}, {-4000, 0x2F},
		{12345, 0x97}, {-12345, 0x17}, {32767, 0x80}, {-32768, 0x00}, {32635, 0x80}, {31000, 0x81}}
	for _, v := range mulaw {
		if got := MulawEncode(v.in); got != v.code {
			t.Errorf("µ-law encode %d = %#02x, want %#02x", v.in, got, v.code)
		}
	}
	alaw := []struct {
		in   int16
		code byte
	}{{0, 0xD5}, {8, 0xD5}, {-8, 0x55}, {100, 0xD3}, {-100, 0x53}, {1000, 0xFA}, {-1000, 0x7A}, {4000, 0x9A},
		{-4000, 0x1A}, {12345, 0xBD}, {-12345, 0x3D}, {32767, 0xAA}, {-32768, 0x2A}, {31000, 0xAB}, {-31000, 0x2B}}
	for _, v := range alaw {
		if got := AlawEncode(v.in); got != v.code {
			t.Errorf("A-law encode %d = %#02x, want %#02x", v.in, got, v.code)
		}
	}
	decoded := []struct {
		code  byte
		mulaw int16
		alaw  int16
	}{{0x00, -32124, -5504}, {0x0F, -16764, -6784}, {0x7F, 0, -848}, {0x80, 32124, 5504}, {0xFF, 0, 848},
		{0x2A, -5372, -32256}, {0x55, -716, -8}, {0xD5, 716, 8}, {0xAA, 5372, 32256}}
	for _, v := range decoded {
		if got := MulawDecode(v.code); got != v.mulaw {
			t.Errorf("µ-law decode %#02x = %d, want %d", v.code, got, v.mulaw)
		}
		if got := AlawDecode(v.code); got != v.alaw {
			t.Errorf("A-law decode %#02x = %d, want %d", v.code, got, v.alaw)
		}
	}
	// Every code, weighted by position: sox's tables sum to these.
	var su, sa int
	for i := 0; i < 256; i++ {
		su += int(MulawDecode(byte(i))) * (i + 1)
		sa += int(AlawDecode(byte(i))) * (i + 1)
	}
	if su != 98107392 || sa != 100139008 {
		t.Errorf("decode tables differ from sox's: weighted sums %d, %d", su, sa)
	}
}

// Encoding a decoded code gives the code back, and any sample comes back
// within half a quantization step.
func TestG711RoundTrip(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		for i := 0; i < 256; i++ {
			b := byte(i)
			if c == PCMU && b == 0x7F { // µ-law has two zeros; 0 encodes as 0xFF
				continue
			}
			var out [1]byte
			var s [1]int16
			c.Decode(s[:], []byte{b})
			c.Encode(out[:], s[:])
			if out[0] != b {
				t.Errorf("%s: code %#02x decodes to %d, which encodes to %#02x", c.Name(), b, s[0], out[0])
			}
		}
		for x := -32768; x <= 32767; x += 7 {
			in := []int16{int16(x)}
			var code [1]byte
			var back [1]int16
			c.Encode(code[:], in)
			c.Decode(back[:], code[:])
			// The step is 1/16 of the segment's magnitude: error ≤ ~3.2%.
			if d := abs(int(back[0]) - x); d > 16+abs(x)/30 {
				t.Fatalf("%s: %d comes back as %d", c.Name(), x, back[0])
			}
		}
		if sil := []byte{c.Silence()}; c == PCMU && MulawDecode(sil[0]) != 0 || c == PCMA && abs(int(AlawDecode(sil[0]))) > 8 {
			t.Errorf("%s: silence code %#02x is not silent", c.Name(), sil[0])
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func BenchmarkEncodePacket(b *testing.B) {
	var pcm [SamplesPerPacket]int16
	Tone(pcm[:], '5', 8000, 0)
	var out [SamplesPerPacket]byte
	for b.Loop() {
		PCMU.Encode(out[:], pcm[:])
	}
}

// Transcoding between the laws is decoding and encoding again: a frame of
// speech keeps its samples within G.711's quantization.
func TestTranscode(t *testing.T) {
	pcm := make([]int16, SamplesPerPacket)
	Tone(pcm, '5', 8000, 0)
	for _, tt := range []struct{ from, to Codec }{{PCMU, PCMA}, {PCMA, PCMU}, {PCMU, PCMU}, {PCMA, PCMA}} {
		src := make([]byte, len(pcm))
		tt.from.Encode(src, pcm)
		dst := make([]byte, len(src))
		Transcode(dst, tt.to, src, tt.from)
		want := make([]byte, len(pcm))
		in := make([]int16, len(pcm))
		tt.from.Decode(in, src)
		tt.to.Encode(want, in)
		if string(dst) != string(want) {
			t.Errorf("%s to %s: %x, want %x", tt.from.Name(), tt.to.Name(), dst, want)
		}
	}
}
