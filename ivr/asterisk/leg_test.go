package asterisk_test

// A dialed call's media.Leg against the stand-in Asterisk, which bridges
// the call's channel with an externalMedia channel and moves real RTP:
// the callee's tone comes out of the leg, a tone written to the leg
// reaches the callee, both told by frequency; the bridge and the
// externalMedia channel are deleted at the end, whoever ends it. The
// bridge events are cloned from testdata/ari/stasis-leg-externalmedia-
// bridge-a22.jsonl: every event (a second application, subscribeAll) a real
// Asterisk 22.10.1 sent while Canvass dialed a baresip phone over PJSIP,
// bridged it to a leg and closed the call. (That application sees no
// StasisStart: those go to the channel's own application only.)

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/asterisk"
	"github.com/canvass/canvass/ivr/asterisk/aritest"
	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/survey"
)

// phone is what the console needs of a call placed over Asterisk.
type phone interface {
	ivr.Call
	Leg(ctx context.Context) (media.Leg, error)
	SendDigits(ctx context.Context, digits string) error
}

// level is the Goertzel power of hz in pcm relative to the signal's
// power: about 1 for a pure tone at hz, near 0 for other frequencies.
func level(pcm []int16, hz float64) float64 {
	coeff := 2 * math.Cos(2*math.Pi*hz/media.SampleRate)
	var s1, s2, energy float64
	for _, v := range pcm {
		x := float64(v)
		s1, s2 = x+coeff*s1-s2, s1
		energy += x * x
	}
	if energy == 0 {
		return 0
	}
	return (s1*s1 + s2*s2 - coeff*s1*s2) / (energy * float64(len(pcm)) / 2)
}

// tone is a frames of a sine at hz, PCMU-coded.
func tone(hz float64, frames int) [][]byte {
	out := make([][]byte, frames)
	pcm := make([]int16, media.SamplesPerPacket)
	n := 0
	for i := range out {
		for k := range pcm {
			pcm[k] = int16(8000 * math.Sin(2*math.Pi*hz*float64(n)/media.SampleRate))
			n++
		}
		out[i] = make([]byte, media.SamplesPerPacket)
		media.PCMU.Encode(out[i], pcm)
	}
	return out
}

// dialPhone places a call the stand-in answers at once.
func dialPhone(t *testing.T) (*harness, phone, string) {
	t.Helper()
	h := start(t, func(o *asterisk.Options, s *aritest.Server) {
		s.OnOriginate = func(id string) { s.Answer(id) }
	})
	call, res, err := h.client.Dial(h.ctx(), ivr.DialRequest{To: "PJSIP/+33612345678@trunk"})
	if err != nil || res.Outcome != survey.DialAnswered {
		t.Fatalf("dial: %+v %v", res, err)
	}
	p, ok := call.(phone)
	if !ok {
		t.Fatalf("the call Dial returns (%T) has no Leg or SendDigits", call)
	}
	return h, p, res.CallID
}

// legRequests finds the externalMedia channel and the bridge a leg made.
func legRequests(t *testing.T, h *harness, callID string) (em aritest.Request, bridge string) {
	t.Helper()
	em = h.await(1, "POST", "/channels/externalMedia", "")
	br := h.await(1, "POST", "/bridges", "")
	bridge = br.Query.Get("bridgeId")
	if br.Query.Get("type") != "mixing" || bridge == "" {
		t.Errorf("bridge request %s", br)
	}
	q := em.Query
	if q.Get("app") != "canvass" || q.Get("format") != "ulaw" || q.Get("direction") != "both" ||
		!strings.HasPrefix(q.Get("external_host"), "127.0.0.1:") || q.Get("channelId") == "" {
		t.Errorf("externalMedia request %s", em)
	}
	for _, ch := range []string{callID, q.Get("channelId")} {
		h.await(1, "POST", "/bridges/"+bridge+"/addChannel", "") // the first, at least
		if !h.sawQuery("POST", "/bridges/"+bridge+"/addChannel", "channel", ch) {
			t.Errorf("channel %s was not added to the bridge", ch)
		}
	}
	return em, bridge
}

func (h *harness) sawQuery(method, path, key, value string) bool {
	for _, r := range h.srv.Requests() {
		if r.Method == method && r.Path == path && r.Query.Get(key) == value {
			return true
		}
	}
	return false
}

func TestLegCarriesAudioBothWays(t *testing.T) {
	h, call, id := dialPhone(t)
	ctx := h.ctx()
	leg, err := call.Leg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	em, bridge := legRequests(t, h, id)
	emID := em.Query.Get("channelId")
	if again, err := call.Leg(ctx); err != nil || again != leg {
		t.Errorf("a second Leg: %v %v, want the live leg", again, err)
	}

	// The callee says 1 kHz: the leg reads it.
	h.srv.Voice(id, 1000)
	var heard []int16
	for len(heard) < 25*media.SamplesPerPacket { // 500 ms
		f, err := leg.ReadFrame(ctx)
		if err != nil {
			t.Fatalf("read frame: %v", err)
		}
		if f.Codec != media.PCMU || len(f.Payload) != media.SamplesPerPacket {
			t.Fatalf("frame %v with %d codes, want 20 ms of PCMU", f.Codec, len(f.Payload))
		}
		pcm := make([]int16, len(f.Payload))
		media.PCMU.Decode(pcm, f.Payload)
		heard = append(heard, pcm...)
	}
	if at, off := level(heard, 1000), level(heard, 440); at < 0.8 || off > 0.05 {
		t.Errorf("the leg read 1000 Hz at %.2f and 440 Hz at %.2f; want the callee's 1 kHz tone", at, off)
	}

	// 440 Hz written to the leg (A-law for the last frames, which the leg
	// turns into the µ-law it sends): the callee hears it. Before the
	// writes, the leg sends silence.
	frames := tone(440, 50)
	start := time.Now()
	for i, f := range frames {
		fr := media.Frame{Codec: media.PCMU, Payload: f}
		if i >= 40 {
			alaw := make([]byte, len(f))
			media.Transcode(alaw, media.PCMA, f, media.PCMU)
			fr = media.Frame{Codec: media.PCMA, Payload: alaw}
		}
		if err := leg.WriteFrame(ctx, fr); err != nil {
			t.Fatalf("write frame %d: %v", i, err)
		}
	}
	// Paced: 50 frames with 5 queued take at least 45 packets' time.
	if d := time.Since(start); d < 40*media.PacketInterval {
		t.Errorf("50 frames were written in %s: the writer was not paced", d)
	}
	if err := leg.WriteFrame(ctx, media.Frame{Codec: media.PCMU, Payload: make([]byte, 10)}); !errors.Is(err, media.ErrFrame) {
		t.Errorf("a short frame: %v, want ErrFrame", err)
	}
	got, err := h.srv.AwaitHeard(ctx, id, 60*media.SamplesPerPacket)
	if err != nil {
		t.Fatal(err)
	}
	best := 0.0
	for i := 0; i+4000 <= len(got); i += 800 { // the best 500 ms window
		best = max(best, level(got[i:i+4000], 440))
	}
	if best < 0.8 {
		t.Errorf("the callee heard 440 Hz at %.2f at best in %d samples; want the written tone", best, len(got))
	}
	if s := level(got[:800], 440); s > 0.05 {
		t.Errorf("the first 100 ms the callee heard hold 440 Hz at %.2f; want the leg's silence before the writes", s)
	}

	// DTMF to the callee.
	if err := call.SendDigits(ctx, "12#"); err != nil {
		t.Fatal(err)
	}
	if d := h.srv.Digits(id); d != "12#" {
		t.Errorf("Asterisk was asked to send %q, want 12#", d)
	}
	for _, bad := range []string{"", "12x", "1 2"} {
		if err := call.SendDigits(ctx, bad); survey.ErrorCodeOf(err) != survey.EInvalid {
			t.Errorf("SendDigits(%q): %v, want EInvalid", bad, err)
		}
	}

	// Closing the call tears the leg down and hangs up.
	if _, err := call.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-leg.Done():
	default:
		t.Errorf("the leg is not done after Close")
	}
	for _, path := range []string{"/channels/" + emID, "/bridges/" + bridge, "/channels/" + id} {
		if !h.saw("DELETE", path, 204) {
			t.Errorf("DELETE %s was not done", path)
		}
	}
	if b, ch := h.srv.Bridges(), h.srv.Channels(); len(b) != 0 || len(ch) != 0 {
		t.Errorf("left in Asterisk: bridges %v, channels %v", b, ch)
	}
	if _, err := leg.ReadFrame(ctx); !errors.Is(err, media.ErrEnded) {
		t.Errorf("read after the end: %v, want ErrEnded", err)
	}
	if err := leg.WriteFrame(ctx, media.Frame{Codec: media.PCMU, Payload: frames[0]}); !errors.Is(err, media.ErrEnded) {
		t.Errorf("write after the end: %v, want ErrEnded", err)
	}
	// The externalMedia channel was never taken for a call.
	if h.saw("POST", "/channels/"+emID+"/answer", 0) || h.saw("POST", "/channels/"+emID+"/play", 0) || h.store.Count() != 0 {
		t.Errorf("the externalMedia channel was treated as an inbound call")
	}
	h.stop()
}

func TestLegEndsWithHangup(t *testing.T) {
	h, call, id := dialPhone(t)
	ctx := h.ctx()
	leg, err := call.Leg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	em, bridge := legRequests(t, h, id)
	h.srv.HangUp(id)
	select {
	case <-leg.Done():
	case <-ctx.Done():
		t.Fatal("the leg did not end when the callee hung up")
	}
	if _, err := leg.ReadFrame(ctx); !errors.Is(err, media.ErrEnded) {
		t.Errorf("read after hangup: %v, want ErrEnded", err)
	}
	h.await(1, "DELETE", "/bridges/"+bridge, "")
	h.await(1, "DELETE", "/channels/"+em.Query.Get("channelId"), "")
	if _, err := call.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if b, ch := h.srv.Bridges(), h.srv.Channels(); len(b) != 0 || len(ch) != 0 {
		t.Errorf("left in Asterisk: bridges %v, channels %v", b, ch)
	}
	if _, err := call.Leg(ctx); !errors.Is(err, ivr.ErrHangup) {
		t.Errorf("Leg after hangup: %v, want ErrHangup", err)
	}
	if err := call.SendDigits(ctx, "1"); !errors.Is(err, ivr.ErrHangup) {
		t.Errorf("SendDigits after hangup: %v, want ErrHangup", err)
	}
	h.stop()
}

// A prompt playing when the call is bridged stops; closing the leg leaves
// the call up, alone in the application, and a new leg can be made.
func TestLegStopsPromptAndCloses(t *testing.T) {
	h, call, id := dialPhone(t)
	ctx := h.ctx()
	h.srv.PromptLen = time.Minute
	pb, err := call.Play(ctx, ivr.Prompt{Questionnaire: "post-call", ID: "intro", Language: "en"})
	if err != nil {
		t.Fatal(err)
	}
	pbID := h.await(1, "POST", "/channels/"+id+"/play", "").Query.Get("playbackId")
	leg, err := call.Leg(ctx)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-pb.Done():
		if err != nil {
			t.Errorf("the prompt ended with %v", err)
		}
	default:
		t.Errorf("the prompt still plays on the bridged call")
	}
	reqs := h.srv.Requests()
	stopped, bridged := -1, -1
	for i, r := range reqs {
		if r.Method == "DELETE" && r.Path == "/playbacks/"+pbID {
			stopped = i
		}
		if r.Method == "POST" && r.Path == "/bridges" && bridged < 0 {
			bridged = i
		}
	}
	if stopped < 0 || stopped > bridged {
		t.Errorf("the prompt was not stopped before bridging (stop #%d, bridge #%d)", stopped, bridged)
	}
	closer, ok := leg.(interface{ Close(context.Context) error })
	if !ok {
		t.Fatalf("the leg (%T) has no Close", leg)
	}
	if err := closer.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if b := h.srv.Bridges(); len(b) != 0 {
		t.Errorf("bridges left after closing the leg: %v", b)
	}
	select {
	case <-call.Done():
		t.Fatal("closing the leg ended the call")
	default:
	}
	again, err := call.Leg(ctx)
	if err != nil || again == leg {
		t.Fatalf("a new leg after Close: %v (same: %v)", err, again == leg)
	}
	if _, err := call.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if b, ch := h.srv.Bridges(), h.srv.Channels(); len(b) != 0 || len(ch) != 0 {
		t.Errorf("left in Asterisk: bridges %v, channels %v", b, ch)
	}
	h.stop()
}

// An externalMedia channel no leg owns (a previous process's) is hung up,
// not surveyed.
func TestStrayMediaChannelIsHungUp(t *testing.T) {
	h := start(t, nil)
	const stray = "canvass-media-0123456789abcdef"
	q := url.Values{"app": {"canvass"}, "channelId": {stray}, "external_host": {"127.0.0.1:9"}, "format": {"ulaw"}}
	req, err := http.NewRequestWithContext(h.ctx(), "POST", h.srv.URL+"/channels/externalMedia?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(h.srv.User, h.srv.Pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("externalMedia: %s", resp.Status)
	}
	h.await(1, "DELETE", "/channels/"+stray, "")
	h.stop()
	if h.saw("POST", "/channels/"+stray+"/answer", 0) || h.store.Count() != 0 {
		t.Errorf("a stray externalMedia channel was taken for a call")
	}
}

// A leg Asterisk refuses to make leaves nothing behind, and the call goes
// on.
func TestLegSetupFailureCleansUp(t *testing.T) {
	h, call, id := dialPhone(t)
	ctx := h.ctx()
	h.srv.Fail("POST", "/channels/externalMedia", 500, 1)
	if _, err := call.Leg(ctx); err == nil {
		t.Fatal("Leg succeeded though Asterisk refused the externalMedia channel")
	}
	bridge := h.await(1, "POST", "/bridges", "").Query.Get("bridgeId")
	h.await(1, "DELETE", "/bridges/"+bridge, "")
	if b := h.srv.Bridges(); len(b) != 0 {
		t.Errorf("bridges left: %v", b)
	}
	select {
	case <-call.Done():
		t.Fatal("a failed leg ended the call")
	default:
	}
	leg, err := call.Leg(ctx) // Asterisk is willing again
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Voice(id, 1000)
	if _, err := leg.ReadFrame(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := call.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if b, ch := h.srv.Bridges(), h.srv.Channels(); len(b) != 0 || len(ch) != 0 {
		t.Errorf("left in Asterisk: bridges %v, channels %v", b, ch)
	}
	h.stop()
}
