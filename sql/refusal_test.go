package sql_test

// What the case store refuses and how it says so: a call outcome on a case
// nobody dialed (it would count no attempt and come back forever), and the
// supervisors' actions on unknown, closed or busy targets, each a
// *sql.Refusal worded for the person who asked and still matching
// ErrNotFound or ErrConflict.

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/survey"
)

// refusal checks that err is a coded survey error of kind sentinel whose
// message, shown to the person who asked, says want.
func refusal(t *testing.T, what string, err, sentinel error, want string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Errorf("%s: %v; want a refusal (%v)", what, err, sentinel)
		return
	}
	if r := survey.ErrorMessage(err); !strings.Contains(r, want) {
		t.Errorf("%s: reason %q, want %q", what, r, want)
	}
}

func TestWrapUpWithoutDialCountsNoAttempt(t *testing.T) {
	f := newCaseFixture(t, 1)
	ctx := t.Context()
	f.add(t, "America/New_York")
	a := f.users[0]
	d, err := f.db.ClaimNext(ctx, a, f.names[0], monday)
	if err != nil {
		t.Fatal(err)
	}
	retry := survey.Outcome{AttemptCode: "3.13", Status: "open", NextAttemptAt: monday.Add(2 * time.Hour)}
	_, err = f.db.WrapUp(ctx, a, d.CaseID, retry, monday)
	refusal(t, "no answer, never dialed", err, survey.Conflict, "not dialed")
	var status string
	var attempts int
	if err := f.db.Pool().QueryRow(ctx, `SELECT status, attempts FROM survey_case WHERE id = $1`, d.CaseID).Scan(&status, &attempts); err != nil {
		t.Fatal(err)
	}
	if status != "claimed" || attempts != 0 {
		t.Fatalf("after the refused wrap-up the case is %s with %d attempts", status, attempts)
	}
	// Dialed, the same outcome is an attempt counted against the maximum.
	if _, err := f.db.StartDial(ctx, a, d.CaseID, monday); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.WrapUp(ctx, a, d.CaseID, retry, monday); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Pool().QueryRow(ctx, `SELECT status, attempts FROM survey_case WHERE id = $1`, d.CaseID).Scan(&status, &attempts); err != nil {
		t.Fatal(err)
	}
	if status != "open" || attempts != 1 {
		t.Fatalf("after a dialed no answer the case is %s with %d attempts, want open with 1", status, attempts)
	}
}

func TestSupervisorRefusalsSayWhy(t *testing.T) {
	f := newCaseFixture(t, 2)
	ctx := t.Context()
	f.add(t, "America/New_York", "America/New_York")
	a, b := f.users[0], f.users[1]
	da, err := f.db.ClaimNext(ctx, a, f.names[0], monday)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.ClaimNext(ctx, b, f.names[1], monday); err != nil {
		t.Fatal(err)
	}
	const unknown = 99999
	refusal(t, "reassign to a busy interviewer", f.db.Reassign(ctx, "sup", da.CaseID, b, f.names[1], monday),
		survey.Conflict, "interviewer "+f.names[1]+" is busy (on case)")
	refusal(t, "reassign an unknown case", f.db.Reassign(ctx, "sup", unknown, b, f.names[1], monday), survey.NotFound, "no case 99999")
	refusal(t, "release an unknown case", f.db.Release(ctx, "sup", unknown, monday), survey.NotFound, "no case 99999")
	refusal(t, "close an unknown case", f.db.SetDisposition(ctx, "sup", 0, unknown, survey.Outcome{FinalCode: "2.11"}, monday),
		survey.NotFound, "no case 99999")
	if err := f.db.SetDisposition(ctx, "sup", 0, da.CaseID, survey.Outcome{FinalCode: "4.10"}, monday); err != nil {
		t.Fatal(err)
	}
	refusal(t, "release a closed case", f.db.Release(ctx, "sup", da.CaseID, monday), survey.Conflict, "is closed")
	refusal(t, "close a closed case", f.db.SetDisposition(ctx, "sup", 0, da.CaseID, survey.Outcome{FinalCode: "2.11"}, monday),
		survey.Conflict, "already closed")
}
