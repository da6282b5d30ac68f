// End-to-end calls from a real third-party SIP phone: baresip (Debian
// baresip-core), scripted on its stdin as TESTING.md describes, into the
// endpoint backed by a real PostgreSQL. Each call's interview is checked in
// the database. Set CANVASS_ARTIFACTS=DIR to keep what each phone heard
// (baresip's sndfile recordings) and its console output.

package sipua_test

import (
	"context"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/ivrtest"
	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua"
	"github.com/canvass/canvass/ivr/sipua/baresiptest"
	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/sql/sqltest"
	"github.com/canvass/canvass/survey"
	"github.com/canvass/canvass/testdata"
)

// pgEndpoint is an endpoint whose engine stores in PostgreSQL.
type pgEndpoint struct {
	srv    *sipua.Server
	engine *ivr.Engine
	db     *sql.DB
	dir    string
}

func startPG(t *testing.T, db *sql.DB, opts sipua.Options) *pgEndpoint {
	t.Helper()
	log := testLog(t)
	store := db // as cmd/canvass wires it
	engine := ivr.New(ivr.DefaultOptions(), store, store, log, nil)
	dir := t.TempDir()
	srv, err := sipua.New(opts, engine, &tonePrompts{}, dirRecordings(dir), log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &pgEndpoint{srv: srv, engine: engine, db: db, dir: dir}
}

// putPostCall stores the example post-call survey in db; its id is
// "post-call".
func putPostCall(t *testing.T, db *sql.DB) {
	t.Helper()
	src, err := fs.ReadFile(testdata.Questionnaires, "questionnaires/post-call.yaml")
	if err != nil {
		t.Fatal(err)
	}
	q, err := survey.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.PutQuestionnaire(t.Context(), survey.QuestionnaireVersion{ID: q.ID, Title: q.Title, Languages: q.Languages, Source: src}); err != nil {
		t.Fatal(err)
	}
}

// interview waits for the interview whose context carries callID to end.
func (e *pgEndpoint) interview(t *testing.T, callID string, within time.Duration) survey.InterviewRecord {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ivs, err := e.db.Interviews(t.Context(), survey.InterviewFilter{Questionnaire: "post-call", WithAnswers: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, iv := range ivs {
			if iv.Context.CallID == callID && iv.Status != survey.StatusInProgress {
				return iv
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ended interview for call %s within %s (interviews: %+v)", callID, within, ivs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// answered waits until the interview of call callID has stored an answer
// to question q: the moment its next question starts, whatever the load.
func (e *pgEndpoint) answered(t *testing.T, callID, q string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ivs, err := e.db.Interviews(t.Context(), survey.InterviewFilter{Questionnaire: "post-call", WithAnswers: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, iv := range ivs {
			if iv.Context.CallID != callID {
				continue
			}
			for _, a := range iv.Answers {
				if a.Question == q {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %s stored no answer to %s within %s", callID, q, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// inbandScript is a microphone track with DTMF tones at the given times
// (from the start of the call), over faint noise.
func inbandScript(total time.Duration, keys map[time.Duration]rune) []int16 {
	pcm := make([]int16, int(total.Seconds()*8000))
	for at, d := range keys {
		i := int(at.Seconds() * 8000)
		media.Tone(pcm[i:i+int(sipuatestKey.Seconds()*8000)], d, 6000, 0)
	}
	return pcm
}

const sipuatestKey = 120 * time.Millisecond

// Four real calls from baresip, in parallel: (a) the NPS survey with
// RFC 4733 keys, (b) the same with in-band tones, (c) a hangup mid-survey,
// (d) invalid keys, "*" and a voice comment. Rows are checked in
// PostgreSQL.
func TestBaresip(t *testing.T) {
	t.Parallel()
	db := sqltest.New(t)
	putPostCall(t, db)
	opts := testOptions()
	opts.RTPTimeout = 10 * time.Second
	rfc := startPG(t, db, opts)
	opts.AcceptTelephoneEvent = false
	inband := startPG(t, db, opts)
	uri := func(e *pgEndpoint, callID string) string {
		return fmt.Sprintf("sip:post-call@%s;lang=en;call_id=%s;agent=a%s", e.srv.Addr(), callID, callID)
	}
	silence := make([]int16, 8000*30)

	// The calls run at once, each in its own subtest goroutine: they spend
	// their time waiting on the phone, so they need no -parallel slot.
	var calls sync.WaitGroup
	call := func(name string, f func(t *testing.T)) { calls.Go(func() { t.Run(name, f) }) }
	defer calls.Wait()

	call("rfc4733", func(t *testing.T) {
		b := baresiptest.Start(t, baresiptest.Options{Name: "rfc4733", Say: silence})
		b.Dial(uri(rfc, "e2e-a"))
		b.WaitEstablished(10 * time.Second)
		// Each answer is keyed once the previous one is stored (keys typed
		// before a prompt count for its question).
		b.TypeAfter(1500*time.Millisecond, "9")
		b.TypeAfter(time.Second, "#")
		for _, next := range []struct{ after, keys string }{{"nps", "5"}, {"csat", "7"}, {"ces", "1"}} {
			rfc.answered(t, "e2e-a", next.after, 10*time.Second)
			b.Type(next.keys)
		}
		b.WaitClosed(10 * time.Second) // the endpoint thanks and hangs up
		iv := rfc.interview(t, "e2e-a", 5*time.Second)
		want := map[string]any{"nps": int64(9), "csat": int64(5), "ces": int64(7), "resolved": true}
		if got := ivrtest.Values(iv); fmt.Sprint(got) != fmt.Sprint(want) || iv.Status != survey.StatusComplete || iv.EndCause != "completed" {
			t.Errorf("interview %s (%s) with %v; want complete with %v", iv.Status, iv.EndCause, got, want)
		}
		if iv.Context.Agent != "ae2e-a" || iv.Context.CallerNumber != "tester" {
			t.Errorf("context %+v", iv.Context)
		}
		heard := b.Heard()
		if secs := float64(len(heard)) / 8000; secs < 2 || baresiptest.RMS(heard) < 300 {
			t.Errorf("the phone heard %.1fs at RMS %.0f; want seconds of prompts (keys barge in, so not all of them)", secs, baresiptest.RMS(heard))
		}
	})

	call("inband", func(t *testing.T) {
		say := inbandScript(12*time.Second, map[time.Duration]rune{
			2000 * time.Millisecond: '8', 3200 * time.Millisecond: '#', 4600 * time.Millisecond: '4',
			6000 * time.Millisecond: '6', 7400 * time.Millisecond: '1'})
		b := baresiptest.Start(t, baresiptest.Options{Name: "inband", Say: say})
		b.Dial(uri(inband, "e2e-b"))
		b.WaitEstablished(10 * time.Second)
		b.WaitClosed(15 * time.Second)
		iv := inband.interview(t, "e2e-b", 5*time.Second)
		want := map[string]any{"nps": int64(8), "csat": int64(4), "ces": int64(6), "resolved": true}
		if got := ivrtest.Values(iv); fmt.Sprint(got) != fmt.Sprint(want) || iv.Status != survey.StatusComplete {
			t.Errorf("interview %s (%s) with %v; want complete with %v", iv.Status, iv.EndCause, got, want)
		}
	})

	call("hangup", func(t *testing.T) {
		b := baresiptest.Start(t, baresiptest.Options{Name: "hangup", Say: silence})
		b.Dial(uri(rfc, "e2e-c"))
		b.WaitEstablished(10 * time.Second)
		b.TypeAfter(1500*time.Millisecond, "1")
		b.TypeAfter(700*time.Millisecond, "0")
		rfc.answered(t, "e2e-c", "nps", 10*time.Second)
		b.Type("5")
		rfc.answered(t, "e2e-c", "csat", 10*time.Second)
		b.Type("b") // hang up as the ces question starts
		b.WaitClosed(5 * time.Second)
		iv := rfc.interview(t, "e2e-c", 5*time.Second)
		if got := ivrtest.Values(iv); got["nps"] != int64(10) || got["csat"] != int64(5) || len(got) != 2 {
			t.Errorf("answers %v; want nps 10 and csat 5 kept", got)
		}
		if iv.EndCause != "hangup" || iv.Status != survey.StatusPartial && iv.Status != survey.StatusBreakoff || iv.EndedAt == nil {
			t.Errorf("interview %s (%s); want partial or breakoff by hangup", iv.Status, iv.EndCause)
		}
	})

	call("invalid keys, star, voice comment", func(t *testing.T) {
		// The microphone carries a voice-like warble throughout, so the
		// comment has sound in it.
		voice := make([]int16, 8000*30)
		for i := range voice {
			f := 300 + 80*math.Sin(2*math.Pi*2*float64(i)/8000)
			voice[i] = int16(3000 * math.Sin(2*math.Pi*f*float64(i)/8000))
		}
		b := baresiptest.Start(t, baresiptest.Options{Name: "invalid", Say: voice})
		b.Dial(uri(rfc, "e2e-d"))
		b.WaitEstablished(10 * time.Second)
		b.TypeAfter(1500*time.Millisecond, "4")
		b.TypeAfter(700*time.Millisecond, "2")  // 42: not 0-10
		b.TypeAfter(1500*time.Millisecond, "*") // repeat the question
		b.TypeAfter(1200*time.Millisecond, "3")
		b.TypeAfter(800*time.Millisecond, "#")
		rfc.answered(t, "e2e-d", "nps", 10*time.Second)
		b.TypeAfter(4*time.Second, "#") // after the why prompt and the beep: a 3 s comment
		rfc.answered(t, "e2e-d", "why", 10*time.Second)
		b.Type("2")
		rfc.answered(t, "e2e-d", "csat", 10*time.Second)
		b.Type("b")
		b.WaitClosed(5 * time.Second)
		iv := rfc.interview(t, "e2e-d", 5*time.Second)
		got := ivrtest.Values(iv)
		var nps survey.Answer
		for _, a := range iv.Answers {
			if a.Question == "nps" {
				nps = a
			}
		}
		if nps.Value != int64(3) || nps.Paradata.NoMatch != 1 || nps.Paradata.Repeats != 1 || nps.Paradata.RawKeys != "42*3#" {
			t.Errorf("nps %v, paradata %+v; want 3 after one no-match and one repeat (raw 42*3#)", nps.Value, nps.Paradata)
		}
		if got["csat"] != int64(2) {
			t.Errorf("answers %v", got)
		}
		name, _ := got["why"].(string)
		if name == "" {
			t.Fatalf("no voice comment: %v", got)
		}
		path := filepath.Join(rfc.dir, "recordings", name+".wav")
		secs := wavSeconds(t, path)
		if secs < 1.5 || secs > 4.5 {
			t.Errorf("voice comment lasts %.2fs; want about 3s", secs)
		}
		comment, err := baresiptest.ReadWAV(path)
		if err != nil {
			t.Fatal(err)
		}
		if level := baresiptest.RMS(comment); level < 500 {
			t.Errorf("voice comment is nearly silent (RMS %.0f)", level)
		}
		if art := os.Getenv("CANVASS_ARTIFACTS"); art != "" {
			if b, err := os.ReadFile(path); err == nil {
				os.WriteFile(filepath.Join(art, "baresip", "voice-comment.wav"), b, 0o644)
			}
		}
	})
}
