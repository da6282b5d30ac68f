package cati_test

// The round trip an integrator makes: upload questionnaires, let the IVR and
// the console store interviews (here straight through the sql store), then
// list and read them, report on them and export them as CSV.

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/canvass/canvass/cati"
	store "github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// versionJSON is a questionnaire version as the API shows it.
type versionJSON struct {
	ID        string    `json:"id"`
	Version   int       `json:"version"`
	Title     string    `json:"title"`
	Languages []string  `json:"languages"`
	CreatedAt time.Time `json:"created_at"`
}

type detailJSON struct {
	versionJSON
	Versions []struct {
		Version   int       `json:"version"`
		Title     string    `json:"title"`
		CreatedAt time.Time `json:"created_at"`
	} `json:"versions"`
	Questions []struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"questions"`
}

type sourceJSON struct {
	versionJSON
	Source string `json:"source"`
}

type pageJSON struct {
	Interviews []survey.InterviewRecord `json:"interviews"`
	Next       string                   `json:"next"`
}

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// seeded is one stored interview: what the IVR would have stored.
type seeded struct {
	rec     survey.InterviewRecord
	answers []survey.Answer
	end     survey.Status // "" = still in progress
	cause   string
	last    string
}

// seed stores interviews as the IVR and the console do: start, one answer
// at a time, then finish. It returns their ids in order.
func seed(t *testing.T, db *store.DB, interviews []seeded) []survey.InterviewID {
	t.Helper()
	ctx := t.Context()
	var ids []survey.InterviewID
	for _, s := range interviews {
		id, err := db.StartInterview(ctx, s.rec)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range s.answers {
			a.AnsweredAt = s.rec.StartedAt.Add(time.Duration(i+1) * 10 * time.Second)
			if err := db.SaveAnswer(ctx, id, a); err != nil {
				t.Fatal(err)
			}
		}
		if s.end != "" {
			if err := db.FinishInterview(ctx, id, s.end, s.cause, s.last); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, id)
	}
	return ids
}

func answer(q string, v any, pd survey.Paradata) survey.Answer {
	return survey.Answer{Question: q, Value: v, Paradata: pd}
}

func skipped(q string, pd survey.Paradata) survey.Answer {
	return survey.Answer{Question: q, Skipped: true, Paradata: pd}
}

// postCallInterviews: two complete on 1 March, a break-off and one in
// progress on 2 March. Caller numbers include a formula and plain numbers.
var postCallInterviews = []seeded{{
	rec: survey.InterviewRecord{Questionnaire: "post-call", Version: 1, Mode: survey.ModeIVR, Language: "en",
		StartedAt: day("2025-03-01T10:00:00Z"),
		Context:   survey.Context{Agent: "alice", Queue: "billing", CallID: "c-1", Touchpoint: "phone", CallerNumber: "+15551230001"}},
	answers: []survey.Answer{
		answer("nps", int64(10), survey.Paradata{RawKeys: "10#", FirstKeyMillis: 850, BargeIn: true}),
		answer("csat", int64(5), survey.Paradata{RawKeys: "5", FirstKeyMillis: 1200}),
		answer("ces", int64(7), survey.Paradata{RawKeys: "7", FirstKeyMillis: 900}),
		answer("resolved", true, survey.Paradata{RawKeys: "1", FirstKeyMillis: 700}),
	},
	end: survey.StatusComplete, cause: "completed",
}, {
	rec: survey.InterviewRecord{Questionnaire: "post-call", Version: 1, Mode: survey.ModeIVR, Language: "fr",
		StartedAt: day("2025-03-01T11:00:00Z"),
		Context:   survey.Context{Agent: "bob", Queue: "billing", CallID: "c-2", Touchpoint: "web", CallerNumber: "=cmd|' /C calc'!A0"}},
	answers: []survey.Answer{
		answer("nps", int64(3), survey.Paradata{RawKeys: "#3", FirstKeyMillis: 4100, NoInput: 1}),
		answer("why", "recordings/2.wav", survey.Paradata{RecordingMS: 5000}),
		answer("csat", int64(2), survey.Paradata{RawKeys: "2"}),
		skipped("ces", survey.Paradata{RawKeys: "999", FirstKeyMillis: 300, NoMatch: 3}),
		answer("resolved", false, survey.Paradata{RawKeys: "2", FirstKeyMillis: 650}),
		answer("callback", "yes", survey.Paradata{RawKeys: "1", FirstKeyMillis: 500}),
	},
	end: survey.StatusComplete, cause: "completed",
}, {
	rec: survey.InterviewRecord{Questionnaire: "post-call", Version: 1, Mode: survey.ModeCATI, Language: "en",
		StartedAt: day("2025-03-02T09:00:00Z"),
		Context:   survey.Context{Agent: "alice", Queue: "support", Touchpoint: "phone", CallerNumber: "+1 (555) 123-0003"}},
	answers: []survey.Answer{answer("nps", int64(8), survey.Paradata{})},
	end:     survey.StatusBreakoff, cause: "hangup", last: "csat",
}, {
	rec: survey.InterviewRecord{Questionnaire: "post-call", Version: 1, Mode: survey.ModeIVR, Language: "en",
		StartedAt: day("2025-03-02T12:00:00Z"),
		Context:   survey.Context{Agent: "alice", Queue: "billing", CallerNumber: "-42"}},
	answers: []survey.Answer{answer("nps", int64(9), survey.Paradata{RawKeys: "9", FirstKeyMillis: 400})},
}}

func TestRoundTrip(t *testing.T) {
	f := setup(t, cati.DefaultOptions(), nil)
	postCall := questionnaireFile(t, "post-call.yaml")
	study := questionnaireFile(t, "customer-study.yaml")

	// Upload: new, then identical, then another questionnaire.
	var v versionJSON
	resp := f.upload(survey.RoleIntegrator, postCall)
	decode(t, resp, http.StatusCreated, &v)
	if v.ID != "post-call" || v.Version != 1 || v.Title != "Post-call satisfaction" || !cmp.Equal(v.Languages, []string{"en", "fr"}) || v.CreatedAt.IsZero() {
		t.Fatalf("uploaded %+v", v)
	}
	if loc := resp.Header.Get("Location"); loc != "/api/v1/questionnaires/post-call/versions/1" {
		t.Errorf("Location %q", loc)
	}
	decode(t, f.upload(survey.RoleAdmin, postCall), http.StatusOK, &v)
	if v.Version != 1 {
		t.Errorf("identical upload made version %d, want 1 kept", v.Version)
	}
	decode(t, f.request(http.MethodPost, "/api/v1/questionnaires", survey.RoleAdmin, bytes.NewReader(study), "Content-Type", "text/yaml; charset=utf-8"), http.StatusCreated, &v)

	var list struct {
		Questionnaires []versionJSON `json:"questionnaires"`
	}
	f.get("/api/v1/questionnaires", survey.RoleSupervisor, http.StatusOK, &list)
	if got := summarize(list.Questionnaires); got != "customer-study v1, post-call v1" {
		t.Errorf("list: %s", got)
	}

	ids := seed(t, f.db, postCallInterviews)

	t.Run("list interviews", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			want  []survey.InterviewID
			next  string
		}{
			{"?questionnaire=post-call", ids, ""},
			{"", ids, ""},
			{"?questionnaire=customer-study", nil, ""},
			{"?limit=2", ids[:2], fmt.Sprint(ids[1])},
			{fmt.Sprintf("?limit=2&after=%d", ids[1]), ids[2:], fmt.Sprint(ids[3])},
			{fmt.Sprintf("?limit=2&after=%d", ids[3]), nil, ""},
			{"?status=complete", ids[:2], ""},
			{"?status=in_progress", ids[3:], ""},
			{"?mode=cati", ids[2:3], ""},
			{"?mode=ivr&status=complete", ids[:2], ""},
			{"?from=2025-03-02", ids[2:], ""},
			{"?to=2025-03-01", ids[:2], ""}, // a date as the end: the whole day
			{"?from=2025-03-01T10:30:00Z&to=2025-03-02T09:00:00Z", ids[1:2], ""},
			{"?from=2025-03-01T12:30:00%2B02:00&to=2025-03-02T10:00:01%2B01:00", ids[1:3], ""},
		} {
			var page pageJSON
			f.get("/api/v1/interviews"+tc.query, survey.RoleSupervisor, http.StatusOK, &page)
			var got []survey.InterviewID
			for _, r := range page.Interviews {
				got = append(got, r.ID)
				if r.Answers != nil {
					t.Errorf("%s: interview %d listed with answers", tc.query, r.ID)
				}
			}
			if !cmp.Equal(got, tc.want) || page.Next != tc.next {
				t.Errorf("%s: got %v next %q, want %v next %q", tc.query, got, page.Next, tc.want, tc.next)
			}
		}
	})

	t.Run("get interview", func(t *testing.T) {
		var rec survey.InterviewRecord
		f.get(fmt.Sprintf("/api/v1/interviews/%d", ids[1]), survey.RoleIntegrator, http.StatusOK, &rec)
		want := postCallInterviews[1]
		if rec.ID != ids[1] || rec.Status != survey.StatusComplete || rec.Language != "fr" || rec.EndCause != "completed" ||
			rec.EndedAt == nil || !rec.StartedAt.Equal(want.rec.StartedAt) || !cmp.Equal(rec.Context, want.rec.Context) {
			t.Errorf("interview: %+v", rec)
		}
		var got []string
		for _, a := range rec.Answers {
			got = append(got, fmt.Sprintf("%s=%v skipped=%v keys=%q", a.Question, a.Value, a.Skipped, a.Paradata.RawKeys))
		}
		wantAnswers := []string{
			`nps=3 skipped=false keys="#3"`,
			`why=recordings/2.wav skipped=false keys=""`,
			`csat=2 skipped=false keys="2"`,
			`ces=<nil> skipped=true keys="999"`,
			`resolved=false skipped=false keys="2"`,
			`callback=yes skipped=false keys="1"`,
		}
		if diff := cmp.Diff(wantAnswers, got); diff != "" {
			t.Errorf("answers (-want +got):\n%s", diff)
		}
	})

	t.Run("report by day", func(t *testing.T) {
		var r survey.Report
		f.get("/api/v1/questionnaires/post-call/report?from=2025-03-01&to=2025-03-02", survey.RoleSupervisor, http.StatusOK, &r)
		if !r.From.Equal(day("2025-03-01T00:00:00Z")) || !r.To.Equal(day("2025-03-03T00:00:00Z")) || r.By != survey.ByDay {
			t.Errorf("range %s–%s by %s", r.From, r.To, r.By)
		}
		// By hand: NPS answers 10, 3, 8, 9 → 2 promoters, 1 passive, 1
		// detractor: 50% − 25% = 25. CSAT 5 and 2 → one in the top two boxes:
		// 50%. CES 7 (the other was skipped). 2 complete, 1 break-off, 1 in
		// progress.
		tot := r.Total
		checkCounts(t, "total", tot, 4, 1, 2, 0, 1)
		checkRate(t, "total completion", tot.CompletionRate, 2.0/3)
		checkRate(t, "total break-off", tot.BreakoffRate, 1.0/3)
		nps := question(t, tot, "nps")
		if nps.Answered != 4 || nps.NPS == nil || nps.NPS.N != 4 || nps.NPS.Promoters != 2 || nps.NPS.Passives != 1 || nps.NPS.Detractors != 1 {
			t.Errorf("nps: %+v %+v", nps, nps.NPS)
		} else {
			checkRate(t, "nps score", nps.NPS.Score, 25)
		}
		if !cmp.Equal(nps.Distribution, map[int64]int{3: 1, 8: 1, 9: 1, 10: 1}) {
			t.Errorf("nps distribution %v", nps.Distribution)
		}
		checkRate(t, "nps mean", nps.Mean, 7.5)
		csat := question(t, tot, "csat")
		if csat.Answered != 2 || csat.CSAT == nil || csat.CSAT.N != 2 || csat.CSAT.TopTwo != 1 {
			t.Errorf("csat: %+v %+v", csat, csat.CSAT)
		} else {
			checkRate(t, "csat score", csat.CSAT.Score, 50)
		}
		ces := question(t, tot, "ces")
		if ces.Answered != 1 || ces.CES == nil || ces.CES.N != 1 {
			t.Errorf("ces: %+v %+v", ces, ces.CES)
		} else {
			checkRate(t, "ces mean", ces.CES.Mean, 7)
		}
		resolved := question(t, tot, "resolved")
		if resolved.Answered != 2 || !cmp.Equal(resolved.Distribution, map[int64]int{0: 1, 1: 1}) {
			t.Errorf("resolved: %+v", resolved)
		}
		if n := question(t, tot, "why").Answered; n != 1 {
			t.Errorf("why answered %d, want 1", n)
		}
		if n := question(t, tot, "callback").Answered; n != 1 {
			t.Errorf("callback answered %d, want 1", n)
		}
		if len(tot.DropOff) != 1 || tot.DropOff[0].Question != "csat" || tot.DropOff[0].Count != 1 {
			t.Errorf("drop-off %+v", tot.DropOff)
		} else {
			checkRate(t, "drop-off share", tot.DropOff[0].Share, 1)
		}
		if len(r.Groups) != 2 || r.Groups[0].Group != "2025-03-01" || r.Groups[1].Group != "2025-03-02" {
			t.Fatalf("groups %+v", r.Groups)
		}
		checkCounts(t, "1 March", r.Groups[0], 2, 0, 2, 0, 0)
		checkRate(t, "1 March completion", r.Groups[0].CompletionRate, 1)
		checkCounts(t, "2 March", r.Groups[1], 2, 1, 0, 0, 1)
		checkRate(t, "2 March break-off", r.Groups[1].BreakoffRate, 1)
	})

	t.Run("report by agent", func(t *testing.T) {
		var r survey.Report
		f.get("/api/v1/questionnaires/post-call/report?from=2025-03-01T00:00:00Z&to=2025-03-03T00:00:00Z&by=agent", survey.RoleIntegrator, http.StatusOK, &r)
		if len(r.Groups) != 2 || r.Groups[0].Group != "alice" || r.Groups[1].Group != "bob" {
			t.Fatalf("groups %+v", r.Groups)
		}
		// alice: 10, 8, 9 → 2 promoters of 3: 66.7. bob: 3 → −100.
		checkCounts(t, "alice", r.Groups[0], 3, 1, 1, 0, 1)
		checkRate(t, "alice nps", question(t, r.Groups[0], "nps").NPS.Score, 200.0/3)
		checkCounts(t, "bob", r.Groups[1], 1, 0, 1, 0, 0)
		checkRate(t, "bob nps", question(t, r.Groups[1], "nps").NPS.Score, -100)
	})

	t.Run("report default range", func(t *testing.T) {
		// The last 30 days up to now: 1 February to 3 March covers them all.
		cati.SetNow(f.server, func() time.Time { return day("2025-03-03T00:00:00Z") })
		var r survey.Report
		f.get("/api/v1/questionnaires/post-call/report", survey.RoleAdmin, http.StatusOK, &r)
		if !r.From.Equal(day("2025-02-01T00:00:00Z")) || !r.To.Equal(day("2025-03-03T00:00:00Z")) || r.By != survey.ByDay {
			t.Errorf("default range %s–%s by %s", r.From, r.To, r.By)
		}
		checkCounts(t, "total", r.Total, 4, 1, 2, 0, 1)
		// A month later, nothing.
		cati.SetNow(f.server, func() time.Time { return day("2025-04-15T00:00:00Z") })
		f.get("/api/v1/questionnaires/post-call/report?by=queue", survey.RoleAdmin, http.StatusOK, &r)
		if r.Total.Started != 0 || len(r.Groups) != 0 || r.By != survey.ByQueue {
			t.Errorf("a month later: %+v", r)
		}
	})

	t.Run("versions", func(t *testing.T) {
		v2src := bytes.Replace(postCall, []byte("title: Post-call satisfaction"), []byte("title: Post-call satisfaction (2025)"), 1)
		var v versionJSON
		decode(t, f.request(http.MethodPut, "/api/v1/questionnaires/post-call", survey.RoleAdmin, bytes.NewReader(v2src), "Content-Type", "application/yaml"), http.StatusCreated, &v)
		if v.Version != 2 || v.Title != "Post-call satisfaction (2025)" {
			t.Errorf("PUT: %+v", v)
		}
		decode(t, f.request(http.MethodPut, "/api/v1/questionnaires/post-call", survey.RoleIntegrator, bytes.NewReader(v2src), "Content-Type", "application/yaml"), http.StatusOK, &v)
		if v.Version != 2 {
			t.Errorf("PUT again: version %d, want 2 kept", v.Version)
		}
		var d detailJSON
		f.get("/api/v1/questionnaires/post-call", survey.RoleSupervisor, http.StatusOK, &d)
		if d.Version != 2 || d.Title != "Post-call satisfaction (2025)" || len(d.Versions) != 2 || d.Versions[0].Version != 1 || d.Versions[1].Version != 2 ||
			d.Versions[0].Title != "Post-call satisfaction" {
			t.Errorf("detail: %+v", d)
		}
		var qs []string
		for _, q := range d.Questions {
			qs = append(qs, q.ID+" "+q.Type)
		}
		if diff := cmp.Diff([]string{"nps nps", "why recording", "csat scale", "ces scale", "resolved yes_no", "callback choice"}, qs); diff != "" {
			t.Errorf("questions (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(d.Questions[0].Text, "On a scale from 0 to 10") {
			t.Errorf("nps text %q, want the English (default) text", d.Questions[0].Text)
		}
		var src sourceJSON
		f.get("/api/v1/questionnaires/post-call/versions/1", survey.RoleIntegrator, http.StatusOK, &src)
		if src.Version != 1 || src.Source != string(postCall) {
			t.Errorf("version 1: %d, source %d bytes, want the %d uploaded", src.Version, len(src.Source), len(postCall))
		}
		f.get("/api/v1/questionnaires/post-call/versions/2", survey.RoleIntegrator, http.StatusOK, &src)
		if src.Source != string(v2src) {
			t.Errorf("version 2 source differs")
		}
	})

	t.Run("export", func(t *testing.T) {
		ended := map[survey.InterviewID]string{}
		for _, id := range ids {
			rec, err := f.db.Interview(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if rec.EndedAt != nil {
				ended[id] = rec.EndedAt.UTC().Format(time.RFC3339)
			}
		}
		fixed := []string{"interview_id", "questionnaire_version", "mode", "language", "status", "started_at", "ended_at",
			"end_cause", "agent", "queue", "call_id", "touchpoint", "caller_number", "customer_id", "context", "case_id", "campaign", "disposition", "phone"}
		questions := []string{"nps", "why", "csat", "ces", "resolved", "callback"}
		id := func(i int) string { return fmt.Sprint(ids[i]) }
		want := [][]string{
			append(fixed, questions...),
			{id(0), "1", "ivr", "en", "complete", "2025-03-01T10:00:00Z", ended[ids[0]], "completed", "alice", "billing", "c-1", "phone", "+15551230001", "", "", "", "", "", "",
				"10", "", "5", "7", "1", ""},
			{id(1), "1", "ivr", "fr", "complete", "2025-03-01T11:00:00Z", ended[ids[1]], "completed", "bob", "billing", "c-2", "web", "'=cmd|' /C calc'!A0", "", "", "", "", "", "",
				"3", "recordings/2.wav", "2", "", "0", "yes"},
			{id(2), "1", "cati", "en", "breakoff", "2025-03-02T09:00:00Z", ended[ids[2]], "hangup", "alice", "support", "", "phone", "+1 (555) 123-0003", "", "", "", "", "", "",
				"8", "", "", "", "", ""},
			{id(3), "1", "ivr", "en", "in_progress", "2025-03-02T12:00:00Z", "", "", "alice", "billing", "", "", "-42", "", "", "", "", "", "",
				"9", "", "", "", "", ""},
		}
		got := exportCSV(t, f, "/api/v1/questionnaires/post-call/export.csv", "post-call.csv")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("export (-want +got):\n%s", diff)
		}

		got = exportCSV(t, f, "/api/v1/questionnaires/post-call/export.csv?from=2025-03-02", "post-call.csv")
		if diff := cmp.Diff(append(want[:1:1], want[3:]...), got); diff != "" {
			t.Errorf("export from 2 March (-want +got):\n%s", diff)
		}

		// With paradata: six more columns per question.
		header := append([]string(nil), fixed...)
		for _, q := range questions {
			header = append(header, q, q+".raw_keys", q+".first_key_ms", q+".no_input", q+".no_match", q+".barge_in", q+".mode")
		}
		none := []string{"", "", "", "", ""}
		cells := func(row []string, groups ...[]string) []string {
			out := append([]string(nil), row[:len(fixed)]...)
			for i, g := range groups {
				out = append(out, row[len(fixed)+i])
				out = append(out, g...)
				out = append(out, "") // mode: these answers were stored without one
			}
			return out
		}
		wantPD := [][]string{
			header,
			cells(want[1],
				[]string{"10#", "850", "0", "0", "1"}, none, []string{"5", "1200", "0", "0", "0"},
				[]string{"7", "900", "0", "0", "0"}, []string{"1", "700", "0", "0", "0"}, none),
			cells(want[2],
				[]string{"#3", "4100", "1", "0", "0"}, []string{"", "", "0", "0", "0"}, []string{"2", "", "0", "0", "0"},
				[]string{"999", "300", "0", "3", "0"}, []string{"2", "650", "0", "0", "0"}, []string{"1", "500", "0", "0", "0"}),
			cells(want[3], []string{"", "", "0", "0", "0"}, none, none, none, none, none),
			cells(want[4], []string{"9", "400", "0", "0", "0"}, none, none, none, none, none),
		}
		got = exportCSV(t, f, "/api/v1/questionnaires/post-call/export.csv?paradata=1", "post-call.csv")
		if diff := cmp.Diff(wantPD, got); diff != "" {
			t.Errorf("export with paradata (-want +got):\n%s", diff)
		}
	})

	t.Run("export text answers", func(t *testing.T) {
		ids := seed(t, f.db, []seeded{{
			rec: survey.InterviewRecord{Questionnaire: "customer-study", Version: 1, Mode: survey.ModeCATI, Language: "en",
				StartedAt: day("2025-03-04T15:00:00Z"),
				Context:   survey.Context{Agent: "ivan", Queue: "outbound", Touchpoint: "@home"},
				Contact:   map[string]string{"first_name": "Ann", "region": "", "segment": "consumer", "product": "fibre"}},
			answers: []survey.Answer{
				answer("main_user", true, survey.Paradata{}),
				answer("tenure", int64(5), survey.Paradata{}),
				answer("region", "north", survey.Paradata{}),
				answer("sat_overall", int64(2), survey.Paradata{}),
				answer("sat_reason", "=1+2 too slow", survey.Paradata{}),
				answer("nps", int64(6), survey.Paradata{}),
				answer("nps_reason", "+cmd|calc", survey.Paradata{}),
				answer("contacted_support", true, survey.Paradata{}),
				answer("support_channels", []string{"phone", "chat"}, survey.Paradata{}),
				answer("support_ease", int64(3), survey.Paradata{}),
				answer("household", int64(4), survey.Paradata{}),
				answer("renew", "no", survey.Paradata{}),
				answer("renew_no_reason", "-price, \"too high\"\nand slow", survey.Paradata{}),
				answer("recontact", false, survey.Paradata{}),
			},
			end: survey.StatusComplete, cause: "completed",
		}})
		rec, err := f.db.Interview(t.Context(), ids[0])
		if err != nil {
			t.Fatal(err)
		}
		want := [][]string{
			{"interview_id", "questionnaire_version", "mode", "language", "status", "started_at", "ended_at",
				"end_cause", "agent", "queue", "call_id", "touchpoint", "caller_number", "customer_id", "context", "case_id", "campaign", "disposition", "phone",
				"contact.first_name", "contact.region", "contact.segment", "contact.product",
				"main_user", "tenure", "region", "sat_overall", "sat_reason", "nps", "nps_reason", "contacted_support",
				"support_channels", "support_ease", "employees", "household", "renew", "renew_no_reason", "recontact"},
			{fmt.Sprint(ids[0]), "1", "cati", "en", "complete", "2025-03-04T15:00:00Z", rec.EndedAt.UTC().Format(time.RFC3339),
				"completed", "ivan", "outbound", "", "'@home", "", "", "", "", "", "", "", "", "", "", "",
				"1", "5", "north", "2", "'=1+2 too slow", "6", "'+cmd|calc", "1",
				"phone;chat", "3", "", "4", "no", "'-price, \"too high\"\nand slow", "0"},
		}
		got := exportCSV(t, f, "/api/v1/questionnaires/customer-study/export.csv", "customer-study.csv")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("export (-want +got):\n%s", diff)
		}
	})
}

// exportCSV downloads an export and parses it back.
func exportCSV(t *testing.T, f *fixture, path, filename string) [][]string {
	t.Helper()
	resp := f.request(http.MethodGet, path, survey.RoleSupervisor, nil)
	if resp.StatusCode != http.StatusOK {
		decode(t, resp, http.StatusOK, nil)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != "attachment; filename="+filename {
		t.Errorf("Content-Disposition %q", cd)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func summarize(vs []versionJSON) string {
	var s []string
	for _, v := range vs {
		s = append(s, fmt.Sprintf("%s v%d", v.ID, v.Version))
	}
	return strings.Join(s, ", ")
}

func checkCounts(t *testing.T, what string, g survey.GroupReport, started, inProgress, complete, partial, breakoff int) {
	t.Helper()
	got := [5]int{g.Started, g.InProgress, g.Complete, g.Partial, g.Breakoff}
	if want := [5]int{started, inProgress, complete, partial, breakoff}; got != want {
		t.Errorf("%s: started, in progress, complete, partial, break-off = %v, want %v", what, got, want)
	}
}

func checkRate(t *testing.T, what string, r survey.Rate, want float64) {
	t.Helper()
	if !r.Defined || r.Value < want-1e-9 || r.Value > want+1e-9 {
		t.Errorf("%s = %v, want %v", what, r, want)
	}
}

func question(t *testing.T, g survey.GroupReport, id string) survey.QuestionSummary {
	t.Helper()
	for _, q := range g.Questions {
		if q.ID == id {
			return q
		}
	}
	t.Fatalf("group %q has no question %s", g.Group, id)
	return survey.QuestionSummary{}
}
