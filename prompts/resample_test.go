package prompts_test

// Tests of the resampler's quality: what is in the telephone band comes out
// at the same frequency and level; what is above 4 kHz does not come back as
// an alias.

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/canvass/canvass/prompts"
)

// amplitude measures the amplitude of freq in x (sampled at rate) with a
// Hann-windowed DFT bin, which leaks little from other frequencies.
func amplitude(x []float64, freq float64, rate int) float64 {
	var re, im, wsum float64
	n := len(x)
	for i, v := range x {
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n-1))
		ph := 2 * math.Pi * freq * float64(i) / float64(rate)
		re += w * v * math.Cos(ph)
		im -= w * v * math.Sin(ph)
		wsum += w
	}
	return 2 * math.Hypot(re, im) / wsum
}

func rms(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s / float64(len(x)))
}

// zeroCrossingFreq estimates the frequency of a clean tone.
func zeroCrossingFreq(x []float64, rate int) float64 {
	first, last, n := -1, -1, 0
	for i := 1; i < len(x); i++ {
		if x[i-1] < 0 && x[i] >= 0 {
			if first < 0 {
				first = i
			}
			last = i
			n++
		}
	}
	return float64(n-1) * float64(rate) / float64(last-first)
}

func tone(freq float64, rate int, seconds, amp float64) []float32 {
	out := make([]float32, int(seconds*float64(rate)))
	for i := range out {
		out[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

// trimmed drops the filter's start and end transients.
func trimmed(x []float32) []float64 {
	const edge = 100
	out := make([]float64, 0, len(x))
	for _, v := range x[edge : len(x)-edge] {
		out = append(out, float64(v))
	}
	return out
}

func db(ratio float64) float64 { return 20 * math.Log10(ratio) }

func TestResampleQuality(t *testing.T) {
	for _, rate := range []int{11025, 16000, 22050, 32000, 44100, 48000, 96000, 192000, 44057} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			const amp = 0.5
			// In band: 1 kHz and 3 kHz come out at their frequency and level.
			for _, f := range []float64{1000, 3000} {
				in := tone(f, rate, 1, amp)
				out := prompts.Resample(in, rate, 8000)
				if want := int(math.Ceil(float64(len(in)) * 8000 / float64(rate))); len(out) != want {
					t.Fatalf("%d samples out, want %d", len(out), want)
				}
				x := trimmed(out)
				got := amplitude(x, f, 8000)
				if math.Abs(db(got/amp)) > 0.05 {
					t.Errorf("%g Hz: amplitude %.5f, want %.2f (off by %.3f dB)", f, got, amp, db(got/amp))
				}
				if zf := zeroCrossingFreq(x, 8000); math.Abs(zf-f) > f*0.002 {
					t.Errorf("%g Hz comes out at %.1f Hz", f, zf)
				}
			}
			// Above the band: a tone that naive decimation would fold back
			// into the band must be gone.
			f := 6000.0
			if rate < 2*6000 {
				f = 5000
			}
			out := trimmed(prompts.Resample(tone(f, rate, 1, amp), rate, 8000))
			att := db(rms(out) / (amp / math.Sqrt2))
			t.Logf("%d Hz: %g Hz attenuated by %.1f dB", rate, f, -att)
			if att > -60 {
				t.Errorf("%g Hz tone attenuated by only %.1f dB; want at least 60 (aliasing)", f, -att)
			}
		})
	}
}

// TestResampleNyquistEdge: between 4 and 4.6 kHz a tone may only alias to
// 3.4–4 kHz, out of the telephone band; at 4.2 kHz it must already be far
// down.
func TestResampleNyquistEdge(t *testing.T) {
	out := trimmed(prompts.Resample(tone(4200, 44100, 1, 0.5), 44100, 8000))
	if att := db(rms(out) / (0.5 / math.Sqrt2)); att > -60 {
		t.Errorf("4.2 kHz attenuated by only %.1f dB", -att)
	}
}

// TestConvertQuality is the end-to-end check of the brief: a 1 kHz sine in
// a 44.1 kHz WAV comes out at 1 kHz with its amplitude, and a 6 kHz tone at
// 48 kHz is at least 40 dB down.
func TestConvertQuality(t *testing.T) {
	convert := func(freq float64, rate int) []float64 {
		b := pcm16(1, rate).build(t, sine(freq, rate, 1, 1, 0.5, false))
		pcm, _, err := prompts.ConvertWAV(bytes.NewReader(b), 0)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float64, 0, len(pcm))
		for _, s := range pcm[100 : len(pcm)-100] {
			x = append(x, float64(s)/32768)
		}
		return x
	}
	x := convert(1000, 44100)
	if got := amplitude(x, 1000, 8000); math.Abs(db(got/0.5)) > 0.05 {
		t.Errorf("1 kHz at 44.1 kHz: amplitude %.4f, want 0.5", got)
	}
	if zf := zeroCrossingFreq(x, 8000); math.Abs(zf-1000) > 2 {
		t.Errorf("1 kHz at 44.1 kHz comes out at %.1f Hz", zf)
	}
	y := convert(6000, 48000)
	if att := db(rms(y) / (0.5 / math.Sqrt2)); att > -40 {
		t.Errorf("6 kHz at 48 kHz attenuated by only %.1f dB; want at least 40", -att)
	}
}

// BenchmarkResample44k converts 10 s of 44.1 kHz audio to 8 kHz.
func BenchmarkResample44k(b *testing.B) {
	in := tone(1000, 44100, 10, 0.5)
	b.SetBytes(int64(len(in)) * 2) // as 16-bit input
	for b.Loop() {
		prompts.Resample(in, 44100, 8000)
	}
}

// BenchmarkConvert44kStereo decodes, mixes down and resamples 10 s of a
// 44.1 kHz stereo 16-bit WAV, as an upload is.
func BenchmarkConvert44kStereo(b *testing.B) {
	wav := pcm16(2, 44100).build(b, sine(1000, 44100, 2, 10, 0.5, false))
	b.SetBytes(int64(len(wav)))
	for b.Loop() {
		if _, _, err := prompts.ConvertWAV(bytes.NewReader(wav), 0); err != nil {
			b.Fatal(err)
		}
	}
}
