// Migrations: the embedded migrations/NNNN_name.sql files, applied in order,
// each in its own transaction and recorded in schema_migrations. Several
// canvass nodes may start at once: everything runs under one advisory lock.

package sql

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"github.com/canvass/canvass/survey"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateLock is the pg_advisory_lock key of Migrate ("canvass" in ASCII).
const migrateLock int64 = 0x63616e76617373

type migration struct {
	name string // file name without .sql: 0001_init
	sql  string
}

// migrations are the embedded migrations in the order they apply.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	migrationName := regexp.MustCompile(`^[0-9]{4}_[a-z0-9_]+\.sql$`)
	var ms []migration
	for _, e := range entries {
		if !migrationName.MatchString(e.Name()) {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{name: strings.TrimSuffix(e.Name(), ".sql"), sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return strings.Compare(a.name, b.name) })
	return ms, nil
}

const (
	sqlMigrateLock   = `SELECT pg_advisory_lock($1)`
	sqlMigrateUnlock = `SELECT pg_advisory_unlock($1)`
	sqlMigrateTable  = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)`
	sqlMigrateApplied = `SELECT version FROM schema_migrations`
	sqlMigrateRecord  = `INSERT INTO schema_migrations (version) VALUES ($1)`
)

// Migrate applies the migrations the database lacks. The advisory lock is
// held on one dedicated connection around everything, the CREATE TABLE of
// schema_migrations included (concurrent migrators race on it otherwise).
func (db *DB) Migrate(ctx context.Context) (err error) {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, sqlMigrateLock, migrateLock); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() {
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), sqlMigrateUnlock, migrateLock); uerr != nil {
			// Closing the session releases the lock; the pool drops a closed connection.
			if cerr := conn.Conn().Close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
				err = fmt.Errorf("migrate: unlock: %w", uerr)
			}
		}
	}()
	if _, err := conn.Exec(ctx, sqlMigrateTable); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	rows, err := conn.Query(ctx, sqlMigrateApplied)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied := map[string]bool{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("migrate: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range ms {
		if applied[m.name] {
			continue
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", m.name, err)
		}
		// No arguments: pgx sends the file as one simple-protocol query, so a
		// migration may hold many statements.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate %s: %w", m.name, rollback(ctx, tx, err))
		}
		if _, err := tx.Exec(ctx, sqlMigrateRecord, m.name); err != nil {
			return fmt.Errorf("migrate %s: %w", m.name, rollback(ctx, tx, err))
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("migrate %s: %w", m.name, err)
		}
	}
	// Still under the lock: the disposition catalog follows the code's.
	if err := seedDispositions(ctx, conn, survey.Dispositions()); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
