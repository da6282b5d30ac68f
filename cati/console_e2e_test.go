package cati_test

// End to end in a real browser: headless Chromium (Debian's, driven by
// chromedp) against the console on a real server and database. An
// interviewer completes the branched customer study from the keyboard,
// backing up once; another takes an appointment; a supervisor's live page
// sees the counts change. Screenshots of each page go to $CANVASS_ARTIFACTS
// (default: the test's temporary directory).

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/cati"
	store "github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium; `make test` installs it.
const chromiumPath = "/usr/bin/chromium"

// newBrowser starts headless Chromium with a fresh profile, as TESTING.md
// says; a missing Chromium fails the test.
func newBrowser(t *testing.T, flags ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s is missing: `make test` installs Debian's chromium (make deps), which the console's end-to-end tests drive: %v", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1366, 768), // a call-center screen
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
	}
	opts = append(opts, flags...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // start the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// tab is one signed-in user's page, in a browser context of its own (its
// own cookies).
type tab struct {
	t    *testing.T
	ctx  context.Context
	cf   *consoleFixture
	dir  string
	shot int
	name string
}

func (cf *consoleFixture) openTab(browser context.Context, name, artifacts string) *tab {
	cf.t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	cf.t.Cleanup(cancel)
	// The first run creates the tab: without a deadline, which would
	// close the tab when it passes.
	if err := chromedp.Do(ctx); err != nil {
		cf.t.Fatalf("open a tab: %v", err)
	}
	tb := &tab{t: cf.t, ctx: ctx, cf: cf, dir: artifacts, name: name}
	tb.do(
		chromedp.Navigate(cf.url+"/login"),
		chromedp.WaitVisible("#login"),
		chromedp.SendKeys("input[name=name]", name),
		chromedp.SendKeys("input[name=password]", testPassword),
		chromedp.Submit("#login"),
	)
	tb.poll(`document.body && document.body.dataset.user === "` + name + `"`)
	return tb
}

// do runs actions with a time limit.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.screenshot("failure")
		tb.t.Fatalf("%s: %v (%s)", tb.name, err, tb.pageState())
	}
}

// pageState says where a failed step left the page: the console's state,
// the question on screen, the requests sent and acknowledged, the message
// shown and the focused element, for a failure seen once in a while.
func (tb *tab) pageState() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 3*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const r = document.getElementById("console"), q = document.getElementById("question"),
		p = document.getElementById("problem"), a = document.activeElement;
		return "page: state=" + (r && r.dataset.state) + " question=" + (q && q.dataset.id) + " sent=" + (r && r.dataset.sent) +
			" acked=" + (r && r.dataset.acked) + " problem=" + JSON.stringify(p ? p.textContent : null) +
			" focus=" + (a ? a.tagName + "#" + a.id : null); })()`))
	if err != nil {
		return "page state unknown: " + err.Error()
	}
	return s
}

// text returns an element's text. Right after a navigation chromedp's copy
// of the DOM can still name a node of the page before (a script already
// sees the new one): such a query fails with -32000, and is asked again.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, time.Until(deadline))
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		cancel()
		if err == nil {
			return s
		}
		if time.Now().After(deadline) || !strings.Contains(err.Error(), "-32000") {
			tb.t.Fatalf("%s: text of %s: %v", tb.name, sel, err)
		}
		time.Sleep(50 * time.Millisecond) // the page is navigating
	}
}

// poll waits until a JavaScript expression is true, across navigations.
func (tb *tab) poll(expr string) {
	tb.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, time.Until(deadline))
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || !strings.Contains(err.Error(), "-32000") {
			tb.screenshot("failure")
			tb.t.Fatalf("%s: waiting for %s: %v (%s)", tb.name, expr, err, tb.pageState())
		}
		time.Sleep(50 * time.Millisecond) // the page is navigating
	}
}

// key presses keys on the focused element.
func (tb *tab) key(keys string) { tb.t.Helper(); tb.do(chromedp.KeyEvent(keys)) }

// eval returns a JavaScript expression's value as a string.
func (tb *tab) eval(expr string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`String(`+expr+`)`))
	if err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, expr, err)
	}
	return s
}

// question waits for question id to be on screen.
func (tb *tab) question(id string) {
	tb.t.Helper()
	tb.do(chromedp.WaitVisible(`#question[data-id="` + id + `"]`))
}

// reachRespondent takes the next case from the keyboard, dials it and
// records a contact: the interview's first question is on screen.
func (tb *tab) reachRespondent() {
	tb.t.Helper()
	tb.do(chromedp.WaitVisible("#next-case"))
	tb.key("n")
	tb.do(chromedp.WaitVisible("#dial"))
	tb.key("d")
	tb.do(chromedp.WaitVisible("#outcomes"))
	tb.key("1")
	tb.question("main_user")
}

func (tb *tab) screenshot(what string) {
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Logf("screenshot %s: %v", what, err)
		return
	}
	tb.shot++
	name := filepath.Join(tb.dir, strings.Join([]string{tb.name, string(rune('a' + tb.shot - 1)), what}, "-")+".png")
	if err := os.WriteFile(name, b, 0o644); err != nil {
		tb.t.Errorf("write screenshot: %v", err)
	}
}

func artifactDir(t *testing.T) string {
	dir := os.Getenv("CANVASS_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestConsoleInChromium(t *testing.T) {
	cf := newConsole(t, contact("Alice", "north", "consumer", "fibre"), contact("Bob", "south", "consumer", "tv"))
	browser := newBrowser(t)
	dir := artifactDir(t)

	sup := cf.openTab(browser, "sam", dir)
	sup.do(chromedp.WaitVisible(`.campaign .completes b`))
	if got := sup.text(`.campaign .completes b`); got != "0" {
		t.Fatalf("completes before: %q", got)
	}
	sup.screenshot("floor-before")

	// Ivy completes the study from the keyboard.
	ivy := cf.openTab(browser, "ivy", dir)
	ivy.do(chromedp.WaitVisible("#next-case"))
	ivy.screenshot("idle")
	ivy.key("n")
	ivy.do(chromedp.WaitVisible("#dial"))
	if intro := ivy.text("#intro"); !strings.Contains(intro, "speak with Alice") {
		t.Fatalf("intro %q", intro)
	}
	ivy.screenshot("on-case")
	ivy.key("d")
	ivy.do(chromedp.WaitVisible("#outcomes"))
	ivy.screenshot("dialing")
	ivy.key("1") // contact
	ivy.question("main_user")
	if q := ivy.text("#q-text"); !strings.Contains(q, "fibre") {
		t.Fatalf("piped question %q", q)
	}
	// The introduction stays at hand during the interview.
	if intro := ivy.eval(`document.querySelector("#intro-details #intro").textContent`); !strings.Contains(intro, "speak with Alice") {
		t.Fatalf("introduction during the interview: %q", intro)
	}
	ivy.key("1")
	ivy.do(chromedp.WaitVisible(`#options button.picked[data-value="true"]`))
	ivy.key("\r")
	ivy.question("tenure")
	ivy.key("3\r")
	ivy.question("sat_overall")
	ivy.key("2")
	ivy.key("\r")
	ivy.question("sat_reason")
	ivy.screenshot("question")
	ivy.key("\b") // back up from the empty reason to the score
	ivy.question("sat_overall")
	ivy.do(chromedp.WaitVisible(`#options button.picked[data-value="2"]`)) // the earlier answer, shown
	ivy.screenshot("backed-up")
	ivy.key("5")
	ivy.key("\r")
	ivy.question("nps")
	ivy.poll(`document.querySelectorAll('.options button[data-value]').length === 11`) // 0 to 10
	ivy.key("11\r")                                                                    // out of range: refused in place
	ivy.poll(`document.getElementById("problem").textContent.includes("out of range")`)
	ivy.screenshot("refused")
	ivy.do(chromedp.SetValue("#value", ""), chromedp.Focus("#value"))
	ivy.key("9\r")
	ivy.question("nps_reason")
	ivy.key("Reliable service\r")
	ivy.question("contacted_support")
	ivy.key("2")
	ivy.key("\r")
	ivy.question("household")
	ivy.key("3\r")
	ivy.question("renew")
	ivy.key("1")
	ivy.key("\r")
	ivy.question("recontact")
	ivy.key("1")
	ivy.key("\r")
	ivy.do(chromedp.WaitVisible("#wrapup-form"), chromedp.WaitVisible("#thanks"))
	if v, err := chromedp.Run(ivy.ctx, chromedp.Value("#code")); err != nil || v != "1.1" {
		t.Fatalf("suggested disposition %q %v", v, err)
	}
	ivy.screenshot("wrap-up")
	ivy.do(chromedp.Click("#submit-wrapup"), chromedp.WaitVisible("#next-case"))
	if got := ivy.text("#today"); got != "Today: 1 contact, 1 complete" {
		t.Fatalf("own counts %q", got)
	}
	if got := ivy.text("#after-case"); !regexp.MustCompile(`^Case [0-9]+ closed as 1\.1 Complete\.$`).MatchString(got) {
		t.Fatalf("confirmation after the case: %q", got)
	}

	// The supervisor's page changes by itself.
	sup.poll(`document.querySelector(".campaign .completes b").textContent === "1"`)
	sup.screenshot("floor-after")
	if n := cf.count(`SELECT count(*) FROM survey_case WHERE final_disposition = '1.1'`); n != 1 {
		t.Fatalf("%d complete cases", n)
	}

	// Ian takes an appointment with the mouse.
	ian := cf.openTab(browser, "ian", dir)
	ian.do(chromedp.Click("#next-case"), chromedp.WaitVisible("#dial"))
	if phone := ian.text("#phone"); phone != "+12125550101" {
		t.Fatalf("ian's case phone %q", phone)
	}
	ian.do(chromedp.Click("#dial"), chromedp.WaitVisible("#outcomes"),
		chromedp.Click(`button[data-outcome="contact"]`))
	ian.question("main_user")
	ian.do(chromedp.Click(`#options button[data-value="true"]`), chromedp.Click("#next"))
	ian.question("tenure")
	ian.do(chromedp.Click("#end-call"), chromedp.WaitVisible("#appointment"),
		chromedp.SetValue("#appointment", "2026-01-13T18:30"),
		chromedp.SendKeys("#note", "call after dinner"))
	ian.screenshot("appointment")
	ian.do(chromedp.Click("#submit-wrapup"), chromedp.WaitVisible("#next-case"))
	if n := cf.count(`SELECT count(*) FROM appointment WHERE at = '2026-01-13 23:30:00+00' AND note = 'call after dinner'`); n != 1 {
		t.Fatal("appointment not stored at 18:30 New York time")
	}
	sup.poll(`document.querySelector("#interviewers tr[data-name=ian] td[data-state]").dataset.state === "idle"`)
	sup.screenshot("floor-end")
	t.Logf("screenshots in %s", dir)
}

func TestAdminPagesInChromium(t *testing.T) {
	cf := newConsole(t)
	browser := newBrowser(t)
	dir := artifactDir(t)
	ada := cf.openTab(browser, "ada", dir)
	ada.do(chromedp.Navigate(cf.url+"/admin"), chromedp.WaitVisible("#upload"),
		chromedp.SetValue(`#upload textarea[name=source]`, "id: broken\ntitle: B\nlanguages: [en]\nquestions:\n  - id: q1\n    type: nps\n    when: nope > 1\n    text: Score?\n"),
		chromedp.Click(`#upload button[type=submit]`), chromedp.WaitVisible("#source"))
	if bad := ada.text("#source .bad"); !strings.Contains(bad, "when: nope > 1") {
		t.Fatalf("problem line %q", bad)
	}
	ada.screenshot("questionnaire-problems")
	// The questionnaire picked in the list is the one created, whichever
	// the form showed first.
	src := questionnaireFile(t, "post-call.yaml")
	pc, err := survey.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cf.db.PutQuestionnaire(t.Context(), pc.Version(src)); err != nil {
		t.Fatal(err)
	}
	ada.do(chromedp.Navigate(cf.url+"/admin/campaigns/new?questionnaire=customer-study"), chromedp.WaitVisible("#campaign"))
	ada.screenshot("campaign-form")
	ada.do(chromedp.SetValue(`#campaign select[name=questionnaire]`, "post-call"), chromedp.SetValue(`#campaign input[name=name]`, "Post-call wave"),
		chromedp.Click("#create"), chromedp.WaitVisible("#sample"))
	if n := cf.count(`SELECT count(*) FROM campaign WHERE name = 'Post-call wave' AND questionnaire_id = 'post-call'`); n != 1 {
		t.Fatal("the campaign was not created with the questionnaire picked in the list")
	}
	ada.do(chromedp.Navigate(cf.url+"/admin/campaigns/"+itoa(cf.campaign)), chromedp.WaitVisible("#sample"))
	csv := filepath.Join(t.TempDir(), "sample.csv")
	var b strings.Builder
	b.WriteString("phone,first_name,region,segment,product\n")
	for i := range 3000 {
		b.WriteString("+1212556" + strings.Repeat("0", 4-len(itoa(int64(i)))) + itoa(int64(i)) + ",N,north,consumer,tv\n")
	}
	b.WriteString("oops,Bad,north,consumer,tv\n")
	if err := os.WriteFile(csv, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ada.do(chromedp.SetUploadFiles(`#sample input[type=file]`, []string{csv}),
		chromedp.Click(`#sample button[type=submit]`), chromedp.WaitVisible("#import-result #result"))
	// Done means done: the bar full, and no progress poll still in flight
	// to set it back; the result in view.
	ada.poll(`document.getElementById("progress").dataset.state === "done" && document.getElementById("progress").dataset.polling === "0"`)
	if got := ada.eval(`document.querySelector("#progress progress").value + " " + document.querySelector("#progress span").textContent`); got != "100 done" {
		t.Fatalf("progress at the end: %q", got)
	}
	if in := ada.eval(`(() => { const r = document.getElementById("import-result").getBoundingClientRect(); return r.top < innerHeight && r.bottom > 0; })()`); in != "true" {
		t.Fatal("the import's result is not in view")
	}
	if got := ada.text("#import-result #imported"); got != "3000" {
		t.Fatalf("imported %q", got)
	}
	if got := ada.text("#import-result #result table"); !strings.Contains(got, "3002") {
		t.Fatalf("the broken row's line is not shown: %q", got)
	}
	ada.screenshot("sample-imported")
}

// The floor tells apart an interviewer who never signed in (no time in
// state), one ready, one on a break with its reason; the break is taken and
// ended from the console, and no case comes while it lasts.
func TestFloorStatesInChromium(t *testing.T) {
	cf := newConsole(t, contact("Alice", "north", "consumer", "fibre"))
	browser := newBrowser(t)
	dir := artifactDir(t)
	sup := cf.openTab(browser, "sam", dir)
	state := func(name string) string {
		return `document.querySelector("#interviewers tr[data-name=` + name + `] td[data-state]")`
	}
	sup.poll(state("ian") + `?.dataset.state === "signed_out"`)
	if got := sup.text(`#interviewers tr[data-name=ian] td:nth-child(3)`); got != "—" {
		t.Fatalf("time in state of an interviewer who never signed in: %q", got)
	}
	ivy := cf.openTab(browser, "ivy", dir)
	ivy.do(chromedp.WaitVisible("#next-case"))
	sup.poll(state("ivy") + `?.dataset.state === "idle"`)
	ivy.do(chromedp.SetValue("#break-reason", "lunch"), chromedp.Click("#take-break"), chromedp.WaitVisible("#resume"))
	if got := ivy.text("#break h1"); got != "On a break (lunch)" {
		t.Fatalf("the console says %q", got)
	}
	sup.poll(state("ivy") + `?.dataset.state === "break"`)
	if got := sup.text(`#interviewers tr[data-name=ivy] td[data-state]`); got != "on break (lunch)" {
		t.Fatalf("the floor says %q", got)
	}
	sup.screenshot("floor-break")
	ivy.key("n") // no case on a break: the page stays
	ivy.do(chromedp.Click("#resume"), chromedp.WaitVisible("#next-case"))
	sup.poll(state("ivy") + `?.dataset.state === "idle"`)
	if n := cf.count(`SELECT count(*) FROM survey_case WHERE status = 'claimed'`); n != 0 {
		t.Fatalf("%d cases claimed during the break", n)
	}
}

// A case with a call back booked goes to another interviewer with its
// appointment: not on her desk now (she may be signed out), but when it is
// due, and then the booked time and note are the first thing she sees.
func TestReassignKeepsTheAppointmentInChromium(t *testing.T) {
	cf := newConsole(t, contact("Alice", "north", "consumer", "fibre"))
	ian := cf.login("ian").dial()
	ian.next("state")
	var d desk
	ian.must("next_case", nil, &d)
	id := d.Case.ID
	ian.must("wrap_up", map[string]any{"case_id": id, "appointment": "2026-01-13T10:30", "note": "ask for Mrs Smith"}, nil)
	sup := cf.login("sam").dial()
	sup.next("floor")
	sup.must("reassign", map[string]any{"case_id": id, "to": "ivy"}, nil) // ivy never signed in
	if n := cf.count(`SELECT count(*) FROM interviewer_desk WHERE case_id = $1`, id); n != 0 {
		t.Fatal("the case went on a desk before its call back")
	}
	if n := cf.count(`SELECT count(*) FROM appointment a JOIN app_user u ON u.id = a.interviewer_id
		WHERE a.case_id = $1 AND a.status = 'pending' AND u.name = 'ivy'`, id); n != 1 {
		t.Fatal("the call back is not ivy's")
	}
	// Not before its time, and not for ian.
	if msg := ian.refuse("next_case", nil, survey.ENotFound); !strings.Contains(msg, "no case is due") {
		t.Fatalf("ian's next case: %q", msg)
	}
	cf.clock.Advance(time.Date(2026, 1, 13, 15, 31, 0, 0, time.UTC).Sub(cf.clock.Now())) // 10:31 in New York
	ivy := cf.openTab(newBrowser(t), "ivy", artifactDir(t))
	ivy.do(chromedp.WaitVisible("#next-case"))
	if got := ivy.text("#my-appointments li"); got != "Tue 13 Jan 10:30 EST · case "+itoa(id)+" · ask for Mrs Smith" {
		t.Fatalf("my appointments: %q", got)
	}
	ivy.key("n")
	ivy.do(chromedp.WaitVisible("#appointment-booked"))
	if first := ivy.eval(`document.querySelector("#case").firstElementChild.id`); first != "appointment-booked" {
		t.Fatalf("the first thing in the case panel is %q", first)
	}
	if got := ivy.text("#appointment-booked"); !strings.Contains(got, "Call back booked: Tue 13 Jan 10:30") || !strings.Contains(got, "ask for Mrs Smith") {
		t.Fatalf("appointment shown as %q", got)
	}
	ivy.screenshot("appointment-first")
}

// A case outside its respondent's calling hours is not put on anyone's desk.
func TestReassignOutsideCallingHours(t *testing.T) {
	cf := newConsole(t, contact("Alice", "north", "consumer", "fibre"))
	ian := cf.login("ian").dial()
	ian.next("state")
	var d desk
	ian.must("next_case", nil, &d)
	ivy := cf.login("ivy").dial() // at the console, ready
	ivy.next("state")
	cf.clock.Advance(11*time.Hour + 30*time.Minute) // 21:30 in New York
	sup := cf.login("sam").dial()
	sup.next("floor")
	msg := sup.refuse("reassign", map[string]any{"case_id": d.Case.ID, "to": "ivy"}, survey.EInvalid)
	if !strings.Contains(msg, "may not be called now: it is Mon 21:30 EST for the respondent") {
		t.Fatalf("refusal %q", msg)
	}
	if n := cf.count(`SELECT count(*) FROM interviewer_desk d JOIN app_user u ON u.id = d.user_id WHERE u.name = 'ivy' AND d.case_id IS NOT NULL`); n != 0 {
		t.Fatal("the case went on ivy's desk")
	}
}

// The floor shows each interviewer's contacts per hour, completes, refusal
// rate and handle time, and the feed says what happened in words; a click
// on an interviewer picks her case for an action, whose result shows
// without scrolling.
func TestSupervisorFloorInChromium(t *testing.T) {
	cf := newConsole(t, contact("Alice", "north", "consumer", "fibre"), contact("Bob", "south", "consumer", "tv"))
	sup := cf.openTab(newBrowser(t), "sam", artifactDir(t))
	sup.do(chromedp.WaitVisible(`#interviewers`))
	ian := cf.login("ian").dial()
	ian.next("state")
	var d desk
	ian.must("next_case", nil, &d)
	ian.must("dial", map[string]any{"case_id": d.Case.ID}, &d)
	ian.must("dial_result", map[string]any{"case_id": d.Case.ID, "outcome": "contact"}, &d)
	cf.clock.Advance(3 * time.Minute)
	ian.must("end_call", map[string]any{"case_id": d.Case.ID}, &d)
	ian.must("wrap_up", map[string]any{"case_id": d.Case.ID, "code": "2.11", "note": "not interested"}, &d)
	first := d.Case.ID
	ian.must("next_case", nil, &d)
	row := `#interviewers tr[data-name=ian]`
	sup.poll(`document.querySelector("` + row + `")?.dataset.case === "` + itoa(d.Case.ID) + `"`)
	for sel, want := range map[string]string{" .contacts-hour": "1", " .refusal-rate": "100.0%", " .handle": "3:00"} {
		if got := sup.text(row + sel); got != want {
			t.Errorf("%s: %q, want %q", sel, got, want)
		}
	}
	sup.poll(`[...document.querySelectorAll("#events li")].some((li) => li.textContent.includes("ian closed case ` + itoa(first) + ` as 2.11 Refusal"))`)
	// Clicked in the page, in one go: the floor redraws its rows whenever an
	// event comes, and a click found by one call and sent by the next can
	// land on a row already replaced.
	sup.eval(`document.querySelector("` + row + `").click(), true`)
	if got := sup.eval(`document.querySelector("#act input[name=case_id]").value`); got != itoa(d.Case.ID) {
		t.Fatalf("clicking ian picked case %q, want %d", got, d.Case.ID)
	}
	sup.do(chromedp.SetValue(`#act select[name=action]`, "release"), chromedp.Click(`#act button[type=submit]`))
	sup.poll(`document.getElementById("act-result").textContent.startsWith("Done: release case")`)
	if in := sup.eval(`(() => { const r = document.getElementById("act-result").getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; })()`); in != "true" {
		t.Fatal("the action's result is not in view")
	}
	sup.screenshot("floor-metrics")
}

// The keyboard slips an interviewer hits: a clicked score is what is sent
// whatever the box holds; a held Backspace emptying a text field does not
// back up; each Backspace backs up one question, however quick; a cleared
// number box is no answer; a refusal's explanation survives the refresh
// that follows it. The test waits for the page's own request counters.
func TestConsoleKeyboardInChromium(t *testing.T) {
	cf := newConsole(t, contact("Alice", "north", "consumer", "fibre"))
	ivy := cf.openTab(newBrowser(t), "ivy", artifactDir(t))
	settled := `(() => { const c = document.getElementById("console").dataset; return (c.sent || "0") === (c.acked || "0"); })()`
	counter := func() string { return ivy.eval(`document.getElementById("console").dataset.sent || "0"`) }
	answer := func(q string) string {
		var v string
		if err := cf.db.Pool().QueryRow(t.Context(), `SELECT value::text FROM answer WHERE question_id = $1`, q).Scan(&v); err != nil {
			t.Fatalf("answer %s: %v", q, err)
		}
		return v
	}
	ivy.reachRespondent()
	ivy.key("1")
	ivy.do(chromedp.WaitVisible(`#options button.picked[data-value="true"]`))
	ivy.key("\r")
	ivy.question("tenure")
	ivy.key("3\r")
	ivy.question("sat_overall")
	ivy.key("4")
	ivy.key("\r")
	ivy.question("nps")

	// 1. A clicked score wins over the box.
	ivy.do(chromedp.SetValue("#value", "7"), chromedp.Click(`.options button[data-value="9"]`))
	ivy.question("nps_reason")
	ivy.poll(settled)
	if v := answer("nps"); v != "9" {
		t.Fatalf("clicked 9 with 7 in the box: stored %s", v)
	}

	// 2. A held Backspace that empties the field repeats: no back-up.
	before := counter()
	ivy.eval(`(() => { const f = document.getElementById("value"); f.value = ""; f.focus();
		f.dispatchEvent(new KeyboardEvent("keydown", { key: "Backspace", repeat: true, bubbles: true })); return ""; })()`)
	if after := counter(); after != before {
		t.Fatalf("a repeated Backspace sent a request (%s → %s)", before, after)
	}
	// 3. A fresh one on the empty field backs up one question.
	ivy.key("\b")
	ivy.question("nps")
	ivy.poll(settled)
	ivy.key("\r") // the box holds the stored 9
	ivy.question("nps_reason")
	ivy.poll(settled)
	// 4. Two quick Backspaces: two questions back. Both are pressed before
	// any answer can arrive (one script task), as two quick presses on a
	// busy line are; otherwise the second would edit the score box the
	// first back-up shows, as it should.
	ivy.eval(`(() => { const f = document.getElementById("value"); f.value = ""; f.focus();
		for (let i = 0; i < 2; i++) { f.dispatchEvent(new KeyboardEvent("keydown", { key: "Backspace", bubbles: true, cancelable: true })); }
		return ""; })()`)
	ivy.poll(settled)
	ivy.question("sat_overall")

	// 5. A cleared number box is no answer: nothing sent, the old one kept.
	ivy.key("\b")
	ivy.question("tenure")
	ivy.poll(settled)
	before = counter()
	ivy.do(chromedp.SetValue("#value", ""), chromedp.Focus("#value"))
	ivy.key("\r")
	ivy.poll(`document.getElementById("problem").textContent.includes("Type a number first")`)
	if after := counter(); after != before {
		t.Fatalf("a cleared box sent a request (%s → %s)", before, after)
	}
	if v := answer("tenure"); v != "3" {
		t.Fatalf("tenure became %s", v)
	}

	// 6. The desk moved on another node: the page's next step is refused,
	// and the explanation stays on the refreshed screen.
	ivy.key("4\r")
	ivy.question("sat_overall")
	ivy.poll(settled)
	cf.exec(`UPDATE interviewer_desk SET question = 'tenure' WHERE state = 'interviewing'`)
	ivy.key("5")
	ivy.key("\r")
	ivy.question("tenure")
	ivy.poll(settled)
	if msg := ivy.text("#problem"); !strings.Contains(msg, "your screen has been refreshed") {
		t.Fatalf("the refusal's explanation is gone: %q", msg)
	}
}

// The wrap-up offers the codes that fit what happened, the suggested one
// first, and the rest of the catalog under "Other…".
func TestWrapUpFittingCodesInChromium(t *testing.T) {
	cf := newConsole(t, contact("Alice", "north", "consumer", "fibre"))
	ivy := cf.openTab(newBrowser(t), "ivy", artifactDir(t))
	ivy.reachRespondent()
	ivy.do(chromedp.Click("#end-call"), chromedp.WaitVisible("#wrapup-form"))
	fitting := ivy.eval(`[...document.querySelectorAll("#fitting option")].map((o) => o.value).join(" ")`)
	if fitting != "2.12 2.11 2.112 2.111" {
		t.Fatalf("codes offered for a break-off: %q", fitting)
	}
	if v := ivy.eval(`document.getElementById("code").value`); v != "2.12" {
		t.Fatalf("suggested %q", v)
	}
	if n := ivy.eval(`String(document.querySelectorAll("#other-codes option[value='2.36']").length)`); n != "1" {
		t.Fatal("the rest of the catalog is not under Other…")
	}
}

// The interviewer's screen names the contact fields as the sample file did.
func TestContactFieldLabelsInChromium(t *testing.T) {
	cf := newConsole(t)
	ada := cf.login("ada")
	csv := "Phone,First name,Region,Product\n+1 212 555 0400,Tess,north,fibre\n"
	r := ada.multipartPost("/admin/campaigns/"+itoa(cf.campaign)+"/sample", [][2]string{{"csrf", ada.csrf}, {"token", "tok0123456789labels"},
		{"col_phone", "Phone"}, {"field_first_name", "First name"}, {"field_region", "Region"}, {"field_product", "Product"}},
		"file", "sample.csv", []byte(csv), "Accept", "application/json")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("import: %d %s", r.StatusCode, body(t, r))
	}
	cf.exec(`UPDATE survey_case SET next_attempt_at = '2000-01-01' WHERE status = 'open'`)
	ivy := cf.openTab(newBrowser(t), "ivy", artifactDir(t))
	ivy.do(chromedp.WaitVisible("#next-case"))
	ivy.key("n")
	ivy.do(chromedp.WaitVisible("#dial"))
	if got := ivy.text(`#case dt[data-field=first_name]`); got != "First name" {
		t.Fatalf("first_name shown as %q", got)
	}
	if got := ivy.text(`#case dt[data-field=region]`); got != "Region" {
		t.Fatalf("region shown as %q", got)
	}
}

// After a case is settled the console says how, and the next case comes by
// itself after the configured delay, unless the interviewer stays.
func TestNextCaseComesByItselfInChromium(t *testing.T) {
	cf := newConsoleWith(t, func(db *store.DB, d *cati.Deps) {
		withConsole(db, d)
		d.Console.Options.NextCaseDelay = time.Second
	}, contact("Alice", "north", "consumer", "fibre"), contact("Bob", "south", "consumer", "tv"), contact("Cy", "east", "consumer", "tv"))
	ivy := cf.openTab(newBrowser(t), "ivy", artifactDir(t))
	ivy.do(chromedp.WaitVisible("#next-case"))
	ivy.key("n")
	ivy.do(chromedp.WaitVisible("#dial"))
	first := ivy.text("#case-id")
	ivy.key("d")
	ivy.do(chromedp.WaitVisible("#outcomes"))
	ivy.key("2") // no answer: the case is settled from the dialing screen
	ivy.do(chromedp.WaitVisible("#after-case"))
	if got := ivy.text("#after-case"); !strings.HasPrefix(got, "Case "+first+" put back for a retry (3.13 No answer) — next case in") {
		t.Fatalf("confirmation %q", got)
	}
	ivy.do(chromedp.WaitVisible("#dial")) // the next case, by itself
	second := ivy.text("#case-id")
	if second == first {
		t.Fatalf("the same case %s came back", first)
	}
	// Staying: the countdown is gone (its timer cleared), the confirmation stays.
	ivy.key("d")
	ivy.do(chromedp.WaitVisible("#outcomes"))
	ivy.key("3") // busy
	ivy.do(chromedp.WaitVisible("#stay"), chromedp.Click("#stay"))
	if got := ivy.text("#after-case"); got != "Case "+second+" put back for a retry (3.12 Always busy)." {
		t.Fatalf("after staying: %q", got)
	}
	if n := ivy.eval(`String(document.querySelectorAll("#stay, #after-case-left").length)`); n != "0" {
		t.Fatal("the countdown is still shown after staying")
	}
}

// The wrap-up's "Never call again" button, confirmed: the case closes as a
// refusal and the number is on the campaign's do-not-call list.
func TestNeverCallAgainInChromium(t *testing.T) {
	cf := newConsole(t, contact("Alice", "north", "consumer", "fibre"))
	ivy := cf.openTab(newBrowser(t), "ivy", artifactDir(t))
	ivy.reachRespondent()
	ivy.do(chromedp.Click("#end-call"), chromedp.WaitVisible("#never-call"))
	ivy.eval(`(() => { window.confirm = () => true; return ""; })()`)
	ivy.do(chromedp.SetValue("#note", "take me off your list"), chromedp.Click("#never-call"), chromedp.WaitVisible("#next-case"))
	if n := cf.count(`SELECT count(*) FROM dnc WHERE phone_e164 = '+12125550100' AND campaign_id = $1 AND source = 'console' AND note = 'take me off your list'`, cf.campaign); n != 1 {
		t.Fatalf("%d campaign listings of the number", n)
	}
	if n := cf.count(`SELECT count(*) FROM survey_case WHERE status = 'closed' AND final_disposition = '2.11'`); n != 1 {
		t.Fatalf("%d cases closed as 2.11", n)
	}
}
