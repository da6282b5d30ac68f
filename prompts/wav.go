package prompts

// This file is the WAV codec: a streaming decoder for the RIFF/WAVE files
// people actually upload (integer PCM of 8 to 32 bits, 32/64-bit float,
// G.711 A-law and µ-law, WAVE_FORMAT_EXTENSIBLE, any channel count, 8 to
// 192 kHz), which refuses anything else with a message saying what is wrong,
// and the encoder of the one format the catalog stores: 8 kHz mono 16-bit.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Encoding is how a WAV stores its samples: the format tag of its fmt chunk
// (or the sub-format of a WAVE_FORMAT_EXTENSIBLE one).
type Encoding uint16

// Encodings the decoder reads.
const (
	EncodingPCM   Encoding = 0x0001 // signed integers (unsigned at 8 bits)
	EncodingFloat Encoding = 0x0003 // IEEE float, 32 or 64 bits
	EncodingALaw  Encoding = 0x0006 // G.711 A-law
	EncodingMuLaw Encoding = 0x0007 // G.711 µ-law

	encodingExtensible Encoding = 0xFFFE
)

// encodingNames names the format tags people meet, so that an error can
// say "MP3" rather than a number.
var encodingNames = map[Encoding]string{
	EncodingPCM: "PCM", EncodingFloat: "IEEE float", EncodingALaw: "A-law", EncodingMuLaw: "µ-law",
	0x0002: "Microsoft ADPCM", 0x0011: "IMA ADPCM", 0x0014: "G.723 ADPCM", 0x0031: "GSM 6.10",
	0x0040: "G.721 ADPCM", 0x0050: "MPEG", 0x0055: "MP3", 0x0064: "G.726 ADPCM", 0x0065: "G.722 ADPCM",
	0x00FF: "AAC", 0x0161: "WMA", 0x1610: "HE-AAC", 0x2000: "AC-3", 0xF1AC: "FLAC", 0x674F: "Vorbis",
	encodingExtensible: "WAVE_FORMAT_EXTENSIBLE",
}

func (e Encoding) String() string {
	if n, ok := encodingNames[e]; ok {
		return n
	}
	return fmt.Sprintf("0x%04X", uint16(e))
}

// Limits of what the decoder accepts.
const (
	MinSampleRate = 8000
	MaxSampleRate = 192000
	maxChannels   = 64
	maxFmtBytes   = 1024  // a fmt chunk is 16, 18 or 40 bytes
	maxChunks     = 10000 // before the data chunk
)

// ksSubtypeSuffix is the tail shared by the KSDATAFORMAT_SUBTYPE GUIDs of
// WAVE_FORMAT_EXTENSIBLE; the GUID's first two bytes are the format tag.
var ksSubtypeSuffix = []byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

// Format describes a WAV's audio as its header declares it.
type Format struct {
	Encoding      Encoding
	SampleRate    int
	Channels      int
	BitsPerSample int   // of the container: 8, 16, 24, 32 or 64
	Frames        int64 // from the data chunk's size; -1 when the writer left it open (streamed)
}

// Duration is how long Frames last; 0 when unknown.
func (f Format) Duration() time.Duration {
	if f.Frames <= 0 || f.SampleRate <= 0 {
		return 0
	}
	return time.Duration(float64(f.Frames) / float64(f.SampleRate) * float64(time.Second))
}

// Audio is a decoded WAV: its format and its samples as interleaved frames,
// full scale ±1.
type Audio struct {
	Format
	Samples []float32
}

// DecodeWAV decodes a whole WAV. The caller bounds r: a header may declare
// any size, and the data is read until it ends.
func DecodeWAV(r io.Reader) (*Audio, error) {
	d, err := newWAVReader(r)
	if err != nil {
		return nil, err
	}
	a := &Audio{Format: d.format}
	if d.format.Frames > 0 {
		// Trust the header only as far as a modest first allocation.
		a.Samples = make([]float32, 0, min(d.format.Frames, 1<<20)*int64(d.format.Channels))
	}
	buf := make([]float32, 4096*d.format.Channels)
	for {
		n, err := d.read(buf)
		a.Samples = append(a.Samples, buf[:n*d.format.Channels]...)
		if err == io.EOF {
			a.Frames = int64(len(a.Samples) / a.Channels)
			return a, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// wavReader reads a WAV's frames as they arrive, without holding the file.
type wavReader struct {
	r         *bufio.Reader
	format    Format
	remaining int64 // bytes of the data chunk left; -1 = until EOF
	read0     int64 // bytes of data read so far
	frameSize int
	sample    func([]byte) float32
	raw       []byte
}

// newWAVReader reads the header up to the start of the data chunk.
func newWAVReader(r io.Reader) (*wavReader, error) {
	br := bufio.NewReaderSize(r, 32<<10)
	var hdr [12]byte
	n, err := io.ReadFull(br, hdr[:])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("read WAV header: %w", err)
	}
	if n == 0 {
		return nil, formatError("not a WAV file: the file is empty")
	}
	if perr := checkRIFF(hdr[:n]); perr != nil {
		return nil, perr
	}
	if n < len(hdr) {
		return nil, formatError("not a WAV file: it ends after %d bytes, inside the RIFF header", n)
	}
	d := &wavReader{r: br}
	haveFmt := false
	for chunks := 0; ; chunks++ {
		if chunks >= maxChunks {
			return nil, formatError("invalid WAV: more than %d chunks before the audio data", maxChunks)
		}
		var ch [8]byte
		n, err := io.ReadFull(br, ch[:])
		switch {
		case n == 0 && errors.Is(err, io.EOF):
			if !haveFmt {
				return nil, formatError("invalid WAV: no fmt chunk (the header that says how the audio is stored)")
			}
			return nil, formatError("invalid WAV: no data chunk (the file has a header but no audio)")
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, formatError("truncated WAV: the file ends inside a chunk header")
		case err != nil:
			return nil, fmt.Errorf("read WAV: %w", err)
		}
		id, size := string(ch[:4]), binary.LittleEndian.Uint32(ch[4:])
		switch id {
		case "fmt ":
			if haveFmt {
				return nil, formatError("invalid WAV: two fmt chunks")
			}
			if size < 16 || size > maxFmtBytes {
				return nil, formatError("invalid WAV: the fmt chunk is %d bytes; it should be 16 to 40", size)
			}
			b := make([]byte, size+size&1)
			if n, err := io.ReadFull(br, b); err != nil {
				// A missing pad byte at the very end is harmless here: the
				// data chunk is still to come, so this is a truncation.
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					return nil, formatError("truncated WAV: the fmt chunk declares %d bytes but the file ends after %d", size, n)
				}
				return nil, fmt.Errorf("read WAV: %w", err)
			}
			if err := d.parseFmt(b[:size]); err != nil {
				return nil, err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, formatError("invalid WAV: the data chunk comes before the fmt chunk")
			}
			d.remaining = int64(size)
			d.format.Frames = int64(size) / int64(d.frameSize)
			if size == math.MaxUint32 { // left open by a writer that could not seek back
				d.remaining, d.format.Frames = -1, -1
			} else if d.format.Frames == 0 {
				return nil, formatError("the WAV has no audio: its data chunk is empty")
			}
			d.raw = make([]byte, 4096*d.frameSize)
			return d, nil
		default: // LIST, fact, cue, bext, JUNK, …: not ours to read
			skip := int64(size) + int64(size&1)
			if n, err := io.CopyN(io.Discard, br, skip); err != nil {
				if errors.Is(err, io.EOF) && n >= int64(size) {
					// Only the pad byte is missing, at the end of the file.
					return nil, formatError("invalid WAV: no data chunk (the file has a header but no audio)")
				}
				if errors.Is(err, io.EOF) {
					return nil, formatError("truncated WAV: chunk %q declares %d bytes but the file ends after %d", printable(id), size, n)
				}
				return nil, fmt.Errorf("read WAV: %w", err)
			}
		}
	}
}

// checkRIFF checks the start of a file, naming what it is when it is
// clearly some other audio format.
func checkRIFF(b []byte) error {
	has := func(prefix string) bool { return bytes.HasPrefix(b, []byte(prefix)) }
	switch {
	case has("RIFF"):
		if len(b) >= 12 && string(b[8:12]) != "WAVE" {
			return formatError("not a WAV file: a RIFF file of type %q (not WAVE)", printable(string(b[8:12])))
		}
		return nil
	case has("RIFX"):
		return formatError("unsupported WAV: big-endian (RIFX) files are not supported; convert to little-endian PCM")
	case has("RF64"), has("BW64"):
		return formatError("unsupported WAV: %s files (for audio over 4 GB) are not supported; convert to a plain WAV", b[:4])
	case has("ID3"), len(b) >= 2 && b[0] == 0xFF && b[1]&0xE0 == 0xE0:
		return formatError("not a WAV file: this looks like an MP3; convert it to WAV (PCM)")
	case has("OggS"):
		return formatError("not a WAV file: this looks like Ogg (Vorbis or Opus); convert it to WAV (PCM)")
	case has("fLaC"):
		return formatError("not a WAV file: this looks like FLAC; convert it to WAV (PCM)")
	case has("FORM"):
		return formatError("not a WAV file: this looks like AIFF; convert it to WAV (PCM)")
	case len(b) >= 8 && string(b[4:8]) == "ftyp":
		return formatError("not a WAV file: this looks like MP4/M4A; convert it to WAV (PCM)")
	case has(".snd"):
		return formatError("not a WAV file: this looks like Sun/NeXT .au audio; convert it to WAV (PCM)")
	}
	return formatError("not a WAV file: missing RIFF header")
}

// parseFmt reads the fmt chunk and picks the sample decoder.
func (d *wavReader) parseFmt(b []byte) error {
	le16 := func(i int) int { return int(binary.LittleEndian.Uint16(b[i:])) }
	tag := Encoding(le16(0))
	channels, bits, blockAlign := le16(2), le16(14), le16(12)
	rate := int(binary.LittleEndian.Uint32(b[4:]))
	if tag == encodingExtensible {
		if len(b) < 40 {
			return formatError("invalid WAV: a WAVE_FORMAT_EXTENSIBLE fmt chunk needs 40 bytes, this one has %d", len(b))
		}
		if valid := le16(18); valid > bits {
			return formatError("invalid WAV: %d valid bits in a %d-bit sample", valid, bits)
		}
		guid := b[24:40]
		if !bytes.Equal(guid[2:], ksSubtypeSuffix) {
			return formatError("unsupported WAV: WAVE_FORMAT_EXTENSIBLE with unknown sub-format %X; convert to PCM", guid)
		}
		tag = Encoding(binary.LittleEndian.Uint16(guid))
	}
	switch {
	case channels == 0:
		return formatError("invalid WAV: the header declares 0 channels")
	case channels > maxChannels:
		return formatError("unsupported WAV: %d channels; at most %d are supported", channels, maxChannels)
	case rate < MinSampleRate || rate > MaxSampleRate:
		return formatError("unsupported WAV: sample rate %d Hz; prompts need %d to %d Hz", rate, MinSampleRate, MaxSampleRate)
	}
	container := (bits + 7) / 8
	switch tag {
	case EncodingPCM:
		switch {
		case bits < 1 || bits > 32:
			return formatError("unsupported WAV: %d-bit PCM; use 8, 16, 24 or 32 bits", bits)
		case container == 1:
			d.sample = func(p []byte) float32 { return float32(int(p[0])-128) / 128 }
		case container == 2:
			d.sample = func(p []byte) float32 { return float32(int16(binary.LittleEndian.Uint16(p))) / (1 << 15) }
		case container == 3:
			d.sample = func(p []byte) float32 {
				return float32(int32(uint32(p[0])<<8|uint32(p[1])<<16|uint32(p[2])<<24)>>8) / (1 << 23)
			}
		default:
			d.sample = func(p []byte) float32 { return float32(int32(binary.LittleEndian.Uint32(p))) / (1 << 31) }
		}
	case EncodingFloat:
		switch bits {
		case 32:
			d.sample = func(p []byte) float32 { return clampUnit(float64(math.Float32frombits(binary.LittleEndian.Uint32(p)))) }
		case 64:
			d.sample = func(p []byte) float32 { return clampUnit(math.Float64frombits(binary.LittleEndian.Uint64(p))) }
		default:
			return formatError("unsupported WAV: %d-bit float; use 32 or 64 bits", bits)
		}
	case EncodingALaw, EncodingMuLaw:
		if bits != 8 {
			return formatError("invalid WAV: %s samples are 8 bits, not %d", tag, bits)
		}
		table := &alawTable
		if tag == EncodingMuLaw {
			table = &ulawTable
		}
		d.sample = func(p []byte) float32 { return float32(table[p[0]]) / (1 << 15) }
	default:
		if name, ok := encodingNames[tag]; ok {
			return formatError("unsupported WAV format 0x%X (%s); convert to PCM", uint16(tag), name)
		}
		return formatError("unsupported WAV format 0x%X; convert to PCM", uint16(tag))
	}
	if blockAlign != channels*container {
		return formatError("invalid WAV: block align %d does not match %d channel(s) of %d bits", blockAlign, channels, bits)
	}
	d.format = Format{Encoding: tag, SampleRate: rate, Channels: channels, BitsPerSample: container * 8}
	d.frameSize = blockAlign
	return nil
}

// read decodes up to len(dst)/channels frames into dst, interleaved. It
// returns io.EOF, with the last frames or none, at the end of the data; a
// partial frame at the end is dropped.
func (d *wavReader) read(dst []float32) (int, error) {
	want := len(dst) / d.format.Channels * d.frameSize
	want = min(want, len(d.raw))
	if d.remaining >= 0 {
		want = int(min(int64(want), d.remaining-d.remaining%int64(d.frameSize)))
	}
	if want == 0 {
		return 0, io.EOF
	}
	n, err := io.ReadFull(d.r, d.raw[:want])
	d.read0 += int64(n)
	if d.remaining >= 0 {
		d.remaining -= int64(n)
	}
	frames := n / d.frameSize
	size := d.frameSize / d.format.Channels
	for i := range frames * d.format.Channels {
		dst[i] = d.sample(d.raw[i*size:])
	}
	switch {
	case err == nil:
		return frames, nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		if d.remaining < 0 { // open-ended data: the end of the file is the end
			return frames, io.EOF
		}
		return frames, formatError("truncated WAV: the data chunk declares %d bytes of audio but the file ends after %d",
			d.read0+d.remaining, d.read0)
	}
	return frames, fmt.Errorf("read WAV data: %w", err)
}

// clampUnit maps a float sample into [-1, 1]; NaN becomes silence, so that
// one bad sample cannot poison the resampler's sums.
func clampUnit(x float64) float32 {
	switch {
	case x != x:
		return 0
	case x > 1:
		return 1
	case x < -1:
		return -1
	}
	return float32(x)
}

// printable shows a chunk id safely in a message.
func printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7E {
			b[i] = '?'
		}
	}
	return string(b)
}

// G.711 expansion tables (ITU-T G.711), read-only.
var (
	ulawTable = g711Table(ulawDecode)
	alawTable = g711Table(alawDecode)
)

func g711Table(f func(byte) int16) [256]int16 {
	var t [256]int16
	for i := range t {
		t[i] = f(byte(i))
	}
	return t
}

func ulawDecode(u byte) int16 {
	u = ^u
	t := (int(u&0x0F) << 3) + 0x84
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}

func alawDecode(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0F) << 4
	switch seg := (a & 0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// Rate is the sample rate of everything the catalog stores and plays.
const Rate = 8000

// EncodeWAV writes samples as an 8 kHz mono 16-bit PCM WAV.
func EncodeWAV(w io.Writer, samples []int16) error {
	data := len(samples) * 2
	if int64(data) > math.MaxUint32-36 {
		return fmt.Errorf("encode WAV: %d samples do not fit in a WAV file", len(samples))
	}
	var h [44]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+data))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], uint16(EncodingPCM))
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], Rate)
	binary.LittleEndian.PutUint32(h[28:], Rate*2)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(data))
	bw := bufio.NewWriterSize(w, 32<<10)
	if _, err := bw.Write(h[:]); err != nil {
		return fmt.Errorf("encode WAV: %w", err)
	}
	var b [2]byte
	for _, s := range samples {
		binary.LittleEndian.PutUint16(b[:], uint16(s))
		if _, err := bw.Write(b[:]); err != nil {
			return fmt.Errorf("encode WAV: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("encode WAV: %w", err)
	}
	return nil
}

// Info describes an uploaded or converted recording.
type Info struct {
	Duration   time.Duration // of the converted audio
	SampleRate int           // of the source
	Channels   int           // of the source
	Encoding   Encoding      // of the source
	Bits       int           // of the source's samples
}

// ConvertWAV decodes a WAV of any supported format as it is read, mixes it
// down to mono and resamples it to 8 kHz. With maxDuration > 0, longer audio
// is refused (ErrTooLong) — from the header when it says, before decoding.
func ConvertWAV(r io.Reader, maxDuration time.Duration) ([]int16, Info, error) {
	d, err := newWAVReader(r)
	if err != nil {
		return nil, Info{}, err
	}
	f := d.format
	info := Info{SampleRate: f.SampleRate, Channels: f.Channels, Encoding: f.Encoding, Bits: f.BitsPerSample}
	tooLong := func(dur time.Duration) error {
		return problemf(ErrTooLong, "the recording lasts %s; a prompt may last at most %s", dur.Round(100*time.Millisecond), maxDuration)
	}
	maxFrames := int64(math.MaxInt64)
	if maxDuration > 0 {
		maxFrames = int64(maxDuration.Seconds() * float64(f.SampleRate))
		if f.Frames > maxFrames {
			return nil, info, tooLong(f.Duration())
		}
	}
	rs := newResampler(f.SampleRate, Rate)
	buf := make([]float32, 4096*f.Channels)
	mono := make([]float32, 4096)
	var out []float32
	if f.Frames > 0 { // the header's word, up to ten minutes' worth
		out = make([]float32, 0, min(f.Frames*Rate/int64(f.SampleRate)+1, 10*60*Rate))
	}
	var frames int64
	for {
		n, rerr := d.read(buf)
		downmix(mono[:n], buf[:n*f.Channels], f.Channels)
		out = rs.process(out, mono[:n])
		if frames += int64(n); frames > maxFrames {
			return nil, info, tooLong(time.Duration(float64(frames) / float64(f.SampleRate) * float64(time.Second)))
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, info, rerr
		}
	}
	out = rs.flush(out)
	pcm := quantize(out)
	info.Duration = time.Duration(len(pcm)) * time.Second / Rate
	return pcm, info, nil
}

// downmix averages the channels of each frame.
func downmix(dst, frames []float32, channels int) {
	if channels == 1 {
		copy(dst, frames)
		return
	}
	scale := 1 / float32(channels)
	for i := range dst {
		var sum float32
		for _, s := range frames[i*channels : (i+1)*channels] {
			sum += s
		}
		dst[i] = sum * scale
	}
}

// quantize turns full-scale floats into 16-bit samples, rounding and
// clipping.
func quantize(in []float32) []int16 {
	out := make([]int16, len(in))
	for i, x := range in {
		v := math.Round(float64(x) * (1 << 15))
		out[i] = int16(max(-(1 << 15), min(1<<15-1, v)))
	}
	return out
}
