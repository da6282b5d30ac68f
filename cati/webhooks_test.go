package cati_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/cati"
	store "github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// receiver is a real HTTP receiver that can be down, checks every
// signature, and keeps what it took.
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	down   bool
	secret []string // any of these may sign
	got    []received
	seen   map[string]int // deliveries by id
	hs     *httptest.Server
}

type received struct {
	delivery string
	kind     string
	envelope map[string]any
	sigs     int
}

func newReceiver(t *testing.T, secret string) *receiver {
	rc := &receiver{t: t, secret: []string{secret}, seen: map[string]int{}}
	rc.hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.down {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		ok := false
		for _, s := range rc.secret {
			if cati.VerifySignature(r.Header.Get(cati.HeaderSignature), body, s, time.Now(), 5*time.Minute) == nil {
				ok = true
			}
		}
		if !ok {
			t.Errorf("delivery %s: signature %q does not verify", r.Header.Get(cati.HeaderDelivery), r.Header.Get(cati.HeaderSignature))
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var env map[string]any
		if err := json.Unmarshal(body, &env); err != nil {
			t.Errorf("delivery body %s: %v", body, err)
		}
		d := r.Header.Get(cati.HeaderDelivery)
		rc.seen[d]++
		rc.got = append(rc.got, received{delivery: d, kind: r.Header.Get(cati.HeaderEvent), envelope: env,
			sigs: strings.Count(r.Header.Get(cati.HeaderSignature), "v1=")})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.hs.Close)
	return rc
}

func (rc *receiver) set(down bool, secrets ...string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.down = down
	if len(secrets) > 0 {
		rc.secret = secrets
	}
}

func (rc *receiver) received() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// Webhooks end to end on a real PostgreSQL and a real HTTP receiver: the
// outbox is filled by the changes' own transactions; a receiver that is
// down gets everything, in order and once each, when it comes back; every
// delivery is signed and verifies; a rotated secret signs beside the old
// one; a delivery that keeps failing is dead-lettered and can be replayed;
// the API refuses bad subscriptions naming the field.
func TestWebhooksDeliverTheOutbox(t *testing.T) {
	opts := cati.WebhookOptions{Timeout: 2 * time.Second, MaxAttempts: 40, FirstRetry: 10 * time.Millisecond, MaxRetry: 40 * time.Millisecond,
		SecretOverlap: time.Hour, AllowPrivate: true, Poll: 10 * time.Millisecond}
	f := setup(t, cati.DefaultOptions(), nil, func(db *store.DB, d *cati.Deps) { d.Webhooks, d.WebhookOptions = db, opts })
	ctx := t.Context()
	f.upload(survey.RoleAdmin, questionnaireFile(t, "post-call.yaml"))
	rc := newReceiver(t, "")
	post := func(path, body string) *http.Response {
		return f.request(http.MethodPost, path, survey.RoleIntegrator, strings.NewReader(body), "Content-Type", "application/json")
	}
	var hook struct {
		survey.Webhook
		Secret string `json:"secret"`
	}
	decode(t, post("/api/v1/webhooks", `{"name": "crm", "url": "`+rc.hs.URL+`/hook", "event_types": ["interview.completed", "interview.ended", "alert.raised"]}`),
		http.StatusCreated, &hook)
	if !strings.HasPrefix(hook.Secret, "whsec_") || hook.ID == 0 || !hook.Active {
		t.Fatalf("created %+v", hook)
	}
	rc.set(true, hook.Secret)

	// Three interviews end while the receiver is down: each makes an
	// interview.ended, and a complete one an interview.completed too; a
	// detractor raises an alert.
	v, err := f.db.Questionnaire(ctx, "post-call", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		id, err := f.db.StartInterview(ctx, survey.InterviewRecord{Questionnaire: "post-call", Version: v.Version, Mode: survey.ModeIVR,
			Language: "en", Context: survey.Context{Touchpoint: "billing", CustomerID: "C-" + strconv.Itoa(i)}})
		if err != nil {
			t.Fatal(err)
		}
		alerts := []survey.Alert{{Rule: "detractor", Severity: "high", Due: time.Hour, Question: "nps"}}
		if err := f.db.SaveAnswerAlerts(ctx, id, survey.Answer{Question: "nps", Value: int64(3 * i)}, alerts); err != nil {
			t.Fatal(err)
		}
		status := survey.StatusComplete
		if i == 1 {
			status = survey.StatusBreakoff
		}
		if err := f.db.FinishInterview(ctx, id, status, "test", "nps"); err != nil {
			t.Fatal(err)
		}
	}
	d := f.server.Dispatcher()
	for range 5 {
		d.Step(ctx)
		time.Sleep(opts.MaxRetry)
	}
	if got := rc.received(); len(got) != 0 {
		t.Fatalf("a receiver that is down took %d deliveries", len(got))
	}
	var failed []survey.Delivery
	var list struct{ Deliveries []survey.Delivery }
	f.get("/api/v1/webhooks/"+strconv.FormatInt(int64(hook.ID), 10)+"/deliveries?state=pending", survey.RoleAdmin, http.StatusOK, &list)
	failed = list.Deliveries
	if len(failed) != 8 || len(failed[len(failed)-1].Log) == 0 || failed[len(failed)-1].Log[0].Status != http.StatusServiceUnavailable {
		t.Fatalf("pending while down: %d deliveries, oldest %+v; want 8 (3 ended, 2 completed, 3 alerts), the oldest tried and refused", len(failed), failed[len(failed)-1])
	}

	rc.set(false)
	waitDelivered := func(n int) []received {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for len(rc.received()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d deliveries arrived", len(rc.received()), n)
			}
			d.Step(ctx)
			time.Sleep(5 * time.Millisecond)
		}
		return rc.received()
	}
	got := waitDelivered(8)
	kinds := []string{}
	last := 0.0
	for _, g := range got {
		kinds = append(kinds, g.kind)
		id := g.envelope["id"].(float64)
		if id < last {
			t.Errorf("event %v delivered after %v: out of order", id, last)
		}
		last = id
		if g.envelope["version"] != 1.0 || g.envelope["type"] != g.kind || g.envelope["data"] == nil {
			t.Errorf("envelope %v", g.envelope)
		}
	}
	want := "alert.raised interview.ended interview.completed alert.raised interview.ended alert.raised interview.ended interview.completed"
	if strings.Join(kinds, " ") != want {
		t.Errorf("delivered %v, want %s", kinds, want)
	}
	for id, n := range rc.seen {
		if n != 1 {
			t.Errorf("delivery %s arrived %d times", id, n)
		}
	}
	data := got[1].envelope["data"].(map[string]any)
	if data["status"] != "complete" || data["answers"].(map[string]any)["nps"] != 0.0 ||
		data["context"].(map[string]any)["customer_id"] != "C-0" {
		t.Errorf("interview.ended data %v: want the status, answers and context", data)
	}

	// A rotated secret: the next deliveries carry both signatures; the
	// receiver that knows only the old one still verifies them.
	var rotated struct {
		survey.Webhook
		Secret string `json:"secret"`
	}
	resp := f.request(http.MethodPatch, "/api/v1/webhooks/"+strconv.FormatInt(int64(hook.ID), 10), survey.RoleIntegrator,
		strings.NewReader(`{"rotate_secret": true}`), "Content-Type", "application/json")
	decode(t, resp, http.StatusOK, &rotated)
	if rotated.Secret == "" || rotated.Secret == hook.Secret {
		t.Fatalf("rotation gave %q", rotated.Secret)
	}
	if _, err := f.db.AddEvent(ctx, survey.Event{Kind: "alert.raised", Payload: json.RawMessage(`{"rule": "x"}`)}); err != nil {
		t.Fatal(err)
	}
	if g := waitDelivered(9); g[8].sigs != 2 {
		t.Errorf("after a rotation: %d signatures, want the new and the old", g[8].sigs)
	}

	// Keeps failing: dead-lettered after MaxAttempts, the next goes on;
	// replayed once the receiver is fixed.
	dead := cati.NewDispatcher(f.db, cati.WebhookOptions{Timeout: time.Second, MaxAttempts: 2, FirstRetry: 10 * time.Millisecond,
		MaxRetry: 10 * time.Millisecond, AllowPrivate: true, Poll: 10 * time.Millisecond}, slog.New(slog.DiscardHandler))
	rc.set(true)
	if _, err := f.db.AddEvent(ctx, survey.Event{Kind: "alert.raised", Payload: json.RawMessage(`{"rule": "y"}`)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		dead.Step(ctx)
		f.get("/api/v1/webhooks/"+strconv.FormatInt(int64(hook.ID), 10)+"/deliveries?state=dead", survey.RoleAdmin, http.StatusOK, &list)
		if len(list.Deliveries) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the failing delivery was never dead-lettered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rc.set(false)
	var a survey.DeliveryAttempt
	decode(t, post("/api/v1/webhooks/"+strconv.FormatInt(int64(hook.ID), 10)+"/deliveries/"+strconv.FormatInt(list.Deliveries[0].ID, 10)+"/replay", ``),
		http.StatusOK, &a)
	if a.Status != http.StatusNoContent || len(rc.received()) != 10 {
		t.Errorf("replay: %+v, %d received", a, len(rc.received()))
	}

	for _, tc := range []struct{ body, want string }{
		{`{"url": "ftp://crm.example.com/", "event_types": ["alert.raised"]}`, "url: scheme"},
		{`{"url": "https://crm.example.com/", "event_types": ["alert.rased"]}`, `event_types: "alert.rased" is not one of`},
		{`{"url": "https://crm.example.com/", "event_types": []}`, "event_types: name at least one"},
		{`{"url": "https://crm.example.com/", "event_types": ["alert.raised"], "secret": "short"}`, "secret: at least 16"},
	} {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		decode(t, post("/api/v1/webhooks", tc.body), http.StatusBadRequest, &e)
		if !strings.Contains(e.Error.Message, tc.want) {
			t.Errorf("%s: %q, want …%s…", tc.body, e.Error.Message, tc.want)
		}
	}
}

// Receivers that misbehave cost a bounded try: one that hangs times out,
// one that answers forever is read no further than 64 KB, and a loopback
// or private address is refused unless allowed (SSRF), whatever the URL's
// host name.
func TestWebhookReceiversThatMisbehave(t *testing.T) {
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer slow.Close()
	defer close(hang) // before Close, which waits for the handler
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat("x", 1<<16))
		for range 1 << 12 { // 256 MB unless the client stops reading
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer huge.Close()
	f := setup(t, cati.DefaultOptions(), nil, func(db *store.DB, d *cati.Deps) { d.Webhooks = db })
	ctx := t.Context()
	attempt := func(url string, allow bool) survey.DeliveryAttempt {
		t.Helper()
		hook, err := f.db.CreateWebhook(ctx, survey.Webhook{URL: url, EventTypes: []string{"alert.raised"}, Active: true, Secret: "0123456789abcdef0123"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.AddEvent(ctx, survey.Event{Kind: "alert.raised"}); err != nil {
			t.Fatal(err)
		}
		d := cati.NewDispatcher(f.db, cati.WebhookOptions{Timeout: 300 * time.Millisecond, MaxAttempts: 5, FirstRetry: time.Hour, MaxRetry: time.Hour,
			AllowPrivate: allow, Poll: time.Second}, slog.New(slog.DiscardHandler))
		start := time.Now()
		d.Step(ctx)
		if time.Since(start) > 5*time.Second {
			t.Errorf("%s: a try took %s", url, time.Since(start))
		}
		ds, err := f.db.Deliveries(ctx, hook.ID, "", 10)
		if err != nil || len(ds) != 1 || len(ds[0].Log) != 1 {
			t.Fatalf("%s: deliveries %+v %v", url, ds, err)
		}
		if err := f.db.DeleteWebhook(ctx, hook.ID); err != nil {
			t.Fatal(err)
		}
		return ds[0].Log[0]
	}
	if a := attempt(slow.URL, true); a.Status != 0 || !strings.Contains(strings.ToLower(a.Error), "timeout") && !strings.Contains(a.Error, "deadline") {
		t.Errorf("hanging receiver: %+v; want a timeout", a)
	}
	if a := attempt(huge.URL, true); a.Status != http.StatusOK {
		t.Errorf("endless answer: %+v; want delivered, the answer read no further than needed", a)
	}
	localhost := strings.Replace(huge.URL, "127.0.0.1", "localhost", 1)
	if a := attempt(localhost, false); a.Status != 0 || !strings.Contains(a.Error, "refused (webhooks.allow_private)") {
		t.Errorf("loopback receiver in production: %+v; want refused", a)
	}
}

// The signature header is read from a receiver's point of view: whatever
// the header, VerifySignature never panics and accepts only a signature
// made with the secret over that body.
func FuzzVerifySignature(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":1,"type":"alert.raised","version":1}`)
	f.Add(cati.Sign(body, now, "s3cret-s3cret-s3cret"), body)
	f.Add("t=1800000000,v1=00", body)
	f.Add("v1=,t=,v1", []byte{})
	f.Add(",,,=", []byte("x"))
	f.Fuzz(func(t *testing.T, header string, b []byte) {
		err := cati.VerifySignature(header, b, "s3cret-s3cret-s3cret", now, 5*time.Minute)
		if err == nil && header != cati.Sign(b, now, "s3cret-s3cret-s3cret") && !strings.Contains(header, strings.TrimPrefix(cati.Sign(b, now, "s3cret-s3cret-s3cret"), "t=1800000000,")) {
			t.Errorf("header %q verified for body %q", header, b)
		}
	})
}
