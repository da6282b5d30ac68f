package cati

// This file is HTTPS: a certificate from PEM files (reloaded when the files
// change, as certbot renews them), or certificates an ACME CA (Let's
// Encrypt) issues for the configured host names through autocert, and the
// plain-HTTP listener that sends browsers to HTTPS and answers ACME HTTP-01
// challenges.

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// ACMEOptions get certificates from an ACME CA for Hosts. Empty Hosts: off.
type ACMEOptions struct {
	// Hosts are the public DNS names the console is reached by; a
	// certificate is asked for each on its first TLS handshake, and only
	// for these.
	Hosts []string `yaml:"hosts"`
	// CacheDir keeps the account key and the certificates across restarts
	// (mode 0700): without it every restart asks for new certificates and
	// soon meets the CA's rate limits.
	CacheDir string `yaml:"cache_dir"`
	// Email is the contact the CA writes to about expiring certificates
	// and problems; optional.
	Email string `yaml:"email"`
	// DirectoryURL is the CA's ACME directory; empty: Let's Encrypt
	// (production). Let's Encrypt staging is
	// https://acme-staging-v02.api.letsencrypt.org/directory.
	DirectoryURL string `yaml:"directory_url"`
}

// Enabled reports whether certificates come from ACME.
func (o ACMEOptions) Enabled() bool { return len(o.Hosts) > 0 }

// TLS reports whether the server speaks HTTPS.
func (o Options) TLS() bool { return o.TLSCert != "" || o.ACME.Enabled() }

// validateTLS returns the problems of the TLS settings.
func (o Options) validateTLS() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case o.TLSCert != "" && o.TLSKey == "":
		bad("http.tls_key: required with http.tls_cert: the PEM file of the certificate's private key")
	case o.TLSKey != "" && o.TLSCert == "":
		bad("http.tls_cert: required with http.tls_key: the PEM file of the certificate (chain)")
	case o.TLSCert != "":
		if _, err := loadKeyPair(o.TLSCert, o.TLSKey); err != nil {
			errs = append(errs, err)
		}
	}
	if o.ACME.Enabled() && o.TLSCert != "" {
		bad("http.acme.hosts: set either http.tls_cert/http.tls_key (a certificate you provide) or http.acme.hosts (certificates from an ACME CA), not both")
	}
	for _, h := range o.ACME.Hosts {
		if net.ParseIP(h) != nil || !validHostname(h) || !strings.Contains(strings.Trim(h, "."), ".") {
			bad("http.acme.hosts: %q is not a public DNS name: the CA must reach this server by it (an IP address or localhost cannot be validated)", h)
		}
	}
	if o.ACME.Enabled() && strings.TrimSpace(o.ACME.CacheDir) == "" {
		bad("http.acme.cache_dir: required with http.acme.hosts: a directory that keeps the certificates across restarts")
	}
	if e := o.ACME.Email; e != "" && (!strings.Contains(e, "@") || strings.ContainsAny(e, " \t\r\n<>")) {
		bad("http.acme.email: %q is not an email address", e)
	}
	if d := o.ACME.DirectoryURL; d != "" {
		if u, err := url.Parse(d); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("http.acme.directory_url: %q is not an http(s) URL of an ACME directory", d)
		}
	}
	if o.RedirectAddr != "" {
		if _, port, err := net.SplitHostPort(o.RedirectAddr); err != nil || port == "" {
			bad("http.redirect_addr: %q is not host:port (for example :80)", o.RedirectAddr)
		} else if !o.TLS() {
			bad("http.redirect_addr: sends browsers to HTTPS, which needs http.tls_cert/http.tls_key or http.acme.hosts")
		} else if o.RedirectAddr == o.Addr && port != "0" {
			bad("http.redirect_addr: %q is http.addr too; the plain-HTTP listener needs a port of its own (usually :80)", o.RedirectAddr)
		}
	}
	return errs
}

// loadKeyPair reads a certificate and its key, with errors naming the
// setting at fault.
func loadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	if _, err := os.Stat(certFile); err != nil {
		return nil, fmt.Errorf("http.tls_cert: %v", err)
	}
	if _, err := os.Stat(keyFile); err != nil {
		return nil, fmt.Errorf("http.tls_key: %v", err)
	}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("http.tls_cert, http.tls_key: %s and %s are not a PEM certificate and its private key: %v", certFile, keyFile, err)
	}
	return &c, nil
}

// keyPair serves a certificate from files, reloading it when either file
// changes; a reload that fails keeps the certificate in use (and logs).
type keyPair struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	modTime [2]time.Time
	checked time.Time
}

func newKeyPair(certFile, keyFile string, log *slog.Logger) (*keyPair, error) {
	k := &keyPair{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	var err error
	if k.cert, err = loadKeyPair(certFile, keyFile); err != nil {
		return nil, err
	}
	k.modTime = k.stat()
	k.checked = k.now()
	return k, nil
}

func (k *keyPair) stat() [2]time.Time {
	var t [2]time.Time
	for i, f := range []string{k.certFile, k.keyFile} {
		if fi, err := os.Stat(f); err == nil {
			t[i] = fi.ModTime()
		}
	}
	return t
}

// keyPairRecheck is how often handshakes look at the files again.
const keyPairRecheck = 10 * time.Second

// GetCertificate is tls.Config's.
func (k *keyPair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now := k.now(); now.Sub(k.checked) >= keyPairRecheck {
		k.checked = now
		if m := k.stat(); m != k.modTime {
			c, err := loadKeyPair(k.certFile, k.keyFile)
			if err != nil {
				// Half-written during a renewal, say: next time.
				k.log.Warn("TLS certificate changed but does not load; keeping the one in use", "err", err)
			} else {
				k.cert, k.modTime = c, m
				k.log.Info("TLS certificate reloaded", "file", k.certFile)
			}
		}
	}
	return k.cert, nil
}

// setUpTLS builds the TLS configuration (none without TLS settings), and
// with ACME the manager that issues and renews the certificates.
func (s *Server) setUpTLS() error {
	o := s.opts
	switch {
	case o.TLSCert != "":
		k, err := newKeyPair(o.TLSCert, o.TLSKey, s.log)
		if err != nil {
			return err
		}
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: k.GetCertificate}
	case o.ACME.Enabled():
		if err := os.MkdirAll(o.ACME.CacheDir, 0o700); err != nil {
			return fmt.Errorf("http.acme.cache_dir: %w", err)
		}
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			Cache:      autocert.DirCache(o.ACME.CacheDir),
			HostPolicy: autocert.HostWhitelist(o.ACME.Hosts...),
			Email:      o.ACME.Email,
		}
		if o.ACME.DirectoryURL != "" {
			m.Client = &acme.Client{DirectoryURL: o.ACME.DirectoryURL}
		}
		s.acme = m
		s.tls = m.TLSConfig() // answers TLS-ALPN-01 challenges too
		s.tls.MinVersion = tls.VersionTLS12
	}
	return nil
}

// redirectHandler is what the plain-HTTP listener serves: ACME HTTP-01
// challenges (with ACME), and a redirect to the same path over HTTPS for
// everything else.
func (s *Server) redirectHandler() http.Handler {
	_, port, _ := net.SplitHostPort(s.Addr())
	toHTTPS := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// A form posted over plain HTTP has already leaked; do not
			// invite it again.
			http.Error(w, "use HTTPS", http.StatusBadRequest)
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if port != "443" && port != "" {
			host = net.JoinHostPort(host, port)
		} else if strings.Contains(host, ":") {
			host = "[" + host + "]" // an IPv6 literal
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusMovedPermanently)
	})
	if s.acme != nil {
		return s.acme.HTTPHandler(toHTTPS)
	}
	return toHTTPS
}
