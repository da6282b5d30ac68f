// Package baresiptest runs a real third-party SIP phone for end-to-end
// tests: baresip (Debian baresip-core), configured as TESTING.md says,
// speaking a WAV of our making and recording what it hears (sndfile),
// driven through its stdin menu. `make test` installs it; a test without
// it fails. Set CANVASS_ARTIFACTS=DIR to keep each phone's directory
// (config, what it said and heard, its console output) under
// DIR/baresip/NAME.
package baresiptest

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configure a phone.
type Options struct {
	Name string // for logs and the artifacts directory
	// Say is what its microphone plays, 8 kHz, once from the start of each
	// call. baresip 1.0.0 does not loop it: when its aufile source reaches
	// the end of the file, it ends the call ("audio error (0,end of file)",
	// then a BYE). Make it longer than the call.
	Say []int16
	// User is the account's user (the number it answers as); default
	// "tester".
	User string
	// Also are more users the phone answers as, each an account of its
	// own (one phone, several numbers).
	Also []string
	// AutoAnswer answers every call at once.
	AutoAnswer bool
	// MaxCalls is baresip's call_max_calls: beyond it, the phone refuses
	// a call with 486 Busy Here without ringing. Zero keeps its default.
	MaxCalls int
	// CAFile is a PEM file of the certificates the phone trusts for SIP
	// over TLS (baresip's sip_cafile): dial a sip:…;transport=tls URI.
	// baresip 1.0.0 loads it but does not check the server's certificate
	// against it (seen: a call with another CA's file connects), so a test
	// cannot use it to prove the endpoint's certificate is the right one.
	CAFile string
	// MediaEnc is the account's media encryption (its srtp module):
	// "srtp-mand" offers and answers only RTP/SAVP with an SDES key
	// (AES_CM_128_HMAC_SHA1_80) and refuses plain RTP; "srtp" offers
	// RTP/AVP with a key (best effort). Empty: plain RTP, and an SRTP offer
	// is refused.
	MediaEnc string
}

// Phone is a running baresip.
type Phone struct {
	t    testing.TB
	name string
	dir  string
	addr string
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *lockedBuffer
}

// Start starts a phone on a free loopback port; it stops with the test
// (closing its stdin, then killing our own child by its pid if it lingers).
// Its config has no rtp_ports: baresip cannot bind port 0 (it binds an even
// port and the next one for RTCP), so it picks pairs at random from its own
// wide default range and tries again when one is taken. Phones, endpoints
// and other test runs on the machine need no ranges of their own.
func Start(t testing.TB, o Options) *Phone {
	t.Helper()
	if _, err := exec.LookPath("baresip"); err != nil {
		t.Fatal("baresip is not installed: the end-to-end calls need a real SIP phone (Debian baresip-core; `make test` installs it)")
	}
	if o.User == "" {
		o.User = "tester"
	}
	dir := t.TempDir()
	if art := os.Getenv("CANVASS_ARTIFACTS"); art != "" {
		dir = filepath.Join(art, "baresip", o.Name)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	rec := filepath.Join(dir, "rec")
	if err := os.MkdirAll(rec, 0o755); err != nil {
		t.Fatal(err)
	}
	sayPath := filepath.Join(dir, "say.wav")
	if err := WriteWAV(sayPath, o.Say); err != nil {
		t.Fatal(err)
	}
	port := FreeSIPPort(t)
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
`, port, sayPath, rec)
	if o.MaxCalls > 0 {
		config += fmt.Sprintf("call_max_calls %d\n", o.MaxCalls)
	}
	if o.CAFile != "" {
		config += fmt.Sprintf("sip_cafile %s\n", o.CAFile)
	}
	if o.MediaEnc != "" {
		config += "module srtp.so\n"
	}
	// baresip offers telephone-event whatever the account says; an
	// endpoint without RFC 4733 refuses it in its answer.
	var accounts strings.Builder
	for _, user := range append([]string{o.User}, o.Also...) {
		accounts.WriteString("<sip:" + user + "@127.0.0.1>;regint=0;audio_codecs=PCMU")
		if o.AutoAnswer {
			accounts.WriteString(";answermode=auto")
		}
		if o.MediaEnc != "" {
			accounts.WriteString(";mediaenc=" + o.MediaEnc)
		}
		accounts.WriteString("\n")
	}
	for f, body := range map[string]string{"config": config, "accounts": accounts.String(), "contacts": ""} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, "baresip", "-n", "127.0.0.1", "-f", dir)
	b := &Phone{t: t, name: o.Name, dir: dir, addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd, out: &lockedBuffer{}}
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
			t.Logf("baresip %s output:\n%s", o.Name, b.out.String())
		}
		if os.Getenv("CANVASS_ARTIFACTS") != "" {
			if err := os.WriteFile(filepath.Join(dir, "console.txt"), []byte(b.out.String()), 0o644); err != nil {
				t.Error(err)
			}
		}
	})
	b.WaitOutput("baresip is ready", 10*time.Second)
	return b
}

// Addr is the phone's SIP address, host:port.
func (b *Phone) Addr() string { return b.addr }

// URI is the phone's SIP URI for user (its own is Options.User; another
// draws 404 Not Found).
func (b *Phone) URI(user string) string { return "sip:" + user + "@" + b.addr }

// Type types s on the phone's stdin: during a call a key is sent as
// RFC 4733 events, "b" hangs up (or rejects a ringing call with 486). It
// may run on any goroutine: a failure marks the test failed.
func (b *Phone) Type(s string) {
	b.t.Helper()
	if _, err := io.WriteString(b.in, s); err != nil {
		b.t.Errorf("type %q: %v\n%s", s, err, b.out.String())
	}
}

// TypeAfter types keys after a pause, as a caller keys in time with the
// prompts it hears.
func (b *Phone) TypeAfter(pause time.Duration, keys string) {
	b.t.Helper()
	time.Sleep(pause)
	b.Type(keys)
}

// Dial places a call to uri; keys typed later go to the call.
func (b *Phone) Dial(uri string) {
	b.t.Helper()
	b.Type("/dial " + uri + "\n")
}

// Output is what the phone printed so far.
func (b *Phone) Output() string { return b.out.String() }

// Printed reports whether the phone has printed s n times (over its whole
// life) within a while. It may run on any goroutine.
func (b *Phone) Printed(s string, n int, within time.Duration) bool {
	for deadline := time.Now().Add(within); strings.Count(b.out.String(), s) < n; {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// WaitOutput waits until the phone has printed s.
func (b *Phone) WaitOutput(s string, within time.Duration) {
	b.t.Helper()
	if !b.Printed(s, 1, within) {
		b.t.Fatalf("baresip %s never printed %q within %s:\n%s", b.name, s, within, b.out.String())
	}
}

// WaitEstablished waits until the phone's first call is answered.
func (b *Phone) WaitEstablished(within time.Duration) {
	b.t.Helper()
	b.WaitOutput("Call established", within)
}

// WaitClosed waits until the phone's first call is over, whoever ended it.
func (b *Phone) WaitClosed(within time.Duration) {
	b.t.Helper()
	b.WaitOutput("terminated", within)
}

// Heard is the audio the phone received on its latest call (sndfile's
// decoder-side dump), at the call's rate.
func (b *Phone) Heard() []int16 {
	b.t.Helper()
	matches, _ := filepath.Glob(filepath.Join(b.dir, "rec", "dump-*-dec.wav"))
	if len(matches) == 0 {
		b.t.Fatalf("sndfile left no recording of what the phone heard in %s", b.dir)
	}
	latest, at := "", time.Time{}
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.ModTime().After(at) {
			latest, at = m, fi.ModTime()
		}
	}
	pcm, err := ReadWAV(latest)
	if err != nil {
		b.t.Fatal(err)
	}
	return pcm
}

// FreeSIPPort finds a port free on UDP and TCP, with the next one free on
// TCP too (baresip binds TLS on port+1).
func FreeSIPPort(t testing.TB) int {
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

// Sine is seconds of a tone at freq Hz, 8 kHz, at amplitude amp.
func Sine(freq, seconds, amp float64) []int16 {
	pcm := make([]int16, int(seconds*8000))
	for i := range pcm {
		pcm[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	return pcm
}

// Power is the Goertzel power of freq in x (sampled at rate), per sample:
// a full-scale tone gives about 2.7e8, silence 0.
func Power(x []int16, freq, rate float64) float64 {
	if len(x) == 0 {
		return 0
	}
	k := 2 * math.Cos(2*math.Pi*freq/rate)
	var s1, s2 float64
	for _, v := range x {
		s0 := float64(v) + k*s1 - s2
		s2, s1 = s1, s0
	}
	return (s1*s1 + s2*s2 - k*s1*s2) / float64(len(x))
}

// RMS is the root mean square level of pcm: about 0.7 of a tone's
// amplitude, 0 for silence.
func RMS(pcm []int16) float64 {
	var s float64
	for _, x := range pcm {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s / float64(max(len(pcm), 1)))
}

// WriteWAV writes 8 kHz mono 16-bit samples as a WAV file.
func WriteWAV(path string, pcm []int16) error {
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
	return os.WriteFile(path, b, 0o644)
}

// ReadWAV returns the samples of a 16-bit WAV (any rate and channel count,
// interleaved).
func ReadWAV(path string) ([]int16, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
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
			return pcm, nil
		}
		i += size + size%2
	}
	return nil, fmt.Errorf("%s has no data chunk", path)
}

// lockedBuffer is a buffer a process writes while a test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
