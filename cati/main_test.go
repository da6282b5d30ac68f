package cati_test

// This file is the harness of cati's tests: a real PostgreSQL database per
// test (sql/sqltest), the server over it through httptest, and one API token
// per role.

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/canvass/canvass/cati"
	store "github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
	"github.com/canvass/canvass/testdata"
)

func TestMain(m *testing.M) { sqltest.Main(m) }

// fixture is one test's server and database.
type fixture struct {
	t      *testing.T
	db     *store.DB
	server *cati.Server
	http   *httptest.Server
	tokens map[survey.Role]string
	logs   *lockedBuffer // everything the server logged
}

// lockedBuffer is a log destination handlers on several goroutines share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// roles are the roles an API token may have.
var roles = []survey.Role{survey.RoleAdmin, survey.RoleSupervisor, survey.RoleIntegrator}

// setup starts a server over a fresh database; wrap, when given, stands
// between the server and the database (to make it fail); with, when given,
// adds to what the server is built with.
func setup(t *testing.T, opts cati.Options, wrap func(cati.Store) cati.Store, with ...func(db *store.DB, d *cati.Deps)) *fixture {
	t.Helper()
	db := sqltest.New(t)
	var st cati.Store = db
	if wrap != nil {
		st = wrap(st)
	}
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	deps := cati.Deps{Options: opts, Store: st, Tokens: db, Log: log}
	for _, w := range with {
		w(db, &deps)
	}
	srv, err := cati.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	f := &fixture{t: t, db: db, server: srv, http: hs, tokens: map[survey.Role]string{}, logs: logs}
	for _, role := range roles {
		token, hash, err := cati.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateToken(t.Context(), "test-"+string(role), role, hash); err != nil {
			t.Fatal(err)
		}
		f.tokens[role] = token
	}
	return f
}

// request sends a request as role ("" = no token); header holds name, value
// pairs.
func (f *fixture) request(method, path string, role survey.Role, body io.Reader, header ...string) *http.Response {
	f.t.Helper()
	req, err := http.NewRequestWithContext(f.t.Context(), method, f.http.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[role])
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := f.http.Client().Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	f.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// get fetches path as role, checks the status and decodes the JSON body
// into out (when not nil).
func (f *fixture) get(path string, role survey.Role, want int, out any) {
	f.t.Helper()
	resp := f.request(http.MethodGet, path, role, nil)
	decode(f.t, resp, want, out)
}

func decode(t *testing.T, resp *http.Response, want int, out any) {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
	if out == nil {
		return
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("%s: Content-Type %q, want JSON", resp.Request.URL.Path, ct)
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(out); err != nil {
		t.Fatalf("%s: decode %s: %v", resp.Request.URL.Path, body, err)
	}
}

// apiError is the body of every error response.
type apiError struct {
	Error struct {
		Code     survey.ErrorCode `json:"code"`
		Message  string           `json:"message"`
		Problems survey.Problems  `json:"problems"`
	} `json:"error"`
}

// questionnaireFile reads an example questionnaire from testdata.
func questionnaireFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := testdata.Questionnaires.ReadFile("questionnaires/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// upload posts a questionnaire as YAML and returns the response.
func (f *fixture) upload(role survey.Role, src []byte) *http.Response {
	f.t.Helper()
	return f.request(http.MethodPost, "/api/v1/questionnaires", role, bytes.NewReader(src), "Content-Type", "application/yaml")
}
