package asterisk

import (
	"testing"
)

// FuzzRTPAddr: whatever the externalMedia channel's variables say, rtpAddr
// gives an address RTP can be sent to, or an error.
func FuzzRTPAddr(f *testing.F) {
	for _, seed := range [][2]string{{"127.0.0.1", "10042"}, {"[::1]", "4000"}, {"0.0.0.0", "1"}, {"", ""},
		{"::ffff:10.0.0.1", "65535"}, {"127.0.0.1", "65536"}, {"host", "-1"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, addr, port string) {
		ap, err := rtpAddr(map[string]string{"UNICASTRTP_LOCAL_ADDRESS": addr, "UNICASTRTP_LOCAL_PORT": port})
		if err != nil {
			return
		}
		if !ap.IsValid() || ap.Addr().IsUnspecified() || ap.Port() == 0 || ap.Addr().Is4In6() {
			t.Errorf("rtpAddr(%q, %q) = %v", addr, port, ap)
		}
	})
}
