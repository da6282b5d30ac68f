// Tests of the do-not-call lists: claims skip listed numbers (system-wide
// and the campaign's, not another campaign's), a number listed after its
// case was claimed — even while the claim was in flight — is not dialed,
// and "never call again" lists the number as it closes the case.

package sql_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

func dnc(phone string, campaign survey.CampaignID) survey.DNCEntry {
	return survey.DNCEntry{Phone: phone, Campaign: campaign, AddedAt: monday, AddedBy: "admin", Source: survey.DNCAPI}
}

// claimPhone claims a case for interviewer 0 and returns its number, ""
// when none is due.
func (f *caseFixture) claimPhone(t *testing.T) (survey.CaseID, string) {
	t.Helper()
	d, err := f.db.ClaimNext(t.Context(), f.users[0], f.names[0], monday)
	if errors.Is(err, survey.NotFound) {
		return 0, ""
	}
	if err != nil {
		t.Fatal(err)
	}
	var phone string
	if err := f.db.Pool().QueryRow(t.Context(), `SELECT ct.phone_e164 FROM survey_case sc JOIN contact ct ON ct.id = sc.contact_id WHERE sc.id = $1`, d.CaseID).Scan(&phone); err != nil {
		t.Fatal(err)
	}
	return d.CaseID, phone
}

func TestClaimSkipsDNC(t *testing.T) {
	f := newCaseFixture(t, 1)
	ctx := t.Context()
	f.add(t, "America/New_York", "America/New_York", "America/New_York") // +12025550001..3
	other, err := f.db.CreateCampaign(ctx, survey.Campaign{Name: "other", Questionnaire: "customer-study", Mode: "cati",
		Status: "running", MaxAttempts: 3}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	n, err := f.db.AddDNC(ctx, []survey.DNCEntry{
		dnc("+12025550001", 0),          // system-wide
		dnc("+12025550002", f.campaign), // this campaign's
		dnc("+12025550003", other),      // another campaign's: no bar here
		dnc("+12025550001", 0),          // twice: listed once
	})
	if err != nil || n != 3 {
		t.Fatalf("add: %d new, %v; want 3", n, err)
	}
	caseID, phone := f.claimPhone(t)
	if phone != "+12025550003" {
		t.Fatalf("claimed %q, want +12025550003, the only number not listed for this campaign", phone)
	}
	if _, err := f.db.WrapUp(ctx, f.users[0], caseID, survey.Outcome{Status: survey.CaseClosed, FinalCode: "4.10", AttemptCode: "4.10"}, monday); err != nil {
		t.Fatal(err)
	}
	if _, phone := f.claimPhone(t); phone != "" {
		t.Fatalf("claimed %s, a listed number", phone)
	}
	// Off the campaign's list, its case is claimed again.
	if err := f.db.RemoveDNC(ctx, f.campaign, "+12025550002"); err != nil {
		t.Fatal(err)
	}
	if err := f.db.RemoveDNC(ctx, f.campaign, "+12025550002"); !errors.Is(err, survey.NotFound) {
		t.Fatalf("remove twice: %v, want NotFound", err)
	}
	if _, phone := f.claimPhone(t); phone != "+12025550002" {
		t.Fatalf("after removal claimed %q, want +12025550002", phone)
	}
	list, err := f.db.DNC(ctx, 0)
	if err != nil || len(list) != 1 || list[0].Phone != "+12025550001" || list[0].Source != survey.DNCAPI || list[0].AddedBy != "admin" {
		t.Fatalf("system list: %+v, %v", list, err)
	}
	if _, err := f.db.AddDNC(ctx, []survey.DNCEntry{dnc("+12025550009", 999)}); !errors.Is(err, survey.NotFound) {
		t.Fatalf("unknown campaign: %v, want NotFound", err)
	}
}

// A number listed while its case is being claimed: the claim, which could
// not see the uncommitted listing, gets the case, but the dial that follows
// is refused and records no attempt.
func TestDNCAddedDuringClaimBlocksDial(t *testing.T) {
	for _, list := range []string{"system", "campaign"} {
		t.Run(list, func(t *testing.T) {
			f := newCaseFixture(t, 1)
			ctx := t.Context()
			f.add(t, "America/New_York")
			var campaign survey.CampaignID
			if list == "campaign" {
				campaign = f.campaign
			}
			inserted, release := make(chan struct{}), make(chan struct{})
			done := make(chan error, 1)
			go func() {
				done <- f.db.Tx(context.Background(), func(tx sql.DBTX) error {
					if _, err := tx.Exec(context.Background(), `INSERT INTO dnc (phone_e164, campaign_id, added_at, source) VALUES ($1, nullif($2, 0), $3, 'api')`,
						"+12025550001", campaign, monday); err != nil {
						return err
					}
					close(inserted)
					<-release
					return nil
				})
			}()
			<-inserted
			caseID, phone := f.claimPhone(t) // the listing is not committed yet
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if phone != "+12025550001" {
				t.Fatalf("claim during the listing got %q", phone)
			}
			_, err := f.db.StartDial(ctx, f.users[0], caseID, monday)
			if !errors.Is(err, survey.Conflict) || !strings.Contains(survey.ErrorMessage(err), "do-not-call list") {
				t.Fatalf("dial a number listed after the claim: %v, want a do-not-call refusal", err)
			}
			var attempts, rows int
			if err := f.db.Pool().QueryRow(ctx, `SELECT attempts, (SELECT count(*) FROM attempt WHERE case_id = $1) FROM survey_case WHERE id = $1`, caseID).Scan(&attempts, &rows); err != nil {
				t.Fatal(err)
			}
			if attempts != 0 || rows != 0 {
				t.Fatalf("refused dial left %d attempts counted, %d rows", attempts, rows)
			}
			// The dialer's own path (StartAttempt in its transaction) is refused too.
			err = f.db.Tx(ctx, func(tx sql.DBTX) error {
				_, err := sql.StartAttempt(ctx, tx, caseID, "+12025550001", 0, monday)
				return err
			})
			if !errors.Is(err, survey.Conflict) {
				t.Fatalf("StartAttempt to a listed number: %v", err)
			}
			// Released, the case is not claimed again.
			if err := f.db.Release(ctx, "sup", caseID, monday); err != nil {
				t.Fatal(err)
			}
			if _, phone := f.claimPhone(t); phone != "" {
				t.Fatalf("claimed %s after it was listed", phone)
			}
		})
	}
}

func TestWrapUpNeverCallListsTheNumber(t *testing.T) {
	f := newCaseFixture(t, 1)
	ctx := t.Context()
	f.add(t, "America/New_York")
	caseID, phone := f.claimPhone(t)
	if _, err := f.db.StartDial(ctx, f.users[0], caseID, monday); err != nil {
		t.Fatal(err)
	}
	o := survey.Outcome{AttemptCode: "2.11", Status: survey.CaseClosed, FinalCode: "2.11", Note: "asked never to be called", DoNotCall: true}
	if _, err := f.db.WrapUp(ctx, f.users[0], caseID, o, monday); err != nil {
		t.Fatal(err)
	}
	list, err := f.db.DNC(ctx, f.campaign)
	if err != nil || len(list) != 1 {
		t.Fatalf("campaign list: %+v, %v", list, err)
	}
	want := survey.DNCEntry{Phone: phone, Campaign: f.campaign, AddedAt: monday, AddedBy: "interviewer:" + f.names[0], Source: survey.DNCConsole, Note: o.Note}
	if list[0] != want {
		t.Fatalf("listed %+v, want %+v", list[0], want)
	}
	var status, final string
	if err := f.db.Pool().QueryRow(ctx, `SELECT status, final_disposition FROM survey_case WHERE id = $1`, caseID).Scan(&status, &final); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		t.Fatal(err)
	}
	if status != "closed" || final != "2.11" {
		t.Fatalf("case is %s %s, want closed 2.11", status, final)
	}
}
