package cati_test

// BenchmarkDashboard1M measures the dashboard page (every chart and table,
// as a supervisor's browser asks for it) over 1,000,000 generated post-call
// interviews spread over the last 365 days (about 2,700 a day, 4 answers
// each, 6 touchpoints, 200 agents, 10 queues, two languages), p95 and p50
// per request:
//
//   - last-30-days: the default view, past days read from the roll-up;
//   - year-by-month: the trailing twelve months from the 1st (about
//     920,000 interviews), by month;
//   - last-30-days-no-rollup: the default view with every day marked
//     changed, so counted from the interviews as before the roll-up existed.
//
// Generating the data and rolling it up takes a minute or two; the time
// the roll-up took is reported once in the log.

import (
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/canvass/canvass/cati"
	store "github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
)

var benchInterviews = flag.Int("dashboard-interviews", 1_000_000, "interviews BenchmarkDashboard1M generates")

func BenchmarkDashboard1M(b *testing.B) {
	interviews := *benchInterviews
	db := sqltest.New(b)
	ctx := b.Context()
	src := questionnaireFile(b, "post-call.yaml")
	q, err := survey.Parse(src)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := db.PutQuestionnaire(ctx, q.Version(src)); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for _, stmt := range []string{
		`ALTER TABLE interview DISABLE TRIGGER interview_report`,
		`ALTER TABLE answer DISABLE TRIGGER answer_report`,
		`INSERT INTO interview (questionnaire_id, version, mode, language, status, context, started_at, ended_at, last_question)
		 SELECT 'post-call', 1, 'ivr', CASE WHEN g % 3 = 0 THEN 'fr' ELSE 'en' END,
		        CASE WHEN g % 10 = 0 THEN 'partial' WHEN g % 17 = 0 THEN 'breakoff' ELSE 'complete' END,
		        jsonb_build_object('touchpoint', (ARRAY['web', 'phone', 'store', 'app', 'billing', 'delivery'])[1 + g % 6],
		                           'agent', 'agent' || g % 200, 'queue', 'q' || g % 10, 'customer_id', 'c' || g % 300000),
		        t, t + interval '3 minutes', CASE WHEN g % 10 = 0 THEN 'ces' WHEN g % 17 = 0 THEN 'csat' ELSE 'resolved' END
		 FROM generate_series(1, ` + strconv.Itoa(interviews) + `) g,
		      LATERAL (SELECT now() - interval '365 days' * (g::float8 / ` + strconv.Itoa(interviews) + `) AS t) s`,
		`INSERT INTO answer (interview_id, question_id, value)
		 SELECT id, q, to_jsonb(v)
		 FROM interview,
		      LATERAL (VALUES ('nps', (id * 7) % 11), ('csat', 1 + (id * 3) % 5), ('ces', 1 + id % 7)) a (q, v)
		 WHERE q = 'nps' OR status <> 'breakoff'`,
		`INSERT INTO answer (interview_id, question_id, value)
		 SELECT id, 'resolved', to_jsonb(id % 4 <> 0) FROM interview WHERE status = 'complete'`,
		`ALTER TABLE interview ENABLE TRIGGER interview_report`,
		`ALTER TABLE answer ENABLE TRIGGER answer_report`,
		`INSERT INTO report_dirty SELECT DISTINCT questionnaire_id, (started_at AT TIME ZONE 'UTC')::date FROM interview`,
		`VACUUM ANALYZE interview`, `VACUUM ANALYZE answer`,
	} {
		if _, err := db.Pool().Exec(ctx, stmt); err != nil {
			b.Fatalf("%.60s: %v", stmt, err)
		}
	}
	b.Logf("generated %d interviews in %s", interviews, time.Since(start).Round(time.Second))
	start = time.Now()
	days := 0
	for {
		n, err := db.RollUp(ctx, 100)
		if err != nil {
			b.Fatal(err)
		}
		if days += n; n == 0 {
			break
		}
	}
	if _, err := db.Pool().Exec(ctx, `VACUUM ANALYZE report_slice, report_slice_answer, report_slice_stop, report_dirty`); err != nil {
		b.Fatal(err)
	}
	b.Logf("rolled up %d days in %s", days, time.Since(start).Round(time.Millisecond))

	// The server's pool is production's default size (database.max_conns),
	// not the test harness's four: the page's queries run side by side.
	srvDB, err := store.Open(ctx, db.Pool().Config().ConnString(), store.DefaultOptions().MaxConns)
	if err != nil {
		b.Fatal(err)
	}
	defer srvDB.Close()
	d := cati.Deps{Options: cati.DefaultOptions(), Store: srvDB, Tokens: srvDB, Log: discardLog()}
	withConsole(srvDB, &d)
	srv, err := cati.New(d)
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.AddUser(ctx, "sam", survey.RoleSupervisor, hash); err != nil {
		b.Fatal(err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login, err := http.NewRequest(http.MethodPost, hs.URL+"/login", strings.NewReader(url.Values{"name": {"sam"}, "password": {testPassword}}.Encode()))
	if err != nil {
		b.Fatal(err)
	}
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := client.Do(login); err != nil || resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("login: %v", err)
	}

	page := func(b *testing.B, query string) {
		var took []time.Duration
		for b.Loop() {
			t0 := time.Now()
			resp, err := client.Get(hs.URL + "/dashboard?questionnaire=post-call" + query)
			if err != nil {
				b.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("dashboard: %d %v\n%.500s", resp.StatusCode, err, body)
			}
			took = append(took, time.Since(t0))
		}
		slices.Sort(took)
		// Nearest rank: the smallest time at least 95 % of the requests took
		// no longer than.
		p95 := took[(len(took)*95+99)/100-1]
		b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
		b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	}
	// The trailing twelve months, from the 1st: eleven whole months and this
	// month's days.
	y, m, _ := time.Now().UTC().AddDate(0, -11, 0).Date()
	year := "&from=" + time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339) + "&interval=month"
	b.Run("last-30-days", func(b *testing.B) { page(b, "") })
	b.Run("year-by-month", func(b *testing.B) { page(b, year) })
	b.Run("last-30-days-touchpoint", func(b *testing.B) { page(b, "&field=touchpoint&value=billing") })
	if _, err := db.Pool().Exec(context.Background(), `INSERT INTO report_dirty SELECT DISTINCT questionnaire_id, (started_at AT TIME ZONE 'UTC')::date FROM interview ON CONFLICT DO NOTHING`); err != nil {
		b.Fatal(err)
	}
	b.Run("last-30-days-no-rollup", func(b *testing.B) { page(b, "") })
}
