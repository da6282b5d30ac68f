package sipua

// Unit tests of the endpoint's pure parts: options, what an INVITE puts in
// the interview's context, digest nonces, Q.850 causes.

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestDefaultOptionsAreValid(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Fatal(err)
	}
}

// rtp_ports is a range of at least two ports, or 0 for any free port.
func TestRTPPorts(t *testing.T) {
	for _, tt := range []struct {
		ports string
		ok    bool
	}{
		{"20000-29999", true}, {"0", true}, {"40000-40001", true},
		{"", false}, {"0-0", false}, {"30000-30000", false}, {"30000-20000", false}, {"80-90", false}, {"20000", false},
	} {
		o := DefaultOptions()
		o.RTPPorts = tt.ports
		if err := o.Validate(); (err == nil) != tt.ok {
			t.Errorf("rtp_ports %q: %v", tt.ports, err)
		}
	}
}

// With rtp_ports 0, each call's socket gets a port the system picks.
func TestListenRTPAnyPort(t *testing.T) {
	o := DefaultOptions()
	o.RTPPorts = "0"
	s := &Server{opts: o, rtpIP: netip.MustParseAddr("127.0.0.1")}
	var err error
	if s.rtpLo, s.rtpHi, err = parsePorts(o.RTPPorts); err != nil {
		t.Fatal(err)
	}
	a, err := s.listenRTP()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := s.listenRTP()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pa, pb := a.LocalAddr().(*net.UDPAddr).Port, b.LocalAddr().(*net.UDPAddr).Port
	if pa == 0 || pb == 0 || pa == pb {
		t.Errorf("ports %d and %d", pa, pb)
	}
}

// Validate reports every problem at once, each naming its field.
func TestOptionsValidate(t *testing.T) {
	o := DefaultOptions()
	o.Addr = "0.0.0.0:5060" // every interface, and no advertise_addr
	o.RTPPorts = "30000-20000"
	o.Routes = map[string]string{"survey": ""}
	o.MaxCalls = 0
	o.AllowFrom = []string{"10.0.0.0/8", "not-a-network"}
	o.Username = "pbx" // no password
	o.RTPTimeout = 0
	o.MaxRecording = 0
	o.Trunk = TrunkOptions{URI: "http://pbx", Password: "x", FromUser: "a b", FromDisplay: `Acme "Surveys"`, FromHost: "a;b"}
	o.AMD.Greeting, o.AMD.SilenceThreshold = 0, -1
	err := o.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, field := range []string{"sip.advertise_addr", "sip.rtp_ports", "sip.routes", "sip.max_calls", "sip.allow_from",
		"sip.username", "sip.rtp_timeout", "sip.max_recording", "sip.trunk.uri", "sip.trunk.username",
		"sip.trunk.from_user", "sip.trunk.from_display", "sip.trunk.from_host", "sip.trunk.ring_timeout",
		"sip.amd.greeting", "sip.amd.silence_threshold"} {
		if !strings.Contains(err.Error(), field+":") {
			t.Errorf("no problem reported for %s in:\n%v", field, err)
		}
	}
	if strings.Contains(err.Error(), "not-a-network") == false {
		t.Errorf("the bad CIDR is not named:\n%v", err)
	}
}

func TestCallInfo(t *testing.T) {
	s := &Server{opts: DefaultOptions()}
	s.opts.Routes = map[string]string{"5000": "post-call"}
	parse := func(raw string) *sip.Request {
		t.Helper()
		msg, err := sip.NewParser().ParseSIP([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		return msg.(*sip.Request)
	}
	base := "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\nFrom: \"Alice\" <sip:+15550001@pbx>;tag=1\nTo: <sip:x@canvass>\nCall-ID: abc@pbx\nCSeq: 1 INVITE\n"
	tests := []struct {
		name, raw                string
		questionnaire, language  string
		agent, queue, caller, id string
		extra                    map[string]string
	}{
		{name: "routed, context from headers",
			raw:           "INVITE sip:5000@canvass SIP/2.0\n" + base + "X-Canvass-Agent: SIP/1001\nX-Canvass-Queue: billing\nX-Canvass-Call-Id: 1700000000.42\nX-Canvass-Language: FR\nX-Canvass-Campaign-Name: spring\nContent-Length: 0\n\n",
			questionnaire: "post-call", language: "fr", agent: "SIP/1001", queue: "billing", caller: "+15550001", id: "1700000000.42",
			extra: map[string]string{"campaign_name": "spring", "sip_call_id": "abc@pbx"}},
		{name: "context from URI parameters, user as questionnaire",
			raw:           "INVITE sip:csat@canvass;agent=SIP%2F2002;queue=sales;lang=en;call_id=77 SIP/2.0\n" + base + "Content-Length: 0\n\n",
			questionnaire: "csat", language: "en", agent: "SIP/2002", queue: "sales", caller: "+15550001", id: "77"},
		{name: "headers win over parameters; P-Asserted-Identity names the caller",
			raw:           "INVITE sip:5000@canvass;agent=param SIP/2.0\n" + base + "X-Canvass-Agent: header\nP-Asserted-Identity: \"Bob\" <sip:+4420790000@carrier;user=phone>\nContent-Length: 0\n\n",
			questionnaire: "post-call", agent: "header", caller: "+4420790000"},
		{name: "tel: P-Asserted-Identity",
			raw:           "INVITE sip:5000@canvass SIP/2.0\n" + base + "P-Asserted-Identity: <tel:+33140000000;cpc=ordinary>\nContent-Length: 0\n\n",
			questionnaire: "post-call", caller: "+33140000000"},
		{name: "control characters and long values are cut",
			raw:           "INVITE sip:5000@canvass SIP/2.0\n" + base + "X-Canvass-Queue: a\x01b\x7fc" + strings.Repeat("x", 300) + "\nContent-Length: 0\n\n",
			questionnaire: "post-call", queue: "abc" + strings.Repeat("x", 197), caller: "+15550001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := s.callInfo(parse(tt.raw))
			c := info.Context
			if info.Questionnaire != tt.questionnaire || info.Language != tt.language || c.Agent != tt.agent || c.Queue != tt.queue ||
				tt.caller != "" && c.CallerNumber != tt.caller || c.CallID != tt.id {
				t.Errorf("got %+v", info)
			}
			for k, v := range tt.extra {
				if c.Extra[k] != v {
					t.Errorf("extra %s = %q, want %q (all %v)", k, c.Extra[k], v, c.Extra)
				}
			}
		})
	}
	s.opts.DefaultQuestionnaire = "fallback"
	if info := s.callInfo(parse("INVITE sip:9999@canvass SIP/2.0\n" + base + "Content-Length: 0\n\n")); info.Questionnaire != "fallback" {
		t.Errorf("an unrouted user goes to %q, want the default questionnaire", info.Questionnaire)
	}
}

func TestNonces(t *testing.T) {
	s := &Server{}
	copy(s.nonceKey[:], "key")
	now := time.Now()
	n := s.nonce(now)
	if ours, stale := s.checkNonce(n, now.Add(time.Minute)); !ours || stale {
		t.Errorf("fresh nonce: ours %v stale %v", ours, stale)
	}
	if ours, stale := s.checkNonce(n, now.Add(10*time.Minute)); !ours || !stale {
		t.Errorf("old nonce: ours %v stale %v", ours, stale)
	}
	forged := strings.Replace(n, n[:3], "fff", 1)
	if ours, _ := s.checkNonce(forged, now); ours {
		t.Error("a forged nonce passed")
	}
	other := &Server{}
	copy(other.nonceKey[:], "another node")
	if ours, _ := other.checkNonce(n, now); ours {
		t.Error("a nonce from another key passed")
	}
}

func TestQ850Cause(t *testing.T) {
	for _, tt := range []struct {
		reasons []string
		want    int
	}{
		{[]string{`Q.850;cause=17;text="User busy"`}, 17},
		{[]string{`SIP;cause=486`, `Q.850 ; cause = 19`}, 19},
		{[]string{`SIP;cause=200;text="Call completed elsewhere", Q.850;cause=26`}, 26},
		{[]string{`Q.850;cause=abc`}, 0},
		{nil, 0},
	} {
		r := sip.NewResponse(486, "Busy Here")
		for _, v := range tt.reasons {
			r.AppendHeader(sip.NewHeader("Reason", v))
		}
		if got := q850Cause(r); got != tt.want {
			t.Errorf("%q: cause %d, want %d", tt.reasons, got, tt.want)
		}
	}
}

// sip.limits: each bad value is named by its field.
func TestLimitOptions(t *testing.T) {
	for _, tt := range []struct {
		limits LimitOptions
		field  string // "" when valid
	}{
		{LimitOptions{Rate: 50, Burst: 200, Ban: time.Minute}, ""},
		{LimitOptions{}, ""}, // off
		{LimitOptions{Rate: 0.5, Burst: 1, Exempt: []string{"10.0.0.5", "2001:db8::/32"}}, ""},
		{LimitOptions{Rate: -1, Burst: 1}, "sip.limits.rate"},
		{LimitOptions{Rate: 10}, "sip.limits.burst"},
		{LimitOptions{Rate: 10, Burst: 5, Ban: -time.Second}, "sip.limits.ban"},
		{LimitOptions{Exempt: []string{"pbx.example.com"}}, "sip.limits.exempt"},
	} {
		o := DefaultOptions()
		o.Limits = tt.limits
		err := o.Validate()
		if tt.field == "" && err != nil || tt.field != "" && (err == nil || !strings.Contains(err.Error(), tt.field)) {
			t.Errorf("%+v: %v, want an error naming %q", tt.limits, err, tt.field)
		}
	}
}
