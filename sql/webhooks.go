package sql

// Webhook subscriptions and their outbox (migration 0011): the event table's
// trigger queues a delivery per subscription in the transaction of the
// change; DeliverNext sends a subscription's oldest pending delivery, one
// at a time across nodes (the subscription's row is locked while it is on
// its way), and records what the receiver said.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/survey"
)

const sqlWebhookCols = `w.id, w.name, w.url, w.event_types, w.active, w.secret, w.previous_secret, w.previous_until, w.created_at, w.created_by,
    (SELECT count(*) FROM webhook_outbox o WHERE o.webhook_id = w.id AND o.state = 'pending'),
    (SELECT count(*) FROM webhook_outbox o WHERE o.webhook_id = w.id AND o.state = 'dead')`

func scanWebhook(row pgx.Row) (survey.Webhook, error) {
	var w survey.Webhook
	err := row.Scan(&w.ID, &w.Name, &w.URL, &w.EventTypes, &w.Active, &w.Secret, &w.PreviousSecret, &w.PreviousUntil, &w.CreatedAt, &w.CreatedBy,
		&w.Pending, &w.Dead)
	if errors.Is(err, pgx.ErrNoRows) {
		return w, survey.NotFound
	}
	return w, err
}

// CreateWebhook stores a subscription and returns it.
func (db *DB) CreateWebhook(ctx context.Context, w survey.Webhook) (survey.Webhook, error) {
	var id survey.WebhookID
	err := db.retry(ctx, func() error {
		return db.pool.QueryRow(ctx, `INSERT INTO webhook (name, url, secret, event_types, active, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			w.Name, w.URL, w.Secret, w.EventTypes, w.Active, w.CreatedBy).Scan(&id)
	})
	if err != nil {
		return survey.Webhook{}, fmt.Errorf("create webhook: %w", err)
	}
	return db.Webhook(ctx, id)
}

// Webhook is one subscription; survey.NotFound when there is none.
func (db *DB) Webhook(ctx context.Context, id survey.WebhookID) (survey.Webhook, error) {
	var w survey.Webhook
	err := db.retry(ctx, func() error {
		var err error
		w, err = scanWebhook(db.pool.QueryRow(ctx, `SELECT `+sqlWebhookCols+` FROM webhook w WHERE w.id = $1`, id))
		return err
	})
	if err != nil {
		return w, fmt.Errorf("webhook %d: %w", id, err)
	}
	return w, nil
}

// Webhooks lists the subscriptions.
func (db *DB) Webhooks(ctx context.Context) ([]survey.Webhook, error) {
	var ws []survey.Webhook
	err := db.retry(ctx, func() error {
		rows, err := db.pool.Query(ctx, `SELECT `+sqlWebhookCols+` FROM webhook w ORDER BY w.id`)
		if err != nil {
			return err
		}
		ws, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (survey.Webhook, error) { return scanWebhook(row) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return ws, nil
}

// UpdateWebhook changes a subscription's name, URL, events and active
// flag; with a new secret, the old one still signs (besides the new) for
// overlap, so receivers can switch without losing a delivery.
func (db *DB) UpdateWebhook(ctx context.Context, w survey.Webhook, newSecret string, overlap time.Duration, now time.Time) (survey.Webhook, error) {
	err := db.retry(ctx, func() error {
		tag, err := db.pool.Exec(ctx, `
UPDATE webhook SET name = $2, url = $3, event_types = $4, active = $5,
    previous_secret = CASE WHEN $6 <> '' THEN secret ELSE previous_secret END,
    previous_until = CASE WHEN $6 <> '' THEN $7::timestamptz ELSE previous_until END,
    secret = CASE WHEN $6 <> '' THEN $6 ELSE secret END
WHERE id = $1`, w.ID, w.Name, w.URL, w.EventTypes, w.Active, newSecret, now.Add(overlap))
		if err == nil && tag.RowsAffected() == 0 {
			err = survey.NotFound
		}
		return err
	})
	if err != nil {
		return survey.Webhook{}, fmt.Errorf("update webhook %d: %w", w.ID, err)
	}
	return db.Webhook(ctx, w.ID)
}

// DeleteWebhook removes a subscription and its deliveries.
func (db *DB) DeleteWebhook(ctx context.Context, id survey.WebhookID) error {
	err := db.retry(ctx, func() error {
		tag, err := db.pool.Exec(ctx, `DELETE FROM webhook WHERE id = $1`, id)
		if err == nil && tag.RowsAffected() == 0 {
			err = survey.NotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete webhook %d: %w", id, err)
	}
	return nil
}

// DueWebhooks lists the active subscriptions whose oldest pending delivery
// is due at now.
func (db *DB) DueWebhooks(ctx context.Context, now time.Time) ([]survey.WebhookID, error) {
	var ids []survey.WebhookID
	err := db.retry(ctx, func() error {
		rows, err := db.pool.Query(ctx, `
SELECT h.webhook_id FROM (
    SELECT DISTINCT ON (o.webhook_id) o.webhook_id, o.next_attempt_at
    FROM webhook_outbox o JOIN webhook w ON w.id = o.webhook_id AND w.active
    WHERE o.state = 'pending'
    ORDER BY o.webhook_id, o.event_id, o.id) h
WHERE h.next_attempt_at <= $1`, now)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[survey.WebhookID])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("due webhooks: %w", err)
	}
	return ids, nil
}

const sqlHeadDelivery = `
SELECT o.id, o.webhook_id, o.event_id, o.kind, o.payload, o.attempts, o.state, o.created_at, o.next_attempt_at
FROM webhook_outbox o
WHERE o.webhook_id = $1 AND o.state = 'pending'
ORDER BY o.event_id, o.id LIMIT 1`

// DeliverNext sends subscription id's oldest pending delivery with send,
// if it is due at now, and records the attempt: delivered (2xx), retried
// after retry's wait, or dead-lettered when retry gives up, so the next
// one can go. The subscription is locked meanwhile: another node skips it,
// and deliveries go out one at a time, in event order. ok is false when
// nothing was due (or another node has it).
func (db *DB) DeliverNext(ctx context.Context, id survey.WebhookID, now time.Time, send func(survey.Delivery) survey.DeliveryAttempt, retry func(attempts int) (wait time.Duration, again bool)) (d survey.Delivery, a survey.DeliveryAttempt, ok bool, err error) {
	err = db.tx(ctx, func(tx pgx.Tx) error {
		ok = false
		var (
			until *time.Time
			cur   string
			prev  string
		)
		err := tx.QueryRow(ctx, `SELECT url, secret, previous_secret, previous_until FROM webhook WHERE id = $1 AND active FOR UPDATE SKIP LOCKED`, id).
			Scan(&d.URL, &cur, &prev, &until)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		var next time.Time
		err = tx.QueryRow(ctx, sqlHeadDelivery, id).Scan(&d.ID, &d.Webhook, &d.Event, &d.Kind, &d.Payload, &d.Attempts, &d.State, &d.CreatedAt, &next)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && next.After(now) {
			return nil
		}
		if err != nil {
			return err
		}
		d.Secrets = []string{cur}
		if prev != "" && until != nil && until.After(now) {
			d.Secrets = append(d.Secrets, prev)
		}
		a = send(d)
		ok = true
		return recordAttempt(ctx, tx, d, a, retry)
	})
	if err != nil {
		return d, a, false, fmt.Errorf("deliver webhook %d: %w", id, err)
	}
	return d, a, ok, nil
}

// recordAttempt logs attempt a of delivery d and moves it on.
func recordAttempt(ctx context.Context, tx pgx.Tx, d survey.Delivery, a survey.DeliveryAttempt, retry func(int) (time.Duration, bool)) error {
	if _, err := tx.Exec(ctx, `INSERT INTO webhook_attempt (outbox_id, at, status_code, error, duration_ms, replay) VALUES ($1, $2, $3, $4, $5, $6)`,
		d.ID, a.At, a.Status, a.Error, a.Duration.Milliseconds(), a.Replay); err != nil {
		return err
	}
	switch {
	case a.Delivered():
		_, err := tx.Exec(ctx, `UPDATE webhook_outbox SET state = 'delivered', attempts = attempts + 1, done_at = $2 WHERE id = $1`, d.ID, a.At)
		return err
	case a.Replay:
		_, err := tx.Exec(ctx, `UPDATE webhook_outbox SET attempts = attempts + 1 WHERE id = $1`, d.ID)
		return err
	}
	wait, again := retry(d.Attempts + 1)
	if !again {
		_, err := tx.Exec(ctx, `UPDATE webhook_outbox SET state = 'dead', attempts = attempts + 1, done_at = $2 WHERE id = $1`, d.ID, a.At)
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = $2 WHERE id = $1`, d.ID, a.At.Add(wait))
	return err
}

// Replay sends delivery id of subscription hook again with send, whatever
// its state (a dead letter, or one delivered that the receiver lost), and
// logs the attempt as a replay; a dead letter replayed successfully is
// delivered.
func (db *DB) Replay(ctx context.Context, hook survey.WebhookID, id int64, now time.Time, send func(survey.Delivery) survey.DeliveryAttempt) (survey.DeliveryAttempt, error) {
	var a survey.DeliveryAttempt
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var (
			d     survey.Delivery
			cur   string
			prev  string
			until *time.Time
			next  time.Time
		)
		err := tx.QueryRow(ctx, `SELECT url, secret, previous_secret, previous_until FROM webhook WHERE id = $1 FOR UPDATE`, hook).Scan(&d.URL, &cur, &prev, &until)
		if errors.Is(err, pgx.ErrNoRows) {
			return survey.NotFound
		}
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT o.id, o.webhook_id, o.event_id, o.kind, o.payload, o.attempts, o.state, o.created_at, o.next_attempt_at
FROM webhook_outbox o WHERE o.id = $1 AND o.webhook_id = $2`, id, hook).Scan(&d.ID, &d.Webhook, &d.Event, &d.Kind, &d.Payload, &d.Attempts, &d.State, &d.CreatedAt, &next)
		if errors.Is(err, pgx.ErrNoRows) {
			return survey.Errorf(survey.ENotFound, "webhook %d has no delivery %d", hook, id)
		}
		if err != nil {
			return err
		}
		d.Secrets = []string{cur}
		if prev != "" && until != nil && until.After(now) {
			d.Secrets = append(d.Secrets, prev)
		}
		a = send(d)
		a.Replay = true
		if a.Delivered() && d.State != "delivered" {
			a.Replay = false // it counts as the delivery
			return recordAttempt(ctx, tx, d, a, func(int) (time.Duration, bool) { return 0, false })
		}
		return recordAttempt(ctx, tx, d, a, nil)
	})
	if err != nil {
		return a, fmt.Errorf("replay delivery %d: %w", id, err)
	}
	return a, nil
}

// Deliveries lists subscription hook's latest deliveries (state "" for
// all), each with its attempts, newest first.
func (db *DB) Deliveries(ctx context.Context, hook survey.WebhookID, state string, limit int) ([]survey.Delivery, error) {
	var ds []survey.Delivery
	err := db.retry(ctx, func() error {
		rows, err := db.pool.Query(ctx, `
SELECT o.id, o.webhook_id, o.event_id, o.kind, o.payload, o.attempts, o.state, o.created_at,
       coalesce((SELECT jsonb_agg(jsonb_build_object('at', a.at, 'status_code', a.status_code, 'error', a.error,
                                                     'duration_ms', a.duration_ms, 'replay', a.replay) ORDER BY a.at DESC)
                 FROM webhook_attempt a WHERE a.outbox_id = o.id), '[]')
FROM webhook_outbox o
WHERE o.webhook_id = $1 AND ($2 = '' OR o.state = $2)
ORDER BY o.event_id DESC, o.id DESC LIMIT $3`, hook, state, limit)
		if err != nil {
			return err
		}
		ds, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (survey.Delivery, error) {
			var d survey.Delivery
			err := row.Scan(&d.ID, &d.Webhook, &d.Event, &d.Kind, &d.Payload, &d.Attempts, &d.State, &d.CreatedAt, &d.Log)
			return d, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("deliveries of webhook %d: %w", hook, err)
	}
	return ds, nil
}
