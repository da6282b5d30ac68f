// Symmetric RTP latching and its probation for sources other than the
// SDP address.

package sipua

import (
	"net/netip"
	"testing"

	"github.com/pion/rtp"
)

// The receiver takes the caller's source from the SDP address at once, or
// from another address (a NAT) after a run of in-sequence packets; a
// sender that gets in first with anything else does not capture the call.
func TestLatching(t *testing.T) {
	sdp := netip.MustParseAddrPort("127.0.0.1:4000")
	nat := netip.MustParseAddrPort("192.0.2.7:61000")
	evil := netip.MustParseAddrPort("198.51.100.9:5004")
	type pkt struct {
		from netip.AddrPort
		seq  uint16
	}
	seqs := func(from netip.AddrPort, first uint16, n int) []pkt {
		var out []pkt
		for i := range n {
			out = append(out, pkt{from, first + uint16(i)})
		}
		return out
	}
	tests := []struct {
		name    string
		packets []pkt
		want    netip.AddrPort // latched source; zero for none
	}{
		{"from the SDP address", seqs(sdp, 10, 1), sdp},
		{"behind a NAT: after probation", seqs(nat, 10, probation), nat},
		{"behind a NAT: not before", seqs(nat, 10, probation-1), netip.AddrPort{}},
		{"a stranger first, then the caller", append([]pkt{{evil, 1}, {evil, 9}, {evil, 3}}, seqs(sdp, 500, 1)...), sdp},
		{"a stranger out of sequence never wins", []pkt{{evil, 1}, {evil, 3}, {evil, 5}, {evil, 7}, {evil, 9}, {evil, 11}}, netip.AddrPort{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := benchCall(t, 101)
			st := *c.recv.Load()
			st.peer = sdp
			c.recv.Store(&st)
			r := receiver{c: c, emit: func(rune) {}}
			pcm := make([]int16, maxPacket)
			buf := make([]byte, 200)
			for _, p := range tt.packets {
				h := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: p.seq, Timestamp: uint32(p.seq) * 160, SSRC: 1}, Payload: make([]byte, 160)}
				n, _ := h.MarshalTo(buf)
				r.packet(buf[:n], p.from, pcm)
			}
			if got := r.latched; !r.haveSrc && tt.want.IsValid() || r.haveSrc && got != tt.want {
				t.Errorf("latched %v (%v), want %v", got, r.haveSrc, tt.want)
			}
			if r.haveSrc && c.send.Load().dst != tt.want {
				t.Errorf("RTP goes to %v, want the latched %v", c.send.Load().dst, tt.want)
			}
		})
	}
}
