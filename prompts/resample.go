package prompts

// This file is the resampler that brings any source rate down to the 8 kHz
// of the telephone network: a polyphase FIR whose taps are a Kaiser-windowed
// sinc low-pass, so that what lies above the new Nyquist frequency is
// filtered out instead of folding back as aliases (naive decimation would
// turn a 6 kHz hiss into a 2 kHz whistle). It streams, so a long upload is
// never held whole as floats.

import "math"

// Filter design, for output at 8 kHz: flat to 3.25 kHz, −6 dB at 3.6 kHz,
// at least 80 dB down from 3.95 kHz. Energy between 4 and 4.6 kHz could
// only alias into 3.4–4 kHz, above the telephone band.
const (
	cutoffHz     = 3600.0
	transitionHz = 700.0
	stopbandDB   = 80.0
	// maxPhases bounds the polyphase table when the rates have no useful
	// common divisor (44 057 Hz, say): the output instants are then rounded
	// to 1/maxPhases of an input sample, an error near −70 dB.
	maxPhases = 1024
)

// resampler converts a mono stream from one rate to another (in practice,
// down to 8 kHz).
// Output n is centred on input position n·from/to (no delay).
type resampler struct {
	passthrough bool
	num, den    int64 // input advance per output is num/den samples
	phases      int64
	taps        int
	half        int
	table       []float32 // phases rows of taps weights

	hist []float32 // pending input; hist[0] is input index base
	base int64
	in   int64 // inputs received
	next int64 // next output index
}

// newResampler designs the filter for from → to.
func newResampler(from, to int) *resampler {
	if from == to {
		return &resampler{passthrough: true}
	}
	g := gcd(from, to)
	r := &resampler{num: int64(from / g), den: int64(to / g)}
	r.phases = min(r.den, maxPhases)
	// Kaiser's estimates: length from the attenuation and the transition
	// width, β from the attenuation.
	fs := float64(from)
	n := (stopbandDB - 8) / (2.285 * 2 * math.Pi * transitionHz / fs)
	r.half = int(math.Ceil(n / 2))
	r.taps = 2 * r.half
	beta := 0.1102 * (stopbandDB - 8.7)
	fc := math.Min(cutoffHz, 0.45*float64(min(from, to))) / fs // cycles per input sample
	r.table = make([]float32, int(r.phases)*r.taps)
	i0b := besselI0(beta)
	w := make([]float64, r.taps)
	for p := range int(r.phases) {
		frac := float64(p) / float64(r.phases)
		sum := 0.0
		for j := range r.taps {
			// Tap j weighs input i0-half+1+j for an output at i0+frac.
			d := frac + float64(r.half-1-j)
			x := d / float64(r.half)
			win := 0.0
			if x > -1 && x < 1 {
				win = besselI0(beta*math.Sqrt(1-x*x)) / i0b
			}
			w[j] = 2 * fc * sinc(2*fc*d) * win
			sum += w[j]
		}
		row := r.table[p*r.taps : (p+1)*r.taps]
		for j := range row {
			row[j] = float32(w[j] / sum) // unity gain at DC for every phase
		}
	}
	r.hist = make([]float32, r.half, r.half+8192)
	r.base = -int64(r.half) // zeros before the first sample
	return r
}

// process consumes in and appends the outputs it makes possible to out.
func (r *resampler) process(out, in []float32) []float32 {
	if r.passthrough {
		return append(out, in...)
	}
	r.hist = append(r.hist, in...)
	r.in += int64(len(in))
	out = r.emit(out, r.in*r.den)
	// Drop input no later output needs.
	i0, _ := r.position(r.next)
	if drop := i0 - int64(r.half) + 1 - r.base; drop > 0 {
		drop = min(drop, int64(len(r.hist)))
		n := copy(r.hist, r.hist[drop:])
		r.hist = r.hist[:n]
		r.base += drop
	}
	return out
}

// flush appends the outputs that need input past the end (taken as silence).
func (r *resampler) flush(out []float32) []float32 {
	if r.passthrough {
		return out
	}
	r.hist = append(r.hist, make([]float32, r.half+1)...)
	return r.emit(out, r.in*r.den)
}

// emit computes outputs while their input is present and they start before
// limit/den input samples (the end of the input).
func (r *resampler) emit(out []float32, limit int64) []float32 {
	end := r.base + int64(len(r.hist))
	for r.next*r.num < limit {
		i0, p := r.position(r.next)
		if i0+int64(r.half) >= end {
			break
		}
		start := i0 - int64(r.half) + 1 - r.base
		out = append(out, dot(r.hist[start:start+int64(r.taps)], r.table[p*r.taps:(p+1)*r.taps]))
		r.next++
	}
	return out
}

// position returns the input index an output starts from and its phase row.
func (r *resampler) position(n int64) (int64, int) {
	x := n * r.num
	i0, rem := x/r.den, x%r.den
	if r.phases == r.den {
		return i0, int(rem)
	}
	p := (rem*r.phases + r.den/2) / r.den
	if p == r.phases {
		return i0 + 1, 0
	}
	return i0, int(p)
}

func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Resample converts mono samples from one rate to another through the
// catalog's telephone-band low-pass (−6 dB at 3.6 kHz); it is made for
// bringing any rate down to 8 kHz.
func Resample(in []float32, from, to int) []float32 {
	r := newResampler(from, to)
	out := make([]float32, 0, int64(len(in))*int64(to)/int64(from)+1)
	return r.flush(r.process(out, in))
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the modified Bessel function of the first kind, order 0, by
// its power series (converges fast for the β used here).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 200; k++ {
		term *= (x / (2 * float64(k))) * (x / (2 * float64(k)))
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
