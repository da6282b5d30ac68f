// Tests of the CATI case store: claims under concurrency, calling windows
// across time zones and DST, claim order, the desk's life, supervisors'
// actions with their audit trail, the floor, and the live feed.

package sql_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
	"github.com/canvass/canvass/testdata"
	"github.com/google/go-cmp/cmp"
)

// caseFixture is a running CATI campaign over the customer study, open
// 09:00–21:00 local every day, with interviewers assigned.
type caseFixture struct {
	db       *sql.DB
	campaign survey.CampaignID
	users    []survey.UserID
	names    []string
	phones   int
}

func newCaseFixture(t *testing.T, interviewers int) *caseFixture {
	t.Helper()
	db := sqltest.New(t)
	ctx := t.Context()
	src, err := testdata.Questionnaires.ReadFile("questionnaires/customer-study.yaml")
	if err != nil {
		t.Fatal(err)
	}
	putQuestionnaire(t, db, "customer-study", string(src))
	f := &caseFixture{db: db}
	for i := range interviewers {
		name := "iv" + string(rune('a'+i))
		if err := db.AddUser(ctx, name, survey.RoleInterviewer, []byte("x")); err != nil {
			t.Fatal(err)
		}
		u, err := db.User(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		// At the console: a signed-out interviewer gets no case.
		if _, err := db.SetPresence(ctx, u.ID, survey.MoveSignIn, "", monday); err != nil {
			t.Fatal(err)
		}
		f.users = append(f.users, u.ID)
		f.names = append(f.names, name)
	}
	var ws []survey.Window
	for d := range 7 {
		ws = append(ws, survey.Window{Dow: d, Opens: 9 * 60, Closes: 21 * 60})
	}
	f.campaign, err = db.CreateCampaign(ctx, survey.Campaign{Name: "study", Questionnaire: "customer-study", Mode: "cati",
		Status: "running", MaxAttempts: 3, Windows: ws, Interviewers: f.users}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// add imports one contact per zone; priorities optional.
func (f *caseFixture) add(t *testing.T, zones ...string) {
	t.Helper()
	var rows []survey.SampleRow
	for i, z := range zones {
		f.phones++
		rows = append(rows, survey.SampleRow{Line: i + 2, Phone: fmt.Sprintf("+1202555%04d", f.phones), TZ: z, Attrs: map[string]string{"first_name": "P" + z}})
	}
	if _, _, err := f.db.ImportSample(t.Context(), f.campaign, rows, "admin"); err != nil {
		t.Fatal(err)
	}
	// Due since long before the tests' clocks.
	mustExec(t, f.db, `UPDATE survey_case SET next_attempt_at = '2000-01-01' WHERE status = 'open'`)
}

// monday is a Monday at 15:00 UTC: 10:00 in New York, 07:00 in Los Angeles.
var monday = time.Date(2026, 1, 12, 15, 0, 0, 0, time.UTC)

func TestClaimConcurrentNeverShares(t *testing.T) {
	const n = 8
	f := newCaseFixture(t, n)
	zones := make([]string, n/2) // fewer cases than interviewers
	for i := range zones {
		zones[i] = "America/New_York"
	}
	f.add(t, zones...)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		got   = map[survey.CaseID]survey.UserID{}
		empty int
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			d, err := f.db.ClaimNext(context.Background(), f.users[i], f.names[i], monday)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, survey.NotFound):
				empty++
			case err != nil:
				t.Errorf("claim: %v", err)
			default:
				if other, dup := got[d.CaseID]; dup {
					t.Errorf("case %d claimed by users %d and %d", d.CaseID, other, f.users[i])
				}
				got[d.CaseID] = f.users[i]
			}
		})
	}
	close(start)
	wg.Wait()
	if len(got) != n/2 || empty != n/2 {
		t.Fatalf("%d cases claimed, %d claims found nothing; want %d and %d", len(got), empty, n/2, n/2)
	}
}

func TestClaimCallingWindowAcrossZonesAndDST(t *testing.T) {
	tests := []struct {
		name string
		tz   string
		now  time.Time
		want bool
	}{
		{"new york 10:00", "America/New_York", monday, true},
		{"los angeles 07:00", "America/Los_Angeles", monday, false},
		{"london 15:00", "Europe/London", monday, true},
		{"sydney 02:00", "Australia/Sydney", monday, false},
		{"new york 20:59", "America/New_York", time.Date(2026, 1, 13, 1, 59, 0, 0, time.UTC), true},
		{"new york 21:00 closes", "America/New_York", time.Date(2026, 1, 13, 2, 0, 0, 0, time.UTC), false},
		// 13:30 UTC is 08:30 EST the Saturday before the spring change…
		{"before DST 08:30 EST", "America/New_York", time.Date(2026, 3, 7, 13, 30, 0, 0, time.UTC), false},
		// …and 09:30 EDT the Monday after.
		{"after DST 09:30 EDT", "America/New_York", time.Date(2026, 3, 9, 13, 30, 0, 0, time.UTC), true},
		// London changes later: 08:30 GMT on 2026-03-28, 09:30 BST on 03-30.
		{"london before DST", "Europe/London", time.Date(2026, 3, 28, 8, 30, 0, 0, time.UTC), false},
		{"london after DST", "Europe/London", time.Date(2026, 3, 30, 8, 30, 0, 0, time.UTC), true},
		// Sydney ends DST on 2026-04-05: 22:30 UTC is 09:30 AEDT on 04-04, 08:30 AEST on 04-06.
		{"sydney in DST", "Australia/Sydney", time.Date(2026, 4, 3, 22, 30, 0, 0, time.UTC), true},
		{"sydney after DST", "Australia/Sydney", time.Date(2026, 4, 5, 22, 30, 0, 0, time.UTC), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newCaseFixture(t, 1)
			f.add(t, tt.tz)
			_, err := f.db.ClaimNext(t.Context(), f.users[0], f.names[0], tt.now)
			if got := err == nil; got != tt.want {
				t.Fatalf("claimable at %s in %s = %v (err %v), want %v", tt.now.In(mustZone(t, tt.tz)), tt.tz, got, err, tt.want)
			}
		})
	}
}

func mustZone(t *testing.T, tz string) *time.Location {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestClaimOrder(t *testing.T) {
	f := newCaseFixture(t, 1)
	ctx := t.Context()
	// 1: New York, 2: Los Angeles (window closes 3 h later), 3: LA with
	// priority, 4: New York with a due appointment.
	f.add(t, "America/New_York", "America/Los_Angeles", "America/Los_Angeles", "America/New_York")
	var ids []survey.CaseID
	rows, err := f.db.Pool().Query(ctx, `SELECT id FROM survey_case ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id survey.CaseID
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	at := time.Date(2026, 1, 12, 18, 0, 0, 0, time.UTC) // 13:00 NY, 10:00 LA
	mustExec(t, f.db, `UPDATE survey_case SET priority = 5 WHERE id = $1`, ids[2])
	mustExec(t, f.db, `UPDATE survey_case SET status = 'appointment' WHERE id = $1`, ids[3])
	mustExec(t, f.db, `INSERT INTO appointment (case_id, at) VALUES ($1, $2)`, ids[3], at.Add(-time.Minute))
	want := []survey.CaseID{ids[3], ids[2], ids[0], ids[1]}
	for i, w := range want {
		d, err := f.db.ClaimNext(ctx, f.users[0], f.names[0], at)
		if err != nil {
			t.Fatalf("claim %d: %v", i, err)
		}
		if d.CaseID != w {
			t.Fatalf("claim %d got case %d, want %d (order %v)", i, d.CaseID, w, want)
		}
		if _, err := f.db.WrapUp(ctx, f.users[0], d.CaseID, survey.Outcome{Status: "closed", FinalCode: "4.10"}, at); err != nil {
			t.Fatal(err)
		}
	}
}

func mustExec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Pool().Exec(t.Context(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestDeskLifeAndSupervisorActions(t *testing.T) {
	f := newCaseFixture(t, 2)
	ctx := t.Context()
	f.add(t, "America/New_York", "America/New_York")
	a, b := f.users[0], f.users[1]
	d, err := f.db.ClaimNext(ctx, a, f.names[0], monday)
	if err != nil {
		t.Fatal(err)
	}
	caseID := d.CaseID
	// Claiming again returns the same desk: nothing new is claimed.
	if again, err := f.db.ClaimNext(ctx, a, f.names[0], monday); err != nil || again.CaseID != caseID {
		t.Fatalf("second claim: %+v, %v", again, err)
	}
	// b cannot dial a's case (a forged case id).
	if _, err := f.db.StartDial(ctx, b, caseID, monday); !errors.Is(err, survey.Conflict) {
		t.Fatalf("dial someone else's case: %v, want ErrConflict", err)
	}
	if d, err = f.db.StartDial(ctx, a, caseID, monday); err != nil || d.State != survey.DeskDialing || d.AttemptID == 0 {
		t.Fatalf("dial: %+v, %v", d, err)
	}
	v, err := f.db.Questionnaire(ctx, "customer-study", 0)
	if err != nil {
		t.Fatal(err)
	}
	d, err = f.db.Connect(ctx, a, caseID, survey.InterviewRecord{Questionnaire: v.ID, Version: v.Version, Language: "en"}, monday)
	if err != nil || d.State != survey.DeskInterviewing || d.InterviewID == 0 {
		t.Fatalf("connect: %+v, %v", d, err)
	}
	if err := f.db.SaveAnswer(ctx, survey.InterviewID(d.InterviewID), survey.Answer{Question: "main_user", Value: true}); err != nil {
		t.Fatal(err)
	}
	// The supervisor hands the case, mid-interview, to b.
	if err := f.db.Reassign(ctx, "sup", caseID, b, f.names[1], monday); err != nil {
		t.Fatal(err)
	}
	if da, _ := f.db.Desk(ctx, a); da.State != survey.DeskIdle {
		t.Fatalf("a's desk after reassign: %+v", da)
	}
	db2, _ := f.db.Desk(ctx, b)
	if db2.State != survey.DeskOnCase || db2.CaseID != caseID {
		t.Fatalf("b's desk after reassign: %+v", db2)
	}
	// a's stale screen can no longer wrap it up.
	if _, err := f.db.WrapUp(ctx, a, caseID, survey.Outcome{Status: "closed", FinalCode: "2.11"}, monday); !errors.Is(err, survey.Conflict) {
		t.Fatalf("wrap up a case taken away: %v", err)
	}
	// b calls back and resumes the same interview.
	if _, err := f.db.StartDial(ctx, b, caseID, monday); err != nil {
		t.Fatal(err)
	}
	d, err = f.db.Connect(ctx, b, caseID, survey.InterviewRecord{Questionnaire: v.ID, Version: v.Version, Language: "en"}, monday)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := f.db.Interview(ctx, survey.InterviewID(d.InterviewID))
	if err != nil || len(rec.Answers) != 1 {
		t.Fatalf("resumed interview: %+v, %v", rec, err)
	}
	// Release puts it back in the queue; then the supervisor closes it.
	if err := f.db.Release(ctx, "sup", caseID, monday); err != nil {
		t.Fatal(err)
	}
	if err := f.db.SetDisposition(ctx, "sup", 0, caseID, survey.Outcome{FinalCode: "2.12", FinishInterview: survey.StatusBreakoff, Note: "hung up"}, monday); err != nil {
		t.Fatal(err)
	}
	if err := f.db.SetDisposition(ctx, "sup", 0, caseID, survey.Outcome{FinalCode: "2.11"}, monday); !errors.Is(err, survey.Conflict) {
		t.Fatalf("close a closed case: %v", err)
	}
	log, err := f.db.AuditLog(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range log {
		if e.Actor == "sup" {
			actions = append(actions, e.Action)
		}
	}
	if len(actions) != 3 || actions[0] != "case.disposition" || actions[1] != "case.release" || actions[2] != "case.reassign" {
		t.Fatalf("audit actions %v", actions)
	}
	fl, err := f.db.Floor(ctx, monday)
	if err != nil {
		t.Fatal(err)
	}
	if c := fl.Campaigns[0]; c.Cases != 2 || c.Closed != 1 || c.Refusals != 1 || c.Groups.R != 1 || c.Open != 1 {
		t.Fatalf("floor %+v", c)
	}
}

func TestListenEventsSeesCommits(t *testing.T) {
	db := sqltest.New(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ready := make(chan struct{}, 1)
	got := make(chan int64, 10)
	done := make(chan error, 1)
	go func() {
		done <- db.ListenEvents(ctx, func() { ready <- struct{}{} }, func(id int64) { got <- id })
	}()
	<-ready
	id, err := db.AddEvent(ctx, survey.Event{Kind: "test"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-got:
		if n != id {
			t.Fatalf("notified %d, want %d", n, id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification within 5 s")
	}
	es, err := db.EventsAfter(ctx, id-1, 10)
	if err != nil || len(es) != 1 || es[0].Kind != "test" {
		t.Fatalf("events after: %+v, %v", es, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Events past retention go, but the newest stays, so that LastEventID does
// not fall back and a listener does not re-read ids it has seen.
func TestPruneEvents(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := sqltest.New(t)
	var ids []int64
	for range 4 {
		id, err := db.AddEvent(ctx, survey.Event{Kind: "test"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// The first two are old.
	if _, err := db.Pool().Exec(ctx, `UPDATE event SET at = now() - interval '30 days' WHERE id <= $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	n, err := db.PruneEvents(ctx, time.Now().Add(-7*24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d (%v), want 2", n, err)
	}
	// Everything old, the newest included: the newest stays.
	if _, err := db.Pool().Exec(ctx, `UPDATE event SET at = now() - interval '30 days'`); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PruneEvents(ctx, time.Now()); err != nil || n != 1 {
		t.Fatalf("pruned %d (%v), want 1", n, err)
	}
	if last, err := db.LastEventID(ctx); err != nil || last != ids[3] {
		t.Errorf("last event id %d (%v), want %d", last, err, ids[3])
	}
}

// A release takes a case from a desk; it does not erase the retry delay of
// the last call: a case just marked no answer, retry in 2 h, stays not due.
func TestReleaseKeepsTheRetryDelay(t *testing.T) {
	f := newCaseFixture(t, 1)
	ctx := t.Context()
	f.add(t, "America/New_York")
	a := f.users[0]
	d, err := f.db.ClaimNext(ctx, a, f.names[0], monday)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.StartDial(ctx, a, d.CaseID, monday); err != nil {
		t.Fatal(err)
	}
	retry := monday.Add(2 * time.Hour)
	if _, err := f.db.WrapUp(ctx, a, d.CaseID, survey.Outcome{AttemptCode: "3.13", Status: survey.CaseOpen, NextAttemptAt: retry}, monday); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Release(ctx, "sup", d.CaseID, monday.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var next time.Time
	if err := f.db.Pool().QueryRow(ctx, `SELECT next_attempt_at FROM survey_case WHERE id = $1`, d.CaseID).Scan(&next); err != nil {
		t.Fatal(err)
	}
	if !next.Equal(retry) {
		t.Fatalf("after the release the case is due %s, want %s (the retry delay)", next, retry)
	}
	if _, err := f.db.ClaimNext(ctx, a, f.names[0], monday.Add(time.Hour)); !errors.Is(err, survey.NotFound) {
		t.Fatalf("claim an hour later: %v, want nothing due", err)
	}
	if d2, err := f.db.ClaimNext(ctx, a, f.names[0], retry); err != nil || d2.CaseID != d.CaseID {
		t.Fatalf("claim at the retry time: %+v, %v", d2, err)
	}
}

// The floor tells apart who never signed in, who is ready, who pauses and
// who is on a case; a desk goes back to signed out when its sessions end.
func TestDeskPresence(t *testing.T) {
	f := newCaseFixture(t, 2)
	ctx := t.Context()
	f.add(t, "America/New_York")
	a, b := f.users[0], f.users[1]
	if err := f.db.AddUser(ctx, "ivnew", survey.RoleInterviewer, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.SetPresence(ctx, b, survey.MoveBreak, "lunch", monday.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.ClaimNext(ctx, b, f.names[1], monday.Add(2*time.Minute)); survey.ErrorCodeOf(err) != survey.EConflict ||
		!strings.Contains(survey.ErrorMessage(err), "on a break (lunch)") {
		t.Fatalf("claim on a break: %v", err)
	}
	if _, err := f.db.ClaimNext(ctx, a, f.names[0], monday.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.SetPresence(ctx, a, survey.MoveBreak, "coffee", monday.Add(3*time.Minute)); survey.ErrorCodeOf(err) != survey.EConflict {
		t.Fatalf("break on a case: %v", err)
	}
	fl, err := f.db.Floor(ctx, monday.Add(4*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range fl.Desks {
		got[d.Name] = fmt.Sprintf("%s %s %v", d.State, d.Reason, d.Since.Sub(monday))
	}
	want := map[string]string{f.names[0]: "on_case  2m0s", f.names[1]: "break lunch 1m0s", "ivnew": "signed_out  " + fmt.Sprint(time.Time{}.Sub(monday))}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("floor (-want +got):\n%s", diff)
	}
	// Nobody has a session: b, on a break, is signed out; a keeps the case.
	if _, err := f.db.DeleteDeadSessions(ctx, monday.Add(5*time.Minute), time.Hour); err != nil {
		t.Fatal(err)
	}
	for u, want := range map[survey.UserID]survey.DeskState{a: survey.DeskOnCase, b: survey.DeskSignedOut} {
		if d, err := f.db.Desk(ctx, u); err != nil || d.State != want {
			t.Errorf("desk of %d after the sessions ended: %s, %v; want %s", u, d.State, err, want)
		}
	}
	if _, err := f.db.SetPresence(ctx, b, survey.MoveResume, "", monday.Add(6*time.Minute)); survey.ErrorCodeOf(err) != survey.EConflict {
		t.Fatalf("resume while signed out: %v", err)
	}
}
