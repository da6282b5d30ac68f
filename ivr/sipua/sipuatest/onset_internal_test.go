package sipuatest

import (
	"testing"
	"time"

	"github.com/canvass/canvass/ivr/media"
	"github.com/pion/rtp"
)

// A prompt's onset is loud audio after silence, or a marker in sequence; a
// marker after missing packets is the sender skipping ahead in the same
// audio (a starved server's pacer), not a new prompt.
func TestOnsets(t *testing.T) {
	c := &Call{codec: media.PCMU, pt: 0, eventPT: -1, onsetCh: make(chan struct{})}
	r := c.newReceiver()
	loud := make([]byte, media.SamplesPerPacket)
	media.PCMU.Encode(loud, tone())
	quiet := append([]byte(nil), silencePCMU()...)
	seq, at := uint16(100), time.Now()
	send := func(payload []byte, marker bool, skip uint16) {
		seq += skip
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 160, Marker: marker}, Payload: payload}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		at = at.Add(media.PacketInterval * time.Duration(skip+1))
		c.received(r, b, at, make([]int16, len(b)))
		seq++
	}
	for range 3 {
		send(quiet, false, 0)
	}
	send(loud, true, 0) // a prompt starts
	send(loud, false, 0)
	send(loud, true, 4) // the sender skipped 4 packets, and marks the next
	send(loud, false, 0)
	send(loud, true, 0) // the next prompt, straight after
	send(quiet, false, 0)
	send(loud, false, 0) // and one after silence
	if got := len(c.Onsets()); got != 3 {
		t.Errorf("%d onsets, want 3: %v", got, c.Onsets())
	}
}

// tone is 20 ms of a loud square wave.
func tone() []int16 {
	pcm := make([]int16, media.SamplesPerPacket)
	for i := range pcm {
		if (i/9)%2 == 0 {
			pcm[i] = 8000
		} else {
			pcm[i] = -8000
		}
	}
	return pcm
}

func silencePCMU() []byte {
	b := make([]byte, media.SamplesPerPacket)
	media.PCMU.Encode(b, make([]int16, media.SamplesPerPacket))
	return b
}
