package cati_test

// This file is the console's test harness: a server with the console on a
// fresh database, a fixed clock (Monday 12 January 2026, 15:00 UTC, 10:00
// in New York), accounts of every role, a running campaign over the
// branched customer study with a New York sample, browser-like HTTP clients
// (cookies, Origin) and WebSocket clients speaking the envelope protocol.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/canvass/canvass/cati"
	store "github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// monday is the console tests' "now".
var monday = time.Date(2026, 1, 12, 15, 0, 0, 0, time.UTC)

const testPassword = "correct-horse-battery"

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// consoleFixture is a server with the console enabled.
type consoleFixture struct {
	t        *testing.T
	db       *store.DB
	server   *cati.Server
	url      string
	clock    *testClock
	campaign survey.CampaignID
	users    map[string]survey.UserID
	tokens   map[survey.Role]string // API tokens, by role (setup's)
}

// withConsole builds the server with the console over db.
func withConsole(db *store.DB, d *cati.Deps) {
	opts := cati.DefaultConsoleOptions()
	opts.NextCaseDelay = 0 // tests take their next case themselves, but the one of the delay
	d.Console = &cati.Console{Options: opts, Sessions: db, Campaigns: db, Accounts: db, Desks: db, Answers: db, Floor: db, Events: db}
}

// newConsole starts a console over a fresh database with contacts samples
// (first_name, region, segment, product each) in New York.
func newConsole(t *testing.T, contacts ...map[string]string) *consoleFixture {
	t.Helper()
	return newConsoleWith(t, withConsole, contacts...)
}

// newConsoleWith is newConsole with the server built as with says.
func newConsoleWith(t *testing.T, with func(*store.DB, *cati.Deps), contacts ...map[string]string) *consoleFixture {
	t.Helper()
	f := setup(t, cati.DefaultOptions(), nil, with)
	clock := &testClock{t: monday}
	cati.SetNow(f.server, clock.Now)
	hs := httptest.NewServer(f.server.Handler())
	t.Cleanup(hs.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.server.RunConsole(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunConsole: %v", err)
		}
	})
	cf := &consoleFixture{t: t, db: f.db, server: f.server, url: hs.URL, clock: clock, users: map[string]survey.UserID{}, tokens: f.tokens}
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for name, role := range map[string]survey.Role{"ada": survey.RoleAdmin, "sam": survey.RoleSupervisor, "ivy": survey.RoleInterviewer, "ian": survey.RoleInterviewer} {
		if err := f.db.AddUser(t.Context(), name, role, hash); err != nil {
			t.Fatal(err)
		}
		u, err := f.db.User(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		cf.users[name] = u.ID
	}
	src := questionnaireFile(t, "customer-study.yaml")
	q, err := survey.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.db.PutQuestionnaire(t.Context(), q.Version(src)); err != nil {
		t.Fatal(err)
	}
	var ws []survey.Window
	for d := range 7 {
		ws = append(ws, survey.Window{Dow: d, Opens: 9 * 60, Closes: 21 * 60})
	}
	cf.campaign, err = f.db.CreateCampaign(t.Context(), survey.Campaign{Name: "Northwind study", Questionnaire: "customer-study",
		Mode: "cati", Status: "running", MaxAttempts: 4, Windows: ws, Settings: json.RawMessage(`{}`),
		Interviewers: []survey.UserID{cf.users["ivy"], cf.users["ian"]}}, "ada")
	if err != nil {
		t.Fatal(err)
	}
	cf.addContacts(contacts...)
	return cf
}

func (cf *consoleFixture) addContacts(contacts ...map[string]string) {
	cf.t.Helper()
	if len(contacts) == 0 {
		return
	}
	var rows []survey.SampleRow
	for i, c := range contacts {
		rows = append(rows, survey.SampleRow{Line: i + 2, Phone: fmt.Sprintf("+1212555%04d", 100+i), TZ: "America/New_York", Attrs: c})
	}
	if _, _, err := cf.db.ImportSample(cf.t.Context(), cf.campaign, rows, "ada"); err != nil {
		cf.t.Fatal(err)
	}
	cf.exec(`UPDATE survey_case SET next_attempt_at = '2000-01-01' WHERE status = 'open'`)
}

func (cf *consoleFixture) exec(q string, args ...any) {
	cf.t.Helper()
	if _, err := cf.db.Pool().Exec(cf.t.Context(), q, args...); err != nil {
		cf.t.Fatalf("%s: %v", q, err)
	}
}

func (cf *consoleFixture) count(q string, args ...any) int {
	cf.t.Helper()
	var n int
	if err := cf.db.Pool().QueryRow(cf.t.Context(), q, args...).Scan(&n); err != nil {
		cf.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// contact is a sample row's contact fields.
func contact(name, region, segment, product string) map[string]string {
	return map[string]string{"first_name": name, "region": region, "segment": segment, "product": product}
}

// browser is a signed-in user's HTTP client: cookies kept, redirects not
// followed, an Origin header like a browser's.
type browser struct {
	cf     *consoleFixture
	client *http.Client
	jar    http.CookieJar
	csrf   string
}

func (cf *consoleFixture) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		cf.t.Fatal(err)
	}
	return &browser{cf: cf, jar: jar, client: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// login signs in and learns the session's CSRF token.
func (cf *consoleFixture) login(name string) *browser {
	cf.t.Helper()
	b := cf.browser()
	resp := b.post("/login", url.Values{"name": {name}, "password": {testPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		cf.t.Fatalf("login %s: status %d", name, resp.StatusCode)
	}
	var who struct {
		CSRF string `json:"csrf"`
	}
	r := b.get("/console/whoami", "Accept", "application/json")
	if r.StatusCode != http.StatusOK {
		cf.t.Fatalf("whoami: %d", r.StatusCode)
	}
	if err := json.NewDecoder(r.Body).Decode(&who); err != nil {
		cf.t.Fatal(err)
	}
	b.csrf = who.CSRF
	return b
}

func (b *browser) do(req *http.Request) *http.Response {
	b.cf.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.cf.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	b.cf.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func (b *browser) get(path string, header ...string) *http.Response {
	b.cf.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.cf.url+path, nil)
	if err != nil {
		b.cf.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

// post sends a form as this site's pages do.
func (b *browser) post(path string, form url.Values, header ...string) *http.Response {
	b.cf.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.cf.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.cf.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.cf.url)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

// wsClient is a console page's WebSocket.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	seq  int
	got  chan envelope
	// events counts "event" messages skipped while waiting for others.
	events int
}

type envelope struct {
	V    int             `json:"v"`
	Type string          `json:"type"`
	ID   string          `json:"id,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// dial opens the console WebSocket as the browser's user; it fails the
// test unless the upgrade succeeds.
func (b *browser) dial() *wsClient {
	b.cf.t.Helper()
	c, resp, err := b.dialRaw(b.cf.url)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		b.cf.t.Fatalf("websocket: %v (status %d)", err, status)
	}
	return c
}

func (b *browser) dialRaw(origin string) (*wsClient, *http.Response, error) {
	d := websocket.Dialer{Jar: b.jar, HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(b.cf.url, "http")+"/console/ws", http.Header{"Origin": {origin}})
	if err != nil {
		return nil, resp, err
	}
	c := &wsClient{t: b.cf.t, conn: conn, got: make(chan envelope, 256)}
	go func() {
		defer close(c.got)
		for {
			var e envelope
			if err := conn.ReadJSON(&e); err != nil {
				return
			}
			c.got <- e
		}
	}()
	b.cf.t.Cleanup(func() { conn.Close() })
	return c, resp, nil
}

// reach claims the next case, dials it and reaches the respondent: the
// desk at the case's first question.
func (c *wsClient) reach() desk {
	c.t.Helper()
	var d desk
	c.must("next_case", nil, &d)
	c.must("dial", map[string]any{"case_id": d.Case.ID}, &d)
	c.must("dial_result", map[string]any{"case_id": d.Case.ID, "outcome": "contact"}, &d)
	return d
}

// next returns the next message of type typ, skipping others.
func (c *wsClient) next(typ string) envelope {
	c.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-c.got:
			if !ok {
				c.t.Fatalf("connection closed waiting for %s", typ)
			}
			if e.Type == typ {
				return e
			}
		case <-timeout:
			c.t.Fatalf("no %s message within 10 s", typ)
		}
	}
}

// call sends a request and returns the reply to it (state, floor, ok, pong
// or error).
func (c *wsClient) call(typ string, data any) envelope {
	c.t.Helper()
	c.seq++
	id := fmt.Sprintf("t%d", c.seq)
	b, err := json.Marshal(data)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.conn.WriteJSON(envelope{V: 1, Type: typ, ID: id, Data: b}); err != nil {
		c.t.Fatal(err)
	}
	return c.reply(id)
}

func (c *wsClient) reply(id string) envelope {
	c.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case e, ok := <-c.got:
			if !ok {
				c.t.Fatalf("connection closed waiting for the reply to %s", id)
			}
			if e.ID == id && e.Type != "error" || e.ID == id && e.Type == "error" {
				return e
			}
		case <-timeout:
			c.t.Fatalf("no reply to %s within 15 s", id)
		}
	}
}

// must sends a request that must succeed and decodes the reply's data.
func (c *wsClient) must(typ string, data, out any) envelope {
	c.t.Helper()
	e := c.call(typ, data)
	if e.Type == "error" {
		c.t.Fatalf("%s %v: error %s", typ, data, e.Data)
	}
	if out != nil {
		if err := json.Unmarshal(e.Data, out); err != nil {
			c.t.Fatal(err)
		}
	}
	return e
}

// refuse sends a request that must fail with code and returns the message.
func (c *wsClient) refuse(typ string, data any, code survey.ErrorCode) string {
	c.t.Helper()
	e := c.call(typ, data)
	var ed struct {
		Code    survey.ErrorCode `json:"code"`
		Message string           `json:"message"`
	}
	if e.Type != "error" || json.Unmarshal(e.Data, &ed) != nil || ed.Code != code {
		c.t.Fatalf("%s %v: got %s %s, want error %s", typ, data, e.Type, e.Data, code)
	}
	return ed.Message
}

// desk is the interviewer's screen as the tests read it.
type desk struct {
	State survey.DeskState `json:"state"`
	Case  *struct {
		ID     int64             `json:"id"`
		Phone  string            `json:"phone"`
		Fields map[string]string `json:"fields"`
		TZ     string            `json:"tz"`
	} `json:"case"`
	Intro    string `json:"intro"`
	Question *struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Text     string `json:"text"`
		Previous any    `json:"previous"`
	} `json:"question"`
	Complete  bool   `json:"complete"`
	Suggested string `json:"suggested"`
	Outcome   string `json:"outcome"`
}

func (d desk) question() string {
	if d.Question == nil {
		return ""
	}
	return d.Question.ID
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newHTTPTest serves srv with its console feed running, until the test ends.
func newHTTPTest(t *testing.T, srv *cati.Server) string {
	t.Helper()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.RunConsole(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunConsole: %v", err)
		}
	})
	return hs.URL
}
