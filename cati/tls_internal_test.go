package cati

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for names and its key as PEM
// files in dir, and returns the certificate's DER.
func writeCert(t *testing.T, dir string, serial int64, names ...string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), DNSNames: names}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return der
}

// A renewed certificate (certbot rewrote the files) is served without a
// restart once the files are looked at again; a file caught half-written
// keeps the certificate in use.
func TestKeyPairReload(t *testing.T) {
	dir := t.TempDir()
	first := writeCert(t, dir, 1, "canvass.example.com")
	k, err := newKeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	k.now = func() time.Time { return now }
	k.checked = now
	serving := func() []byte {
		t.Helper()
		c, err := k.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Certificate[0]
	}
	if !bytes.Equal(serving(), first) {
		t.Fatal("not serving the certificate of the files")
	}
	second := writeCert(t, dir, 2, "canvass.example.com")
	later := time.Now().Add(time.Minute) // a modification time the files cannot already have
	for _, f := range []string{"cert.pem", "key.pem"} {
		if err := os.Chtimes(filepath.Join(dir, f), later, later); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(serving(), first) {
		t.Error("files looked at again before keyPairRecheck")
	}
	now = now.Add(keyPairRecheck)
	if !bytes.Equal(serving(), second) {
		t.Fatal("renewed certificate not served")
	}
	// Half-written: the old one stays.
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("-----BEGIN CERT"), 0o600); err != nil {
		t.Fatal(err)
	}
	later = later.Add(time.Minute)
	if err := os.Chtimes(filepath.Join(dir, "cert.pem"), later, later); err != nil {
		t.Fatal(err)
	}
	now = now.Add(keyPairRecheck)
	if !bytes.Equal(serving(), second) {
		t.Error("a broken file replaced the certificate in use")
	}
}
