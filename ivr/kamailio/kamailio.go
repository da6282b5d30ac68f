// Package kamailio runs Kamailio (Debian's kamailio package) as the SIP
// front of several canvass nodes: it writes the configuration (the
// dispatcher spreads INVITEs over the nodes, probes them with OPTIONS and
// fails over at once from a node that does not answer), starts the
// process, and reads the dispatcher's view of the nodes over its control
// socket (kamcmd). Kamailio proxies signalling only; RTP flows between
// the callers and the nodes.
package kamailio

// This file is the configuration: Options, the rendered kamailio.cfg and
// the dispatcher list.

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"text/template"
	"time"
)

//go:embed kamailio.cfg.tmpl
var cfgTemplate string

var tmpl = template.Must(template.New("kamailio.cfg").Parse(cfgTemplate))

// Options shape the generated configuration.
type Options struct {
	// Listen is where Kamailio takes SIP, on UDP and TCP ("ip:port").
	Listen string
	// Nodes are the canvass nodes' SIP addresses ("ip:port"), the
	// dispatcher's set 1.
	Nodes []string
	// Probe is how often every node is sent OPTIONS (whole seconds, at
	// least 1); a node that fails one is taken out until it answers again.
	Probe time.Duration
	// Failover is how long an INVITE waits for a node's first reply
	// before the node is marked down and the next one tried.
	Failover time.Duration
	// Dir holds the dispatcher list (and, for Start, the control socket).
	Dir string
	// ControlSocket is the path of the control socket kamcmd talks to;
	// empty: none.
	ControlSocket string
	// ModulesDir is Kamailio's modules directory; empty: its compiled-in
	// default (Debian's is right).
	ModulesDir string
	// Children is the number of SIP worker processes per transport
	// (default 4).
	Children int
	// LogLevel is Kamailio's debug level: 0 warnings and errors, 1 adds
	// notices, 2 info, 3 debug.
	LogLevel int
}

// DefaultOptions is a production starting point for nodes.
func DefaultOptions() Options {
	return Options{Listen: "0.0.0.0:5060", Probe: 2 * time.Second, Failover: 1500 * time.Millisecond,
		Dir: "/etc/kamailio", Children: 4}
}

// Validate returns every problem of o at once.
func (o Options) Validate() error {
	var errs []error
	if _, err := netip.ParseAddrPort(o.Listen); err != nil {
		errs = append(errs, fmt.Errorf("kamailio listen %q: must be ip:port", o.Listen))
	}
	if len(o.Nodes) == 0 {
		errs = append(errs, errors.New("kamailio: no canvass node to dispatch to"))
	}
	for _, n := range o.Nodes {
		if _, err := netip.ParseAddrPort(n); err != nil {
			errs = append(errs, fmt.Errorf("kamailio node %q: must be ip:port", n))
		}
	}
	if o.Probe < time.Second || o.Probe%time.Second != 0 {
		errs = append(errs, fmt.Errorf("kamailio probe interval %s: whole seconds, at least 1s", o.Probe))
	}
	if o.Failover < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("kamailio failover %s: at least 100ms", o.Failover))
	}
	if o.Dir == "" || strings.ContainsAny(o.Dir+o.ControlSocket+o.ModulesDir, "\"\n") {
		errs = append(errs, fmt.Errorf("kamailio directory %q: required, and no quotes or line breaks in paths", o.Dir))
	}
	if o.Children < 0 || o.LogLevel < -5 || o.LogLevel > 3 {
		errs = append(errs, fmt.Errorf("kamailio children %d / log level %d out of range", o.Children, o.LogLevel))
	}
	return errors.Join(errs...)
}

// ListFile is the dispatcher list's path.
func (o Options) ListFile() string { return strings.TrimSuffix(o.Dir, "/") + "/dispatcher.list" }

// Config renders kamailio.cfg.
func (o Options) Config() ([]byte, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	children := o.Children
	if children == 0 {
		children = 4
	}
	listen := netip.MustParseAddrPort(o.Listen)
	host := listen.Addr().String()
	if listen.Addr().IsUnspecified() {
		host = "127.0.0.1" // only the From of OPTIONS probes; the nodes ignore it
	}
	var b bytes.Buffer
	err := tmpl.Execute(&b, map[string]any{
		"Listen":         []string{"udp:" + o.Listen, "tcp:" + o.Listen},
		"Host":           host,
		"ListFile":       o.ListFile(),
		"ControlSocket":  o.ControlSocket,
		"ModulesDir":     o.ModulesDir,
		"Children":       children,
		"LogLevel":       o.LogLevel,
		"ProbeSeconds":   int(o.Probe / time.Second),
		"FailoverMillis": int(o.Failover / time.Millisecond),
	})
	return b.Bytes(), err
}

// DispatcherList renders the dispatcher list: set 1, one line per node,
// each in use from the start (flags 0); probing takes out one that stops
// answering OPTIONS.
func (o Options) DispatcherList() []byte {
	var b bytes.Buffer
	b.WriteString("# setid destination flags priority attributes — canvass nodes\n")
	for i, n := range o.Nodes {
		fmt.Fprintf(&b, "1 sip:%s 0 0 node=%d\n", n, i+1)
	}
	return b.Bytes()
}
