// Tests of console accounts and API tokens.

package sql_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

func TestUsers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	if err := db.AddUser(ctx, "alice", survey.RoleSupervisor, []byte("hash-a")); err != nil {
		t.Fatal(err)
	}
	if err := db.AddUser(ctx, "alice", survey.RoleInterviewer, []byte("hash-b")); !errors.Is(err, survey.Conflict) {
		t.Errorf("second alice: %v, want ErrConflict", err)
	}
	if err := db.AddUser(ctx, "bob", survey.RoleIntegrator, []byte("hash-b")); err == nil {
		t.Error("a console user with role integrator was added")
	}
	u, err := db.User(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := survey.User{ID: u.ID, Name: "alice", Role: survey.RoleSupervisor, PasswordHash: []byte("hash-a")}
	if diff := cmp.Diff(want, u); diff != "" {
		t.Errorf("User (-want +got):\n%s", diff)
	}
	if _, err := db.User(ctx, "bob"); !errors.Is(err, survey.NotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	id, err := db.CreateToken(ctx, "asterisk-1", survey.RoleIntegrator, []byte("h1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateToken(ctx, "ops", survey.RoleAdmin, []byte("h2")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateToken(ctx, "copy", survey.RoleAdmin, []byte("h1")); !errors.Is(err, survey.Conflict) {
		t.Errorf("token with a stored hash: %v, want ErrConflict", err)
	}

	got, err := db.TokenByHash(ctx, []byte("h1"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (sql.Token{ID: id, Name: "asterisk-1", Role: survey.RoleIntegrator}); got != want {
		t.Errorf("TokenByHash = %+v, want %+v", got, want)
	}
	var used bool
	if err := db.Pool().QueryRow(ctx, `SELECT last_used_at IS NOT NULL FROM api_token WHERE id = $1`, id).Scan(&used); err != nil || !used {
		t.Errorf("last_used_at not set after a lookup (%v)", err)
	}

	if err := db.RevokeToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := db.TokenByHash(ctx, []byte("h1")); !errors.Is(err, survey.NotFound) {
		t.Errorf("revoked token: %v, want ErrNotFound", err)
	}
	if err := db.RevokeToken(ctx, id); !errors.Is(err, survey.NotFound) {
		t.Errorf("revoking twice: %v, want ErrNotFound", err)
	}
	if _, err := db.TokenByHash(ctx, []byte("h2")); err != nil {
		t.Errorf("the other token: %v", err)
	}
	if _, err := db.TokenByHash(ctx, []byte("nope")); !errors.Is(err, survey.NotFound) {
		t.Errorf("unknown hash: %v, want ErrNotFound", err)
	}
}
