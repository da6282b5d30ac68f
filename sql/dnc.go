// Do-not-call lists: the system-wide list (campaign_id NULL) and one per
// campaign. The claim (sqlClaim) skips the cases of a listed number and
// StartAttempt refuses to dial one, each in the transaction that claims or
// dials, so a number added before that transaction reads the list is never
// dialed after.

package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/survey"
)

// sqlDNCHit is the listing of phone $2 that holds case $1 at $3, the
// system-wide one first.
const sqlDNCHit = `
SELECT d.phone_e164, coalesce(d.campaign_id, 0), d.added_at, d.added_by, d.source, d.note
FROM dnc d JOIN survey_case sc ON sc.id = $1
WHERE d.phone_e164 = $2 AND (d.campaign_id IS NULL OR d.campaign_id = sc.campaign_id)
  AND (d.expires_at IS NULL OR d.expires_at > $3)
ORDER BY d.campaign_id NULLS FIRST LIMIT 1`

// checkDNC refuses a dial of case caseID to phone when the number is on the
// system-wide list or on the case's campaign's (survey.OnDNC).
func checkDNC(ctx context.Context, tx DBTX, caseID survey.CaseID, phone string, now time.Time) error {
	e, err := scanDNC(tx.QueryRow(ctx, sqlDNCHit, caseID, phone, now))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check do-not-call lists: %w", err)
	}
	return survey.OnDNC(e)
}

func scanDNC(row pgx.Row) (survey.DNCEntry, error) {
	var e survey.DNCEntry
	err := row.Scan(&e.Phone, &e.Campaign, &e.AddedAt, &e.AddedBy, &e.Source, &e.Note)
	e.AddedAt = e.AddedAt.UTC()
	return e, err
}

const sqlAddDNC = `
INSERT INTO dnc (phone_e164, campaign_id, added_at, added_by, source, note)
VALUES ($1, nullif($2, 0), $3, $4, $5, $6)
ON CONFLICT (phone_e164, coalesce(campaign_id, 0)) DO NOTHING`

// AddDNC puts numbers (E.164) on a list, the system-wide one when their
// Campaign is 0, in one transaction, and returns how many were new (a number
// already on its list keeps its first listing). survey.NotFound: no such
// campaign.
func (db *DB) AddDNC(ctx context.Context, entries []survey.DNCEntry) (added int, err error) {
	err = db.tx(ctx, func(tx pgx.Tx) error {
		added = 0
		for _, e := range entries {
			n, err := addDNC(ctx, tx, e)
			if err != nil {
				return err
			}
			added += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("add to do-not-call list: %w", err)
	}
	return added, nil
}

func addDNC(ctx context.Context, tx DBTX, e survey.DNCEntry) (int, error) {
	tag, err := tx.Exec(ctx, sqlAddDNC, e.Phone, e.Campaign, e.AddedAt, e.AddedBy, string(e.Source), e.Note)
	switch {
	case pgCode(err) == codeForeignKeyViolation:
		return 0, survey.Errorf(survey.ENotFound, "no campaign %d", e.Campaign)
	case pgCode(err) == codeCheckViolation:
		return 0, survey.Errorf(survey.EInvalid, "%q is not an E.164 number or %q not a source", survey.Clip(e.Phone, 40), e.Source)
	case err != nil:
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

const sqlListDNC = `
SELECT phone_e164, coalesce(campaign_id, 0), added_at, added_by, source, note
FROM dnc WHERE campaign_id IS NOT DISTINCT FROM nullif($1, 0)
ORDER BY added_at DESC, phone_e164`

// DNC lists a campaign's do-not-call list (0: the system-wide one), the
// latest first; survey.NotFound: no such campaign.
func (db *DB) DNC(ctx context.Context, campaign survey.CampaignID) ([]survey.DNCEntry, error) {
	var list []survey.DNCEntry
	err := db.retry(ctx, func() error {
		if campaign != 0 {
			var ok bool
			if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM campaign WHERE id = $1)`, campaign).Scan(&ok); err != nil {
				return err
			}
			if !ok {
				return survey.Errorf(survey.ENotFound, "no campaign %d", campaign)
			}
		}
		rows, err := db.pool.Query(ctx, sqlListDNC, campaign)
		if err != nil {
			return err
		}
		list, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (survey.DNCEntry, error) { return scanDNC(r) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list do-not-call numbers of campaign %d: %w", campaign, err)
	}
	return list, nil
}

const sqlRemoveDNC = `DELETE FROM dnc WHERE phone_e164 = $1 AND campaign_id IS NOT DISTINCT FROM nullif($2, 0)`

// RemoveDNC takes phone off a list (campaign 0: the system-wide one);
// survey.NotFound when it is not on it. Its cases are claimed again.
func (db *DB) RemoveDNC(ctx context.Context, campaign survey.CampaignID, phone string) error {
	var n int64
	err := db.retry(ctx, func() error {
		tag, err := db.pool.Exec(ctx, sqlRemoveDNC, phone, campaign)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("remove %s from do-not-call list: %w", phone, err)
	}
	if n == 0 {
		return survey.Errorf(survey.ENotFound, "%s is not on that do-not-call list", survey.Clip(phone, 40))
	}
	return nil
}

// CaseDNC lists the listings of case id's number that hold it at now (the
// system-wide one first); none when it may be called.
func (db *DB) CaseDNC(ctx context.Context, id survey.CaseID, phone string, now time.Time) ([]survey.DNCEntry, error) {
	var out []survey.DNCEntry
	err := db.retry(ctx, func() error {
		rows, err := db.pool.Query(ctx, strings.TrimSuffix(sqlDNCHit, " LIMIT 1"), id, phone, now)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (survey.DNCEntry, error) { return scanDNC(row) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("do-not-call listings of case %d: %w", id, err)
	}
	return out, nil
}
