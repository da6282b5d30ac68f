package kamailio

// This file runs Kamailio: Start writes the configuration into Options.Dir
// and starts `kamailio -DD -E` (in the foreground, logging to stderr) in a
// process group of its own, so that Stop ends its workers too.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNotInstalled: no kamailio binary on PATH or in /usr/sbin.
var ErrNotInstalled = errors.New("kamailio is not installed (Debian package kamailio)")

// Binary finds the kamailio executable.
func Binary() (string, error) {
	if p, err := exec.LookPath("kamailio"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/kamailio"); err == nil {
		return "/usr/sbin/kamailio", nil
	}
	return "", ErrNotInstalled
}

// Process is a running Kamailio.
type Process struct {
	opts    Options
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	stopped sync.Once
}

// Start writes kamailio.cfg and the dispatcher list into opts.Dir (with
// the control socket there too when opts.ControlSocket is empty), starts
// Kamailio with its log going to log, and returns once it answers on its
// control socket.
func Start(ctx context.Context, opts Options, log io.Writer) (*Process, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if opts.ControlSocket == "" {
		opts.ControlSocket = filepath.Join(opts.Dir, "kamailio.ctl")
	}
	cfg, err := opts.Config()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	cfgFile := filepath.Join(opts.Dir, "kamailio.cfg")
	if err := os.WriteFile(cfgFile, cfg, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(opts.ListFile(), opts.DispatcherList(), 0o644); err != nil {
		return nil, err
	}
	// A shared memory pool small enough for a test machine, large enough
	// for thousands of transactions.
	// Its runtime directory is ours too, not /run/kamailio.
	run := filepath.Join(opts.Dir, "run")
	if err := os.MkdirAll(run, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-DD", "-E", "-f", cfgFile, "-m", "64", "-M", "8", "-Y", run,
		"-P", filepath.Join(opts.Dir, "kamailio.pid"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start kamailio: %w", err)
	}
	p := &Process{opts: opts, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	for {
		if _, err := p.rpc(ctx, "core.version"); err == nil {
			return p, nil
		}
		select {
		case <-p.exited:
			p.Stop()
			return nil, fmt.Errorf("kamailio exited at start (%v); check its log", p.waitErr)
		case <-ctx.Done():
			p.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop ends Kamailio and its workers (SIGTERM, SIGKILL after 5 s).
func (p *Process) Stop() error {
	p.stopped.Do(func() {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
		}
		// Workers left behind by a main process that died first.
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	})
	return nil
}

// Exited is closed once Kamailio's main process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// rpc runs one kamcmd command against the control socket.
func (p *Process) rpc(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "kamcmd", append([]string{"-s", "unix:" + p.opts.ControlSocket}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kamcmd %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Destinations is the dispatcher's view of the nodes: each node's
// "ip:port" and whether it is in use (active, not probing-failed).
func (p *Process) Destinations(ctx context.Context) (map[string]bool, error) {
	out, err := p.rpc(ctx, "dispatcher.list")
	if err != nil {
		return nil, err
	}
	return parseList(out), nil
}

// parseList reads kamcmd's dispatcher.list: URI lines followed by their
// FLAGS ("AP": active and probed, "IP"/"TP": inactive or trying).
func parseList(out string) map[string]bool {
	dst := map[string]bool{}
	uri := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "URI":
			uri = strings.TrimPrefix(v, "sip:")
		case "FLAGS":
			if uri != "" {
				dst[uri] = strings.HasPrefix(v, "A")
				uri = ""
			}
		}
	}
	return dst
}
