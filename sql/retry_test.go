// Which real failures the stores retry: a server that is away or ends the
// session, yes; a wrong database, bad SQL or a spent budget, no.

package sql_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
)

func TestRetryClassifiesRealErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	url := db.Pool().Config().ConnConfig.ConnString()
	connect := func(t *testing.T, url string) (*pgx.Conn, error) {
		t.Helper()
		c, err := pgx.Connect(ctx, url)
		if err == nil {
			t.Cleanup(func() { c.Close(context.Background()) })
		}
		return c, err
	}
	connCfg := db.Pool().Config().ConnConfig

	refused := func(t *testing.T) error {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close() // nobody listens there now
		_, err = connect(t, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?sslmode=disable&connect_timeout=5", port))
		return err
	}
	noDatabase := func(t *testing.T) error {
		cfg := connCfg.Copy()
		cfg.Database = "no_such_database"
		_, err := pgx.ConnectConfig(ctx, cfg)
		return err
	}
	terminated := func(t *testing.T) error {
		victim, err := connect(t, url)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Pool().Exec(ctx, `SELECT pg_terminate_backend($1)`, victim.PgConn().PID()); err != nil {
			t.Fatal(err)
		}
		// The server ends the session as a restart does: FATAL 57P01.
		_, err = victim.Exec(ctx, `SELECT 1`)
		return err
	}
	badSQL := func(t *testing.T) error {
		_, err := db.Pool().Exec(ctx, `SELEKT 1`)
		return err
	}
	deadline := func(t *testing.T) error {
		dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := db.Pool().Exec(dctx, `SELECT pg_sleep(5)`)
		return err
	}
	for _, tc := range []struct {
		name             string
		err              func(*testing.T) error
		notRun, connLost bool
	}{
		{"connection refused", refused, true, true},
		{"session terminated", terminated, true, true},
		{"no such database", noDatabase, false, false},
		{"syntax error", badSQL, false, false},
		{"budget spent", deadline, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err(t)
			if err == nil {
				t.Fatal("no error")
			}
			if got := sql.NotRun(err); got != tc.notRun {
				t.Errorf("NotRun(%v) = %t, want %t", err, got, tc.notRun)
			}
			if got := sql.ConnLost(err); got != tc.connLost {
				t.Errorf("ConnLost(%v) = %t, want %t", err, got, tc.connLost)
			}
		})
	}
}
