package asterisk

// The keep-alive race seen on Asterisk 22.10.1: it closes a connection idle
// for session_keep_alive (15 s); a client that keeps idle connections longer
// sends its next request on one as it closes, gets EOF, and net/http does
// not send a POST again. Here the stand-in closes idle connections after a
// short keep-alive and holds each close until the next request arrives on
// the connection, so the two always cross.

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/ivr/asterisk/aritest"
)

func TestKeepAliveRace(t *testing.T) {
	const keepAlive = 150 * time.Millisecond
	for _, tc := range []struct {
		name      string
		idle      time.Duration // the client's idle timeout
		path      string
		q         url.Values
		wantErr   bool
		wantCross int
	}{
		// The default setup: the client drops its idle connection first,
		// so no request ever meets Asterisk's close.
		{"idle timeout below keep-alive", keepAlive / 10, "/channels/{id}/play",
			url.Values{"media": {"sound:/p/intro"}, "playbackId": {"{id}-pb2"}}, false, 0},
		// An Asterisk with a shorter keep-alive than ours: the request
		// meets the close and is sent again, once, on a new connection.
		{"idle timeout above keep-alive", time.Minute, "/channels/{id}/play",
			url.Values{"media": {"sound:/p/intro"}, "playbackId": {"{id}-pb2"}}, false, 1},
		{"heartbeat above keep-alive", time.Minute, "/events/user/canvass-heartbeat",
			url.Values{"application": {"canvass"}}, false, 1},
		// Keys are never sent twice: that request fails instead.
		{"DTMF is not sent again", time.Minute, "/channels/{id}/dtmf",
			url.Values{"dtmf": {"5"}}, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := aritest.New(nil)
			t.Cleanup(srv.Close)
			if err := srv.SetHTTP(aritest.HTTP{KeepAlive: keepAlive, CrossClose: true}); err != nil {
				t.Fatal(err)
			}
			o := DefaultOptions()
			o.URL, o.Username, o.Password = srv.URL, srv.User, srv.Pass
			o.IdleTimeout = tc.idle
			r := newREST(o)
			t.Cleanup(r.hc.CloseIdleConnections)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			id := srv.Call("+33612345678", "questionnaire=post-call")
			path := strings.ReplaceAll(tc.path, "{id}", id)
			q := url.Values{}
			for k, v := range tc.q {
				q.Set(k, strings.ReplaceAll(v[0], "{id}", id))
			}

			// A first request opens the connection.
			if err := r.do(ctx, http.MethodPost, "/events/user/canvass-heartbeat", url.Values{"application": {"canvass"}}, nil, nil); err != nil {
				t.Fatal(err)
			}
			first := len(srv.Requests())
			// Wait until Asterisk would have closed it: the client closed
			// it first, or its keep-alive ran out.
			if _, err := srv.AwaitConns(ctx, func(st aritest.ConnStats) bool { return st.Open == 0 || st.Expired == 1 }); err != nil {
				t.Fatal(err)
			}
			err := r.do(ctx, http.MethodPost, path, q, nil, nil)
			if (err != nil) != tc.wantErr {
				t.Fatalf("second request: %v, want error %v", err, tc.wantErr)
			}
			if st := srv.Conns(); st.Crossed != tc.wantCross {
				t.Errorf("requests that met Asterisk's close: %d, want %d (%+v)", st.Crossed, tc.wantCross, st)
			}
			var sent int
			for _, req := range srv.Requests()[first:] {
				if req.Path == path {
					sent++
				}
			}
			if want := map[bool]int{false: 1, true: 0}[tc.wantErr]; sent != want {
				t.Errorf("Asterisk took %s %d times, want %d", path, sent, want)
			}
		})
	}
}

func TestDefaultIdleTimeoutBelowAsteriskKeepAlive(t *testing.T) {
	// Asterisk's http.conf session_keep_alive defaults to 15 s.
	if d := DefaultOptions().IdleTimeout; d <= 0 || d >= 15*time.Second {
		t.Errorf("default idle timeout %s: must be below Asterisk's 15 s keep-alive", d)
	}
}
