// Package sqltest gives tests a real, freshly migrated PostgreSQL database:
// one throwaway cluster per test binary (sql/pglocal, fsync off) holding one
// migrated template database, cloned per test with CREATE DATABASE … TEMPLATE.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { sqltest.Main(m) }
//
//	func TestX(t *testing.T) {
//		db := sqltest.New(t) // *sql.DB, closed and dropped when the test ends
//		…
//	}
//
// With CANVASS_TEST_DATABASE_URL set (a URL to a database on a server where
// its user may CREATE DATABASE), no cluster is started: the template and the
// test databases are created on that server, with unique names, and dropped
// at the end. Without it, the PostgreSQL server binaries must be installed
// (`make test` installs them); a machine without them fails the tests.
package sqltest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/pglocal"
)

// EnvURL names the variable pointing the tests at an existing server.
const EnvURL = "CANVASS_TEST_DATABASE_URL"

// maxConns is each test database's pool size.
const maxConns = 4

// server is the one piece of package state, set by Main before the tests run:
// testing.M gives Main no other way to hand New what it started.
var server *harness

type harness struct {
	url    *url.URL      // the server, with the database path blank
	admin  *pgxpool.Pool // on the server's maintenance database
	prefix string        // of every database this binary creates
	tpl    string        // the migrated template
	n      atomic.Int64
}

// Main starts the database server, runs the tests and exits; it stops the
// cluster and deletes its directory whatever the outcome (after a panic or a
// kill, pglocal's watcher does it).
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, stop, err := setUp(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sqltest: %v\n", err)
		if stop != nil {
			stop()
		}
		return 1
	}
	defer stop()
	server = h
	return m.Run()
}

// setUp starts or reaches the server and migrates the template; stop, when
// not nil, undoes what was done.
func setUp(ctx context.Context) (_ *harness, stop func(), err error) {
	var undo []func()
	stop = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	raw := os.Getenv(EnvURL)
	if raw == "" {
		dir, err := os.MkdirTemp("", "canvass-sqltest-")
		if err != nil {
			return nil, stop, err
		}
		undo = append(undo, func() {
			if err := os.RemoveAll(dir); err != nil {
				fmt.Fprintf(os.Stderr, "sqltest: %v\n", err)
			}
		})
		c, err := pglocal.Start(ctx, dir, pglocal.Options{Throwaway: true})
		if err != nil {
			return nil, stop, fmt.Errorf("%w\n(run `make test`, which installs PostgreSQL, or set %s)", err, EnvURL)
		}
		undo = append(undo, func() {
			if err := c.Stop(context.Background()); err != nil {
				fmt.Fprintf(os.Stderr, "sqltest: %v\n", err)
			}
		})
		raw = c.URL("postgres")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, stop, fmt.Errorf("%s: %w", EnvURL, err)
	}
	admin, err := pgxpool.New(ctx, raw)
	if err != nil {
		return nil, stop, err
	}
	undo = append(undo, admin.Close)

	h := &harness{url: u, admin: admin, prefix: "canvass_test_" + randomName()}
	h.tpl = h.prefix + "_tpl"
	if err := h.create(ctx, h.tpl, ""); err != nil {
		return nil, stop, err
	}
	undo = append(undo, func() { h.drop(h.tpl) })
	db, err := sql.Open(ctx, h.dbURL(h.tpl), 1)
	if err != nil {
		return nil, stop, err
	}
	err = db.Migrate(ctx)
	db.Close()
	if err != nil {
		return nil, stop, err
	}
	// No connections to the template from now on: CREATE DATABASE … TEMPLATE
	// fails while anyone is connected to it.
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+ident(h.tpl)+" ALLOW_CONNECTIONS false"); err != nil {
		return nil, stop, err
	}
	return h, stop, nil
}

// New returns a migrated database of its own for the test, closed and dropped
// when the test ends.
func New(t testing.TB) *sql.DB {
	t.Helper()
	url := newDatabase(t, true)
	db, err := sql.Open(t.Context(), url, maxConns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close) // registered after the drop, so it runs before it
	return db
}

// EmptyURL returns the URL of a new database with no tables at all, for
// testing migrations; it is dropped when the test ends.
func EmptyURL(t testing.TB) string {
	t.Helper()
	return newDatabase(t, false)
}

func newDatabase(t testing.TB, migrated bool) string {
	t.Helper()
	h := server
	if h == nil {
		t.Fatal("sqltest: no database server: call sqltest.Main from TestMain")
	}
	name := fmt.Sprintf("%s_%d", h.prefix, h.n.Add(1))
	template := ""
	if migrated {
		template = h.tpl
	}
	if err := h.create(t.Context(), name, template); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.drop(name) })
	return h.dbURL(name)
}

func (h *harness) create(ctx context.Context, name, template string) error {
	q := "CREATE DATABASE " + ident(name)
	if template != "" {
		q += " TEMPLATE " + ident(template)
	}
	if _, err := h.admin.Exec(ctx, q); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// drop removes a database; failures only leave garbage behind, so they are
// reported, not fatal.
func (h *harness) drop(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := h.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
		fmt.Fprintf(os.Stderr, "sqltest: drop database %s: %v\n", name, err)
	}
}

func (h *harness) dbURL(name string) string {
	u := *h.url
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// randomName keeps the databases of test binaries sharing a server apart.
func randomName() string { return strings.ToLower(rand.Text()[:10]) }

// Server is a PostgreSQL server of one test's own, for a test that
// restarts or stops it (a fault), which the other tests' shared server must
// not see.
type Server struct {
	t   testing.TB
	dir string
	c   *pglocal.Cluster
}

// NewServer starts a throwaway cluster for t alone and returns it with a
// migrated database on it, opened with a pool of maxConns; both are closed,
// and the cluster removed, when t ends. Without the server binaries it
// skips t when the other tests use EnvURL, and fails it otherwise.
func NewServer(t testing.TB, maxConns int32) (*Server, *sql.DB) {
	t.Helper()
	ctx := t.Context()
	// Not t.TempDir: its parent is closed to user postgres when run as root.
	dir, err := os.MkdirTemp("", "canvass-server-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Error(err)
		}
	})
	c, err := pglocal.Start(ctx, dir, pglocal.Options{Throwaway: true})
	if errors.Is(err, pglocal.ErrNotInstalled) && os.Getenv(EnvURL) != "" {
		t.Skipf("the other tests use %s; this one needs the server binaries: %v", EnvURL, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, dir: dir, c: c}
	t.Cleanup(func() {
		if err := s.c.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if err := c.CreateDatabase(ctx, "canvass"); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(ctx, c.URL("canvass"), maxConns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close) // before the cluster stops
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s, db
}

// Restart restarts the server as `pg_ctl restart -m fast`: sessions end,
// committed work stays.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.c.Restart(s.t.Context()); err != nil {
		s.t.Fatal(err)
	}
}

// Stop shuts the server down (fast mode); Start brings it back on its port.
func (s *Server) Stop() {
	s.t.Helper()
	if err := s.c.Stop(s.t.Context()); err != nil {
		s.t.Fatal(err)
	}
}

// Start starts the stopped server again, on the port it had.
func (s *Server) Start() {
	s.t.Helper()
	c, err := pglocal.Start(s.t.Context(), s.dir, pglocal.Options{Port: s.c.Port(), Throwaway: true})
	if err != nil {
		s.t.Fatal(err)
	}
	s.c = c
}
