package main

// The dialer end to end with real peers: a keypad campaign in a real
// PostgreSQL, the runner, the IVR engine and the embedded SIP endpoint
// dialing through its trunk to a real phone (baresip). The respondent
// answers the first question and hangs up; the dialer calls back, the
// interview resumes at the second question ("we were at question 2 of
// 3"), and completes. A number the phone does not have settles as not
// working from its 404; a number on the do-not-call list and one outside
// its local calling window are never dialed.

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/dialer"
	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/ivr/sipua/baresiptest"
	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

const keypadStudy = `id: callback-study
title: Callback study
modes: [ivr]
languages: [en]
questions:
  - id: nps
    type: nps
    text: {en: "How likely are you to recommend us, from 0 to 10?"}
  - id: csat
    type: scale
    min: 1
    max: 5
    text: {en: "How satisfied were you, from 1 to 5?"}
  - id: resolved
    type: yes_no
    text: {en: "Was your problem solved? Press 1 for yes, 2 for no."}
`

// heardPrompts is a prompt source of short tones that keeps what each
// prompt said.
type heardPrompts struct {
	mu   sync.Mutex
	said []string // id: text
}

func (p *heardPrompts) PCM(ctx context.Context, questionnaire, id, lang, text string) ([]int16, error) {
	p.mu.Lock()
	p.said = append(p.said, id+": "+text)
	p.mu.Unlock()
	pcm := make([]int16, 8*300)
	for i := range pcm {
		pcm[i] = int16(3000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	return pcm, nil
}

func (p *heardPrompts) Said() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.said)
}

type tempRecordings string

func (d tempRecordings) RecordingPath(name string) (string, error) {
	return filepath.Join(string(d), name+".wav"), nil
}

// keypadEnv is a keypad campaign dialed by a runner through the SIP
// endpoint's trunk to a phone.
type keypadEnv struct {
	db      *sql.DB
	prompts *heardPrompts
	phone   *baresiptest.Phone
	camp    survey.CampaignID
	cases   map[string]survey.CaseID // by number
}

func startKeypadCampaign(t *testing.T, numbers []string, tz map[string]string) *keypadEnv {
	return startKeypadCampaignWith(t, numbers, tz, survey.Dialing{CallsPerSecond: 20, MaxLines: 4, RingSeconds: 15})
}

func startKeypadCampaignWith(t *testing.T, numbers []string, tz map[string]string, dialing survey.Dialing) *keypadEnv {
	t.Helper()
	ctx := t.Context()
	db := sqltest.New(t)
	q, err := survey.Parse([]byte(keypadStudy))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.PutQuestionnaire(ctx, q.Version([]byte(keypadStudy))); err != nil {
		t.Fatal(err)
	}
	// Open an hour either side of now, every day, in each respondent's
	// own time.
	h := time.Now().UTC().Hour()
	var ws survey.Windows
	for d := range 7 {
		ws = append(ws, survey.Window{Dow: d, Opens: max(h-1, 0) * 60, Closes: min(h+2, 24) * 60})
	}
	settings, _ := json.Marshal(survey.CampaignSettings{RetrySeconds: map[survey.DispositionCode]int64{survey.CodeBreakoff: 1},
		Dialing: dialing})
	camp, err := db.CreateCampaign(ctx, survey.Campaign{Name: "callbacks", Questionnaire: "callback-study", Mode: survey.CampaignIVR,
		Status: survey.CampaignRunning, MaxAttempts: 3, Settings: settings, Windows: ws}, "test")
	if err != nil {
		t.Fatal(err)
	}
	var rows []survey.SampleRow
	for i, n := range numbers {
		rows = append(rows, survey.SampleRow{Line: i + 2, Phone: n, TZ: tz[n], Language: "en", Attrs: map[string]string{}})
	}
	if _, _, err := db.ImportSample(ctx, camp, rows, "test"); err != nil {
		t.Fatal(err)
	}
	e := &keypadEnv{db: db, prompts: &heardPrompts{}, camp: camp, cases: map[string]survey.CaseID{}}
	err = db.Tx(ctx, func(tx sql.DBTX) error {
		rows, err := tx.Query(ctx, `SELECT sc.id, ct.phone_e164 FROM survey_case sc JOIN contact ct ON ct.id = sc.contact_id WHERE sc.campaign_id = $1`, camp)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id    survey.CaseID
				phone string
			)
			if err := rows.Scan(&id, &phone); err != nil {
				return err
			}
			e.cases[phone] = id
		}
		return rows.Err()
	})
	if err != nil || len(e.cases) != len(numbers) {
		t.Fatalf("cases %v: %v", e.cases, err)
	}
	return e
}

func TestKeypadCampaignDialsResumesAndObeysTheRules(t *testing.T) {
	const (
		answers = "+12125550100"
		missing = "+12125550199" // the phone has no such user: 404
		listed  = "+12125550102" // on the do-not-call list
		asleep  = "+12125550103" // ten hours away from the window
	)
	e := startKeypadCampaign(t, []string{answers, missing, listed, asleep}, map[string]string{asleep: "Pacific/Kiritimati"})
	ctx := t.Context()
	if _, err := e.db.AddDNC(ctx, []survey.DNCEntry{{Phone: listed, AddedAt: time.Now(), AddedBy: "test", Source: survey.DNCAPI}}); err != nil {
		t.Fatal(err)
	}
	e.phone = baresiptest.Start(t, baresiptest.Options{Name: "keypad-respondent", User: answers, AutoAnswer: true,
		Say: make([]int16, 8000*120)})

	e.run(t, e.phone.Addr(), nil)

	// First call: nps 9, then the respondent hangs up in the middle of csat.
	e.phone.WaitEstablished(20 * time.Second)
	e.phone.TypeAfter(400*time.Millisecond, "9")
	iv := waitInterview(t, e.db, e.cases[answers], func(r survey.InterviewRecord) bool { return len(r.Answers) == 1 })
	e.phone.Type("b")
	// The case goes back to the queue with its interview kept, then the
	// dialer calls again and the interview resumes at question 2 of 3.
	if !e.phone.Printed("Call established", 2, 30*time.Second) {
		t.Fatalf("the dialer did not call back:\n%s", e.phone.Output())
	}
	e.phone.TypeAfter(1500*time.Millisecond, "4")
	waitInterview(t, e.db, e.cases[answers], func(r survey.InterviewRecord) bool { return len(r.Answers) == 2 })
	e.phone.Type("1")
	done := waitInterview(t, e.db, e.cases[answers], func(r survey.InterviewRecord) bool { return r.Status == survey.StatusComplete })
	if done.ID != iv.ID {
		t.Errorf("the call back started interview %d; want %d resumed", done.ID, iv.ID)
	}
	got := map[string]any{}
	for _, a := range done.Answers {
		got[a.Question] = a.Value
	}
	if got["nps"] != int64(9) || got["csat"] != int64(4) || got["resolved"] != true {
		t.Errorf("answers %v, want nps 9, csat 4, resolved true", got)
	}
	if !slices.ContainsFunc(e.prompts.Said(), func(s string) bool {
		return strings.HasPrefix(s, "resume: ") && strings.Contains(s, "question 2 of 3")
	}) {
		t.Errorf("the call back did not say where the interview stood; prompts: %q", e.prompts.Said())
	}

	c := waitCase(t, e.db, e.cases[answers], func(c survey.Case) bool { return c.Status == survey.CaseClosed })
	if c.FinalDisposition != survey.CodeComplete || len(c.History) != 2 ||
		c.History[0].Disposition != survey.CodeBreakoff || c.History[1].Disposition != survey.CodeComplete {
		t.Errorf("case %+v, want closed 1.1 after a 2.12 and a 1.1 attempt", c)
	}
	if c.History[0].SIPStatus != 200 || c.History[0].AnsweredAt == nil || c.History[0].HungUpBy != "respondent" {
		t.Errorf("first attempt %+v: want answered (200) and hung up by the respondent", c.History[0])
	}

	m := waitCase(t, e.db, e.cases[missing], func(c survey.Case) bool { return c.Status == survey.CaseClosed })
	if len(m.History) != 1 || m.History[0].SIPStatus != 404 || m.History[0].Disposition != survey.CodeNonWorking ||
		m.FinalDisposition != survey.CodeNonWorking {
		t.Errorf("case of a missing number %+v: want closed as non-working after one 404", m)
	}
	for _, n := range []string{listed, asleep} {
		c, err := e.db.Case(ctx, e.cases[n])
		if err != nil {
			t.Fatal(err)
		}
		if len(c.History) != 0 || c.Status != survey.CaseOpen {
			t.Errorf("case of %s was dialed: %+v", n, c)
		}
	}
}

// run dials the campaign through a SIP endpoint whose trunk is the phone at
// trunk; amd, when set, is the endpoint's detector.
func (e *keypadEnv) run(t *testing.T, trunk string, amd *media.AMDOptions) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	iopts := ivr.DefaultOptions()
	iopts.InitialTimeout, iopts.InterDigitTimeout, iopts.ScaleInterDigitTimeout = 3*time.Second, 700*time.Millisecond, 700*time.Millisecond
	engine := ivr.New(iopts, e.db, e.db, log, nil)
	sopts := sipua.DefaultOptions()
	sopts.Addr, sopts.RTPPorts, sopts.RTPTimeout = "127.0.0.1:0", "0", 10*time.Second
	sopts.Trunk.URI = "sip:" + trunk
	if amd != nil {
		sopts.AMD = *amd
	}
	srv, err := sipua.New(sopts, engine, e.prompts, tempRecordings(t.TempDir()), log)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = srv.Run(runCtx) }()
	dopts := dialer.DefaultOptions()
	dopts.Tick = 50 * time.Millisecond
	runner := dialer.NewRunner(e.db, keypadCalls{engine: engine, dialer: srv}, dopts, nil, log)
	go func() { defer wg.Done(); _ = runner.Run(runCtx) }()
	t.Cleanup(func() { stop(); wg.Wait() })
}

// A campaign that detects answering machines leaves its message on one
// (a greeting that goes on: app_amd's LONGGREETING) and hangs up; the
// attempt keeps the verdict and the case is tried again later as 3.14.
// (A person's short "hello" is told apart by media.AMD's own tests.)
func TestKeypadCampaignLeavesAMessageOnAMachine(t *testing.T) {
	const machine = "+12125550100"
	e := startKeypadCampaignWith(t, []string{machine}, nil, survey.Dialing{CallsPerSecond: 20, MaxLines: 4,
		AMD: survey.AMDMessage, MachineMessage: "This is Canvass Research calling about your recent visit. To opt out call 0800 000 000."})
	// The machine: a greeting of several seconds of speech-like tone.
	e.phone = baresiptest.Start(t, baresiptest.Options{Name: "machine", User: machine, AutoAnswer: true,
		Say: baresiptest.Sine(700, 60, 8000)})
	e.run(t, e.phone.Addr(), nil)
	c := waitCase(t, e.db, e.cases[machine], func(c survey.Case) bool { return len(c.History) == 1 && c.History[0].Disposition != "" })
	if c.Status != survey.CaseOpen || c.History[0].Disposition != survey.CodeAnsweringMachine || c.InterviewID != 0 {
		t.Errorf("case after a machine %+v: want open again, its attempt 3.14, no interview", c)
	}
	var amd, cause string
	if err := e.db.Pool().QueryRow(t.Context(), `SELECT amd_result, amd_cause FROM attempt WHERE case_id = $1`, e.cases[machine]).Scan(&amd, &cause); err != nil {
		t.Fatal(err)
	}
	if amd != "machine" || cause == "" {
		t.Errorf("attempt keeps AMD %q (%q), want machine with its cause", amd, cause)
	}
	if !slices.ContainsFunc(e.prompts.Said(), func(s string) bool { return strings.HasPrefix(s, "machine_message: This is Canvass") }) {
		t.Errorf("the message was not left; prompts: %q", e.prompts.Said())
	}
}

// tWriter logs through t.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// waitInterview waits until the case's interview satisfies ok.
func waitInterview(t *testing.T, db *sql.DB, id survey.CaseID, ok func(survey.InterviewRecord) bool) survey.InterviewRecord {
	t.Helper()
	var last survey.InterviewRecord
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		c, err := db.Case(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if c.InterviewID == 0 {
			continue
		}
		if last, err = db.Interview(t.Context(), c.InterviewID); err != nil {
			t.Fatal(err)
		}
		if ok(last) {
			return last
		}
	}
	t.Fatalf("case %d: interview never got there: %+v", id, last)
	return last
}

// waitCase waits until the case satisfies ok.
func waitCase(t *testing.T, db *sql.DB, id survey.CaseID, ok func(survey.Case) bool) survey.Case {
	t.Helper()
	var c survey.Case
	for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var err error
		if c, err = db.Case(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		if ok(c) {
			return c
		}
	}
	t.Fatalf("case %d never got there: %+v", id, c)
	return c
}

// A contact with several numbers: the first is not a number the phone has
// (404: settled as not working), so the dialer goes on at once with the
// next, which answers and gets the survey.
func TestKeypadCampaignTriesTheNextNumber(t *testing.T) {
	e := startKeypadCampaignWith(t, nil, nil, survey.Dialing{CallsPerSecond: 20, MaxLines: 4})
	ctx := t.Context()
	row := survey.SampleRow{Line: 2, Phone: "+12125550199", Language: "en", Attrs: map[string]string{},
		More: []survey.Number{{Phone: "+12125550100", Label: "mobile"}}}
	if _, _, err := e.db.ImportSample(ctx, e.camp, []survey.SampleRow{row}, "test"); err != nil {
		t.Fatal(err)
	}
	var id survey.CaseID
	if err := e.db.Pool().QueryRow(ctx, `SELECT id FROM survey_case WHERE campaign_id = $1`, e.camp).Scan(&id); err != nil {
		t.Fatal(err)
	}
	e.phone = baresiptest.Start(t, baresiptest.Options{Name: "mobile", User: "+12125550100", AutoAnswer: true, Say: make([]int16, 8000*60)})
	e.run(t, e.phone.Addr(), nil)
	e.phone.WaitEstablished(20 * time.Second)
	e.phone.Type("b") // answered; the respondent hangs up at once
	c := waitCase(t, e.db, id, func(c survey.Case) bool { return len(c.History) == 2 && c.History[1].Disposition != "" })
	if c.History[0].Phone != "+12125550199" || c.History[0].SIPStatus != 404 || c.History[0].Disposition != survey.CodeNonWorking ||
		c.History[1].Phone != "+12125550100" || c.History[1].SIPStatus != 200 {
		t.Errorf("history %+v: want a 404 on the first number, then the mobile answered", c.History)
	}
	if c.Contact.Phone != "+12125550100" || len(c.Numbers) != 2 || c.Numbers[0].SettledAs != survey.CodeNonWorking || c.Status == survey.CaseClosed {
		t.Errorf("case %+v: want it on the mobile, the first number settled, still open", c)
	}
}
