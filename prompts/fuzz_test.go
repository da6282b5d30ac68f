package prompts_test

// FuzzDecode feeds the WAV decoder arbitrary bytes: it must never panic or
// hang, every refusal must be a user-facing ErrFormat (the input is in
// memory, so there are no I/O errors to excuse), and whatever it accepts
// must be sane audio that converts. Crashers live in testdata/fuzz/.

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/canvass/canvass/prompts"
	"github.com/canvass/canvass/survey"
)

func FuzzDecode(f *testing.F) {
	short := sine(440, 8000, 1, 0.01, 0.5, false)
	for _, s := range []wavSpec{
		{tag: 1, channels: 1, rate: 8000, bits: 8, dataSize: -1},
		pcm16(2, 44100),
		{tag: 1, channels: 1, rate: 48000, bits: 24, dataSize: -1},
		{tag: 1, channels: 3, rate: 16000, bits: 32, dataSize: -1},
		{tag: 3, channels: 1, rate: 22050, bits: 32, dataSize: -1},
		{tag: 3, channels: 2, rate: 96000, bits: 64, dataSize: -1},
		{tag: 6, channels: 1, rate: 8000, bits: 8, dataSize: -1},
		{tag: 7, channels: 1, rate: 8000, bits: 8, dataSize: 0xFFFFFFFF},
		{tag: 0xFFFE, sub: 1, channels: 2, rate: 48000, bits: 32, validBits: 24, dataSize: -1},
		{tag: 0xFFFE, sub: 3, channels: 1, rate: 44057, bits: 32, dataSize: -1},
		{tag: 1, channels: 1, rate: 8000, bits: 16, dataSize: -1, between: [][]byte{chunk("LIST", []byte("INFOabc"))}},
	} {
		f.Add(s.build(f, short))
	}
	f.Add([]byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"))
	f.Add([]byte("ID3\x04"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := prompts.DecodeWAV(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, prompts.ErrFormat) || survey.ErrorCodeOf(err) != survey.EInvalid {
				t.Fatalf("refusal %q is not a user-facing ErrFormat", err)
			}
			return
		}
		if a.Channels < 1 || a.SampleRate < prompts.MinSampleRate || a.SampleRate > prompts.MaxSampleRate {
			t.Fatalf("accepted an absurd format %+v", a.Format)
		}
		if len(a.Samples)%a.Channels != 0 || int64(len(a.Samples)/a.Channels) != a.Frames {
			t.Fatalf("%d samples for %d frames of %d channels", len(a.Samples), a.Frames, a.Channels)
		}
		for _, x := range a.Samples {
			if math.IsNaN(float64(x)) || x < -1 || x > 1 {
				t.Fatalf("sample %v out of range", x)
			}
		}
		pcm, info, err := prompts.ConvertWAV(bytes.NewReader(b), time.Minute)
		if err != nil {
			if errors.Is(err, prompts.ErrTooLong) {
				return
			}
			t.Fatalf("decoded but does not convert: %v", err)
		}
		if want := int((a.Frames*8000 + int64(a.SampleRate) - 1) / int64(a.SampleRate)); len(pcm) != want {
			t.Fatalf("%d frames at %d Hz gave %d samples at 8 kHz, want %d", a.Frames, a.SampleRate, len(pcm), want)
		}
		if info.Channels != a.Channels || info.SampleRate != a.SampleRate {
			t.Fatalf("info %+v does not match the format %+v", info, a.Format)
		}
	})
}
