package cati

// Unit tests of the protocol decoder (plus its fuzz target), calling
// windows across DST, respondent-local appointment times, and the floor
// refresher's pacing under testing/synctest.

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/canvass/canvass/survey"
)

func TestDecodeEnvelope(t *testing.T) {
	tests := []struct {
		in   string
		typ  string
		want string // "" = valid; else part of the error message
	}{
		{`{"v":1,"type":"ping","id":"1"}`, "ping", ""},
		{`{"v":1,"type":"next_case","id":"1","data":null}`, "next_case", ""},
		{`{"v":1,"type":"answer","id":"1","data":{"case_id":3,"question":"nps","value":9}}`, "answer", ""},
		{`{"v":1,"type":"wrap_up","data":{"case_id":3,"appointment":"2026-01-13T18:30"}}`, "wrap_up", ""},
		{`{"v":1,"type":"wrap_up","data":{"case_id":3,"code":"1.1","appointment":"2026-01-13T18:30"}}`, "", "either a disposition code or an appointment"},
		{`{"v":1,"type":"answer","data":{"case_id":0,"question":"nps"}}`, "", "case_id must be a positive id"},
		{`{"v":1,"type":"answer","data":{"case_id":1,"question":""}}`, "", "question is required"},
		{`{"v":1,"type":"dial","data":{"case_id":1,"x":1}}`, "", "unknown field"},
		{`{"v":1,"type":"dial","data":[1]}`, "", "bad data"},
		{`{"v":1,"type":"nope"}`, "", "unknown message type"},
		{`{"v":0,"type":"ping"}`, "", "version 0 is not supported"},
		{`{"v":1,"type":"ping"} {"v":1}`, "", "one JSON envelope"},
		{`{"v":1,"type":"ping","id":"` + strings.Repeat("x", 65) + `"}`, "", "id is longer"},
		{`[]`, "", "not a JSON envelope"},
		{"\xff", "", "not UTF-8"},
		{`{"v":1,"type":"wrap_up","data":{"case_id":3,"code":"2.11","note":"rude\u0000"}}`, "", "NUL character"},
		{`{"v":1,"type":"wrap_up","data":{"case_id":3,"code":"2.11","note":"a backslash: \\u0000"}}`, "wrap_up", ""},
	}
	for _, tt := range tests {
		env, req, err := decodeEnvelope([]byte(tt.in))
		if tt.want == "" {
			if err != nil || req == nil || env.Type != tt.typ {
				t.Errorf("%s: %v", tt.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(survey.ErrorMessage(err), tt.want) || survey.ErrorCodeOf(err) != survey.EInvalid {
			t.Errorf("%s: error %v, want %q", tt.in, err, tt.want)
		}
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"type":"answer","id":"1","data":{"case_id":3,"question":"nps","value":9}}`,
		`{"v":1,"type":"wrap_up","data":{"case_id":3,"code":"2.36","note":"x"}}`,
		`{"v":1,"type":"reassign","data":{"case_id":1,"to":"ivy"}}`,
		`{"v":1,"type":"ping"}`, `{}`, `null`, `{"v":1,"type":"dial","data":{"case_id":1e400}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		env, req, err := decodeEnvelope(b)
		if err != nil {
			if survey.ErrorCodeOf(err) != survey.EInvalid {
				t.Fatalf("error without a user-facing code: %v", err)
			}
			return
		}
		if _, ok := clientTypes[env.Type]; !ok || env.V != protocolVersion || req.validate() != nil {
			t.Fatalf("accepted %q as %+v", b, env)
		}
		if _, err := encode("error", env.ID, errorData{Code: survey.EInvalid, Message: "x"}); err != nil {
			t.Fatalf("reply to %q: %v", b, err)
		}
	})
}

// countingFloor is a FloorStore counting reads.
type countingFloor struct {
	FloorStore
	reads atomic.Int32
}

func (c *countingFloor) Floor(ctx context.Context, now time.Time) (survey.Floor, error) {
	c.reads.Add(1)
	return survey.Floor{At: now}, nil
}

func TestFloorRefreshIsPaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fl := &countingFloor{}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		s := &Server{log: log, now: time.Now}
		s.console = &console{Console: Console{Floor: fl}, hub: newHub(log)}
		sup := &wsConn{user: survey.User{Role: survey.RoleSupervisor}, send: make(chan []byte, 64), done: make(chan struct{}), log: log}
		s.console.hub.add(sup)
		ctx, cancel := context.WithCancel(t.Context())
		go s.refreshFloor(ctx)
		for range 20 { // a burst of events
			s.console.hub.floorChanged()
		}
		synctest.Wait()
		if n := fl.reads.Load(); n != 1 {
			t.Fatalf("%d floor reads for a burst, want 1 at once", n)
		}
		time.Sleep(floorEvery / 2)
		s.console.hub.floorChanged() // during the pause: waits for it
		synctest.Wait()
		if n := fl.reads.Load(); n != 1 {
			t.Fatalf("%d floor reads within %s, want 1", n, floorEvery)
		}
		time.Sleep(floorEvery)
		synctest.Wait()
		if n := fl.reads.Load(); n != 2 {
			t.Fatalf("%d floor reads after the pause, want 2", n)
		}
		if len(sup.send) != 2 {
			t.Fatalf("supervisor got %d floors, want 2", len(sup.send))
		}
		var env envelope
		if err := json.Unmarshal(<-sup.send, &env); err != nil || env.Type != "floor" || env.V != 1 {
			t.Fatalf("message %+v, %v", env, err)
		}
		cancel()
		synctest.Wait()
	})
}

// TestSlowClientIsDropped: a client that stops reading fills its send
// buffer; the next message closes its connection instead of blocking the
// hub or growing without bound.
func TestSlowClientIsDropped(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	conns := make(chan *websocket.Conn, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		conns <- c
	}))
	defer hs.Close()
	client, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c := &wsConn{ws: <-conns, log: log, send: make(chan []byte, sendBuffer), done: make(chan struct{})}
	for range sendBuffer { // no writer is draining: the client "stopped reading"
		c.queue([]byte(`{}`))
	}
	c.queue([]byte(`{}`))
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		t.Fatal("a client whose buffer is full was not dropped")
	}
	if c.code != closeTooSlow {
		t.Fatalf("close code %d, want %d", c.code, closeTooSlow)
	}
	if _, _, err := client.ReadMessage(); !websocket.IsCloseError(err, closeTooSlow) {
		t.Fatalf("client saw %v, want close %d", err, closeTooSlow)
	}
}
