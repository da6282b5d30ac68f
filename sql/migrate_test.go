// Tests of Migrate: idempotent, and safe when several nodes start at once.

package sql_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	db := sqltest.New(t) // migrated once already
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatalf("second migration: %v", err)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := sqltest.EmptyURL(t)
	const nodes = 3
	dbs := make([]*sql.DB, nodes)
	for i := range dbs {
		db, err := sql.Open(ctx, url, 2)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		dbs[i] = db
	}
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() { errs[i] = db.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}
	var applied, tables int
	err := dbs[0].Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM schema_migrations),
		(SELECT count(*) FROM pg_tables WHERE schemaname = 'public')`).Scan(&applied, &tables)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if applied != len(files) {
		t.Errorf("schema_migrations has %d rows, want %d (one per migration file)", applied, len(files))
	}
	if tables < 16 {
		t.Errorf("%d tables after migrating, want the 15 of the schema and schema_migrations", tables)
	}
}

func TestDispositionCatalogSeeded(t *testing.T) {
	db := sqltest.New(t)
	var n int
	var group string
	if err := db.Pool().QueryRow(context.Background(),
		`SELECT count(*), (SELECT rate_group FROM disposition_code WHERE code = '2.12') FROM disposition_code`).Scan(&n, &group); err != nil {
		t.Fatal(err)
	}
	if n != len(survey.Dispositions()) || group != "R" {
		t.Errorf("catalog rows %d (want %d), 2.12 in group %q", n, len(survey.Dispositions()), group)
	}
}
