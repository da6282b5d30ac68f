package sipua

// This file is the `sip` section of the configuration.

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/canvass/canvass/ivr/media"
)

// Options configure the SIP endpoint.
type Options struct {
	// Addr is where SIP listens, on UDP and TCP (CANVASS_SIP_ADDR).
	Addr string `yaml:"addr"`
	// AdvertiseAddr is the IP address put in Contact headers and SDP; it is
	// required when Addr listens on every interface (0.0.0.0 or [::]).
	// Empty: Addr's IP.
	AdvertiseAddr string `yaml:"advertise_addr"`
	// TLSAddr is where SIP over TLS listens (TCP), e.g. 0.0.0.0:5061, with
	// the certificate chain and key of the PEM files TLSCert and TLSKey.
	// Empty: no TLS. Calls over TLS get a Contact with transport=tls, so
	// the caller's in-dialog requests (ACK, BYE) come back over TLS, and
	// ours leave on the caller's connection.
	TLSAddr string `yaml:"tls_addr"`
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// SRTP says whether the calls we answer encrypt their audio: off,
	// optional (when the caller offers it) or required (srtp.go). The
	// keys travel in the SDP: use it with SIP over TLS.
	SRTP SRTP `yaml:"srtp"`
	// RTPAddr is the IP RTP sockets bind to; empty: Addr's IP.
	RTPAddr string `yaml:"rtp_addr"`
	// RTPPorts is the range RTP sockets are taken from, "MIN-MAX": a port
	// per RTPCallsPerPort calls, and one per call still learning its
	// source (no RTCP is sent). "0" takes any free port the system picks
	// (tests, or hosts with no firewall to open).
	RTPPorts string `yaml:"rtp_ports"`
	// RTPCallsPerPort is how many calls share one RTP port (socket): their
	// packets are sent and received many per system call. 1: a port per
	// call.
	RTPCallsPerPort int `yaml:"rtp_calls_per_port"`

	// Routes maps a request-URI user to a questionnaire id. A user with no
	// route goes to DefaultQuestionnaire, or, when that is empty, to the
	// questionnaire named like the user.
	Routes               map[string]string `yaml:"routes"`
	DefaultQuestionnaire string            `yaml:"default_questionnaire"`

	// MaxCalls caps concurrent calls, inbound and outbound; beyond it
	// INVITEs get 503 with Retry-After.
	MaxCalls int `yaml:"max_calls"`

	// AllowFrom lists the networks (CIDR or single IP) trusted to send
	// INVITEs. Others get 403, or a digest challenge when Username and
	// Password are set. Default: loopback only. An empty list trusts no
	// address: every caller must authenticate.
	AllowFrom []string `yaml:"allow_from"`
	// Username and Password, when both set, let callers outside AllowFrom
	// authenticate with SIP digest (MD5, qop=auth) in Realm. The password
	// comes from the environment (CANVASS_SIP_PASSWORD or its _FILE form),
	// never from the file, and is never logged.
	Username string `yaml:"username"`
	Password string `yaml:"-"`
	Realm    string `yaml:"realm"`

	// RTPTimeout hangs up a call from which no RTP arrived for this long
	// (while the peer is supposed to send).
	RTPTimeout time.Duration `yaml:"rtp_timeout"`
	// AcceptTelephoneEvent negotiates RFC 4733 events when offered. When
	// false the answer leaves them out and keys are detected in the audio.
	AcceptTelephoneEvent bool `yaml:"accept_telephone_event"`
	// MaxRecording is a safety cap on one voice answer, whatever the
	// questionnaire asks (the engine stops recordings at their limit).
	MaxRecording time.Duration `yaml:"max_recording"`
	// ShutdownGrace is how long Run waits, after its context ends, for
	// calls to close their interviews before it hangs them up.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`

	// Limits protect the SIP port from floods and scanners.
	Limits LimitOptions `yaml:"limits"`

	// Trunk is where Dial places calls.
	Trunk TrunkOptions `yaml:"trunk"`
	// AMD are the parameters of answering-machine detection, which Dial
	// runs when a request asks for it (app_amd's, with its defaults).
	AMD media.AMDOptions `yaml:"amd"`
}

// LimitOptions are the per-source limits on what reaches the SIP port
// (UDP datagrams, TCP reads), checked before any parsing. A source is an
// IPv4 address or an IPv6 /64. Sources in AllowFrom or Exempt, and the
// trunk's address when it is an IP, are never limited: behind Kamailio,
// list the proxy in AllowFrom and the limits apply only to what reaches
// Canvass directly.
type LimitOptions struct {
	// Rate is the messages per second a source may send on average, Burst
	// how many it may send at once. Rate 0 turns the limits off.
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
	// Ban is how long a source that went over its rate is ignored
	// altogether (its datagrams dropped, its TCP connections closed). 0:
	// only the excess is dropped.
	Ban time.Duration `yaml:"ban"`
	// Exempt lists more networks (CIDR or single IP) never limited, e.g.
	// a trunk named by host name.
	Exempt []string `yaml:"exempt"`
}

// TrunkOptions say how outbound calls leave.
type TrunkOptions struct {
	// URI of the PBX or trunk, e.g. sip:pbx.example.com:5060 or
	// sip:10.0.0.5;transport=tcp. A number is dialled as number@host.
	URI string `yaml:"uri"`
	// Username and Password answer the trunk's digest challenges; the
	// password comes from CANVASS_SIP_TRUNK_PASSWORD (or _FILE).
	Username string `yaml:"username"`
	Password string `yaml:"-"`
	// FromUser and FromDisplay are the caller id (From header); FromHost
	// its host, for trunks that want their own domain there (default: our
	// advertised address).
	FromUser    string `yaml:"from_user"`
	FromDisplay string `yaml:"from_display"`
	FromHost    string `yaml:"from_host"`
	// RingTimeout gives up (CANCEL) on a call not answered in time.
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// SRTP says whether the calls Dial places encrypt their audio: off,
	// optional (offered as RTP/AVP with keys) or required (offered as
	// RTP/SAVP).
	SRTP SRTP `yaml:"srtp"`
}

// DefaultOptions are the options before any configuration is read.
func DefaultOptions() Options {
	return Options{
		Addr:                 "127.0.0.1:5060",
		RTPPorts:             "20000-29999",
		RTPCallsPerPort:      200,
		MaxCalls:             500,
		AllowFrom:            []string{"127.0.0.0/8", "::1/128"},
		Realm:                "canvass",
		RTPTimeout:           30 * time.Second,
		AcceptTelephoneEvent: true,
		MaxRecording:         5 * time.Minute,
		ShutdownGrace:        10 * time.Second,
		SRTP:                 SRTPOff,
		Trunk:                TrunkOptions{FromUser: "canvass", RingTimeout: 45 * time.Second, SRTP: SRTPOff},
		AMD:                  media.DefaultAMDOptions(),
		Limits:               LimitOptions{Rate: 50, Burst: 200, Ban: 10 * time.Minute},
	}
}

// Validate returns every problem of o at once. With no Addr the endpoint
// is off, and nothing else is checked.
func (o Options) Validate() error {
	if o.Addr == "" {
		return nil
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("sip.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	host, _, err := splitAddr(o.Addr)
	if err != nil {
		bad("addr", "%v", err)
	}
	if o.AdvertiseAddr != "" {
		if ip, err := netip.ParseAddr(o.AdvertiseAddr); err != nil || ip.IsUnspecified() {
			bad("advertise_addr", "%q must be an IP address peers can reach", o.AdvertiseAddr)
		}
	} else if err == nil && host.IsUnspecified() {
		bad("advertise_addr", "required when sip.addr (%s) listens on every interface: the IP peers send RTP and requests to", o.Addr)
	}
	if o.TLSAddr != "" {
		if _, _, err := splitAddr(o.TLSAddr); err != nil {
			bad("tls_addr", "%v", err)
		} else if o.TLSAddr == o.Addr && !strings.HasSuffix(o.TLSAddr, ":0") {
			bad("tls_addr", "%q is sip.addr too, whose TCP port takes plain SIP; TLS needs a port of its own (5061 by convention)", o.TLSAddr)
		}
		switch {
		case o.TLSCert == "":
			bad("tls_cert", "required with sip.tls_addr: the PEM file of the certificate (chain) phones and trunks see")
		case o.TLSKey == "":
			bad("tls_key", "required with sip.tls_addr: the PEM file of sip.tls_cert's private key")
		default:
			if _, err := loadKeyPair(o.TLSCert, o.TLSKey); err != nil {
				errs = append(errs, err)
			}
		}
	} else if o.TLSCert != "" || o.TLSKey != "" {
		bad("tls_addr", "required with sip.tls_cert and sip.tls_key: where SIP over TLS listens, e.g. 0.0.0.0:5061")
	}
	if !o.SRTP.valid() {
		bad("srtp", "%q must be off, optional (SRTP when the caller offers it) or required (SRTP only)", o.SRTP)
	}
	if o.RTPAddr != "" {
		if _, err := netip.ParseAddr(o.RTPAddr); err != nil {
			bad("rtp_addr", "%q is not an IP address", o.RTPAddr)
		}
	}
	if lo, hi, err := parsePorts(o.RTPPorts); err != nil {
		bad("rtp_ports", "%v", err)
	} else if lo != 0 && hi-lo < 1 {
		bad("rtp_ports", "%q holds a single port: one call at a time", o.RTPPorts)
	}
	if o.RTPCallsPerPort < 1 || o.RTPCallsPerPort > 1000 {
		bad("rtp_calls_per_port", "%d: from 1 (a port per call) to 1000", o.RTPCallsPerPort)
	}
	for user, q := range o.Routes {
		if user == "" || q == "" {
			bad("routes", "%q: %q: user and questionnaire must both be set", user, q)
		}
	}
	if o.MaxCalls < 1 || o.MaxCalls > 100000 {
		bad("max_calls", "%d must be between 1 and 100000", o.MaxCalls)
	}
	if _, err := parseAllow(o.AllowFrom); err != nil {
		bad("allow_from", "%v", err)
	}
	if (o.Username == "") != (o.Password == "") {
		bad("username", "digest auth needs both sip.username and the password (CANVASS_SIP_PASSWORD)")
	}
	if o.Username != "" && o.Realm == "" {
		bad("realm", "must be set for digest auth")
	}
	if o.RTPTimeout < time.Second {
		bad("rtp_timeout", "%s must be at least 1s", o.RTPTimeout)
	}
	if o.MaxRecording < time.Second {
		bad("max_recording", "%s must be at least 1s", o.MaxRecording)
	}
	if o.ShutdownGrace < 0 {
		bad("shutdown_grace", "%s must not be negative", o.ShutdownGrace)
	}
	if o.Limits.Rate < 0 || o.Limits.Rate > 1e6 {
		bad("limits.rate", "%g must be between 0 (no limits) and 1000000 messages per second", o.Limits.Rate)
	}
	if o.Limits.Rate > 0 && (o.Limits.Burst < 1 || o.Limits.Burst > 1e6) {
		bad("limits.burst", "%d must be between 1 and 1000000 when sip.limits.rate is set", o.Limits.Burst)
	}
	if o.Limits.Ban < 0 {
		bad("limits.ban", "%s must not be negative", o.Limits.Ban)
	}
	if _, err := parseAllow(o.Limits.Exempt); err != nil {
		bad("limits.exempt", "%v", err)
	}
	if o.Trunk.URI != "" {
		if _, err := parseTrunk(o.Trunk.URI); err != nil {
			bad("trunk.uri", "%v", err)
		}
	}
	if o.Trunk.Password != "" && o.Trunk.Username == "" {
		bad("trunk.username", "required with a trunk password")
	}
	if o.Trunk.FromUser != "" && !validUser(o.Trunk.FromUser) {
		bad("trunk.from_user", "%q is not a valid SIP user", o.Trunk.FromUser)
	}
	if o.Trunk.FromHost != "" && (strings.ContainsAny(o.Trunk.FromHost, " \t\r\n<>;@\"") || len(o.Trunk.FromHost) > 253) {
		bad("trunk.from_host", "%q is not a host name or IP address", o.Trunk.FromHost)
	}
	if strings.ContainsAny(o.Trunk.FromDisplay, "\"\r\n\\") {
		bad("trunk.from_display", "must not contain quotes, backslashes or line breaks")
	}
	if !o.Trunk.SRTP.valid() {
		bad("trunk.srtp", "%q must be off, optional (offer SRTP, take plain RTP) or required (SRTP only)", o.Trunk.SRTP)
	}
	if o.Trunk.RingTimeout < time.Second {
		bad("trunk.ring_timeout", "%s must be at least 1s", o.Trunk.RingTimeout)
	}
	if err := o.AMD.Validate(); err != nil {
		// one line per problem, as the others
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			errs = append(errs, fmt.Errorf("sip.%w", e))
		}
	}
	return errors.Join(errs...)
}

// loadKeyPair reads the TLS certificate and key, with errors naming the
// setting at fault.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	if _, err := os.Stat(certFile); err != nil {
		return tls.Certificate{}, fmt.Errorf("sip.tls_cert: %v", err)
	}
	if _, err := os.Stat(keyFile); err != nil {
		return tls.Certificate{}, fmt.Errorf("sip.tls_key: %v", err)
	}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return c, fmt.Errorf("sip.tls_cert, sip.tls_key: %s and %s are not a PEM certificate and its private key: %v", certFile, keyFile, err)
	}
	return c, nil
}

// splitAddr parses "ip:port" (port 0 allowed: tests).
func splitAddr(addr string) (netip.Addr, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("%q: %v", addr, err)
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("%q: the host must be an IP address", addr)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return netip.Addr{}, 0, fmt.Errorf("%q: bad port", addr)
	}
	return ip, port, nil
}

// parsePorts reads "MIN-MAX", or "0" (any port: 0, 0).
func parsePorts(s string) (lo, hi int, err error) {
	if strings.TrimSpace(s) == "0" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || lo < 1024 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("%q must be MIN-MAX within 1024-65535, or 0 for any free port", s)
	}
	return lo, hi, nil
}

func parseAllow(cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, c := range cidrs {
		if !strings.Contains(c, "/") {
			ip, err := netip.ParseAddr(c)
			if err != nil {
				errs = append(errs, fmt.Errorf("%q is neither a CIDR nor an IP address", c))
				continue
			}
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q is neither a CIDR nor an IP address", c))
			continue
		}
		out = append(out, p.Masked())
	}
	return out, errors.Join(errs...)
}

func parseTrunk(s string) (sip.Uri, error) {
	var u sip.Uri
	if err := sip.ParseUri(s, &u); err != nil || u.Host == "" || u.Scheme != "sip" && u.Scheme != "" {
		return u, fmt.Errorf("%q is not a sip: URI", s)
	}
	return u, nil
}

// validUser accepts what a dialled number or a SIP user may hold here:
// letters, digits and a few safe marks, so nothing can break a header.
func validUser(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case strings.ContainsRune("+*-_.!~", r):
		default:
			return false
		}
	}
	return true
}
