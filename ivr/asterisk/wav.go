package asterisk

// This file reads a voice answer's length from its WAV header, so the
// stored duration is the audio's own rather than Asterisk's whole-second
// estimate.

import (
	"encoding/binary"
	"errors"
	"time"
)

// wavDuration returns the length of the audio in a RIFF/WAVE file. A data
// chunk whose size runs past the end of the file (a header not rewritten
// after a hangup) counts only the bytes present.
func wavDuration(b []byte) (time.Duration, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return 0, errors.New("not a RIFF/WAVE file")
	}
	var byteRate uint32
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), binary.LittleEndian.Uint32(b[off+4:off+8])
		body := off + 8
		switch id {
		case "fmt ":
			if size < 16 || body+16 > len(b) {
				return 0, errors.New("short fmt chunk")
			}
			byteRate = binary.LittleEndian.Uint32(b[body+8 : body+12])
		case "data":
			if byteRate == 0 {
				return 0, errors.New("data chunk before a usable fmt chunk")
			}
			n := min(uint64(size), uint64(len(b)-body))
			return time.Duration(n * uint64(time.Second) / uint64(byteRate)), nil
		}
		next := uint64(body) + uint64(size) + uint64(size&1) // chunks are word-aligned
		if next > uint64(len(b)) {
			break
		}
		off = int(next)
	}
	return 0, errors.New("no data chunk")
}
