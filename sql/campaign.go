// Campaign store: CATI and IVR campaigns with their calling windows (in the
// respondent's local time, per weekday), the interviewers assigned to them,
// and their settings (retry delays, quota targets) as JSON the console owns.
// Changes made from the admin pages are audit-logged in their transaction.

package sql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/canvass/canvass/survey"

	"github.com/jackc/pgx/v5"
)

const (
	sqlCreateCampaign = `
INSERT INTO campaign (name, questionnaire_id, mode, status, max_attempts, settings)
VALUES ($1, $2, $3, $4, $5, coalesce($6::jsonb, '{}'))
RETURNING id`
	// A window may close at 24:00, which PostgreSQL's time holds but
	// make_time does not make.
	sqlAddWindow = `INSERT INTO campaign_window (campaign_id, dow, opens, closes)
VALUES ($1, $2, make_time($3 / 60, $3 % 60, 0),
        CASE WHEN $4 = 1440 THEN time '24:00' ELSE make_time($4 / 60, $4 % 60, 0) END)`
)

// CreateCampaign stores c (ID and CreatedAt are ignored) and returns its id;
// survey.Conflict if the name is taken, survey.NotFound if the questionnaire is not.
func (db *DB) CreateCampaign(ctx context.Context, c survey.Campaign, actor string) (survey.CampaignID, error) {
	var id survey.CampaignID
	err := db.retry(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			var settings *string
			if len(c.Settings) > 0 {
				settings = new(string(c.Settings))
			}
			err := tx.QueryRow(ctx, sqlCreateCampaign, c.Name, c.Questionnaire, string(c.Mode), string(c.Status), c.MaxAttempts, settings).Scan(&id)
			switch pgCode(err) {
			case codeUniqueViolation:
				return fmt.Errorf("campaign name %q taken: %w", c.Name, survey.Conflict)
			case codeForeignKeyViolation:
				return fmt.Errorf("no questionnaire %q: %w", c.Questionnaire, survey.NotFound)
			}
			if err != nil {
				return err
			}
			if err := addWindows(ctx, tx, id, c.Windows); err != nil {
				return err
			}
			if err := setInterviewers(ctx, tx, id, c.Interviewers); err != nil {
				return err
			}
			return audit(ctx, tx, actor, "campaign.create", fmt.Sprintf("campaign:%d", id), map[string]any{"name": c.Name, "questionnaire": c.Questionnaire})
		})
	})
	if err != nil {
		return 0, fmt.Errorf("create campaign %q: %w", c.Name, err)
	}
	return id, nil
}

const sqlCampaigns = `
SELECT c.id, c.name, c.questionnaire_id, c.mode, c.status, c.max_attempts, c.settings, c.created_at,
       coalesce((SELECT array_agg(ARRAY[w.dow, extract(hour FROM w.opens)::int * 60 + extract(minute FROM w.opens)::int,
                                  extract(hour FROM w.closes)::int * 60 + extract(minute FROM w.closes)::int] ORDER BY w.dow)
                 FROM campaign_window w WHERE w.campaign_id = c.id), '{}'),
       coalesce((SELECT array_agg(ci.user_id ORDER BY ci.user_id) FROM campaign_interviewer ci WHERE ci.campaign_id = c.id), '{}')
FROM campaign c
WHERE $1 = 0 OR c.id = $1
ORDER BY c.id`

// Campaigns lists every campaign, oldest first.
func (db *DB) Campaigns(ctx context.Context) ([]survey.Campaign, error) {
	cs, err := db.campaigns(ctx, 0)
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	return cs, nil
}

// Campaign returns campaign id; survey.NotFound if there is none.
func (db *DB) Campaign(ctx context.Context, id survey.CampaignID) (survey.Campaign, error) {
	cs, err := db.campaigns(ctx, id)
	if err == nil && len(cs) == 0 {
		err = survey.NotFound
	}
	if err != nil {
		return survey.Campaign{}, fmt.Errorf("load campaign %d: %w", id, err)
	}
	return cs[0], nil
}

func (db *DB) campaigns(ctx context.Context, id survey.CampaignID) ([]survey.Campaign, error) {
	var cs []survey.Campaign
	err := db.retry(ctx, func() error {
		rows, err := db.pool.Query(ctx, sqlCampaigns, id)
		if err != nil {
			return err
		}
		cs, err = pgx.CollectRows(rows, scanCampaign)
		return err
	})
	return cs, err
}

const sqlFieldLabels = `
UPDATE campaign SET settings = jsonb_set(settings, '{field_labels}', coalesce(settings->'field_labels', '{}') || $2::jsonb)
WHERE id = $1`

// SetFieldLabels records the sample file's names of contact fields
// (merged with earlier imports'); survey.NotFound if there is no such
// campaign.
func (db *DB) SetFieldLabels(ctx context.Context, id survey.CampaignID, labels map[string]string) error {
	b, err := json.Marshal(labels)
	if err != nil {
		return err
	}
	err = db.retry(ctx, func() error {
		tag, err := db.pool.Exec(ctx, sqlFieldLabels, id, string(b))
		if err == nil && tag.RowsAffected() == 0 {
			err = fmt.Errorf("no campaign %d: %w", id, survey.NotFound)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("set field labels of campaign %d: %w", id, err)
	}
	return nil
}

const (
	sqlUpdateCampaign = `UPDATE campaign SET max_attempts = $2, settings = $3::jsonb WHERE id = $1`
	sqlClearWindows   = `DELETE FROM campaign_window WHERE campaign_id = $1`
)

// UpdateCampaignSettings replaces a campaign's max attempts, calling windows
// and settings (retry delays, quotas, e) in one transaction, audit-logged as
// actor with what they were; survey.NotFound if there is no such campaign.
// Cases already scheduled keep their next attempt; the new windows and
// retry delays apply from the next claim and the next wrap-up.
func (db *DB) UpdateCampaignSettings(ctx context.Context, c survey.Campaign, actor string) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		before, err := lockCampaign(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		settings := string(c.Settings)
		if settings == "" {
			settings = "{}"
		}
		if _, err := tx.Exec(ctx, sqlUpdateCampaign, c.ID, c.MaxAttempts, settings); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlClearWindows, c.ID); err != nil {
			return err
		}
		if err := addWindows(ctx, tx, c.ID, c.Windows); err != nil {
			return err
		}
		if _, err := WriteEvent(ctx, tx, survey.Event{Kind: "campaign.settings", CampaignID: c.ID}); err != nil {
			return err
		}
		return audit(ctx, tx, actor, "campaign.settings", fmt.Sprintf("campaign:%d", c.ID), map[string]any{
			"before": map[string]any{"max_attempts": before.MaxAttempts, "windows": before.Windows.String(), "settings": before.Settings},
			"after":  map[string]any{"max_attempts": c.MaxAttempts, "windows": c.Windows.String(), "settings": json.RawMessage(settings)},
		})
	})
	if err != nil {
		return fmt.Errorf("update settings of campaign %d: %w", c.ID, err)
	}
	return nil
}

func scanCampaign(row pgx.CollectableRow) (survey.Campaign, error) {
	var (
		c       survey.Campaign
		windows [][]int32
	)
	err := row.Scan(&c.ID, &c.Name, &c.Questionnaire, &c.Mode, &c.Status, &c.MaxAttempts, &c.Settings, &c.CreatedAt, &windows, &c.Interviewers)
	for _, w := range windows {
		c.Windows = append(c.Windows, survey.Window{Dow: int(w[0]), Opens: int(w[1]), Closes: int(w[2])})
	}
	c.CreatedAt = c.CreatedAt.UTC()
	return c, err
}

// addWindows stores a campaign's calling windows.
func addWindows(ctx context.Context, tx DBTX, id survey.CampaignID, ws survey.Windows) error {
	for _, w := range ws {
		if _, err := tx.Exec(ctx, sqlAddWindow, id, w.Dow, w.Opens, w.Closes); err != nil {
			return fmt.Errorf("window %+v: %w", w, err)
		}
	}
	return nil
}

// lockCampaign reads campaign id with its row locked until the transaction
// ends.
func lockCampaign(ctx context.Context, tx DBTX, id survey.CampaignID) (survey.Campaign, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM campaign WHERE id = $1 FOR NO KEY UPDATE`, id); err != nil {
		return survey.Campaign{}, err
	}
	rows, err := tx.Query(ctx, sqlCampaigns, id)
	if err != nil {
		return survey.Campaign{}, err
	}
	cs, err := pgx.CollectRows(rows, scanCampaign)
	if err == nil && len(cs) == 0 {
		err = fmt.Errorf("no campaign %d: %w", id, survey.NotFound)
	}
	if err != nil {
		return survey.Campaign{}, err
	}
	return cs[0], nil
}

const sqlSetCampaignStatus = `UPDATE campaign SET status = $2 WHERE id = $1`

// SetCampaignStatus starts, pauses or finishes a campaign; survey.NotFound if
// there is no such campaign.
func (db *DB) SetCampaignStatus(ctx context.Context, id survey.CampaignID, status survey.CampaignStatus, actor string) error {
	err := db.retry(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, sqlSetCampaignStatus, id, string(status))
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return survey.NotFound
			}
			if _, err := WriteEvent(ctx, tx, survey.Event{Kind: "campaign.status", CampaignID: id}); err != nil {
				return err
			}
			return audit(ctx, tx, actor, "campaign.status", fmt.Sprintf("campaign:%d", id), map[string]any{"status": status})
		})
	})
	if err != nil {
		return fmt.Errorf("set campaign %d %s: %w", id, status, err)
	}
	return nil
}

// AssignInterviewers makes users the campaign's interviewers (replacing the
// previous set). survey.NotFound if the campaign or a user does not exist.
func (db *DB) AssignInterviewers(ctx context.Context, id survey.CampaignID, users []survey.UserID, actor string) error {
	err := db.retry(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			if err := setInterviewers(ctx, tx, id, users); err != nil {
				return err
			}
			if _, err := WriteEvent(ctx, tx, survey.Event{Kind: "campaign.assign", CampaignID: id}); err != nil {
				return err
			}
			return audit(ctx, tx, actor, "campaign.assign", fmt.Sprintf("campaign:%d", id), map[string]any{"users": users})
		})
	})
	if err != nil {
		return fmt.Errorf("assign interviewers to campaign %d: %w", id, err)
	}
	return nil
}

const (
	sqlClearInterviewers = `DELETE FROM campaign_interviewer WHERE campaign_id = $1`
	sqlAddInterviewers   = `
INSERT INTO campaign_interviewer (campaign_id, user_id)
SELECT $1, u.id FROM app_user u WHERE u.id = ANY($2) AND u.role = 'interviewer'`
)

func setInterviewers(ctx context.Context, tx DBTX, id survey.CampaignID, users []survey.UserID) error {
	if _, err := tx.Exec(ctx, sqlClearInterviewers, id); err != nil {
		return err
	}
	if users == nil {
		users = []survey.UserID{}
	}
	tag, err := tx.Exec(ctx, sqlAddInterviewers, id, users)
	if pgCode(err) == codeForeignKeyViolation {
		return fmt.Errorf("no campaign %d: %w", id, survey.NotFound)
	}
	if err != nil {
		return err
	}
	if int(tag.RowsAffected()) != len(uniq(users)) {
		return fmt.Errorf("some of users %v are not interviewers: %w", users, survey.NotFound)
	}
	return nil
}

func uniq(ids []survey.UserID) map[survey.UserID]bool {
	m := make(map[survey.UserID]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

const sqlAudit = `INSERT INTO audit_log (actor, action, target, detail) VALUES ($1, $2, $3, $4)`

// audit records who did what to what, in the caller's transaction.
func audit(ctx context.Context, q DBTX, actor, action, target string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	if _, err := q.Exec(ctx, sqlAudit, actor, action, target, b); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// AuditEntry is one audit_log row.
type AuditEntry struct {
	ID     int64
	At     time.Time
	Actor  string
	Action string
	Target string
	Detail json.RawMessage
}

const sqlAuditLog = `SELECT id, at, actor, action, target, detail FROM audit_log WHERE $1 = '' OR target = $1 ORDER BY id DESC LIMIT $2`

// AuditLog returns the newest entries first, at most limit, only those about
// target unless it is "".
func (db *DB) AuditLog(ctx context.Context, target string, limit int) ([]AuditEntry, error) {
	var es []AuditEntry
	err := db.retry(ctx, func() error {
		rows, err := db.pool.Query(ctx, sqlAuditLog, target, limit)
		if err != nil {
			return err
		}
		es, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditEntry, error) {
			var e AuditEntry
			err := row.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Target, &e.Detail)
			return e, err
		})
		return err
	})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return es, nil
}
