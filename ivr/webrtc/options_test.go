package webrtc_test

import (
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr/webrtc"
)

func TestOptionsValidate(t *testing.T) {
	if err := webrtc.DefaultOptions().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if err := (webrtc.Options{}).Validate(); err != nil {
		t.Errorf("off (no listen) should need nothing else: %v", err)
	}
	turn := func(urls ...string) []webrtc.ICEServer {
		return []webrtc.ICEServer{{URLs: urls, Username: "u", Credential: "c"}}
	}
	for _, tc := range []struct {
		name  string
		edit  func(*webrtc.Options)
		field string // "" = valid
	}{
		{"any interface", func(o *webrtc.Options) { o.Listen = "0.0.0.0:40000" }, ""},
		{"public ips", func(o *webrtc.Options) { o.PublicIPs = []string{"203.0.113.7"} }, ""},
		{"turn and stun", func(o *webrtc.Options) {
			o.TURN = turn("turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349?transport=tcp", "stun:stun.example.com")
		}, ""},
		{"stun without credentials", func(o *webrtc.Options) { o.TURN = []webrtc.ICEServer{{URLs: []string{"stun:192.0.2.1:3478"}}} }, ""},
		{"listen not an address", func(o *webrtc.Options) { o.Listen = "localhost" }, "webrtc.listen"},
		{"listen host name", func(o *webrtc.Options) { o.Listen = "localhost:40000" }, "webrtc.listen"},
		{"listen ipv6", func(o *webrtc.Options) { o.Listen = "[::1]:40000" }, "webrtc.listen"},
		{"listen bad port", func(o *webrtc.Options) { o.Listen = "127.0.0.1:70000" }, "webrtc.listen"},
		{"public ip name", func(o *webrtc.Options) { o.PublicIPs = []string{"example.com"} }, "webrtc.public_ips"},
		{"public ip unspecified", func(o *webrtc.Options) { o.PublicIPs = []string{"0.0.0.0"} }, "webrtc.public_ips"},
		{"turn no urls", func(o *webrtc.Options) { o.TURN = turn() }, "webrtc.turn[0].urls"},
		{"turn http", func(o *webrtc.Options) { o.TURN = turn("https://turn.example.com") }, "webrtc.turn[0].urls"},
		{"turn no host", func(o *webrtc.Options) { o.TURN = turn("turn:") }, "webrtc.turn[0].urls"},
		{"turn bad query", func(o *webrtc.Options) { o.TURN = turn("turn:t.example.com?transport=sctp") }, "webrtc.turn[0].urls"},
		{"turn bad port", func(o *webrtc.Options) { o.TURN = turn("turn:t.example.com:0") }, "webrtc.turn[0].urls"},
		{"turn no credential", func(o *webrtc.Options) {
			o.TURN = []webrtc.ICEServer{{URLs: []string{"turn:t.example.com"}, Username: "u"}}
		}, "webrtc.turn[0].username"},
		{"disconnected", func(o *webrtc.Options) { o.DisconnectedTimeout = 0 }, "webrtc.disconnected_timeout"},
		{"failed", func(o *webrtc.Options) { o.FailedTimeout = time.Millisecond }, "webrtc.failed_timeout"},
		{"connect", func(o *webrtc.Options) { o.ConnectTimeout = -time.Second }, "webrtc.connect_timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := webrtc.DefaultOptions()
			tc.edit(&o)
			err := o.Validate()
			switch {
			case tc.field == "" && err != nil:
				t.Errorf("valid options refused: %v", err)
			case tc.field != "" && (err == nil || !strings.Contains(err.Error(), tc.field+":")):
				t.Errorf("got %v, want a problem with %s", err, tc.field)
			}
		})
	}
	// Every problem at once.
	o := webrtc.Options{Listen: "x", PublicIPs: []string{"y"}}
	if err := o.Validate(); err == nil || strings.Count(err.Error(), "\n") < 4 {
		t.Errorf("want every problem, got %v", err)
	}
}

// ICEServers hands the browser the configured servers, credential
// included (the browser needs it), and a copy.
func TestICEServers(t *testing.T) {
	o := webrtc.DefaultOptions()
	o.Listen = "127.0.0.1:0"
	o.TURN = []webrtc.ICEServer{{URLs: []string{"turn:turn.example.com:3478"}, Username: "u", Credential: "c"}}
	s, err := webrtc.New(o, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := s.ICEServers()
	if len(got) != 1 || got[0].URLs[0] != "turn:turn.example.com:3478" || got[0].Username != "u" || got[0].Credential != "c" {
		t.Fatalf("got %+v", got)
	}
	got[0].URLs[0] = "changed"
	if s.ICEServers()[0].URLs[0] != "turn:turn.example.com:3478" {
		t.Error("ICEServers returns the server's own slice")
	}
	if _, err := webrtc.New(webrtc.Options{}, quietLogger()); err == nil {
		t.Error("New with WebRTC off should fail")
	}
}
