// End-to-end calls from a real third-party SIP phone: baresip (Debian
// baresip-core), scripted on its stdin as TESTING.md describes, into the
// endpoint backed by a real PostgreSQL. Each call's interview is checked in
// the database. Set CANVASS_ARTIFACTS=DIR to keep what each phone heard
// (baresip's sndfile recordings) and its console output.

package sipua_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/ivrtest"
	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua"
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

// baresip is one scripted phone.
type baresip struct {
	t    *testing.T
	dir  string
	port int // SIP, on 127.0.0.1
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeSIPPort finds a port free on UDP and TCP, with the next one free on
// TCP too (baresip binds TLS on port+1).
func freeSIPPort(t *testing.T) int {
	t.Helper()
	for range 100 {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		p := u.LocalAddr().(*net.UDPAddr).Port
		t1, err1 := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		t2, err2 := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p + 1})
		u.Close()
		for _, l := range []*net.TCPListener{t1, t2} {
			if l != nil {
				l.Close()
			}
		}
		if err1 == nil && err2 == nil && p < 65000 {
			return p
		}
	}
	t.Fatal("no free port for baresip")
	return 0
}

// baresipConf adds to a phone's configuration.
type baresipConf struct {
	account string // account parameters, e.g. ";answermode=auto"
	config  string // config lines
}

// startBaresip starts a phone whose microphone plays say (8 kHz samples).
func startBaresip(t *testing.T, name string, say []int16) *baresip {
	t.Helper()
	return startBaresipWith(t, name, say, baresipConf{})
}

// startBaresipWith starts a phone with more configuration. Its config has no rtp_ports: baresip cannot bind port 0 (it binds an
// even port and the next one for RTCP), so it picks pairs at random from
// its own wide default range and tries again when one is taken. Phones,
// endpoints and other test runs on the machine need no ranges of their own.
func startBaresipWith(t *testing.T, name string, say []int16, conf baresipConf) *baresip {
	t.Helper()
	if _, err := exec.LookPath("baresip"); err != nil {
		t.Fatal("baresip is not installed: the end-to-end calls need a real SIP phone (Debian baresip-core; `make test` installs it)")
	}
	dir := t.TempDir()
	if art := os.Getenv("CANVASS_ARTIFACTS"); art != "" {
		dir = filepath.Join(art, "baresip", name)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	rec := filepath.Join(dir, "rec")
	if err := os.MkdirAll(rec, 0o755); err != nil {
		t.Fatal(err)
	}
	sayPath := filepath.Join(dir, "say.wav")
	writeWAV(t, sayPath, say)
	port := freeSIPPort(t)
	config := fmt.Sprintf(`poll_method epoll
sip_listen 127.0.0.1:%d
audio_source aufile,%s
audio_alert aufile,/dev/null
audio_player aufile,/dev/null
module_path /usr/lib/baresip/modules
module stdio.so
module g711.so
module aufile.so
module sndfile.so
snd_path %s
module_app account.so
module_app menu.so
`, port, sayPath, rec) + conf.config
	// baresip offers telephone-event whatever the account says; the
	// in-band endpoint refuses it in its answer.
	account := "<sip:tester@127.0.0.1>;regint=0;audio_codecs=PCMU" + conf.account
	for f, body := range map[string]string{"config": config, "accounts": account + "\n", "contacts": ""} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, "baresip", "-n", "127.0.0.1", "-f", dir)
	b := &baresip{t: t, dir: dir, port: port, cmd: cmd, out: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = b.out, b.out
	var err error
	if b.in, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.in.Close()
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		select {
		case <-waited:
		case <-time.After(3 * time.Second):
			cmd.Process.Kill() // our own child, by pid
			<-waited
		}
		cancel()
		if t.Failed() || os.Getenv("CANVASS_ARTIFACTS") != "" {
			t.Logf("baresip %s output:\n%s", name, b.out.String())
		}
		if art := os.Getenv("CANVASS_ARTIFACTS"); art != "" {
			os.WriteFile(filepath.Join(dir, "console.txt"), []byte(b.out.String()), 0o644)
		}
	})
	// baresip is ready for commands once its user agent is up.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(b.out.String(), "baresip is ready"); {
		if time.Now().After(deadline) {
			t.Fatalf("baresip did not start:\n%s", b.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return b
}

// script types commands on the phone's stdin: each step waits, then types.
type step struct {
	wait time.Duration
	keys string
}

func (b *baresip) run(steps ...step) {
	b.t.Helper()
	for _, s := range steps {
		time.Sleep(s.wait)
		if _, err := io.WriteString(b.in, s.keys); err != nil {
			b.t.Fatalf("type %q: %v\n%s", s.keys, err, b.out.String())
		}
	}
}

// dial places the call; keys typed later go to the call as DTMF.
func (b *baresip) dial(uri string) { b.run(step{0, "/dial " + uri + "\n"}) }

// uri is the phone's address for user.
func (b *baresip) uri(user string) string { return fmt.Sprintf("sip:%s@127.0.0.1:%d", user, b.port) }

// waitOutput waits until the phone has printed s, n times.
func (b *baresip) waitOutput(s string, n int, within time.Duration) {
	b.t.Helper()
	if !b.printed(s, n, within) {
		b.t.Fatalf("baresip did not print %q %d times within %s:\n%s", s, n, within, b.out.String())
	}
}

// printed reports whether the phone prints s, n times, within a while; it
// may run on any goroutine.
func (b *baresip) printed(s string, n int, within time.Duration) bool {
	for deadline := time.Now().Add(within); strings.Count(b.out.String(), s) < n; {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// waitEstablished waits until the call is answered.
func (b *baresip) waitEstablished() {
	b.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(b.out.String(), "Call established"); {
		if time.Now().After(deadline) {
			b.t.Fatalf("call not established:\n%s", b.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitClosed waits until the call is over.
func (b *baresip) waitClosed(within time.Duration) {
	b.t.Helper()
	for deadline := time.Now().Add(within); !strings.Contains(b.out.String(), "terminated"); {
		if time.Now().After(deadline) {
			b.t.Fatalf("call did not end within %s:\n%s", within, b.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// heard is the audio the phone received (sndfile's decoder-side dump).
func (b *baresip) heard() []int16 {
	b.t.Helper()
	matches, _ := filepath.Glob(filepath.Join(b.dir, "rec", "dump-*-dec.wav"))
	if len(matches) == 0 {
		b.t.Fatalf("sndfile left no recording of what the phone heard in %s", b.dir)
	}
	return readWAV(b.t, matches[0])
}

func writeWAV(t *testing.T, path string, pcm []int16) {
	t.Helper()
	n := uint32(len(pcm) * 2)
	b := []byte("RIFF")
	b = binary.LittleEndian.AppendUint32(b, 36+n)
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, 1) // PCM
	b = binary.LittleEndian.AppendUint16(b, 1) // mono
	b = binary.LittleEndian.AppendUint32(b, 8000)
	b = binary.LittleEndian.AppendUint32(b, 16000)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 16)
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, n)
	for _, s := range pcm {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readWAV returns the samples of a 16-bit WAV (any rate; sndfile writes
// the call's).
func readWAV(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 12; i+8 <= len(b); {
		id, size := string(b[i:i+4]), int(binary.LittleEndian.Uint32(b[i+4:]))
		i += 8
		if id == "data" {
			size = min(size, len(b)-i)
			pcm := make([]int16, size/2)
			for k := range pcm {
				pcm[k] = int16(binary.LittleEndian.Uint16(b[i+2*k:]))
			}
			return pcm
		}
		i += size + size%2
	}
	t.Fatalf("%s has no data chunk", path)
	return nil
}

// rms is the root mean square level of pcm.
func rms(pcm []int16) float64 {
	var s float64
	for _, x := range pcm {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s / float64(max(len(pcm), 1)))
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
	if _, err := exec.LookPath("baresip"); err != nil {
		t.Fatal("baresip is not installed: the end-to-end calls need a real SIP phone (Debian baresip-core; `make test` installs it)")
	}
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
		b := startBaresip(t, "rfc4733", silence)
		b.dial(uri(rfc, "e2e-a"))
		b.waitEstablished()
		// Each answer is keyed once the previous one is stored (keys typed
		// before a prompt count for its question).
		b.run(step{1500 * time.Millisecond, "9"}, step{time.Second, "#"})
		for _, next := range []struct{ after, keys string }{{"nps", "5"}, {"csat", "7"}, {"ces", "1"}} {
			rfc.answered(t, "e2e-a", next.after, 10*time.Second)
			b.run(step{0, next.keys})
		}
		b.waitClosed(10 * time.Second) // the endpoint thanks and hangs up
		iv := rfc.interview(t, "e2e-a", 5*time.Second)
		want := map[string]any{"nps": int64(9), "csat": int64(5), "ces": int64(7), "resolved": true}
		if got := ivrtest.Values(iv); fmt.Sprint(got) != fmt.Sprint(want) || iv.Status != survey.StatusComplete || iv.EndCause != "completed" {
			t.Errorf("interview %s (%s) with %v; want complete with %v", iv.Status, iv.EndCause, got, want)
		}
		if iv.Context.Agent != "ae2e-a" || iv.Context.CallerNumber != "tester" {
			t.Errorf("context %+v", iv.Context)
		}
		heard := b.heard()
		if secs := float64(len(heard)) / 8000; secs < 2 || rms(heard) < 300 {
			t.Errorf("the phone heard %.1fs at RMS %.0f; want seconds of prompts (keys barge in, so not all of them)", secs, rms(heard))
		}
	})

	call("inband", func(t *testing.T) {
		say := inbandScript(12*time.Second, map[time.Duration]rune{
			2000 * time.Millisecond: '8', 3200 * time.Millisecond: '#', 4600 * time.Millisecond: '4',
			6000 * time.Millisecond: '6', 7400 * time.Millisecond: '1'})
		b := startBaresip(t, "inband", say)
		b.dial(uri(inband, "e2e-b"))
		b.waitEstablished()
		b.waitClosed(15 * time.Second)
		iv := inband.interview(t, "e2e-b", 5*time.Second)
		want := map[string]any{"nps": int64(8), "csat": int64(4), "ces": int64(6), "resolved": true}
		if got := ivrtest.Values(iv); fmt.Sprint(got) != fmt.Sprint(want) || iv.Status != survey.StatusComplete {
			t.Errorf("interview %s (%s) with %v; want complete with %v", iv.Status, iv.EndCause, got, want)
		}
	})

	call("hangup", func(t *testing.T) {
		b := startBaresip(t, "hangup", silence)
		b.dial(uri(rfc, "e2e-c"))
		b.waitEstablished()
		b.run(step{1500 * time.Millisecond, "1"}, step{700 * time.Millisecond, "0"})
		rfc.answered(t, "e2e-c", "nps", 10*time.Second)
		b.run(step{0, "5"})
		rfc.answered(t, "e2e-c", "csat", 10*time.Second)
		b.run(step{0, "b"}) // hang up as the ces question starts
		b.waitClosed(5 * time.Second)
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
		b := startBaresip(t, "invalid", voice)
		b.dial(uri(rfc, "e2e-d"))
		b.waitEstablished()
		b.run(step{1500 * time.Millisecond, "4"}, step{700 * time.Millisecond, "2"}, // 42: not 0-10
			step{1500 * time.Millisecond, "*"}, // repeat the question
			step{1200 * time.Millisecond, "3"}, step{800 * time.Millisecond, "#"})
		rfc.answered(t, "e2e-d", "nps", 10*time.Second)
		b.run(step{4 * time.Second, "#"}) // after the why prompt and the beep: a 3 s comment
		rfc.answered(t, "e2e-d", "why", 10*time.Second)
		b.run(step{0, "2"})
		rfc.answered(t, "e2e-d", "csat", 10*time.Second)
		b.run(step{0, "b"})
		b.waitClosed(5 * time.Second)
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
		if level := rms(readWAV(t, path)); level < 500 {
			t.Errorf("voice comment is nearly silent (RMS %.0f)", level)
		}
		if art := os.Getenv("CANVASS_ARTIFACTS"); art != "" {
			if b, err := os.ReadFile(path); err == nil {
				os.WriteFile(filepath.Join(art, "baresip", "voice-comment.wav"), b, 0o644)
			}
		}
	})
}
