// The database: configuration, the connection pool, the package's errors and
// the retry after a server restart. Each store lives in a file of its own,
// its SQL beside the function that runs it.

package sql

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options is the database section of the configuration.
type Options struct {
	// DatabaseURL is a PostgreSQL URL or DSN. Empty: canvass starts a local
	// cluster (make run; sql/pglocal).
	DatabaseURL string `yaml:"database_url"`
	// MaxConns caps the connection pool.
	MaxConns int32 `yaml:"max_conns"`
}

// DefaultOptions are the options before any configuration is read.
func DefaultOptions() Options {
	return Options{MaxConns: 10}
}

// Validate returns every problem of o at once.
func (o Options) Validate() error {
	var errs []error
	if o.DatabaseURL != "" {
		if _, err := pgxpool.ParseConfig(o.DatabaseURL); err != nil {
			errs = append(errs, fmt.Errorf("database.database_url: %w", err))
		}
	}
	if o.MaxConns < 1 || o.MaxConns > 1000 {
		errs = append(errs, fmt.Errorf("database.max_conns: must be between 1 and 1000, not %d", o.MaxConns))
	}
	return errors.Join(errs...)
}

// DBTX is what a store function needs to run SQL: a pool, a connection or a
// transaction, so that the same function works in or out of a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var (
	_ DBTX = (*pgxpool.Pool)(nil)
	_ DBTX = (pgx.Tx)(nil)
	_ DBTX = (*pgx.Conn)(nil)
)

// DB is the database: a connection pool and the stores' methods.
type DB struct {
	pool *pgxpool.Pool
}

// Open connects to the database at url with a pool of at most maxConns
// connections (0: pgx's default), and checks that it answers. Sessions run in UTC unless the URL
// sets another timezone.
func Open(ctx context.Context, url string, maxConns int32) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	params := cfg.ConnConfig.RuntimeParams
	if params["timezone"] == "" {
		params["timezone"] = "UTC"
	}
	if params["application_name"] == "" {
		params["application_name"] = "canvass"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open database %s: %w", cfg.ConnConfig.Database, err)
	}
	return &DB{pool: pool}, nil
}

// Close closes every connection, waiting for those in use to be released.
func (db *DB) Close() { db.pool.Close() }

// Pool is the underlying pool, for LISTEN/NOTIFY and CopyFrom.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Ping checks that the database answers, for /healthz.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// PostgreSQL error codes the stores translate.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeCheckViolation      = "23514"
)

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// rollback ends tx after err, keeping both errors should the rollback fail.
func rollback(ctx context.Context, tx pgx.Tx, err error) error {
	if rerr := tx.Rollback(context.WithoutCancel(ctx)); rerr != nil && !errors.Is(rerr, pgx.ErrTxClosed) {
		return errors.Join(err, fmt.Errorf("rollback: %w", rerr))
	}
	return err
}

// retry runs fn, and runs it again on fresh connections while it fails on a
// connection the server had already closed (a restart, a failover) in a way
// that proves the statement did not take effect: a FATAL shutdown error
// (the transaction was rolled back) or a failure before anything was sent.
// Any statement, compare-and-set included, is then safe to run again. The
// pool is reset, since such a failure means its other connections are gone
// too; otherwise the first query after a restart would fail.
func (db *DB) retry(ctx context.Context, fn func() error) error {
	err := fn()
	for try := 0; try < 2 && ctx.Err() == nil && deadConn(err); try++ {
		db.pool.Reset()
		err = fn()
	}
	return err
}

// PostgreSQL error codes of a server ending sessions.
const (
	codeAdminShutdown = "57P01"
	codeCrashShutdown = "57P02"
)

func deadConn(err error) bool {
	if err == nil || pgconn.Timeout(err) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Severity == "FATAL" && (pe.Code == codeAdminShutdown || pe.Code == codeCrashShutdown)
	}
	return pgconn.SafeToRetry(err)
}
