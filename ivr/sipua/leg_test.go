// A live call's media.Leg, with the sipuatest phone at the other end:
// frames written to the leg reach the phone byte for byte, and what the
// phone says comes out of the leg byte for byte.

package sipua_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr/media"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
)

// sweep is n frames of a tone rising from 600 Hz to 1600 Hz, PCMU-coded:
// no two frames alike, so each can be found in what the phone heard.
func sweep(n int) [][]byte {
	frames := make([][]byte, n)
	pcm := make([]int16, media.SamplesPerPacket)
	phase := 0.0
	for i := range frames {
		for k := range pcm {
			f := 600 + 1000*float64(i*media.SamplesPerPacket+k)/float64(n*media.SamplesPerPacket)
			phase += 2 * math.Pi * f / media.SampleRate
			pcm[k] = int16(6000 * math.Sin(phase))
		}
		frames[i] = make([]byte, media.SamplesPerPacket)
		media.PCMU.Encode(frames[i], pcm)
	}
	return frames
}

func TestCallLeg(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := e.dial(ctx, sipuatest.DialOptions{KeepAudio: true}) // PCMU
	newRespondent(t, ctx, c).prompt()                        // the call is up, the intro plays
	leg, ok := e.srv.LegOf(c.CallID())
	if !ok {
		t.Fatal("no live call with the phone's Call-ID")
	}

	// Write: 600 ms of a sweep, in place of the prompt, live (a frame
	// every 20 ms, as a bridge writes); the last 100 ms in A-law, which the
	// call transcodes to the µ-law it negotiated.
	frames := sweep(30)
	written := make([]media.Frame, len(frames))
	live := time.NewTicker(media.PacketInterval)
	defer live.Stop()
	for i, f := range frames {
		<-live.C
		written[i] = media.Frame{Codec: media.PCMU, Payload: f}
		if i >= 25 {
			alaw := make([]byte, len(f))
			media.Transcode(alaw, media.PCMA, f, media.PCMU)
			written[i] = media.Frame{Codec: media.PCMA, Payload: alaw}
		}
		if err := leg.WriteFrame(ctx, written[i]); err != nil {
			t.Fatalf("write frame %d: %v", i, err)
		}
	}
	// Each frame reaches the phone whole and in order.
	want := make([][]int16, len(written))
	for i, f := range written {
		sent := make([]byte, len(f.Payload))
		media.Transcode(sent, media.PCMU, f.Payload, f.Codec)
		want[i] = make([]int16, len(sent))
		media.PCMU.Decode(want[i], sent)
	}
	found := func(heard []int16) int {
		at, n := 0, 0
		for _, w := range want {
			i := indexOf(heard[at:], w)
			if i < 0 {
				break
			}
			at, n = at+i+len(w), n+1
		}
		return n
	}
	n := 0
	for deadline := time.Now().Add(3 * time.Second); n < len(frames) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		n = found(c.Heard())
	}
	if n < len(frames) {
		t.Fatalf("the phone heard %d of the %d frames written, in order", n, len(frames))
	}

	// Read: what the phone says comes out as the PCMU it sent.
	said := make([]int16, 20*media.SamplesPerPacket)
	for i := range said {
		said[i] = int16(5000 * math.Sin(2*math.Pi*700*float64(i)/media.SampleRate))
	}
	wantBytes := make([]byte, len(said))
	media.PCMU.Encode(wantBytes, said)
	type result struct {
		got     []byte
		stamps  []uint32
		badCode bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for len(r.got) < len(wantBytes) {
			f, err := leg.ReadFrame(ctx)
			if err != nil {
				r.err = err
				break
			}
			if len(r.got) == 0 && !slices.ContainsFunc(f.Payload, func(b byte) bool { return b != media.PCMU.Silence() }) {
				continue // comfort silence before the speech
			}
			r.badCode = r.badCode || f.Codec != media.PCMU
			r.got = append(r.got, f.Payload...)
			r.stamps = append(r.stamps, f.Timestamp)
		}
		done <- r
	}()
	if err := c.Say(ctx, said); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("read: %v", r.err)
	}
	if r.badCode {
		t.Error("frames read are not all PCMU")
	}
	if string(r.got[:len(wantBytes)]) != string(wantBytes) {
		t.Errorf("read %x…, want the phone's %x…", r.got[:16], wantBytes[:16])
	}
	for i := 1; i < len(r.stamps); i++ {
		if d := r.stamps[i] - r.stamps[i-1]; d != media.SamplesPerPacket {
			t.Fatalf("timestamps %d then %d: want 20 ms apart", r.stamps[i-1], r.stamps[i])
		}
	}

	// Pushed (a Room's fast path): the same speech comes to the callback,
	// on the receive goroutine, and nothing is queued for ReadFrame.
	pushed := make(chan []byte, 200)
	unpush := leg.(media.Pusher).Push(func(f media.Frame) {
		if f.Codec == media.PCMU {
			pushed <- bytes.Clone(f.Payload)
		}
	})
	if err := c.Say(ctx, said); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < len(wantBytes) {
		select {
		case p := <-pushed:
			if len(got) > 0 || slices.ContainsFunc(p, func(b byte) bool { return b != media.PCMU.Silence() }) {
				got = append(got, p...)
			}
		case <-ctx.Done():
			t.Fatalf("pushed %d of %d bytes of speech", len(got), len(wantBytes))
		}
	}
	unpush()
	if string(got[:len(wantBytes)]) != string(wantBytes) {
		t.Errorf("pushed %x…, want the phone's %x…", got[:16], wantBytes[:16])
	}

	// A bad frame is refused; after the hangup the leg is over.
	if err := leg.WriteFrame(ctx, media.Frame{Codec: media.PCMU, Payload: make([]byte, 80)}); !errors.Is(err, media.ErrFrame) {
		t.Errorf("write a 10 ms frame: %v, want ErrFrame", err)
	}
	e.hangUp(ctx, c)
	select {
	case <-leg.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the leg is not done after the hangup")
	}
	for {
		if _, err := leg.ReadFrame(ctx); err != nil {
			if !errors.Is(err, media.ErrEnded) {
				t.Errorf("read after the hangup: %v, want ErrEnded", err)
			}
			break
		}
	}
	if err := leg.WriteFrame(ctx, media.Frame{Codec: media.PCMU, Payload: frames[0]}); !errors.Is(err, media.ErrEnded) {
		t.Errorf("write after the hangup: %v, want ErrEnded", err)
	}
}

// indexOf is where sub starts in s, or -1.
func indexOf(s, sub []int16) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if slices.Equal(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}
