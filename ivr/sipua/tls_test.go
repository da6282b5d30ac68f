package sipua_test

// SIP over TLS from a real phone: baresip trusting the endpoint's
// certificate places keypad calls to the TLS listener; the endpoint's BYE
// and the phone's both travel over TLS. Also the settings' errors.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr/ivrtest"
	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/ivr/sipua/baresiptest"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

// certFiles writes a self-signed certificate for hosts (IP addresses or
// DNS names) and its key as PEM files in dir.
func certFiles(t *testing.T, dir string, hosts ...string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// Two keypad calls from baresip over TLS, in parallel: one answers the
// whole survey and the endpoint hangs up (its BYE must reach the phone on
// the phone's TLS connection), the other hangs up from the phone after a
// question (its BYE must come to the TLS listener: the Contact says
// transport=tls). The TLS listener is the only one on its port, so a call
// that works at all went over TLS. (baresip 1.0.0 does not verify the
// certificate, see baresiptest.Options.CAFile; the handshake is real.)
func TestBaresipTLS(t *testing.T) {
	t.Parallel()
	db := sqltest.New(t)
	putPostCall(t, db)
	opts := testOptions()
	opts.RTPTimeout = 10 * time.Second
	opts.TLSAddr = "127.0.0.1:0"
	opts.TLSCert, opts.TLSKey = certFiles(t, t.TempDir(), "127.0.0.1")
	e := startPG(t, db, opts)
	if !e.srv.TLSAddr().IsValid() || e.srv.TLSAddr().Port() == e.srv.Addr().Port() {
		t.Fatalf("TLS listener %s beside %s", e.srv.TLSAddr(), e.srv.Addr())
	}
	uri := func(callID string) string {
		return fmt.Sprintf("sip:post-call@%s;transport=tls;lang=en;call_id=%s", e.srv.TLSAddr(), callID)
	}
	silence := make([]int16, 8000*30)
	var calls sync.WaitGroup
	call := func(name string, f func(t *testing.T)) { calls.Go(func() { t.Run(name, f) }) }
	defer calls.Wait()

	call("complete", func(t *testing.T) {
		b := baresiptest.Start(t, baresiptest.Options{Name: "tls-complete", Say: silence, CAFile: opts.TLSCert})
		b.Dial(uri("tls-a"))
		b.WaitEstablished(10 * time.Second)
		b.TypeAfter(1500*time.Millisecond, "9")
		b.TypeAfter(time.Second, "#")
		for _, next := range []struct{ after, keys string }{{"nps", "5"}, {"csat", "7"}, {"ces", "1"}} {
			e.answered(t, "tls-a", next.after, 10*time.Second)
			b.Type(next.keys)
		}
		iv := e.interview(t, "tls-a", 10*time.Second)
		want := map[string]any{"nps": int64(9), "csat": int64(5), "ces": int64(7), "resolved": true}
		if got := ivrtest.Values(iv); fmt.Sprint(got) != fmt.Sprint(want) || iv.Status != survey.StatusComplete || iv.EndCause != "completed" {
			t.Errorf("interview %s (%s) with %v; want complete with %v", iv.Status, iv.EndCause, got, want)
		}
		// The endpoint thanks and hangs up: the phone gets the BYE, which
		// libre reports as the session closed with ECONNRESET, while the
		// endpoint (and the TLS connection) are still up.
		b.WaitOutput("session closed: Connection reset by peer", 10*time.Second)
		b.WaitClosed(time.Second)
	})

	call("phone hangs up", func(t *testing.T) {
		b := baresiptest.Start(t, baresiptest.Options{Name: "tls-hangup", Say: silence, CAFile: opts.TLSCert})
		b.Dial(uri("tls-b"))
		b.WaitEstablished(10 * time.Second)
		b.TypeAfter(1500*time.Millisecond, "3")
		b.TypeAfter(time.Second, "#")
		e.answered(t, "tls-b", "nps", 10*time.Second)
		b.Type("b")
		b.WaitClosed(5 * time.Second)
		iv := e.interview(t, "tls-b", 5*time.Second)
		if got := ivrtest.Values(iv); got["nps"] != int64(3) || iv.EndCause != "hangup" {
			t.Errorf("interview %s (%s) with %v; want nps 3 kept, ended by the phone's hangup", iv.Status, iv.EndCause, got)
		}
	})
}

// A source opening TLS connections past its rate is banned before its
// handshakes cost anything: its connections are closed at accept, while a
// source in allow_from still connects.
func TestTLSFlood(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.AllowFrom = []string{"127.0.0.1"} // the scanner is 127.0.0.2
	opts.Limits = sipua.LimitOptions{Rate: 1, Burst: 3, Ban: time.Minute}
	opts.TLSAddr = "127.0.0.1:0"
	opts.TLSCert, opts.TLSKey = certFiles(t, t.TempDir(), "127.0.0.1")
	e := start(t, opts, nil)
	pem, err := os.ReadFile(opts.TLSCert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	handshake := func(from string) error {
		d := &net.Dialer{Timeout: 3 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := tls.DialWithDialer(d, "tcp", e.srv.TLSAddr().String(), &tls.Config{RootCAs: pool})
		if err == nil {
			c.Close()
		}
		return err
	}
	ok, refused := 0, 0
	for i := range 12 {
		if err := handshake("127.0.0.2"); err != nil {
			refused++
		} else if refused > 0 {
			t.Fatalf("connection %d from a banned source got through", i)
		} else {
			ok++
		}
	}
	if ok < 3 || ok > 5 || refused == 0 {
		t.Errorf("%d handshakes done, %d refused; want the burst (3, and what 1/s refills) then none", ok, refused)
	}
	if err := handshake("127.0.0.1"); err != nil {
		t.Errorf("a source in allow_from: %v", err)
	}
	if m := gather(t, e.srv.Collector()); m["canvass_sip_bans_total"] != 1 {
		t.Errorf("metrics %v; want one ban", m)
	}
}

// The TLS settings: each problem names its key.
func TestTLSOptions(t *testing.T) {
	dir := t.TempDir()
	cert, key := certFiles(t, dir, "127.0.0.1")
	for _, tc := range []struct {
		name string
		set  func(*sipua.Options)
		want string
	}{
		{"valid", func(o *sipua.Options) { o.TLSAddr, o.TLSCert, o.TLSKey = "127.0.0.1:5061", cert, key }, ""},
		{"no cert", func(o *sipua.Options) { o.TLSAddr, o.TLSKey = "127.0.0.1:5061", key }, "sip.tls_cert: required with sip.tls_addr"},
		{"no key", func(o *sipua.Options) { o.TLSAddr, o.TLSCert = "127.0.0.1:5061", cert }, "sip.tls_key: required with sip.tls_addr"},
		{"missing key file", func(o *sipua.Options) {
			o.TLSAddr, o.TLSCert, o.TLSKey = "127.0.0.1:5061", cert, filepath.Join(dir, "none.pem")
		},
			"sip.tls_key: stat " + filepath.Join(dir, "none.pem")},
		{"key is not the cert's", func(o *sipua.Options) { o.TLSAddr, o.TLSCert, o.TLSKey = "127.0.0.1:5061", cert, cert },
			"sip.tls_cert, sip.tls_key:"},
		{"files without address", func(o *sipua.Options) { o.TLSCert, o.TLSKey = cert, key }, "sip.tls_addr: required with sip.tls_cert"},
		{"bad address", func(o *sipua.Options) { o.TLSAddr, o.TLSCert, o.TLSKey = "example.com:5061", cert, key }, "sip.tls_addr:"},
		{"same port as plain SIP", func(o *sipua.Options) { o.TLSAddr, o.TLSCert, o.TLSKey = o.Addr, cert, key }, "TLS needs a port of its own"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := sipua.DefaultOptions()
			tc.set(&o)
			err := o.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v; want one saying %q", err, tc.want)
			}
		})
	}
}
