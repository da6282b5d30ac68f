//go:build linux

package sipua_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr/ivrtest"
	"github.com/canvass/canvass/ivr/sipua/sipuatest"
	"github.com/canvass/canvass/survey"
)

// The load generator's lean phone (SharedMedia: calls share sockets, each
// on a loopback address of its own) takes whole surveys through the
// endpoint side by side, on one of the endpoint's shared ports: every
// caller hears its own prompts and its keys reach its own interview.
func TestSharedMediaPhone(t *testing.T) {
	t.Parallel()
	e := start(t, testOptions(), nil)
	phone, err := sipuatest.NewPhone(sipuatest.PhoneOptions{Log: testLog(t).With("side", "lean phone"), SharedMedia: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	const calls = 5
	addrs := make(chan string, calls)
	t.Run("calls", func(t *testing.T) {
		for i := range calls {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				c, err := phone.Dial(ctx, e.uri("post-call"), sipuatest.DialOptions{
					From: fmt.Sprintf("+1555000000%d", i), Headers: map[string]string{"X-Canvass-Language": "en"}})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				addrs <- c.LocalRTP().String()
				if ip := c.LocalRTP().Addr().As4(); ip[0] != 127 || ip[1] == 0 {
					t.Errorf("call %d sends from %v, want an address of its own in 127.1.0.0/16", i, c.LocalRTP())
				}
				r := newRespondent(t, ctx, c)
				r.prompt()                          // intro
				r.answer(fmt.Sprintf("%d#", 7+i%3)) // one digit (a late "0" of "10" could be cut off), 7 or more (no voice comment)
				r.answer(fmt.Sprint(1 + i%5))
				r.answer(fmt.Sprint(1 + i%7))
				r.answer("1")
				waitDone(t, c, 10*time.Second)
				if st := c.Stats(); st.PacketsIn < 50 {
					t.Errorf("call %d heard only %d RTP packets", i, st.PacketsIn)
				}
			})
		}
	})
	close(addrs)
	if m := gather(t, e.srv.Collector()); m["canvass_sip_answer_seconds"] != calls {
		t.Errorf("canvass_sip_answer_seconds counts %v calls answered, want %d", m["canvass_sip_answer_seconds"], calls)
	}
	seen := map[string]bool{}
	for a := range addrs {
		if seen[a] {
			t.Errorf("two calls on %s", a)
		}
		seen[a] = true
	}
	for range calls {
		iv := e.store.WaitFinished(t, 5*time.Second)
		var i int
		if _, err := fmt.Sscanf(iv.Context.CallerNumber, "+1555000000%d", &i); err != nil {
			t.Fatalf("caller %q", iv.Context.CallerNumber)
		}
		want := map[string]any{"nps": int64(7 + i%3), "csat": int64(1 + i%5), "ces": int64(1 + i%7), "resolved": true}
		got := ivrtest.Values(iv)
		if iv.Status != survey.StatusComplete {
			t.Errorf("caller %d: interview %s (%s)", i, iv.Status, iv.EndCause)
		}
		for q, v := range want {
			if got[q] != v {
				t.Errorf("caller %d: %s = %v, want %v (all: %v)", i, q, got[q], v, got)
			}
		}
	}
}
