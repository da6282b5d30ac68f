package config_test

import (
	"fmt"
	"os"
	"path/filepath"
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
