package prompts_test

// Tests of the WAV codec: every encoding the decoder claims, the files it
// must refuse (with a message a user can act on), and the encoder.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/prompts"
	"github.com/canvass/canvass/survey"
)

// wavSpec describes a WAV to build for a test.
type wavSpec struct {
	tag        uint16 // format tag; 0xFFFE writes WAVE_FORMAT_EXTENSIBLE around sub
	sub        uint16 // sub-format of an extensible file
	channels   int
	rate       int
	bits       int
	validBits  int      // extensible only; 0 = bits
	before     [][]byte // chunks (id+size+body) before fmt
	between    [][]byte // chunks between fmt and data
	after      [][]byte // chunks after data
	dataSize   int64    // -1 = the real size; otherwise written as is
	blockAlign int      // 0 = computed
}

// chunk builds a RIFF chunk with its pad byte.
func chunk(id string, body []byte) []byte {
	b := append([]byte(id), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(body)))
	b = append(b, body...)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// build writes frames (interleaved, full scale ±1) in the spec's format.
func (s wavSpec) build(t testing.TB, frames []float64) []byte {
	t.Helper()
	enc := s.tag
	if enc == 0xFFFE {
		enc = s.sub
	}
	bytesPer := (s.bits + 7) / 8
	var data []byte
	for _, x := range frames {
		switch {
		case enc == 1 && bytesPer == 1:
			data = append(data, byte(int(math.Round(x*127))+128))
		case enc == 1 && bytesPer == 2:
			data = binary.LittleEndian.AppendUint16(data, uint16(int16(math.Round(x*32767))))
		case enc == 1 && bytesPer == 3:
			v := int32(math.Round(x * 8388607))
			data = append(data, byte(v), byte(v>>8), byte(v>>16))
		case enc == 1 && bytesPer == 4:
			v := int32(math.Round(x * 2147483647))
			if s.validBits > 0 {
				v &^= 1<<(32-s.validBits) - 1
			}
			data = binary.LittleEndian.AppendUint32(data, uint32(v))
		case enc == 3 && s.bits == 32:
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(float32(x)))
		case enc == 3 && s.bits == 64:
			data = binary.LittleEndian.AppendUint64(data, math.Float64bits(x))
		case enc == 6:
			data = append(data, linearToALaw(int16(math.Round(x*32767))))
		case enc == 7:
			data = append(data, linearToULaw(int16(math.Round(x*32767))))
		default: // formats the decoder must refuse: any bytes will do
			data = append(data, make([]byte, bytesPer)...)
		}
	}
	align := s.blockAlign
	if align == 0 {
		align = s.channels * bytesPer
	}
	fmtBody := binary.LittleEndian.AppendUint16(nil, s.tag)
	fmtBody = binary.LittleEndian.AppendUint16(fmtBody, uint16(s.channels))
	fmtBody = binary.LittleEndian.AppendUint32(fmtBody, uint32(s.rate))
	fmtBody = binary.LittleEndian.AppendUint32(fmtBody, uint32(s.rate*align))
	fmtBody = binary.LittleEndian.AppendUint16(fmtBody, uint16(align))
	fmtBody = binary.LittleEndian.AppendUint16(fmtBody, uint16(s.bits))
	if s.tag == 0xFFFE {
		valid := s.validBits
		if valid == 0 {
			valid = s.bits
		}
		fmtBody = binary.LittleEndian.AppendUint16(fmtBody, 22)
		fmtBody = binary.LittleEndian.AppendUint16(fmtBody, uint16(valid))
		fmtBody = binary.LittleEndian.AppendUint32(fmtBody, 0)
		fmtBody = binary.LittleEndian.AppendUint16(fmtBody, s.sub)
		fmtBody = append(fmtBody, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71)
	}
	body := []byte("WAVE")
	for _, c := range s.before {
		body = append(body, c...)
	}
	body = append(body, chunk("fmt ", fmtBody)...)
	for _, c := range s.between {
		body = append(body, c...)
	}
	dc := chunk("data", data)
	if s.dataSize >= 0 {
		binary.LittleEndian.PutUint32(dc[4:], uint32(s.dataSize))
	}
	body = append(body, dc...)
	for _, c := range s.after {
		body = append(body, c...)
	}
	out := append([]byte("RIFF"), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(body)))
	return append(out, body...)
}

// pcm16 is the usual spec: 16-bit PCM.
func pcm16(channels, rate int) wavSpec {
	return wavSpec{tag: 1, channels: channels, rate: rate, bits: 16, dataSize: -1}
}

// sine returns seconds of a tone, the same in every channel unless
// invert is set (then odd channels are inverted).
func sine(freq float64, rate, channels int, seconds, amp float64, invert bool) []float64 {
	n := int(seconds * float64(rate))
	out := make([]float64, 0, n*channels)
	for i := range n {
		v := amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))
		for c := range channels {
			if invert && c%2 == 1 {
				out = append(out, -v)
			} else {
				out = append(out, v)
			}
		}
	}
	return out
}

// G.711 compression (ITU-T G.711 reference), for building test files.
func linearToULaw(s int16) byte {
	const bias, clip = 0x84, 32635
	v := int(s)
	sign := 0
	if v < 0 {
		v, sign = -v, 0x80
	}
	v = min(v, clip) + bias
	exp := 7
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (v >> (exp + 3)) & 0x0F
	return ^byte(sign | exp<<4 | mant)
}

func linearToALaw(s int16) byte {
	v := int(s) >> 3
	mask := 0xD5
	if v < 0 {
		mask, v = 0x55, -v-1
	}
	seg := 0
	for end := 0x1F; v > end && seg < 8; end = end<<1 | 1 {
		seg++
	}
	if seg >= 8 {
		return byte(0x7F ^ mask)
	}
	a := seg << 4
	if seg < 2 {
		a |= (v >> 1) & 0x0F
	} else {
		a |= (v >> seg) & 0x0F
	}
	return byte(a ^ mask)
}

func TestDecodeFormats(t *testing.T) {
	tests := []struct {
		name string
		spec wavSpec
		tol  float64 // per sample, full scale 1
	}{
		{"pcm8 mono 8k", wavSpec{tag: 1, channels: 1, rate: 8000, bits: 8, dataSize: -1}, 1.0 / 100},
		{"pcm16 stereo 44.1k", pcm16(2, 44100), 1.0 / 20000},
		{"pcm24 mono 96k", wavSpec{tag: 1, channels: 1, rate: 96000, bits: 24, dataSize: -1}, 1e-6},
		{"pcm32 5.1 48k", wavSpec{tag: 1, channels: 6, rate: 48000, bits: 32, dataSize: -1}, 1e-6},
		{"float32 stereo 22.05k", wavSpec{tag: 3, channels: 2, rate: 22050, bits: 32, dataSize: -1}, 1e-7},
		{"float64 mono 192k", wavSpec{tag: 3, channels: 1, rate: 192000, bits: 64, dataSize: -1}, 1e-7},
		{"a-law mono 8k", wavSpec{tag: 6, channels: 1, rate: 8000, bits: 8, dataSize: -1}, 0.035},
		{"µ-law mono 8k", wavSpec{tag: 7, channels: 1, rate: 8000, bits: 8, dataSize: -1}, 0.035},
		{"extensible pcm16 stereo", wavSpec{tag: 0xFFFE, sub: 1, channels: 2, rate: 48000, bits: 16, dataSize: -1}, 1.0 / 20000},
		{"extensible 24 in 32 bits", wavSpec{tag: 0xFFFE, sub: 1, channels: 2, rate: 48000, bits: 32, validBits: 24, dataSize: -1}, 1e-6},
		{"extensible float32 quad", wavSpec{tag: 0xFFFE, sub: 3, channels: 4, rate: 32000, bits: 32, dataSize: -1}, 1e-7},
		{"extensible µ-law", wavSpec{tag: 0xFFFE, sub: 7, channels: 1, rate: 8000, bits: 8, dataSize: -1}, 0.035},
		{"odd rate 11025, 3 channels", wavSpec{tag: 1, channels: 3, rate: 11025, bits: 16, dataSize: -1}, 1.0 / 20000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames := sine(440, tt.spec.rate, tt.spec.channels, 0.05, 0.6, true)
			a, err := prompts.DecodeWAV(bytes.NewReader(tt.spec.build(t, frames)))
			if err != nil {
				t.Fatal(err)
			}
			enc := tt.spec.tag
			if enc == 0xFFFE {
				enc = tt.spec.sub
			}
			want := prompts.Format{Encoding: prompts.Encoding(enc), SampleRate: tt.spec.rate, Channels: tt.spec.channels,
				BitsPerSample: tt.spec.bits, Frames: int64(len(frames) / tt.spec.channels)}
			if a.Format != want {
				t.Fatalf("format %+v, want %+v", a.Format, want)
			}
			if len(a.Samples) != len(frames) {
				t.Fatalf("%d samples, want %d", len(a.Samples), len(frames))
			}
			worst := 0.0
			for i, x := range frames {
				worst = max(worst, math.Abs(float64(a.Samples[i])-x))
			}
			if worst > tt.tol {
				t.Errorf("largest error %.3g, want at most %.3g", worst, tt.tol)
			}
		})
	}
}

// TestG711 checks the expansion tables against values from G.711.
func TestG711(t *testing.T) {
	ulaw := map[byte]int16{0xFF: 0, 0x7F: 0, 0x80: 32124, 0x00: -32124, 0xF0: 120, 0x70: -120}
	alaw := map[byte]int16{0xD5: 8, 0x55: -8, 0xAA: 32256, 0x2A: -32256}
	for name, m := range map[uint16]map[byte]int16{7: ulaw, 6: alaw} {
		for code, want := range m {
			spec := wavSpec{tag: name, channels: 1, rate: 8000, bits: 8, dataSize: -1}
			b := spec.build(t, []float64{0, 0}) // two samples: no pad byte
			b[len(b)-1] = code
			a, err := prompts.DecodeWAV(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if got := int16(math.Round(float64(a.Samples[1]) * 32768)); got != want {
				t.Errorf("format %d: 0x%02X decodes to %d, want %d", name, code, got, want)
			}
		}
	}
}

func TestDecodeSkipsChunks(t *testing.T) {
	spec := pcm16(1, 8000)
	spec.before = [][]byte{chunk("JUNK", make([]byte, 28))}
	spec.between = [][]byte{chunk("LIST", []byte("INFOISFT\x05\x00\x00\x00Lavf\x00\x00")), chunk("fact", []byte{1, 2, 3, 4}), chunk("odd ", []byte{1, 2, 3})}
	spec.after = [][]byte{chunk("cue ", make([]byte, 4))}
	frames := sine(300, 8000, 1, 0.01, 0.5, false)
	a, err := prompts.DecodeWAV(bytes.NewReader(spec.build(t, frames)))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Samples) != len(frames) {
		t.Fatalf("%d samples, want %d", len(a.Samples), len(frames))
	}
}

// TestDecodeOpenEnded reads a WAV whose writer could not go back to fill in
// the data size (ffmpeg or sox writing to a pipe).
func TestDecodeOpenEnded(t *testing.T) {
	spec := pcm16(2, 16000)
	spec.dataSize = 0xFFFFFFFF
	frames := sine(300, 16000, 2, 0.1, 0.5, false)
	b := spec.build(t, frames)
	b = append(b, 0x01) // a partial last frame, dropped
	a, err := prompts.DecodeWAV(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if a.Frames != int64(len(frames)/2) {
		t.Fatalf("%d frames, want %d", a.Frames, len(frames)/2)
	}
}

func TestDecodeRefuses(t *testing.T) {
	valid := pcm16(1, 8000).build(t, sine(300, 8000, 1, 0.01, 0.5, false))
	with := func(f func(s *wavSpec)) []byte {
		s := pcm16(1, 8000)
		f(&s)
		return s.build(t, sine(300, s.rate, max(s.channels, 1), 0.01, 0.5, false))
	}
	fmtAt := bytes.Index(valid, []byte("fmt "))
	dataAt := bytes.Index(valid, []byte("data"))
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "not a WAV file: the file is empty"},
		{"text", []byte("hello, this is not audio at all"), "not a WAV file: missing RIFF header"},
		{"mp3", append([]byte("ID3\x04\x00\x00\x00\x00\x00\x00"), make([]byte, 100)...), "looks like an MP3"},
		{"mp3 frame", []byte{0xFF, 0xFB, 0x90, 0x64, 0, 0, 0, 0, 0, 0, 0, 0}, "looks like an MP3"},
		{"ogg", []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00"), "looks like Ogg"},
		{"flac", []byte("fLaC\x00\x00\x00\x22\x00\x00\x00\x00"), "looks like FLAC"},
		{"avi", []byte("RIFF\x00\x01\x00\x00AVI LIST"), `a RIFF file of type "AVI " (not WAVE)`},
		{"rifx", append([]byte("RIFX"), valid[4:]...), "big-endian"},
		{"short header", []byte("RIFF\x10\x00"), "ends after 6 bytes"},
		{"no fmt", []byte("RIFF\x04\x00\x00\x00WAVE"), "no fmt chunk"},
		{"no data", valid[:dataAt], "no data chunk"},
		{"data before fmt", append([]byte("RIFF\x00\x00\x00\x00WAVE"), valid[dataAt:]...), "data chunk comes before the fmt chunk"},
		{"truncated data", valid[:len(valid)-10], "truncated WAV: the data chunk declares 160 bytes of audio but the file ends after 150"},
		{"truncated chunk header", valid[:fmtAt+5], "truncated WAV: the file ends inside a chunk header"},
		{"truncated fmt", valid[:fmtAt+12], "truncated WAV: the fmt chunk declares 16 bytes but the file ends after 4"},
		{"truncated other chunk", append(append([]byte{}, valid[:dataAt]...), "LIST\xff\x00\x00\x00abc"...), `chunk "LIST" declares 255 bytes but the file ends after 3`},
		{"mp3 in wav", with(func(s *wavSpec) { s.tag = 0x55 }), "unsupported WAV format 0x55 (MP3); convert to PCM"},
		{"adpcm", with(func(s *wavSpec) { s.tag = 0x11; s.bits = 16 }), "unsupported WAV format 0x11 (IMA ADPCM)"},
		{"unknown format", with(func(s *wavSpec) { s.tag = 0x1234 }), "unsupported WAV format 0x1234; convert to PCM"},
		{"rate too low", with(func(s *wavSpec) { s.rate = 4000 }), "sample rate 4000 Hz; prompts need 8000 to 192000 Hz"},
		{"rate too high", with(func(s *wavSpec) { s.rate = 384000 }), "sample rate 384000 Hz"},
		{"no channels", with(func(s *wavSpec) { s.channels = 0; s.blockAlign = 2 }), "declares 0 channels"},
		{"too many channels", with(func(s *wavSpec) { s.channels = 100 }), "100 channels; at most 64"},
		{"block align", with(func(s *wavSpec) { s.blockAlign = 3 }), "block align 3 does not match 1 channel(s) of 16 bits"},
		{"float16", with(func(s *wavSpec) { s.tag = 3; s.bits = 16 }), "16-bit float; use 32 or 64 bits"},
		{"pcm 40 bits", with(func(s *wavSpec) { s.bits = 40; s.blockAlign = 5 }), "40-bit PCM"},
		{"µ-law 16 bits", with(func(s *wavSpec) { s.tag = 7 }), "µ-law samples are 8 bits, not 16"},
		{"empty data", with(func(s *wavSpec) { s.dataSize = 0 }), "its data chunk is empty"},
		{"fmt too small", bytes.Replace(valid, []byte("fmt \x10"), []byte("fmt \x08"), 1), "the fmt chunk is 8 bytes"},
		{"fmt absurd", bytes.Replace(valid, []byte("fmt \x10\x00\x00\x00"), []byte("fmt \x00\x00\x00\x40"), 1), "the fmt chunk is 1073741824 bytes"},
		{"two fmt", append(append([]byte{}, valid[:dataAt]...), valid[fmtAt:]...), "two fmt chunks"},
	}
	ext := wavSpec{tag: 0xFFFE, sub: 1, channels: 1, rate: 8000, bits: 16, dataSize: -1}.build(t, []float64{0, 0})
	badGUID := bytes.Replace(ext, []byte{0x00, 0xAA, 0x00, 0x38}, []byte{0x00, 0xAB, 0x00, 0x38}, 1)
	tests = append(tests, struct {
		name string
		in   []byte
		want string
	}{"extensible unknown GUID", badGUID, "WAVE_FORMAT_EXTENSIBLE with unknown sub-format"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := prompts.DecodeWAV(bytes.NewReader(tt.in))
			if err == nil {
				t.Fatal("decoded; want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to say %q", err, tt.want)
			}
			if !errors.Is(err, prompts.ErrFormat) || survey.ErrorCodeOf(err) != survey.EInvalid {
				t.Errorf("error %q is not a user-facing ErrFormat", err)
			}
			if msg := survey.ErrorMessage(err); msg != err.Error() {
				t.Errorf("user sees %q, want the decoder's message %q", msg, err)
			}
		})
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	pcm := []int16{0, 1, -1, 32767, -32768, 1234, -4321}
	var buf bytes.Buffer
	if err := prompts.EncodeWAV(&buf, pcm); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if len(b) != 44+2*len(pcm) || string(b[:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		t.Fatalf("not a canonical 44-byte-header WAV: % x", b[:44])
	}
	got, info, err := prompts.ConvertWAV(bytes.NewReader(b), 0)
	if err != nil {
		t.Fatal(err)
	}
	if info.SampleRate != 8000 || info.Channels != 1 || info.Bits != 16 || info.Encoding != prompts.EncodingPCM {
		t.Errorf("info %+v, want 8 kHz mono 16-bit PCM", info)
	}
	if !slices.Equal(got, pcm) {
		t.Errorf("round trip %v, want %v (8 kHz mono 16-bit must pass through bit for bit)", got, pcm)
	}
}

// TestConvertDownmix: a stereo file with the same tone in both channels
// keeps its level; with the channels in opposite phase it cancels out.
func TestConvertDownmix(t *testing.T) {
	for _, tt := range []struct {
		invert bool
		want   float64
	}{{false, 0.5}, {true, 0}} {
		b := pcm16(2, 44100).build(t, sine(1000, 44100, 2, 0.5, 0.5, tt.invert))
		pcm, info, err := prompts.ConvertWAV(bytes.NewReader(b), 0)
		if err != nil {
			t.Fatal(err)
		}
		if info.Channels != 2 || info.SampleRate != 44100 || info.Duration != 500*time.Millisecond {
			t.Errorf("info %+v, want 2 channels at 44100 Hz lasting 500ms", info)
		}
		f := make([]float64, len(pcm))
		for i, s := range pcm {
			f[i] = float64(s) / 32768
		}
		if got := amplitude(f[100:len(f)-100], 1000, 8000); math.Abs(got-tt.want) > 0.005 {
			t.Errorf("inverted=%v: 1 kHz amplitude %.4f, want %.2f", tt.invert, got, tt.want)
		}
	}
}

func TestConvertTooLong(t *testing.T) {
	long := wavSpec{tag: 7, channels: 1, rate: 8000, bits: 8, dataSize: -1}.build(t, make([]float64, 8000*301))
	_, _, err := prompts.ConvertWAV(bytes.NewReader(long), prompts.MaxDuration)
	if !errors.Is(err, prompts.ErrTooLong) || !strings.Contains(err.Error(), "lasts 5m1s; a prompt may last at most 5m0s") {
		t.Errorf("5m1s: %v, want ErrTooLong saying how long", err)
	}
	// Open-ended data: found while reading.
	open := wavSpec{tag: 7, channels: 1, rate: 8000, bits: 8, dataSize: 0xFFFFFFFF}.build(t, make([]float64, 8000*3))
	_, _, err = prompts.ConvertWAV(bytes.NewReader(open), 2*time.Second)
	if !errors.Is(err, prompts.ErrTooLong) {
		t.Errorf("open-ended 3s with a 2s limit: %v, want ErrTooLong", err)
	}
	if _, _, err := prompts.ConvertWAV(bytes.NewReader(open), 5*time.Second); err != nil {
		t.Errorf("3s with a 5s limit: %v", err)
	}
}

// TestConvertReadError: an I/O error is reported as such, not as bad audio.
func TestConvertReadError(t *testing.T) {
	b := pcm16(1, 8000).build(t, make([]float64, 8000))
	boom := errors.New("connection reset")
	_, _, err := prompts.ConvertWAV(io.MultiReader(bytes.NewReader(b[:1000]), errReader{boom}), 0)
	if !errors.Is(err, boom) || errors.Is(err, prompts.ErrFormat) {
		t.Errorf("error %v, want the read error", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
