// Account store: console users (name, role, password hash) and API tokens,
// which are stored hashed and looked up by hash.

package sql

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/survey"
)

// Token is a live API token: what its holder may do, and its name for logs.
type Token struct {
	ID   int64
	Name string
	Role survey.Role
}

const sqlAddUser = `INSERT INTO app_user (name, role, password_hash) VALUES ($1, $2, $3)`

// AddUser creates a console account from the command line.
func (db *DB) AddUser(ctx context.Context, name string, role survey.Role, passwordHash []byte) error {
	return db.AddAccount(ctx, name, role, passwordHash, "cli")
}

// AddAccount creates a console account, audit-logged as actor;
// survey.Conflict if the name is taken.
func (db *DB) AddAccount(ctx context.Context, name string, role survey.Role, passwordHash []byte, actor string) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlAddUser, name, string(role), passwordHash); err != nil {
			return err
		}
		return audit(ctx, tx, actor, "user.add", "user:"+name, map[string]any{"role": role})
	})
	if pgCode(err) == codeUniqueViolation {
		err = fmt.Errorf("name taken: %w", survey.Errorf(survey.EConflict, "an account called %q already exists", name))
	}
	if err != nil {
		return fmt.Errorf("add user %q as %s: %w", name, role, err)
	}
	return nil
}

const (
	sqlLockUser      = `SELECT id FROM app_user WHERE name = $1 FOR UPDATE`
	sqlActiveAdmins  = `SELECT count(*) FROM app_user WHERE role = 'admin' AND NOT disabled`
	sqlSignOutDesk   = `UPDATE interviewer_desk SET state = 'signed_out', reason = '', since = now() WHERE user_id = $1 AND state IN ('idle', 'break')`
	sqlSetRole       = `UPDATE app_user SET role = $2 WHERE id = $1`
	sqlSetDisabled   = `UPDATE app_user SET disabled = $2 WHERE id = $1`
	sqlSetPasswordID = `UPDATE app_user SET password_hash = $2 WHERE id = $1`
)

// UpdateAccount changes account name as ch says, audit-logged as actor
// (never the hash). A new password or a disabled account ends its console
// sessions, and a desk not on a case is signed out. survey.Conflict if the
// change would leave no active admin; survey.NotFound if there is no such
// account.
func (db *DB) UpdateAccount(ctx context.Context, name string, ch survey.AccountChange, actor string) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var id survey.UserID
		if err := tx.QueryRow(ctx, sqlLockUser, name).Scan(&id); errors.Is(err, pgx.ErrNoRows) {
			return survey.Errorf(survey.ENotFound, "no account %q", name)
		} else if err != nil {
			return err
		}
		detail := map[string]any{}
		if ch.Role != nil {
			if _, err := tx.Exec(ctx, sqlSetRole, id, string(*ch.Role)); err != nil {
				return err
			}
			detail["role"] = *ch.Role
		}
		if ch.Disabled != nil {
			if _, err := tx.Exec(ctx, sqlSetDisabled, id, *ch.Disabled); err != nil {
				return err
			}
			detail["disabled"] = *ch.Disabled
		}
		if ch.PasswordHash != nil {
			if _, err := tx.Exec(ctx, sqlSetPasswordID, id, ch.PasswordHash); err != nil {
				return err
			}
			detail["password"] = "reset"
		}
		if ch.PasswordHash != nil || ch.Disabled != nil && *ch.Disabled {
			if _, err := tx.Exec(ctx, sqlEndSessions, id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, sqlSignOutDesk, id); err != nil {
				return err
			}
		}
		var admins int
		if err := tx.QueryRow(ctx, sqlActiveAdmins).Scan(&admins); err != nil {
			return err
		}
		if admins == 0 {
			return survey.Errorf(survey.EConflict, "%s is the last active admin: make another account admin first", name)
		}
		return audit(ctx, tx, actor, "user.update", "user:"+name, detail)
	})
	if err != nil {
		return fmt.Errorf("update account %q: %w", name, err)
	}
	return nil
}

const (
	sqlSetPassword = `UPDATE app_user SET password_hash = $2 WHERE name = $1 RETURNING id`
	sqlEndSessions = `DELETE FROM console_session WHERE user_id = $1`
)

// SetPassword replaces the password of account name and ends its console
// sessions, so that whoever knew the old password is signed out;
// survey.NotFound if there is no such account.
func (db *DB) SetPassword(ctx context.Context, name string, passwordHash []byte) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, sqlSetPassword, name, passwordHash).Scan(&id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, sqlEndSessions, id)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = fmt.Errorf("no account %q: %w", name, survey.NotFound)
	}
	if err != nil {
		return fmt.Errorf("set password of %q: %w", name, err)
	}
	return nil
}

const sqlUser = `SELECT id, name, role, password_hash, disabled FROM app_user WHERE name = $1`

// User returns the account called name, disabled or not; survey.NotFound if none.
func (db *DB) User(ctx context.Context, name string) (survey.User, error) {
	var (
		u    survey.User
		role string
	)
	err := db.retry(ctx, func() error {
		return db.pool.QueryRow(ctx, sqlUser, name).Scan(&u.ID, &u.Name, &role, &u.PasswordHash, &u.Disabled)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = survey.NotFound
	}
	if err != nil {
		return survey.User{}, fmt.Errorf("load user %q: %w", name, err)
	}
	u.Role = survey.Role(role)
	return u, nil
}

const sqlCreateToken = `INSERT INTO api_token (name, role, token_hash) VALUES ($1, $2, $3) RETURNING id`

// CreateToken stores a new API token by the hash of its secret and returns
// its id; survey.Conflict if the hash is already stored.
func (db *DB) CreateToken(ctx context.Context, name string, role survey.Role, tokenHash []byte) (int64, error) {
	var id int64
	err := db.retry(ctx, func() error {
		return db.pool.QueryRow(ctx, sqlCreateToken, name, string(role), tokenHash).Scan(&id)
	})
	if pgCode(err) == codeUniqueViolation {
		err = fmt.Errorf("token hash already stored: %w", survey.Conflict)
	}
	if err != nil {
		return 0, fmt.Errorf("create token %q as %s: %w", name, role, err)
	}
	return id, nil
}

const sqlTokenByHash = `
UPDATE api_token SET last_used_at = now()
WHERE token_hash = $1 AND revoked_at IS NULL
RETURNING id, name, role`

// TokenByHash returns the unrevoked token whose secret hashes to hash, and
// records its use; survey.NotFound if there is none.
func (db *DB) TokenByHash(ctx context.Context, hash []byte) (Token, error) {
	var (
		t    Token
		role string
	)
	err := db.retry(ctx, func() error {
		return db.pool.QueryRow(ctx, sqlTokenByHash, hash).Scan(&t.ID, &t.Name, &role)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = survey.NotFound
	}
	if err != nil {
		return Token{}, fmt.Errorf("find token by hash: %w", err)
	}
	t.Role = survey.Role(role)
	return t, nil
}

// TokenRole is TokenByHash as the HTTP server asks it: the token's name for
// the logs and what its holder may do.
func (db *DB) TokenRole(ctx context.Context, hash []byte) (string, survey.Role, error) {
	t, err := db.TokenByHash(ctx, hash)
	return t.Name, t.Role, err
}

const sqlRevokeToken = `UPDATE api_token SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`

// RevokeToken revokes token id for good; survey.NotFound if there is no such
// unrevoked token.
func (db *DB) RevokeToken(ctx context.Context, id int64) error {
	err := db.retry(ctx, func() error {
		tag, err := db.pool.Exec(ctx, sqlRevokeToken, id)
		if err == nil && tag.RowsAffected() == 0 {
			err = survey.NotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	}
	return nil
}
