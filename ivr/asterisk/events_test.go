package asterisk

// Unit tests of what the adapter parses: ARI event frames (fuzzed), Stasis
// arguments, WAV headers and options.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
)

// captured returns every event frame of the captures in testdata/ari.
func captured(t testing.TB) [][]byte {
	t.Helper()
	files, err := filepath.Glob("testdata/ari/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("captures: %v %v", files, err)
	}
	var frames [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var line struct {
				Dir string          `json:"dir"`
				Msg json.RawMessage `json:"msg"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if line.Dir == "event" {
				frames = append(frames, line.Msg)
			}
		}
	}
	return frames
}

func TestDecodeCapturedEvents(t *testing.T) {
	got := map[string]event{}
	for _, frame := range captured(t) {
		ev, err := decodeEvent(frame)
		if errors.Is(err, errIgnored) {
			continue
		}
		if err != nil {
			t.Fatalf("captured frame %s: %v", frame, err)
		}
		if _, seen := got[ev.Type]; !seen {
			got[ev.Type] = ev
		}
	}
	checks := []struct {
		typ  string
		ok   func(event) bool
		want string
	}{
		{"StasisStart", func(e event) bool {
			return e.Channel == "1795375138.1" && e.Caller == "tester" && len(e.Args) == 1 && e.Args[0] == "questionnaire=post-call"
		}, "channel, caller and args"},
		{"ChannelDtmfReceived", func(e event) bool { return e.Digit == '7' && e.Channel == "1795375138.1" }, "digit 7"},
		{"PlaybackStarted", func(e event) bool { return e.Playback == "pb-q1" && e.Channel == "1795375138.1" }, "playback id and target"},
		{"PlaybackFinished", func(e event) bool { return e.Playback == "pb-q1" && e.State == "done" }, "state done"},
		{"RecordingFinished", func(e event) bool { return e.Recording == "canvass-rec1" && e.State == "done" }, "recording name"},
		{"ChannelDestroyed", func(e event) bool { return e.Cause != 0 && e.CauseText != "" }, "a Q.850 cause"},
		{"Dial", func(e event) bool { return e.Channel == "out-1" || e.Channel == "out-2" }, "the peer's id"},
		{"ChannelHangupRequest", func(e event) bool { return e.Channel != "" }, "a channel"},
		{"StasisEnd", func(e event) bool { return e.Channel != "" }, "a channel"},
	}
	for _, c := range checks {
		if e, ok := got[c.typ]; !ok || !c.ok(e) {
			t.Errorf("%s: got %+v, want %s", c.typ, e, c.want)
		}
	}
	if e := got["ChannelDestroyed"]; e.Cause != 19 && e.Cause != 16 {
		t.Errorf("ChannelDestroyed cause %d", e.Cause)
	}
	// A soft hangup request carries Asterisk's flags (32 is
	// AST_SOFTHANGUP_EXPLICIT), not Q.850: it must be told apart.
	var soft int
	for _, frame := range captured(t) {
		if ev, err := decodeEvent(frame); err == nil && ev.Type == "ChannelHangupRequest" && ev.Soft {
			soft++
		}
	}
	if soft == 0 {
		t.Errorf("no soft ChannelHangupRequest decoded from the captures")
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range []struct {
		frame   string
		ignored bool
	}{
		{`{"type":"ChannelToneDetected","channel":{"id":"x"}}`, true}, // newer than ari/v5
		{`{"type":"ChannelVarset","variable":"X"}`, true},
		{`{"type":"ChannelDtmfReceived","digit":"","channel":{"id":"x"}}`, true},
		{`{"type":"ChannelDtmfReceived","digit":"12","channel":{"id":"x"}}`, true},
		{`{"type":"ChannelDtmfReceived","digit":5}`, false},
		{`{"type":"PlaybackFinished","playback":[]}`, false},
		{`{"type":"StasisStart","timestamp":"yesterday"}`, false},
		{`{"type":""}`, false},
		{`{}`, false},
		{`null`, false},
		{`[1,2]`, false},
		{`{"type":"StasisStart"`, false},
		{``, false},
	} {
		_, err := decodeEvent([]byte(tc.frame))
		if err == nil || errors.Is(err, errIgnored) != tc.ignored {
			t.Errorf("%s: err %v, want ignored=%v", tc.frame, err, tc.ignored)
		}
	}
}

// FuzzDecodeEvent: no frame may panic the decoder, and what decodes is
// usable by the router.
func FuzzDecodeEvent(f *testing.F) {
	for _, frame := range captured(f) {
		f.Add(frame)
	}
	f.Add([]byte(`{"type":"ChannelDtmfReceived","digit":"#","channel":{"id":"1.1","caller":null,"channelvars":{"A":"b"}}}`))
	f.Add([]byte(`{"type":"RecordingFinished","recording":{"name":"r","duration":-1,"target_uri":"channel:"}}`))
	f.Add([]byte(`{"type":"ChannelUserevent","eventname":"canvass-heartbeat","userevent":{"x":[1]}}`))
	f.Add([]byte(`{"type":"StasisStart","args":null,"channel":{"creationtime":"9999-99-99T00:00:00.000+0000"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := decodeEvent(data)
		if err != nil {
			return
		}
		if !used(ev.Type) {
			t.Fatalf("decoded an unused type %q", ev.Type)
		}
		if ev.Type == "ChannelDtmfReceived" && !strings.ContainsRune("0123456789*#ABCD", ev.Digit) {
			t.Fatalf("digit %q", ev.Digit)
		}
	})
}

func TestCallInfo(t *testing.T) {
	info := callInfo(event{Channel: "1795375138.1", Caller: "+33612345678",
		Args: []string{"questionnaire=post-call", "agent=SIP/1001", "queue=", "lang=fr", "crm_case=42", "bare"},
		Vars: map[string]string{"QUEUENAME": "support", "CHANNEL(linkedid)": "1795375100.0"}})
	c := info.Context
	if info.Questionnaire != "post-call" || info.Language != "fr" || c.Agent != "SIP/1001" || c.Queue != "support" ||
		c.CallID != "1795375100.0" || c.CallerNumber != "+33612345678" || c.Extra["crm_case"] != "42" || c.Extra["arg5"] != "bare" {
		t.Errorf("callInfo = %+v", info)
	}
	info = callInfo(event{Channel: "1795375138.1", Args: []string{"post-call", "call_id=abc"}})
	if info.Questionnaire != "post-call" || info.Context.CallID != "abc" {
		t.Errorf("bare questionnaire and call_id: %+v", info)
	}
	if info := callInfo(event{Channel: "9.9"}); info.Questionnaire != "" || info.Context.CallID != "9.9" {
		t.Errorf("no args: %+v", info)
	}
}

func TestDialArgsRoundTrip(t *testing.T) {
	info := callInfo(event{Channel: "x", Args: strings.Split(dialArgs(ivr.DialRequest{CaseID: 12, AttemptID: 34}, "canvass-1"), ",")})
	if info.Questionnaire != "" || info.Context.Extra[dialKey] != "canvass-1" || info.Context.Extra["case"] != "12" ||
		info.Context.Extra["attempt"] != "34" {
		t.Errorf("round trip: %+v", info)
	}
}

func wavBytes(dataLen, byteRate uint32, declared uint32) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32([]byte("RIFF"), 36+dataLen)
	b = append(b, "WAVEfmt "...)
	b = le.AppendUint32(b, 16)
	b = le.AppendUint16(le.AppendUint16(b, 1), 1)
	b = le.AppendUint32(le.AppendUint32(b, byteRate/2), byteRate)
	b = le.AppendUint16(le.AppendUint16(b, 2), 16)
	b = le.AppendUint32(append(b, "data"...), declared)
	return append(b, make([]byte, dataLen)...)
}

func TestWAVDuration(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want time.Duration
		ok   bool
	}{
		{"1.5 s at 8 kHz", wavBytes(24000, 16000, 24000), 1500 * time.Millisecond, true},
		{"header never rewritten", wavBytes(8000, 16000, math.MaxUint32), 500 * time.Millisecond, true},
		{"not a WAV", []byte("ID3 nothing here"), 0, false},
		{"truncated", wavBytes(0, 16000, 0)[:30], 0, false},
		{"zero byte rate", wavBytes(10, 0, 10), 0, false},
	} {
		got, err := wavDuration(tc.b)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s: %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions().Validate(); err != nil {
		t.Errorf("disabled defaults: %v", err)
	}
	o := DefaultOptions()
	o.URL, o.Username, o.Password = "http://127.0.0.1:8088/ari", "canvass", "secret"
	if err := o.Validate(); err != nil {
		t.Errorf("minimal: %v", err)
	}
	o.URL, o.Username, o.Password, o.App = "ftp://x", "", "", "has space"
	o.PromptMode, o.SampleShare, o.Heartbeat = "http", math.NaN(), time.Hour
	err := o.Validate()
	for _, want := range []string{"ari.url:", "ari.username:", "ari.password:", "CANVASS_ARI_PASSWORD", "ari.app:",
		"ari.prompt_base_url:", "ari.sample_share:", "ari.heartbeat:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}

func TestEventsURL(t *testing.T) {
	u, err := eventsURL("https://pbx.example:8089/ari/", "canvass-a")
	if err != nil || u != "wss://pbx.example:8089/ari/events?app=canvass-a&subscribeAll=false" {
		t.Errorf("eventsURL = %q, %v", u, err)
	}
}
