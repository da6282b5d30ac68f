package cati_test

// Hostile or broken input at the console's doors: a post-login next that a
// browser would read as another site is dropped, and text PostgreSQL cannot
// store (NUL, bytes that are not UTF-8) is refused naming the field, or, in
// a sample file, reported as a bad row, instead of a 500 or a failed import.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestLoginNextStaysOnSite(t *testing.T) {
	cf := newConsole(t)
	for _, tc := range []struct{ next, want string }{
		{"/ok?a=b", "/ok?a=b"},
		{"/admin/campaigns/1?done=Saved.", "/admin/campaigns/1?done=Saved."},
		{"//evil.example", "/console"},
		{"/\\evil.example", "/console"},
		{"/\\/evil.example", "/console"},
		{"/\t/evil.example", "/console"}, // browsers drop tabs and newlines: //evil.example
		{"/\n/evil.example", "/console"},
		{"/\r/evil.example", "/console"},
		{"/%09/evil.example", "/console"},
		{"/%2F/evil.example", "/console"},
		{"/%5C/evil.example", "/console"},
		{"https://evil.example", "/console"},
		{"https:/evil.example", "/console"},
		{"javascript:alert(1)", "/console"},
		{" //evil.example", "/console"},
		{"evil.example", "/console"},
		{"/\x00", "/console"},
	} {
		t.Run(tc.next, func(t *testing.T) {
			b := cf.browser()
			// The login form carries next on only when it is safe.
			page := body(t, b.get("/login?next="+url.QueryEscape(tc.next)))
			if tc.want == "/console" && strings.Contains(page, "evil.example") {
				t.Errorf("the login form keeps next=%q", tc.next)
			}
			// Sent without a client, which would refuse to parse some of
			// the Locations a browser follows.
			req, err := http.NewRequest(http.MethodPost, cf.url+"/login",
				strings.NewReader(url.Values{"name": {"ivy"}, "password": {testPassword}, "next": {tc.next}}.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", cf.url)
			r, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Body.Close()
			if loc := r.Header.Get("Location"); r.StatusCode != http.StatusSeeOther || loc != tc.want {
				t.Fatalf("login with next=%q: %d to %q, want %q", tc.next, r.StatusCode, loc, tc.want)
			}
		})
	}
}

func TestConsoleRefusesUnstorableText(t *testing.T) {
	cf := newConsole(t)
	anon := cf.browser()
	r := anon.post("/login", url.Values{"name": {"iv\x00y"}, "password": {testPassword}})
	if b := body(t, r); r.StatusCode != http.StatusBadRequest || !strings.Contains(b, "name: &#34;iv\\x00y&#34; contains a NUL character") {
		t.Errorf("login name with NUL: %d %s", r.StatusCode, b)
	}
	ada := cf.login("ada")
	for _, tc := range []struct {
		name string
		resp *http.Response
		msg  string
	}{
		{"NUL in a query", ada.get("/admin/campaigns/new?questionnaire=%00"), "questionnaire: &#34;\\x00&#34; contains a NUL character"},
		{"not UTF-8 in a query", ada.get("/admin/campaigns/new?questionnaire=%ff"), "questionnaire: &#34;\\xff&#34; is not UTF-8 text"},
		{"NUL in a form", ada.post("/admin/campaigns", url.Values{"csrf": {ada.csrf}, "name": {"Wave 2"}, "questionnaire": {"customer\x00study"},
			"status": {"running"}, "max_attempts": {"3"}}), "questionnaire: &#34;customer\\x00study&#34; contains a NUL character"},
	} {
		if b := body(t, tc.resp); tc.resp.StatusCode != http.StatusBadRequest || !strings.Contains(b, tc.msg) {
			t.Errorf("%s: %d, want 400 saying %s", tc.name, tc.resp.StatusCode, tc.msg)
		}
	}
	if n := cf.count(`SELECT count(*) FROM campaign`); n != 1 {
		t.Fatalf("%d campaigns after refused forms, want 1", n)
	}
}

// A NUL in a mapped column is a bad row like any other: reported with its
// line and column and left out, while the rest of the file is imported.
func TestSampleImportNUL(t *testing.T) {
	cf := newConsole(t)
	ada := cf.login("ada")
	path := "/admin/campaigns/" + itoa(cf.campaign) + "/sample"
	fields := [][2]string{{"csrf", ada.csrf}, {"token", "tok0123456789abcdef"}, {"col_phone", "Phone"}, {"col_language", "lang"},
		{"field_first_name", "name"}, {"field_region", "region"}}
	csv := "Phone,lang,name,region\n" +
		"+12125550200,en,Pia,south\n" +
		"+12125550201,en,Pi\x00a,south\n" +
		"+12125550202,e\x00n,Quin,west\n" +
		"12,en,Bad,east\n" +
		"+12125550203,en,Rex,we\x00st\n" +
		"+12125550204,en,Sol,north\n"
	r := ada.multipartPost(path, fields, "file", "sample.csv", []byte(csv), "Accept", "application/json")
	var res struct {
		Imported int `json:"imported"`
		Lines    int `json:"lines"`
		Errors   []struct {
			Line    int    `json:"line"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(r.Body).Decode(&res); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("import: %d %v", r.StatusCode, err)
	}
	want := []struct {
		line int
		msg  string
	}{
		{3, `column "name" holds a NUL character (byte 0), which cannot be stored; remove it from the file`},
		{4, `column "lang" holds a NUL character`},
		{5, "is not a valid phone number"},
		{6, `column "region" holds a NUL character`},
	}
	if res.Imported != 2 || res.Lines != 6 || len(res.Errors) != len(want) {
		t.Fatalf("result %+v; want 2 of 6 rows imported, %d errors", res, len(want))
	}
	for i, w := range want {
		if e := res.Errors[i]; e.Line != w.line || !strings.Contains(e.Message, w.msg) {
			t.Errorf("error %d: line %d %q; want line %d %q", i, e.Line, e.Message, w.line, w.msg)
		}
	}
	if n := cf.count(`SELECT count(*) FROM survey_case`); n != 2 {
		t.Fatalf("%d cases stored, want 2", n)
	}
	// A NUL in the mapping itself is refused before the file is read.
	bad := append(fields[:len(fields):len(fields)], [2]string{"field_segment", "seg\x00ment"})
	bad[1][1] = "tok1123456789abcdef"
	r = ada.multipartPost(path, bad, "file", "sample.csv", []byte(csv), "Accept", "application/json")
	refusedJSON(t, r, `field_segment: "seg\x00ment" contains a NUL character`)
	if n := cf.count(`SELECT count(*) FROM survey_case`); n != 2 {
		t.Fatalf("%d cases stored after a refused upload, want 2", n)
	}
}

// refusedJSON checks a console call was refused with 400 and a message.
func refusedJSON(t *testing.T, r *http.Response, msg string) {
	t.Helper()
	var e apiError
	if err := json.NewDecoder(r.Body).Decode(&e); err != nil || r.StatusCode != http.StatusBadRequest || !strings.Contains(e.Error.Message, msg) {
		t.Fatalf("%d %q (%v); want 400 saying %s", r.StatusCode, e.Error.Message, err, msg)
	}
}
