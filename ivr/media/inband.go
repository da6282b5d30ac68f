package media

// This file detects DTMF keys in decoded audio (in-band, for peers that do
// not send RFC 4733 events). Each block of 105 samples (13 ms) goes through
// eight Goertzel filters, one per DTMF frequency; a block holds a key when
// the strongest row and column tones are both loud enough, clearly ahead of
// the other tones of their group, within the twist limits, and together
// carry most of the block's energy. A key is reported once, after two
// consecutive blocks agree (a tone of 40 ms or more always gives two; one of
// 20 ms never does), and the detector waits for two blocks without it before
// the same key can count again, so a held key gives one digit.

import "math"

const (
	blockSize = 105
	// A tone must reach this amplitude (about -38 dBFS).
	minAmplitude = 400
	// Row (low-group) tone stronger than column by at most 8 dB ("normal"
	// twist), column stronger than row by at most 4 dB ("reverse" twist).
	normalTwist  = 6.31 // 10^(8/10)
	reverseTwist = 2.51 // 10^(4/10)
	// Every other tone of a group must be this far (8 dB) below its peak.
	relativePeak = 6.31
	// The two tones must carry this share of the block's energy; a block
	// only partly filled by a tone carries about its filled share, which is
	// how tones shorter than two blocks are refused.
	minToneShare = 0.8
	hitsToReport = 2
	missesToEnd  = 2
)

// dtmfFreqs are the row (low group) then column (high group) tones.
func dtmfFreqs() [8]float64 { return [8]float64{697, 770, 852, 941, 1209, 1336, 1477, 1633} }

const keypad = "123A456B789C*0#D"

// Detector finds DTMF keys in 8 kHz audio. The zero value is not ready:
// use NewDetector.
type Detector struct {
	coef     [8]float64
	s1, s2   [8]float64
	energy   float64
	n        int
	cand     byte // digit seen in the last blocks, 0 for none
	candHits int
	down     byte // digit reported and not yet released
	misses   int
}

// NewDetector returns a detector for 8 kHz audio.
func NewDetector() *Detector {
	d := &Detector{}
	for i, f := range dtmfFreqs() {
		d.coef[i] = 2 * math.Cos(2*math.Pi*f/SampleRate)
	}
	return d
}

// Write feeds samples and calls emit for each key that starts in them.
func (d *Detector) Write(samples []int16, emit func(rune)) {
	for _, s := range samples {
		x := float64(s)
		d.energy += x * x
		for i := range d.coef {
			s0 := x + d.coef[i]*d.s1[i] - d.s2[i]
			d.s2[i], d.s1[i] = d.s1[i], s0
		}
		d.n++
		if d.n == blockSize {
			d.block(emit)
		}
	}
}

// block classifies one full block and runs the key state machine.
func (d *Detector) block(emit func(rune)) {
	var p [8]float64
	for i := range p {
		p[i] = d.s1[i]*d.s1[i] + d.s2[i]*d.s2[i] - d.coef[i]*d.s1[i]*d.s2[i]
	}
	digit := classify(&p, d.energy)
	d.s1, d.s2, d.energy, d.n = [8]float64{}, [8]float64{}, 0, 0

	if digit != 0 && digit == d.cand {
		d.candHits++
	} else {
		d.cand, d.candHits = digit, 0
		if digit != 0 {
			d.candHits = 1
		}
	}
	if d.down != 0 {
		if digit == d.down {
			d.misses = 0
			return
		}
		if d.misses++; d.misses < missesToEnd {
			return
		}
		d.down = 0
	}
	if d.cand != 0 && d.candHits >= hitsToReport {
		d.down, d.misses = d.cand, 0
		emit(rune(d.cand))
	}
}

// classify returns the key a block holds, or 0. p holds the Goertzel
// powers |X(f)|², energy the sum of squared samples.
func classify(p *[8]float64, energy float64) byte {
	row, col := 0, 4
	for i := 1; i < 4; i++ {
		if p[i] > p[row] {
			row = i
		}
		if p[4+i] > p[col] {
			col = 4 + i
		}
	}
	// A tone of amplitude A gives |X|² = (A·N/2)².
	const minPower = (minAmplitude * blockSize / 2) * (minAmplitude * blockSize / 2)
	pr, pc := p[row], p[col]
	if pr < minPower || pc < minPower || pr > pc*normalTwist || pc > pr*reverseTwist {
		return 0
	}
	for i := 0; i < 4; i++ {
		if i != row && p[i]*relativePeak > pr || 4+i != col && p[4+i]*relativePeak > pc {
			return 0
		}
	}
	// Mean square of a tone is 2|X|²/N²; of the block, energy/N.
	if 2*(pr+pc)/blockSize < minToneShare*energy {
		return 0
	}
	return keypad[row*4+col-4]
}

// Tone synthesizes the DTMF tone of digit d: n samples with each of its two
// frequencies at amplitude amp, starting at phase sample offset.
func Tone(dst []int16, d rune, amp float64, offset int) bool {
	i := -1
	for j := 0; j < len(keypad); j++ {
		if rune(keypad[j]) == d || d >= 'a' && d <= 'd' && rune(keypad[j]) == d-'a'+'A' {
			i = j
		}
	}
	if i < 0 {
		return false
	}
	freqs := dtmfFreqs()
	fr, fc := freqs[i/4], freqs[4+i%4]
	for k := range dst {
		t := float64(offset+k) / SampleRate
		v := amp * (math.Sin(2*math.Pi*fr*t) + math.Sin(2*math.Pi*fc*t))
		dst[k] = int16(max(-32768, min(32767, v)))
	}
	return true
}
