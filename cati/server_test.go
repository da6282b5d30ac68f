package cati_test

// The server as operators meet it: options, tokens, health, metrics,
// failures that are ours (500 without details), and a clean shutdown.

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

func TestOptions(t *testing.T) {
	if err := cati.DefaultOptions().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if d := cati.DefaultOptions(); d.Addr != "127.0.0.1:8080" || d.MaxBodyBytes != 1<<20 {
		t.Errorf("defaults %+v", d)
	}
	for _, ok := range []cati.Options{{Addr: ":8080", MaxBodyBytes: 1 << 10}, {Addr: "[::1]:0", MaxBodyBytes: 64 << 20}, {Addr: "canvass.example:443", MaxBodyBytes: 1 << 20}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
	for _, tc := range []struct {
		opts cati.Options
		want []string
	}{
		{cati.Options{}, []string{"http.addr: \"\" is not host:port", "http.max_body_bytes: must be between 1024 and 67108864, not 0"}},
		{cati.Options{Addr: "localhost", MaxBodyBytes: 1 << 30}, []string{"http.addr: \"localhost\" is not host:port", "http.max_body_bytes"}},
		{cati.Options{Addr: "127.0.0.1:99999", MaxBodyBytes: 1 << 20}, []string{"http.addr: port \"99999\""}},
		{cati.Options{Addr: "bad host!:80", MaxBodyBytes: 1 << 20}, []string{"http.addr: \"bad host!\" is not an IP address or host name"}},
	} {
		err := tc.opts.Validate()
		if err == nil {
			t.Errorf("%+v: valid", tc.opts)
			continue
		}
		if n := len(strings.Split(err.Error(), "\n")); n != len(tc.want) {
			t.Errorf("%+v: %d problems, want %d: %v", tc.opts, n, len(tc.want), err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: %q does not mention %q", tc.opts, err, w)
			}
		}
	}
}

func TestToken(t *testing.T) {
	a, ha, err := cati.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := cati.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a, "cnv_") || len(a) != 4+43 || strings.ContainsAny(a[4:], "+/=") {
		t.Errorf("token %q: want cnv_ and 43 base64url characters", a)
	}
	if a == b {
		t.Error("two tokens are equal")
	}
	sum := sha256.Sum256([]byte(a))
	if string(ha) != string(sum[:]) || string(cati.HashToken(a)) != string(sum[:]) {
		t.Error("the hash is not the SHA-256 of the whole token")
	}
}

func TestHealth(t *testing.T) {
	f := setup(t, cati.DefaultOptions(), nil)
	var body map[string]string
	f.get("/healthz", "", http.StatusOK, &body)
	if body["status"] != "ok" {
		t.Errorf("healthz %v", body)
	}
	// The database goes away: the probe says so.
	f.db.Close()
	f.get("/healthz", "", http.StatusServiceUnavailable, &body)
	if body["status"] != "unavailable" {
		t.Errorf("healthz %v", body)
	}
	if !strings.Contains(f.logs.String(), "store unreachable") {
		t.Error("the cause was not logged")
	}
}

func TestMetrics(t *testing.T) {
	f := setup(t, cati.DefaultOptions(), nil)
	decode(t, f.request(http.MethodGet, "/healthz", "", nil), http.StatusOK, nil)
	decode(t, f.request(http.MethodGet, "/healthz", "", nil), http.StatusOK, nil)
	decode(t, f.request(http.MethodGet, "/api/v1/questionnaires", "", nil), http.StatusUnauthorized, nil)
	decode(t, f.request(http.MethodGet, "/api/v1/interviews/7", survey.RoleAdmin, nil), http.StatusNotFound, nil)
	decode(t, f.request(http.MethodGet, "/api/v1/interviews/8", survey.RoleAdmin, nil), http.StatusNotFound, nil)
	decode(t, f.request(http.MethodGet, "/nowhere", "", nil), http.StatusNotFound, nil)
	resp := f.request(http.MethodGet, "/metrics", "", nil)
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{
		`canvass_http_requests_total{code="200",route="GET /healthz"} 2`,
		`canvass_http_requests_total{code="401",route="GET /api/v1/questionnaires"} 1`,
		// The route is the pattern, not the path: ids do not make new series.
		`canvass_http_requests_total{code="404",route="GET /api/v1/interviews/{id}"} 2`,
		`canvass_http_requests_total{code="404",route="unmatched"} 1`,
		`canvass_http_request_duration_seconds_count{route="GET /healthz"} 2`,
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// broken stands between the server and the database to fail on purpose.
type broken struct {
	cati.Store
	tallyErr error
	rows     int // EachInterview yields the first interview this many times, then fails
}

var errLost = errors.New("read tcp 10.0.0.5:5432: connection reset by peer (secret detail)")

func (b broken) Tally(ctx context.Context, q survey.ReportQuery) ([]survey.Tally, error) {
	if b.tallyErr != nil {
		return nil, b.tallyErr
	}
	return b.Store.Tally(ctx, q)
}

func (b broken) EachInterview(ctx context.Context, f survey.InterviewFilter, fn func(survey.InterviewRecord) error) error {
	err := b.Store.EachInterview(ctx, f, func(r survey.InterviewRecord) error {
		for range b.rows {
			if err := fn(r); err != nil {
				return err
			}
		}
		return errLost
	})
	return fmt.Errorf("list interviews: %w", err)
}

func TestInternalErrors(t *testing.T) {
	t.Run("report", func(t *testing.T) {
		f := setup(t, cati.DefaultOptions(), func(s cati.Store) cati.Store { return broken{Store: s, tallyErr: errLost} })
		decode(t, f.upload(survey.RoleAdmin, questionnaireFile(t, "post-call.yaml")), http.StatusCreated, nil)
		e := refused(t, f.request(http.MethodGet, "/api/v1/questionnaires/post-call/report", survey.RoleAdmin, nil),
			http.StatusInternalServerError, survey.EInternal, "internal error; the details are in the server log")
		if strings.Contains(e.Error.Message, "secret") {
			t.Errorf("the cause reached the client: %q", e.Error.Message)
		}
		if logs := f.logs.String(); !strings.Contains(logs, "secret detail") || !strings.Contains(logs, "token=test-admin") {
			t.Errorf("the cause and the caller were not logged:\n%s", logs)
		}
	})
	t.Run("export before the first byte", func(t *testing.T) {
		f := setup(t, cati.DefaultOptions(), func(s cati.Store) cati.Store { return broken{Store: s, rows: 3} })
		decode(t, f.upload(survey.RoleAdmin, questionnaireFile(t, "post-call.yaml")), http.StatusCreated, nil)
		seed(t, f.db, postCallInterviews[:1])
		resp := f.request(http.MethodGet, "/api/v1/questionnaires/post-call/export.csv", survey.RoleAdmin, nil)
		refused(t, resp, http.StatusInternalServerError, survey.EInternal)
		if cd := resp.Header.Get("Content-Disposition"); cd != "" {
			t.Errorf("failed export has Content-Disposition %q", cd)
		}
	})
	t.Run("export mid-stream", func(t *testing.T) {
		// Enough rows to be flushed to the client before the failure: the
		// client must see a broken transfer, not a CSV that merely ends.
		f := setup(t, cati.DefaultOptions(), func(s cati.Store) cati.Store { return broken{Store: s, rows: 1000} })
		decode(t, f.upload(survey.RoleAdmin, questionnaireFile(t, "post-call.yaml")), http.StatusCreated, nil)
		seed(t, f.db, postCallInterviews[:1])
		resp := f.request(http.MethodGet, "/api/v1/questionnaires/post-call/export.csv", survey.RoleAdmin, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		b, err := io.ReadAll(resp.Body)
		if err == nil {
			t.Fatalf("read %d bytes and a clean end", len(b))
		}
		if len(b) == 0 {
			t.Error("no rows reached the client before the failure")
		}
		if !strings.Contains(f.logs.String(), "export failed mid-stream") {
			t.Error("the failure was not logged")
		}
	})
}

// blockingPing holds /healthz until released, to have a request in flight.
type blockingPing struct {
	cati.Store
	entered, release chan struct{}
}

func (b blockingPing) Ping(ctx context.Context) error {
	close(b.entered)
	<-b.release
	return b.Store.Ping(ctx)
}

func TestRun(t *testing.T) {
	db := sqltest.New(t)
	st := blockingPing{Store: db, entered: make(chan struct{}), release: make(chan struct{})}
	opts := cati.DefaultOptions()
	opts.Addr = "127.0.0.1:0"
	srv, err := cati.New(cati.Deps{Options: opts, Store: st, Tokens: db, Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Addr() != "" {
		t.Errorf("Addr before Listen: %q", srv.Addr())
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	if !strings.HasPrefix(addr, "127.0.0.1:") || addr == "127.0.0.1:0" {
		t.Fatalf("Addr %q", addr)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	// A request in flight when the context ends still gets its answer.
	answered := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		answered <- err
	}()
	<-st.entered
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Run returned with a request in flight: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(st.release)
	if err := <-answered; err != nil {
		t.Errorf("in-flight request: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("still serving after shutdown")
	}
}
