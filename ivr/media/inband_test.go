// The in-band DTMF detector on synthesized keypads: every key, noise,
// levels, twist, duration limits, held and repeated keys.

package media

import (
	"math"
	"math/rand/v2"
	"testing"
)

// signal builds test audio piece by piece.
type signal []int16

func (s signal) silence(ms int) signal { return append(s, make([]int16, ms*8)...) }

func (s signal) key(d rune, ms int, amp float64) signal {
	buf := make([]int16, ms*8)
	Tone(buf, d, amp, len(s))
	return append(s, buf...)
}

// twisted is key d with its column tone db decibels above its row tone.
func (s signal) twisted(d rune, ms int, amp, db float64) signal {
	i := -1
	for j := range keypad {
		if rune(keypad[j]) == d {
			i = j
		}
	}
	freqs := dtmfFreqs()
	fr, fc := freqs[i/4], freqs[4+i%4]
	ac := amp * math.Pow(10, db/20)
	for range ms * 8 {
		t := float64(len(s)) / SampleRate
		s = append(s, int16(amp*math.Sin(2*math.Pi*fr*t)+ac*math.Sin(2*math.Pi*fc*t)))
	}
	return s
}

// noisy adds white noise at amp RMS.
func (s signal) noisy(amp float64, seed uint64) signal {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make(signal, len(s))
	for i, x := range s {
		out[i] = int16(max(-32768, min(32767, float64(x)+r.NormFloat64()*amp)))
	}
	return out
}

// throughG711 passes audio through a codec, as it crosses RTP.
func (s signal) throughG711(c Codec) signal {
	b := make([]byte, len(s))
	c.Encode(b, s)
	out := make(signal, len(s))
	c.Decode(out, b)
	return out
}

func detect(s signal, chunk int) string {
	d := NewDetector()
	got := ""
	for len(s) > 0 {
		n := min(chunk, len(s))
		d.Write(s[:n], func(k rune) { got += string(k) })
		s = s[n:]
	}
	return got
}

func TestInbandDetector(t *testing.T) {
	const loud = 6000 // about -15 dBFS per tone
	var all signal
	for _, d := range "0123456789*#ABCD" {
		all = all.key(d, 80, loud).silence(60)
	}
	tests := []struct {
		name string
		in   signal
		want string
	}{
		{"every key", all, "0123456789*#ABCD"},
		{"every key through µ-law", all.throughG711(PCMU), "0123456789*#ABCD"},
		{"every key through A-law", all.throughG711(PCMA), "0123456789*#ABCD"},
		{"noise 20 dB below the tones", signal{}.silence(50).key('5', 100, loud).silence(100).key('9', 100, loud).silence(50).noisy(loud/10, 1), "59"},
		{"noise alone", signal{}.silence(2000).noisy(3000, 2), ""},
		{"quiet keys (-38 dBFS) are too quiet", signal{}.key('1', 200, 300), ""},
		{"faint but valid keys (-30 dBFS)", signal{}.key('1', 100, 1000).silence(50).key('2', 100, 1000), "12"},
		{"held key gives one digit", signal{}.key('7', 2000, loud), "7"},
		{"a 10 ms dropout in a held key", signal{}.key('3', 200, loud).silence(10).key('3', 200, loud), "3"},
		{"same key twice with a 45 ms gap", signal{}.key('3', 100, loud).silence(45).key('3', 100, loud), "33"},
		{"one tone (dial tone, speech formant)", signal{}.twisted('5', 500, loud, -60), ""},
		{"normal twist 7 dB", signal{}.twisted('5', 100, loud, -7), "5"},
		{"normal twist 10 dB is refused", signal{}.twisted('5', 100, loud, -10), ""},
		{"reverse twist 3 dB", signal{}.twisted('5', 100, loud/2, 3), "5"},
		{"reverse twist 6 dB is refused", signal{}.twisted('5', 100, loud/2, 6), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{160, 37, 1000} {
				if got := detect(tt.in, chunk); got != tt.want {
					t.Errorf("in chunks of %d: keys %q, want %q", chunk, got, tt.want)
				}
			}
		})
	}
}

// DTMF receivers must accept tones of 40 ms and refuse those under 23 ms,
// wherever the tone falls against the detector's blocks.
func TestInbandDuration(t *testing.T) {
	for offset := 0; offset < blockSize; offset += 3 {
		lead := make(signal, offset)
		if got := detect(lead.key('8', 40, 6000).silence(100), 160); got != "8" {
			t.Errorf("40 ms tone at offset %d: keys %q, want 8", offset, got)
		}
		if got := detect(lead.key('8', 20, 6000).silence(100), 160); got != "" {
			t.Errorf("20 ms tone at offset %d: keys %q, want none", offset, got)
		}
	}
}

func BenchmarkDetectorPacket(b *testing.B) {
	pcm := signal{}.key('5', 20, 6000)
	d := NewDetector()
	emit := func(rune) {}
	for b.Loop() {
		d.Write(pcm, emit)
	}
}
