package asterisk_test

// The console's switchboard over Asterisk: an interviewer's call placed
// with the ARI dial string, its audio bridged to a browser leg through the
// externalMedia channel, keys sent to the far end, and the call ended from
// the console. The browser is a leg of channels here (ivr/webrtc has its
// own tests with pion and Chromium).

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr/asterisk"
	"github.com/canvass/canvass/ivr/asterisk/aritest"
	"github.com/canvass/canvass/ivr/media"
	switchboard "github.com/canvass/canvass/ivr/phone"
	"github.com/canvass/canvass/survey"
)

// browser speaks 440 Hz every 20 ms and keeps what it is sent.
type browser struct {
	in    chan media.Frame
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	heard []int16
}

func newBrowser(t *testing.T) *browser {
	b := &browser{in: make(chan media.Frame, 8), done: make(chan struct{})}
	frames := tone(440, 50)
	go func() {
		tk := time.NewTicker(media.PacketInterval)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-b.done:
				return
			case <-tk.C:
			}
			select {
			case b.in <- media.Frame{Codec: media.PCMU, Payload: frames[i%len(frames)]}:
			default:
			}
		}
	}()
	t.Cleanup(func() { b.Close() })
	return b
}

func (b *browser) ReadFrame(ctx context.Context) (media.Frame, error) {
	select {
	case f := <-b.in:
		return f, nil
	case <-b.done:
		return media.Frame{}, media.ErrEnded
	case <-ctx.Done():
		return media.Frame{}, ctx.Err()
	}
}

func (b *browser) WriteFrame(_ context.Context, f media.Frame) error {
	pcm := make([]int16, len(f.Payload))
	f.Codec.Decode(pcm, f.Payload)
	b.mu.Lock()
	b.heard = append(b.heard, pcm...)
	b.mu.Unlock()
	return nil
}

func (b *browser) Done() <-chan struct{} { return b.done }
func (b *browser) Close() error          { b.once.Do(func() { close(b.done) }); return nil }

func (b *browser) level(hz float64) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.heard) < 4000 {
		return 0
	}
	return level(b.heard[len(b.heard)-4000:], hz)
}

func TestSwitchboardOverARI(t *testing.T) {
	h := start(t, func(o *asterisk.Options, s *aritest.Server) {
		s.OnOriginate = func(id string) { s.Answer(id) }
	})
	br := newBrowser(t)
	sb := switchboard.New(switchboard.Deps{Dialer: h.client, DialString: "PJSIP/{number}@trunk",
		Answer: func(context.Context, string) (switchboard.Browser, string, error) { return br, "answer", nil }})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sb.Close(ctx)
	})
	const ivy = survey.UserID(1)
	if _, err := sb.Connect(h.ctx(), ivy, "offer"); err != nil {
		t.Fatal(err)
	}
	if err := sb.Dial(ivy, survey.PhoneCall{CaseID: 3, AttemptID: 4, Number: "+33612345678"}); err != nil {
		t.Fatal(err)
	}
	var up survey.CallEvent
	for ev := range sb.Events() {
		if ev.State == survey.CallAnswered {
			up = ev
			break
		}
	}
	orig := h.await(1, "POST", "/channels", "")
	if got := orig.Query.Get("endpoint"); got != "PJSIP/+33612345678@trunk" {
		t.Errorf("dialed %q", got)
	}
	h.srv.Voice(up.CallID, 1000)
	deadline := time.Now().Add(10 * time.Second)
	for br.level(1000) < 0.8 {
		if time.Now().After(deadline) {
			t.Fatalf("the browser never heard the callee's 1 kHz (%.2f)", br.level(1000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	got, err := h.srv.AwaitHeard(h.ctx(), up.CallID, 50*media.SamplesPerPacket)
	if err != nil {
		t.Fatal(err)
	}
	if l := level(got[len(got)-4000:], 440); l < 0.5 {
		t.Errorf("the callee heard the browser's 440 Hz at %.2f", l)
	}
	if err := sb.Digits(h.ctx(), ivy, "9#"); err != nil {
		t.Fatal(err)
	}
	if d := h.srv.Digits(up.CallID); d != "9#" {
		t.Errorf("digits sent: %q", d)
	}
	if err := sb.Hangup(ivy); err != nil {
		t.Fatal(err)
	}
	for ev := range sb.Events() {
		if ev.State == survey.CallEnded {
			if ev.HungUpBy != "interviewer" || ev.AnsweredAt.IsZero() {
				t.Errorf("ended: %+v", ev)
			}
			break
		}
	}
	deadline = time.Now().Add(5 * time.Second)
	for len(h.srv.Bridges())+len(h.srv.Channels()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("left in Asterisk: bridges %v, channels %v", h.srv.Bridges(), h.srv.Channels())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
