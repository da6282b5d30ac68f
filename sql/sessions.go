// Console session store: browser sessions of console users. The cookie holds
// a random id; only its SHA-256 is stored, so a copy of the table lets
// nobody in. A session ends at its absolute expiry, after an idle period, at
// logout, or when its account is disabled.

package sql

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/survey"
)

const sqlCreateSession = `
INSERT INTO console_session (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at)
VALUES ($1, $2, $3, $4, $4, $5)`

// CreateSession stores a new session.
func (db *DB) CreateSession(ctx context.Context, s survey.Session) error {
	err := db.retry(ctx, func() error {
		_, err := db.pool.Exec(ctx, sqlCreateSession, s.Hash, s.UserID, s.CSRF, s.CreatedAt, s.ExpiresAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("create session for user %d: %w", s.UserID, err)
	}
	return nil
}

// sqlTouchSession finds a live session and records that it was used now. A
// session idle for longer than $3 or past its expiry is dead, and so is one
// whose account is disabled.
const sqlTouchSession = `
UPDATE console_session s SET last_seen_at = greatest(s.last_seen_at, $2)
FROM app_user u
WHERE s.id_hash = $1 AND u.id = s.user_id AND NOT u.disabled
  AND s.expires_at > $2 AND s.last_seen_at > $2 - $3::interval
RETURNING s.user_id, s.csrf_token, s.created_at, s.last_seen_at, s.expires_at,
          u.id, u.name, u.role, u.password_hash, u.disabled`

// TouchSession returns the live session whose id hashes to hash and its
// user, and marks it used at now; survey.NotFound when there is no such session
// or it has expired (absolute or idle).
func (db *DB) TouchSession(ctx context.Context, hash []byte, now time.Time, idle time.Duration) (survey.Session, survey.User, error) {
	var (
		s    = survey.Session{Hash: hash}
		u    survey.User
		role string
	)
	err := db.retry(ctx, func() error {
		return db.pool.QueryRow(ctx, sqlTouchSession, hash, now, idle).Scan(&s.UserID, &s.CSRF, &s.CreatedAt, &s.LastSeen,
			&s.ExpiresAt, &u.ID, &u.Name, &role, &u.PasswordHash, &u.Disabled)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = survey.NotFound
	}
	if err != nil {
		return survey.Session{}, survey.User{}, fmt.Errorf("find session: %w", err)
	}
	u.Role = survey.Role(role)
	return s, u, nil
}

const sqlDeleteSession = `DELETE FROM console_session WHERE id_hash = $1`

// DeleteSession ends a session (logout); ending one that is gone is not an
// error.
func (db *DB) DeleteSession(ctx context.Context, hash []byte) error {
	err := db.retry(ctx, func() error {
		_, err := db.pool.Exec(ctx, sqlDeleteSession, hash)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

const (
	sqlDeleteDeadSessions = `DELETE FROM console_session WHERE expires_at <= $1 OR last_seen_at <= $1 - $2::interval`
	// sqlSignOutAbsent signs out the desks (idle or on a break) of
	// interviewers left without a live session.
	sqlSignOutAbsent = `
UPDATE interviewer_desk d SET state = 'signed_out', reason = '', since = $1
WHERE d.state IN ('idle', 'break') AND NOT EXISTS (SELECT 1 FROM console_session s WHERE s.user_id = d.user_id)
RETURNING d.user_id`
)

// DeleteDeadSessions removes expired sessions and returns how many; the
// desks their interviewers left idle or on a break are signed out.
func (db *DB) DeleteDeadSessions(ctx context.Context, now time.Time, idle time.Duration) (int64, error) {
	var n int64
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlDeleteDeadSessions, now, idle)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		rows, err := tx.Query(ctx, sqlSignOutAbsent, now)
		if err != nil {
			return err
		}
		users, err := pgx.CollectRows(rows, pgx.RowTo[survey.UserID])
		if err != nil {
			return err
		}
		for _, u := range users {
			if _, err := WriteEvent(ctx, tx, survey.Event{At: now, Kind: "desk.signed_out", UserID: u}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete dead sessions: %w", err)
	}
	return n, nil
}

const sqlUsers = `SELECT id, name, role, ''::bytea, disabled FROM app_user ORDER BY name`

// Users lists every account, without password hashes.
func (db *DB) Users(ctx context.Context) ([]survey.User, error) {
	var us []survey.User
	err := db.retry(ctx, func() error {
		rows, err := db.pool.Query(ctx, sqlUsers)
		if err != nil {
			return err
		}
		us, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (survey.User, error) {
			var (
				u    survey.User
				role string
			)
			err := row.Scan(&u.ID, &u.Name, &role, &u.PasswordHash, &u.Disabled)
			u.Role = survey.Role(role)
			return u, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}
