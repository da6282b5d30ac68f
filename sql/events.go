// Event store: the live feed behind the supervisors' screens. An event is
// written in the same transaction as the change it reports, with a
// pg_notify('canvass_events', id) that PostgreSQL delivers at COMMIT to every
// node LISTENing; payloads carry ids only (NOTIFY payloads must stay under
// 8000 bytes). A listener that reconnects re-reads what it missed by id.

package sql

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/canvass/canvass/survey"

	"github.com/jackc/pgx/v5"
)

// EventChannel is the NOTIFY channel of the live feed.
const EventChannel = "canvass_events"

const sqlAddEvent = `
INSERT INTO event (at, kind, campaign_id, interview_id, user_id, case_id, payload)
VALUES (coalesce($1, now()), $2, nullif($3, 0), nullif($4, 0), nullif($5, 0), nullif($6, 0), coalesce($7::jsonb, '{}'))
RETURNING id`

const sqlNotifyEvent = `SELECT pg_notify('` + EventChannel + `', $1::text)`

// addEvent stores e and notifies listeners at commit; run it in the
// transaction of the change it reports.
func WriteEvent(ctx context.Context, q DBTX, e survey.Event) (int64, error) {
	var payload *string
	if len(e.Payload) > 0 {
		payload = new(string(e.Payload))
	}
	var id int64
	if err := q.QueryRow(ctx, sqlAddEvent, nullTime(e.At), e.Kind, e.CampaignID, e.InterviewID, e.UserID, e.CaseID, payload).Scan(&id); err != nil {
		return 0, fmt.Errorf("add event %s: %w", e.Kind, err)
	}
	if _, err := q.Exec(ctx, sqlNotifyEvent, strconv.FormatInt(id, 10)); err != nil {
		return 0, fmt.Errorf("notify event %d: %w", id, err)
	}
	return id, nil
}

// AddEvent stores one event on its own and notifies the listeners.
func (db *DB) AddEvent(ctx context.Context, e survey.Event) (int64, error) {
	var id int64
	err := db.retry(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) (err error) {
			id, err = WriteEvent(ctx, tx, e)
			return err
		})
	})
	return id, err
}

const sqlLastWrapped = `
SELECT id, at, kind, coalesce(campaign_id, 0), coalesce(interview_id, 0), coalesce(user_id, 0), coalesce(case_id, 0), payload
FROM event WHERE user_id = $1 AND kind = 'case.wrapped' ORDER BY id DESC LIMIT 1`

// LastWrapped is the interviewer's latest wrap-up (its event: the case, how
// it was settled); survey.NotFound if there is none.
func (db *DB) LastWrapped(ctx context.Context, userID survey.UserID) (survey.Event, error) {
	var e survey.Event
	err := db.retry(ctx, func() error {
		return db.pool.QueryRow(ctx, sqlLastWrapped, userID).Scan(&e.ID, &e.At, &e.Kind, &e.CampaignID, &e.InterviewID, &e.UserID, &e.CaseID, &e.Payload)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return e, survey.NotFound
	}
	if err != nil {
		return e, fmt.Errorf("last wrap-up of user %d: %w", userID, err)
	}
	e.At = e.At.UTC()
	return e, nil
}

const sqlEventsAfter = `
SELECT id, at, kind, coalesce(campaign_id, 0), coalesce(interview_id, 0), coalesce(user_id, 0), coalesce(case_id, 0), payload
FROM event WHERE id > $1 ORDER BY id LIMIT $2`

// EventsAfter returns at most limit events with ids above after, oldest
// first.
func (db *DB) EventsAfter(ctx context.Context, after int64, limit int) ([]survey.Event, error) {
	var es []survey.Event
	err := db.retry(ctx, func() error {
		rows, err := db.pool.Query(ctx, sqlEventsAfter, after, limit)
		if err != nil {
			return err
		}
		es, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (survey.Event, error) {
			var e survey.Event
			err := row.Scan(&e.ID, &e.At, &e.Kind, &e.CampaignID, &e.InterviewID, &e.UserID, &e.CaseID, &e.Payload)
			e.At = e.At.UTC()
			return e, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("events after %d: %w", after, err)
	}
	return es, nil
}

const sqlPruneEvents = `DELETE FROM event WHERE at < $1 AND id < (SELECT max(id) FROM event)`

// PruneEvents deletes the events committed before before, except the
// newest (LastEventID stays where it is), and returns how many went. The
// events only carry the live feed from node to node; a node that comes back
// after longer than that resyncs from the screens, not from the feed.
// Webhook deliveries keep their own copy of the event (webhook_outbox);
// those delivered before before go too, with their attempts, while pending
// and dead-lettered ones stay for the receiver and the replay.
func (db *DB) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.retry(ctx, func() error {
		tag, err := db.pool.Exec(ctx, sqlPruneEvents, before)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = db.pool.Exec(ctx, `DELETE FROM webhook_outbox WHERE state = 'delivered' AND done_at < $1`, before)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune events before %s: %w", before.Format(time.RFC3339), err)
	}
	return n, nil
}

const sqlLastEvent = `SELECT coalesce(max(id), 0) FROM event`

// LastEventID is the id of the newest event, 0 when there is none.
func (db *DB) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	err := db.retry(ctx, func() error { return db.pool.QueryRow(ctx, sqlLastEvent).Scan(&id) })
	if err != nil {
		return 0, fmt.Errorf("last event id: %w", err)
	}
	return id, nil
}

// ListenEvents holds a dedicated connection LISTENing on EventChannel until
// ctx ends, calling notify with each event id as it is committed. After
// each (re)connect it calls connected, once LISTEN is in place, so that the
// caller can re-read what it missed while disconnected. Connection failures
// are retried with backoff up to maxBackoff; ListenEvents returns only when
// ctx ends.
func (db *DB) ListenEvents(ctx context.Context, connected func(), notify func(id int64)) error {
	const maxBackoff = 5 * time.Second
	backoff := 100 * time.Millisecond
	for {
		err := db.listen(ctx, connected, notify)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			backoff = min(backoff*2, maxBackoff)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
	}
}

// listen runs one LISTEN session; it returns when the connection fails or
// ctx ends.
func (db *DB) listen(ctx context.Context, connected func(), notify func(id int64)) (err error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// The connection is left in LISTEN state: never hand it back to the pool.
	defer func() {
		if cerr := conn.Hijack().Close(context.WithoutCancel(ctx)); cerr != nil && err == nil {
			err = fmt.Errorf("listen: close: %w", cerr)
		}
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+EventChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	connected()
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
		id, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil {
			continue // not ours: someone else NOTIFYing on the channel
		}
		notify(id)
	}
}
