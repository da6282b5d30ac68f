// RFC 4733: one key per event, whatever the repeats and losses.

package media

import "testing"

// packets builds the RFC 4733 packets of one key as baresip sends it:
// updates every 20 ms, then three end packets, all with the key's start
// timestamp.
func keyPackets(code uint8, ts uint32) []struct {
	ts uint32
	p  []byte
} {
	var out []struct {
		ts uint32
		p  []byte
	}
	for d := uint16(160); d <= 800; d += 160 {
		out = append(out, struct {
			ts uint32
			p  []byte
		}{ts, AppendEvent(nil, Event{Code: code, Volume: 10, Duration: d})})
	}
	for range 3 {
		out = append(out, struct {
			ts uint32
			p  []byte
		}{ts, AppendEvent(nil, Event{Code: code, End: true, Volume: 10, Duration: 960})})
	}
	return out
}

func TestEventReceiver(t *testing.T) {
	type pkt = struct {
		ts uint32
		p  []byte
	}
	seq := func(parts ...[]pkt) []pkt {
		var all []pkt
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	key5, key5again, hash := keyPackets(5, 1000), keyPackets(5, 9000), keyPackets(11, 17000)
	noEnd := keyPackets(1, 30000)[:5]
	tests := []struct {
		name    string
		packets []pkt
		want    string
	}{
		{"one key, three end packets", key5, "5"},
		{"same digit twice", seq(key5, key5again), "55"},
		{"late duplicate end after the next key", seq(key5, hash, key5[len(key5)-1:]), "5#"},
		{"end packets lost: reported when the next key starts", seq(noEnd, keyPackets(11, 40000)), "1#"},
		{"only an end packet", keyPackets(10, 500)[5:6], "*"},
		{"short payload and unknown event ignored", []pkt{{1, []byte{1, 2}}, {2, AppendEvent(nil, Event{Code: 16, End: true})}}, ""},
		{"timestamp wraps", seq(keyPackets(2, 0xFFFFFF00), keyPackets(3, 0x100)), "23"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r EventReceiver
			got := ""
			for _, p := range tt.packets {
				r.Packet(p.ts, p.p, func(d rune) { got += string(d) })
			}
			if got != tt.want {
				t.Errorf("keys %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEventReceiverAudioFlush(t *testing.T) {
	var r EventReceiver
	got := ""
	emit := func(d rune) { got += string(d) }
	for _, p := range keyPackets(7, 5000)[:5] { // no end packets
		r.Packet(p.ts, p.p, emit)
	}
	r.Audio(5000+800+800, emit) // 100 ms past the last duration: still pending
	if got != "" {
		t.Fatalf("reported %q too early", got)
	}
	r.Audio(5000+800+1700, emit)
	r.Audio(5000+800+1860, emit)
	if got != "7" {
		t.Errorf("keys %q, want one 7", got)
	}
}

// When the peer's stream restarts (new SSRC, or moved by a re-INVITE), a
// key whose end packets were lost with the old stream is reported, the new
// stream's keys count even just behind the old timestamps, and a late end
// packet of the old key does not repeat it.
func TestEventReceiverRestart(t *testing.T) {
	var r EventReceiver
	got := ""
	emit := func(d rune) { got += string(d) }
	old := keyPackets(4, 50000)
	for _, p := range old[:5] { // no end packets yet
		r.Packet(p.ts, p.p, emit)
	}
	r.Restart(emit)
	if got != "4" {
		t.Fatalf("keys %q after the restart, want the pending 4", got)
	}
	for _, p := range keyPackets(6, 50000-8000) { // one second behind
		r.Packet(p.ts, p.p, emit)
	}
	r.Packet(old[5].ts, old[5].p, emit) // the old key's end, late
	if got != "46" {
		t.Errorf("keys %q, want \"46\"", got)
	}
}

func TestDigitEvents(t *testing.T) {
	for _, d := range "0123456789*#ABCD" {
		code, ok := DigitEvent(d)
		if back, ok2 := EventDigit(code); !ok || !ok2 || back != d {
			t.Errorf("%c -> %d -> %c", d, code, back)
		}
	}
	if _, ok := DigitEvent('x'); ok {
		t.Error("x is not a key")
	}
}
