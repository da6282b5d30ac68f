package asterisk_test

// The setup benchmark: how long a caller who enters Stasis(canvass,…) waits
// for Canvass to answer (StasisStart sent → POST /channels/{id}/answer taking
// effect) while N calls are up. Calls start at -ari-rate a second and stay
// up, each running the post-call survey (nobody presses a key, so prompts
// and reprompts keep the REST traffic going). The stand-in behaves as
// Asterisk 22's HTTP server does (aritest.HTTP): 15 s keep-alive, 100
// sessions, a listen backlog of 10 behind one accept thread that spends
// 2 ms on each new connection, and 2 ms per REST request, one at a time per
// channel. The database is modelled too, as a pool of -ari-db-conns
// connections (database.max_conns) where each round trip takes -ari-db-rtt:
// the questionnaire's lookup is one. Each size runs twice: "before" as
// Canvass was before issue 13 (its REST transport, a request gate of four
// round trips — BEGIN, the do-not-call lookup, the request's row, COMMIT —
// and the answer after the gate and the questionnaire's lookup in turn),
// "after" as it is today (the answer after the gate alone, one round trip
// that also names the questionnaire's version, found parsed in memory
// from the second call on).
//
//	go test -run '^$' -bench StasisSetup -benchtime 1x ./ivr/asterisk
//	go test -run '^$' -bench StasisSetup -benchtime 1x ./ivr/asterisk -ari-calls 600 -ari-rate 50

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/asterisk"
	"github.com/canvass/canvass/ivr/asterisk/aritest"
)

var (
	setupCalls = flag.String("ari-calls", "100,300,600,1000", "BenchmarkStasisSetup: comma-separated numbers of concurrent calls")
	setupRate  = flag.Int("ari-rate", 50, "BenchmarkStasisSetup: calls started a second")
	setupConns = flag.Int("ari-db-conns", 10, "BenchmarkStasisSetup: the database pool's connections")
	setupRTT   = flag.Duration("ari-db-rtt", 10*time.Millisecond, "BenchmarkStasisSetup: one database round trip")
)

// database models the PostgreSQL pool on the setup path: each step holds
// one of its connections for its round trips.
type database struct {
	conns chan struct{}
	rtt   time.Duration
}

func (d *database) roundTrips(ctx context.Context, n int) error {
	select {
	case d.conns <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-d.conns }()
	t := time.NewTimer(time.Duration(n) * d.rtt)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dbGate is the request gate: it admits every call in trips round trips,
// naming version.
type dbGate struct {
	db             *database
	trips, version int
}

func (g dbGate) Admit(ctx context.Context, _ ivr.CallInfo) (asterisk.Admission, error) {
	return asterisk.Admission{Surveyed: true, Version: g.version}, g.db.roundTrips(ctx, g.trips)
}

// asteriskHTTP is the stand-in's HTTP side in the benchmark.
var asteriskHTTP = aritest.HTTP{KeepAlive: 15 * time.Second, SessionLimit: 100, Backlog: 10,
	Accept: 2 * time.Millisecond, Latency: 2 * time.Millisecond}

func BenchmarkStasisSetup(b *testing.B) {
	for _, f := range strings.Split(*setupCalls, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("-ari-calls %q", *setupCalls)
		}
		for _, mode := range []string{"before", "after"} {
			b.Run(fmt.Sprintf("%d/%s", n, mode), func(b *testing.B) {
				for b.Loop() {
					measureSetup(b, n, mode == "before")
				}
			})
		}
	}
}

func measureSetup(b *testing.B, n int, before bool) {
	srv := aritest.New(templates(b))
	defer srv.Close()
	srv.PromptLen = 2 * time.Second
	if err := srv.SetHTTP(asteriskHTTP); err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := newStore(b)
	db := &database{conns: make(chan struct{}, *setupConns), rtt: *setupRTT}
	store.OnLookup(func(ctx context.Context) error { return db.roundTrips(ctx, 1) })
	engine := ivr.New(ivr.DefaultOptions(), store, store, quiet, nil)
	opts := asterisk.DefaultOptions()
	opts.URL, opts.Username, opts.Password, opts.App = srv.URL, srv.User, srv.Pass, srv.App
	c, err := asterisk.New(opts, engine, prompts{}, recordings(b.TempDir()), nil, quiet)
	if err != nil {
		b.Fatal(err)
	}
	c.SetGate(dbGate{db: db, trips: 1, version: 1})
	if before {
		c.SetGate(dbGate{db: db, trips: 4})
		asterisk.UseTransportBefore13(c)
		asterisk.AnswerOncePrepared(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- c.Run(ctx) }()
	defer func() {
		cancel()
		<-stopped
	}()
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := srv.AwaitConnections(wctx, 1); err != nil {
		b.Fatal(err)
	}
	for !c.Connected() {
		time.Sleep(time.Millisecond)
	}

	sent := map[string]time.Time{}
	ids := make([]string, 0, n)
	tick := time.NewTicker(time.Second / time.Duration(*setupRate))
	for range n {
		<-tick.C
		id, at := srv.CallAt("+33612345678", "questionnaire=post-call", "lang=en")
		sent[id] = at
		ids = append(ids, id)
	}
	tick.Stop()
	// Every call answered, or 30 s after the last one.
	var setups []time.Duration
	deadline := time.Now().Add(30 * time.Second)
	for {
		setups = setups[:0]
		for _, r := range srv.Requests() {
			if r.Method != "POST" || !strings.HasSuffix(r.Path, "/answer") || r.Status != 204 {
				continue
			}
			id := strings.TrimSuffix(strings.TrimPrefix(r.Path, "/channels/"), "/answer")
			if at, ok := sent[id]; ok {
				setups = append(setups, r.At.Sub(at))
			}
		}
		if len(setups) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var failed int
	for _, r := range srv.Requests() {
		if r.Status >= 500 {
			failed++
		}
	}
	st := srv.Conns()
	for _, id := range ids {
		srv.HangUp(id)
	}
	slices.Sort(setups)
	pct := func(p float64) float64 {
		if len(setups) == 0 {
			return 0
		}
		return float64(setups[min(len(setups)-1, int(float64(len(setups))*p))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	b.ReportMetric(float64(n-len(setups)), "unanswered")
	b.ReportMetric(float64(st.Accepted), "conns")
	b.ReportMetric(float64(st.Refused+st.Crossed), "dropped-conns")
}
