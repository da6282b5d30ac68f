// Calls from the sipuatest phone into a running endpoint with a real
// ivr.Engine: whole surveys by RFC 4733 keys, in-band tones and SIP INFO,
// voice comments, hangups, re-INVITEs, media-source switches, RTP timeout,
// TCP, shutdown.

package sipua_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr/ivrtest"
	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua/internal/sdp"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
	"github.com/canvass/canvass/survey"
)

// A caller answers the post-call survey with RFC 4733 keys: every answer
// is stored, the interview completes with the call's context, and the
// endpoint hangs up after thanking.
func TestSurveyByRFC4733(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := e.phone.Dial(ctx, e.uri("post-call", "agent=SIP%2F1001", "queue=support"), sipuatest.DialOptions{
		From:    "+15551230000",
		Headers: map[string]string{"X-Canvass-Language": "en", "X-Canvass-Call-Id": "pbx-42", "X-Canvass-Touchpoint": "billing", "X-Canvass-Region": "west"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := newRespondent(t, ctx, c)
	r.prompt() // intro
	r.answer("9#")
	r.answer("5")
	r.answer("7")
	r.answer("1")
	waitDone(t, c, 10*time.Second)

	iv := e.store.WaitFinished(t, 5*time.Second)
	if iv.Status != survey.StatusComplete || iv.EndCause != "completed" {
		t.Errorf("interview %s (%s), want complete", iv.Status, iv.EndCause)
	}
	got := ivrtest.Values(iv)
	want := map[string]any{"nps": int64(9), "csat": int64(5), "ces": int64(7), "resolved": true}
	for q, v := range want {
		if got[q] != v {
			t.Errorf("%s = %v, want %v (all: %v)", q, got[q], v, got)
		}
	}
	wantCtx := survey.Context{Agent: "SIP/1001", Queue: "support", CallID: "pbx-42", Touchpoint: "billing", CallerNumber: "+15551230000"}
	gc := iv.Context
	if gc.Agent != wantCtx.Agent || gc.Queue != wantCtx.Queue || gc.CallID != wantCtx.CallID || gc.Touchpoint != wantCtx.Touchpoint || gc.CallerNumber != wantCtx.CallerNumber {
		t.Errorf("context %+v, want %+v", gc, wantCtx)
	}
	if gc.Extra["region"] != "west" || gc.Extra["sip_call_id"] != c.CallID() {
		t.Errorf("extra context %v", gc.Extra)
	}
	if iv.Language != "en" {
		t.Errorf("language %q", iv.Language)
	}
	if st := c.Stats(); st.PacketsIn < 50 {
		t.Errorf("the phone heard only %d RTP packets", st.PacketsIn)
	}
}

// wavSeconds reads a WAV file's header and says how long it plays.
func wavSeconds(t *testing.T, path string) float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 44 || string(b[:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		t.Fatalf("%s is not a WAV file", path)
	}
	if rate, bits, ch := binary.LittleEndian.Uint32(b[24:]), binary.LittleEndian.Uint16(b[34:]), binary.LittleEndian.Uint16(b[22:]); rate != 8000 || bits != 16 || ch != 1 {
		t.Fatalf("%s: %d Hz, %d bits, %d channels; want 8000 Hz 16-bit mono", path, rate, bits, ch)
	}
	data := binary.LittleEndian.Uint32(b[40:])
	if int(data) != len(b)-44 || binary.LittleEndian.Uint32(b[4:]) != data+36 {
		t.Fatalf("%s: header sizes (%d data bytes) do not match the file (%d bytes)", path, data, len(b))
	}
	return float64(data) / 16000
}

// speech is a second of a warbling tone standing in for a voice.
func speech(ms int) []int16 {
	pcm := make([]int16, ms*8)
	for i := range pcm {
		f := 300 + 100*math.Sin(2*math.Pi*3*float64(i)/8000)
		pcm[i] = int16(5000 * math.Sin(2*math.Pi*f*float64(i)/8000))
	}
	return pcm
}

// With telephone-event refused, keys come as tones in the audio: the
// detector finds them, including the "#" that ends a voice comment, which
// is stored as a WAV file of the right length.
func TestSurveyByInbandTones(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.AcceptTelephoneEvent = false
	e := start(t, opts, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	c := e.dial(ctx, sipuatest.DialOptions{}) // offers telephone-event; the answer drops it
	r := newRespondent(t, ctx, c)
	r.prompt() // intro
	r.answer("3#")
	r.prompt() // why: after the prompt and the beep, speak, then #
	r.prompt() // the beep
	time.Sleep(300 * time.Millisecond)
	if err := c.Say(ctx, speech(1500)); err != nil {
		t.Fatal(err)
	}
	r.last = time.Now()
	if _, err := c.SendKey(ctx, '#'); err != nil {
		t.Fatal(err)
	}
	r.answer("4")
	r.answer("2")
	r.answer("2") // not resolved: callback asked
	r.answer("1")
	waitDone(t, c, 10*time.Second)

	iv := e.store.WaitFinished(t, 5*time.Second)
	got := ivrtest.Values(iv)
	for q, v := range map[string]any{"nps": int64(3), "csat": int64(4), "ces": int64(2), "resolved": false, "callback": "yes"} {
		if got[q] != v {
			t.Errorf("%s = %v, want %v (all: %v)", q, got[q], v, got)
		}
	}
	name, _ := got["why"].(string)
	if name == "" {
		t.Fatalf("no voice comment stored: %v", got)
	}
	secs := wavSeconds(t, filepath.Join(e.dir, "recordings", name+".wav"))
	// 0.3 s before speaking + 1.5 s of speech + the key's 0.1 s, give or
	// take detection and packet timing.
	if secs < 1.6 || secs > 2.6 {
		t.Errorf("voice comment lasts %.2fs, want about 1.9s", secs)
	}
	for _, a := range iv.Answers {
		if a.Question == "why" && (a.Paradata.RecordingMS < 1500 || a.Paradata.RecordingMS > 2600) {
			t.Errorf("paradata recording_ms = %d", a.Paradata.RecordingMS)
		}
	}
	if iv.Status != survey.StatusComplete {
		t.Errorf("status %s", iv.Status)
	}
}

// A caller who hangs up mid-survey keeps the answers already given; the
// interview ends as partial or break-off with the hangup cause.
func TestHangupMidSurvey(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.dial(ctx, sipuatest.DialOptions{})
	r := newRespondent(t, ctx, c)
	r.prompt()
	r.answer("10")
	r.answer("5")
	r.prompt() // ces: hang up while it plays
	iv := e.hangUp(ctx, c)
	if iv.EndCause != "hangup" || iv.Status != survey.StatusPartial && iv.Status != survey.StatusBreakoff {
		t.Errorf("interview %s with cause %q, want partial or breakoff by hangup", iv.Status, iv.EndCause)
	}
	if got := ivrtest.Values(iv); got["nps"] != int64(10) || got["csat"] != int64(5) || len(got) != 2 {
		t.Errorf("answers %v, want nps 10 and csat 5", got)
	}
	if iv.LastQuestion != "ces" {
		t.Errorf("last question %q, want ces", iv.LastQuestion)
	}
	deadline := time.Now().Add(3 * time.Second)
	for e.srv.Active() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := e.srv.Active(); n != 0 {
		t.Errorf("%d calls still counted after the hangup", n)
	}
}

// A phone's ACK and an immediate BYE can be handled in either order (each
// SIP request gets its own goroutine). A BYE that overtakes the ACK still
// proves the caller had our 200: the call counts as answered and hung up,
// and is kept, not dropped as never set up. With no audio and no answer it
// was no interview, so it is kept as a call rather than a break-off
// (TestNoAudioIsNoInterview).
func TestByeOvertakesAck(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := e.dial(ctx, sipuatest.DialOptions{ByeBeforeAck: true})
	iv := e.hangUp(ctx, c)
	if iv.EndCause != "hangup" || iv.Status != ivrtest.Discarded {
		t.Errorf("interview %s with cause %q, want kept as a call (hangup)", iv.Status, iv.EndCause)
	}
}

// Invalid keys get the no-match reprompt, "*" repeats the question without
// using an attempt, and the paradata records all of it.
func TestInvalidKeysThenStar(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.dial(ctx, sipuatest.DialOptions{})
	r := newRespondent(t, ctx, c)
	r.prompt()
	r.answer("42") // two digits: a full entry, out of range
	r.prompt()     // "not a number from 0 to 10"
	r.answer("*")  // the question again
	r.answer("8#")
	r.answer("5")
	r.prompt() // ces: csat was taken
	iv := e.hangUp(ctx, c)
	var nps survey.Answer
	for _, a := range iv.Answers {
		if a.Question == "nps" {
			nps = a
		}
	}
	if nps.Value != int64(8) || nps.Paradata.NoMatch != 1 || nps.Paradata.Repeats != 1 || nps.Paradata.RawKeys != "42*8#" {
		t.Errorf("nps %v with paradata %+v; want 8 after one no-match and one repeat, raw keys 42*8#", nps.Value, nps.Paradata)
	}
	if !nps.Paradata.BargeIn {
		t.Error("keys pressed during the prompt should be barge-in")
	}
	played := e.prompts.Played()
	if !slices.Contains(played, "nps.no_match") {
		t.Errorf("prompts played %v: no no-match reprompt", played)
	}
}

// Keys sent as SIP INFO (application/dtmf-relay) count like RFC 4733 ones.
func TestKeysBySIPInfo(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.dial(ctx, sipuatest.DialOptions{})
	r := newRespondent(t, ctx, c)
	r.prompt()
	r.prompt() // nps
	r.last = time.Now()
	for _, d := range "7#" {
		if code, err := c.Info(ctx, d); err != nil || code != 200 {
			t.Fatalf("INFO %c: %d %v", d, code, err)
		}
	}
	r.answer("2")
	r.prompt()
	iv := e.hangUp(ctx, c)
	if got := ivrtest.Values(iv); got["nps"] != int64(7) || got["csat"] != int64(2) {
		t.Errorf("answers %v", got)
	}
}

// A re-INVITE that moves the caller's RTP (a transfer, a new media
// anchor) or puts the call on hold keeps the call: prompts follow the
// caller to the new address and keys still count.
func TestReinvite(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.dial(ctx, sipuatest.DialOptions{})
	r := newRespondent(t, ctx, c)
	r.prompt()
	if code, err := c.Reinvite(ctx, sdp.SendOnly, false); err != nil || code != 200 {
		t.Fatalf("hold re-INVITE: %d %v", code, err)
	}
	if code, err := c.Reinvite(ctx, sdp.SendRecv, true); err != nil || code != 200 {
		t.Fatalf("moving re-INVITE: %d %v", code, err)
	}
	moved := time.Now()
	r.last = moved
	r.answer("8#") // heard on the new socket
	r.answer("3")
	r.prompt()
	iv := e.hangUp(ctx, c)
	if got := ivrtest.Values(iv); got["nps"] != int64(8) || got["csat"] != int64(3) {
		t.Errorf("answers %v", got)
	}
}

// A PBX that switches the caller's media source mid-call (a transfer, a
// media server taking over) starts a new RTP stream: a new SSRC, with
// sequence numbers and timestamps behind the old ones. The keys pressed
// after the switch still count, as RFC 4733 events or as tones.
func TestMediaSourceSwitch(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		events bool
	}{{"RFC 4733", true}, {"in-band", false}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := testOptions()
			opts.AcceptTelephoneEvent = tt.events
			e := start(t, opts, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := e.dial(ctx, sipuatest.DialOptions{})
			r := newRespondent(t, ctx, c)
			r.prompt()
			r.answer("9#")
			c.RestartRTP()
			r.answer("5")
			r.answer("7")
			r.prompt()
			iv := e.hangUp(ctx, c)
			if got := ivrtest.Values(iv); got["nps"] != int64(9) || got["csat"] != int64(5) || got["ces"] != int64(7) {
				t.Errorf("answers %v, want nps 9, csat 5 and ces 7 (keys after the switch lost?)", got)
			}
		})
	}
}

// An RTP timeout hangs up a call whose caller went silent on the wire.
func TestRTPTimeout(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.RTPTimeout = time.Second
	e := start(t, opts, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.dial(ctx, sipuatest.DialOptions{})
	r := newRespondent(t, ctx, c)
	r.prompt()
	c.MuteRTP(true)
	muted := time.Now()
	waitDone(t, c, 5*time.Second)
	if d := time.Since(muted); d < 900*time.Millisecond {
		t.Errorf("hung up %s after the RTP stopped, before the 1s timeout", d)
	}
	if iv := e.store.WaitFinished(t, 5*time.Second); iv.Status == survey.StatusComplete || iv.EndCause != "rtp_timeout" {
		t.Errorf("interview %s with cause %q, want not complete, cause rtp_timeout", iv.Status, iv.EndCause)
	}
}

// Shutting down ends calls in progress with a BYE and closes their
// interviews; Run returns.
func TestShutdownHangsUp(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.dial(ctx, sipuatest.DialOptions{})
	r := newRespondent(t, ctx, c)
	r.prompt()
	r.answer("9#")
	r.prompt()
	e.stop()
	waitDone(t, c, 5*time.Second)
	iv := e.store.WaitFinished(t, 5*time.Second)
	if iv.EndCause != "shutdown" || ivrtest.Values(iv)["nps"] != int64(9) {
		t.Errorf("interview %s/%s with %v; want closed by shutdown with nps kept", iv.Status, iv.EndCause, ivrtest.Values(iv))
	}
	if n := e.srv.Active(); n != 0 {
		t.Errorf("%d calls still counted after Run returned", n)
	}
}

// SIP over TCP: the same call, and the endpoint's BYE comes back over TCP.
func TestSurveyOverTCP(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := e.phone.Dial(ctx, e.uri("post-call", "transport=tcp", "lang=en"), sipuatest.DialOptions{Codecs: []media.Codec{media.PCMA}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := newRespondent(t, ctx, c)
	r.prompt()
	r.answer("10")
	r.answer("5")
	r.answer("7")
	r.answer("1")
	waitDone(t, c, 10*time.Second)
	iv := e.store.WaitFinished(t, 5*time.Second)
	if iv.Status != survey.StatusComplete || ivrtest.Values(iv)["nps"] != int64(10) {
		t.Errorf("interview %s with %v", iv.Status, ivrtest.Values(iv))
	}
}

// A softphone that offers video before audio gets an answer with the video
// refused in place (the phone checks the m= lines) and takes the survey.
func TestOfferWithVideo(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.answerNPS(ctx, sipuatest.DialOptions{Video: true}, 8)
}

// answerNPS calls with o, gives the NPS question score, hangs up at the
// next question and checks the score was stored.
func (e *env) answerNPS(ctx context.Context, o sipuatest.DialOptions, score int) {
	e.t.Helper()
	c := e.dial(ctx, o)
	r := newRespondent(e.t, ctx, c)
	r.prompt()
	r.answer(fmt.Sprint(score))
	r.prompt() // the next question: the score is stored
	if iv := e.hangUp(ctx, c); ivrtest.Values(iv)["nps"] != int64(score) {
		e.t.Errorf("answers %v, want nps %d", ivrtest.Values(iv), score)
	}
}

// A delayed-offer trunk sends its INVITE without SDP: the endpoint offers
// in the 200, the phone answers in its ACK, and the survey runs. An ACK
// with no answer leaves no media to run on: the endpoint hangs up at once
// and stores nothing.
func TestLateOffer(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.answerNPS(ctx, sipuatest.DialOptions{LateOffer: true}, 6)

	bare := e.dial(ctx, sipuatest.DialOptions{LateOffer: true, AckWithoutAnswer: true})
	waitDone(t, bare, 5*time.Second)
	if n := e.store.Count(); n != 1 {
		t.Errorf("%d interviews stored, want only the first call's", n)
	}
}

// A call that names no language hears the language menu of a bilingual
// questionnaire; "2" picks French for the interview.
func TestLanguageMenu(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := e.dial(ctx, sipuatest.DialOptions{Headers: map[string]string{}})
	r := newRespondent(t, ctx, c)
	r.prompt() // for English press 1
	r.answer("2")
	r.prompt() // intro, in French
	r.answer("9#")
	r.prompt()
	iv := e.hangUp(ctx, c)
	if iv.Language != "fr" || ivrtest.Values(iv)["nps"] != int64(9) {
		t.Errorf("interview in %q with %v; want French with nps 9", iv.Language, ivrtest.Values(iv))
	}
}

// A phone whose audio never arrives and that answers nothing was no
// interview (its audio failed, say): the call is kept, no break-off is
// counted. One that sent audio and hung up is a break-off, as always.
func TestNoAudioIsNoInterview(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	for _, mute := range []bool{true, false} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c := e.dial(ctx, sipuatest.DialOptions{Mute: mute})
		if _, err := c.WaitPrompt(ctx, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if !mute {
			if err := c.WaitSent(ctx, 5); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		iv := e.store.WaitFinished(t, 5*time.Second)
		want := survey.StatusBreakoff
		if mute {
			want = ivrtest.Discarded
		}
		if iv.Status != want {
			t.Errorf("muted %v: interview %s (%s), want %s", mute, iv.Status, iv.EndCause, want)
		}
		cancel()
	}
}
