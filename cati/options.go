package cati

// This file is the http section of the configuration: where the API listens,
// how big a request body may be, and HTTPS (tls.go).

import (
	"errors"
	"fmt"
	"net"
	"strconv"
)

// Options is the http section of the configuration.
type Options struct {
	// Addr is the host:port the API and the console listen on.
	Addr string `yaml:"addr"`
	// MaxBodyBytes bounds a request body, such as an uploaded questionnaire;
	// bigger bodies are refused with 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`

	// TLSCert and TLSKey are PEM files of a certificate (chain) and its
	// private key: the server then speaks HTTPS only. They are read again
	// when they change (a renewal), without a restart.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// ACME gets certificates from an ACME CA instead (tls.go).
	ACME ACMEOptions `yaml:"acme"`
	// RedirectAddr, with TLS, is a plain-HTTP listener (usually :80) that
	// sends browsers to HTTPS and answers ACME HTTP-01 challenges. Empty:
	// none, and ACME validates over TLS-ALPN-01 on Addr (port 443).
	RedirectAddr string `yaml:"redirect_addr"`
}

// Limits of MaxBodyBytes: a questionnaire must fit, and one request must not
// be able to hold much memory.
const (
	minBodyBytes = 1 << 10
	maxBodyBytes = 64 << 20
)

// DefaultOptions are the options before any configuration is read: loopback
// only, so that exposing the API is a decision.
func DefaultOptions() Options {
	return Options{Addr: "127.0.0.1:8080", MaxBodyBytes: 1 << 20, ACME: ACMEOptions{CacheDir: "acme-cache"}}
}

// Validate returns every problem of o at once, each naming its field.
func (o Options) Validate() error {
	var errs []error
	if host, port, err := net.SplitHostPort(o.Addr); err != nil {
		errs = append(errs, fmt.Errorf("http.addr: %q is not host:port (for example 127.0.0.1:8080 or :8080)", o.Addr))
	} else {
		if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
			errs = append(errs, fmt.Errorf("http.addr: %q is not an IP address or host name", host))
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("http.addr: port %q must be a number from 0 to 65535", port))
		}
	}
	if o.MaxBodyBytes < minBodyBytes || o.MaxBodyBytes > maxBodyBytes {
		errs = append(errs, fmt.Errorf("http.max_body_bytes: must be between %d and %d, not %d", minBodyBytes, maxBodyBytes, o.MaxBodyBytes))
	}
	errs = append(errs, o.validateTLS()...)
	return errors.Join(errs...)
}

// validHostname accepts the letters, digits, dots and hyphens of a DNS name.
func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-':
		default:
			return false
		}
	}
	return true
}
