package cati_test

// What the API refuses, and how: every refusal is a JSON error with the
// status a client can act on, a message naming what to fix, and nothing
// stored.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/survey"
)

// refused checks that resp is a JSON error with status, code and a message
// containing each of msgs.
func refused(t *testing.T, resp *http.Response, status int, code survey.ErrorCode, msgs ...string) apiError {
	t.Helper()
	var e apiError
	decode(t, resp, status, &e)
	if e.Error.Code != code {
		t.Errorf("%s %s: code %q, want %q (message %q)", resp.Request.Method, resp.Request.URL, e.Error.Code, code, e.Error.Message)
	}
	for _, m := range msgs {
		if !strings.Contains(e.Error.Message, m) {
			t.Errorf("%s %s: message %q does not contain %q", resp.Request.Method, resp.Request.URL, e.Error.Message, m)
		}
	}
	return e
}

func TestAuthentication(t *testing.T) {
	f := setup(t, cati.DefaultOptions(), nil)
	revoked, hash, err := cati.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.db.CreateToken(t.Context(), "old", survey.RoleAdmin, hash)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.RevokeToken(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	unknown, _, err := cati.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, header, msg string
	}{
		{"no header", "", "missing API token"},
		{"basic auth", "Basic YWRtaW46YWRtaW4=", "must be Bearer <token>"},
		{"empty bearer", "Bearer ", "must be Bearer <token>"},
		{"garbage", "Bearer hello", "invalid API token"},
		{"unknown token", "Bearer " + unknown, "invalid API token"},
		{"revoked token", "Bearer " + revoked, "invalid API token"},
		{"truncated token", "Bearer " + f.tokens[survey.RoleAdmin][:20], "invalid API token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var header []string
			if tc.header != "" {
				header = []string{"Authorization", tc.header}
			}
			resp := f.request(http.MethodGet, "/api/v1/questionnaires", "", nil, header...)
			refused(t, resp, http.StatusUnauthorized, survey.EUnauthorized, tc.msg)
			if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
				t.Errorf("WWW-Authenticate %q", h)
			}
		})
	}
	// The scheme is case-insensitive (RFC 9110).
	resp := f.request(http.MethodGet, "/api/v1/questionnaires", "", nil, "Authorization", "bearer "+f.tokens[survey.RoleAdmin])
	decode(t, resp, http.StatusOK, nil)
}

// TestRoles is the role table: who may call each endpoint.
func TestRoles(t *testing.T) {
	f := setup(t, cati.DefaultOptions(), nil)
	postCall := questionnaireFile(t, "post-call.yaml")
	decode(t, f.upload(survey.RoleAdmin, postCall), http.StatusCreated, nil)
	all := roles
	uploaders := []survey.Role{survey.RoleAdmin, survey.RoleIntegrator}
	for _, tc := range []struct {
		method, path string
		allowed      []survey.Role
	}{
		{"GET", "/api/v1/questionnaires", all},
		{"POST", "/api/v1/questionnaires", uploaders},
		{"GET", "/api/v1/questionnaires/post-call", all},
		{"PUT", "/api/v1/questionnaires/post-call", uploaders},
		{"GET", "/api/v1/questionnaires/post-call/versions/1", all},
		{"GET", "/api/v1/questionnaires/post-call/report", all},
		{"GET", "/api/v1/questionnaires/post-call/export.csv", all},
		{"GET", "/api/v1/interviews", all},
		{"GET", "/api/v1/interviews/1", all},
	} {
		body := func() io.Reader {
			if tc.method == "GET" {
				return nil
			}
			return bytes.NewReader(postCall)
		}
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp := f.request(tc.method, tc.path, "", body(), "Content-Type", "application/yaml")
			refused(t, resp, http.StatusUnauthorized, survey.EUnauthorized)
			for _, role := range roles {
				resp := f.request(tc.method, tc.path, role, body(), "Content-Type", "application/yaml")
				if !contains(tc.allowed, role) {
					refused(t, resp, http.StatusForbidden, survey.EForbidden, "a "+string(role)+" token may not do this", "admin, integrator")
					continue
				}
				if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
					t.Errorf("%s: status %d, want allowed", role, resp.StatusCode)
				}
			}
		})
	}
	// Health and metrics are for probes and scrapers, without a token.
	for _, path := range []string{"/healthz", "/metrics"} {
		decode(t, f.request(http.MethodGet, path, "", nil), http.StatusOK, nil)
	}
}

func contains(roles []survey.Role, r survey.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

func TestUploadRefused(t *testing.T) {
	opts := cati.DefaultOptions()
	opts.MaxBodyBytes = 16 << 10
	f := setup(t, opts, nil)
	postCall := questionnaireFile(t, "post-call.yaml")
	decode(t, f.upload(survey.RoleAdmin, postCall), http.StatusCreated, nil)
	var before struct {
		Questionnaires []versionJSON `json:"questionnaires"`
	}
	f.get("/api/v1/questionnaires", survey.RoleAdmin, http.StatusOK, &before)

	invalid := []byte(`id: Bad-Id
languages: [en]
questions:
  - id: q1
    type: nps
    text: How likely?
  - id: q1
    type: color
    text: Duplicate
  - id: q3
    type: scale
    min: 5
    max: 1
    when: nope > 3
    text: Scale
`)
	// A valid post-call questionnaire (a changed title) padded past the limit
	// with a comment: refused for its size alone.
	changed := bytes.Replace(postCall, []byte("title: Post-call satisfaction"), []byte("title: Changed"), 1)
	oversized := append(append([]byte{}, changed...), "\n# "+strings.Repeat("x", 20<<10)+"\n"...)
	yamlCT := []string{"Content-Type", "application/yaml"}

	t.Run("problems", func(t *testing.T) {
		_, err := survey.Parse(invalid)
		var want survey.Problems
		if !errors.As(err, &want) || len(want) < 4 {
			t.Fatalf("the fixture should have several problems: %v", err)
		}
		e := refused(t, f.upload(survey.RoleAdmin, invalid), http.StatusUnprocessableEntity, survey.EInvalid,
			fmt.Sprintf("questionnaire has %d problems", len(want)))
		if diff := cmp.Diff(want, e.Error.Problems); diff != "" {
			t.Errorf("problems (-want +got):\n%s", diff)
		}
		for _, p := range e.Error.Problems {
			if p.Line == 0 {
				t.Errorf("problem without a line: %+v", p)
			}
		}
	})
	t.Run("syntax error", func(t *testing.T) {
		e := refused(t, f.upload(survey.RoleAdmin, []byte("id: x\nlanguages: [en\nquestions: []\n")), http.StatusUnprocessableEntity, survey.EInvalid,
			"questionnaire has 1 problem")
		if len(e.Error.Problems) != 1 || e.Error.Problems[0].Line == 0 {
			t.Errorf("problems %+v", e.Error.Problems)
		}
	})
	t.Run("empty", func(t *testing.T) {
		refused(t, f.upload(survey.RoleAdmin, nil), http.StatusUnprocessableEntity, survey.EInvalid, "questionnaire has 1 problem")
	})
	for _, ct := range []string{"", "text/plain", "application/json", "multipart/form-data; boundary=x", "yaml"} {
		t.Run("content type "+ct, func(t *testing.T) {
			var header []string
			if ct != "" {
				header = []string{"Content-Type", ct}
			}
			resp := f.request(http.MethodPost, "/api/v1/questionnaires", survey.RoleAdmin, bytes.NewReader(changed), header...)
			refused(t, resp, http.StatusUnsupportedMediaType, survey.EInvalid, "application/yaml")
		})
	}
	t.Run("oversized", func(t *testing.T) {
		resp := f.request(http.MethodPost, "/api/v1/questionnaires", survey.RoleAdmin, bytes.NewReader(oversized), yamlCT...)
		refused(t, resp, http.StatusRequestEntityTooLarge, survey.EInvalid, "larger than 16384 bytes", "http.max_body_bytes")
	})
	t.Run("oversized chunked", func(t *testing.T) {
		// No Content-Length: the limit is found while reading.
		body := io.MultiReader(bytes.NewReader(oversized))
		resp := f.request(http.MethodPost, "/api/v1/questionnaires", survey.RoleAdmin, body, yamlCT...)
		if resp.Request.ContentLength != 0 && resp.Request.ContentLength != -1 {
			t.Fatalf("request had Content-Length %d", resp.Request.ContentLength)
		}
		refused(t, resp, http.StatusRequestEntityTooLarge, survey.EInvalid, "larger than 16384 bytes")
	})
	t.Run("path and file disagree", func(t *testing.T) {
		resp := f.request(http.MethodPut, "/api/v1/questionnaires/customer-study", survey.RoleAdmin, bytes.NewReader(changed), yamlCT...)
		refused(t, resp, http.StatusBadRequest, survey.EInvalid, `"customer-study"`, `"post-call"`)
	})
	t.Run("supervisor", func(t *testing.T) {
		refused(t, f.upload(survey.RoleSupervisor, changed), http.StatusForbidden, survey.EForbidden)
	})
	t.Run("no token", func(t *testing.T) {
		refused(t, f.upload("", changed), http.StatusUnauthorized, survey.EUnauthorized)
	})
	t.Run("unknown parameter", func(t *testing.T) {
		resp := f.request(http.MethodPost, "/api/v1/questionnaires?force=1", survey.RoleAdmin, bytes.NewReader(changed), yamlCT...)
		refused(t, resp, http.StatusBadRequest, survey.EInvalid, `unknown parameter "force"`)
	})

	// Nothing was stored by any of them.
	var after struct {
		Questionnaires []versionJSON `json:"questionnaires"`
	}
	f.get("/api/v1/questionnaires", survey.RoleAdmin, http.StatusOK, &after)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("questionnaires changed after refused uploads (-before +after):\n%s", diff)
	}
	var d detailJSON
	f.get("/api/v1/questionnaires/post-call", survey.RoleAdmin, http.StatusOK, &d)
	if d.Version != 1 || d.Title != "Post-call satisfaction" || len(d.Versions) != 1 {
		t.Errorf("post-call after refused uploads: version %d %q, %d versions", d.Version, d.Title, len(d.Versions))
	}
}

func TestBadParameters(t *testing.T) {
	f := setup(t, cati.DefaultOptions(), nil)
	decode(t, f.upload(survey.RoleAdmin, questionnaireFile(t, "post-call.yaml")), http.StatusCreated, nil)
	for _, tc := range []struct{ path, msg string }{
		{"/api/v1/interviews?from=yesterday", "from: want RFC 3339 or YYYY-MM-DD"},
		{"/api/v1/interviews?to=2025-13-01", "to: want RFC 3339 or YYYY-MM-DD"},
		{"/api/v1/interviews?from=2025-03-01T10:00:00", "from: want RFC 3339 or YYYY-MM-DD"}, // no zone
		{"/api/v1/interviews?from=2025-03-02&to=2025-03-01", "from: 2025-03-02T00:00:00Z is not before to"},
		{"/api/v1/interviews?from=2025-03-01T10:00:00Z&to=2025-03-01T10:00:00Z", "from: 2025-03-01T10:00:00Z is not before to"},
		{"/api/v1/interviews?limit=0", "limit: want an integer from 1 to 1000"},
		{"/api/v1/interviews?mode=web", "mode: want one of ivr, cati"},
		{"/api/v1/interviews?limit=1001", "limit: want an integer from 1 to 1000"},
		{"/api/v1/interviews?limit=ten", "limit: want an integer from 1 to 1000"},
		{"/api/v1/interviews?after=-1", "after: want an integer of at least 0, not \"-1\""},
		{"/api/v1/interviews?after=x", "after: want an integer"},
		{"/api/v1/interviews?status=done", "status: want one of in_progress, complete, partial, breakoff"},
		{"/api/v1/interviews?form=2025-01-01", `unknown parameter "form": this endpoint takes questionnaire, status, mode, from, to, after, limit`},
		{"/api/v1/interviews?limit=1&limit=2", "limit: given 2 times"},
		{"/api/v1/interviews/abc", `interview id: want a positive integer, not "abc"`},
		{"/api/v1/interviews/0", "interview id: want a positive integer"},
		{"/api/v1/interviews/99999999999999999999", "interview id: want a positive integer"},
		{"/api/v1/questionnaires/post-call/versions/0", "version: want a positive integer"},
		{"/api/v1/questionnaires/post-call/versions/latest", "version: want a positive integer"},
		{"/api/v1/questionnaires/post-call/report?by=week", "by: want one of day, touchpoint, agent, queue"},
		{"/api/v1/questionnaires/post-call/report?from=01/03/2025", "from: want RFC 3339 or YYYY-MM-DD"},
		{"/api/v1/questionnaires/post-call/report?to=2025-03-01&from=2025-04-01", "from: 2025-04-01T00:00:00Z is not before to"},
		{"/api/v1/questionnaires/post-call/export.csv?paradata=yes", "paradata: want one of 0, 1"},
		{"/api/v1/questionnaires/post-call/export.csv?to=soon", "to: want RFC 3339 or YYYY-MM-DD"},
		{"/api/v1/questionnaires/post-call?verbose=1", `unknown parameter "verbose": this endpoint takes none`},
		// Text PostgreSQL cannot hold is refused naming where it was, not
		// passed on to fail in the database as a 500.
		{"/api/v1/interviews?questionnaire=%00", `questionnaire: "\x00" contains a NUL character (%00), which cannot be stored; remove it`},
		{"/api/v1/interviews?questionnaire=post%00call", `questionnaire: "post\x00call" contains a NUL character`},
		{"/api/v1/interviews?questionnaire=%ff", `questionnaire: "\xff" is not UTF-8 text; send UTF-8, percent-encoded in a URL`},
		{"/api/v1/questionnaires/post-call/report?from=%00", `from: "\x00" contains a NUL character`},
		{"/api/v1/questionnaires/%00", `questionnaire id: "\x00" contains a NUL character`},
		{"/api/v1/questionnaires/%ff", `questionnaire id: "\xff" is not UTF-8 text`},
		{"/api/v1/questionnaires/%00/versions/1", `questionnaire id: "\x00" contains a NUL character`},
		{"/api/v1/questionnaires/%00/report", `questionnaire id: "\x00" contains a NUL character`},
		{"/api/v1/questionnaires/%ff/export.csv", `questionnaire id: "\xff" is not UTF-8 text`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			refused(t, f.request(http.MethodGet, tc.path, survey.RoleSupervisor, nil), http.StatusBadRequest, survey.EInvalid, tc.msg)
		})
	}
}

func TestNotFound(t *testing.T) {
	f := setup(t, cati.DefaultOptions(), nil)
	decode(t, f.upload(survey.RoleAdmin, questionnaireFile(t, "post-call.yaml")), http.StatusCreated, nil)
	for _, tc := range []struct{ path, msg string }{
		{"/api/v1/questionnaires/nope", `no questionnaire "nope"`},
		{"/api/v1/questionnaires/nope/versions/1", `questionnaire "nope" has no version 1`},
		{"/api/v1/questionnaires/post-call/versions/2", `questionnaire "post-call" has no version 2`},
		{"/api/v1/questionnaires/post-call/versions/99999999999", `questionnaire "post-call" has no version 99999999999`},
		{"/api/v1/questionnaires/nope/report", `no questionnaire "nope"`},
		{"/api/v1/questionnaires/nope/export.csv", `no questionnaire "nope"`},
		{"/api/v1/interviews/12345", "no interview 12345"},
		{"/api/v1/surveys", "no such endpoint: GET /api/v1/surveys"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			refused(t, f.request(http.MethodGet, tc.path, survey.RoleSupervisor, nil), http.StatusNotFound, survey.ENotFound, tc.msg)
		})
	}
	// An export of an unknown questionnaire is an error, not an empty CSV.
	resp := f.request(http.MethodGet, "/api/v1/questionnaires/nope/export.csv", survey.RoleSupervisor, nil)
	if cd := resp.Header.Get("Content-Disposition"); cd != "" {
		t.Errorf("404 export has Content-Disposition %q", cd)
	}
}
