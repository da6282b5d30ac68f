package cati_test

// The interviewer console's keys and clicks in Chromium, where they go wrong
// in ways a server test cannot see: a click on a score sends that score, a
// held key backs up at most once, a cleared box is empty, two presses of
// Backspace back up twice, and a refused click says why after the screen
// is refreshed.

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// keysTab is ivy's console, on the first question after the introduction
// (tenure) of Alice's interview.
func keysTab(t *testing.T) (*consoleFixture, *tab) {
	t.Helper()
	cf := newConsole(t, contact("Alice", "north", "consumer", "fibre"))
	ivy := cf.openTab(newBrowser(t), "ivy", artifactDir(t))
	ivy.do(chromedp.Navigate(cf.url+"/console"), chromedp.WaitVisible("#next-case"))
	startInterview(ivy)
	return cf, ivy
}

func startInterview(tb *tab) {
	tb.t.Helper()
	tb.key("n")
	tb.do(chromedp.WaitVisible("#dial"))
	tb.key("d")
	tb.do(chromedp.WaitVisible("#outcomes"))
	tb.key("1") // contact
	tb.question("main_user")
	tb.key("1")
	tb.key("\r")
	tb.question("tenure")
}

// onScreen is the question on screen, or "" when there is none.
func (tb *tab) onScreen() string {
	return tb.eval(`(document.getElementById("question") || {dataset: {}}).dataset.id || ""`)
}

// problemShown is the console's problem line.
func (tb *tab) problemShown() string {
	return tb.eval(`(document.getElementById("problem") || {}).textContent || ""`)
}

// expectQuestion waits for question id, and says where the console is
// instead when it does not get there.
func (tb *tab) expectQuestion(id, why string) {
	tb.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for tb.onScreen() != id {
		if time.Now().After(deadline) {
			tb.screenshot("failure")
			tb.t.Fatalf("%s: on %q, want %q: %s", tb.name, tb.onScreen(), id, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// keyDown presses key k (one key: "\b", kb.ArrowLeft); keyRepeat is n
// auto-repeats of the key held down; keyUp releases it.
func (tb *tab) keyDown(k string) {
	tb.t.Helper()
	tb.dispatchKey(*kb.Encode([]rune(k)[0])[0])
}

func (tb *tab) keyRepeat(k string, n int) {
	tb.t.Helper()
	for range n {
		p := *kb.Encode([]rune(k)[0])[0]
		p.AutoRepeat = new(true)
		tb.dispatchKey(p)
	}
}

func (tb *tab) keyUp(k string) {
	tb.t.Helper()
	ev := kb.Encode([]rune(k)[0])
	tb.dispatchKey(*ev[len(ev)-1])
}

func (tb *tab) dispatchKey(p input.DispatchKeyEventParams) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, p); err != nil {
		tb.t.Fatalf("%s: key %s %s: %v", tb.name, p.Type, p.Key, err)
	}
}

func TestConsoleKeysClickOnScoreSendsIt(t *testing.T) {
	cf, ivy := keysTab(t)
	ivy.key("3\r")
	ivy.question("sat_overall")
	ivy.key("4")
	ivy.key("\r")
	ivy.question("nps")
	ivy.key("9") // typed in the box, not sent
	ivy.do(chromedp.Click(`.options button[data-value="3"]`))
	ivy.expectQuestion("nps_reason", "the click on 3 was not taken")
	if q := ivy.text("#q-text"); !strings.Contains(q, "score of 3") {
		t.Errorf("after a click on 3 with 9 in the box, the next question reads %q", q)
	}
	if n := cf.count(`SELECT count(*) FROM answer WHERE question_id = 'nps' AND value = '3'`); n != 1 {
		t.Errorf("a click on 3 with 9 in the box: %d answers of 3 stored", n)
	}
}

func TestConsoleKeysHeldDownBackUpOnce(t *testing.T) {
	cf, ivy := keysTab(t)
	ivy.key("3\r")
	ivy.question("sat_overall")
	ivy.key("2")
	ivy.key("\r")
	ivy.question("sat_reason")

	// ← pressed in the empty reason backs up; held down, it backs up no
	// further.
	ivy.keyDown(kb.ArrowLeft)
	ivy.question("sat_overall")
	ivy.keyRepeat(kb.ArrowLeft, 3)
	ivy.keyUp(kb.ArrowLeft)
	ivy.key("\r") // the score of 2 is still picked
	ivy.expectQuestion("sat_reason", "← held down backed up past the score")

	// Backspace held down empties the field and stays there.
	ivy.key("abc")
	ivy.keyDown("\b")
	ivy.keyRepeat("\b", 5)
	ivy.keyUp("\b")
	ivy.key("ok\r")
	ivy.expectQuestion("nps", "Backspace held down in the reason left it")
	if v := cf.count(`SELECT count(*) FROM answer WHERE question_id = 'sat_reason' AND value = '"ok"'`); v != 1 {
		t.Errorf("the reason typed after holding Backspace is not stored")
	}
}

func TestConsoleKeysClearedNumberIsEmpty(t *testing.T) {
	cf, ivy := keysTab(t)
	ivy.key("3\r")
	ivy.question("sat_overall")
	ivy.key("\b")
	ivy.question("tenure")
	if v := ivy.eval(`document.getElementById("value").value`); v != "3" {
		t.Fatalf("backed up to tenure, the box shows %q, want the earlier answer 3", v)
	}
	ivy.do(chromedp.SetValue("#value", ""), chromedp.Focus("#value"))
	ivy.key("\r")
	ivy.poll(`document.getElementById("problem").textContent !== "" || document.getElementById("question").dataset.id !== "tenure"`)
	if q, p := ivy.onScreen(), ivy.problemShown(); q != "tenure" || p != "Type a number first." {
		t.Errorf("Enter on a cleared box: on %q saying %q, want tenure saying %q", q, p, "Type a number first.")
	}
	if n := cf.count(`SELECT count(*) FROM answer WHERE question_id = 'tenure' AND value = '3'`); n != 1 {
		t.Errorf("%d answers of 3 to tenure", n)
	}
}

func TestConsoleKeysBackUpOncePerPress(t *testing.T) {
	_, ivy := keysTab(t)
	ivy.key("3\r")
	ivy.question("sat_overall")
	ivy.key("4")
	ivy.key("\r")
	ivy.question("nps") // its box empty, with the focus
	ivy.key("\b\b")
	ivy.expectQuestion("tenure", "two presses of Backspace from nps should back up over sat_overall to tenure")

	// A double click on Back is one click too many, not two steps back.
	ivy.key("\r") // tenure's earlier 3, still in the box
	ivy.question("sat_overall")
	ivy.key("\r")
	ivy.question("nps")
	ctx, cancel := context.WithTimeout(ivy.ctx, 10*time.Second)
	at, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.getElementById("back").getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()`))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	ivy.do(chromedp.MouseClickXY(at[0], at[1]), chromedp.MouseClickXY(at[0], at[1], chromedp.ClickCount(2)))
	ivy.expectQuestion("sat_overall", "a double click on Back did not back up")
	ivy.key("\r") // the earlier 4
	ivy.expectQuestion("nps", "a double click on Back backed up twice")
}

// dropMessages lets a test make the console miss server messages while
// window.dropping is true, as a page does that missed an update; it counts
// the states missed.
const dropMessages = `(() => {
  const Native = window.WebSocket;
  window.dropping = false;
  window.droppedStates = 0;
  window.WebSocket = class extends Native {
    set onmessage(f) {
      super.onmessage = (ev) => {
        if (window.dropping) {
          if (JSON.parse(ev.data).type === "state") { window.droppedStates++; }
          return;
        }
        f.call(this, ev);
      };
    }
    get onmessage() { return super.onmessage; }
  };
})();`

func TestConsoleKeysRefusedClickSaysWhy(t *testing.T) {
	cf := newConsole(t, contact("Alice", "north", "consumer", "fibre"))
	ivy := cf.openTab(newBrowser(t), "ivy", artifactDir(t))
	ctx, cancel := context.WithTimeout(ivy.ctx, 10*time.Second)
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: dropMessages})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	ivy.do(chromedp.Navigate(cf.url+"/console"), chromedp.WaitVisible("#next-case"))
	startInterview(ivy)
	caseID, err := strconv.ParseInt(ivy.text("#case-id"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}

	// Ivy's other tab answers while this one misses the update.
	ivy.eval(`window.dropping = true`)
	other := cf.login("ivy").dial()
	if r := other.call("answer", map[string]any{"case_id": caseID, "question": "tenure", "value": 5}); r.Type != "state" {
		t.Fatalf("the other tab's answer: %s %s", r.Type, r.Data)
	}
	ivy.poll(`window.droppedStates > 0`)
	ivy.eval(`window.dropping = false`)

	ivy.key("7\r") // tenure again, on a stale screen
	ivy.expectQuestion("sat_overall", "the refused answer did not refresh the screen")
	if p := ivy.problemShown(); p != "Your screen was out of date and has been refreshed." {
		t.Errorf("after a refused answer, the problem line says %q", p)
	}
	ivy.screenshot("refused-refreshed")
	ivy.key("4")
	ivy.key("\r")
	ivy.question("nps")
	if p := ivy.problemShown(); p != "" {
		t.Errorf("the next question still says %q", p)
	}
	if n := cf.count(`SELECT count(*) FROM answer WHERE question_id = 'tenure' AND value = '5'`); n != 1 {
		t.Errorf("the other tab's answer was replaced")
	}
}
