package cati_test

// The admin pages: a questionnaire that does not lint is shown with its
// problems beside their lines and not stored; a campaign is created from
// the form (windows, attempts, retry delays, quota targets) or refused with
// every problem listed; sample CSVs are imported with their broken rows,
// duplicates and encoding reported, and nothing stored when refused.

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/canvass/canvass/survey"
	"github.com/canvass/canvass/testdata"
)

// multipartPost posts fields (in order) and a file part last, as the pages'
// forms do.
func (b *browser) multipartPost(path string, fields [][2]string, fileField, fileName string, file []byte, header ...string) *http.Response {
	b.cf.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			b.cf.t.Fatal(err)
		}
	}
	if fileField != "" {
		w, err := mw.CreateFormFile(fileField, fileName)
		if err != nil {
			b.cf.t.Fatal(err)
		}
		if _, err := w.Write(file); err != nil {
			b.cf.t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		b.cf.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, b.cf.url+path, &buf)
	if err != nil {
		b.cf.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", b.cf.url)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

func TestQuestionnaireUploadShowsProblemsInPlace(t *testing.T) {
	cf := newConsole(t)
	ada := cf.login("ada")
	bad := "id: broken\ntitle: Broken\nlanguages: [en]\nquestions:\n  - id: q1\n    type: nps\n    text: Score?\n  - id: q2\n    type: yes_no\n    when: q9 > 3\n    text: Why?\n"
	r := ada.multipartPost("/admin/questionnaires", [][2]string{{"csrf", ada.csrf}, {"source", bad}}, "", "", nil)
	b := body(t, r)
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(b, "nothing was stored") {
		t.Fatalf("status %d", r.StatusCode)
	}
	if !strings.Contains(b, `<span class="line bad"><span class="n">10</span>    when: q9 &gt; 3`) || !strings.Contains(b, "q9") {
		t.Fatalf("line 10 not marked with its problem:\n%s", b)
	}
	if n := cf.count(`SELECT count(*) FROM questionnaire WHERE id = 'broken'`); n != 0 {
		t.Fatal("a questionnaire with problems was stored")
	}
	good := strings.Replace(bad, "q9 > 3", "q1 > 3", 1)
	r = ada.multipartPost("/admin/questionnaires", [][2]string{{"csrf", ada.csrf}}, "file", "broken.yaml", []byte(good))
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("good upload: %d %s", r.StatusCode, body(t, r))
	}
	// Without the CSRF token: refused.
	r = ada.multipartPost("/admin/questionnaires", nil, "file", "x.yaml", []byte(good))
	if r.StatusCode != http.StatusForbidden {
		t.Fatalf("upload without token: %d", r.StatusCode)
	}
}

func TestCreateCampaignFromTheForm(t *testing.T) {
	cf := newConsole(t)
	ada := cf.login("ada")
	if r := ada.get("/admin/campaigns/new?questionnaire=customer-study"); r.StatusCode != http.StatusOK || !strings.Contains(body(t, r), `name="quota_north" type="number" min="0" value="50"`) {
		t.Fatal("the form does not offer the questionnaire's quotas with their targets")
	}
	form := url.Values{"csrf": {ada.csrf}, "name": {"Spring wave"}, "questionnaire": {"customer-study"}, "max_attempts": {"5"},
		"status": {"running"}, "day_1": {"1"}, "opens_1": {"09:00"}, "closes_1": {"21:00"}, "day_6": {"1"}, "opens_6": {"10:00"}, "closes_6": {"18:00"},
		"retry_3.13": {"90"}, "retry_3.12": {"15"}, "quota_north": {"40"}, "e": {"0.8"}, "interviewer": {itoa(cf.users["ivy"])}}
	// "Show its quotas" shows the form again for the questionnaire picked,
	// with what was entered, and creates nothing.
	use := url.Values{"csrf": {ada.csrf}, "action": {"use"}, "name": {"Kept name"}, "questionnaire": {"customer-study"}}
	if r := ada.post("/admin/campaigns", use); r.StatusCode != http.StatusOK {
		t.Fatalf("show quotas: %d", r.StatusCode)
	} else if b := body(t, r); !strings.Contains(b, `value="Kept name"`) || !strings.Contains(b, `name="quota_north"`) ||
		!strings.Contains(b, `<option value="customer-study" selected>`) {
		t.Fatal("show quotas: the form did not come back with the name entered and the questionnaire's quotas")
	}
	if n := cf.count(`SELECT count(*) FROM campaign WHERE name = 'Kept name'`); n != 0 {
		t.Fatal("show quotas created a campaign")
	}
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("closes_1", "08:00")
	bad.Set("e", "2")
	r := ada.post("/admin/campaigns", bad)
	b := body(t, r)
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(b, "Monday: the calling window") || !strings.Contains(b, "e must be a number from 0 to 1") {
		t.Fatalf("bad form: %d", r.StatusCode)
	}
	r = ada.post("/admin/campaigns", form)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.StatusCode, body(t, r))
	}
	var settings string
	var windows, assigned int
	if err := cf.db.Pool().QueryRow(t.Context(), `SELECT c.settings::text, (SELECT count(*) FROM campaign_window w WHERE w.campaign_id = c.id),
		(SELECT count(*) FROM campaign_interviewer i WHERE i.campaign_id = c.id) FROM campaign c WHERE name = 'Spring wave'`).Scan(&settings, &windows, &assigned); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Retry  map[string]int64 `json:"retry_seconds"`
		Quotas map[string]int   `json:"quotas"`
		E      float64          `json:"e"`
	}
	if err := json.Unmarshal([]byte(settings), &st); err != nil {
		t.Fatal(err)
	}
	// 3.12's 15 minutes is the catalog's default: not stored as an override.
	if windows != 2 || assigned != 1 || st.Retry["3.13"] != 5400 || len(st.Retry) != 1 || st.Quotas["north"] != 40 || st.E != 0.8 {
		t.Fatalf("stored %s, %d windows, %d interviewers", settings, windows, assigned)
	}
	if r := ada.post("/admin/campaigns", form); r.StatusCode != http.StatusBadRequest || !strings.Contains(body(t, r), "already exists") {
		t.Fatal("a duplicate name is not refused with a message")
	}
}

func TestSampleImport(t *testing.T) {
	cf := newConsole(t, contact("Old", "north", "consumer", "fibre")) // +12125550100, already in the campaign
	ada := cf.login("ada")
	path := "/admin/campaigns/" + itoa(cf.campaign) + "/sample"
	fields := func(token string) [][2]string {
		return [][2]string{{"csrf", ada.csrf}, {"token", token}, {"col_phone", "Phone"}, {"col_tz", "zone"},
			{"field_first_name", "name"}, {"field_region", "region"}, {"field_segment", ""}, {"field_product", "product"}}
	}
	csv := "Phone,zone,name,region,product\n" +
		"(212) 555-0100,,Old again,north,fibre\n" + // duplicate of the stored contact
		"(212) 555-0200,,Pia,south,tv\n" +
		"+1 212 555 0200,,Pia twice,south,tv\n" + // duplicate in the file
		"12,,Bad,east,tv\n" +
		"+44 20 7946 0000,Europe/London,Quin,west,mobile\n" +
		"+1 212 555 0300,Nowhere/Land,Rex,west,tv\n"
	r := ada.multipartPost(path, fields("tok0123456789abcdef"), "file", "sample.csv", []byte(csv), "Accept", "application/json")
	var res struct {
		Imported   int                  `json:"imported"`
		Lines      int                  `json:"lines"`
		Errors     []struct{ Line int } `json:"errors"`
		Duplicates []struct {
			Line    int    `json:"line"`
			Message string `json:"message"`
		} `json:"duplicates"`
	}
	if err := json.NewDecoder(r.Body).Decode(&res); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("import: %d %v", r.StatusCode, err)
	}
	if res.Imported != 2 || res.Lines != 6 || len(res.Errors) != 2 || res.Errors[0].Line != 5 || res.Errors[1].Line != 7 ||
		len(res.Duplicates) != 2 || res.Duplicates[0].Line != 2 || !strings.Contains(res.Duplicates[0].Message, "already in this campaign") || res.Duplicates[1].Line != 4 {
		t.Fatalf("result %+v", res)
	}
	var tz, first string
	if err := cf.db.Pool().QueryRow(t.Context(), `SELECT tz, attrs->>'first_name' FROM contact WHERE phone_e164 = '+12125550200'`).Scan(&tz, &first); err != nil || tz != "America/New_York" || first != "Pia" {
		t.Fatalf("stored contact %s %s %v", tz, first, err)
	}
	st := ada.get("/admin/imports/tok0123456789abcdef/status", "Accept", "application/json")
	if b := body(t, st); !strings.Contains(b, `"state":"done"`) || !strings.Contains(b, `"imported":2`) {
		t.Fatalf("status %s", b)
	}
	before := cf.count(`SELECT count(*) FROM survey_case`)
	// A Latin-1 file: refused whole with a message, nothing stored.
	r = ada.multipartPost(path, fields("tok1123456789abcdef"), "file", "latin1.csv", []byte("Phone,zone,name,region,product\n+12125550400,,Jos\xe9,north,tv\n"))
	if b := body(t, r); r.StatusCode != http.StatusBadRequest || !strings.Contains(b, "not UTF-8") {
		t.Fatalf("latin-1: %d", r.StatusCode)
	}
	// Without the CSRF token, or from another site: refused.
	noToken := fields("tok2123456789abcdef")[1:]
	if r := ada.multipartPost(path, noToken, "file", "s.csv", []byte("Phone\n+12125550500\n")); r.StatusCode != http.StatusForbidden {
		t.Fatalf("no token: %d", r.StatusCode)
	}
	if r := ada.multipartPost(path, fields("tok3123456789abcdef"), "file", "s.csv", []byte("Phone\n+12125550500\n"), "Origin", "http://evil.example"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site: %d", r.StatusCode)
	}
	// A mapped column the file lacks.
	if r := ada.multipartPost(path, fields("tok4123456789abcdef"), "file", "s.csv", []byte("tel\n+12125550500\n")); r.StatusCode != http.StatusBadRequest || !strings.Contains(body(t, r), "no column") {
		t.Fatal("missing column not reported")
	}
	if after := cf.count(`SELECT count(*) FROM survey_case`); after != before {
		t.Fatalf("refused imports stored %d cases", after-before)
	}
	// The HTML result page, as a browser without scripts gets it.
	r = ada.multipartPost(path, fields("tok5123456789abcdef"), "file", "s.csv", []byte("Phone,zone,name,region,product\n+12125550600,,Sol,north,tv\n"))
	if b := body(t, r); r.StatusCode != http.StatusOK || !strings.Contains(b, `<strong id="imported">1</strong> of 1 rows imported`) {
		t.Fatalf("html result: %d", r.StatusCode)
	}
}

// A keypad campaign is created from the same form; its dialing figures are
// checked, each bad one named, and a questionnaire that cannot run on the
// keypad is refused.
func TestCreateKeypadCampaignFromTheForm(t *testing.T) {
	cf := newConsole(t)
	ada := cf.login("ada")
	src, err := testdata.Questionnaires.ReadFile("questionnaires/post-call.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r := ada.multipartPost("/admin/questionnaires", [][2]string{{"csrf", ada.csrf}, {"source", string(src)}}, "", "", nil); r.StatusCode >= 400 {
		t.Fatalf("upload: %d %s", r.StatusCode, body(t, r))
	}
	form := url.Values{"csrf": {ada.csrf}, "name": {"Callbacks"}, "questionnaire": {"post-call"}, "kind": {"ivr"},
		"max_attempts": {"4"}, "status": {"running"}, "day_1": {"1"}, "opens_1": {"09:00"}, "closes_1": {"21:00"},
		"calls_per_second": {"2.5"}, "max_lines": {"30"}, "target_completes": {"200"}, "amd": {"message"}, "machine_message": {""},
		"ring_seconds": {"10"}, "slices": {"lunch: Mon-Fri 11:00-14:00"}}
	r := ada.post("/admin/campaigns", form)
	b := body(t, r)
	for _, want := range []string{"ring 10 s: an unanswered call rings 15 to 120 seconds", "machine message: write what an answering machine is told"} {
		if r.StatusCode != http.StatusBadRequest || !strings.Contains(b, want) {
			t.Errorf("bad dialing figures: %d, the page lacks %q", r.StatusCode, want)
		}
	}
	form.Set("ring_seconds", "20")
	form.Set("machine_message", "Northwind Research, about your order; call 0800 000 000.")
	if r := ada.post("/admin/campaigns", form); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.StatusCode, body(t, r))
	}
	var mode, settings string
	if err := cf.db.Pool().QueryRow(t.Context(), `SELECT mode, settings::text FROM campaign WHERE name = 'Callbacks'`).Scan(&mode, &settings); err != nil {
		t.Fatal(err)
	}
	var st survey.CampaignSettings
	if err := json.Unmarshal([]byte(settings), &st); err != nil {
		t.Fatal(err)
	}
	d := st.Dialing
	if mode != "ivr" || d.CallsPerSecond != 2.5 || d.MaxLines != 30 || d.TargetCompletes != 200 || d.AMD != survey.AMDMessage ||
		d.RingSeconds != 20 || len(d.Slices) != 1 || d.Mode != "" {
		t.Fatalf("stored %s %s", mode, settings)
	}
	// The customer study is for interviewers only: not a keypad campaign.
	form.Set("name", "Keypad of a CATI study")
	form.Set("questionnaire", "customer-study")
	if r := ada.post("/admin/campaigns", form); r.StatusCode != http.StatusBadRequest || !strings.Contains(body(t, r), `questionnaire &#34;customer-study&#34; is not for IVR`) {
		t.Errorf("a CATI-only questionnaire as a keypad campaign: %d", r.StatusCode)
	}
}
