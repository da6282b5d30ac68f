package main

// This file is `canvass cluster`: Kamailio in front of several canvass
// nodes sharing one PostgreSQL, on one machine (make cluster), and the
// Kamailio configuration for a real cluster (cluster config).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/canvass/canvass/config"
	"github.com/canvass/canvass/ivr/kamailio"
)

// cluster runs `canvass cluster run|config`.
func cluster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: cluster needs run or config", errUsage)
	}
	switch args[0] {
	case "run":
		return clusterRun(ctx, args[1:], stdout, stderr)
	case "config":
		return clusterConfig(args[1:], stdout, stderr)
	}
	return fmt.Errorf("%w: unknown cluster command %q", errUsage, args[0])
}

// nodeList is a repeatable -node flag.
type nodeList []string

func (n *nodeList) String() string     { return strings.Join(*n, ",") }
func (n *nodeList) Set(v string) error { *n = append(*n, v); return nil }

// clusterConfig writes kamailio.cfg and dispatcher.list for nodes.
func clusterConfig(args []string, stdout, stderr io.Writer) error {
	o := kamailio.DefaultOptions()
	fs := flag.NewFlagSet("cluster config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nodes nodeList
	out := fs.String("out", ".", "directory to write kamailio.cfg and dispatcher.list into")
	fs.StringVar(&o.Listen, "listen", o.Listen, "Kamailio's SIP address (the floating IP's, ip:port)")
	fs.Var(&nodes, "node", "a canvass node's SIP address, ip:port (repeat for each node)")
	fs.StringVar(&o.Dir, "dir", o.Dir, "where Kamailio will read dispatcher.list from")
	fs.DurationVar(&o.Probe, "probe", o.Probe, "OPTIONS probing interval (whole seconds)")
	fs.DurationVar(&o.Failover, "failover", o.Failover, "an INVITE a node leaves unanswered this long goes to the next node")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	o.Nodes = nodes
	cfg, err := o.Config()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "kamailio.cfg"), cfg, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "dispatcher.list"), o.DispatcherList(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %s (for %s); copy both into %s\n", filepath.Join(*out, "kamailio.cfg"),
		filepath.Join(*out, "dispatcher.list"), strings.Join(o.Nodes, ", "), o.Dir)
	return nil
}

// clusterNodeEnv is what every node of a local cluster is given: the
// shared database, its SIP and HTTP addresses, JSON logs (read for the
// bound addresses), and where to find the example prompts.
func clusterNodeEnv(dbURL, sipAddr, httpAddr string, extra ...string) []string {
	env := append(os.Environ(), "CANVASS_DATABASE_URL="+dbURL, "CANVASS_SIP_ADDR="+sipAddr,
		"CANVASS_HTTP_ADDR="+httpAddr, "CANVASS_LOG_FORMAT=json", "CANVASS_LOG_LEVEL=info")
	return append(env, extra...)
}

// startClusterNode starts `exe serve` in dir (its prompt cache and voice
// answers land there) and returns once it serves.
func startClusterNode(ctx context.Context, exe, dir string, env []string, progress io.Writer) (*spawned, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "serve")
	cmd.Dir, cmd.Env = dir, env
	return spawn(ctx, cmd, filepath.Join(dir, "canvass.log"), false, progress)
}

// clusterRun is make cluster: a local PostgreSQL (in -data, kept), the
// example questionnaires, N nodes and Kamailio in front, until Ctrl-C.
func clusterRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cluster run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("nodes", 3, "canvass nodes")
	dataDir := fs.String("data", ".data/cluster", "directory for the local PostgreSQL, Kamailio's files and the nodes' logs")
	listen := fs.String("sip", "127.0.0.1:5080", "Kamailio's SIP address: call this")
	nodeBase := fs.Int("node-port", 5090, "node i's SIP port is this + i, on 127.0.0.1")
	httpBase := fs.Int("http-port", 8090, "node i's HTTP port is this + i, on 127.0.0.1")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *n < 1 || *n > 20 {
		return fmt.Errorf("%w: -nodes %d: 1 to 20", errUsage, *n)
	}
	data, err := filepath.Abs(*dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg, err := config.Load("", func(string) string { return "" })
	if err != nil {
		return err
	}
	db, closeDB, err := open(ctx, cfg, data, log)
	if err != nil {
		return err
	}
	defer closeDB()
	if _, err := loadExamples(ctx, db); err != nil {
		return err
	}
	dbURL, err := os.ReadFile(filepath.Join(data, devURLFile))
	if err != nil {
		return fmt.Errorf("the local database's URL: %w", err)
	}
	var nodes []*spawned
	defer func() {
		for _, s := range nodes {
			if err := s.stop(); err != nil {
				log.Warn("stop node", "err", err)
			}
		}
	}()
	var addrs []string
	for i := range *n {
		sipAddr := "127.0.0.1:" + strconv.Itoa(*nodeBase+i)
		env := clusterNodeEnv(strings.TrimSpace(string(dbURL)), sipAddr, "127.0.0.1:"+strconv.Itoa(*httpBase+i))
		s, err := startClusterNode(ctx, exe, filepath.Join(data, fmt.Sprintf("node%d", i+1)), env, stderr)
		if err != nil {
			return fmt.Errorf("node %d: %w", i+1, err)
		}
		nodes = append(nodes, s)
		addrs = append(addrs, s.sipAddr)
	}
	kopts := kamailio.Options{Listen: *listen, Nodes: addrs, Probe: 2 * time.Second, Failover: time.Second,
		Dir: filepath.Join(data, "kamailio"), Children: 2}
	klog, err := os.Create(filepath.Join(data, "kamailio.log"))
	if err != nil {
		return err
	}
	defer klog.Close()
	k, err := kamailio.Start(ctx, kopts, klog)
	if err != nil {
		return err
	}
	defer k.Stop()
	fmt.Fprintf(stdout, "\nCanvass cluster: Kamailio on %s in front of %d nodes sharing one PostgreSQL\n", *listen, *n)
	fmt.Fprintf(stdout, "  keypad survey:  call sip:post-call@%s (RTP goes to the node that answers)\n", *listen)
	for i, s := range nodes {
		fmt.Fprintf(stdout, "  node %d:         SIP %s  HTTP http://%s  pid %d  log %s\n", i+1, s.sipAddr, s.httpAddr, s.cmd.Process.Pid, s.logPath)
	}
	fmt.Fprintf(stdout, "  Kamailio:       %s (config), %s (log)\n", filepath.Join(kopts.Dir, "kamailio.cfg"), klog.Name())
	fmt.Fprintf(stdout, "  try a failover: kill -9 a node's pid; new calls go to the others, its interviews close as lost\n")
	fmt.Fprintf(stdout, "Stop with Ctrl-C; the database stays in %s.\n\n", data)
	select {
	case <-ctx.Done():
		return nil
	case <-k.Exited():
		return errors.New("kamailio exited; see its log")
	}
}

// freePort finds a port free on both UDP and TCP on ip, for Kamailio,
// which cannot report a port the system picked.
func freePort(ip string) (string, error) {
	for range 20 {
		u, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(ip+":0")))
		if err != nil {
			return "", err
		}
		addr := u.LocalAddr().(*net.UDPAddr).AddrPort()
		t, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(addr))
		u.Close()
		if err == nil {
			t.Close()
			return addr.String(), nil
		}
	}
	return "", errors.New("no port free on both UDP and TCP")
}
