// Package config composes Canvass's configuration from each package's
// Options: defaults, then a YAML file (unknown keys are errors), then
// CANVASS_* environment variables, then one Validate that reports every
// problem at once.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/dialer"
	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/asterisk"
	"github.com/canvass/canvass/ivr/phone"
	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/ivr/transcribe"
	"github.com/canvass/canvass/ivr/webrtc"
	"github.com/canvass/canvass/prompts"
	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// Config is the whole configuration.
type Config struct {
	HTTP     cati.Options        `yaml:"http"`
	Console  cati.ConsoleOptions `yaml:"console"`
	Database sql.Options         `yaml:"database"`
	IVR      ivr.Options         `yaml:"ivr"`
	Prompts  prompts.Options     `yaml:"prompts"`
	SIP      sipua.Options       `yaml:"sip"`
	ARI      asterisk.Options    `yaml:"ari"`
	WebRTC   webrtc.Options      `yaml:"webrtc"`
	Phone    phone.Options       `yaml:"phone"`
	Dialer   dialer.Options      `yaml:"dialer"`
	Requests survey.RequestRules `yaml:"requests"`
	Webhooks cati.WebhookOptions `yaml:"webhooks"`
	// Transcribe is the speech-to-text service for voice answers (off
	// until transcribe.url is set).
	Transcribe transcribe.Options `yaml:"transcribe"`
	Log        LogOptions         `yaml:"log"`
}

// LogOptions say how canvass logs.
type LogOptions struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Validate reports a bad level or format.
func (o LogOptions) Validate() error {
	var errs []error
	switch o.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q must be debug, info, warn or error", o.Level))
	}
	if o.Format != "text" && o.Format != "json" {
		errs = append(errs, fmt.Errorf("log.format: %q must be text or json", o.Format))
	}
	return errors.Join(errs...)
}

// Default is the configuration before any file or variable is read.
func Default() Config {
	return Config{
		HTTP:       cati.DefaultOptions(),
		Console:    cati.DefaultConsoleOptions(),
		Database:   sql.DefaultOptions(),
		IVR:        ivr.DefaultOptions(),
		Prompts:    prompts.DefaultOptions(),
		SIP:        sipua.DefaultOptions(),
		ARI:        asterisk.DefaultOptions(),
		WebRTC:     webrtc.DefaultOptions(),
		Phone:      phone.DefaultOptions(),
		Dialer:     dialer.DefaultOptions(),
		Requests:   survey.DefaultRequestRules(),
		Webhooks:   cati.DefaultWebhookOptions(),
		Transcribe: transcribe.DefaultOptions(),
		Log:        LogOptions{Level: "info", Format: "text"},
	}
}

// env lists the environment variables, each with where it goes.
func env(c *Config) []struct {
	name string
	set  func(string) error
} {
	str := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	num := func(p *float64) func(string) error {
		return func(v string) (err error) { *p, err = strconv.ParseFloat(v, 64); return err }
	}
	dur := func(p *time.Duration) func(string) error {
		return func(v string) (err error) { *p, err = time.ParseDuration(v); return err }
	}
	// list reads a comma-separated list.
	list := func(p *[]string) func(string) error {
		return func(v string) error {
			*p = nil
			for item := range strings.SplitSeq(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					*p = append(*p, item)
				}
			}
			return nil
		}
	}
	return []struct {
		name string
		set  func(string) error
	}{
		{"CANVASS_HTTP_ADDR", str(&c.HTTP.Addr)},
		{"CANVASS_HTTP_TLS_CERT", str(&c.HTTP.TLSCert)},
		{"CANVASS_HTTP_TLS_KEY", str(&c.HTTP.TLSKey)},
		{"CANVASS_HTTP_REDIRECT_ADDR", str(&c.HTTP.RedirectAddr)},
		{"CANVASS_HTTP_ACME_HOSTS", list(&c.HTTP.ACME.Hosts)},
		{"CANVASS_HTTP_ACME_EMAIL", str(&c.HTTP.ACME.Email)},
		{"CANVASS_HTTP_ACME_CACHE_DIR", str(&c.HTTP.ACME.CacheDir)},
		{"CANVASS_CONSOLE_SECURE_COOKIES", func(v string) (err error) {
			c.Console.SecureCookies, err = strconv.ParseBool(v)
			return err
		}},
		{"CANVASS_DATABASE_URL", str(&c.Database.DatabaseURL)},
		{"CANVASS_DATABASE_MAX_CONNS", func(v string) error {
			n, err := strconv.ParseInt(v, 10, 32)
			c.Database.MaxConns = int32(n)
			return err
		}},
		{"CANVASS_IVR_INITIAL_TIMEOUT", dur(&c.IVR.InitialTimeout)},
		{"CANVASS_IVR_INTER_DIGIT_TIMEOUT", dur(&c.IVR.InterDigitTimeout)},
		{"CANVASS_IVR_MAX_CALL_DURATION", dur(&c.IVR.MaxCallDuration)},
		{"CANVASS_IVR_NODE_TIMEOUT", dur(&c.IVR.NodeTimeout)},
		{"CANVASS_IVR_LOST_SWEEP", dur(&c.IVR.LostSweep)},
		{"CANVASS_PROMPTS_DIR", str(&c.Prompts.Dir)},
		{"CANVASS_RECORDINGS_DIR", str(&c.Prompts.RecordingsDir)},
		{"CANVASS_SIP_ADDR", str(&c.SIP.Addr)},
		{"CANVASS_SIP_ADVERTISE_ADDR", str(&c.SIP.AdvertiseAddr)},
		{"CANVASS_SIP_TLS_ADDR", str(&c.SIP.TLSAddr)},
		{"CANVASS_SIP_TLS_CERT", str(&c.SIP.TLSCert)},
		{"CANVASS_SIP_TLS_KEY", str(&c.SIP.TLSKey)},
		{"CANVASS_SIP_SRTP", func(v string) error { c.SIP.SRTP = sipua.SRTP(v); return nil }},
		{"CANVASS_SIP_RTP_PORTS", str(&c.SIP.RTPPorts)},
		{"CANVASS_SIP_RTP_CALLS_PER_PORT", func(v string) (err error) { c.SIP.RTPCallsPerPort, err = strconv.Atoi(v); return err }},
		{"CANVASS_SIP_DEFAULT_QUESTIONNAIRE", str(&c.SIP.DefaultQuestionnaire)},
		{"CANVASS_SIP_MAX_CALLS", func(v string) (err error) { c.SIP.MaxCalls, err = strconv.Atoi(v); return err }},
		{"CANVASS_SIP_RTP_TIMEOUT", dur(&c.SIP.RTPTimeout)},
		{"CANVASS_SIP_ACCEPT_TELEPHONE_EVENT", func(v string) (err error) {
			c.SIP.AcceptTelephoneEvent, err = strconv.ParseBool(v)
			return err
		}},
		{"CANVASS_SIP_USERNAME", str(&c.SIP.Username)},
		{"CANVASS_SIP_PASSWORD", str(&c.SIP.Password)},
		{"CANVASS_SIP_TRUNK_URI", str(&c.SIP.Trunk.URI)},
		{"CANVASS_SIP_TRUNK_SRTP", func(v string) error { c.SIP.Trunk.SRTP = sipua.SRTP(v); return nil }},
		{"CANVASS_SIP_TRUNK_USERNAME", str(&c.SIP.Trunk.Username)},
		{"CANVASS_SIP_TRUNK_PASSWORD", str(&c.SIP.Trunk.Password)},
		{asterisk.EnvURL, str(&c.ARI.URL)},
		{asterisk.EnvUser, str(&c.ARI.Username)},
		{asterisk.EnvPassword, str(&c.ARI.Password)},
		{asterisk.EnvApp, str(&c.ARI.App)},
		{"CANVASS_ARI_PROMPT_MODE", str(&c.ARI.PromptMode)},
		{"CANVASS_ARI_PROMPT_BASE_URL", str(&c.ARI.PromptBaseURL)},
		{"CANVASS_ARI_SAMPLE_SHARE", num(&c.ARI.SampleShare)},
		{asterisk.EnvAMDContext, str(&c.ARI.AMDContext)},
		{"CANVASS_WEBRTC_LISTEN", str(&c.WebRTC.Listen)},
		{"CANVASS_PHONE_VIA", str(&c.Phone.Via)},
		{"CANVASS_DIALER_VIA", str(&c.Dialer.Via)},
		{"CANVASS_DIALER_ARI_DIAL", str(&c.Dialer.ARIDial)},
		{"CANVASS_DIALER_NODE", str(&c.Dialer.Node)},
		{"CANVASS_PHONE_ARI_DIAL", str(&c.Phone.ARIDial)},
		{"CANVASS_PHONE_GRACE", dur(&c.Phone.Grace)},
		{"CANVASS_PHONE_RING_TIMEOUT", dur(&c.Phone.RingTimeout)},
		{"CANVASS_WEBRTC_PUBLIC_IPS", list(&c.WebRTC.PublicIPs)},
		// One credential for every TURN server listed (one TURN service
		// with several URLs is the usual case).
		{"CANVASS_WEBRTC_TURN_CREDENTIAL", func(v string) error {
			for i := range c.WebRTC.TURN {
				c.WebRTC.TURN[i].Credential = v
			}
			return nil
		}},
		{"CANVASS_TRANSCRIBE_URL", str(&c.Transcribe.URL)},
		{"CANVASS_TRANSCRIBE_API_KEY", str(&c.Transcribe.APIKey)},
		{"CANVASS_LOG_LEVEL", str(&c.Log.Level)},
		{"CANVASS_LOG_FORMAT", str(&c.Log.Format)},
	}
}

// Variables lists the CANVASS_* variables Load reads (for the README and
// `canvass help`). Each also has a NAME_FILE form that reads the value from a
// file, for secrets.
func Variables() []string {
	var names []string
	for _, e := range env(&Config{}) {
		names = append(names, e.name)
	}
	return names
}

var unknownKey = regexp.MustCompile(`field (\S+) not found in type \S+`)

// Load reads file ("" = none) over the defaults, then the environment
// through getenv, and validates the result.
func Load(file string, getenv func(string) string) (Config, error) {
	c := Default()
	if file != "" {
		src, err := os.ReadFile(file)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(src))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) /* an empty file configures nothing */ {
			msg := unknownKey.ReplaceAllString(err.Error(), "unknown key $1")
			msg = strings.ReplaceAll(strings.TrimPrefix(msg, "yaml: unmarshal errors:\n  "), "\n  ", "; ")
			return c, fmt.Errorf("config %s: %s", file, msg)
		}
	}
	var errs []error
	for _, e := range env(&c) {
		v := getenv(e.name)
		if path := getenv(e.name + "_FILE"); path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s_FILE: %w", e.name, err))
				continue
			}
			v = strings.TrimSpace(string(b))
		}
		if v == "" {
			continue
		}
		if err := e.set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q: %v", e.name, v, err))
		}
	}
	// "off" turns the SIP endpoint off from the environment, where an
	// empty variable means "not set".
	if strings.EqualFold(strings.TrimSpace(c.SIP.Addr), "off") {
		c.SIP.Addr = ""
	}
	if strings.EqualFold(strings.TrimSpace(c.WebRTC.Listen), "off") {
		c.WebRTC.Listen = ""
	}
	// Every problem at once: the values that did not parse, and whatever
	// else is wrong with the rest.
	return c, errors.Join(append(errs, c.Validate())...)
}

// Validate returns every problem of every section.
func (c Config) Validate() error {
	return errors.Join(c.HTTP.Validate(), c.Console.Validate(), c.Database.Validate(), c.IVR.Validate(), c.Prompts.Validate(), c.SIP.Validate(), c.ARI.Validate(), c.WebRTC.Validate(), c.Phone.Validate(), c.Dialer.Validate(), c.Requests.Validate(), c.Webhooks.Validate(), c.Transcribe.Validate(), c.Log.Validate())
}
