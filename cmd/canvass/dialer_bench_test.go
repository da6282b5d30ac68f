package main

// BenchmarkOriginations measures how many keypad calls a second the dialer
// places through the embedded SIP endpoint to a local answering phone, and
// the database work of each dial (the claim that starts its attempt, the
// settlement that records it and moves its case on), on a real PostgreSQL.
// Each answered call plays the one statement and the phone hangs up when it
// has heard it: the benchmark is the dial, not the interview.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canvass/canvass/dialer"
	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

var benchCPS = 500.0

const benchStudy = `id: hello
title: One statement
modes: [ivr]
languages: [en]
questions:
  - id: hello
    type: statement
    text: {en: "Hello."}
`

// timedStore measures the runner's claims and settlements.
type timedStore struct {
	*sql.DB
	claim, settle atomic.Int64 // ns
	claimed       atomic.Int64
	settled       atomic.Int64
}

func (s *timedStore) ClaimNodeDials(ctx context.Context, id survey.CampaignID, owner string, node survey.NodeID, silent time.Duration, n int, now time.Time) ([]survey.DialJob, error) {
	t := time.Now()
	jobs, err := s.DB.ClaimNodeDials(ctx, id, owner, node, silent, n, now)
	s.claim.Add(int64(time.Since(t)))
	s.claimed.Add(int64(len(jobs)))
	return jobs, err
}

func (s *timedStore) SettleDial(ctx context.Context, job survey.DialJob, f survey.CallFacts, decide func(survey.Case) (survey.Outcome, error), now time.Time) (survey.Outcome, error) {
	t := time.Now()
	o, err := s.DB.SettleDial(ctx, job, f, decide, now)
	s.settle.Add(int64(time.Since(t)))
	s.settled.Add(1)
	return o, err
}

func BenchmarkOriginations(b *testing.B) {
	n := max(b.N, 200) // a second's worth at least, so the ramp-up does not dominate
	ctx := b.Context()
	db := sqltest.New(b)
	q, err := survey.Parse([]byte(benchStudy))
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := db.PutQuestionnaire(ctx, q.Version([]byte(benchStudy))); err != nil {
		b.Fatal(err)
	}
	var ws survey.Windows
	for d := range 7 {
		ws = append(ws, survey.Window{Dow: d, Opens: 0, Closes: 24 * 60})
	}
	settings, _ := json.Marshal(survey.CampaignSettings{Dialing: survey.Dialing{CallsPerSecond: benchCPS, MaxLines: 500}})
	camp, err := db.CreateCampaign(ctx, survey.Campaign{Name: "bench", Questionnaire: "hello", Mode: survey.CampaignIVR,
		Status: survey.CampaignDraft, MaxAttempts: 1, Settings: settings, Windows: ws}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	rows := make([]survey.SampleRow, n)
	for i := range rows {
		rows[i] = survey.SampleRow{Line: i + 2, Phone: fmt.Sprintf("+1212%07d", i), Language: "en", Attrs: map[string]string{}}
	}
	if _, _, err := db.ImportSample(ctx, camp, rows, "bench"); err != nil {
		b.Fatal(err)
	}

	// The answering phone: answers at once, hangs up once the prompt has
	// started playing.
	var answered atomic.Int64
	phone, err := sipuatest.NewPhone(sipuatest.PhoneOptions{OnInvite: func(in *sipuatest.Incoming) {
		c, err := in.Answer(false)
		if err != nil {
			return
		}
		answered.Add(1)
		defer c.Close()
		wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := c.WaitPrompt(wctx, time.Time{}); err == nil {
			_ = c.Hangup(wctx)
		}
		<-c.Done()
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer phone.Close()

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine := ivr.New(ivr.DefaultOptions(), db, db, log, nil)
	sopts := sipua.DefaultOptions()
	sopts.Addr, sopts.RTPPorts, sopts.MaxCalls = "127.0.0.1:0", "0", 2000
	sopts.Trunk.URI = "sip:" + phone.Addr().String()
	srv, err := sipua.New(sopts, engine, &heardPrompts{}, tempRecordings(b.TempDir()), log)
	if err != nil {
		b.Fatal(err)
	}
	store := &timedStore{DB: db}
	dopts := dialer.DefaultOptions()
	dopts.Tick = 10 * time.Millisecond
	runner := dialer.NewRunner(store, keypadCalls{engine: engine, dialer: srv}, dopts, nil, log)
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = srv.Run(runCtx) }()
	go func() { defer wg.Done(); _ = runner.Run(runCtx) }()
	defer func() { stop(); wg.Wait() }()

	b.ResetTimer()
	start := time.Now()
	if err := db.SetCampaignStatus(ctx, camp, survey.CampaignRunning, "bench"); err != nil {
		b.Fatal(err)
	}
	for store.settled.Load() < int64(n) {
		if time.Since(start) > 5*time.Minute {
			b.Fatalf("%d of %d dials settled in 5 minutes", store.settled.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if a := answered.Load(); a != int64(n) {
		b.Errorf("%d of %d calls answered", a, n)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "dials/s")
	b.ReportMetric(float64(store.claim.Load())/float64(max(store.claimed.Load(), 1))/1e3, "claim-µs/dial")
	b.ReportMetric(float64(store.settle.Load())/float64(max(store.settled.Load(), 1))/1e3, "settle-µs/dial")
	b.ReportMetric(0, "ns/op")
}
