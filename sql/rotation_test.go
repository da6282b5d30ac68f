package sql_test

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// The claims rank cases by how often they were tried in the respondent's
// current time slice, in SQL; the domain's rule is survey.Slices.Score.
// They must agree for generated zones (DST included), instants, attempt
// histories and slice sets — the default and a campaign's own.
func TestClaimRotationAgreesWithDomain(t *testing.T) {
	f := newCaseFixture(t, 0)
	ctx := t.Context()
	zones := []string{"Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Kiritimati", ""}
	f.add(t, zones...)
	own := survey.Slices{{Name: "weekday lunch", Days: survey.Weekdays, From: 11 * 60, To: 14 * 60},
		{Name: "saturday", Days: 1 << time.Saturday, From: 0, To: 24 * 60}}
	defaults, err := json.Marshal(survey.DefaultSlices())
	if err != nil {
		t.Fatal(err)
	}
	q := `SELECT rot.n FROM survey_case sc JOIN campaign cp ON cp.id = sc.campaign_id JOIN contact ct ON ct.id = sc.contact_id
CROSS JOIN LATERAL (SELECT $2::timestamptz AT TIME ZONE coalesce(nullif(ct.tz, ''), 'UTC') AS local) l
` + strings.ReplaceAll(sql.SQLRotation, "$SLICES", "$3") + ` WHERE sc.id = $1`
	rng := rand.New(rand.NewPCG(3, 4))
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) // the US and EU DST changes fall in the next weeks
	at := func() time.Time {
		return start.Add(time.Duration(rng.Int64N(int64(60 * 24 * time.Hour)))).Truncate(time.Minute)
	}
	for round, ss := range []survey.Slices{survey.DefaultSlices(), own} {
		if round == 1 {
			b, _ := json.Marshal(survey.CampaignSettings{Dialing: survey.Dialing{Slices: own}})
			mustExec(t, f.db, `UPDATE campaign SET settings = $1`, string(b))
		}
		for i, z := range zones {
			var id survey.CaseID
			if err := f.db.Pool().QueryRow(ctx, `SELECT sc.id FROM survey_case sc JOIN contact ct ON ct.id = sc.contact_id WHERE ct.tz = $1`, z).Scan(&id); err != nil {
				t.Fatal(err)
			}
			loc, err := survey.Location(z)
			if err != nil {
				t.Fatal(err)
			}
			mustExec(t, f.db, `DELETE FROM attempt WHERE case_id = $1`, id)
			var tries []time.Time
			for range 3 + rng.IntN(6) {
				a := at()
				tries = append(tries, a)
				mustExec(t, f.db, `INSERT INTO attempt (case_id, direction, started_at) VALUES ($1, 'outbound', $2)`, id, a)
			}
			for range 40 {
				now := at()
				want, _ := ss.Score(now, loc, tries)
				var got int
				if err := f.db.Pool().QueryRow(ctx, q, id, now, string(defaults)).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("round %d, zone %q (case %d), now %s: SQL counts %d attempts in the slice, Score %d (attempts %v)",
						round, z, i, now.In(loc), got, want, tries)
				}
			}
		}
	}
}

// A case not yet tried in the respondent's current slice is claimed before
// one tried there, at equal priority.
func TestClaimRotates(t *testing.T) {
	db, camp := keypadCampaign(t, 2)
	ctx := t.Context()
	// monday is 10:00 in New York: weekday morning. The first case was
	// tried last Monday morning, the second last Monday evening.
	mustExec(t, db, `INSERT INTO attempt (case_id, direction, started_at) SELECT sc.id, 'outbound', $2
		FROM survey_case sc JOIN contact ct ON ct.id = sc.contact_id WHERE ct.phone_e164 = $1`, "+12025560000", monday.Add(-7*24*time.Hour))
	mustExec(t, db, `INSERT INTO attempt (case_id, direction, started_at) SELECT sc.id, 'outbound', $2
		FROM survey_case sc JOIN contact ct ON ct.id = sc.contact_id WHERE ct.phone_e164 = $1`, "+12025560001", monday.Add(-7*24*time.Hour+9*time.Hour))
	jobs, err := db.ClaimDials(ctx, camp, "dialer:a", 1, monday)
	if err != nil || len(jobs) != 1 || jobs[0].Phone != "+12025560001" {
		t.Fatalf("claimed %+v (%v); want the case not yet tried on a weekday morning", jobs, err)
	}
}
