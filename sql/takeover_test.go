package sql_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// lostSoon decides a call lost with its node as the dialer does (a network
// fault: the case due again in 5 minutes), and counts its calls.
func lostSoon(now time.Time, calls *int, mu *sync.Mutex) func(survey.Case, survey.Status) (survey.Outcome, error) {
	return func(c survey.Case, iv survey.Status) (survey.Outcome, error) {
		mu.Lock()
		*calls++
		mu.Unlock()
		if iv == survey.StatusComplete {
			return survey.Outcome{AttemptCode: survey.CodeComplete, Status: survey.CaseClosed, FinalCode: survey.CodeComplete}, nil
		}
		return survey.Outcome{AttemptCode: "3.16", Status: survey.CaseOpen, NextAttemptAt: now.Add(5 * time.Minute)}, nil
	}
}

// silence makes node id's last heartbeat ago old, by the database's clock.
func silence(t *testing.T, db *sql.DB, id survey.NodeID, ago time.Duration) {
	t.Helper()
	mustExec(t, db, `UPDATE node SET seen_at = now() - $2::bigint * interval '1 millisecond' WHERE id = $1`, id, ago.Milliseconds())
}

// TestTakeOverDials: the claims of a node gone silent are taken over by a
// live one: the calls it placed are settled as lost with it (attempt ended
// with a code and a note, the case due by the retry rule, the attempt
// counted), its claim not yet dialed goes back to the queue uncounted, and
// neither can be dialed or settled by the silent node afterwards. A live
// node's claims are never taken, and a silent node takes nothing.
func TestTakeOverDials(t *testing.T) {
	db, camp := keypadCampaign(t, 5)
	ctx := t.Context()
	dead, err := db.RegisterNode(ctx, "dead")
	if err != nil {
		t.Fatal(err)
	}
	live, err := db.RegisterNode(ctx, "live")
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 10 * time.Second
	jobs, err := db.ClaimNodeDials(ctx, camp, "dialer:dead", dead, timeout, 3, monday)
	if err != nil || len(jobs) != 3 {
		t.Fatalf("claim for the dead node: %d jobs, %v", len(jobs), err)
	}
	liveJobs, err := db.ClaimNodeDials(ctx, camp, "dialer:live", live, timeout, 1, monday)
	if err != nil || len(liveJobs) != 1 {
		t.Fatalf("claim for the live node: %d jobs, %v", len(liveJobs), err)
	}
	for _, j := range []survey.DialJob{jobs[0], jobs[1], liveJobs[0]} {
		if err := db.MarkDialing(ctx, j, monday); err != nil {
			t.Fatal(err)
		}
	}
	// Marked again (a retry after a lost reply): still placed.
	if err := db.MarkDialing(ctx, jobs[0], monday.Add(time.Second)); err != nil {
		t.Errorf("mark a placed call again: %v", err)
	}
	var calls int
	var mu sync.Mutex
	decide := lostSoon(monday, &calls, &mu)

	// Not silent long enough: nothing taken.
	silence(t, db, dead, timeout/2)
	if s, r, err := db.TakeOverDials(ctx, live, timeout, decide, monday); err != nil || s+r != 0 {
		t.Fatalf("take over a node silent for half the timeout: %d settled, %d given back, %v; want none", s, r, err)
	}
	// A silent node takes nothing, not even from another silent one.
	silence(t, db, dead, time.Minute)
	silence(t, db, live, time.Minute)
	if s, r, err := db.TakeOverDials(ctx, live, timeout, decide, monday); err != nil || s+r != 0 {
		t.Fatalf("take over by a silent node: %d settled, %d given back, %v; want none", s, r, err)
	}
	if err := db.TouchNode(ctx, live); err != nil {
		t.Fatal(err)
	}
	// A silent node claims nothing.
	if more, err := db.ClaimNodeDials(ctx, camp, "dialer:dead", dead, timeout, 1, monday); err != nil || len(more) != 0 {
		t.Fatalf("claim by the silent node: %d jobs, %v; want none", len(more), err)
	}

	s, r, err := db.TakeOverDials(ctx, live, timeout, decide, monday)
	if err != nil || s != 2 || r != 1 {
		t.Fatalf("take over: %d settled, %d given back, %v; want 2 and 1", s, r, err)
	}
	if calls != 2 {
		t.Errorf("decide ran %d times, want once per placed call (2)", calls)
	}
	for _, j := range jobs[:2] {
		var status, code, note string
		var attempts int
		var next time.Time
		var ended bool
		if err := db.Pool().QueryRow(ctx, `SELECT sc.status, sc.attempts, sc.next_attempt_at, coalesce(a.disposition, ''), a.note, a.ended_at IS NOT NULL
			FROM survey_case sc JOIN attempt a ON a.case_id = sc.id WHERE a.id = $1`, j.Attempt).Scan(&status, &attempts, &next, &code, &note, &ended); err != nil {
			t.Fatal(err)
		}
		if status != "open" || attempts != 1 || !next.Equal(monday.Add(5*time.Minute)) || code != "3.16" || note != sql.NoteNodeLost || !ended {
			t.Errorf("placed call of case %d: case %s, %d attempts, due %s; attempt %q %q ended %v; want open, 1, due in 5m, 3.16 with the node-lost note",
				j.Case, status, attempts, next, code, note, ended)
		}
	}
	undialed := jobs[2]
	var status string
	var attempts, rows int
	if err := db.Pool().QueryRow(ctx, `SELECT status, attempts, (SELECT count(*) FROM attempt WHERE case_id = $1) FROM survey_case WHERE id = $1`,
		undialed.Case).Scan(&status, &attempts, &rows); err != nil {
		t.Fatal(err)
	}
	if status != "open" || attempts != 0 || rows != 0 {
		t.Errorf("undialed claim: case %s with %d attempts and %d attempt rows; want open, 0, 0", status, attempts, rows)
	}
	var events int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM event WHERE kind IN ('dial.taken_over', 'dial.requeued')`).Scan(&events); err != nil || events != 3 {
		t.Errorf("%d takeover events (%v), want 3", events, err)
	}

	// The silent node comes back: it may not place the undialed call nor
	// settle a call taken from it.
	if err := db.MarkDialing(ctx, undialed, monday); !errors.Is(err, sql.ErrTakenOver) {
		t.Errorf("mark a taken-over claim dialing: %v, want ErrTakenOver", err)
	}
	if _, err := db.SettleDial(ctx, jobs[0], survey.CallFacts{SIPStatus: 486, EndedAt: monday}, closeAs(survey.CodeBusy), monday); !errors.Is(err, sql.ErrTakenOver) {
		t.Errorf("settle a taken-over call: %v, want ErrTakenOver", err)
	}
	var code string
	if err := db.Pool().QueryRow(ctx, `SELECT coalesce(disposition, '') FROM attempt WHERE id = $1`, jobs[0].Attempt).Scan(&code); err != nil || code != "3.16" {
		t.Errorf("taken-over attempt after the silent node's settle: %q (%v), want 3.16 kept", code, err)
	}
	// The live node's claim is still its own, and the case given back is
	// claimed again at once (the others are due in 5 minutes).
	if _, err := db.SettleDial(ctx, liveJobs[0], survey.CallFacts{SIPStatus: 486, EndedAt: monday}, closeAs(survey.CodeBusy), monday); err != nil {
		t.Errorf("the live node's settle: %v", err)
	}
	again, err := db.ClaimNodeDials(ctx, camp, "dialer:live", live, timeout, 5, monday)
	if err != nil {
		t.Fatal(err)
	}
	var got []survey.CaseID
	for _, j := range again {
		got = append(got, j.Case)
	}
	if len(again) != 2 || (again[0].Case != undialed.Case && again[1].Case != undialed.Case) {
		t.Errorf("claim after the takeover: cases %v; want the one given back and the one never claimed", got)
	}
}

// TestTakeOverDialsRace: two live nodes take over a dead node's 200 claims
// at once while the dead node (come back) tries to place its 100 undialed
// calls, from the last. Each claim is taken exactly once; each undialed call is either
// placed before the takeover (then settled as lost) or never placed (then
// given back) — never placed after its claim was given back.
func TestTakeOverDialsRace(t *testing.T) {
	const n = 200
	db, camp := keypadCampaign(t, n)
	ctx := t.Context()
	var nodes [3]survey.NodeID
	for i := range nodes {
		id, err := db.RegisterNode(ctx, "node")
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = id
	}
	const timeout = 10 * time.Second
	jobs, err := db.ClaimNodeDials(ctx, camp, "dialer:a", nodes[0], timeout, n, monday)
	if err != nil || len(jobs) != n {
		t.Fatalf("claim: %d jobs, %v", len(jobs), err)
	}
	marked := map[survey.AttemptID]bool{}
	for _, j := range jobs[:n/2] {
		if err := db.MarkDialing(ctx, j, monday); err != nil {
			t.Fatal(err)
		}
		marked[j.Attempt] = true
	}
	silence(t, db, nodes[0], time.Minute)

	var (
		mu       sync.Mutex
		calls    int
		settled  [2]int
		requeued [2]int
		errs     [3]error
		placed   = map[survey.AttemptID]bool{}
		wg       sync.WaitGroup
	)
	for i := range 2 {
		wg.Go(func() {
			settled[i], requeued[i], errs[i] = db.TakeOverDials(ctx, nodes[i+1], timeout, lostSoon(monday, &calls, &mu), monday)
		})
	}
	wg.Go(func() {
		// Once a first page is taken over, from the last case, while the
		// takeovers go on from the first: they meet in the middle.
		for {
			var taken int
			if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM event WHERE kind = 'dial.taken_over'`).Scan(&taken); err != nil {
				errs[2] = err
				return
			}
			if taken > 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		for _, j := range slices.Backward(jobs[n/2:]) {
			err := db.MarkDialing(ctx, j, monday)
			switch {
			case err == nil:
				placed[j.Attempt] = true
			case !errors.Is(err, sql.ErrTakenOver):
				errs[2] = err
				return
			}
		}
	})
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		t.Fatal(err)
	}
	s, r := settled[0]+settled[1], requeued[0]+requeued[1]
	t.Logf("node 2: %d settled, %d given back; node 3: %d settled, %d given back; %d of the racing marks went first",
		settled[0], requeued[0], settled[1], requeued[1], len(placed))
	if want := n/2 + len(placed); s != want || r != n-want {
		t.Errorf("%d settled and %d given back; want %d and %d", s, r, want, n-want)
	}
	for _, j := range jobs {
		var rows, lost, open int
		var status string
		if err := db.Pool().QueryRow(ctx, `SELECT sc.status,
				(SELECT count(*) FROM attempt a WHERE a.case_id = sc.id),
				(SELECT count(*) FROM attempt a WHERE a.case_id = sc.id AND a.note = $2 AND a.ended_at IS NOT NULL),
				(SELECT count(*) FROM attempt a WHERE a.case_id = sc.id AND a.ended_at IS NULL)
			FROM survey_case sc WHERE sc.id = $1`, j.Case, sql.NoteNodeLost).Scan(&status, &rows, &lost, &open); err != nil {
			t.Fatal(err)
		}
		dialed := marked[j.Attempt] || placed[j.Attempt]
		switch {
		case status != "open" || open != 0:
			t.Errorf("case %d: %s with %d open attempts after the takeover; want open, none", j.Case, status, open)
		case dialed && (rows != 1 || lost != 1):
			t.Errorf("case %d, its call placed: %d attempts, %d settled as lost; want 1 and 1", j.Case, rows, lost)
		case !dialed && rows != 0:
			t.Errorf("case %d, its call never placed: %d attempts; want none (given back)", j.Case, rows)
		}
	}
	var events int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM event WHERE kind IN ('dial.taken_over', 'dial.requeued')`).Scan(&events); err != nil || events != n {
		t.Errorf("%d takeover events (%v), want %d: one per claim", events, err, n)
	}
}
