// Tests of the sample store: imports into one campaign at once take turns,
// so each number gets one case, and a row PostgreSQL cannot store is
// refused naming its line and field.

package sql_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// A double-clicked upload, or two admins importing the same file: both
// imports run at once, and every number must still get one case.
func TestImportSampleConcurrent(t *testing.T) {
	f := newCaseFixture(t, 1)
	ctx := t.Context()
	var rows []survey.SampleRow
	for i := range 200 {
		rows = append(rows, survey.SampleRow{Line: i + 2, Phone: fmt.Sprintf("+1212%07d", i), TZ: "America/New_York"})
	}
	// Hold back inserts into contact, which both imports reach after their
	// duplicate check, until both are waiting: without a per-campaign lock
	// both have then checked, neither seeing the other's numbers.
	hold, err := f.db.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after an early t.Fatal; committed otherwise
		if err := hold.Rollback(context.Background()); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
			t.Error(err)
		}
	})
	if _, err := hold.Exec(ctx, `LOCK TABLE contact IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	var (
		wg       sync.WaitGroup
		imported [2]int
		dups     [2][]survey.Duplicate
	)
	for k := range 2 {
		wg.Go(func() {
			var err error
			if imported[k], dups[k], err = f.db.ImportSample(ctx, f.campaign, rows, "admin"); err != nil {
				t.Errorf("import %d: %v", k, err)
			}
		})
	}
	waitForLockWaits(t, f.db, 2)
	if err := hold.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n := imported[0] + imported[1]; n != len(rows) || len(dups[0])+len(dups[1]) != len(rows) {
		t.Errorf("imports reported %v imported and %d+%d duplicates; want %d imported in all, the rest duplicates",
			imported, len(dups[0]), len(dups[1]), len(rows))
	}
	var cases, phones int
	if err := f.db.Pool().QueryRow(ctx, `
SELECT count(*), count(DISTINCT c.phone_e164) FROM survey_case sc JOIN contact c ON c.id = sc.contact_id
WHERE sc.campaign_id = $1`, f.campaign).Scan(&cases, &phones); err != nil {
		t.Fatal(err)
	}
	if cases != len(rows) || phones != len(rows) {
		t.Fatalf("%d cases for %d numbers after two imports of %d numbers; want one case each", cases, phones, len(rows))
	}
}

// waitForLockWaits returns once n sessions of the test's database are
// waiting for a lock.
func waitForLockWaits(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := db.Pool().QueryRow(t.Context(), `
SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions waiting for a lock after 10 s, want %d", waiting, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestImportSampleUnstorable(t *testing.T) {
	f := newCaseFixture(t, 1)
	ok := survey.SampleRow{Line: 2, Phone: "+12125550100", TZ: "America/New_York", Attrs: map[string]string{"first_name": "Ann"}}
	for _, tc := range []struct {
		name string
		row  survey.SampleRow
		want string
	}{
		{"NUL in a field", survey.SampleRow{Line: 3, Phone: "+12125550101", TZ: "America/New_York",
			Attrs: map[string]string{"first_name": "A\x00B", "region": "north"}}, `line 3: contact field "first_name"`},
		{"not UTF-8", survey.SampleRow{Line: 4, Phone: "+12125550102", TZ: "America/New_York",
			Attrs: map[string]string{"region": "s\xfcd"}}, `line 4: contact field "region"`},
		{"NUL in the language", survey.SampleRow{Line: 5, Phone: "+12125550103", TZ: "America/New_York", Language: "e\x00n"}, "line 5: language"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := f.db.ImportSample(t.Context(), f.campaign, []survey.SampleRow{ok, tc.row}, "admin")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want one naming %s", err, tc.want)
			}
		})
	}
	var n int
	if err := f.db.Pool().QueryRow(t.Context(), `SELECT count(*) FROM survey_case`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("refused imports stored %d cases", n)
	}
}
