// Package pglocal starts a PostgreSQL cluster from the machine's own server
// binaries (initdb, pg_ctl): the throwaway cluster of the tests (sql/sqltest)
// and the one `make run` keeps in .data/postgres. Production points canvass at
// a server of its own (CANVASS_DATABASE_URL) and never comes here.
//
// PostgreSQL refuses to run as root, so as root the cluster belongs to the
// user postgres (created by Debian's postgresql package) and the binaries run
// through `runuser -u postgres --`. The server listens on 127.0.0.1 only, with
// its Unix socket inside the data directory.
package pglocal

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
)

// ErrNotInstalled says the machine has no PostgreSQL server binaries.
// ErrUnreachable means that, running as root, the cluster directory is
// behind a directory user postgres cannot enter.
var ErrUnreachable = errors.New("cluster directory unreachable")

var ErrNotInstalled = errors.New("no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin, " +
	"`pg_config --bindir` or PATH: install Debian's postgresql package (apt-get install -y postgresql; " +
	"`make test` and `make run` do it)")

// Options says how to start a cluster.
type Options struct {
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// Throwaway is for tests: fsync is off, and should this process die
	// without calling Stop (a panic, a test timeout, a kill) a watcher stops
	// the cluster and deletes its directory a second later.
	Throwaway bool
}

// Cluster is a running local PostgreSQL server and its data directory.
type Cluster struct {
	dir  string
	port int
	pg   runner
}

// Start runs the cluster whose data directory is dir, creating it with initdb
// when dir does not exist or is empty. A cluster already running in dir (say,
// left by an earlier `make run`) is reused as it is, on the port it listens on.
func Start(ctx context.Context, dir string, opts Options) (*Cluster, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("start postgres in %s: %w", dir, err)
	}
	pg, err := newRunner()
	if err != nil {
		return nil, fmt.Errorf("start postgres in %s: %w", dir, err)
	}
	c := &Cluster{dir: dir, pg: pg}
	initialized, err := c.prepareDir()
	if err != nil {
		return nil, fmt.Errorf("start postgres in %s: %w", dir, err)
	}
	if port, ok := c.runningPort(ctx); ok {
		c.port = port
		return c, nil
	}
	if !initialized {
		if err := pg.run(ctx, "initdb", "-D", dir, "-A", "trust", "-U", "postgres",
			"--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
			return nil, fmt.Errorf("start postgres in %s: %w", dir, err)
		}
	}
	if err := c.start(ctx, opts); err != nil {
		return nil, fmt.Errorf("start postgres in %s: %w", dir, err)
	}
	if opts.Throwaway {
		if err := c.watch(); err != nil {
			return nil, fmt.Errorf("start postgres in %s: %w", dir, errors.Join(err, c.Stop(ctx)))
		}
	}
	return c, nil
}

// Dir is the cluster's data directory.
func (c *Cluster) Dir() string { return c.dir }

// Port is the TCP port the server listens on, on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// URL is the connection URL of database db as the superuser postgres
// (trust authentication: the cluster is local and for development only).
func (c *Cluster) URL(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDatabase creates database name unless it exists.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// Stop shuts the server down (fast mode: open sessions are ended, committed
// work is kept), whoever started it. Stopping a stopped cluster is not an error.
func (c *Cluster) Stop(ctx context.Context) error {
	if err := c.pg.run(ctx, "pg_ctl", "stop", "-w", "-D", c.dir, "-m", "fast"); err != nil {
		if _, running := c.runningPort(ctx); !running {
			return nil
		}
		return fmt.Errorf("stop postgres in %s: %w", c.dir, err)
	}
	return nil
}

// Restart restarts the server with `pg_ctl restart -m fast`: open sessions
// are ended, committed work is kept, and it comes back with the options it
// had, on the same port. A database restart in production looks like this;
// the tests that inject one call it.
func (c *Cluster) Restart(ctx context.Context) error {
	if err := c.pg.run(ctx, "pg_ctl", "restart", "-w", "-t", "60", "-D", c.dir, "-m", "fast",
		"-l", filepath.Join(c.dir, "postgres.log")); err != nil {
		return fmt.Errorf("restart postgres in %s: %w", c.dir, err)
	}
	return nil
}

// prepareDir makes dir ready for initdb or pg_ctl and says whether it already
// holds a cluster. As root it hands a new dir to postgres, and checks that
// postgres can reach it: a clear error beats the server's "permission denied".
func (c *Cluster) prepareDir() (initialized bool, err error) {
	if c.pg.owner != nil {
		if err := c.pg.owner.checkReach(c.dir); err != nil {
			return false, err
		}
	}
	// Parents are made 0755 so that postgres can traverse the ones we create.
	if err := os.MkdirAll(filepath.Dir(c.dir), 0o755); err != nil {
		return false, err
	}
	if err := os.Mkdir(c.dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return false, err
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return false, err
	}
	initialized = slices.ContainsFunc(entries, func(e fs.DirEntry) bool { return e.Name() == "PG_VERSION" })
	if !initialized && len(entries) > 0 {
		return false, fmt.Errorf("%s is not empty and holds no PostgreSQL cluster", c.dir)
	}
	if c.pg.owner != nil && !initialized {
		if err := os.Chown(c.dir, c.pg.owner.uid, c.pg.owner.gids[0]); err != nil {
			return false, err
		}
	}
	return initialized, nil
}

// runningPort reports the port of a server already running in the cluster's
// directory, if there is one.
func (c *Cluster) runningPort(ctx context.Context) (int, bool) {
	pid, err := os.ReadFile(filepath.Join(c.dir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	// pg_ctl status tells a live server from a stale pid file.
	if err := c.pg.run(ctx, "pg_ctl", "status", "-D", c.dir); err != nil {
		return 0, false
	}
	// postmaster.pid: pid, data dir, start time, port, socket dir, addresses…
	lines := strings.Split(string(pid), "\n")
	if len(lines) < 4 {
		return 0, false
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	return port, err == nil
}

// portFile, in a kept cluster's data directory, is the port it last had.
const portFile = "canvass.port"

// start runs pg_ctl start, retrying on another free port when the one picked
// (or remembered) was taken in the meantime.
func (c *Cluster) start(ctx context.Context, opts Options) error {
	logFile := filepath.Join(c.dir, "postgres.log")
	// A kept cluster comes back on the port it had, so that a database URL
	// exported from an earlier run (README) still reaches it.
	remembered := 0
	if opts.Port == 0 && !opts.Throwaway {
		if b, err := os.ReadFile(filepath.Join(c.dir, portFile)); err == nil {
			remembered, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	for try := 0; ; try++ {
		port := opts.Port
		if port == 0 && try == 0 && remembered > 0 {
			port = remembered
		} else if port == 0 {
			var err error
			if port, err = freePort(); err != nil {
				return err
			}
		}
		// pg_ctl hands -o to a shell, hence the quoting. Unix socket paths are
		// limited to 107 bytes: past that, TCP only.
		sockDir := c.dir
		if len(sockDir)+len("/.s.PGSQL.65535.lock") > 107 {
			sockDir = ""
		}
		o := fmt.Sprintf("-k %s -c listen_addresses=127.0.0.1 -p %d", shellQuote(sockDir), port)
		if opts.Throwaway {
			o += " -c fsync=off"
		}
		err := c.pg.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", c.dir, "-l", logFile, "-o", o)
		if err == nil {
			c.port = port
			if opts.Throwaway {
				return nil
			}
			return os.WriteFile(filepath.Join(c.dir, portFile), []byte(strconv.Itoa(port)+"\n"), 0o644)
		}
		tail := logTail(logFile)
		if opts.Port == 0 && try < 3 && strings.Contains(tail, "could not bind") {
			continue
		}
		return fmt.Errorf("%w\n%s", err, tail)
	}
}

// watch starts a detached shell that outlives this process: once the process
// is gone, it stops the cluster and removes its directory. It holds none of
// our output pipes, so `go test` does not wait for it.
func (c *Cluster) watch() error {
	const script = `while kill -0 "$1" 2>/dev/null; do sleep 1; done
shift; dir=$1; shift
"$@" stop -D "$dir" -m immediate >/dev/null 2>&1
rm -rf "$dir"`
	args := append([]string{"-c", script, "sh", strconv.Itoa(os.Getpid()), c.dir}, c.pg.argv("pg_ctl")...)
	cmd := exec.Command("/bin/sh", args...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("watch cluster: %w", err)
	}
	return cmd.Process.Release()
}

// runner runs PostgreSQL's programs, as postgres when we are root.
type runner struct {
	bin   string
	owner *osUser // nil: run as ourselves
}

func newRunner() (runner, error) {
	bin, err := findBin()
	if err != nil {
		return runner{}, err
	}
	r := runner{bin: bin}
	if os.Geteuid() == 0 {
		if r.owner, err = lookupUser("postgres"); err != nil {
			return runner{}, fmt.Errorf("PostgreSQL will not run as root and there is no user postgres to run it as "+
				"(%w): install Debian's postgresql package, which creates it", err)
		}
	}
	return r, nil
}

func (r runner) argv(prog string) []string {
	path := filepath.Join(r.bin, prog)
	if r.owner == nil {
		return []string{path}
	}
	return []string{"runuser", "-u", "postgres", "--", path}
}

// run runs prog; its output is in the error.
func (r runner) run(ctx context.Context, prog string, args ...string) error {
	argv := append(r.argv(prog), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// Our working directory may be closed to postgres (say, /root), and
	// initdb and pg_ctl fail when they cannot resolve it.
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", prog, err, bytes.TrimSpace(out))
	}
	return nil
}

// findBin finds the directory of initdb and pg_ctl: Debian's layout (highest
// major version first), then pg_config, then PATH.
func findBin() (string, error) {
	dirs, err := filepath.Glob("/usr/lib/postgresql/*/bin")
	if err != nil {
		return "", err
	}
	major := func(d string) float64 {
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		if err != nil {
			return -1
		}
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return int(major(b)*100) - int(major(a)*100) })
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// osUser is the account the server runs as when we are root.
type osUser struct {
	uid  int
	gids []int // primary first
}

func lookupUser(name string) (*osUser, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, err
	}
	o := &osUser{uid: uid, gids: []int{gid}}
	groups, err := u.GroupIds()
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		if n, err := strconv.Atoi(g); err == nil && n != gid {
			o.gids = append(o.gids, n)
		}
	}
	return o, nil
}

// checkReach reports the first parent of dir that the user cannot traverse.
// Missing parents are fine: prepareDir creates them open.
func (o *osUser) checkReach(dir string) error {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		var bit fs.FileMode = 0o001
		switch {
		case int(st.Uid) == o.uid:
			bit = 0o100
		case slices.Contains(o.gids, int(st.Gid)):
			bit = 0o010
		}
		if fi.Mode().Perm()&bit == 0 {
			return fmt.Errorf("%w: the server runs as user postgres, which cannot reach %s: %s is %v and closed to postgres; "+
				"keep the cluster where postgres can reach it (say, under /tmp) or open the way with `chmod o+x %s`",
				ErrUnreachable, dir, p, fi.Mode(), p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// logTail is the end of the server log, for error messages.
func logTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > 10 {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
