package cati_test

// The admin forms give back what the admin entered: a campaign form refused
// for one bad value comes back with every field as submitted (a draft stays
// a draft), a questionnaire with problems comes back in its textarea, an
// empty upload is explained on the admin page, and a sample file is mapped
// only to the contact fields it has columns for.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/canvass/canvass/survey"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"
)

// formFields is what a form would submit, one "name=value" a field, in
// order (the CSRF token left out).
func (tb *tab) formFields(id string) []string {
	tb.t.Helper()
	js := `JSON.stringify([...new FormData(document.getElementById("` + id + `"))].filter(([k]) => k !== "csrf").map(([k, v]) => k + "=" + v))`
	var fields []string
	if err := json.Unmarshal([]byte(tb.eval(js)), &fields); err != nil {
		tb.t.Fatal(err)
	}
	return fields
}

func TestRefusedCampaignFormKeepsEveryField(t *testing.T) {
	cf := newConsole(t)
	ada := cf.openTab(newBrowser(t), "ada", artifactDir(t))
	ivy := itoa(cf.users["ivy"])
	ada.do(chromedp.Navigate(cf.url+"/admin/campaigns/new?questionnaire=customer-study"), chromedp.WaitVisible("#campaign"),
		chromedp.SetValue(`#campaign input[name=name]`, `Autumn <wave> & "co"`),
		chromedp.SetValue(`#campaign input[name=max_attempts]`, "3"),
		chromedp.SetValue(`#campaign select[name=status]`, "draft"),
		chromedp.Click(`#campaign input[name=day_0]`), // Sunday on
		chromedp.Click(`#campaign input[name=day_5]`), // Friday off
		chromedp.SetValue(`#campaign input[name=opens_1]`, "08:00"),
		chromedp.SetValue(`#campaign input[name='retry_3.13']`, "15"),
		chromedp.SetValue(`#campaign input[name=quota_north]`, "7"),
		chromedp.SetValue(`#campaign input[name=e]`, "2"),
		chromedp.SetValue(`#campaign select[name=dial_mode]`, "progressive"),
		chromedp.SetValue(`#campaign input[name=ring_seconds]`, "20"),
		chromedp.SetValue(`#campaign textarea[name=slices]`, "lunch: Mon-Fri 11:00-14:00\nweekend: Sat,Sun 00:00-24:00"),
		chromedp.Click(`#campaign input[name=interviewer][value="`+ivy+`"]`),
	)
	entered := ada.formFields("campaign")
	ada.do(chromedp.Click(`#create`))
	ada.poll(`!!document.getElementById("page-error")`)
	if msg := ada.text("#page-error"); !strings.Contains(msg, "e must be a number from 0 to 1") {
		t.Fatalf("refusal %q", msg)
	}
	if diff := cmp.Diff(entered, ada.formFields("campaign")); diff != "" {
		t.Fatalf("the refused form did not come back as entered (-entered +shown):\n%s", diff)
	}

	// Mending the one bad value is enough: the campaign is what was entered.
	ada.eval(`document.querySelector("#campaign input[name=e]").value = ""`)
	ada.do(chromedp.Click(`#create`))
	ada.poll(`/^\/admin\/campaigns\/[0-9]+$/.test(location.pathname)`)
	var status, settings string
	var attempts int
	if err := cf.db.Pool().QueryRow(t.Context(), `SELECT status, max_attempts, settings::text FROM campaign WHERE name = $1`,
		`Autumn <wave> & "co"`).Scan(&status, &attempts, &settings); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Retry   map[string]int64 `json:"retry_seconds"`
		Quotas  map[string]int   `json:"quotas"`
		Dialing survey.Dialing   `json:"dialing"`
	}
	if err := json.Unmarshal([]byte(settings), &st); err != nil {
		t.Fatal(err)
	}
	if status != "draft" || attempts != 3 || st.Retry["3.13"] != 900 || st.Quotas["north"] != 7 ||
		st.Dialing.Mode != survey.DialProgressive || st.Dialing.RingSeconds != 20 || len(st.Dialing.Slices) != 2 || st.Dialing.Slices[0].From != 660 {
		t.Fatalf("created %s with %d attempts and settings %s", status, attempts, settings)
	}
	var windows string
	var assigned []int64
	if err := cf.db.Pool().QueryRow(t.Context(), `SELECT
		(SELECT string_agg(w.dow || ' ' || to_char(w.opens, 'HH24:MI') || '-' || to_char(w.closes, 'HH24:MI'), ', ' ORDER BY w.dow)
			FROM campaign_window w WHERE w.campaign_id = c.id),
		(SELECT array_agg(i.user_id) FROM campaign_interviewer i WHERE i.campaign_id = c.id)
		FROM campaign c WHERE c.name = $1`, `Autumn <wave> & "co"`).Scan(&windows, &assigned); err != nil {
		t.Fatal(err)
	}
	want := "0 09:00-21:00, 1 08:00-21:00, 2 09:00-21:00, 3 09:00-21:00, 4 09:00-21:00, 6 10:00-18:00"
	if windows != want || !slices.Equal(assigned, []int64{int64(cf.users["ivy"])}) {
		t.Fatalf("calling windows %q, interviewers %v; want %q, ivy (%d)", windows, assigned, want, cf.users["ivy"])
	}
}

func TestQuestionnaireWithProblemsComesBackInItsTextarea(t *testing.T) {
	cf := newConsole(t)
	ada := cf.openTab(newBrowser(t), "ada", artifactDir(t))
	// A leading blank line and markup survive the round trip.
	src := "\nid: broken\ntitle: \"<b>Broken</b> & co\"\nlanguages: [en]\nquestions:\n  - id: q1\n    type: nps\n    when: nope > 1\n    text: Score?\n"
	ada.do(chromedp.Navigate(cf.url+"/admin"), chromedp.WaitVisible("#upload"),
		chromedp.SetValue(`#upload textarea[name=source]`, src), chromedp.Click(`#upload button[type=submit]`))
	ada.poll(`!!document.getElementById("source")`)
	if bad := ada.text("#source .bad"); !strings.Contains(bad, "when: nope > 1") {
		t.Fatalf("problem line %q", bad)
	}
	if got := ada.eval(`document.querySelector("#upload textarea[name=source]").value`); got != src {
		t.Fatalf("the textarea holds %q after the problems, want what was pasted: %q", got, src)
	}
}

func TestEmptyQuestionnaireUploadIsExplainedOnTheAdminPage(t *testing.T) {
	cf := newConsole(t)
	ada := cf.login("ada")
	for name, fields := range map[string][][2]string{
		"nothing":     {{"csrf", ada.csrf}, {"source", ""}},
		"blank paste": {{"csrf", ada.csrf}, {"source", " \n\t\n"}},
	} {
		t.Run(name, func(t *testing.T) {
			r := ada.multipartPost("/admin/questionnaires", fields, "file", "", nil)
			b := body(t, r)
			if r.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.StatusCode)
			}
			if !strings.Contains(b, `id="upload"`) || !strings.Contains(b, "customer-study") {
				t.Fatalf("not the admin page with its upload form and questionnaires:\n%s", b)
			}
			if !strings.Contains(b, `id="page-error"`) || !strings.Contains(b, "YAML file") || !strings.Contains(b, "or paste it") {
				t.Fatalf("no message naming the form's fields:\n%s", b)
			}
		})
	}
}

func TestSampleMappingNamesOnlyTheFileColumns(t *testing.T) {
	cf := newConsole(t)
	ada := cf.openTab(newBrowser(t), "ada", artifactDir(t))
	dir := t.TempDir()
	for _, c := range []struct {
		file, csv string
		phone     string
		want      map[string]string
	}{
		// The questionnaire's region, segment and product are not in the
		// file: they are optional, and left out.
		{"names.csv", "phone,first_name\n+12125550700,Una\n", "+12125550700", map[string]string{"first_name": "Una"}},
		// Columns named as the fields, whatever their case, are used.
		{"regions.csv", "Phone,First_Name, REGION \n+12125550701,Vic,south\n", "+12125550701", map[string]string{"first_name": "Vic", "region": "south"}},
	} {
		p := filepath.Join(dir, c.file)
		if err := os.WriteFile(p, []byte(c.csv), 0o644); err != nil {
			t.Fatal(err)
		}
		ada.do(chromedp.Navigate(cf.url+"/admin/campaigns/"+itoa(cf.campaign)), chromedp.WaitVisible("#sample"))
		ada.do(chromedp.SetUploadFiles(`#sample input[type=file]`, []string{p}),
			chromedp.Click(`#sample button[type=submit]`), chromedp.WaitVisible("#import-result #result, #import-result #page-error"))
		if got := ada.text("#import-result"); !strings.Contains(got, "1 of 1 rows imported") {
			t.Fatalf("%s: %q", c.file, got)
		}
		var attrs string
		if err := cf.db.Pool().QueryRow(t.Context(), `SELECT attrs::text FROM contact WHERE phone_e164 = $1`, c.phone).Scan(&attrs); err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(attrs), &got); err != nil {
			t.Fatal(err)
		}
		for k, v := range got { // an empty value and a missing one read alike
			if v == "" {
				delete(got, k)
			}
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s: stored contact fields (-want +got):\n%s", c.file, diff)
		}
	}
}

// A campaign's settings are edited after its creation — calling hours
// (a day turned off, an earlier opening), retry delays, quotas, e, max
// attempts — audit-logged; a refused form comes back as entered and changes
// nothing.
func TestEditCampaignSettingsInChromium(t *testing.T) {
	cf := newConsole(t)
	ada := cf.openTab(newBrowser(t), "ada", artifactDir(t))
	page := cf.url + "/admin/campaigns/" + itoa(cf.campaign)
	ada.do(chromedp.Navigate(page), chromedp.WaitVisible("#settings"),
		chromedp.Click(`#settings input[name=day_6]`), // Saturday off
		chromedp.SetValue(`#settings input[name=opens_1]`, "08:00"),
		chromedp.SetValue(`#settings input[name=closes_1]`, "07:00"), // before it opens: refused
		chromedp.SetValue(`#settings input[name='retry_3.13']`, "90"),
		chromedp.SetValue(`#settings input[name=quota_north]`, "40"),
		chromedp.SetValue(`#settings input[name=e]`, "0.5"),
		chromedp.SetValue(`#settings input[name=max_attempts]`, "7"),
	)
	entered := ada.formFields("settings")
	ada.do(chromedp.Click("#save-settings"))
	ada.poll(`!!document.getElementById("page-error")`)
	if msg := ada.text("#page-error"); !strings.Contains(msg, "Monday: the calling window must be HH:MM to a later HH:MM") {
		t.Fatalf("refusal %q", msg)
	}
	if diff := cmp.Diff(entered, ada.formFields("settings")); diff != "" {
		t.Fatalf("the refused form did not come back as entered (-entered +shown):\n%s", diff)
	}
	if n := cf.count(`SELECT count(*) FROM audit_log WHERE action = 'campaign.settings'`); n != 0 {
		t.Fatal("a refused form changed the campaign")
	}
	ada.do(chromedp.SetValue(`#settings input[name=closes_1]`, "21:00"), chromedp.Click("#save-settings"))
	ada.poll(`document.querySelector(".flash") && document.querySelector(".flash").textContent.includes("Settings saved")`)
	var windows, settings string
	var attempts int
	if err := cf.db.Pool().QueryRow(t.Context(), `SELECT max_attempts, settings::text,
		(SELECT string_agg(dow || ' ' || to_char(opens, 'HH24:MI') || '-' || to_char(closes, 'HH24:MI'), ', ' ORDER BY dow) FROM campaign_window WHERE campaign_id = c.id)
		FROM campaign c WHERE id = $1`, cf.campaign).Scan(&attempts, &settings, &windows); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Retry  map[string]int64 `json:"retry_seconds"`
		Quotas map[string]int   `json:"quotas"`
		E      *float64         `json:"e"`
	}
	if err := json.Unmarshal([]byte(settings), &st); err != nil {
		t.Fatal(err)
	}
	if attempts != 7 || st.Retry["3.13"] != 5400 || st.Quotas["north"] != 40 || st.E == nil || *st.E != 0.5 {
		t.Fatalf("saved %d attempts and settings %s", attempts, settings)
	}
	if want := "0 09:00-21:00, 1 08:00-21:00, 2 09:00-21:00, 3 09:00-21:00, 4 09:00-21:00, 5 09:00-21:00"; windows != want {
		t.Fatalf("calling windows %q, want %q", windows, want)
	}
	if got := ada.eval(`document.querySelector("#settings input[name=opens_1]").value`); got != "08:00" {
		t.Fatalf("the form shows Monday opening at %q after saving", got)
	}
	if n := cf.count(`SELECT count(*) FROM audit_log WHERE actor = 'ada' AND action = 'campaign.settings' AND target = $1`, "campaign:"+itoa(cf.campaign)); n != 1 {
		t.Fatalf("%d audit entries", n)
	}
}

// An admin manages accounts in the browser: adds one (a refused form keeps
// the name), changes its role, resets its password, disables it; the last
// admin cannot be disabled. Every change is audit-logged.
func TestAccountsInChromium(t *testing.T) {
	cf := newConsole(t)
	ada := cf.openTab(newBrowser(t), "ada", artifactDir(t))
	row := `#accounts tr[data-account="una lee"]`
	ada.do(chromedp.Navigate(cf.url+"/admin"), chromedp.WaitVisible("#add-account"),
		chromedp.SetValue(`#add-account input[name=name]`, "una lee"),
		chromedp.SetValue(`#add-account select[name=role]`, "interviewer"),
		chromedp.SetValue(`#add-account input[name=password]`, "short one"),
		chromedp.SetValue(`#add-account input[name=password2]`, "short one"),
		chromedp.Click(`#add-account button[type=submit]`))
	ada.poll(`!!document.getElementById("page-error")`)
	if msg := ada.text("#page-error"); !strings.Contains(msg, "at least 10 characters") {
		t.Fatalf("refusal %q", msg)
	}
	if got := ada.eval(`document.querySelector("#add-account input[name=name]").value`); got != "una lee" {
		t.Fatalf("the refused form lost the name: %q", got)
	}
	ada.do(chromedp.SetValue(`#add-account input[name=password]`, "una's first secret"),
		chromedp.SetValue(`#add-account input[name=password2]`, "una's first secret"),
		chromedp.Click(`#add-account button[type=submit]`), chromedp.WaitVisible(row))
	if got := ada.text(row + " .role"); got != "interviewer" {
		t.Fatalf("added as %q", got)
	}
	ada.do(chromedp.SetValue(row+" .role-form select", "supervisor"), chromedp.Click(row+" .role-form button"))
	ada.poll(`document.querySelector('` + row + ` .role')?.textContent === "supervisor"`)
	ada.do(chromedp.SetValue(row+" .password-form input[name=password]", "una's second secret"),
		chromedp.SetValue(row+" .password-form input[name=password2]", "una's second secret"),
		chromedp.Click(row+" .password-form button"))
	ada.poll(`document.querySelector("p.flash")?.textContent.includes("password of una lee is reset")`)
	u, err := cf.db.User(t.Context(), "una lee")
	if err != nil || bcrypt.CompareHashAndPassword(u.PasswordHash, []byte("una's second secret")) != nil || u.Role != survey.RoleSupervisor {
		t.Fatalf("stored %+v, %v", u.Role, err)
	}
	ada.do(chromedp.Click(row + " .status-form button"))
	ada.poll(`document.querySelector('` + row + ` .status')?.textContent === "disabled"`)
	b := cf.browser()
	if r := b.post("/login", url.Values{"name": {"una lee"}, "password": {"una's second secret"}}); r.StatusCode == http.StatusSeeOther {
		t.Fatal("a disabled account signed in")
	}
	ada.do(chromedp.Click(`#accounts tr[data-account="ada"] .status-form button`))
	ada.poll(`!!document.getElementById("page-error")`)
	if msg := ada.text("#page-error"); !strings.Contains(msg, "last active admin") {
		t.Fatalf("disabling the last admin: %q", msg)
	}
	if n := cf.count(`SELECT count(*) FROM audit_log WHERE actor = 'ada' AND target = 'user:una lee'`); n != 4 {
		t.Fatalf("%d audit entries for una lee, want 4 (add, role, password, disable)", n)
	}
}
