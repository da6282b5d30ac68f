package cati_test

// The console as a phone, end to end with real peers: headless Chromium
// with a fake microphone is the interviewer (and a second one the
// supervisor), Canvass's own WebRTC leg, switchboard and SIP endpoint carry
// the call, and baresip is the respondent. Who hears what is checked by
// frequency: in the page with an AnalyserNode on the far end's audio, at the
// phone in what it recorded.

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/phone"
	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/ivr/sipua/baresiptest"
	"github.com/canvass/canvass/ivr/webrtc"
	"github.com/canvass/canvass/prompts"
	store "github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// Tones: who speaks which.
const (
	interviewerHz = 440
	supervisorHz  = 660
	respondentHz  = 1000
)

// phoneRig is the console's phone over a real SIP endpoint whose trunk is
// a baresip.
type phoneRig struct {
	recordings string
	sb         *phone.Switchboard
	engine     *ivr.Engine
	sip        *sipua.Server
}

// rigKeypads hands respondents to the rig's keypad as cmd/canvass does.
type rigKeypads struct{ rig *phoneRig }

func (k rigKeypads) Keypad(user survey.UserID, interview survey.InterviewID, from string, done func(error)) error {
	return k.rig.sb.Keypad(user, func(ctx context.Context, m ivr.Media) error {
		_, err := k.rig.engine.Keypad(ctx, m, interview, from)
		done(err)
		return err
	})
}

// withPhone wires the console's phone as cmd/canvass does, dialing out
// through the phone at trunk.
func withPhone(t *testing.T, trunk string, ring time.Duration, rig *phoneRig) func(*store.DB, *cati.Deps) {
	return func(db *store.DB, d *cati.Deps) {
		withConsole(db, d)
		log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
		popts := prompts.DefaultOptions()
		popts.Dir, popts.RecordingsDir = t.TempDir(), t.TempDir()
		rig.recordings = popts.RecordingsDir
		catalog, err := prompts.New(popts, log)
		if err != nil {
			t.Fatal(err)
		}
		d.Audio = catalogAudio{catalog} // recordings are served from it
		engine := ivr.New(ivr.DefaultOptions(), db, db, log, nil)
		sopts := sipua.DefaultOptions()
		sopts.Addr, sopts.RTPPorts = "127.0.0.1:0", "0"
		sopts.Trunk.URI = "sip:" + trunk
		sip, err := sipua.New(sopts, engine, catalog, catalog, log.With("component", "sip"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- sip.Run(ctx) }()
		wopts := webrtc.DefaultOptions()
		wopts.Listen = "127.0.0.1:0"
		rtc, err := webrtc.New(wopts, log.With("component", "webrtc"))
		if err != nil {
			t.Fatal(err)
		}
		rig.sb = phone.New(phone.Deps{Dialer: sip, RecordingsDir: popts.RecordingsDir, Grace: 3 * time.Second, RingTimeout: ring,
			Log: log.With("component", "phone"),
			Answer: func(ctx context.Context, offer string) (phone.Browser, string, error) {
				p, a, err := rtc.Answer(ctx, offer)
				if err != nil {
					return nil, "", err
				}
				return p, a, nil
			}})
		d.Console.Phones = rig.sb
		d.Console.Phone.ICEServers = rtc.ICEServers()
		rig.engine, rig.sip = engine, sip
		d.Console.Keypads = rigKeypads{rig}
		t.Cleanup(func() {
			ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
			defer stop()
			if err := rig.sb.Close(ctx); err != nil {
				t.Error(err)
			}
			rtc.Close()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("sip Run: %v", err)
			}
		})
	}
}

// toneBrowser is a Chromium whose microphone plays a tone.
func toneBrowser(t *testing.T, hz float64) context.Context {
	t.Helper()
	wav := filepath.Join(t.TempDir(), fmt.Sprintf("tone-%v.wav", hz))
	if err := baresiptest.WriteWAV(wav, baresiptest.Sine(hz, 4, 12000)); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(wav) // a path with /../ plays silence
	if err != nil {
		t.Fatal(err)
	}
	return newBrowser(t,
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", abs),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true))
}

// toneProbe defines window.__tone(hz): the level (dBFS) at hz of what the
// page plays from the phone, through an AnalyserNode on the far end's
// stream (made again when the stream changes, after a reconnect).
const toneProbe = `(window.__tone = (hz) => {
  const a = document.getElementById("phone-audio");
  if (!a || !a.srcObject) { return -200; }
  if (window.__src !== a.srcObject) {
    window.__src = a.srcObject;
    window.__ctx = window.__ctx || new AudioContext();
    const an = window.__ctx.createAnalyser();
    an.fftSize = 4096; an.smoothingTimeConstant = 0;
    window.__ctx.createMediaStreamSource(a.srcObject).connect(an);
    window.__an = an;
  }
  const d = new Float32Array(window.__an.frequencyBinCount);
  window.__an.getFloatFrequencyData(d);
  const bin = Math.round(hz / (window.__ctx.sampleRate / window.__an.fftSize));
  let peak = -200;
  for (let i = bin - 2; i <= bin + 2; i++) { peak = Math.max(peak, d[i]); }
  return peak;
}, true)`

// hearsAbove is the level over which a tone counts as heard (dBFS).
const hearsAbove = -55

func (tb *tab) openPhone(path string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(tb.cf.url + path))
	tb.poll(`document.getElementById("phonebar") && document.getElementById("phonebar").dataset.status === "ready"`)
	tb.eval(toneProbe)
}

// hears waits until the page plays hz.
func (tb *tab) hears(hz int) {
	tb.t.Helper()
	tb.eval(toneProbe)
	tb.poll(fmt.Sprintf(`window.__tone(%d) > %d`, hz, hearsAbove))
}

// neverHears checks that the page stops playing hz (what was on its way
// when the route changed plays out first) and then, over a second, that it
// does not play it.
func (tb *tab) neverHears(hz int, what string) {
	tb.t.Helper()
	tb.poll(fmt.Sprintf(`window.__tone(%d) < %d`, hz, hearsAbove))
	for range 10 {
		if v, _ := strconv.ParseFloat(tb.eval(fmt.Sprintf(`window.__tone(%d)`, hz)), 64); v > hearsAbove {
			tb.t.Errorf("%s: %s hears %d Hz (%.0f dBFS)", what, tb.name, hz, v)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fetch GETs path from the page (its cookies, no redirects followed) and
// returns "status content-type".
func (tb *tab) fetch(path string) string {
	tb.t.Helper()
	tb.eval(`(window.__got = undefined, fetch("` + path + `", {redirect: "manual"}).then(r => window.__got = r.status + " " + r.headers.get("Content-Type"), e => window.__got = "error " + e), true)`)
	tb.poll(`window.__got !== undefined`)
	return tb.eval(`window.__got`)
}

// call waits until the phone bar shows the call in state.
func (tb *tab) call(state string) {
	tb.t.Helper()
	tb.poll(`document.getElementById("phonebar").dataset.call === "` + state + `"`)
}

func TestPhoneInChromium(t *testing.T) {
	const number = "+12125550100" // the fixture's first contact
	resp := baresiptest.Start(t, baresiptest.Options{Name: "respondent", User: number, AutoAnswer: true,
		Say: baresiptest.Sine(respondentHz, 90, 12000)})
	rig := &phoneRig{}
	cf := newConsoleWith(t, withPhone(t, resp.Addr(), 0, rig), contact("Alice", "north", "consumer", "fibre"))
	cf.exec(`UPDATE campaign SET settings = '{"record_calls": true}'`)
	dir := artifactDir(t)

	ivy := cf.openTab(toneBrowser(t, interviewerHz), "ivy", dir)
	ivy.openPhone("/console?rawaudio=1")
	ivy.do(chromedp.WaitVisible("#next-case"))
	ivy.key("n")
	ivy.do(chromedp.WaitVisible("#dial"))
	ivy.key("d")
	ivy.call("answered")
	answered := time.Now()
	ivy.hears(respondentHz)
	ivy.poll(`document.getElementById("network") && document.getElementById("network").dataset.prefill === "contact"`)
	if got := ivy.text("#consent"); !strings.Contains(got, "This call is recorded") {
		t.Errorf("consent: %q", got)
	}
	ivy.screenshot("answered")
	ivy.key("1") // contact, as pre-selected
	ivy.question("main_user")

	// The supervisor walks listen → whisper → barge → listen.
	sam := cf.openTab(toneBrowser(t, supervisorHz), "sam", dir)
	sam.do(chromedp.Navigate(cf.url + "/supervisor?rawaudio=1"))
	row := `tr[data-name="ivy"] `
	type phase struct {
		mode              string
		clicked, from, to time.Duration // since the answer: the click, the page saying so, the phase's end
	}
	var phases []phase
	for _, mode := range []string{"listen", "whisper", "barge", "listen"} {
		sam.do(chromedp.WaitVisible(row + `button[data-monitor="` + mode + `"]`))
		clicked := time.Since(answered)
		sam.do(chromedp.Click(row + `button[data-monitor="` + mode + `"]`))
		sam.poll(`document.getElementById("monitor-state").dataset.mode === "` + mode + `"`)
		from := time.Since(answered)
		sam.hears(respondentHz)
		sam.hears(interviewerHz)
		if mode == "listen" {
			ivy.neverHears(supervisorHz, mode)
		} else {
			ivy.hears(supervisorHz)
		}
		ivy.hears(respondentHz) // the call never dropped
		time.Sleep(time.Second) // a stretch for the phone's recording to judge
		phases = append(phases, phase{mode, clicked, from, time.Since(answered)})
	}
	sam.screenshot("barge")
	sam.do(chromedp.Click(row + `button[data-monitor="off"]`))
	sam.poll(`document.getElementById("monitor-state").dataset.mode === ""`)

	// The keypad reaches the far end as RFC 4733 events; mute and hold
	// show on the bar.
	ivy.do(chromedp.Click(`#phone-keypad summary`), chromedp.Click(`#phone-keypad button[data-key="5"]`))
	resp.WaitOutput("received event: '5'", 10*time.Second)
	ivy.do(chromedp.Click(`#phone-mute`))
	ivy.poll(`document.getElementById("phonebar").dataset.muted === "true"`)
	ivy.do(chromedp.Click(`#phone-mute`))
	ivy.poll(`document.getElementById("phonebar").dataset.muted === "false"`)
	ivy.do(chromedp.Click(`#phone-hold`))
	ivy.poll(`document.getElementById("phonebar").dataset.held === "true"`)
	ivy.neverHears(respondentHz, "on hold")
	ivy.do(chromedp.Click(`#phone-hold`))
	ivy.poll(`document.getElementById("phonebar").dataset.held === "false"`)
	ivy.hears(respondentHz)

	// A reload keeps the call.
	ivy.do(chromedp.Reload())
	ivy.poll(`document.getElementById("phonebar") && document.getElementById("phonebar").dataset.status === "ready"`)
	ivy.call("answered")
	ivy.hears(respondentHz)
	ivy.question("main_user")

	// The respondent hangs up: the bar says so and the desk moves on.
	resp.Type("b")
	ivy.call("ended")
	ivy.poll(`document.getElementById("console").dataset.state === "wrap_up"`)
	ivy.screenshot("hung-up")

	var sip, ring, talk int
	var channel, recording string
	if err := cf.db.Pool().QueryRow(t.Context(), `SELECT coalesce(sip_cause, 0), coalesce(ring_ms, -1), coalesce(talk_ms, -1), channel, recording
		FROM attempt WHERE answered_at IS NOT NULL`).Scan(&sip, &ring, &talk, &channel, &recording); err != nil {
		t.Fatal(err)
	}
	if sip != 200 || ring < 0 || talk < 3000 || channel == "" || recording == "" {
		t.Errorf("attempt: sip %d ring %d ms talk %d ms channel %q recording %q", sip, ring, talk, channel, recording)
	}

	// The supervisor plays the recording on the case page; the
	// interviewer may not fetch it.
	sam.do(chromedp.Navigate(cf.url + "/supervisor/cases/1"))
	sam.do(chromedp.WaitVisible(`#attempts audio[src="/supervisor/recordings/` + recording + `"]`))
	if got := sam.fetch("/supervisor/recordings/" + recording); got != "200 audio/wav" {
		t.Errorf("the supervisor fetched the recording: %s", got)
	}
	if got := ivy.fetch("/supervisor/recordings/" + recording); strings.HasPrefix(got, "200") {
		t.Errorf("an interviewer fetched a recording: %s", got)
	}
	sam.screenshot("case")

	// What the respondent heard: the interviewer throughout, the
	// supervisor in one stretch no longer than the barge phase. The phone's
	// recording is not on the wall clock (under load its audio arrives late
	// and in bursts, and it records what arrives), so the supervisor's tone
	// is found by content, 100 ms at a time: a leak in listen or whisper
	// would lengthen the stretch or make a second one.
	heard := resp.Heard()
	// The barge lasts at most from its click to the page confirming the
	// next mode.
	var barge time.Duration
	for i, ph := range phases {
		t.Logf("%s %v–%v", ph.mode, ph.from, ph.to)
		if ph.mode == "barge" && i+1 < len(phases) {
			barge = phases[i+1].from - ph.clicked
		}
	}
	const chunk = 800 // 100 ms
	var supChunks, runs, ivChunks, chunks int
	inRun := false
	for i := 0; i+chunk <= len(heard); i += chunk {
		seg := heard[i : i+chunk]
		chunks++
		// A heard tone is above 1e10 here; noise and codec products of
		// the other tones stay under 1e7.
		if baresiptest.Power(seg, interviewerHz, 8000) > 1e8 {
			ivChunks++
		}
		sup := baresiptest.Power(seg, supervisorHz, 8000) > 1e8
		if sup {
			supChunks++
			if !inRun {
				runs++
			}
		}
		inRun = sup
	}
	heardSup := time.Duration(supChunks) * 100 * time.Millisecond
	t.Logf("the respondent heard the interviewer in %d of %d 100 ms chunks, the supervisor in %d (%d stretches; barge lasted %v)",
		ivChunks, chunks, supChunks, runs, barge)
	if runs != 1 || heardSup < 300*time.Millisecond || heardSup > barge+200*time.Millisecond { // a chunk at each edge
		t.Errorf("the respondent heard the supervisor for %v in %d stretches; want one stretch within the barge's %v", heardSup, runs, barge)
	}
	if ivChunks < chunks*7/10 {
		t.Errorf("the respondent heard the interviewer in %d of %d chunks", ivChunks, chunks)
	}
	// The recording holds both sides: the respondent left, the interviewer right.
	rec, err := baresiptest.ReadWAV(filepath.Join(rig.recordings, recording+".wav"))
	if err != nil {
		t.Fatal(err)
	}
	left, right := make([]int16, len(rec)/2), make([]int16, len(rec)/2)
	for i := range left {
		left[i], right[i] = rec[2*i], rec[2*i+1]
	}
	if l, r := baresiptest.Power(left, respondentHz, 8000), baresiptest.Power(right, interviewerHz, 8000); l < 1e5 || r < 1e5 {
		t.Errorf("recording: respondent %.3g left, interviewer %.3g right", l, r)
	}
}

// Calls that are not answered pre-fill what the network said; closing the
// tab mid-call ends the call.
func TestPhoneOutcomesInChromium(t *testing.T) {
	resp := baresiptest.Start(t, baresiptest.Options{Name: "rings", User: "+12125550101", Also: []string{"+12125550102"},
		Say: baresiptest.Sine(respondentHz, 90, 12000)})
	rig := &phoneRig{}
	cf := newConsoleWith(t, withPhone(t, resp.Addr(), 3*time.Second, rig),
		contact("Alice", "north", "consumer", "fibre"), contact("Bob", "south", "consumer", "tv"), contact("Cy", "south", "consumer", "tv"))
	dir := artifactDir(t)
	ivy := cf.openTab(toneBrowser(t, interviewerHz), "ivy", dir)
	ivy.openPhone("/console?rawaudio=1")

	// +12125550100 is not a user of this phone; +12125550101 rings and
	// the respondent rejects the call (486); +12125550102 rings and is
	// never answered. Which comes first is the claim's business.
	expect := map[string]struct{ outcome, cause string }{"+12125550100": {"not_working", "SIP 404"},
		"+12125550101": {"busy", "SIP 486"}, "+12125550102": {"no_answer", ""}}
	rings := 0
	for range expect {
		ivy.do(chromedp.WaitVisible("#next-case"))
		ivy.key("n")
		ivy.do(chromedp.WaitVisible("#dial"))
		dial := ivy.text("#dial")
		want, ok := expect[strings.Fields(dial)[1]]
		if !ok {
			t.Fatalf("dial button: %q", dial)
		}
		ivy.key("d")
		if want.outcome == "busy" {
			rings++
			if !resp.Printed("Incoming call", rings, 10*time.Second) {
				t.Fatal("the phone never rang")
			}
			resp.Type("b") // the respondent rejects the call
		} else if want.outcome == "no_answer" {
			rings++
		}
		ivy.call("ended")
		// The screen redraws as the call's events come: read it in one go.
		ivy.poll(`(n => n && n.dataset.prefill === "` + want.outcome + `" && n.textContent.includes("` + want.cause + `"))(document.getElementById("network"))`)
		ivy.screenshot(want.outcome)
		ivy.do(chromedp.Click(`button.prefilled`))
		ivy.poll(`document.getElementById("console").dataset.state !== "dialing"`)
		if s := ivy.eval(`document.getElementById("console").dataset.state`); s == "wrap_up" {
			ivy.do(chromedp.Click("#submit-wrapup"))
		}
	}
	if n := cf.count(`SELECT count(*) FROM attempt WHERE sip_cause = 404 AND ring_ms >= 0`); n != 1 {
		t.Errorf("%d attempts stored with 404", n)
	}
}

// Closing the tab mid-call ends the call once the grace has passed, and the
// attempt keeps how long it lasted.
func TestPhoneClosedTabEndsTheCallInChromium(t *testing.T) {
	resp := baresiptest.Start(t, baresiptest.Options{Name: "respondent", User: "+12125550100", AutoAnswer: true,
		Say: baresiptest.Sine(respondentHz, 90, 12000)})
	rig := &phoneRig{}
	cf := newConsoleWith(t, withPhone(t, resp.Addr(), 0, rig), contact("Alice", "north", "consumer", "fibre"))
	ivy := cf.openTab(toneBrowser(t, interviewerHz), "ivy", artifactDir(t))
	ivy.openPhone("/console?rawaudio=1")
	ivy.do(chromedp.WaitVisible("#next-case"))
	ivy.key("n")
	ivy.do(chromedp.WaitVisible("#dial"))
	ivy.key("d")
	ivy.call("answered")
	ivy.hears(respondentHz)
	if err := chromedp.Cancel(ivy.ctx); err != nil { // closes the tab
		t.Fatal(err)
	}
	resp.WaitOutput("terminated", 15*time.Second) // the grace is 3 s
	deadline := time.Now().Add(10 * time.Second)
	for cf.count(`SELECT count(*) FROM attempt WHERE talk_ms > 0 AND sip_cause = 200
		AND hung_up_by = 'system' AND end_reason = 'the interviewer''s console went away'`) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the ended call was not stored on its attempt")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Bad or misplaced signalling gets a clear error and disturbs nothing.
func TestPhoneBadInput(t *testing.T) {
	rig := &phoneRig{}
	cf := newConsoleWith(t, withPhone(t, "127.0.0.1:9", 0, rig), contact("Alice", "north", "consumer", "fibre"))
	ivy := cf.login("ivy").dial()
	ivy.next("state")
	for _, c := range []struct {
		typ  string
		data any
		code survey.ErrorCode
		says string
	}{
		{"rtc_offer", map[string]any{"sdp": "not sdp at all"}, survey.EInvalid, "offer"},
		{"rtc_offer", map[string]any{"sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=setup:actpass\r\na=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\na=rtpmap:111 opus/48000/2\r\n"}, survey.EInvalid, "PCMU"},
		{"rtc_offer", map[string]any{"sdp": ""}, survey.EInvalid, "sdp is required"},
		{"rtc_offer", map[string]any{"sdp": strings.Repeat("a", 20000)}, survey.EInvalid, "longer"},
		{"call_hangup", nil, survey.EConflict, "no call"},
		{"call_mute", map[string]any{"on": true}, survey.EConflict, "no call"},
		{"call_digits", map[string]any{"digits": "12x"}, survey.EInvalid, `"x" is not a keypad key`},
		{"call_digits", map[string]any{"digits": "1"}, survey.EConflict, "no call"},
		{"monitor", map[string]any{"user_id": 1, "mode": "listen"}, survey.EForbidden, "interviewer accounts cannot send monitor"},
		{"dial", map[string]any{"case_id": 1}, survey.EConflict, ""}, // no case claimed yet
	} {
		if msg := ivy.refuse(c.typ, c.data, c.code); !strings.Contains(msg, c.says) {
			t.Errorf("%s %v: %q does not say %q", c.typ, c.data, msg, c.says)
		}
	}
	// With a case but no phone connected, dialing says what to do and
	// records nothing.
	var d desk
	ivy.must("next_case", nil, &d)
	if msg := ivy.refuse("dial", map[string]any{"case_id": d.Case.ID}, survey.EConflict); !strings.Contains(msg, "allow the microphone") {
		t.Errorf("dial without a phone: %q", msg)
	}
	if n := cf.count(`SELECT count(*) FROM attempt`); n != 0 {
		t.Errorf("%d attempts recorded without a call", n)
	}
	sam := cf.login("sam").dial()
	for _, c := range []struct {
		data any
		code survey.ErrorCode
		says string
	}{
		{map[string]any{"user_id": cf.users["ivy"], "mode": "spy"}, survey.EInvalid, "not listen, whisper, barge"},
		{map[string]any{"user_id": cf.users["ivy"], "mode": "listen"}, survey.EConflict, "not an interviewer on a call"},
		{map[string]any{"user_id": cf.users["ada"], "mode": "listen"}, survey.EConflict, "not an interviewer on a call"},
		{map[string]any{"user_id": 0, "mode": "listen"}, survey.EInvalid, "user_id"},
	} {
		if msg := sam.refuse("monitor", c.data, c.code); !strings.Contains(msg, c.says) {
			t.Errorf("monitor %v: %q does not say %q", c.data, msg, c.says)
		}
	}
	sam.refuse("call_hangup", nil, survey.EForbidden)
	sam.refuse("call_digits", map[string]any{"digits": "1"}, survey.EForbidden)
	// Nothing was disturbed: the desk goes on.
	ivy.must("sync", nil, nil)
	if d.State != survey.DeskOnCase {
		t.Fatalf("desk: %+v", d)
	}
}

// A server without a browser phone says so.
func TestNoPhone(t *testing.T) {
	cf := newConsole(t)
	ivy := cf.login("ivy").dial()
	ivy.next("state")
	if msg := ivy.refuse("rtc_offer", map[string]any{"sdp": "v=0"}, survey.EConflict); !strings.Contains(msg, "no browser phone") {
		t.Errorf("%q", msg)
	}
}

// The console as the dialer drives it (dialer.Agents): an idle interviewer
// on a progressive campaign is offered the next case already dialing, and
// a previewed case of a campaign that auto-dials is dialed for the
// interviewer; both pages show the call without a click. The test plays
// the runner's part (Waiting, then Offer or DialPreview), whose own logic
// dialer's tests cover.
func TestDialerDrivesTheConsoleInChromium(t *testing.T) {
	_, cf := twoRespondents(t)
	ctx := t.Context()
	setDialing := func(js string) {
		t.Helper()
		if err := cf.db.Tx(ctx, func(tx store.DBTX) error {
			_, err := tx.Exec(ctx, `UPDATE campaign SET settings = settings || jsonb_build_object('dialing', $2::jsonb) WHERE id = $1`, cf.campaign, js)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	slot := func(user survey.UserID, state survey.DeskState) survey.AgentSlot {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			slots, err := cf.server.Waiting(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range slots {
				if s.User == user && s.State == state {
					return s
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("user %d never waiting %s: %+v", user, state, slots)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	dir := artifactDir(t)

	setDialing(`{"mode": "progressive"}`)
	ivy := cf.openTab(toneBrowser(t, interviewerHz), "ivy", dir)
	ivy.openPhone("/console?rawaudio=1")
	ivy.do(chromedp.WaitVisible("#next-case"))
	a := slot(cf.users["ivy"], survey.DeskIdle)
	if !a.Progressive || a.Name != "ivy" {
		t.Errorf("slot %+v: want ivy, idle on a progressive campaign", a)
	}
	if err := cf.server.Offer(ctx, a.User, a.Name); err != nil {
		t.Fatal(err)
	}
	ivy.call("answered")
	ivy.hears(respondentHz)
	ivy.poll(`document.getElementById("console").dataset.state === "dialing"`)
	ivy.screenshot("progressive")
	if slots, err := cf.server.Waiting(ctx); err != nil || slices.ContainsFunc(slots, func(s survey.AgentSlot) bool { return s.User == a.User }) {
		t.Errorf("ivy, on a call, is still waiting: %+v %v", slots, err)
	}

	setDialing(`{"auto_dial_seconds": 5}`)
	ian := cf.openTab(toneBrowser(t, interviewerHz), "ian", dir)
	ian.openPhone("/console?rawaudio=1")
	ian.do(chromedp.WaitVisible("#next-case"))
	ian.key("n")
	ian.do(chromedp.WaitVisible("#dial"))
	p := slot(cf.users["ian"], survey.DeskOnCase)
	if p.Progressive || p.AutoDial != 5*time.Second || p.Case == 0 || p.Campaign != cf.campaign {
		t.Errorf("slot %+v: want ian's preview, auto-dialed after 5 s", p)
	}
	if err := cf.server.DialPreview(ctx, p.User, p.Name, p.Case); err != nil {
		t.Fatal(err)
	}
	ian.call("answered")
	ian.hears(respondentHz)
	ian.poll(`document.getElementById("console").dataset.state === "dialing"`)
	if n := cf.count(`SELECT count(DISTINCT interviewer_id) FROM attempt WHERE interviewer_id IS NOT NULL AND ended_at IS NULL`); n != 2 {
		t.Errorf("%d interviewers with a call attempt up, want 2", n)
	}
	// The floor says how the campaign is dialed and what is up.
	sam := cf.openTab(newBrowser(t), "sam", dir)
	sam.do(chromedp.Navigate(cf.url + "/supervisor"))
	sam.poll(`(p => p && p.dataset.mode === "preview" && p.querySelector(".calls-up b").textContent === "2"
		&& p.querySelector(".abandon-24h b").textContent.endsWith("(0 of 0)") && p.querySelector(".budget b").textContent === "3%")
		(document.querySelector(".campaign .dialing"))`)
	sam.screenshot("dialing")
}

// A predictive call (dialer.Agents' DialPredictive, the runner's part
// played by the test): answered, it goes to the interviewer waiting idle
// on the predictive campaign, whose page shows the case and the call; the
// next, answered with nobody free, is abandoned after 2 s with the
// campaign's message said to the respondent.
func TestPredictiveCallInChromium(t *testing.T) {
	resp, cf := twoRespondents(t)
	ctx := t.Context()
	const msg = "This is Northwind Research. We will call again another day. To opt out, call 0 800 000 000."
	cf.exec(`UPDATE campaign SET settings = settings || jsonb_build_object('dialing', jsonb_build_object('mode', 'predictive', 'abandon_message', $1::text))`, msg)
	ivy := cf.openTab(toneBrowser(t, interviewerHz), "ivy", artifactDir(t))
	ivy.openPhone("/console?rawaudio=1")
	ivy.do(chromedp.WaitVisible(`#waiting-call[data-dialer="predictive"]`))
	deadline := time.Now().Add(15 * time.Second)
	for {
		slots, err := cf.server.Waiting(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(slots, func(s survey.AgentSlot) bool { return s.User == cf.users["ivy"] && s.Predictive }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ivy never waiting for predictive calls: %+v", slots)
		}
		time.Sleep(50 * time.Millisecond)
	}
	jobs, err := cf.db.ClaimDials(ctx, cf.campaign, "dialer:test", 2, monday)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	res, err := cf.server.DialPredictive(ctx, jobs[0], survey.Dialing{AbandonMessage: msg})
	if err != nil || res.User != cf.users["ivy"] || res.Facts.Abandoned {
		t.Fatalf("first call %+v %v: want it handed to ivy", res, err)
	}
	ivy.call("answered")
	ivy.hears(respondentHz)
	ivy.poll(`document.getElementById("console").dataset.state === "dialing"`)
	ivy.screenshot("predictive")
	if n := cf.count(`SELECT count(*) FROM survey_case WHERE id = $1 AND owner_user_id = $2`, jobs[0].Case, cf.users["ivy"]); n != 1 {
		t.Errorf("the handed case is not ivy's")
	}

	start := time.Now()
	res, err = cf.server.DialPredictive(ctx, jobs[1], survey.Dialing{AbandonMessage: msg})
	if err != nil || res.User != 0 || !res.Facts.Abandoned {
		t.Fatalf("second call %+v %v: want it abandoned (ivy is on a call)", res, err)
	}
	// The 2 s wait (less the last 100 ms poll), then the message (about
	// 5 s of speech).
	if res.Facts.Talk < survey.AbandonAfter+2*time.Second || time.Since(start) < res.Facts.Talk {
		t.Errorf("abandoned call: talk %s, %s in all; want the 2 s wait and the message", res.Facts.Talk, time.Since(start))
	}
	if !resp.Printed("terminated", 1, 10*time.Second) {
		t.Errorf("the respondent's phone never saw the abandoned call end:\n%s", resp.Output())
	}
}

// twoRespondents is a console with the phone over a baresip that answers
// the fixture's first two contacts' numbers at once.
func twoRespondents(t *testing.T) (*baresiptest.Phone, *consoleFixture) {
	return twoRespondentsWith(t, &phoneRig{})
}

// twoRespondentsWith is twoRespondents with the phone's parts in rig.
func twoRespondentsWith(t *testing.T, rig *phoneRig) (*baresiptest.Phone, *consoleFixture) {
	resp := baresiptest.Start(t, baresiptest.Options{Name: "respondents", User: "+12125550100", Also: []string{"+12125550101"},
		AutoAnswer: true, Say: baresiptest.Sine(respondentHz, 90, 12000)})
	cf := newConsoleWith(t, withPhone(t, resp.Addr(), 0, rig), contact("Alice", "north", "consumer", "fibre"), contact("Bob", "south", "consumer", "tv"))
	return resp, cf
}

// A predictive campaign that detects answering machines leaves its message
// on one (a greeting that goes on) instead of handing it to the waiting
// interviewer, and reports the verdict for the attempt.
func TestPredictiveMachineInChromium(t *testing.T) {
	resp := baresiptest.Start(t, baresiptest.Options{Name: "machine", User: "+12125550100", AutoAnswer: true,
		Say: baresiptest.Sine(700, 60, 8000)})
	cf := newConsoleWith(t, withPhone(t, resp.Addr(), 0, &phoneRig{}), contact("Alice", "north", "consumer", "fibre"))
	ctx := t.Context()
	cf.exec(`UPDATE campaign SET settings = settings || '{"dialing": {"mode": "predictive", "abandon_message": "x"}}'`)
	ivy := cf.openTab(toneBrowser(t, interviewerHz), "ivy", artifactDir(t))
	ivy.openPhone("/console?rawaudio=1")
	ivy.do(chromedp.WaitVisible(`#waiting-call[data-dialer="predictive"]`))
	jobs, err := cf.db.ClaimDials(ctx, cf.campaign, "dialer:test", 1, monday)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v %v", jobs, err)
	}
	const msg = "This is Northwind Research about your recent order. Please call us back on 0 800 000 000."
	res, err := cf.server.DialPredictive(ctx, jobs[0], survey.Dialing{AbandonMessage: "x", AMD: survey.AMDMessage, MachineMessage: msg})
	if err != nil || res.User != 0 || res.Facts.AMD != "machine" || res.Facts.Abandoned || res.Facts.AMDCause == "" {
		t.Fatalf("result %+v %v: want a machine, not handed, not abandoned", res, err)
	}
	if res.Facts.Talk < res.Facts.AMDTime+2*time.Second {
		t.Errorf("talk %s after %s of detection: the message was not said", res.Facts.Talk, res.Facts.AMDTime)
	}
	if n := cf.count(`SELECT count(*) FROM survey_case WHERE id = $1 AND owner_user_id IS NOT NULL`, jobs[0].Case); n != 0 {
		t.Errorf("the machine's case went to an interviewer")
	}
}
