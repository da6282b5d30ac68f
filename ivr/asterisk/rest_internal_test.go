package asterisk

// The keep-alive race seen on Asterisk 22.10.1: it closes a connection idle
// for session_keep_alive (15 s); a client that keeps idle connections longer
// sends its next request on one as it closes, gets EOF, and net/http does
// not send a POST again. Here the stand-in closes idle connections after a
// short keep-alive and holds each close until the next request arrives on
// the connection, so the two always cross.

import (
	"context"
	"errors"
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

// Found against Asterisk 22.10.1 at 1,000 calls: answers took longer than
// the request timeout, and each request given up on kept its HTTP session
// busy in Asterisk while the client opened another connection, until
// Asterisk refused sessions past its sessionlimit. A request given up on
// keeps its connection until Asterisk answers, so the client never holds
// more than MaxConnections sessions; one that was never sent is not sent
// after its caller gave up.
func TestGivenUpRequestsKeepTheirConnections(t *testing.T) {
	srv := aritest.New(nil)
	t.Cleanup(srv.Close)
	const slow = 300 * time.Millisecond
	srv.Delay(http.MethodPost, "/events/user/", slow, 1000)
	o := DefaultOptions()
	o.URL, o.Username, o.Password = srv.URL, srv.User, srv.Pass
	o.MaxConnections, o.RequestTimeout = 4, slow/3
	r := newREST(o)
	t.Cleanup(r.hc.CloseIdleConnections)
	heartbeat := func(ctx context.Context) error {
		_, err := r.raw(ctx, http.MethodPost, "/events/user/canvass-heartbeat", url.Values{"application": {"canvass"}}, nil)
		return err
	}

	errs := make(chan error, 16)
	for range cap(errs) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), o.RequestTimeout)
			defer cancel()
			errs <- heartbeat(ctx)
		}()
	}
	for range cap(errs) {
		if err := <-errs; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a request to a slow Asterisk: %v, want its deadline exceeded", err)
		}
	}
	// The next request waits for a connection whose answer came.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	st := srv.Conns()
	if st.Accepted > o.MaxConnections {
		t.Errorf("the client opened %d connections, at most %d allowed (%+v)", st.Accepted, o.MaxConnections, st)
	}
	var taken int
	for _, req := range srv.Requests() {
		if strings.HasPrefix(req.Path, "/events/user/") {
			taken++
		}
	}
	if taken > o.MaxConnections+1 {
		t.Errorf("Asterisk took %d requests: the ones never sent before their caller gave up must stay unsent", taken)
	}
}
