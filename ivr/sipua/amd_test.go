// Answering-machine detection on a dialed call: the test phone answers and
// speaks like a person ("hello?", then waits) or like an answering machine
// (a greeting of many words), goes quiet, or hangs up; Dial returns the
// call with the verdict, its cause and its time.

package sipua_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
	"github.com/canvass/canvass/survey"
)

// voice is ms of a voiced sound (a 140 Hz buzz and its harmonics) at the
// level of speech on a phone line, with 10 ms ramps.
func voice(ms int) []int16 {
	n := ms * 8
	pcm := make([]int16, n)
	for i := range pcm {
		t := float64(i) / 8000
		v := 0.0
		for h := 1.0; h <= 8; h++ {
			v += math.Sin(2*math.Pi*140*h*t) / h
		}
		pcm[i] = int16(8000 * min(1, float64(i)/80, float64(n-i)/80) * v / 2.7)
	}
	return pcm
}

func quiet(ms int) []int16 { return make([]int16, ms*8) }

func concat(parts ...[]int16) []int16 {
	var out []int16
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestDialAMD(t *testing.T) {
	t.Parallel()
	var greeting [][]int16
	for range 12 { // "Hi, you've reached … please leave a message after the tone"
		greeting = append(greeting, voice(240), quiet(120))
	}
	tests := []struct {
		name   string
		answer func(ctx context.Context, c *sipuatest.Call) error // what the phone does once it answered
		want   ivr.AMDVerdict
		cause  string
	}{
		{"a person says hello and waits", func(ctx context.Context, c *sipuatest.Call) error {
			return c.Say(ctx, concat(quiet(300), voice(600)))
		}, ivr.AMDHuman, "HUMAN-800-800"},
		{"an answering machine's greeting", func(ctx context.Context, c *sipuatest.Call) error {
			return c.Say(ctx, concat(append([][]int16{quiet(300)}, greeting...)...))
		}, ivr.AMDMachine, "MAXWORDS-3-3"},
		{"a machine that waits before its greeting", func(ctx context.Context, c *sipuatest.Call) error {
			return c.Say(ctx, concat(quiet(3000), voice(1000)))
		}, ivr.AMDMachine, "INITIALSILENCE-2500-2500"},
		{"the phone hangs up while it is analysed", func(ctx context.Context, c *sipuatest.Call) error {
			if err := c.Say(ctx, voice(200)); err != nil {
				return err
			}
			return c.Hangup(ctx)
		}, ivr.AMDNotSure, "HANGUP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			callee, err := sipuatest.NewPhone(sipuatest.PhoneOptions{Log: testLog(t).With("side", "callee"), OnInvite: func(in *sipuatest.Incoming) {
				c, err := in.Answer(false)
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				if err := tt.answer(ctx, c); err != nil {
					select {
					case <-c.Done(): // the verdict came, Dial's caller hung up
					default:
						t.Errorf("the phone: %v", err)
					}
				}
				<-c.Done()
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer callee.Close()
			opts := testOptions()
			opts.Trunk.URI = "sip:" + callee.Addr().String()
			e := start(t, opts, nil)
			call, res, err := e.srv.Dial(ctx, ivr.DialRequest{To: "+15550001111", AMD: true})
			if err != nil || call == nil || res.Outcome != survey.DialAnswered {
				t.Fatalf("dial: %v %+v %v", call, res, err)
			}
			defer call.Close(ctx)
			if res.AMD != tt.want || res.AMDCause != tt.cause {
				t.Errorf("AMD %s %q, want %s %q", res.AMD, res.AMDCause, tt.want, tt.cause)
			}
			if res.AMDTime <= 0 || res.AMDTime > opts.AMD.TotalAnalysisTime {
				t.Errorf("AMD took %v of audio, want some and at most %v", res.AMDTime, opts.AMD.TotalAnalysisTime)
			}
		})
	}
}

// Without AMD in the request, Dial returns at the answer with no verdict.
func TestDialWithoutAMD(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	answered := make(chan struct{})
	callee, err := sipuatest.NewPhone(sipuatest.PhoneOptions{Log: testLog(t).With("side", "callee"), OnInvite: func(in *sipuatest.Incoming) {
		c, err := in.Answer(false)
		close(answered)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		<-c.Done()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close()
	opts := testOptions()
	opts.Trunk.URI = "sip:" + callee.Addr().String()
	e := start(t, opts, nil)
	call, res, err := e.srv.Dial(ctx, ivr.DialRequest{To: "+15550001111"})
	if err != nil || call == nil {
		t.Fatalf("dial: %v %+v %v", call, res, err)
	}
	if res.AMD != "" || res.AMDCause != "" || res.AMDTime != 0 {
		t.Errorf("AMD %q %q %v without asking for it", res.AMD, res.AMDCause, res.AMDTime)
	}
	// Hang up once the phone has our ACK: an early BYE would race it
	// through the phone.
	<-answered
	if _, err := call.Close(ctx); err != nil {
		t.Error(err)
	}
}

// A phone that sends no audio (silence suppression, a one-way path) leaves
// the detector without frames: Dial gives up shortly after
// TotalAnalysisTime with notsure, the audio heard so far as the time.
func TestDialAMDWithoutAudio(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	callee, err := sipuatest.NewPhone(sipuatest.PhoneOptions{Log: testLog(t).With("side", "callee"), OnInvite: func(in *sipuatest.Incoming) {
		c, err := in.Answer(false)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		c.MuteRTP(true)
		<-c.Done()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close()
	opts := testOptions()
	opts.Trunk.URI = "sip:" + callee.Addr().String()
	opts.AMD.TotalAnalysisTime = time.Second
	e := start(t, opts, nil)
	began := time.Now()
	call, res, err := e.srv.Dial(ctx, ivr.DialRequest{To: "+15550001111", AMD: true})
	if err != nil || call == nil {
		t.Fatalf("dial: %v %+v %v", call, res, err)
	}
	defer call.Close(ctx)
	if res.AMD != ivr.AMDNotSure || !strings.HasPrefix(res.AMDCause, "TOOLONG-") || res.AMDTime >= time.Second {
		t.Errorf("AMD %s %q after %v of audio, want notsure TOOLONG with less than 1s heard", res.AMD, res.AMDCause, res.AMDTime)
	}
	if took := time.Since(began); took < time.Second {
		t.Errorf("Dial returned after %v, before TotalAnalysisTime", took)
	}
}
