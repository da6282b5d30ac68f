package phone

import (
	"strings"
	"testing"
	"time"
)

func TestOptionsName(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		set  func(*Options)
		says string
	}{
		{func(o *Options) { o.Via = "pstn" }, `phone.via: "pstn" is not auto, sip, ari or off`},
		{func(o *Options) { o.Via, o.ARIDial = "ari", "PJSIP/trunk" }, "phone.ari_dial"},
		{func(o *Options) { o.Grace = 0 }, "phone.grace"},
		{func(o *Options) { o.RingTimeout = 5 * time.Second }, "phone.ring_timeout: 5s must be from 15s"},
	} {
		o := DefaultOptions()
		c.set(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%+v: %v, want %q", o, err, c.says)
		}
	}
}
