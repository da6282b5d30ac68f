// Answering-machine detection on synthesized answers: a person's "hello?",
// recorded greetings, silences, noise on either side of the threshold, and
// (when Debian's asterisk-core-sounds-en-wav is installed) real recorded
// prompts.

package media

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// speech appends a voiced syllable: a 140 Hz glottal buzz (its first
// harmonics, falling off as a voice does) at peak amplitude amp, with 10 ms
// onset and decay ramps.
func (s signal) speech(ms int, amp float64) signal {
	n := ms * 8
	ramp := 80
	for i := range n {
		t := float64(len(s)) / SampleRate
		v := 0.0
		for h := 1; h <= 8; h++ {
			v += math.Sin(2*math.Pi*140*float64(h)*t) / float64(h)
		}
		env := min(1, float64(i)/float64(ramp), float64(n-i)/float64(ramp))
		s = append(s, int16(amp*env*v/2.7))
	}
	return s
}

// words appends n syllables of ms each with gap ms of silence after each.
func (s signal) words(n, ms, gap int) signal {
	for range n {
		s = s.speech(ms, 8000).silence(gap)
	}
	return s
}

// noise appends white noise whose mean absolute amplitude is meanAbs.
func (s signal) noise(ms int, meanAbs float64, seed uint64) signal {
	r := rand.New(rand.NewPCG(seed, 2))
	sigma := meanAbs / math.Sqrt(2/math.Pi)
	for range ms * 8 {
		s = append(s, int16(max(-32768, min(32767, r.NormFloat64()*sigma))))
	}
	return s
}

// amdRun feeds s to a detector in chunks and returns its verdict, or a
// zero result when it has none.
func amdRun(t testing.TB, o AMDOptions, s signal, chunk int) AMDResult {
	t.Helper()
	a, err := NewAMD(o)
	if err != nil {
		t.Fatal(err)
	}
	for len(s) > 0 {
		n := min(chunk, len(s))
		if r, ok := a.Write(s[:n]); ok {
			return r
		}
		s = s[n:]
	}
	r, _ := a.Result()
	return r
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestAMD(t *testing.T) {
	def := DefaultAMDOptions()
	shortWords := def
	shortWords.MaximumWordLength, shortWords.Greeting = ms(1000), ms(3000)
	tests := []struct {
		name  string
		o     AMDOptions
		in    signal
		want  AMDVerdict
		cause string
		after time.Duration
	}{
		{
			// "hel-lo?" (two syllables run together), then waiting.
			name: "a person says hello and waits",
			o:    def, in: signal{}.silence(400).speech(260, 8000).silence(20).speech(300, 8000).silence(3000),
			want: AMDHuman, cause: "HUMAN-800-800", after: ms(400 + 580 + 800),
		},
		{
			name: "a person says hello twice, then waits",
			o:    def, in: signal{}.silence(300).speech(400, 8000).silence(500).speech(300, 6000).silence(2000),
			want: AMDHuman, cause: "HUMAN-800-800", after: ms(300 + 400 + 500 + 300 + 800),
		},
		{
			// "Hi, you've reached … please leave a message": words with gaps.
			name: "a recorded greeting of many words",
			o:    def, in: signal{}.silence(300).words(14, 240, 120),
			want: AMDMachine, cause: "MAXWORDS-3-3", after: ms(300 + 2*360 + 100),
		},
		{
			// Fluent speech whose syllables run together: one long word.
			name: "a recorded greeting spoken without pauses",
			o:    def, in: signal{}.silence(200).words(20, 180, 20),
			want: AMDMachine, cause: "LONGGREETING-1500-1500", after: ms(200 + 8*200 + 60),
		},
		{
			name: "initial silence too long",
			o:    def, in: signal{}.silence(4000).words(3, 300, 200),
			want: AMDMachine, cause: "INITIALSILENCE-2500-2500", after: ms(2500),
		},
		{
			name: "a tone longer than MaximumWordLength",
			o:    shortWords, in: signal{}.silence(200).key('5', 2000, 6000),
			want: AMDMachine, cause: "MAXWORDLENGTH-1000", after: ms(1200),
		},
		{
			// Clicks shorter than a word: never a greeting, never silence
			// long enough: the analysis runs out.
			name: "clicks alone are not sure",
			o:    def, in: signal{}.words(30, 60, 300),
			want: AMDNotSure, cause: "TOOLONG-5000", after: ms(5000),
		},
		{
			name: "noise just under the threshold is silence",
			o:    def, in: signal{}.noise(3000, 0.8*256, 1),
			want: AMDMachine, cause: "INITIALSILENCE-2500-2500", after: ms(2500),
		},
		{
			// Voice from the first frame: no word starts without a silence
			// before it, but it is a greeting all the same.
			name: "noise just over the threshold is voice",
			o:    def, in: signal{}.noise(3000, 1.25*256, 2),
			want: AMDMachine, cause: "LONGGREETING-1500-1500", after: ms(1500),
		},
		{
			name: "the call goes quiet: no verdict until there is one",
			o:    def, in: signal{}.silence(1000),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunk := range []int{SamplesPerPacket, 10 * SamplesPerPacket} {
				r := amdRun(t, tt.o, tt.in, chunk)
				if r.Verdict != tt.want || r.String() != tt.cause || r.After != tt.after {
					t.Errorf("in chunks of %d: %s %q after %v, want %s %q after %v",
						chunk, r.Verdict, r.String(), r.After, tt.want, tt.cause, tt.after)
				}
			}
			for _, c := range []Codec{PCMU, PCMA} {
				a, err := NewAMD(tt.o)
				if err != nil {
					t.Fatal(err)
				}
				pkt := make([]byte, SamplesPerPacket)
				for in := tt.in; len(in) >= SamplesPerPacket; in = in[SamplesPerPacket:] {
					c.Encode(pkt, in[:SamplesPerPacket])
					if _, ok, err := a.Frame(Frame{Codec: c, Payload: pkt}); err != nil || ok {
						break
					}
				}
				if r, _ := a.Result(); r.Verdict != tt.want || r.String() != tt.cause {
					t.Errorf("through %s: %s %q, want %s %q", c.Name(), r.Verdict, r.String(), tt.want, tt.cause)
				}
			}
		})
	}
}

func TestAMDVerdictIsFinal(t *testing.T) {
	a, err := NewAMD(DefaultAMDOptions())
	if err != nil {
		t.Fatal(err)
	}
	first, ok := a.Write(signal{}.silence(300).speech(500, 8000).silence(900))
	if !ok || first.Verdict != AMDHuman {
		t.Fatalf("got %+v, want human", first)
	}
	if r, _ := a.Write(signal{}.words(10, 300, 100)); r != first {
		t.Errorf("after more audio: %+v, want the first verdict %+v", r, first)
	}
	if _, _, err := a.Frame(Frame{Codec: 9, Payload: make([]byte, 160)}); !errors.Is(err, ErrFrame) {
		t.Errorf("a frame of codec 9: %v, want ErrFrame", err)
	}
}

func TestAMDOptionsValidate(t *testing.T) {
	if err := DefaultAMDOptions().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	err := AMDOptions{}.Validate()
	for _, field := range []string{"InitialSilence", "Greeting", "AfterGreetingSilence", "TotalAnalysisTime",
		"MinimumWordLength", "BetweenWordsSilence", "MaximumNumberOfWords", "SilenceThreshold", "MaximumWordLength"} {
		if err == nil || !strings.Contains(err.Error(), field+" is") {
			t.Errorf("zero options: %v does not name %s", err, field)
		}
	}
	o := DefaultAMDOptions()
	o.SilenceThreshold = 40000
	o.TotalAnalysisTime = 2 * time.Minute
	err = o.Validate()
	if err == nil || !strings.Contains(err.Error(), "SilenceThreshold is 40000") || !strings.Contains(err.Error(), "TotalAnalysisTime is 2m0s") ||
		strings.Contains(err.Error(), "Greeting") {
		t.Errorf("bad threshold and analysis time: %v", err)
	}
	if _, err := NewAMD(o); err == nil {
		t.Error("NewAMD accepted bad options")
	}
}

// TestAMDRecordedPrompts runs Asterisk's recorded English prompts, which
// are what a recorded greeting sounds like, through the detector: each,
// after a short silence, is a machine.
func TestAMDRecordedPrompts(t *testing.T) {
	const dir = "/usr/share/asterisk/sounds/en"
	prompts := []string{"vm-intro", "vm-theperson", "tt-weasels", "vm-nobodyavail", "followme/sorry"}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no recorded prompts (Debian's asterisk-core-sounds-en-wav is not installed): %v", err)
	}
	for _, name := range prompts {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, name+".wav"))
			if err != nil {
				t.Skip(err)
			}
			pcm, err := wavSamples(raw)
			if err != nil {
				t.Fatal(err)
			}
			r := amdRun(t, DefaultAMDOptions(), signal{}.silence(300).append(pcm).silence(3000), SamplesPerPacket)
			if r.Verdict != AMDMachine {
				t.Errorf("%s (%v long): %s %s after %v, want machine", name, time.Duration(len(pcm))*time.Second/SampleRate, r.Verdict, r, r.After)
			}
		})
	}
}

func (s signal) append(pcm []int16) signal { return append(s, pcm...) }

// wavSamples returns the samples of an 8 kHz 16-bit mono WAV file.
func wavSamples(b []byte) ([]int16, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errors.New("not a WAV file")
	}
	fmtOK := false
	for b = b[12:]; len(b) >= 8; {
		id, n := string(b[:4]), int(binary.LittleEndian.Uint32(b[4:8]))
		b = b[8:]
		n = min(n, len(b))
		switch id {
		case "fmt ":
			if n < 16 || binary.LittleEndian.Uint16(b[0:]) != 1 || binary.LittleEndian.Uint16(b[2:]) != 1 ||
				binary.LittleEndian.Uint32(b[4:]) != SampleRate || binary.LittleEndian.Uint16(b[14:]) != 16 {
				return nil, errors.New("not 8 kHz 16-bit mono PCM")
			}
			fmtOK = true
		case "data":
			if !fmtOK {
				return nil, errors.New("data before fmt")
			}
			pcm := make([]int16, n/2)
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
			}
			return pcm, nil
		}
		b = b[n+n%2:]
	}
	return nil, errors.New("no data chunk")
}

// BenchmarkAMDFrame is the cost of one 20 ms frame of G.711 in steady
// state (a detector that has not concluded; it restarts when it does).
func BenchmarkAMDFrame(b *testing.B) {
	in := signal{}.silence(300).words(12, 240, 120)
	frames := make([][]byte, len(in)/SamplesPerPacket)
	for i := range frames {
		frames[i] = make([]byte, SamplesPerPacket)
		PCMU.Encode(frames[i], in[i*SamplesPerPacket:(i+1)*SamplesPerPacket])
	}
	o := DefaultAMDOptions()
	o.MaximumNumberOfWords, o.Greeting, o.TotalAnalysisTime = 1000, time.Minute, time.Minute
	a, err := NewAMD(o)
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if _, done, _ := a.Frame(Frame{Codec: PCMU, Payload: frames[i%len(frames)]}); done {
			*a = AMD{}
			if a, err = NewAMD(o); err != nil {
				b.Fatal(err)
			}
		}
		i++
	}
}
