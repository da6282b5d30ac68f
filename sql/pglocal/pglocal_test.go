// Tests of the local cluster: create, reuse, stop, restart on the same port,
// and the errors a developer meets when the data directory is wrong.

package pglocal_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/sql/pglocal"
)

// tempDir is a fresh directory postgres can reach: t.TempDir's parent is
// 0700, closed to postgres when the tests run as root.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "canvass-pglocal-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Error(err)
		}
	})
	return dir
}

// query runs the statements before sql, then returns what sql selects.
func query(t *testing.T, url string, before []string, sql string) string {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	defer conn.Close(ctx)
	for _, b := range before {
		if _, err := conn.Exec(ctx, b); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestStartReuseStopRestart(t *testing.T) {
	ctx := t.Context()
	dir := tempDir(t)
	c, err := pglocal.Start(ctx, dir, pglocal.Options{Throwaway: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	if got := query(t, c.URL("postgres"), nil, "SHOW fsync"); got != "off" {
		t.Errorf("fsync of a throwaway cluster = %s, want off", got)
	}
	if err := c.CreateDatabase(ctx, "canvass"); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDatabase(ctx, "canvass"); err != nil {
		t.Fatalf("second CreateDatabase: %v", err)
	}
	query(t, c.URL("canvass"), []string{"CREATE TABLE kept AS SELECT 'still here'::text AS s"}, "SELECT s FROM kept")

	// A second Start finds the running server and reuses it.
	again, err := pglocal.Start(ctx, dir, pglocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Port() != c.Port() {
		t.Errorf("reused cluster on port %d, want %d", again.Port(), c.Port())
	}

	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Errorf("stopping a stopped cluster: %v", err)
	}
	c, err = pglocal.Start(ctx, dir, pglocal.Options{Port: c.Port()})
	if err != nil {
		t.Fatal(err)
	}
	if c.Port() != again.Port() {
		t.Errorf("restarted on port %d, want %d", c.Port(), again.Port())
	}
	if got := query(t, c.URL("canvass"), nil, "SELECT s FROM kept"); got != "still here" {
		t.Errorf("after restart: %q", got)
	}

	// Restart keeps the port, the options and the data.
	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if got := query(t, c.URL("canvass"), nil, "SELECT s || ', fsync ' || current_setting('fsync') FROM kept"); got != "still here, fsync on" {
		t.Errorf("after pg_ctl restart: %q", got)
	}
}

func TestStartRefusesForeignDir(t *testing.T) {
	dir := tempDir(t)
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := pglocal.Start(t.Context(), dir, pglocal.Options{})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("Start in a non-empty dir: %v, want a 'not empty' error", err)
	}
}

func TestStartExplainsClosedParent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the cluster to user postgres")
	}
	closed := t.TempDir() // 0700, owned by root
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := pglocal.Start(t.Context(), filepath.Join(closed, ".data", "postgres"), pglocal.Options{})
	if err == nil || !strings.Contains(err.Error(), "chmod o+x "+closed) {
		t.Fatalf("Start under a closed directory: %v, want an error naming the fix", err)
	}
	if errors.Is(err, pglocal.ErrNotInstalled) {
		t.Fatal(err)
	}
}

// A kept cluster (make run's) comes back on the port it had, so that an
// exported database URL still reaches it; when that port is taken meanwhile,
// on another.
func TestKeptClusterKeepsItsPort(t *testing.T) {
	ctx := t.Context()
	dir := tempDir(t)
	c, err := pglocal.Start(ctx, dir, pglocal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	first := c.Port()
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err = pglocal.Start(ctx, dir, pglocal.Options{}); err != nil {
		t.Fatal(err)
	}
	if c.Port() != first {
		t.Fatalf("restarted on port %d, want %d", c.Port(), first)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", first))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if c, err = pglocal.Start(ctx, dir, pglocal.Options{}); err != nil {
		t.Fatalf("port %d taken: %v", first, err)
	}
	if c.Port() == first {
		t.Fatalf("started on the taken port %d", first)
	}
	query(t, c.URL("postgres"), nil, "SELECT 'up'")
}
