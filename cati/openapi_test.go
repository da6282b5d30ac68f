package cati_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/canvass/canvass/cati"
	store "github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// The OpenAPI document matches the real handlers: every route is
// documented, every documented operation is served (a request to it never
// falls through to "no such endpoint" nor gets 405), and the webhooks'
// events are described with their versioned envelope.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f := setup(t, cati.DefaultOptions(), nil, func(db *store.DB, d *cati.Deps) {
		d.Requests, d.RequestRules, d.Webhooks, d.DNC = db, survey.DefaultRequestRules(), db, db
		withConsole(db, d)
		d.Console.Alerts = db
	})
	resp := f.request(http.MethodGet, "/api/v1/openapi.json", "", nil)
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Webhooks   map[string]any                        `json:"webhooks"`
		Info       any                                   `json:"info"`
		Components any                                   `json:"components"`
		Security   any                                   `json:"security"`
	}
	decode(t, resp, http.StatusOK, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	routes := cati.Routes(f.server)
	slices.Sort(documented)
	slices.Sort(routes)
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not documented", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("documented %s is not a route", d)
		}
		method, path, _ := strings.Cut(d, " ")
		for _, seg := range []string{"{id}", "{version}", "{lang}", "{prompt}", "{name}", "{phone}", "{delivery}"} {
			path = strings.ReplaceAll(path, seg, "1")
		}
		resp := f.request(method, path, survey.RoleAdmin, strings.NewReader("{}"), "Content-Type", "application/json")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusMethodNotAllowed || strings.Contains(string(body), "no such endpoint") {
			t.Errorf("%s %s: %d %s — the documented operation is not served", method, path, resp.StatusCode, body)
		}
	}
	for _, e := range survey.WebhookEvents {
		if doc.Webhooks[e] == nil {
			t.Errorf("event %s is not described", e)
		}
	}
}
