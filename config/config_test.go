package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/config"
	"github.com/google/go-cmp/cmp"
)

func noEnv(string) string { return "" }

func TestExampleIsTheDefault(t *testing.T) {
	c, err := config.Load("example.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(config.Default(), c); diff != "" {
		t.Errorf("config/example.yaml drifted from the defaults (-default +example):\n%s", diff)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "db")
	os.WriteFile(secret, []byte("postgres://canvass@db.internal/canvass\n"), 0o600)
	vars := map[string]string{
		"CANVASS_HTTP_ADDR":               "0.0.0.0:9000",
		"CANVASS_DATABASE_URL_FILE":       secret,
		"CANVASS_IVR_INTER_DIGIT_TIMEOUT": "3s",
		"CANVASS_LOG_FORMAT":              "json",
	}
	c, err := config.Load("example.yaml", func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Addr != "0.0.0.0:9000" || c.Database.DatabaseURL != "postgres://canvass@db.internal/canvass" ||
		c.IVR.InterDigitTimeout != 3*time.Second || c.Log.Format != "json" {
		t.Errorf("got %+v", c)
	}
}

// The SIP endpoint is turned off by an empty sip.addr in YAML, or by
// CANVASS_SIP_ADDR=off (an empty variable means "not set").
func TestSIPOff(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("sip:\n  addr: \"\"\n"), 0o600)
	for name, load := range map[string]func() (config.Config, error){
		"yaml": func() (config.Config, error) { return config.Load(file, noEnv) },
		"env": func() (config.Config, error) {
			return config.Load("", func(k string) string { return map[string]string{"CANVASS_SIP_ADDR": "off"}[k] })
		},
	} {
		c, err := load()
		if err != nil || c.SIP.Addr != "" {
			t.Errorf("%s: sip.addr %q, %v; want off", name, c.SIP.Addr, err)
		}
	}
}

func TestBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	n := 0
	write := func(s string) string {
		n++
		f := filepath.Join(dir, fmt.Sprintf("c%d.yaml", n))
		os.WriteFile(f, []byte(s), 0o644)
		return f
	}
	tests := []struct {
		name, file string
		env        map[string]string
		want       []string
	}{
		{"unknown key", write("http:\n  adress: x\n"), nil, []string{"line 2: unknown key adress"}},
		{"every problem at once", write("http:\n  addr: nowhere\nlog:\n  level: loud\nivr:\n  attempts: 0\n"), nil,
			[]string{"http.addr", "log.level", "ivr.attempts"}},
		{"bad variable", "", map[string]string{"CANVASS_DATABASE_MAX_CONNS": "many"}, []string{"CANVASS_DATABASE_MAX_CONNS"}},
		{"bad variables and bad values together", "", map[string]string{"CANVASS_SIP_MAX_CALLS": "abc", "CANVASS_LOG_FORMAT": "xml"},
			[]string{"CANVASS_SIP_MAX_CALLS", "log.format"}},
		{"missing secret file", "", map[string]string{"CANVASS_DATABASE_URL_FILE": "/nonexistent"}, []string{"CANVASS_DATABASE_URL_FILE"}},
		{"missing file", filepath.Join(dir, "none.yaml"), nil, []string{"no such file"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(tc.file, func(k string) string { return tc.env[k] })
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

// FuzzLoad: no configuration file makes Load panic, and a file Load
// accepts always validates.
func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile("example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte("http:\n  addr: \":0\"\nivr:\n  attempts: 2\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(file, src, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(file, noEnv)
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("Load accepted a configuration that does not validate: %v", verr)
			}
		}
	})
}

// The webrtc section: its variables, the TURN credential from the
// environment only, "off", and problems named by their key.
func TestWebRTC(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("webrtc:\n  turn:\n    - urls: [\"turn:turn.example.com:3478\", \"stun:turn.example.com\"]\n      username: canvass\n"), 0o600)
	vars := map[string]string{
		"CANVASS_WEBRTC_LISTEN":          "0.0.0.0:40000",
		"CANVASS_WEBRTC_PUBLIC_IPS":      "203.0.113.7, 198.51.100.2",
		"CANVASS_WEBRTC_TURN_CREDENTIAL": "s3cret",
	}
	c, err := config.Load(file, func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.WebRTC.Listen != "0.0.0.0:40000" || !slices.Equal(c.WebRTC.PublicIPs, []string{"203.0.113.7", "198.51.100.2"}) ||
		len(c.WebRTC.TURN) != 1 || c.WebRTC.TURN[0].Credential != "s3cret" || c.WebRTC.TURN[0].Username != "canvass" {
		t.Errorf("got %+v", c.WebRTC)
	}

	// Without the credential a TURN server is a problem; so are a bad
	// listen address and public IP; the credential cannot come from YAML.
	os.WriteFile(file, []byte("webrtc:\n  listen: nowhere\n  public_ips: [example.com]\n  turn:\n    - urls: [\"turn:turn.example.com\"]\n      username: canvass\n"), 0o600)
	_, err = config.Load(file, noEnv)
	for _, want := range []string{"webrtc.listen", "webrtc.public_ips", "webrtc.turn[0].username"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
	os.WriteFile(file, []byte("webrtc:\n  turn:\n    - urls: [\"turn:t\"]\n      credential: x\n"), 0o600)
	if _, err := config.Load(file, noEnv); err == nil || !strings.Contains(err.Error(), "credential") {
		t.Errorf("a credential in the file: %v, want an unknown-key error", err)
	}

	c, err = config.Load("", func(k string) string { return map[string]string{"CANVASS_WEBRTC_LISTEN": "off"}[k] })
	if err != nil || c.WebRTC.Listen != "" {
		t.Errorf("CANVASS_WEBRTC_LISTEN=off: listen %q, %v", c.WebRTC.Listen, err)
	}
}

// The http section's TLS settings from the environment, and a missing key
// file reported by Load with its key.
func TestHTTPTLS(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{
		"CANVASS_HTTP_ACME_HOSTS":     "canvass.example.com, survey.example.com",
		"CANVASS_HTTP_ACME_EMAIL":     "ops@example.com",
		"CANVASS_HTTP_ACME_CACHE_DIR": dir,
		"CANVASS_HTTP_REDIRECT_ADDR":  ":80",
	}
	c, err := config.Load("", func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.HTTP.ACME.Hosts, []string{"canvass.example.com", "survey.example.com"}) || c.HTTP.ACME.Email != "ops@example.com" ||
		c.HTTP.ACME.CacheDir != dir || c.HTTP.RedirectAddr != ":80" || !c.HTTP.TLS() {
		t.Errorf("got %+v", c.HTTP)
	}
	cert := filepath.Join(dir, "cert.pem")
	os.WriteFile(cert, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600)
	_, err = config.Load("", func(k string) string {
		return map[string]string{"CANVASS_HTTP_TLS_CERT": cert, "CANVASS_HTTP_TLS_KEY": filepath.Join(dir, "missing.pem")}[k]
	})
	if err == nil || !strings.Contains(err.Error(), "http.tls_key:") || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing key file: %v; want an error naming http.tls_key and the file", err)
	}
}
