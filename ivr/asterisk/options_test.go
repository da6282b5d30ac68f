package asterisk

import (
	"strings"
	"testing"
)

func TestMediaAddressValidation(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1", true}, {"10.1.2.3", true}, {"::1", true},
		{"", false}, {"0.0.0.0", false}, {"::", false}, {"localhost", false}, {"127.0.0.1:4000", false},
		{"224.0.0.1", false}, {"fe80::1%eth0", false},
	} {
		o := DefaultOptions()
		o.URL, o.Username, o.Password = "http://127.0.0.1:8088/ari", "canvass", "secret"
		o.MediaAddress = tc.addr
		err := o.Validate()
		if tc.ok != (err == nil) {
			t.Errorf("media_address %q: %v, want ok=%v", tc.addr, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "ari.media_address") {
			t.Errorf("media_address %q: the error %q does not name the field", tc.addr, err)
		}
	}
}
