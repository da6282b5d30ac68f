package media

// This file is the header rewriting a splice needs. A leg that sends one
// RTP stream made of several sources in turn (a prompt, then a bridged
// leg's audio, then a mix) must look to its peer like one stream: its own
// SSRC, sequence numbers that go on by one, timestamps that go on with the
// clock. Relaying another stream's headers as they are breaks that (a
// browser dropped half the packets of a relay whose upstream changed
// SSRC).

import (
	"time"

	"github.com/pion/rtp"
)

// Rebaser rewrites the headers of packets from changing sources into one
// outgoing stream. Packets keep their spacing within a source (a lost
// packet stays a gap); at a source change the sequence number goes on from
// the last packet out, the timestamp moves on by the time that passed (at
// least one packet), and the marker bit is set, since a new talkspurt
// starts. A source is the SSRC of the packets given, or starts at Switch.
//
// A Rebaser is used by one goroutine. The zero value is not ready: use
// NewRebaser.
type Rebaser struct {
	ssrc     uint32
	started  bool   // a packet went out
	switched bool   // Switch was called: the next packet starts a source
	src      uint32 // SSRC of the current source
	seqOff   uint16 // added to the source's sequence numbers
	tsOff    uint32 // added to the source's timestamps
	lastSeq  uint16 // of the newest packet out
	lastTS   uint32
	lastAt   time.Time
}

// NewRebaser returns a rebaser for the stream ssrc whose first packet
// carries sequence number seq and timestamp ts (random, RFC 3550).
func NewRebaser(ssrc uint32, seq uint16, ts uint32) *Rebaser {
	return &Rebaser{ssrc: ssrc, lastSeq: seq - 1, lastTS: ts}
}

// Switch makes the next packet start a new source even if its SSRC is
// the current one's (two sources that number packets alike, e.g. two
// prompts generated here).
func (r *Rebaser) Switch() { r.switched = true }

// Rewrite rewrites h, a packet sent at now, in place: our SSRC, and the
// sequence number and timestamp of our stream. A packet of the current
// source that arrives late (an older sequence number) is rewritten by the
// same offsets and does not move the stream's position back.
func (r *Rebaser) Rewrite(h *rtp.Header, now time.Time) {
	if !r.started || r.switched || h.SSRC != r.src {
		seq, ts := r.lastSeq+1, r.lastTS
		if r.started {
			ts += r.advance(now)
		}
		r.seqOff, r.tsOff = seq-h.SequenceNumber, ts-h.Timestamp
		r.src, r.switched = h.SSRC, false
		h.Marker = true
		// The first packet of a source is the newest whatever its number.
		r.lastSeq = seq - 1
	}
	h.SSRC = r.ssrc
	h.SequenceNumber += r.seqOff
	h.Timestamp += r.tsOff
	if !r.started || int16(h.SequenceNumber-r.lastSeq) > 0 {
		r.lastSeq, r.lastTS, r.lastAt = h.SequenceNumber, h.Timestamp, now
	}
	r.started = true
}

// advance is how far the timestamp moves at a source change: the time
// since the last packet out, at least one packet's worth.
func (r *Rebaser) advance(now time.Time) uint32 {
	const perSample = time.Second / SampleRate
	elapsed := now.Sub(r.lastAt)
	if elapsed <= PacketInterval {
		return SamplesPerPacket
	}
	return uint32(int64(elapsed / perSample)) // wraps like any RTP timestamp
}
