package media

// This file is RFC 4733 telephone-events: the 4-byte payload, the digit
// each event code stands for, and EventReceiver, which turns a stream of
// event packets (each key sent as many packets sharing one RTP timestamp,
// the last three usually repeated end packets) into one digit per key.

import "encoding/binary"

// Event is one RFC 4733 event payload.
type Event struct {
	Code     uint8 // 0-9, 10 = *, 11 = #, 12-15 = A-D
	End      bool
	Volume   uint8  // 0-63, in -dBm0
	Duration uint16 // in RTP timestamp units (1/8000 s)
}

// ParseEvent reads the first event of a telephone-event payload.
func ParseEvent(p []byte) (Event, bool) {
	if len(p) < 4 {
		return Event{}, false
	}
	return Event{Code: p[0], End: p[1]&0x80 != 0, Volume: p[1] & 0x3F, Duration: binary.BigEndian.Uint16(p[2:])}, true
}

// AppendEvent appends e's 4-byte payload to dst.
func AppendEvent(dst []byte, e Event) []byte {
	b := e.Volume & 0x3F
	if e.End {
		b |= 0x80
	}
	return append(dst, e.Code, b, byte(e.Duration>>8), byte(e.Duration))
}

// EventDigit is the keypad digit of an event code; ok is false for events
// that are not keys (flash, tones).
func EventDigit(code uint8) (rune, bool) {
	switch {
	case code <= 9:
		return rune('0' + code), true
	case code == 10:
		return '*', true
	case code == 11:
		return '#', true
	case code <= 15:
		return rune('A' + code - 12), true
	}
	return 0, false
}

// DigitEvent is the event code of a keypad digit.
func DigitEvent(d rune) (uint8, bool) {
	switch {
	case d >= '0' && d <= '9':
		return uint8(d - '0'), true
	case d == '*':
		return 10, true
	case d == '#':
		return 11, true
	case d >= 'A' && d <= 'D':
		return uint8(d-'A') + 12, true
	case d >= 'a' && d <= 'd':
		return uint8(d-'a') + 12, true
	}
	return 0, false
}

// EventReceiver yields each key once. A key is reported on its first end
// packet; a key whose end packets were all lost is reported when the next
// key starts, or when audio resumes well after it.
type EventReceiver struct {
	have     bool
	ts       uint32 // RTP timestamp of the current event (its start)
	code     uint8
	duration uint16
	reported bool
	recent   [4]uint32 // timestamps of recently reported events, against late duplicates
	next     int
	filled   int // how many of recent are set
}

func (r *EventReceiver) seen(ts uint32) bool {
	for _, t := range r.recent[:r.filled] {
		if t == ts {
			return true
		}
	}
	return false
}

func (r *EventReceiver) report(emit func(rune)) {
	r.reported = true
	r.recent[r.next] = r.ts
	r.next = (r.next + 1) % len(r.recent)
	r.filled = min(r.filled+1, len(r.recent))
	if d, ok := EventDigit(r.code); ok {
		emit(d)
	}
}

// Packet handles one telephone-event packet with RTP timestamp ts and
// calls emit for each key it completes.
func (r *EventReceiver) Packet(ts uint32, payload []byte, emit func(rune)) {
	e, ok := ParseEvent(payload)
	if !ok || e.Code > 15 {
		return
	}
	if r.have && ts == r.ts {
		r.duration = max(r.duration, e.Duration)
		if e.End && !r.reported {
			r.report(emit)
		}
		return
	}
	if r.seen(ts) || r.have && int32(ts-r.ts) < 0 {
		return // a late packet of an event already over
	}
	if r.have && !r.reported {
		r.report(emit) // its end packets were lost
	}
	r.have, r.ts, r.code, r.duration, r.reported = true, ts, e.Code, e.Duration, false
	if e.End {
		r.report(emit)
	}
}

// Restart tells the receiver that the peer's stream restarted (a new SSRC,
// a re-INVITE moved it, its timestamps jumped far back): the next event
// starts afresh whatever its timestamp. A pending key is reported, since its end packets went with
// the old stream; late packets of reported keys are still recognized.
func (r *EventReceiver) Restart(emit func(rune)) {
	if r.have && !r.reported {
		r.report(emit)
	}
	r.have = false
}

// Audio tells the receiver that an audio packet with timestamp ts arrived:
// a pending key whose end never came is reported once audio is 200 ms past
// its last known duration.
func (r *EventReceiver) Audio(ts uint32, emit func(rune)) {
	if r.have && !r.reported && int32(ts-r.ts) > int32(r.duration)+SampleRate/5 {
		r.report(emit)
	}
}
