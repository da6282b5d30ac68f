package sql_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// Survey requests: a number on a do-not-call list is skipped, then the
// draw decides (the share of the agent, else the touchpoint, is kept with
// the request); concurrent requests for one number queue exactly one
// survey, the others skipped for fatigue; an Asterisk transfer counts for
// fatigue too; and a questionnaire no running keypad campaign asks is
// refused, naming what to do.
func TestDecideRequest(t *testing.T) {
	db, camp := keypadCampaign(t, 0)
	ctx := t.Context()
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	rules := survey.RequestRules{Share: 1, Touchpoints: map[string]float64{"billing": 0.25}, Agents: map[string]float64{"bob": 0.5}, FatigueDays: 30}
	req := func(phone string, c survey.Context) survey.SurveyRequest {
		return survey.SurveyRequest{Source: survey.RequestAPI, Phone: phone, Questionnaire: "post-call", Language: "en", Context: c}
	}
	always := func(float64) bool { return true }

	if _, err := db.AddDNC(ctx, []survey.DNCEntry{{Phone: "+12125550111", AddedAt: now, AddedBy: "t", Source: survey.DNCAPI}}); err != nil {
		t.Fatal(err)
	}
	d, err := db.DecideRequest(ctx, req("+12125550111", survey.Context{}), rules, always, now)
	if err != nil || d.Decision != survey.RequestSkipped || d.Reason != survey.SkipDNC || d.DNC == nil || d.Case != 0 {
		t.Errorf("listed number: %+v %v", d, err)
	}

	var drawn []float64
	never := func(s float64) bool { drawn = append(drawn, s); return false }
	d, err = db.DecideRequest(ctx, req("+12125550112", survey.Context{Touchpoint: "billing", Agent: "bob"}), rules, never, now)
	if err != nil || d.Decision != survey.RequestSkipped || d.Reason != survey.SkipSampledOut || d.Share != 0.5 || len(drawn) != 1 {
		t.Errorf("sampled out: %+v %v (drawn at %v); want skipped at bob's share 0.5", d, err, drawn)
	}
	d, err = db.DecideRequest(ctx, req("+12125550112", survey.Context{Touchpoint: "billing"}), rules, always, now)
	if err != nil || d.Decision != survey.RequestQueued || d.Share != 0.25 || d.Campaign != camp || d.CallAfter == nil || !d.CallAfter.Equal(now) {
		t.Errorf("drawn: %+v %v; want queued at billing's share, due now (a skipped request is no survey for fatigue)", d, err)
	}

	const n = 8
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got = map[string]int{}
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := db.DecideRequest(ctx, req("+12125550113", survey.Context{}), rules, always, now)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got[d.Decision+"/"+d.Reason]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if got["queued/"] != 1 || got["skipped/fatigue"] != n-1 {
		t.Errorf("%d concurrent requests for one number: %v; want one queued, the rest skipped for fatigue", n, got)
	}
	if d, err := db.DecideRequest(ctx, req("+12125550113", survey.Context{}), rules, always, now.Add(31*24*time.Hour)); err != nil || d.Decision != survey.RequestQueued {
		t.Errorf("after the fatigue period: %+v %v", d, err)
	}

	ari := survey.SurveyRequest{Source: survey.RequestARI, Phone: "+12125550114", Questionnaire: "post-call"}
	if d, err := db.DecideRequest(ctx, ari, rules, always, now); err != nil || d.Decision != survey.RequestSurveyed || d.Case != 0 {
		t.Errorf("transferred call: %+v %v; want surveyed now, no case", d, err)
	}
	if d, err := db.DecideRequest(ctx, req("+12125550114", survey.Context{}), rules, always, now.Add(time.Hour)); err != nil || d.Reason != survey.SkipFatigue {
		t.Errorf("a request after a transferred call was surveyed: %+v %v; want skipped for fatigue", d, err)
	}

	bad := req("+12125550115", survey.Context{})
	bad.Questionnaire = "nothing-asks-this"
	if _, err := db.DecideRequest(ctx, bad, rules, always, now); survey.ErrorCodeOf(err) != survey.EConflict {
		t.Errorf("no keypad campaign: %v, want EConflict", err)
	}
}

// A transferred call is decided in one statement (with fatigue, behind the
// number's lock in the same batch): many calls at once from one number
// survey exactly one, the rest skipped for fatigue; a listed number is
// skipped with its listing; without fatigue, calls from one number are
// each surveyed.
func TestDecideRequestARI(t *testing.T) {
	db, _ := keypadCampaign(t, 0)
	ctx := t.Context()
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	rules := survey.RequestRules{Share: 1, FatigueDays: 30}
	always := func(float64) bool { return true }
	call := func(phone string) survey.SurveyRequest {
		return survey.SurveyRequest{Source: survey.RequestARI, Phone: phone, Questionnaire: "post-call", Language: "en",
			RequestedBy: "asterisk"}
	}

	// A round is over in milliseconds: without the lock, rounds overlap
	// decisions within one statement's snapshot now and then; with it,
	// never.
	const rounds, n = 30, 16
	for i := range rounds {
		phone := fmt.Sprintf("+1212555%04d", 2000+i)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			got  = map[string]int{}
			last []time.Time
		)
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				d, err := db.DecideRequest(ctx, call(phone), rules, always, now)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				got[d.Decision+"/"+d.Reason]++
				if d.LastSurveyed != nil {
					last = append(last, *d.LastSurveyed)
				}
			})
		}
		close(start)
		wg.Wait()
		if got["surveyed/"] != 1 || got["skipped/fatigue"] != n-1 {
			t.Errorf("%d concurrent calls from %s: %v; want one surveyed, the rest skipped for fatigue", n, phone, got)
		}
		for _, at := range last {
			if !at.Equal(now) {
				t.Errorf("skipped for fatigue with last survey %v; want %v", at, now)
			}
		}
	}

	if _, err := db.AddDNC(ctx, []survey.DNCEntry{{Phone: "+12125550122", AddedAt: now, AddedBy: "t", Source: survey.DNCAPI, Note: "asked"}}); err != nil {
		t.Fatal(err)
	}
	d, err := db.DecideRequest(ctx, call("+12125550122"), rules, always, now)
	want := survey.DNCEntry{Phone: "+12125550122", AddedAt: now, AddedBy: "t", Source: survey.DNCAPI, Note: "asked"}
	if err != nil || d.Decision != survey.RequestSkipped || d.Reason != survey.SkipDNC || d.Share != 1 || d.DNC == nil || *d.DNC != want {
		t.Errorf("listed number: %+v %v (listing %+v); want skipped at share 1 with %+v", d, err, d.DNC, want)
	}

	never := func(float64) bool { return false }
	if d, err := db.DecideRequest(ctx, call("+12125550123"), survey.RequestRules{Share: 0.1}, never, now); err != nil ||
		d.Decision != survey.RequestSkipped || d.Reason != survey.SkipSampledOut || d.Share != 0.1 {
		t.Errorf("not drawn: %+v %v; want skipped, sampled out at 0.1", d, err)
	}
	for i := range 3 {
		d, err := db.DecideRequest(ctx, call("+12125552000"), survey.RequestRules{Share: 1}, always, now.Add(time.Duration(i)*time.Second))
		if err != nil || d.Decision != survey.RequestSurveyed || d.ID == 0 {
			t.Errorf("call %d without fatigue: %+v %v; want surveyed", i, d, err)
		}
	}
}

// A transferred call's caller waits in silence for the gate: its statement
// has connections of its own, and goes through while every connection of
// the pool is taken by other work.
func TestAdmitCallDoesNotQueueBehindThePool(t *testing.T) {
	db, _ := keypadCampaign(t, 0)
	ctx := t.Context()
	pool := db.Pool()
	for range pool.Stat().MaxConns() {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
	}
	// The deadline only bounds a failure: with the gate on the pool, the
	// call would wait for a connection until it.
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, rules := range []survey.RequestRules{{Share: 1}, {Share: 1, FatigueDays: 30}} {
		d, version, err := db.AdmitCall(actx, survey.SurveyRequest{Source: survey.RequestARI, Phone: "+12125550131", Questionnaire: "post-call"},
			rules, func(float64) bool { return true }, time.Now())
		if err != nil || d.ID == 0 || version != 1 {
			t.Errorf("fatigue %d days, the pool taken: %+v version %d %v; want decided, naming version 1", rules.FatigueDays, d, version, err)
		}
	}
}

// The gate's decision commits asynchronously for its own transaction only:
// in a batch (one implicit transaction) the setting holds for the
// statements after it, and no gate connection keeps it after a decision.
func TestGateCommitIsAsynchronousForItsTransactionOnly(t *testing.T) {
	db, _ := keypadCampaign(t, 0)
	ctx := t.Context()
	c, err := db.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := &pgx.Batch{}
	b.Queue(sql.SQLGateCommit)
	b.Queue(`SELECT current_setting('synchronous_commit')`)
	br := c.SendBatch(ctx, b)
	var in, after string
	_, err = br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&in)
	}
	err = errors.Join(err, br.Close())
	if err == nil {
		err = c.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&after)
	}
	c.Release()
	if err != nil || in != "off" || after != "on" {
		t.Errorf("synchronous_commit in the batch %q, after it %q (%v); want off, then on", in, after, err)
	}

	for _, rules := range []survey.RequestRules{{Share: 1}, {Share: 1, FatigueDays: 30}} {
		if _, _, err := db.AdmitCall(ctx, survey.SurveyRequest{Source: survey.RequestARI, Phone: "+12125550141", Questionnaire: "post-call"},
			rules, func(float64) bool { return true }, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	gate := db.GatePool()
	conns := gate.AcquireAllIdle(ctx)
	if len(conns) == 0 {
		t.Fatal("the gate kept no connection")
	}
	for _, c := range conns {
		var s string
		if err := c.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&s); err != nil || s != "on" {
			t.Errorf("a gate connection after decisions: synchronous_commit %q %v; want on", s, err)
		}
		c.Release()
	}
}
