package cati_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/canvass/canvass/cati"
	store "github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// The webhooks' admin page: an admin subscribes (the secret shown once),
// pauses, rotates, reads the delivery log and replays a delivery; a bad
// URL is refused naming the field; supervisors cannot open it.
func TestWebhooksAdminPage(t *testing.T) {
	rc := newReceiver(t, "")
	cf := newConsoleWith(t, func(db *store.DB, d *cati.Deps) {
		withConsole(db, d)
		d.Webhooks = db
		d.WebhookOptions = cati.DefaultWebhookOptions()
		d.WebhookOptions.AllowPrivate = true
	})
	ada := cf.login("ada")
	body := func(r *http.Response) string {
		t.Helper()
		b, _ := io.ReadAll(r.Body)
		return string(b)
	}
	r := ada.post("/admin/webhooks", url.Values{"csrf": {ada.csrf}, "name": {"crm"}, "url": {rc.hs.URL + "/hook"}, "event": {"alert.raised", "case.finalized"}})
	page := body(r)
	secret := regexp.MustCompile(`<code>(whsec_[0-9a-f]+)</code>`).FindStringSubmatch(page)
	if r.StatusCode != http.StatusOK || secret == nil || !strings.Contains(page, `data-webhook="1"`) {
		t.Fatalf("subscribe: %d\n%s", r.StatusCode, page)
	}
	rc.set(false, secret[1])
	if _, err := cf.db.AddEvent(t.Context(), survey.Event{Kind: "alert.raised"}); err != nil {
		t.Fatal(err)
	}
	if page := body(ada.get("/admin/webhooks/1")); !strings.Contains(page, `data-state="pending"`) {
		t.Errorf("deliveries page:\n%s", page)
	}
	r = ada.post("/admin/webhooks/1/deliveries/1/replay", url.Values{"csrf": {ada.csrf}})
	if r.StatusCode != http.StatusSeeOther || len(rc.received()) != 1 {
		t.Errorf("replay: %d, %d received", r.StatusCode, len(rc.received()))
	}
	if page := body(ada.get("/admin/webhooks/1")); !strings.Contains(page, `data-state="delivered"`) || !strings.Contains(page, "HTTP 204") {
		t.Errorf("after the replay:\n%s", page)
	}
	if r := ada.post("/admin/webhooks/1/active", url.Values{"csrf": {ada.csrf}, "active": {"0"}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("pause: %d", r.StatusCode)
	}
	if page := body(ada.post("/admin/webhooks/1/rotate", url.Values{"csrf": {ada.csrf}})); !strings.Contains(page, "<code>whsec_") || strings.Contains(page, secret[1]) {
		t.Errorf("rotate: the new secret, once, and not the old one")
	}
	if page := body(ada.post("/admin/webhooks", url.Values{"csrf": {ada.csrf}, "url": {"gopher://x"}, "event": {"alert.raised"}})); !strings.Contains(page, "url: scheme") {
		t.Errorf("a bad URL:\n%s", page)
	}
	if r := cf.login("sam").get("/admin/webhooks"); r.StatusCode != http.StatusForbidden {
		t.Errorf("a supervisor: %d", r.StatusCode)
	}
}
