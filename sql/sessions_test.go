// Tests of the console session store: idle and absolute expiry, logout,
// disabled accounts, and the sweep of dead sessions.

package sql_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

func TestSessions(t *testing.T) {
	db := sqltest.New(t)
	ctx := t.Context()
	if err := db.AddUser(ctx, "ivy", survey.RoleInterviewer, []byte("hash")); err != nil {
		t.Fatal(err)
	}
	u, err := db.User(ctx, "ivy")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 12, 9, 0, 0, 0, time.UTC)
	idle := 30 * time.Minute
	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	csrf := "0123456789abcdef0123456789abcdef"
	for _, id := range []string{"a", "b"} {
		if err := db.CreateSession(ctx, survey.Session{Hash: hash(id), UserID: u.ID, CSRF: csrf, CreatedAt: t0, ExpiresAt: t0.Add(2 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	s, su, err := db.TouchSession(ctx, hash("a"), t0.Add(20*time.Minute), idle)
	if err != nil || su.Name != "ivy" || s.CSRF != csrf || !bytes.Equal(s.Hash, hash("a")) {
		t.Fatalf("touch: %+v %+v %v", s, su, err)
	}
	// Used at +20 min, alive at +45; b, never used, is idle-dead.
	if _, _, err := db.TouchSession(ctx, hash("a"), t0.Add(45*time.Minute), idle); err != nil {
		t.Fatalf("within idle: %v", err)
	}
	if _, _, err := db.TouchSession(ctx, hash("b"), t0.Add(45*time.Minute), idle); !errors.Is(err, survey.NotFound) {
		t.Fatalf("idle session: %v", err)
	}
	// However busy, a session ends at its absolute expiry.
	for m := 60; m < 120; m += 15 {
		if _, _, err := db.TouchSession(ctx, hash("a"), t0.Add(time.Duration(m)*time.Minute), idle); err != nil {
			t.Fatalf("at +%dm: %v", m, err)
		}
	}
	if _, _, err := db.TouchSession(ctx, hash("a"), t0.Add(2*time.Hour), idle); !errors.Is(err, survey.NotFound) {
		t.Fatalf("past expiry: %v", err)
	}
	n, err := db.DeleteDeadSessions(ctx, t0.Add(2*time.Hour), idle)
	if err != nil || n != 2 {
		t.Fatalf("swept %d, %v", n, err)
	}
	// A disabled account's sessions die with it; logout ends one.
	if err := db.CreateSession(ctx, survey.Session{Hash: hash("c"), UserID: u.ID, CSRF: csrf, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, `UPDATE app_user SET disabled = true WHERE id = $1`, u.ID)
	if _, _, err := db.TouchSession(ctx, hash("c"), t0, idle); !errors.Is(err, survey.NotFound) {
		t.Fatalf("disabled account: %v", err)
	}
	mustExec(t, db, `UPDATE app_user SET disabled = false WHERE id = $1`, u.ID)
	if err := db.DeleteSession(ctx, hash("c")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.TouchSession(ctx, hash("c"), t0, idle); !errors.Is(err, survey.NotFound) {
		t.Fatalf("after logout: %v", err)
	}
}
