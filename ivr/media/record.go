package media

// This file records two parties of a room into a stereo WAV (8 kHz, 16-bit
// PCM): on each tick, one 20 ms frame per channel, silence where a party
// sent nothing, so both channels stay in step with the call's time. The
// tick hands chunks to a writer goroutine so that a slow disk never delays
// a mix; the header's sizes are fixed up every second and at Stop, so a
// file cut short still plays.

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"
)

const (
	// recordChunk is one tick of stereo 16-bit audio.
	recordChunk = SamplesPerPacket * 2 * 2
	// recordQueue bounds ticks waiting for the writer (1 s).
	recordQueue = 50
	// fixEvery is how many ticks pass between header fix-ups (1 s).
	fixEvery      = 50
	wavHeaderSize = 44
)

// Recording is a room's recording in progress; Stop ends it.
type Recording struct {
	r           *Room
	w           io.WriteSeeker
	start       int64 // offset of the header in w
	left, right string

	chunks chan [recordChunk]byte
	once   sync.Once
	done   chan struct{} // the writer has finished
	// Writer goroutine only until done is closed.
	buf   [recordChunk]byte
	hdr   [wavHeaderSize]byte
	ticks int64
	err   error
}

// Record writes a stereo 8 kHz 16-bit PCM WAV of parties left and right to
// w from now on, left and right channels, one 20 ms frame per channel per
// tick, silence where a party sent nothing (parties not yet joined
// included). The header's sizes are fixed up by Stop. One recording per
// room at a time: ErrRecording while one runs, ErrRoomClosed after Close.
func (r *Room) Record(w io.WriteSeeker, left, right string) (*Recording, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrRoomClosed
	}
	if r.rec != nil {
		return nil, ErrRecording
	}
	start, err := w.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	rec := &Recording{r: r, w: w, start: start, left: left, right: right,
		chunks: make(chan [recordChunk]byte, recordQueue), done: make(chan struct{})}
	rec.header()
	if _, err := w.Write(rec.hdr[:]); err != nil {
		return nil, fmt.Errorf("record: write the WAV header: %w", err)
	}
	r.rec = rec
	go rec.run()
	r.rebuild()
	return rec, nil
}

// Stop ends the recording and fixes up the header; it returns the audio's
// duration and the first error writing it. It may be called more than
// once (after Close too) and returns the same.
func (rec *Recording) Stop() (time.Duration, error) {
	rec.stop()
	return time.Duration(rec.ticks) * PacketInterval, rec.err
}

func (rec *Recording) stop() {
	rec.once.Do(func() {
		r := rec.r
		r.mu.Lock()
		if r.rec == rec {
			r.rec = nil
			r.rebuild()
		}
		r.mu.Unlock()
		// A tick under way may still hold the old plan: wait for it, so
		// that nothing sends on chunks once it is closed.
		r.tickMu.Lock()
		close(rec.chunks)
		r.tickMu.Unlock()
	})
	<-rec.done
}

// push hands a tick's chunk to the writer, false if its queue is full.
func (rec *Recording) push(c *[recordChunk]byte) bool {
	select {
	case rec.chunks <- *c:
		return true
	default:
		return false
	}
}

// run writes chunks until Stop, then fixes up the header. After the first
// error it drops what comes.
func (rec *Recording) run() {
	defer close(rec.done)
	for {
		var ok bool
		if rec.buf, ok = <-rec.chunks; !ok {
			break
		}
		if rec.err != nil {
			continue
		}
		if _, err := rec.w.Write(rec.buf[:]); err != nil {
			rec.err = fmt.Errorf("record: write audio: %w", err)
			continue
		}
		rec.ticks++
		rec.r.recorded.Add(1)
		if rec.ticks%fixEvery == 0 {
			rec.err = rec.fix()
		}
	}
	if err := rec.fix(); rec.err == nil {
		rec.err = err
	}
}

// fix rewrites the header with the sizes written so far and returns to the
// end of the audio.
func (rec *Recording) fix() error {
	rec.header()
	if _, err := rec.w.Seek(rec.start, io.SeekStart); err != nil {
		return fmt.Errorf("record: fix up the WAV header: %w", err)
	}
	if _, err := rec.w.Write(rec.hdr[:]); err != nil {
		return fmt.Errorf("record: fix up the WAV header: %w", err)
	}
	if _, err := rec.w.Seek(rec.start+wavHeaderSize+rec.ticks*recordChunk, io.SeekStart); err != nil {
		return fmt.Errorf("record: fix up the WAV header: %w", err)
	}
	return nil
}

// header fills rec.hdr: a canonical 44-byte RIFF/WAVE header for the
// audio written so far.
func (rec *Recording) header() {
	le := binary.LittleEndian
	h := rec.hdr[:]
	data := uint32(rec.ticks * recordChunk)
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], 36+data)
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)             // fmt chunk size
	le.PutUint16(h[20:], 1)              // PCM
	le.PutUint16(h[22:], 2)              // channels
	le.PutUint32(h[24:], SampleRate)     // sample rate
	le.PutUint32(h[28:], SampleRate*2*2) // byte rate
	le.PutUint16(h[32:], 2*2)            // block align
	le.PutUint16(h[34:], 16)             // bits per sample
	copy(h[36:], "data")
	le.PutUint32(h[40:], data)
}

// record fills p.chunk with this tick's frames of the recorded parties,
// interleaved left, right; silence for a party without a frame.
func (p *mixPlan) record() {
	le := binary.LittleEndian
	for k := range SamplesPerPacket {
		var l, r int16
		if p.left >= 0 && p.have[p.left] {
			l = p.pcm[p.left][k]
		}
		if p.right >= 0 && p.have[p.right] {
			r = p.pcm[p.right][k]
		}
		le.PutUint16(p.chunk[4*k:], uint16(l))
		le.PutUint16(p.chunk[4*k+2:], uint16(r))
	}
}
