package main

import (
	"strings"
	"testing"

	"github.com/canvass/canvass/config"
)

// The console is a phone only with something to dial through, and the
// banner says which, or what to set.
func TestPhoneVia(t *testing.T) {
	for _, c := range []struct {
		name    string
		set     func(*config.Config)
		via     string
		err     string
		hintHas string
	}{
		{"defaults: no trunk", func(*config.Config) {}, "", "", "CANVASS_SIP_TRUNK_URI"},
		{"a trunk", func(c *config.Config) { c.SIP.Trunk.URI = "sip:127.0.0.1:5091" }, "sip", "", "SIP trunk sip:127.0.0.1:5091"},
		{"asterisk", func(c *config.Config) { c.ARI.URL = "http://127.0.0.1:8088/ari" }, "ari", "", "PJSIP/{number}@trunk"},
		{"webrtc off", func(c *config.Config) { c.SIP.Trunk.URI, c.WebRTC.Listen = "sip:x", "" }, "", "", "webrtc.listen"},
		{"sip asked, no trunk", func(c *config.Config) { c.Phone.Via = "sip" }, "", "sip.trunk.uri", "sip.trunk.uri"},
		{"ari asked, none", func(c *config.Config) { c.Phone.Via = "ari" }, "", "ari.url", "ari.url"},
	} {
		cfg := config.Default()
		c.set(&cfg)
		via, err := phoneVia(cfg)
		if via != c.via || (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %q %v, want %q %q", c.name, via, err, c.via, c.err)
		}
		if h := phoneHint(cfg); !strings.Contains(h, c.hintHas) {
			t.Errorf("%s: hint %q lacks %q", c.name, h, c.hintHas)
		}
	}
}

func TestDialerHint(t *testing.T) {
	for _, c := range []struct {
		name    string
		set     func(*config.Config)
		hintHas string
	}{
		{"defaults: no trunk", func(*config.Config) {}, "CANVASS_SIP_TRUNK_URI"},
		{"a trunk", func(c *config.Config) { c.SIP.Trunk.URI = "sip:127.0.0.1:5091" }, "through the SIP trunk sip:127.0.0.1:5091"},
		{"asterisk", func(c *config.Config) { c.ARI.URL = "http://127.0.0.1:8088/ari" }, "through Asterisk as PJSIP/{number}@trunk"},
		{"off", func(c *config.Config) { c.Dialer.Via = "off" }, "preview only"},
	} {
		cfg := config.Default()
		c.set(&cfg)
		if h := dialerHint(cfg); !strings.Contains(h, c.hintHas) {
			t.Errorf("%s: hint %q lacks %q", c.name, h, c.hintHas)
		}
	}
}
