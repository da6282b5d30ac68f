package sipua

// This file sends keys to the far end (SendDigits): the console's keypad,
// to get through a switchboard. Digits go out on the call's own packet
// clock, from the sender: as RFC 4733 telephone-events when the
// peer negotiated them, else as DTMF tones in the audio. Either way a digit
// takes the call's packet slots while it lasts (RFC 4733 §2.5.1.1: the
// audio pauses during an event), so the frames a bridge writes to the leg
// for those slots are dropped rather than held back: the bridge loses the
// digit's duration of audio and no delay builds up behind it.

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/survey"
)

// A digit's packets, 20 ms each.
const (
	digitOn  = 5 // event updates of growing duration, or the tone: 100 ms
	digitEnd = 3 // end packets (RFC 4733 §2.5.1.4), or silence after the tone
	digitGap = 2 // packets of the call's own audio between two digits
	// eventVolume is the events' power, in -dBm0 (a usual keypad level).
	eventVolume = 10
	// toneAmplitude is each of an in-band digit's two tones (about -16
	// dBFS each), well above what media.Detector needs.
	toneAmplitude = 5000
)

// keypadDigits are the digits SendDigits accepts.
const keypadDigits = "0123456789*#ABCD"

// keying is one SendDigits call, handed to the sender.
type keying struct {
	digits string
	stop   atomic.Bool   // the caller gave up: finish the digit being sent, start no other
	done   chan struct{} // closed by the sender once the last packet is out
	once   sync.Once
}

func (k *keying) finish() {
	if k != nil {
		k.once.Do(func() { close(k.done) })
	}
}

// digitState is the sender's place in a keying.
type digitState struct {
	job    *keying
	rest   int    // slots of audio still due after the last digit sent
	i      int    // index of the digit being sent
	slot   int    // packet of that digit's cycle (on, end, gap)
	ts     uint32 // RTP timestamp of the digit's start: its events carry it
	events bool   // the digit goes as RFC 4733 events (decided as it starts)
	pt     uint8  // their payload type then: a re-INVITE does not split a digit
	pcm    [media.SamplesPerPacket]int16
}

// SendDigits sends digits (0-9, *, #, A-D) to the far end one after the
// other: RFC 4733 telephone-events when the call negotiated them (each
// digit 100 ms of updates sharing its start timestamp, the first marked,
// then three end packets), else DTMF tones in the audio (100 ms of tone,
// 60 ms of silence). Two packets of the call's own audio separate digits,
// of one call or of two. While a digit lasts the call's audio pauses:
// frames written to its Leg for those slots are dropped, a playing prompt
// waits. On hold, nothing reaches the peer. It returns once the
// last digit is out; a string holding anything else is an EInvalid error
// naming the character, and nothing is sent. If ctx ends first, the digit
// being sent is finished, no other starts, and ctx's error is returned;
// if the call ends, media.ErrEnded. Concurrent calls take turns.
func (c *call) SendDigits(ctx context.Context, digits string) error {
	n := 0
	for _, d := range digits {
		if n++; !strings.ContainsRune(keypadDigits, d) {
			return survey.Errorf(survey.EInvalid, "cannot send %q (character %d of %q): digits are 0-9, *, #, A-D", d, n, digits)
		}
	}
	if c.ended() {
		return media.ErrEnded
	}
	if digits == "" {
		return nil
	}
	select {
	case c.keyTurn <- struct{}{}:
	case <-c.done:
		return media.ErrEnded
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.keyTurn }()
	k := &keying{digits: digits, done: make(chan struct{})}
	// A job still there was left by a caller that gave up before the
	// sender took it.
	c.keyNext.Swap(k).finish()
	select {
	case <-k.done:
		return nil
	case <-c.done:
		select {
		case <-k.done: // the last packet went out as the call ended
			return nil
		default:
			return media.ErrEnded
		}
	case <-ctx.Done():
		k.stop.Store(true)
		return ctx.Err()
	}
}

// digit fills and sends this slot's packet when it belongs to a digit, and
// reports whether it did; the caller then sends nothing else in the slot.
func (s *sender) digit(ss *sendState) bool {
	k := &s.keys
	if k.job == nil {
		if k.rest > 0 {
			k.rest-- // the gap after a digit holds between two calls too
			return false
		}
		if k.job = s.c.keyNext.Swap(nil); k.job == nil {
			return false
		}
		k.i, k.slot = 0, 0
	}
	if k.slot == digitOn+digitEnd+digitGap {
		k.i, k.slot = k.i+1, 0
	}
	if k.slot == 0 && (k.i == len(k.job.digits) || k.job.stop.Load()) {
		k.job.finish()
		k.job = nil
		return false
	}
	if k.slot >= digitOn+digitEnd {
		k.slot++ // the gap: the call's audio
		return false
	}
	d := rune(k.job.digits[k.i])
	if k.slot == 0 {
		k.ts, k.events, k.pt = s.pkt.Timestamp, ss.eventPT >= 0, uint8(max(ss.eventPT, 0))
	}
	clock := s.pkt.Timestamp
	if k.events {
		code, _ := media.DigitEvent(d)
		ev := media.Event{Code: code, Volume: eventVolume, End: k.slot >= digitOn,
			Duration: uint16(min(k.slot+1, digitOn) * media.SamplesPerPacket)}
		s.pkt.PayloadType, s.pkt.Timestamp, s.pkt.Payload = k.pt, k.ts, media.AppendEvent(s.payload[:0], ev)
	} else {
		if k.slot < digitOn {
			media.Tone(k.pcm[:], d, toneAmplitude, k.slot*media.SamplesPerPacket)
		} else {
			clear(k.pcm[:])
		}
		ss.codec.Encode(s.payload, k.pcm[:])
		s.pkt.PayloadType, s.pkt.Payload = ss.pt, s.payload
	}
	s.pkt.Marker = k.slot == 0
	s.write(ss)
	s.pkt.SequenceNumber++
	s.pkt.Timestamp = clock + media.SamplesPerPacket
	s.talkspurt = true // the audio after a digit starts a talkspurt
	k.slot++
	if k.slot == digitOn+digitEnd && (k.i == len(k.job.digits)-1 || k.job.stop.Load()) {
		k.job.finish() // its last packet is out
		k.job, k.rest = nil, digitGap
	}
	return true
}
