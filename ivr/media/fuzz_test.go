// Fuzz targets for the parsers of untrusted input: in-band audio,
// telephone-events and the audio answering-machine detection hears.
// `make fuzz` runs them; crashers go to testdata/fuzz/.

package media

import (
	"bytes"
	"testing"
	"time"
)

// FuzzInband: any audio gives the same keys however it is cut into
// packets, and no more keys than two blocks of tone each could make.
func FuzzInband(f *testing.F) {
	f.Add(toBytes(signal{}.key('5', 100, 6000).silence(50).key('#', 60, 9000)), uint8(160))
	f.Add(toBytes(signal{}.silence(30).noisy(8000, 1)), uint8(7))
	f.Add([]byte{0xff, 0x7f, 0x00, 0x80}, uint8(1))
	f.Fuzz(func(t *testing.T, raw []byte, chunk uint8) {
		s := make(signal, len(raw)/2)
		for i := range s {
			s[i] = int16(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8)
		}
		whole := detect(s, len(s)+1)
		if cut := detect(s, int(chunk)+1); cut != whole {
			t.Fatalf("keys %q in one piece, %q in chunks of %d", whole, cut, int(chunk)+1)
		}
		if n := len(whole); n > len(s)/(2*blockSize)+1 {
			t.Fatalf("%d keys from %d samples", n, len(s))
		}
		for _, k := range whole {
			if _, ok := DigitEvent(k); !ok {
				t.Fatalf("key %q is not a keypad key", k)
			}
		}
	})
}

// FuzzEvents: any sequence of telephone-event packets gives at most one key
// per distinct timestamp.
func FuzzEvents(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 5, 0x0a, 0, 160, 0, 0, 0, 1, 5, 0x8a, 3, 0x20})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var r EventReceiver
		keys := 0
		stamps := map[uint32]bool{}
		for len(raw) >= 8 {
			ts := uint32(raw[0])<<24 | uint32(raw[1])<<16 | uint32(raw[2])<<8 | uint32(raw[3])
			stamps[ts] = true
			if raw[4]&1 == 0 {
				r.Packet(ts, raw[4:8], func(rune) { keys++ })
			} else {
				r.Audio(ts, func(rune) { keys++ })
			}
			raw = raw[8:]
		}
		if keys > len(stamps) {
			t.Fatalf("%d keys from %d event timestamps", keys, len(stamps))
		}
	})
}

func toBytes(s signal) []byte {
	b := make([]byte, 2*len(s))
	for i, x := range s {
		b[2*i], b[2*i+1] = byte(x), byte(uint16(x)>>8)
	}
	return b
}

// FuzzRoomRepacketize: however a source cuts its audio into packets, a
// listener is passed the same codes, in 20 ms frames, in order.
func FuzzRoomRepacketize(f *testing.F) {
	f.Add(bytes.Repeat([]byte{80, 240}, 4))
	f.Add([]byte{160, 1, 159, 255, 65})
	f.Fuzz(func(t *testing.T, sizes []byte) {
		r := newRoom()
		defer r.Close()
		src := &party{}
		total := 0
		for _, n := range sizes {
			total += int(n)
		}
		dst := &party{out: make(chan outFrame, total/SamplesPerPacket+1)}
		src.view.Store(&sourceView{pass: []*party{dst}})
		var sent []byte
		for i, n := range sizes {
			p := make([]byte, n)
			for k := range p {
				p[k] = byte(i + k)
			}
			sent = append(sent, p...)
			r.received(src, Frame{Codec: PCMA, Payload: p})
		}
		var got []byte
		for len(dst.out) > 0 {
			f := <-dst.out
			if f.codec != PCMA {
				t.Fatalf("passed in %s", f.codec.Name())
			}
			got = append(got, f.payload[:]...)
		}
		if whole := len(sent) / SamplesPerPacket * SamplesPerPacket; !bytes.Equal(got, sent[:whole]) {
			t.Fatalf("passed %d codes, not the first %d of the %d sent", len(got), whole, len(sent))
		}
	})
}

// FuzzAMD: any audio, cut into any frames, under any sound options, gives
// no panic, a verdict once TotalAnalysisTime of audio is heard and never
// later than the 20 ms piece that reaches it, the same verdict however the
// audio is cut into whole 20 ms frames, and a cause that goes with it.
func FuzzAMD(f *testing.F) {
	// At 10 % of app_amd's durations, 500 ms of audio reaches every rule.
	f.Add(toBytes(signal{}.silence(30).words(10, 40, 20)), uint16(160), uint16(9), uint16(256))
	f.Add(toBytes(signal{}.silence(40).speech(60, 8000).silence(100)), uint16(37), uint16(9), uint16(256))
	f.Add(toBytes(signal{}.noise(600, 300, 1)), uint16(1000), uint16(9), uint16(1))
	f.Fuzz(func(t *testing.T, raw []byte, chunk, scale, threshold uint16) {
		s := make(signal, len(raw)/2)
		for i := range s {
			s[i] = int16(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8)
		}
		// Shrink app_amd's durations (scale %) so that short inputs reach
		// every rule, TotalAnalysisTime included.
		o := DefaultAMDOptions()
		k := time.Duration(scale%100 + 1)
		o.InitialSilence, o.Greeting, o.AfterGreetingSilence = o.InitialSilence*k/100, o.Greeting*k/100, o.AfterGreetingSilence*k/100
		o.TotalAnalysisTime, o.MaximumWordLength = o.TotalAnalysisTime*k/100, o.MaximumWordLength*k/100
		o.MinimumWordLength, o.BetweenWordsSilence = max(time.Millisecond, o.MinimumWordLength*k/100), max(time.Millisecond, o.BetweenWordsSilence*k/100)
		o.SilenceThreshold = int(threshold%32767) + 1
		r := amdRun(t, o, s, int(chunk)%4000+1)
		heard := time.Duration(len(s)) * time.Second / SampleRate
		switch {
		case r.Verdict == "" && heard >= o.TotalAnalysisTime:
			t.Fatalf("no verdict after %v of audio (TotalAnalysisTime %v)", heard, o.TotalAnalysisTime)
		case r.After >= o.TotalAnalysisTime+20*time.Millisecond:
			t.Fatalf("verdict %s after %v, past TotalAnalysisTime %v", r, r.After, o.TotalAnalysisTime)
		case r.After > heard:
			t.Fatalf("verdict %s after %v, from %v of audio", r, r.After, heard)
		}
		want := map[AMDCause]AMDVerdict{"": "", AMDTooLong: AMDNotSure, AMDAfterGreeting: AMDHuman, AMDInitialSilence: AMDMachine,
			AMDLongGreeting: AMDMachine, AMDMaxWordLength: AMDMachine, AMDMaxWords: AMDMachine}
		if v, ok := want[r.Cause]; !ok || v != r.Verdict {
			t.Fatalf("verdict %q with cause %q", r.Verdict, r.Cause)
		}
		if whole := amdRun(t, o, s, SamplesPerPacket*(int(chunk)%7+1)); whole != amdRun(t, o, s, SamplesPerPacket) {
			t.Fatalf("frames of %d samples: %+v, of 160: %+v", SamplesPerPacket*(int(chunk)%7+1), whole, amdRun(t, o, s, SamplesPerPacket))
		}
	})
}
