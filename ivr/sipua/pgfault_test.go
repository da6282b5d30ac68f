// PostgreSQL faults during live calls, over the real endpoint and a real
// PostgreSQL of the test's own: a restart (pg_ctl restart -m fast) costs no
// caller an answer or the call, and an outage longer than an answer's budget
// gets the apology and the right end once the database is back.

package sipua_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
	"github.com/canvass/canvass/testdata"
)

// ownPGEnv is the endpoint over a PostgreSQL server of the test's own.
type ownPGEnv struct {
	server  *sqltest.Server
	db      *sql.DB
	srv     *sipua.Server
	prompts *tonePrompts
	phone   *sipuatest.Phone
}

func startOwnPG(t *testing.T) *ownPGEnv {
	t.Helper()
	server, db := sqltest.NewServer(t, 10)
	src, err := fs.ReadFile(testdata.Questionnaires, "questionnaires/post-call.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.PutQuestionnaire(t.Context(), survey.QuestionnaireVersion{ID: "post-call", Title: "Post-call",
		Languages: []string{"en", "fr"}, Source: src}); err != nil {
		t.Fatal(err)
	}
	log := testLog(t)
	e := &ownPGEnv{server: server, db: db, prompts: &tonePrompts{}}
	engine := ivr.New(fastIVR(), db, db, log, nil)
	opts := testOptions()
	opts.RTPTimeout = 30 * time.Second // the phones keep sending; a starved machine must not hang them up
	if e.srv, err = sipua.New(opts, engine, e.prompts, dirRecordings(t.TempDir()), log); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- e.srv.Run(ctx) }()
	if e.phone, err = sipuatest.NewPhone(sipuatest.PhoneOptions{Log: log.With("side", "phone")}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("Run: %v", err)
		}
		e.phone.Close()
	})
	return e
}

// caller walks one call prompt by prompt, reporting errors rather than
// failing the test, so that many run at once.
type caller struct {
	ctx  context.Context
	call *sipuatest.Call
	last time.Time
}

// prompt waits for the next prompt to start.
func (c *caller) prompt() error {
	o, err := c.call.WaitPrompt(c.ctx, c.last)
	if err != nil {
		return fmt.Errorf("waiting for the prompt after %s: %w", c.last.Format("15:04:05.000"), err)
	}
	c.last = o
	return nil
}

// answer waits for the next prompt and keys an answer during it.
func (c *caller) answer(keys string) error {
	if err := c.prompt(); err != nil {
		return err
	}
	if len(keys) > 1 {
		if err := c.call.SendKeys(c.ctx, keys[:len(keys)-1], 150*time.Millisecond); err != nil {
			return err
		}
		time.Sleep(150 * time.Millisecond) // the pause between two keys of an entry
	}
	c.last = time.Now() // the next prompt may start as the last key does
	_, err := c.call.SendKey(c.ctx, rune(keys[len(keys)-1]))
	return err
}

// fiveAnswers are the keys of a post-call survey answered in full with
// five answers: nps 9, csat 5, ces 7, not resolved, call back.
var fiveAnswers = []string{"9#", "5", "7", "2", "1"}

var fiveValues = map[string]any{"nps": int64(9), "csat": int64(5), "ces": int64(7), "resolved": false, "callback": "yes"}

// interviewsByCall loads every interview with its answers, by SIP Call-ID.
func interviewsByCall(t *testing.T, db *sql.DB) map[string]survey.InterviewRecord {
	t.Helper()
	rs, err := db.Interviews(t.Context(), survey.InterviewFilter{WithAnswers: true})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]survey.InterviewRecord{}
	for _, r := range rs {
		m[r.Context.Extra["sip_call_id"]] = r
	}
	return m
}

// countAnswers is how many answers are stored.
func countAnswers(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.Pool().QueryRow(t.Context(), `SELECT count(*) FROM answer`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls the database until cond holds.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PostgreSQL restarts (pg_ctl restart -m fast) while calls are being set
// up, are at the language menu and are answering: every caller keeps the
// call to its end, hears no apology, and every answer keyed is stored once.
func TestPostgresRestartDuringCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL of its own and places 40 calls")
	}
	e := startOwnPG(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var before time.Time
	if err := e.db.Pool().QueryRow(ctx, `SELECT pg_postmaster_start_time()`).Scan(&before); err != nil {
		t.Fatal(err)
	}

	const calls = 40
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed []error
		ids    = make([]string, calls)
	)
	fail := func(i int, err error) {
		mu.Lock()
		failed = append(failed, fmt.Errorf("call %d: %w", i, err))
		mu.Unlock()
	}
	for i := range calls {
		wg.Go(func() {
			// Calls start over 4 s, so that the restart finds some dialing,
			// some at the language menu and most answering.
			time.Sleep(time.Duration(i) * 100 * time.Millisecond)
			menu := i%2 == 1 // half name no language and hear the menu
			uri := fmt.Sprintf("sip:post-call@%s", e.srv.Addr())
			if !menu {
				uri += ";lang=en"
			}
			call, err := e.phone.Dial(ctx, uri, sipuatest.DialOptions{})
			if err != nil {
				fail(i, err) // a 503 would land here
				return
			}
			defer call.Close()
			ids[i] = call.CallID()
			c := &caller{ctx: ctx, call: call}
			if menu {
				if err := c.prompt(); err != nil { // for English press 1
					fail(i, err)
					return
				}
				if err := c.answer("1"); err != nil {
					fail(i, fmt.Errorf("language menu: %w", err))
					return
				}
			}
			if err := c.prompt(); err != nil { // intro
				fail(i, err)
				return
			}
			for _, keys := range fiveAnswers {
				if err := c.answer(keys); err != nil {
					fail(i, fmt.Errorf("answer %s: %w", keys, err))
					return
				}
			}
			if err := c.prompt(); err != nil { // thanks
				fail(i, err)
				return
			}
			select { // the endpoint hangs up after the thanks
			case <-call.Done():
			case <-ctx.Done():
				fail(i, errors.New("the endpoint did not hang up after the thanks"))
			}
		})
	}

	// Restart once a fifth of the answers are in: later calls are still
	// being set up then, and the others are mid-survey.
	waitFor(t, "the first answers", time.Minute, func() bool { return countAnswers(t, e.db) >= calls })
	restartStart := time.Now()
	e.server.Restart()
	restartEnd := time.Now()
	wg.Wait()
	for _, err := range failed {
		t.Error(err)
	}

	var after time.Time
	if err := e.db.Pool().QueryRow(ctx, `SELECT pg_postmaster_start_time()`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if !after.After(before) {
		t.Fatalf("the server was not restarted: started at %s, then %s", before, after)
	}
	if slices.Contains(e.prompts.Played(), "apology") {
		t.Error("a caller heard the apology")
	}
	byCall := interviewsByCall(t, e.db)
	if len(byCall) != calls {
		t.Errorf("%d interviews stored for %d calls", len(byCall), calls)
	}
	lost, spanning := 0, 0
	for i, id := range ids {
		r, ok := byCall[id]
		if !ok {
			t.Errorf("call %d (%s): no interview", i, id)
			lost += len(fiveAnswers)
			continue
		}
		if r.Status != survey.StatusComplete || r.EndCause != "completed" {
			t.Errorf("call %d: interview %s with cause %s, want complete", i, r.Status, r.EndCause)
		}
		got := map[string]any{}
		for _, a := range r.Answers {
			got[a.Question] = a.Value
		}
		for q, v := range fiveValues {
			if got[q] != v {
				lost++
				t.Errorf("call %d: %s = %v, want %v", i, q, got[q], v)
			}
		}
		if len(r.Answers) != len(fiveValues) {
			t.Errorf("call %d: %d answers stored, want %d", i, len(r.Answers), len(fiveValues))
		}
		if r.StartedAt.Before(restartStart) && r.EndedAt != nil && r.EndedAt.After(restartEnd) {
			spanning++
		}
	}
	t.Logf("restart took %s; %d of %d calls were live across it; %d answers lost",
		restartEnd.Sub(restartStart).Round(time.Millisecond), spanning, calls, lost)
	if spanning == 0 {
		t.Error("no call was live across the restart: the test proved nothing")
	}
}

// PostgreSQL is down for longer than an answer's budget (10 s): the caller
// whose answer could not be stored hears the apology and is hung up; once
// the database is back, that interview is closed at once with what was
// stored (cause answer_not_saved), and one whose caller hung up meanwhile
// with its own cause — neither left for the lost-interview sweep.
func TestPostgresDownPastTheBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL of its own and stops it for 10 s")
	}
	e := startOwnPG(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dial := func() *caller {
		t.Helper()
		call, err := e.phone.Dial(ctx, fmt.Sprintf("sip:post-call@%s;lang=en", e.srv.Addr()), sipuatest.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(call.Close)
		c := &caller{ctx: ctx, call: call}
		if err := c.prompt(); err != nil { // intro
			t.Fatal(err)
		}
		if err := c.answer("9#"); err != nil {
			t.Fatal(err)
		}
		return c
	}
	waiter, leaver := dial(), dial()
	waitFor(t, "both nps answers", time.Minute, func() bool { return countAnswers(t, e.db) == 2 })

	e.server.Stop()
	// Both hear the csat question; one answers it, the other hangs up.
	if err := waiter.answer("5"); err != nil {
		t.Fatal(err)
	}
	if err := leaver.prompt(); err != nil {
		t.Fatal(err)
	}
	if err := leaver.call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select { // after the budget, the apology, then the endpoint hangs up
	case <-waiter.call.Done():
	case <-ctx.Done():
		t.Fatal("the caller whose answer was not stored was not hung up")
	}
	if !slices.Contains(e.prompts.Played(), "apology") {
		t.Errorf("no apology played; prompts: %v", e.prompts.Played())
	}
	e.server.Start()

	closed := func() bool {
		for _, r := range interviewsByCall(t, e.db) {
			if r.Status == survey.StatusInProgress {
				return false
			}
		}
		return true
	}
	waitFor(t, "both interviews closed once the database is back", 30*time.Second, closed)
	byCall := interviewsByCall(t, e.db)
	for _, tc := range []struct {
		name  string
		c     *caller
		cause string
		last  string
	}{
		{"answer not stored", waiter, ivr.CauseUnsaved, "csat"},
		{"hung up meanwhile", leaver, "hangup", "csat"},
	} {
		r := byCall[tc.c.call.CallID()]
		var got []string
		for _, a := range r.Answers {
			got = append(got, a.Question)
		}
		// One answer of four applicable (nps 9 skips why; callback
		// depends on resolved): a break-off.
		if r.Status != survey.StatusBreakoff || r.EndCause != tc.cause || r.LastQuestion != tc.last || !slices.Equal(got, []string{"nps"}) {
			t.Errorf("%s: %s, cause %q, last question %q, answers %v; want breakoff, %q, %q, [nps]",
				tc.name, r.Status, r.EndCause, r.LastQuestion, got, tc.cause, tc.last)
		}
	}
}
