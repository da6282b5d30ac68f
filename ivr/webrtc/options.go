package webrtc

// This file is the `webrtc` section of the configuration: where the one
// ICE port listens, the public address to announce behind NAT, the
// TURN/STUN servers handed to browsers, and ICE's patience.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Options configure the browser leg.
type Options struct {
	// Listen is the UDP address of the one ICE port every peer connection
	// shares (CANVASS_WEBRTC_LISTEN). Empty: WebRTC is off. Port 0 takes a
	// free port (tests).
	Listen string `yaml:"listen"`
	// PublicIPs replace the listen address in the candidates browsers are
	// given, for a server behind a 1:1 NAT (CANVASS_WEBRTC_PUBLIC_IPS,
	// comma-separated).
	PublicIPs []string `yaml:"public_ips"`
	// TURN lists TURN and STUN servers for the browser's RTCPeerConnection
	// (Server.ICEServers); the server itself needs none.
	TURN []ICEServer `yaml:"turn"`
	// DisconnectedTimeout is how long without a packet from the browser
	// before ICE says "disconnected"; FailedTimeout how much longer before
	// "failed", which ends the peer. A blip shorter than both survives.
	DisconnectedTimeout time.Duration `yaml:"disconnected_timeout"`
	FailedTimeout       time.Duration `yaml:"failed_timeout"`
	// ConnectTimeout ends a peer that was answered but never connected (the
	// page went away between offer and ICE).
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
}

// ICEServer is one TURN or STUN server as the browser's RTCIceServer wants
// it. Credential comes from the environment (CANVASS_WEBRTC_TURN_CREDENTIAL
// or its _FILE form), never from the file.
type ICEServer struct {
	URLs       []string `yaml:"urls" json:"urls"`
	Username   string   `yaml:"username" json:"username,omitempty"`
	Credential string   `yaml:"-" json:"credential,omitempty"`
}

// DefaultListen is the ICE port when none is configured: loopback, so that
// nothing is exposed until an operator opens it on purpose.
const DefaultListen = "127.0.0.1:40000"

// DefaultOptions are the options before any configuration is read.
func DefaultOptions() Options {
	return Options{
		Listen:              DefaultListen,
		DisconnectedTimeout: 5 * time.Second,
		FailedTimeout:       25 * time.Second,
		ConnectTimeout:      30 * time.Second,
	}
}

// Validate returns every problem of o at once. With no Listen WebRTC is
// off, and nothing else is checked.
func (o Options) Validate() error {
	if o.Listen == "" {
		return nil
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("webrtc.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if _, err := parseListen(o.Listen); err != nil {
		bad("listen", "%v", err)
	}
	for _, s := range o.PublicIPs {
		ip, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || ip.IsUnspecified() || !ip.Is4() {
			bad("public_ips", "%q must be an IPv4 address browsers can reach (ICE runs on UDP4)", s)
		}
	}
	for i, srv := range o.TURN {
		field := fmt.Sprintf("turn[%d]", i)
		if len(srv.URLs) == 0 {
			bad(field+".urls", "at least one stun:, turn: or turns: URL")
		}
		turn := false
		for _, u := range srv.URLs {
			scheme, err := checkICEURL(u)
			if err != nil {
				bad(field+".urls", "%v", err)
			}
			turn = turn || strings.HasPrefix(scheme, "turn")
		}
		if turn && (srv.Username == "" || srv.Credential == "") {
			bad(field+".username", "a TURN server needs a username and a credential (CANVASS_WEBRTC_TURN_CREDENTIAL)")
		}
	}
	if o.DisconnectedTimeout < time.Second {
		bad("disconnected_timeout", "%s must be at least 1s", o.DisconnectedTimeout)
	}
	if o.FailedTimeout < time.Second {
		bad("failed_timeout", "%s must be at least 1s", o.FailedTimeout)
	}
	if o.ConnectTimeout < time.Second {
		bad("connect_timeout", "%s must be at least 1s", o.ConnectTimeout)
	}
	return errors.Join(errs...)
}

// parseListen reads "ip:port" (port 0 allowed: tests).
func parseListen(addr string) (netip.AddrPort, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: %v", addr, err)
	}
	ip, err := netip.ParseAddr(h)
	if err != nil || !ip.Is4() {
		return netip.AddrPort{}, fmt.Errorf("%q: the host must be an IPv4 address (ICE runs on UDP4)", addr)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return netip.AddrPort{}, fmt.Errorf("%q: bad port", addr)
	}
	return netip.AddrPortFrom(ip, uint16(port)), nil
}

// checkICEURL accepts what RTCIceServer.urls holds (RFC 7064, RFC 7065):
// stun:host[:port], stuns:…, turn:host[:port][?transport=udp|tcp], turns:….
func checkICEURL(u string) (scheme string, err error) {
	scheme, rest, ok := strings.Cut(u, ":")
	switch {
	case !ok:
		return "", fmt.Errorf("%q is not a stun:, turn: or turns: URL", u)
	case scheme != "stun" && scheme != "stuns" && scheme != "turn" && scheme != "turns":
		return "", fmt.Errorf("%q: the scheme must be stun, stuns, turn or turns", u)
	}
	hostport, query, _ := strings.Cut(rest, "?")
	if query != "" && query != "transport=udp" && query != "transport=tcp" {
		return "", fmt.Errorf("%q: the only query allowed is transport=udp or transport=tcp", u)
	}
	if strings.HasPrefix(scheme, "stun") && query != "" {
		return "", fmt.Errorf("%q: a STUN URL takes no query", u)
	}
	host := hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q: bad port", u)
		}
		host = h
	}
	if host == "" || strings.ContainsAny(host, "/@ \t\r\n") {
		return "", fmt.Errorf("%q: no host", u)
	}
	return scheme, nil
}
