package phone

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/survey"
)

// tonePhone is a party that keeps sending a tone of its own, 20 ms a
// frame as a phone does, and keeps the last second of what it is sent.
type tonePhone struct {
	freq float64
	in   chan media.Frame
	done chan struct{}
	once sync.Once

	mu    sync.Mutex
	heard []int16 // the last second received
}

func newTonePhone(t *testing.T, freq float64) *tonePhone {
	p := &tonePhone{freq: freq, in: make(chan media.Frame, 8), done: make(chan struct{})}
	go p.speak()
	t.Cleanup(p.end)
	return p
}

func (p *tonePhone) speak() {
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	var n int
	pcm := make([]int16, media.SamplesPerPacket)
	for {
		select {
		case <-p.done:
			return
		case <-tk.C:
		}
		for i := range pcm {
			pcm[i] = int16(8000 * math.Sin(2*math.Pi*p.freq*float64(n)/8000))
			n++
		}
		b := make([]byte, media.SamplesPerPacket)
		media.PCMU.Encode(b, pcm)
		select {
		case p.in <- media.Frame{Codec: media.PCMU, Payload: b, Timestamp: uint32(n)}:
		default: // nobody reads: the line drops it
		}
	}
}

func (p *tonePhone) ReadFrame(ctx context.Context) (media.Frame, error) {
	select {
	case f := <-p.in:
		return f, nil
	case <-p.done:
		return media.Frame{}, media.ErrEnded
	case <-ctx.Done():
		return media.Frame{}, ctx.Err()
	}
}

func (p *tonePhone) WriteFrame(ctx context.Context, f media.Frame) error {
	if err := f.Check(); err != nil {
		return err
	}
	select {
	case <-p.done:
		return media.ErrEnded
	default:
	}
	pcm := make([]int16, len(f.Payload))
	f.Codec.Decode(pcm, f.Payload)
	p.mu.Lock()
	p.heard = append(p.heard, pcm...)
	if over := len(p.heard) - 8000; over > 0 {
		p.heard = p.heard[over:]
	}
	p.mu.Unlock()
	return nil
}

func (p *tonePhone) Done() <-chan struct{} { return p.done }
func (p *tonePhone) Close() error          { p.end(); return nil }
func (p *tonePhone) end()                  { p.once.Do(func() { close(p.done) }) }

// forget drops what was heard so far: the next check hears only what
// comes after a change of route.
func (p *tonePhone) forget() {
	p.mu.Lock()
	p.heard = nil
	p.mu.Unlock()
}

// hears reports whether the last 200 ms received hold freq clearly.
func (p *tonePhone) hears(freq float64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.heard) < 1600 {
		return false
	}
	return power(p.heard[len(p.heard)-1600:], freq) > 1e5
}

// power is the Goertzel power of freq in x, per sample.
func power(x []int16, freq float64) float64 {
	k := 2 * math.Cos(2*math.Pi*freq/8000)
	var s1, s2 float64
	for _, v := range x {
		s0 := float64(v) + k*s1 - s2
		s2, s1 = s1, s0
	}
	return (s1*s1 + s2*s2 - k*s1*s2) / float64(len(x))
}

// fakeCall is an answered call whose audio is a tonePhone.
type fakeCall struct {
	ivr.Media // not used: the switchboard only bridges
	phone     *tonePhone
	digits    []string
	mu        sync.Mutex
}

func (c *fakeCall) Leg() media.Leg        { return c.phone }
func (c *fakeCall) Done() <-chan struct{} { return c.phone.done }
func (c *fakeCall) Close(context.Context) (ivr.CallEnd, error) {
	c.phone.end()
	return ivr.CallEnd{Talk: time.Second, Q850Cause: 16, Reason: "Normal Clearing"}, nil
}
func (c *fakeCall) SendDigits(_ context.Context, d string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.digits = append(c.digits, d)
	return nil
}

// fakeDialer answers "+1555000" with a respondent speaking 1 kHz, is busy
// at "+1555486", rings until cancelled at "+1555480".
type fakeDialer struct {
	t     *testing.T
	calls chan *fakeCall
}

func (d *fakeDialer) Dial(ctx context.Context, r ivr.DialRequest) (ivr.Call, ivr.DialResult, error) {
	if r.Ringing != nil {
		r.Ringing()
	}
	switch r.To {
	case "+1555486":
		return nil, ivr.DialResult{Outcome: survey.DialBusy, SIPStatus: 486, Reason: "Busy Here", Rang: true}, nil
	case "+1555480":
		<-ctx.Done()
		return nil, ivr.DialResult{Outcome: survey.DialCancelled, Reason: "cancelled"}, ctx.Err()
	}
	c := &fakeCall{phone: newTonePhone(d.t, 1000)}
	d.calls <- c
	return c, ivr.DialResult{Outcome: survey.DialAnswered, SIPStatus: 200, CallID: "call-1"}, nil
}

type rig struct {
	t      *testing.T
	sb     *Switchboard
	dialer *fakeDialer
	next   chan *tonePhone // the browsers the test connects, in order
}

func newRig(t *testing.T, grace time.Duration, recordings string) *rig {
	r := &rig{t: t, dialer: &fakeDialer{t: t, calls: make(chan *fakeCall, 4)}, next: make(chan *tonePhone, 4)}
	r.sb = New(Deps{Dialer: r.dialer, Grace: grace, RecordingsDir: recordings,
		Answer: func(ctx context.Context, offer string) (Browser, string, error) {
			return <-r.next, "answer:" + offer, nil
		}})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.sb.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return r
}

// connect gives user id a browser speaking freq.
func (r *rig) connect(id survey.UserID, freq float64) *tonePhone {
	b := newTonePhone(r.t, freq)
	r.next <- b
	if _, err := r.sb.Connect(context.Background(), id, "offer"); err != nil {
		r.t.Fatal(err)
	}
	return b
}

// await reads events until one of user's calls reaches state.
func (r *rig) await(user survey.UserID, state survey.CallState) survey.CallEvent {
	r.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-r.sb.Events():
			if ev.User == user && ev.State == state {
				return ev
			}
		case <-timeout:
			r.t.Fatalf("user %d: no %s event", user, state)
		}
	}
}

// eventually waits for cond, which the audio makes true within a moment.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const (
	ivy = survey.UserID(1) // interviewer, speaks 440 Hz
	sue = survey.UserID(2) // supervisor, speaks 660 Hz
)

func TestListenWhisperBarge(t *testing.T) {
	r := newRig(t, time.Minute, "")
	interviewer := r.connect(ivy, 440)
	if err := r.sb.Dial(ivy, survey.PhoneCall{CaseID: 7, AttemptID: 9, Number: "+1555000"}); err != nil {
		t.Fatal(err)
	}
	r.await(ivy, survey.CallRinging)
	up := r.await(ivy, survey.CallAnswered)
	if up.AttemptID != 9 || up.CallID != "call-1" || up.Outcome != survey.DialAnswered {
		t.Fatalf("answered event: %+v", up)
	}
	resp := (<-r.dialer.calls).phone
	eventually(t, "the respondent hears the interviewer", func() bool { return resp.hears(440) })
	eventually(t, "the interviewer hears the respondent", func() bool { return interviewer.hears(1000) })

	sup := r.connect(sue, 660)
	phases := []struct {
		mode                  survey.MonitorMode
		respHears, ivHears    bool // 660 Hz, the supervisor
		supHearsR, supHearsIv bool
	}{
		{survey.MonitorListen, false, false, true, true},
		{survey.MonitorWhisper, false, true, true, true},
		{survey.MonitorBarge, true, true, true, true},
		{survey.MonitorListen, false, false, true, true},
	}
	for _, ph := range phases {
		if err := r.sb.Monitor(sue, ivy, ph.mode); err != nil {
			t.Fatal(err)
		}
		resp.forget()
		interviewer.forget()
		sup.forget()
		eventually(t, string(ph.mode)+": the supervisor hears both", func() bool { return sup.hears(1000) && sup.hears(440) })
		eventually(t, string(ph.mode)+": the parties still hear each other", func() bool { return resp.hears(440) && interviewer.hears(1000) })
		if got := resp.hears(660); got != ph.respHears {
			t.Errorf("%s: the respondent hears the supervisor: %v, want %v", ph.mode, got, ph.respHears)
		}
		if ph.ivHears {
			eventually(t, string(ph.mode)+": the interviewer hears the supervisor", func() bool { return interviewer.hears(660) })
		} else if interviewer.hears(660) {
			t.Errorf("%s: the interviewer hears the supervisor", ph.mode)
		}
	}
	if ev, ok := r.sb.Call(ivy); !ok || ev.Monitor != survey.MonitorListen || ev.Supervisor != sue {
		t.Fatalf("call as it stands: %+v", ev)
	}
	live := r.sb.RoomStats()
	if live.Passed == 0 || live.Mixed == 0 || live.Trimmed > live.Dropped {
		t.Errorf("the live call's room counts %+v: want frames passed and mixed, trims among the drops", live)
	}
	// Only one supervisor at a time; an interviewer with no call cannot be
	// listened to.
	r.connect(3, 770)
	if err := r.sb.Monitor(3, ivy, survey.MonitorListen); err == nil {
		t.Error("a second supervisor joined the call")
	}
	if err := r.sb.Monitor(sue, 3, survey.MonitorListen); err == nil {
		t.Error("listened to a user with no call")
	}
	// Hold: nobody hears the other side.
	if err := r.sb.Hold(ivy, true); err != nil {
		t.Fatal(err)
	}
	resp.forget()
	interviewer.forget()
	time.Sleep(300 * time.Millisecond) // what is not heard: let it not arrive
	if resp.hears(440) || interviewer.hears(1000) {
		t.Error("on hold, the parties still hear each other")
	}
	if err := r.sb.Hold(ivy, false); err != nil {
		t.Fatal(err)
	}
	if err := r.sb.Digits(context.Background(), ivy, "12#"); err != nil {
		t.Fatal(err)
	}
	// The respondent hangs up: the call ends, the supervisor is let go.
	resp.end()
	end := r.await(ivy, survey.CallEnded)
	if end.HungUpBy != "respondent" || end.Q850Cause != 16 || end.AnsweredAt.IsZero() || end.Talk(end.EndedAt) != time.Second {
		t.Fatalf("ended event: %+v", end)
	}
	if _, _, on := r.sb.Watching(sue); on {
		t.Error("the supervisor is still on an ended call")
	}
	// The ended call's room is still counted, once.
	ended := r.sb.RoomStats()
	if ended.Passed < live.Passed || ended.Mixed < live.Mixed || ended != r.sb.RoomStats() {
		t.Errorf("after the call: room counts %+v (then %+v), want at least %+v, and the same twice", ended, r.sb.RoomStats(), live)
	}
}

func TestNotAnsweredAndHangup(t *testing.T) {
	r := newRig(t, time.Minute, "")
	if err := r.sb.Dial(ivy, survey.PhoneCall{Number: "+1555486"}); err == nil {
		t.Fatal("dialed with no browser connected")
	}
	r.connect(ivy, 440)
	if err := r.sb.Dial(ivy, survey.PhoneCall{AttemptID: 1, Number: "+1555486"}); err != nil {
		t.Fatal(err)
	}
	ev := r.await(ivy, survey.CallEnded)
	if ev.Outcome != survey.DialBusy || ev.SIPStatus != 486 || ev.Cause() != "Busy (SIP 486, Busy Here)" {
		t.Fatalf("busy: %+v, %q", ev, ev.Cause())
	}
	if err := r.sb.Dial(ivy, survey.PhoneCall{AttemptID: 2, Number: "+1555480"}); err != nil {
		t.Fatal(err)
	}
	if err := r.sb.Dial(ivy, survey.PhoneCall{AttemptID: 3, Number: "+1555480"}); err == nil {
		t.Fatal("a second call on one phone")
	}
	r.await(ivy, survey.CallRinging)
	if err := r.sb.Mute(ivy, true); err == nil {
		t.Error("muted a call not answered")
	}
	if err := r.sb.Hangup(ivy); err != nil {
		t.Fatal(err)
	}
	ev = r.await(ivy, survey.CallEnded)
	if ev.Outcome != survey.DialCancelled || ev.HungUpBy != "interviewer" || ev.AttemptID != 2 {
		t.Fatalf("hung up while ringing: %+v", ev)
	}
	if err := r.sb.Hangup(ivy); err == nil {
		t.Error("hung up a call that is over")
	}
}

func TestReloadKeepsTheCallAndGoneEndsIt(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, 300*time.Millisecond, dir)
	first := r.connect(ivy, 440)
	if err := r.sb.Dial(ivy, survey.PhoneCall{AttemptID: 5, Number: "+1555000", Record: true}); err != nil {
		t.Fatal(err)
	}
	up := r.await(ivy, survey.CallAnswered)
	if up.Recording != "cati-5" {
		t.Fatalf("recording: %q", up.Recording)
	}
	resp := (<-r.dialer.calls).phone
	eventually(t, "first browser heard", func() bool { return resp.hears(440) })
	// A reload: a new browser (speaking 550 Hz) takes the call over.
	second := r.connect(ivy, 550)
	if first.Close(); !second.hears(1000) {
		eventually(t, "the new browser hears the respondent", func() bool { return second.hears(1000) })
	}
	resp.forget()
	eventually(t, "the respondent hears the new browser", func() bool { return resp.hears(550) })
	if _, ok := r.sb.Call(ivy); !ok {
		t.Fatal("the call was lost on reload")
	}
	// The browser goes for good: after the grace the call ends.
	second.Close()
	ev := r.await(ivy, survey.CallEnded)
	if ev.HungUpBy != "system" || ev.Reason != "the interviewer's browser went away" {
		t.Fatalf("gone: %+v", ev)
	}
	fi, err := os.Stat(filepath.Join(dir, "cati-5.wav"))
	if err != nil || fi.Size() <= 44 {
		t.Fatalf("recording: %v, %v", fi, err)
	}
}

func TestConsoleAwayAndBack(t *testing.T) {
	r := newRig(t, 300*time.Millisecond, "")
	r.connect(ivy, 440)
	if err := r.sb.Dial(ivy, survey.PhoneCall{AttemptID: 1, Number: "+1555000"}); err != nil {
		t.Fatal(err)
	}
	r.await(ivy, survey.CallAnswered)
	<-r.dialer.calls
	// A WebSocket blip: the page is back, its audio never went.
	r.sb.Away(ivy)
	r.sb.Back(ivy)
	time.Sleep(600 * time.Millisecond) // twice the grace: nothing may end
	if ev, ok := r.sb.Call(ivy); !ok || ev.State != survey.CallAnswered {
		t.Fatalf("a blip ended the call: %+v", ev)
	}
	// The page closed for good.
	r.sb.Away(ivy)
	ev := r.await(ivy, survey.CallEnded)
	if ev.HungUpBy != "system" || ev.Reason != "the interviewer's console went away" {
		t.Fatalf("away: %+v", ev)
	}
}
