// Sample store: a campaign's sample imported in one transaction. Rows are
// COPYed into a temporary table, numbers already in the campaign are
// reported as duplicates and left out, and the rest become contacts and
// open cases, so a failed import leaves nothing behind. Imports into one
// campaign take turns on a lock of its row.

package sql

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/canvass/canvass/survey"

	"github.com/jackc/pgx/v5"
)

const (
	sqlImportTemp = `
CREATE TEMPORARY TABLE import_row (
    line int NOT NULL, phone text NOT NULL, tz text NOT NULL, language text NOT NULL,
    priority int NOT NULL, attrs jsonb NOT NULL, more jsonb NOT NULL, contact_id bigint
) ON COMMIT DROP`
	sqlImportDuplicates = `
DELETE FROM import_row r
USING survey_case sc JOIN contact c ON c.id = sc.contact_id
WHERE sc.campaign_id = $1 AND c.phone_e164 = r.phone
RETURNING r.line, r.phone`
	sqlImportIDs      = `UPDATE import_row SET contact_id = nextval(pg_get_serial_sequence('contact', 'id'))`
	sqlImportContacts = `
INSERT INTO contact (id, phone_e164, tz, language, attrs)
SELECT contact_id, phone, tz, language, attrs FROM import_row ORDER BY line`
	// sqlImportNumbers lists the numbers of the contacts that have more
	// than one: the main one first (rank 0), then the others in order.
	sqlImportNumbers = `
INSERT INTO contact_number (contact_id, rank, phone_e164, label)
SELECT contact_id, 0, phone, '' FROM import_row WHERE jsonb_array_length(more) > 0
UNION ALL
SELECT r.contact_id, n.ord::int, n.v->>'phone', coalesce(n.v->>'label', '')
FROM import_row r CROSS JOIN LATERAL jsonb_array_elements(r.more) WITH ORDINALITY AS n(v, ord)`
	sqlImportCases = `
INSERT INTO survey_case (campaign_id, contact_id, priority, next_attempt_at)
SELECT $1, contact_id, priority, now() FROM import_row ORDER BY line`
	// sqlImportLock serializes the imports into one campaign: two at once
	// would each miss the other's uncommitted numbers in the duplicate
	// check and give every number two cases. NO KEY UPDATE conflicts with
	// itself but not with the KEY SHARE locks that inserting cases and
	// events take on the row, so the floor keeps working during an import.
	sqlImportLock = `SELECT id FROM campaign WHERE id = $1 FOR NO KEY UPDATE`
)

// ImportSample adds rows to campaign id as contacts with open cases, and
// returns how many were imported and the rows left out because their number
// is already in the campaign. survey.NotFound if there is no such campaign.
func (db *DB) ImportSample(ctx context.Context, id survey.CampaignID, rows []survey.SampleRow, actor string) (imported int, dups []survey.Duplicate, err error) {
	for _, r := range rows {
		if err := checkRow(r); err != nil {
			return 0, nil, fmt.Errorf("import %d sample rows into campaign %d: %w", len(rows), id, err)
		}
	}
	err = db.tx(ctx, func(tx pgx.Tx) error {
		dups = nil
		var cid int64
		if err := tx.QueryRow(ctx, sqlImportLock, id).Scan(&cid); err != nil {
			if err == pgx.ErrNoRows {
				return fmt.Errorf("no campaign %d: %w", id, survey.NotFound)
			}
			return err
		}
		if _, err := tx.Exec(ctx, sqlImportTemp); err != nil {
			return err
		}
		var encodeErr error
		src := pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			r := rows[i]
			attrs := r.Attrs
			if attrs == nil {
				attrs = map[string]string{}
			}
			b, err := json.Marshal(attrs)
			if err != nil {
				encodeErr = err
				return nil, err
			}
			more := r.More
			if more == nil {
				more = []survey.Number{}
			}
			m, err := json.Marshal(more)
			if err != nil {
				encodeErr = err
				return nil, err
			}
			return []any{int32(r.Line), r.Phone, r.TZ, r.Language, int32(r.Priority), string(b), string(m)}, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_row"}, []string{"line", "phone", "tz", "language", "priority", "attrs", "more"}, src); err != nil {
			if encodeErr != nil {
				return encodeErr
			}
			return fmt.Errorf("copy rows: %w", err)
		}
		res, err := tx.Query(ctx, sqlImportDuplicates, id)
		if err != nil {
			return err
		}
		if dups, err = pgx.CollectRows(res, func(row pgx.CollectableRow) (survey.Duplicate, error) {
			var d survey.Duplicate
			err := row.Scan(&d.Line, &d.Phone)
			return d, err
		}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlImportIDs); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlImportContacts); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlImportNumbers); err != nil {
			return fmt.Errorf("store the contacts' other numbers: %w", err)
		}
		tag, err := tx.Exec(ctx, sqlImportCases, id)
		if err != nil {
			return err
		}
		imported = int(tag.RowsAffected())
		if _, err := WriteEvent(ctx, tx, survey.Event{Kind: "sample.imported", CampaignID: id}); err != nil {
			return err
		}
		return audit(ctx, tx, actor, "sample.import", fmt.Sprintf("campaign:%d", id),
			map[string]any{"imported": imported, "duplicates": len(dups)})
	})
	if err != nil {
		return 0, nil, fmt.Errorf("import %d sample rows into campaign %d: %w", len(rows), id, err)
	}
	return imported, dups, nil
}

// checkRow refuses a row PostgreSQL cannot store, naming its line and field,
// rather than let the COPY fail the import with an error that names neither.
// Callers are expected to have left such rows out (the console reports them
// as bad rows).
func checkRow(r survey.SampleRow) error {
	for _, n := range r.More {
		if !storable(n.Phone) || !storable(n.Label) {
			return fmt.Errorf("line %d: number %q (%s) is not UTF-8 or holds a NUL character, which PostgreSQL text cannot store", r.Line, n.Phone, n.Label)
		}
	}
	for _, f := range [...]struct{ name, v string }{{"phone", r.Phone}, {"tz", r.TZ}, {"language", r.Language}} {
		if !storable(f.v) {
			return fmt.Errorf("line %d: %s %q is not UTF-8 or holds a NUL character, which PostgreSQL text cannot store", r.Line, f.name, f.v)
		}
	}
	var bad []string
	for k, v := range r.Attrs {
		if !storable(k) || !storable(v) {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		k := slices.Min(bad) // the same field whatever the map's order
		return fmt.Errorf("line %d: contact field %q = %q is not UTF-8 or holds a NUL character, which PostgreSQL text cannot store", r.Line, k, r.Attrs[k])
	}
	return nil
}

// storable says whether PostgreSQL text can hold s.
func storable(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }
