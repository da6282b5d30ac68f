// The database: configuration, the connection pool, the package's errors and
// the retry while the server restarts or is out of reach. Each store lives in a file of its own,
// its SQL beside the function that runs it.

package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"time"

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
	// gate is the request gate's own few connections (requests.go): a
	// caller waits in silence for its one statement, which must not queue
	// behind the pool's transactions.
	gate *pgxpool.Pool
}

// gateConns is the size of DB.gate, on top of the pool's.
const gateConns = 4

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
	gcfg := cfg.Copy()
	gcfg.MaxConns = gateConns
	gcfg.MinConns = 0
	gate, err := pgxpool.NewWithConfig(ctx, gcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open database: %w", err)
	}
	return &DB{pool: pool, gate: gate}, nil
}

// Close closes every connection, waiting for those in use to be released.
func (db *DB) Close() {
	db.gate.Close()
	db.pool.Close()
}

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

// Retrying after a lost server. A restart (pg_ctl restart -m fast takes a
// fraction of a second), a failover or a network blip must not cost a
// caller's answer: a statement that failed because the server was away is
// run again on a fresh connection, with backoff, until it goes through or
// the budget ends. The budget is the context's deadline, or retryBudget
// when it has none.
const (
	retryBudget   = 10 * time.Second
	retryFirst    = 25 * time.Millisecond // the first pause; it doubles
	retryMaxPause = time.Second
)

// retry runs fn, and runs it again while it fails in a way that proves the
// statement did not take effect: the server could not be reached or was
// not accepting connections yet (refused, starting up, shutting down), or
// it ended the session before running the statement (a FATAL shutdown
// error: the transaction was rolled back), or nothing was sent. Any
// statement, compare-and-set included, is then safe to run again.
func (db *DB) retry(ctx context.Context, fn func() error) error {
	return retryLoop(ctx, db.pool.Reset, notRun, fn)
}

// retryIdempotent is retry for statements that may safely run twice (an
// upsert keyed on what it stores, a delete): it also retries when the
// connection was lost after the statement was sent, when nobody knows
// whether it committed.
func (db *DB) retryIdempotent(ctx context.Context, fn func() error) error {
	return retryLoop(ctx, db.pool.Reset, connLost, fn)
}

// retryLoop runs fn until it succeeds, fails with an error transient does
// not accept, or the budget is spent; reset empties the pool after a
// transient failure, since its other connections are then gone too (else
// each would fail once in turn). It waits between tries with exponential
// backoff and jitter, so that many calls retrying at once do not hit the
// server in step; it does not start a pause it cannot finish within the
// budget. Giving up, it returns the last error, with how long it tried.
func retryLoop(ctx context.Context, reset func(), transient func(error) bool, fn func() error) error {
	start := time.Now()
	deadline, ok := ctx.Deadline()
	if !ok || deadline.Sub(start) > retryBudget {
		deadline = start.Add(retryBudget)
	}
	gaveUp := func(tries int, err error) error {
		return fmt.Errorf("database unavailable for %s (%d tries): %w", time.Since(start).Round(time.Millisecond), tries, err)
	}
	err := fn()
	pause := retryFirst
	for tries := 1; err != nil && transient(err); tries++ {
		reset()
		wait := pause/2 + rand.N(pause/2+1) // 50–100 % of pause
		if time.Now().Add(wait).After(deadline) {
			return gaveUp(tries, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return gaveUp(tries, errors.Join(err, ctx.Err()))
		case <-t.C:
		}
		pause = min(2*pause, retryMaxPause)
		last := err
		if err = fn(); err != nil && ctx.Err() != nil && !transient(err) {
			// The budget ran out during this try: the error of the one
			// before says why.
			return gaveUp(tries+1, errors.Join(last, err))
		}
	}
	return err
}

// PostgreSQL error codes of a server that ends sessions or does not take
// new ones yet.
const (
	codeAdminShutdown      = "57P01" // terminating connection due to administrator command
	codeCrashShutdown      = "57P02"
	codeCannotConnectNow   = "57P03" // the database system is starting up / shutting down
	codeTooManyConnections = "53300"
)

// notRun reports whether err proves that the statement did not run.
func notRun(err error) bool {
	if err == nil || pgconn.Timeout(err) {
		return false
	}
	if unreachable(err) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Severity == "FATAL" && (pe.Code == codeAdminShutdown || pe.Code == codeCrashShutdown)
	}
	return pgconn.SafeToRetry(err)
}

// unreachable reports whether err is a failure to connect that may pass:
// the server refused the connection or dropped it (down, restarting), or
// said it is starting up, shutting down or full. A wrong password or a
// missing database is not.
func unreachable(err error) bool {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeAdminShutdown, codeCrashShutdown, codeCannotConnectNow, codeTooManyConnections:
			return true
		}
		return false
	}
	return true
}

// connLost reports whether err says the connection was lost, before or
// while the statement ran: whether it committed is unknown.
func connLost(err error) bool {
	if notRun(err) {
		return true
	}
	if err == nil || pgconn.Timeout(err) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08 is connection exception; 57P0x a server ending sessions.
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P0")
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed)
}

// collect runs query with args (retried as retry does) and collects its rows
// with fn; what names the read in the error.
func collect[T any](ctx context.Context, db *DB, what string, fn pgx.RowToFunc[T], query string, args ...any) ([]T, error) {
	var out []T
	err := db.retry(ctx, func() error {
		rows, err := db.pool.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, fn)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
