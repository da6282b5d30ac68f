package sql_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// The claim filters cases by calling window in SQL, for speed; the domain's
// rule is survey.Window.Contains. They must agree for every window, zone and
// instant — across DST changes (Paris, New York, Lord Howe's half hour),
// odd offsets (Kathmandu's +05:45) and both sides of the date line.
func TestClaimWindowAgreesWithDomain(t *testing.T) {
	f := newCaseFixture(t, 0)
	ctx := t.Context()
	zones := []string{"Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu",
		"Pacific/Kiritimati", "Pacific/Pago_Pago", ""}
	rng := rand.New(rand.NewPCG(7, 8))
	instants := windowInstants(t, zones, rng)
	// The SQL fragment as the claim runs it, over every instant at once:
	// $2 becomes each instant in turn.
	q := `SELECT i.n, EXISTS (SELECT 1 FROM survey_case sc JOIN contact ct ON ct.id = sc.contact_id ` +
		strings.ReplaceAll(sql.SQLInWindow, "$2::timestamptz", "i.at") + ` WHERE sc.id = $1)
FROM unnest($2::timestamptz[]) WITH ORDINALITY AS i(at, n) ORDER BY i.n`
	for set := range 12 {
		ws := randomWindows(rng, set)
		id, err := f.db.CreateCampaign(ctx, survey.Campaign{Name: fmt.Sprint("windows ", set), Questionnaire: "customer-study",
			Mode: survey.CampaignCATI, Status: survey.CampaignRunning, MaxAttempts: 3, Windows: ws}, "test")
		if err != nil {
			t.Fatal(err)
		}
		stored, err := f.db.Campaign(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(stored.Windows) != fmt.Sprint(ws) { // generated in day order, as stored
			t.Fatalf("windows stored as %v, want %v", stored.Windows, ws)
		}
		var rows []survey.SampleRow
		for i, z := range zones {
			rows = append(rows, survey.SampleRow{Line: i + 2, Phone: fmt.Sprintf("+3314%03d%04d", set, i), TZ: z, Attrs: map[string]string{}})
		}
		if _, _, err := f.db.ImportSample(ctx, id, rows, "test"); err != nil {
			t.Fatal(err)
		}
		for _, z := range zones {
			var caseID survey.CaseID
			if err := f.db.Pool().QueryRow(ctx, `SELECT sc.id FROM survey_case sc JOIN contact ct ON ct.id = sc.contact_id
WHERE sc.campaign_id = $1 AND ct.tz = $2`, id, z).Scan(&caseID); err != nil {
				t.Fatal(err)
			}
			loc, err := survey.Location(z)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.db.Pool().Query(ctx, q, caseID, instants)
			if err != nil {
				t.Fatal(err)
			}
			disagree := 0
			for got.Next() {
				var (
					n  int
					in bool
				)
				if err := got.Scan(&n, &in); err != nil {
					t.Fatal(err)
				}
				at := instants[n-1]
				if want := ws.Contains(at, loc); in != want && disagree < 5 {
					disagree++
					t.Errorf("windows %v, zone %q, %s (local %s): SQL says %v, Window.Contains %v",
						ws, z, at.UTC().Format(time.RFC3339), at.In(loc).Format("Mon 15:04 MST"), in, want)
				}
			}
			if err := got.Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// windowInstants are random instants over two years, half of them on a
// quarter hour as windows open and close, plus the minutes around every
// clock change of the zones.
func windowInstants(t *testing.T, zones []string, rng *rand.Rand) []time.Time {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var out []time.Time
	for i := range 600 {
		at := start.Add(time.Duration(rng.Int64N(int64(2 * 365 * 24 * time.Hour))))
		if i%2 == 0 {
			at = at.Truncate(15 * time.Minute) // on the windows' edges (every zone is whole quarters off UTC)
		}
		out = append(out, at.Truncate(time.Second))
	}
	for _, z := range zones {
		loc, err := survey.Location(z)
		if err != nil {
			t.Fatal(err)
		}
		for at := start; at.Before(start.AddDate(1, 0, 0)); at = at.Add(time.Hour) {
			_, before := at.In(loc).Zone()
			_, after := at.Add(time.Hour).In(loc).Zone()
			if before == after {
				continue
			}
			for m := range 120 { // find the change to the minute
				c := at.Add(time.Duration(m) * time.Minute)
				if _, o := c.In(loc).Zone(); o == after {
					for _, d := range []time.Duration{-61, -31, -1, 0, 1, 29, 31, 61} {
						out = append(out, c.Add(d*time.Minute))
					}
					break
				}
			}
		}
	}
	return out
}

// randomWindows are up to one window a day; the first sets hold the edges:
// midnight to midnight, and the hours DST changes skip or repeat.
func randomWindows(rng *rand.Rand, set int) survey.Windows {
	switch set {
	case 0:
		var ws survey.Windows
		for d := range 7 {
			ws = append(ws, survey.Window{Dow: d, Opens: 0, Closes: 24 * 60})
		}
		return ws
	case 1:
		var ws survey.Windows
		for d := range 7 {
			ws = append(ws, survey.Window{Dow: d, Opens: 2 * 60, Closes: 3*60 + 30})
		}
		return ws
	}
	var ws survey.Windows
	for d := range 7 {
		if rng.IntN(4) == 0 {
			continue
		}
		opens := rng.IntN(24*4) * 15
		closes := opens + 15 + rng.IntN((24*60-opens)/15)*15
		if rng.IntN(5) == 0 {
			closes = 24 * 60
		}
		ws = append(ws, survey.Window{Dow: d, Opens: opens, Closes: closes})
	}
	return ws
}
