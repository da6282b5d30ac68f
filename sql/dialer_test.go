package sql_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
	"github.com/canvass/canvass/testdata"
)

// keypadCampaign is a running keypad campaign of n contacts in New York,
// open 09:00–21:00 every day, due since long before monday.
func keypadCampaign(tb testing.TB, n int) (*sql.DB, survey.CampaignID) {
	tb.Helper()
	db := sqltest.New(tb)
	ctx := tb.Context()
	src, err := testdata.Questionnaires.ReadFile("questionnaires/post-call.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	q, err := survey.Parse(src)
	if err != nil {
		tb.Fatal(err)
	}
	if _, _, err := db.PutQuestionnaire(ctx, q.Version(src)); err != nil {
		tb.Fatal(err)
	}
	var ws []survey.Window
	for d := range 7 {
		ws = append(ws, survey.Window{Dow: d, Opens: 9 * 60, Closes: 21 * 60})
	}
	camp, err := db.CreateCampaign(ctx, survey.Campaign{Name: "keypad", Questionnaire: q.ID, Mode: survey.CampaignIVR,
		Status: survey.CampaignRunning, MaxAttempts: 2, Windows: ws}, "admin")
	if err != nil {
		tb.Fatal(err)
	}
	rows := make([]survey.SampleRow, n)
	for i := range rows {
		rows[i] = survey.SampleRow{Line: i + 2, Phone: fmt.Sprintf("+1202556%04d", i), TZ: "America/New_York", Attrs: map[string]string{}}
	}
	if _, _, err := db.ImportSample(ctx, camp, rows, "admin"); err != nil {
		tb.Fatal(err)
	}
	mustExec(tb, db, `UPDATE survey_case SET next_attempt_at = '2000-01-01' WHERE status = 'open'`)
	return db, camp
}

// closeAs decides a plain close, as dialer.Decide would for a final code.
func closeAs(code survey.DispositionCode) func(survey.Case) (survey.Outcome, error) {
	return func(c survey.Case) (survey.Outcome, error) {
		return survey.Outcome{AttemptCode: code, Status: survey.CaseClosed, FinalCode: code}, nil
	}
}

func TestClaimDials(t *testing.T) {
	db, camp := keypadCampaign(t, 4)
	ctx := t.Context()
	// 07:00 in New York: outside the window, nothing is due.
	if jobs, err := db.ClaimDials(ctx, camp, "dialer:a", 10, monday.Add(-3*time.Hour)); err != nil || len(jobs) != 0 {
		t.Fatalf("claimed outside the window: %v %v", jobs, err)
	}
	if _, err := db.AddDNC(ctx, []survey.DNCEntry{{Phone: "+12025560001", Campaign: camp, AddedAt: monday.Add(-time.Hour), AddedBy: "t", Source: survey.DNCAPI}}); err != nil {
		t.Fatal(err)
	}
	jobs, err := db.ClaimDials(ctx, camp, "dialer:a", 2, monday)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("claim 2: %v %v", jobs, err)
	}
	for _, j := range jobs {
		if j.Attempt == 0 || j.Attempts != 1 || j.MaxAttempts != 2 || j.Questionnaire != "post-call" || j.TZ != "America/New_York" {
			t.Errorf("job %+v", j)
		}
	}
	more, err := db.ClaimDials(ctx, camp, "dialer:b", 10, monday)
	if err != nil || len(more) != 1 || more[0].Phone == "+12025560001" {
		t.Fatalf("a second node claims %+v (%v); want the one case left that is not on the DNC list", more, err)
	}
	// Node a stops; its cases come back due, their attempts counted.
	if n, err := db.ReleaseDials(ctx, "dialer:a", monday); err != nil || n != 2 {
		t.Fatalf("released %d (%v), want 2 attempts", n, err)
	}
	c, err := db.Case(ctx, jobs[0].Case)
	if err != nil || c.Status != survey.CaseOpen || c.Attempts != 1 || c.History[0].EndedAt == nil {
		t.Fatalf("released case %+v %v", c, err)
	}
	// Settled: facts on the attempt, the outcome applied, in one go.
	o, err := db.SettleDial(ctx, more[0], survey.CallFacts{CallID: "x", SIPStatus: 404, EndedAt: monday, Rule: "SIP 404",
		AMD: "machine", AMDCause: "MAXWORDS-3-3", AMDTime: 1500 * time.Millisecond}, closeAs(survey.CodeNonWorking), monday)
	if err != nil || o.Status != survey.CaseClosed {
		t.Fatal(o, err)
	}
	c, err = db.Case(ctx, more[0].Case)
	if err != nil || c.Status != survey.CaseClosed || c.FinalDisposition != survey.CodeNonWorking || c.History[0].SIPStatus != 404 ||
		c.History[0].Disposition != survey.CodeNonWorking {
		t.Fatalf("settled case %+v %v", c, err)
	}
	var amd, cause, rule string
	var ms int
	if err := db.Pool().QueryRow(ctx, `SELECT amd_result, amd_cause, amd_ms, rule FROM attempt WHERE id = $1`, more[0].Attempt).Scan(&amd, &cause, &ms, &rule); err != nil {
		t.Fatal(err)
	}
	if amd != "machine" || cause != "MAXWORDS-3-3" || ms != 1500 || rule != "SIP 404" {
		t.Errorf("attempt keeps AMD %q %q %d ms, rule %q", amd, cause, ms, rule)
	}
	// A case a supervisor closed meanwhile keeps their decision.
	again, err := db.ClaimDials(ctx, camp, "dialer:a", 1, monday.Add(time.Minute))
	if err != nil || len(again) != 1 {
		t.Fatal(again, err)
	}
	mustExec(t, db, fmt.Sprintf(`UPDATE survey_case SET status = 'closed', owner = '', final_disposition = '2.11', closed_at = now() WHERE id = %d`, again[0].Case))
	if _, err := db.SettleDial(ctx, again[0], survey.CallFacts{SIPStatus: 486, EndedAt: monday}, closeAs(survey.CodeBusy), monday); err != nil {
		t.Fatal(err)
	}
	c, err = db.Case(ctx, again[0].Case)
	if err != nil || c.FinalDisposition != "2.11" || c.History[len(c.History)-1].EndedAt == nil {
		t.Fatalf("case closed by a supervisor %+v %v", c, err)
	}
}

// BenchmarkDialDatabaseWork is the database work of one keypad dial alone:
// the claim that starts its attempt and the settlement that records the
// call and closes the case, one dial at a time.
func BenchmarkDialDatabaseWork(b *testing.B) {
	db, camp := keypadCampaign(b, b.N)
	ctx := b.Context()
	var claim, settle time.Duration
	b.ResetTimer()
	for range b.N {
		t := time.Now()
		jobs, err := db.ClaimDials(ctx, camp, "dialer:bench", 1, monday)
		if err != nil || len(jobs) != 1 {
			b.Fatal(jobs, err)
		}
		claim += time.Since(t)
		f := survey.CallFacts{CallID: "x", SIPStatus: 200, AnsweredAt: monday, EndedAt: monday, Talk: time.Second, Rule: "person"}
		t = time.Now()
		if _, err := db.SettleDial(ctx, jobs[0], f, closeAs(survey.CodeComplete), monday); err != nil {
			b.Fatal(err)
		}
		settle += time.Since(t)
	}
	b.ReportMetric(float64(claim.Microseconds())/float64(b.N), "claim-µs/dial")
	b.ReportMetric(float64(settle.Microseconds())/float64(b.N), "settle-µs/dial")
}

// A case held by a full quota cell is claimed by neither the dialer nor an
// interviewer, says why, and is let go when the hold is lifted.
func TestQuotaHoldsClaims(t *testing.T) {
	db, camp := keypadCampaign(t, 2)
	ctx := t.Context()
	mustExec(t, db, `UPDATE contact SET attrs = '{"segment": "business"}' WHERE phone_e164 = '+12025560000'`)
	n, err := db.QuotaHolds(ctx, camp, func(contact map[string]string) string {
		if contact["segment"] == "business" {
			return "business"
		}
		return ""
	})
	if err != nil || n != 1 {
		t.Fatalf("held %d (%v), want 1", n, err)
	}
	jobs, err := db.ClaimDials(ctx, camp, "dialer:a", 2, monday)
	if err != nil || len(jobs) != 1 || jobs[0].Phone != "+12025560001" {
		t.Fatalf("claimed %+v (%v), want only the case not held", jobs, err)
	}
	var held survey.CaseID
	if err := db.Pool().QueryRow(ctx, `SELECT sc.id FROM survey_case sc JOIN contact ct ON ct.id = sc.contact_id WHERE ct.phone_e164 = '+12025560000'`).Scan(&held); err != nil {
		t.Fatal(err)
	}
	c, err := db.Case(ctx, held)
	if err != nil || c.QuotaHold != "business" {
		t.Fatalf("case %+v %v", c, err)
	}
	if n, err := db.QuotaHolds(ctx, camp, func(map[string]string) string { return "" }); err != nil || n != 1 {
		t.Fatalf("let go %d (%v)", n, err)
	}
	if jobs, err := db.ClaimDials(ctx, camp, "dialer:a", 2, monday); err != nil || len(jobs) != 1 || jobs[0].Case != held {
		t.Fatalf("after the hold: %+v %v", jobs, err)
	}
}

// A contact's numbers are stored in order; going on with the next settles
// the one called and makes the next the one every claim calls; each
// attempt keeps the number it called.
func TestNextNumber(t *testing.T) {
	db, camp := keypadCampaign(t, 0)
	ctx := t.Context()
	rows := []survey.SampleRow{{Line: 2, Phone: "+12025557000", TZ: "America/New_York", Attrs: map[string]string{},
		More: []survey.Number{{Phone: "+12025557001", Label: "mobile"}, {Phone: "+12025557002", Label: "work"}}}}
	if _, _, err := db.ImportSample(ctx, camp, rows, "admin"); err != nil {
		t.Fatal(err)
	}
	mustExec(t, db, `UPDATE survey_case SET next_attempt_at = '2000-01-01'`)
	jobs, err := db.ClaimDials(ctx, camp, "dialer:a", 1, monday)
	if err != nil || len(jobs) != 1 || jobs[0].Phone != "+12025557000" {
		t.Fatalf("first claim %+v %v", jobs, err)
	}
	next := func(c survey.Case) (survey.Outcome, error) {
		n, ok := c.NextNumber()
		if !ok {
			t.Fatalf("case %+v has no next number", c)
		}
		return survey.Outcome{AttemptCode: survey.CodeNonWorking, Status: survey.CaseOpen, NextAttemptAt: monday, NextNumber: n.Phone}, nil
	}
	if _, err := db.SettleDial(ctx, jobs[0], survey.CallFacts{SIPStatus: 404, EndedAt: monday}, next, monday); err != nil {
		t.Fatal(err)
	}
	jobs, err = db.ClaimDials(ctx, camp, "dialer:a", 1, monday)
	if err != nil || len(jobs) != 1 || jobs[0].Phone != "+12025557001" {
		t.Fatalf("second claim %+v %v: want the mobile", jobs, err)
	}
	c, err := db.Case(ctx, jobs[0].Case)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Numbers) != 3 || c.Numbers[0].SettledAs != survey.CodeNonWorking || c.Numbers[0].SettledAt.IsZero() ||
		c.Numbers[1].Label != "mobile" || c.Numbers[1].SettledAs != "" || c.Contact.Phone != "+12025557001" {
		t.Errorf("numbers %+v, calling %s", c.Numbers, c.Contact.Phone)
	}
	if len(c.History) != 2 || c.History[0].Phone != "+12025557000" || c.History[1].Phone != "+12025557001" {
		t.Errorf("history %+v: each attempt keeps its number", c.History)
	}
}
