package asterisk

// This file holds the adapter's configuration: where ARI is, which Stasis
// application this node owns, how prompts reach Asterisk and which share of
// inbound calls is surveyed. cmd/canvass composes it into config.Config as
// the `ari` section; the password only ever comes from the environment.

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Prompt modes: how Asterisk reaches the prompt audio.
const (
	// PromptDir plays `sound:/abs/path` (no extension): the prompt catalog's
	// directory is readable by Asterisk (same host or a shared mount).
	PromptDir = "dir"
	// PromptHTTP plays `sound:http://…` URLs served by Canvass's
	// PromptServer through Asterisk's res_http_media_cache. Read the
	// PromptServer doc comment before choosing it.
	PromptHTTP = "http"
)

// Options configure the ARI adapter. A zero URL disables it.
type Options struct {
	// URL is the ARI root, e.g. http://127.0.0.1:8088/ari (CANVASS_ARI_URL).
	URL string `yaml:"url"`
	// Username is the ari.conf user (CANVASS_ARI_USER).
	Username string `yaml:"username"`
	// Password comes only from CANVASS_ARI_PASSWORD or
	// CANVASS_ARI_PASSWORD_FILE, never from the YAML file.
	Password string `yaml:"-"`
	// App is the Stasis application name (CANVASS_ARI_APP). Give each
	// Canvass node its own: Asterisk hands an application to the newest
	// WebSocket, and ARI clients are never told (ApplicationReplaced is
	// not delivered).
	App string `yaml:"app"`
	// PromptMode is "dir" or "http".
	PromptMode string `yaml:"prompt_mode"`
	// PromptBaseURL is, in http mode, the URL at which Asterisk reaches
	// the PromptServer, e.g. http://canvass.internal:8080/ari/prompts.
	PromptBaseURL string `yaml:"prompt_base_url"`
	// SampleShare is the share of inbound calls surveyed, 0 to 1; Canvass
	// draws each call with crypto/rand, so nobody on the PBX side picks who
	// is surveyed. A call not drawn is continued in the dialplan.
	SampleShare float64 `yaml:"sample_share"`
	// ApologyMedia is played before hanging up when a call cannot be
	// surveyed (unknown questionnaire, ARI errors). Stock Asterisk sounds,
	// so it plays even when the prompt path is what broke.
	ApologyMedia string `yaml:"apology_media"`
	// MaxRecording caps a voice answer on the Asterisk side; the engine
	// normally stops it earlier.
	MaxRecording time.Duration `yaml:"max_recording"`
	// RequestTimeout bounds each ARI REST request (recording downloads get
	// four times as long).
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// ConnectTimeout bounds each attempt to open the events WebSocket.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// Heartbeat is how often a user event is sent round Asterisk; a socket
	// that delivers nothing for three heartbeats is treated as dead.
	Heartbeat time.Duration `yaml:"heartbeat"`
	// Backoff is the first wait before reconnecting; it doubles up to 30s.
	Backoff time.Duration `yaml:"backoff"`
	// IdleTimeout is how long an unused REST connection is kept for the
	// next request. Keep it below Asterisk's session_keep_alive (http.conf,
	// 15 s by default): Asterisk closes a connection idle that long, and a
	// request sent on it as it closes fails.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxConnections caps the REST connections to Asterisk; requests
	// beyond wait for one to be free. Asterisk serves at most http.conf's
	// sessionlimit connections (100 by default, the events WebSocket and
	// other ARI clients included) and closes any past it unanswered, and
	// takes new ones through a listen backlog of 10: a few connections
	// kept open and reused serve every call.
	MaxConnections int `yaml:"max_connections"`
	// MediaAddress is the local IP address of the UDP sockets Canvass
	// opens for a call's audio (Leg: an externalMedia channel). Asterisk
	// sends RTP to it, so it must be an address of this host that Asterisk
	// can reach; the default, 127.0.0.1, suits an Asterisk on the same
	// host.
	MediaAddress string `yaml:"media_address"`
	// AMDContext is the dialplan context a dialed call that asks for
	// answering-machine detection is sent to once answered (extension s,
	// priority 1). It must run AMD() and return the channel with
	// Stasis(${CANVASS_APP},${CANVASS_ARGS},amd=${AMDSTATUS},amd_cause=${AMDCAUSE});
	// Canvass sets both variables when it dials. "" refuses such dials.
	AMDContext string `yaml:"amd_context"`
}

// Environment variables the adapter's settings come from; config.Load reads
// them (each also as NAME_FILE).
const (
	EnvURL      = "CANVASS_ARI_URL"
	EnvUser     = "CANVASS_ARI_USER"
	EnvPassword = "CANVASS_ARI_PASSWORD"
	EnvApp      = "CANVASS_ARI_APP"
	// EnvAMDContext names the dialplan context of answering-machine
	// detection (Options.AMDContext).
	EnvAMDContext = "CANVASS_ARI_AMD_CONTEXT"
)

// DefaultOptions leave the adapter disabled (no URL) with sensible values
// for everything else.
func DefaultOptions() Options {
	return Options{App: "canvass", PromptMode: PromptDir, SampleShare: 1,
		ApologyMedia: "sound:im-sorry,sound:vm-goodbye", MaxRecording: 5 * time.Minute,
		RequestTimeout: 5 * time.Second, ConnectTimeout: 10 * time.Second,
		Heartbeat: 15 * time.Second, Backoff: 500 * time.Millisecond, IdleTimeout: 10 * time.Second,
		MaxConnections: 64, MediaAddress: "127.0.0.1"}
}

// Enabled reports whether an Asterisk is configured.
func (o Options) Enabled() bool { return o.URL != "" }

// appName is what Asterisk accepts as a Stasis application name without
// quoting in the dialplan.
var appName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Validate reports every problem at once; a disabled adapter (no URL) has
// none.
func (o Options) Validate() error {
	if !o.Enabled() {
		return nil
	}
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("ari.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("url", "%q must be an http(s) URL such as http://127.0.0.1:8088/ari", o.URL)
	}
	if o.Username == "" {
		bad("username", "required when ari.url is set (%s)", EnvUser)
	}
	if o.Password == "" {
		bad("password", "required when ari.url is set; set %s or %s_FILE", EnvPassword, EnvPassword)
	}
	if !appName.MatchString(o.App) {
		bad("app", "%q must be 1-64 letters, digits, '_', '.' or '-'", o.App)
	}
	switch o.PromptMode {
	case PromptDir:
	case PromptHTTP:
		u, err := url.Parse(o.PromptBaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			bad("prompt_base_url", "%q must be an http(s) URL without a query, reachable from Asterisk", o.PromptBaseURL)
		}
	default:
		bad("prompt_mode", "%q must be dir or http", o.PromptMode)
	}
	if !(o.SampleShare >= 0 && o.SampleShare <= 1) { // also rejects NaN
		bad("sample_share", "%v must be between 0 and 1", o.SampleShare)
	}
	if strings.TrimSpace(o.ApologyMedia) == "" {
		bad("apology_media", "must name at least one media URI, e.g. sound:im-sorry")
	}
	if o.MaxRecording < time.Second || o.MaxRecording > time.Hour {
		bad("max_recording", "%s must be between 1s and 1h", o.MaxRecording)
	}
	for _, d := range []struct {
		key string
		d   time.Duration
	}{{"request_timeout", o.RequestTimeout}, {"connect_timeout", o.ConnectTimeout}, {"heartbeat", o.Heartbeat}} {
		if d.d < 100*time.Millisecond || d.d > 5*time.Minute {
			bad(d.key, "%s must be between 100ms and 5m", d.d)
		}
	}
	if o.Backoff < 10*time.Millisecond || o.Backoff > 30*time.Second {
		bad("backoff", "%s must be between 10ms and 30s", o.Backoff)
	}
	if o.IdleTimeout < 10*time.Millisecond || o.IdleTimeout > 5*time.Minute {
		bad("idle_timeout", "%s must be between 10ms and 5m, and below Asterisk's session_keep_alive (15s by default)", o.IdleTimeout)
	}
	if o.MaxConnections < 1 || o.MaxConnections > 1000 {
		bad("max_connections", "%d must be between 1 and 1000, and below Asterisk's http.conf sessionlimit (100 by default)", o.MaxConnections)
	}
	if a, err := netip.ParseAddr(o.MediaAddress); err != nil || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() {
		bad("media_address", "%q must be one IP address of this host that Asterisk can reach, such as 127.0.0.1 (not 0.0.0.0: Asterisk is told where to send)", o.MediaAddress)
	}
	if o.AMDContext != "" && !dialplanName.MatchString(o.AMDContext) {
		bad("amd_context", "%q must be a dialplan context name: letters, digits, '_', '.' or '-'", o.AMDContext)
	}
	return errors.Join(errs...)
}

// dialplanName is a context name that needs no quoting in a REST query.
var dialplanName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,79}$`)
