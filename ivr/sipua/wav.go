package sipua

// This file writes voice answers: 8 kHz mono 16-bit PCM WAV, written as
// the audio arrives, with the sizes in the header fixed up on close, so a
// call that ends mid-answer leaves a playable partial file.

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
)

const wavHeaderSize = 44

type wavWriter struct {
	f       *os.File
	w       *bufio.Writer
	samples int64
	scratch []byte
}

func createWAV(path string) (*wavWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, err
	}
	w := &wavWriter{f: f, w: bufio.NewWriterSize(f, 8<<10), scratch: make([]byte, 4096)}
	if _, err := w.w.Write(wavHeader(0)); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// wavHeader is the header of a file holding n samples.
func wavHeader(n int64) []byte {
	data := uint32(n * 2)
	h := make([]byte, 0, wavHeaderSize)
	h = append(h, "RIFF"...)
	h = binary.LittleEndian.AppendUint32(h, 36+data)
	h = append(h, "WAVEfmt "...)
	h = binary.LittleEndian.AppendUint32(h, 16)   // fmt chunk size
	h = binary.LittleEndian.AppendUint16(h, 1)    // PCM
	h = binary.LittleEndian.AppendUint16(h, 1)    // mono
	h = binary.LittleEndian.AppendUint32(h, 8000) // sample rate
	h = binary.LittleEndian.AppendUint32(h, 16000)
	h = binary.LittleEndian.AppendUint16(h, 2)  // block align
	h = binary.LittleEndian.AppendUint16(h, 16) // bits per sample
	h = append(h, "data"...)
	return binary.LittleEndian.AppendUint32(h, data)
}

func (w *wavWriter) write(pcm []int16) error {
	for len(pcm) > 0 {
		n := min(len(pcm), len(w.scratch)/2)
		for i, s := range pcm[:n] {
			binary.LittleEndian.PutUint16(w.scratch[2*i:], uint16(s))
		}
		if _, err := w.w.Write(w.scratch[:2*n]); err != nil {
			return err
		}
		w.samples += int64(n)
		pcm = pcm[n:]
	}
	return nil
}

// close flushes, writes the final sizes and closes the file.
func (w *wavWriter) close() error {
	err := w.w.Flush()
	if err == nil {
		_, err = w.f.WriteAt(wavHeader(w.samples), 0)
	}
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", w.f.Name(), err)
	}
	return nil
}
