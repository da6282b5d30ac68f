package cati_test

// Refusals of the console's front door: no session, wrong password, wrong
// role, a missing or forged CSRF token, a cross-site request, an expired
// session (idle and absolute), a WebSocket from another origin or without
// a session, and a message the wrong role may not send.

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/survey"
)

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLoginAndRoles(t *testing.T) {
	cf := newConsole(t)
	anon := cf.browser()
	if r := anon.get("/console"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login?next=%2Fconsole") {
		t.Fatalf("anonymous /console: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if r := anon.get("/console/whoami", "Accept", "application/json"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous whoami: %d", r.StatusCode)
	}
	r := anon.post("/login", url.Values{"name": {"ivy"}, "password": {"wrong"}})
	if b := body(t, r); r.StatusCode != http.StatusUnauthorized || !strings.Contains(b, "Wrong name or password") {
		t.Fatalf("wrong password: %d", r.StatusCode)
	}
	r = anon.post("/login", url.Values{"name": {"nobody"}, "password": {testPassword}})
	if r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d", r.StatusCode)
	}
	// A login form posted from another site is refused.
	r = anon.post("/login", url.Values{"name": {"ivy"}, "password": {testPassword}}, "Origin", "http://evil.example")
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site login: %d", r.StatusCode)
	}
	ivy := cf.login("ivy")
	for _, c := range ivy.jar.Cookies(mustURL(t, cf.url)) {
		if c.Name == "canvass_session" && len(c.Value) != 43 {
			t.Fatalf("session id %q is not 32 random bytes", c.Value)
		}
	}
	if r := ivy.get("/console"); r.StatusCode != http.StatusOK {
		t.Fatalf("interviewer /console: %d", r.StatusCode)
	}
	for _, path := range []string{"/admin", "/supervisor", "/admin/campaigns/new"} {
		r := ivy.get(path)
		if b := body(t, r); r.StatusCode != http.StatusForbidden || !strings.Contains(b, "interviewer accounts cannot open this page") {
			t.Fatalf("interviewer %s: %d", path, r.StatusCode)
		}
	}
	sam := cf.login("sam")
	if r := sam.get("/console"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("supervisor /console: %d", r.StatusCode)
	}
	if r := sam.get("/admin"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("supervisor /admin: %d", r.StatusCode)
	}
	if r := sam.get("/supervisor"); r.StatusCode != http.StatusOK {
		t.Fatalf("supervisor /supervisor: %d", r.StatusCode)
	}
	ada := cf.login("ada")
	for _, path := range []string{"/admin", "/supervisor", "/admin/campaigns/new", "/supervisor/report/1"} {
		if r := ada.get(path); r.StatusCode != http.StatusOK {
			t.Fatalf("admin %s: %d", path, r.StatusCode)
		}
	}
	// Sessions are stored hashed: the cookie's value is nowhere in the table.
	if n := cf.count(`SELECT count(*) FROM console_session WHERE length(id_hash) = 32`); n != 3 {
		t.Fatalf("%d hashed sessions, want 3", n)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCSRFRefusals(t *testing.T) {
	cf := newConsole(t)
	ada := cf.login("ada")
	status := "/admin/campaigns/1/status"
	// No token, a wrong token, a cross-site origin: refused, nothing changes.
	for name, tc := range map[string]struct {
		form   url.Values
		header []string
	}{
		"no token":    {url.Values{"status": {"paused"}}, nil},
		"wrong token": {url.Values{"status": {"paused"}, "csrf": {"x" + ada.csrf[1:]}}, nil},
		"cross-site":  {url.Values{"status": {"paused"}, "csrf": {ada.csrf}}, []string{"Origin", "http://evil.example"}},
	} {
		r := ada.post(status, tc.form, tc.header...)
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, r.StatusCode)
		}
	}
	if n := cf.count(`SELECT count(*) FROM campaign WHERE status = 'running'`); n != 1 {
		t.Fatal("a refused request changed the campaign")
	}
	if r := ada.post(status, url.Values{"status": {"paused"}, "csrf": {ada.csrf}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("with the token: %d", r.StatusCode)
	}
	if n := cf.count(`SELECT count(*) FROM audit_log WHERE action = 'campaign.status' AND actor = 'ada'`); n != 1 {
		t.Fatal("status change not audited")
	}
	// Logout needs the token too.
	if r := ada.post("/logout", url.Values{}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without token: %d", r.StatusCode)
	}
	if r := ada.post("/logout", url.Values{"csrf": {ada.csrf}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	if r := ada.get("/admin"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after logout /admin: %d", r.StatusCode)
	}
}

func TestSessionExpiry(t *testing.T) {
	cf := newConsole(t)
	ivy := cf.login("ivy")
	ws := ivy.dial()
	ws.next("state")
	opts := cati.DefaultConsoleOptions()
	// Used within the idle timeout, the session lives on…
	cf.clock.Advance(opts.IdleTimeout - time.Minute)
	if r := ivy.get("/console"); r.StatusCode != http.StatusOK {
		t.Fatalf("within idle timeout: %d", r.StatusCode)
	}
	// …idle for longer, it is gone: pages redirect, the socket is refused.
	cf.clock.Advance(opts.IdleTimeout + time.Minute)
	if r := ivy.get("/console"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Fatalf("after idle timeout: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if _, resp, err := ivy.dialRaw(cf.url); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("websocket after expiry: %v", err)
	}
	// The absolute limit holds however busy the session is.
	sam := cf.login("sam")
	for range 7 {
		cf.clock.Advance(opts.SessionLifetime / 6)
		sam.get("/supervisor")
	}
	if r := sam.get("/supervisor"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("past the session lifetime: %d", r.StatusCode)
	}
}

func TestWebSocketRefusals(t *testing.T) {
	cf := newConsole(t)
	anon := cf.browser()
	if _, resp, err := anon.dialRaw(cf.url); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a session: %v", err)
	}
	ivy := cf.login("ivy")
	if _, resp, err := ivy.dialRaw("http://evil.example"); !errors.Is(err, websocket.ErrBadHandshake) || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("from another origin: %v", err)
	}
	ws := ivy.dial()
	ws.next("hello")
	// An interviewer may not send supervisors' messages; the connection stays.
	ws.refuse("release", map[string]any{"case_id": 1}, survey.EForbidden)
	sam := cf.login("sam").dial()
	sam.next("floor")
	sam.refuse("next_case", nil, survey.EForbidden)
	if e := ws.call("ping", nil); e.Type != "pong" {
		t.Fatalf("after refusals: %s", e.Type)
	}
}

func TestEnvelopeErrorsKeepTheConnection(t *testing.T) {
	cf := newConsole(t)
	ws := cf.login("ivy").dial()
	ws.next("state")
	for _, raw := range []string{
		`not json`,
		`{"v":2,"type":"ping","id":"a"}`,
		`{"v":1,"type":"launch_missiles","id":"b"}`,
		`{"v":1,"type":"dial","id":"c","data":{"case_id":"seven"}}`,
		`{"v":1,"type":"dial","id":"d","data":{"case_id":1,"extra":true}}`,
		`{"v":1,"type":"wrap_up","id":"e","data":{"case_id":1}}`,
		`{"v":1,"type":"ping","id":"f","unknown":1}`,
		"\xff\xfe",
	} {
		if err := ws.conn.WriteMessage(websocket.TextMessage, []byte(raw)); err != nil {
			t.Fatal(err)
		}
		e := ws.next("error")
		if !strings.Contains(string(e.Data), `"code":"invalid"`) {
			t.Fatalf("%q: %s", raw, e.Data)
		}
	}
	if e := ws.call("ping", nil); e.Type != "pong" {
		t.Fatalf("after bad messages: %s", e.Type)
	}
}

// Password guessing: after five wrong passwords, the account is locked for
// a minute, even to its right password, while other accounts sign in.
func TestLoginLockout(t *testing.T) {
	cf := newConsole(t)
	anon := cf.browser()
	for i := range 5 {
		r := anon.post("/login", url.Values{"name": {"ivy"}, "password": {"guess " + string(rune('a'+i))}})
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i+1, r.StatusCode)
		}
	}
	r := anon.post("/login", url.Values{"name": {"IVY"}, "password": {testPassword}})
	if b := body(t, r); r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "60" || !strings.Contains(b, "Try again in 1 minute") {
		t.Errorf("right password after five guesses: %d Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if r := cf.browser().post("/login", url.Values{"name": {"sam"}, "password": {testPassword}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("another account meanwhile: %d, want signed in", r.StatusCode)
	}
}

// Forty wrong guesses sent at once: no more than five have their password
// checked (each is counted before its check), the rest wait.
func TestLoginBurst(t *testing.T) {
	cf := newConsole(t)
	const n = 40
	codes := make([]int, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		pw := fmt.Sprintf("wrong guess %d", i)
		b := cf.browser()
		wg.Go(func() {
			<-start
			codes[i] = b.post("/login", url.Values{"name": {"ivy"}, "password": {pw}}).StatusCode
		})
	}
	close(start)
	wg.Wait()
	checked := 0
	for _, c := range codes {
		if c != http.StatusTooManyRequests {
			checked++
		}
	}
	if checked > 5 {
		t.Errorf("%d of %d simultaneous guesses had their password checked, want at most 5 (statuses %v)", checked, n, codes)
	}
}
