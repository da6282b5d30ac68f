package cati_test

// HTTPS end to end: a real TLS listener with a generated certificate
// serving the API, the console's login, its WebSocket and the redirect
// from plain HTTP; the settings' errors; and the ACME wiring as far as it
// goes without a public DNS name (certificates from autocert's cache,
// HTTP-01 answers, the host policy).

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/survey"
)

// selfSigned makes a certificate for hosts (DNS names or IP addresses)
// and returns its PEM, its key's PEM and a pool trusting it.
func selfSigned(t *testing.T, hosts ...string) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), pool
}

func writeFile(t *testing.T, path string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runServer serves srv (Listen, Run, RunConsole) until the test ends.
func runServer(t *testing.T, srv *cati.Server) {
	t.Helper()
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- srv.Run(ctx) }()
	go func() { done <- srv.RunConsole(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("server: %v", err)
			}
		}
	})
}

// The console and the API over HTTPS from certificate files: the API
// answers a token, a login sets a Secure cookie, the console's WebSocket
// upgrades over wss, plain HTTP on the HTTPS port gets nothing useful,
// and the redirect listener sends browsers to the HTTPS URL.
func TestHTTPS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, pool := selfSigned(t, "127.0.0.1", "localhost")
	opts := cati.DefaultOptions()
	opts.Addr = "127.0.0.1:0"
	opts.RedirectAddr = "127.0.0.1:0"
	opts.TLSCert = writeFile(t, filepath.Join(dir, "cert.pem"), certPEM)
	opts.TLSKey = writeFile(t, filepath.Join(dir, "key.pem"), keyPEM)
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	f := setup(t, opts, nil, withConsole)
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.AddUser(t.Context(), "ivy", survey.RoleInterviewer, hash); err != nil {
		t.Fatal(err)
	}
	runServer(t, f.server)
	base := f.server.URL()
	if want := "https://" + f.server.Addr(); base != want {
		t.Fatalf("URL %q, want %q", base, want)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tlsConf := &tls.Config{RootCAs: pool}
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConf, ForceAttemptHTTP2: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// The API, with a token.
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/questionnaires", nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens[survey.RoleAdmin])
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("GET /api/v1/questionnaires over HTTPS: %d (TLS %v)", resp.StatusCode, resp.TLS != nil)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s; want HTTP/2 over TLS", resp.Proto)
	}

	// Login: the session cookie is Secure without secure_cookies.
	form := url.Values{"name": {"ivy"}, "password": {testPassword}}
	req, _ = http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login over HTTPS: %d", resp.StatusCode)
	}
	if len(resp.Cookies()) == 0 {
		t.Fatal("login set no cookie")
	}
	for _, c := range resp.Cookies() {
		if !c.Secure || !c.HttpOnly {
			t.Errorf("cookie %s: Secure %v HttpOnly %v; want both over TLS", c.Name, c.Secure, c.HttpOnly)
		}
	}

	// The console's WebSocket over wss, as the page opens it.
	d := websocket.Dialer{Jar: jar, TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: 5 * time.Second}
	conn, wsResp, err := d.Dial("wss://"+f.server.Addr()+"/console/ws", http.Header{"Origin": {base}})
	if err != nil {
		status := 0
		if wsResp != nil {
			status = wsResp.StatusCode
		}
		t.Fatalf("wss upgrade: %v (status %d)", err, status)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hello struct {
		Type string `json:"type"`
		Data struct {
			User string `json:"user"`
		} `json:"data"`
	}
	if err := conn.ReadJSON(&hello); err != nil || hello.Type != "hello" || hello.Data.User != "ivy" {
		t.Errorf("first WebSocket message %+v, %v; want hello to ivy", hello, err)
	}

	// Plain HTTP on the HTTPS port is refused.
	plain, err := http.Get("http://" + f.server.Addr() + "/healthz")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == http.StatusOK {
			t.Error("plain HTTP served on the HTTPS port")
		}
	}
	// An untrusting client does not get through (the certificate is what
	// the files hold, nothing else).
	if _, err := (&http.Client{Timeout: 5 * time.Second}).Get(base + "/healthz"); err == nil {
		t.Error("a client without the certificate's CA connected")
	}

	// The redirect listener: GETs go to the same path over HTTPS; a POST
	// is refused rather than redirected.
	redirect := "http://" + f.server.RedirectAddr()
	req, _ = http.NewRequest(http.MethodGet, redirect+"/console?tab=2", nil)
	req.Host = "canvass.example.com:80"
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(f.server.Addr())
	if want := "https://canvass.example.com:" + port + "/console?tab=2"; resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != want {
		t.Errorf("plain GET: %d to %q; want 301 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	resp, err = client.PostForm(redirect+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain POST: %d; want 400", resp.StatusCode)
	}
}

// Every wrong TLS setting is reported with its key and what to do.
func TestTLSOptions(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, _ := selfSigned(t, "canvass.example.com")
	otherCert, _, _ := selfSigned(t, "canvass.example.com")
	cert := writeFile(t, filepath.Join(dir, "cert.pem"), certPEM)
	key := writeFile(t, filepath.Join(dir, "key.pem"), keyPEM)
	other := writeFile(t, filepath.Join(dir, "other.pem"), otherCert)
	garbage := writeFile(t, filepath.Join(dir, "garbage.pem"), []byte("not PEM"))
	for _, tc := range []struct {
		name string
		set  func(*cati.Options)
		want []string // substrings of the error; none: valid
	}{
		{"certificate files", func(o *cati.Options) { o.TLSCert, o.TLSKey = cert, key }, nil},
		{"missing key file", func(o *cati.Options) { o.TLSCert, o.TLSKey = cert, filepath.Join(dir, "nope.pem") },
			[]string{"http.tls_key:", "nope.pem", "no such file"}},
		{"missing cert file", func(o *cati.Options) { o.TLSCert, o.TLSKey = filepath.Join(dir, "gone.pem"), key },
			[]string{"http.tls_cert:", "gone.pem"}},
		{"cert without key", func(o *cati.Options) { o.TLSCert = cert }, []string{"http.tls_key: required with http.tls_cert"}},
		{"key without cert", func(o *cati.Options) { o.TLSKey = key }, []string{"http.tls_cert: required with http.tls_key"}},
		{"key of another certificate", func(o *cati.Options) { o.TLSCert, o.TLSKey = other, key },
			[]string{"http.tls_cert, http.tls_key:", "private key does not match"}},
		{"not PEM", func(o *cati.Options) { o.TLSCert, o.TLSKey = garbage, key }, []string{"not a PEM certificate"}},
		{"acme", func(o *cati.Options) {
			o.ACME = cati.ACMEOptions{Hosts: []string{"canvass.example.com"}, CacheDir: dir, Email: "ops@example.com"}
			o.RedirectAddr = ":80"
		}, nil},
		{"acme and files", func(o *cati.Options) {
			o.TLSCert, o.TLSKey = cert, key
			o.ACME = cati.ACMEOptions{Hosts: []string{"canvass.example.com"}, CacheDir: dir}
		}, []string{"http.acme.hosts: set either"}},
		{"acme for an IP", func(o *cati.Options) { o.ACME = cati.ACMEOptions{Hosts: []string{"203.0.113.7"}, CacheDir: dir} },
			[]string{`http.acme.hosts: "203.0.113.7" is not a public DNS name`}},
		{"acme for localhost", func(o *cati.Options) { o.ACME = cati.ACMEOptions{Hosts: []string{"localhost"}, CacheDir: dir} },
			[]string{`"localhost" is not a public DNS name`}},
		{"acme without cache", func(o *cati.Options) { o.ACME = cati.ACMEOptions{Hosts: []string{"canvass.example.com"}} },
			[]string{"http.acme.cache_dir: required"}},
		{"acme bad email", func(o *cati.Options) {
			o.ACME = cati.ACMEOptions{Hosts: []string{"canvass.example.com"}, CacheDir: dir, Email: "ops example.com"}
		}, []string{"http.acme.email:"}},
		{"acme bad directory", func(o *cati.Options) {
			o.ACME = cati.ACMEOptions{Hosts: []string{"canvass.example.com"}, CacheDir: dir, DirectoryURL: "ftp://ca"}
		}, []string{"http.acme.directory_url:"}},
		{"redirect without TLS", func(o *cati.Options) { o.RedirectAddr = ":80" }, []string{"http.redirect_addr: sends browsers to HTTPS"}},
		{"redirect on the HTTPS port", func(o *cati.Options) { o.TLSCert, o.TLSKey, o.RedirectAddr = cert, key, o.Addr },
			[]string{"http.redirect_addr:", "port of its own"}},
		{"redirect not host:port", func(o *cati.Options) { o.TLSCert, o.TLSKey, o.RedirectAddr = cert, key, "80" },
			[]string{"http.redirect_addr: \"80\" is not host:port"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := cati.DefaultOptions()
			tc.set(&o)
			err := o.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("valid settings refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want an error with %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// ACME without a CA: what autocert can do here, wired as serve wires it.
// A certificate already in the cache directory (as one issued before a
// restart) is served for its host and no other; the redirect listener
// answers HTTP-01 challenges for the configured hosts only and sends
// everything else to HTTPS. Issuing a certificate needs a public DNS name
// the CA can reach, which a test machine does not have.
func TestACME(t *testing.T) {
	const host = "canvass.example.com"
	cache := t.TempDir()
	certPEM, keyPEM, pool := selfSigned(t, host)
	// autocert's cache format: the key, then the chain, under the host
	// name (ECDSA certificates).
	writeFile(t, filepath.Join(cache, host), append(append([]byte{}, keyPEM...), certPEM...))
	writeFile(t, filepath.Join(cache, "tok3n+http-01"), []byte("tok3n.thumbprint"))
	opts := cati.DefaultOptions()
	opts.Addr = "127.0.0.1:0"
	opts.RedirectAddr = "127.0.0.1:0"
	opts.ACME = cati.ACMEOptions{Hosts: []string{host}, CacheDir: cache, Email: "ops@example.com",
		DirectoryURL: "http://127.0.0.1:1/directory"} // never reached: nothing is issued here
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	f := setup(t, opts, nil)
	runServer(t, f.server)
	_, port, _ := net.SplitHostPort(f.server.Addr())
	if want := "https://" + host + ":" + port; f.server.URL() != want {
		t.Errorf("URL %q, want %q", f.server.URL(), want)
	}

	// The cached certificate, for its host.
	conn, err := tls.Dial("tcp", f.server.Addr(), &tls.Config{ServerName: host, RootCAs: pool})
	if err != nil {
		t.Fatalf("TLS to %s: %v", host, err)
	}
	if got := conn.ConnectionState().PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != host {
		t.Errorf("certificate for %v", got)
	}
	conn.Close()
	// Another name: no certificate is asked for.
	if conn, err := tls.Dial("tcp", f.server.Addr(), &tls.Config{ServerName: "other.example.com", InsecureSkipVerify: true}); err == nil {
		conn.Close()
		t.Error("handshake for a host outside http.acme.hosts succeeded")
	}
	// HTTPS works end to end with that certificate.
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: host}}}
	resp, err := client.Get("https://" + f.server.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var health map[string]string
	json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || health["status"] != "ok" {
		t.Errorf("healthz over ACME TLS: %d %v", resp.StatusCode, health)
	}

	// HTTP-01 on the redirect listener.
	get := func(hostHeader, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+f.server.RedirectAddr()+path, nil)
		req.Host = hostHeader
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	if resp, body := get(host, "/.well-known/acme-challenge/tok3n"); resp.StatusCode != http.StatusOK || body != "tok3n.thumbprint" {
		t.Errorf("challenge for %s: %d %q", host, resp.StatusCode, body)
	}
	if resp, _ := get("evil.example.com", "/.well-known/acme-challenge/tok3n"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("challenge for another host: %d; want 403", resp.StatusCode)
	}
	if resp, _ := get(host, "/.well-known/acme-challenge/unknown"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown challenge: %d; want 404", resp.StatusCode)
	}
	if resp, _ := get(host, "/console"); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "https://"+host+":"+port+"/console" {
		t.Errorf("plain GET: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
