package asterisk

// This file is the handful of ARI REST calls the adapter makes, over
// net/http with the models of github.com/CyCoreSystems/ari/v5.
//
// Why not ari/v5's client/native for REST: its Client keeps an unexported
// http.Client on http.DefaultTransport (two idle connections per host, no
// way to give it our own transport short of mutating the process-wide
// default), no request takes a context or deadline (a stalled Asterisk
// blocks a call goroutine forever), an error body that is not the expected
// JSON hides the status code behind a decode error, and New reads ARI_*
// variables behind our configuration's back. Eleven requests over net/http
// are shorter than the workarounds.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Error is a refusal from ARI: the request and the status and message
// Asterisk answered with.
type Error struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("ARI %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	switch e.Status {
	case http.StatusUnauthorized:
		msg += " (check ari.username and CANVASS_ARI_PASSWORD against ari.conf)"
	case http.StatusForbidden:
		msg += " (the ari.conf user is read_only?)"
	}
	return msg
}

// isNotFound reports a 404: the channel, playback or recording is gone —
// a normal race on a live phone system, not a failure.
func isNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// rest calls ARI.
type rest struct {
	base       string // the ARI root, without a trailing slash
	user, pass string
	hc         *http.Client
	timeout    time.Duration
	replay     bool // mark replayable requests (false only in the benchmark's "before")
}

func newREST(o Options) *rest {
	// Our own transport: at most Options.MaxConnections connections, each
	// kept for the next request until Options.IdleTimeout (below
	// Asterisk's keep-alive), so that under load requests queue here for a
	// warm connection for a few milliseconds, instead of opening new ones
	// that Asterisk refuses past its sessionlimit or leaves in its listen
	// backlog (a dropped SYN is sent again 1 s, then 3 s later). Bounded
	// dials and handshakes; no proxy: Asterisk is on the PBX's own network.
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxConnsPerHost:       o.MaxConnections,
		MaxIdleConns:          o.MaxConnections,
		MaxIdleConnsPerHost:   o.MaxConnections,
		IdleConnTimeout:       o.IdleTimeout,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ExpectContinueTimeout: time.Second,
	}
	return &rest{base: strings.TrimRight(o.URL, "/"), user: o.Username, pass: o.Password,
		hc: &http.Client{Transport: tr}, timeout: o.RequestTimeout, replay: true}
}

// answerWait bounds, in request timeouts, how long a request's connection
// waits for Asterisk's answer once the caller has given up on it.
//
// Asterisk carries out a request it has read whether or not the client
// still waits, and its HTTP session stays busy until it has (an answer
// waits for the channel's own thread). A client that closed the connection
// at its timeout would free nothing in Asterisk but open another
// connection for the next request: under a slow Asterisk (1,000 calls on
// two busy cores) sessions piled up past Asterisk's sessionlimit and every
// request was refused. So the caller stops waiting at its deadline, but
// the connection waits on for the answer and then serves the next
// request: Canvass never holds more than ari.max_connections sessions.
const answerWait = 12

// replayable reports whether a request may be sent again when Asterisk
// closed the connection it went out on before answering (its
// session_keep_alive ran out as the request arrived: it never read it).
// Every request Canvass makes names what it acts on with an id of ours
// (playbackId, channelId, bridgeId, a recording's name) or is harmless
// twice (answer, hang up, stop, a heartbeat), except DTMF: keys would be
// sent twice.
func replayable(method, path string) bool {
	return !(method == http.MethodPost && strings.HasSuffix(path, "/dtmf"))
}

// do sends one request: query parameters in q, an optional JSON body, and
// the JSON answer decoded into out when out is not nil.
func (r *rest) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	data, err := r.raw(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("ARI %s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// download fetches a binary resource (a stored recording's audio).
func (r *rest) download(ctx context.Context, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*r.timeout)
	defer cancel()
	return r.raw(ctx, http.MethodGet, path, nil, nil)
}

// raw sends a request and returns the body of a 2xx answer, or an *Error.
func (r *rest) raw(ctx context.Context, method, path string, q url.Values, body any) ([]byte, error) {
	u := r.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("ARI %s %s: encode body: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	// A request sent outlives ctx (answerWait); its caller does not. One
	// not sent yet when ctx ends (waiting for a connection) never is.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), answerWait*r.timeout)
	var sent atomic.Bool
	rctx = httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { sent.Store(true) }})
	req, err := http.NewRequestWithContext(rctx, method, u, rd)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("ARI %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(r.user, r.pass)
	if r.replay && replayable(method, path) {
		// net/http replays a request marked idempotent, once per stale
		// pooled connection, when the server closed a reused connection
		// before answering; a nil value marks it without sending the
		// header. (It replays GET by itself, never a POST or DELETE.)
		req.Header["Idempotency-Key"] = nil
	}
	type answer struct {
		data []byte
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		defer cancel()
		data, err := r.send(req, method, path)
		got <- answer{data, err}
	}()
	select {
	case a := <-got:
		return a.data, a.err
	case <-ctx.Done():
		if !sent.Load() {
			cancel()
			return nil, fmt.Errorf("ARI %s %s: %w", method, path, ctx.Err())
		}
		return nil, fmt.Errorf("ARI %s %s: %w (sent: Asterisk carries it out all the same)", method, path, ctx.Err())
	}
}

// send sends req and returns the body of a 2xx answer, or an *Error.
func (r *rest) send(req *http.Request, method, path string) ([]byte, error) {
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ARI %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	// Recordings are the largest answers: a few MB at most.
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("ARI %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Method: method, Path: path, Status: resp.StatusCode}
		var m struct {
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		if json.Unmarshal(data, &m) == nil {
			e.Message = m.Message + m.Error
		} else if len(data) > 0 && len(data) < 200 {
			e.Message = strings.TrimSpace(string(data))
		}
		return nil, e
	}
	return data, nil
}

// esc escapes an id for a URL path segment.
func esc(id string) string { return url.PathEscape(id) }
