package cati_test

// BenchmarkEventFanout measures the live feed end to end: an event
// committed with pg_notify reaches, through the LISTEN connection and the
// hub, 20 supervisor WebSockets (as an "event" message) and the
// interviewer it concerns (as a fresh "state", which costs a database
// read), with 500 interviewer and 20 supervisor sockets connected. It
// reports the latency from just before COMMIT to receipt, p50 and p99, for
// each kind of delivery.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

func BenchmarkEventFanout(b *testing.B) {
	const interviewers, supervisors = 500, 20
	db := sqltest.New(b)
	ctx := b.Context()
	d := cati.Deps{Options: cati.DefaultOptions(), Store: db, Tokens: db, Log: discardLog()}
	withConsole(db, &d)
	srv, err := cati.New(d)
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	feedCtx, stopFeed := context.WithCancel(context.Background())
	feedDone := make(chan error, 1)
	go func() { feedDone <- srv.RunConsole(feedCtx) }()
	defer func() { stopFeed(); <-feedDone }()

	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.Pool().Exec(ctx, `INSERT INTO app_user (name, role, password_hash)
		SELECT 'iv' || g, 'interviewer', $1::bytea FROM generate_series(1, $2) g
		UNION ALL SELECT 'sup' || g, 'supervisor', $1::bytea FROM generate_series(1, $3) g`, hash, interviewers, supervisors); err != nil {
		b.Fatal(err)
	}
	ids := map[string]int64{}
	rows, err := db.Pool().Query(ctx, `SELECT name, id FROM app_user`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var n string
		var id int64
		if err := rows.Scan(&n, &id); err != nil {
			b.Fatal(err)
		}
		ids[n] = id
	}
	rows.Close()

	type conn struct {
		ws   *websocket.Conn
		user int64
	}
	dial := func(name string) *websocket.Conn {
		jar, err := cookiejar.New(nil)
		if err != nil {
			b.Fatal(err)
		}
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, err := http.NewRequest(http.MethodPost, hs.URL+"/login", strings.NewReader(url.Values{"name": {name}, "password": {testPassword}}.Encode()))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.Do(req)
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			b.Fatalf("login %s: %v", name, err)
		}
		resp.Body.Close()
		d := websocket.Dialer{Jar: jar}
		ws, _, err := d.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/console/ws", http.Header{"Origin": {hs.URL}})
		if err != nil {
			b.Fatalf("dial %s: %v", name, err)
		}
		return ws
	}

	// Every reader reports what it receives here.
	type receipt struct {
		supervisor bool
		user       int64
		sent       int64 // for events: the sender's clock in the payload
		at         time.Time
	}
	got := make(chan receipt, 100000)
	var conns []conn
	var wg sync.WaitGroup
	read := func(c conn, supervisor bool) {
		defer wg.Done()
		for {
			_, msg, err := c.ws.ReadMessage()
			if err != nil {
				return
			}
			var env struct {
				Type string `json:"type"`
				Data struct {
					Data struct {
						T int64 `json:"t"`
					} `json:"data"`
				} `json:"data"`
			}
			if json.Unmarshal(msg, &env) != nil {
				continue
			}
			switch {
			case supervisor && env.Type == "event" && env.Data.Data.T != 0:
				got <- receipt{supervisor: true, sent: env.Data.Data.T, at: time.Now()}
			case !supervisor && env.Type == "state":
				got <- receipt{user: c.user, at: time.Now()}
			}
		}
	}
	for i := 1; i <= interviewers; i++ {
		name := fmt.Sprintf("iv%d", i)
		c := conn{ws: dial(name), user: ids[name]}
		conns = append(conns, c)
		wg.Add(1)
		go read(c, false)
	}
	for i := 1; i <= supervisors; i++ {
		c := conn{ws: dial(fmt.Sprintf("sup%d", i))}
		conns = append(conns, c)
		wg.Add(1)
		go read(c, true)
	}
	defer func() {
		for _, c := range conns {
			c.ws.Close()
		}
		wg.Wait()
	}()
	// Let the greetings settle, then drain them.
	time.Sleep(500 * time.Millisecond)
	for len(got) > 0 {
		<-got
	}

	var super, desk []time.Duration
	b.ResetTimer()
	for i := range b.N {
		user := ids[fmt.Sprintf("iv%d", i%interviewers+1)]
		sent := time.Now()
		payload := fmt.Sprintf(`{"t":%d}`, sent.UnixNano())
		if _, err := db.AddEvent(ctx, survey.Event{Kind: "bench", UserID: survey.UserID(user), Payload: json.RawMessage(payload)}); err != nil {
			b.Fatal(err)
		}
		want := supervisors + 1
		timeout := time.After(10 * time.Second)
		for want > 0 {
			select {
			case r := <-got:
				switch {
				case r.supervisor && r.sent == sent.UnixNano():
					super = append(super, r.at.Sub(sent))
					want--
				case !r.supervisor && r.user == user:
					desk = append(desk, r.at.Sub(sent))
					want--
				}
			case <-timeout:
				b.Fatalf("event %d: %d deliveries missing after 10 s", i, want)
			}
		}
	}
	b.StopTimer()
	report := func(name string, ds []time.Duration) {
		slices.Sort(ds)
		p := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
		b.ReportMetric(float64(p(0.50).Microseconds())/1000, name+"-p50-ms")
		b.ReportMetric(float64(p(0.99).Microseconds())/1000, name+"-p99-ms")
	}
	report("supervisor", super)
	report("interviewer", desk)
}
