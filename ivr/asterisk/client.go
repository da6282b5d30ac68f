package asterisk

// This file is the Client: the Stasis application's connection to
// Asterisk. Run owns the events WebSocket (gorilla/websocket) — connect
// under a deadline, read every frame, hand each event to its call's queue
// without ever blocking, reconnect with backoff, detect a dead socket with a
// heartbeat, and reconcile live calls after a reconnect.
//
// Reconnect and reconcile: Asterisk does not replay events missed while the
// socket was down. After a reconnect the Client lists the channels
// (GET /channels): a call whose channel is gone is ended as a hangup (the
// engine closes its interview as partial, cause hangup); a live call goes on
// at its current question. Its in-flight prompt is looked up
// (GET /playbacks/{id}); one that ended unheard is treated as finished, so
// the gather's timers run as if the event had come. Keys pressed while the
// socket was down are lost: that gather ends as a no-input and the engine
// reprompts the same question — the caller answers again, nothing stored is
// touched. A recording that ended unheard is stopped and fetched as usual.
// A dial whose channel vanished unheard is reported as failed with
// cause 0.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/gorilla/websocket"

	"github.com/canvass/canvass/ivr"
)

// Sessions prepares calls for the IVR engine; *ivr.Engine satisfies it.
type Sessions interface {
	Prepare(ctx context.Context, info ivr.CallInfo) (*ivr.Session, error)
}

// PromptFiles finds the audio of a prompt: the absolute path of an 8 kHz
// mono WAV file (with its .wav extension). prompts.Catalog satisfies it.
type PromptFiles interface {
	File(ctx context.Context, questionnaire, id, lang, text string) (string, error)
}

// Recordings says where a voice answer's audio is kept.
type Recordings interface {
	RecordingPath(name string) (string, error)
}

// ErrNotConnected is returned by Dial while the events WebSocket is
// down: the outcome of a call could not be followed.
var ErrNotConnected = errors.New("not connected to Asterisk ARI")

// Client is a Stasis application on one Asterisk.
type Client struct {
	opts       Options
	sessions   Sessions
	gate       Gate // nil: ari.sample_share alone decides
	prompts    PromptFiles
	recordings Recordings
	server     *PromptServer
	log        *slog.Logger
	rest       *rest
	mediaAddr  netip.Addr // opts.MediaAddress

	serialSetup bool // answer only once the session is prepared, as before issue 13 (the setup benchmark's "before")

	calls sync.WaitGroup // call goroutines, waited for by Run

	mu        sync.Mutex
	live      map[string]*call // answered channels in the app, by channel id
	dials     map[string]*dial // originated channels not yet answered or failed
	media     map[string]*leg  // legs by externalMedia channel id
	connected bool
	ignored   map[string]bool // event types already logged as skipped
	running   bool
}

// New returns a Client for opts (which must validate). server may be nil in
// "dir" prompt mode; in "http" mode it is the handler mounted at
// opts.PromptBaseURL.
func New(opts Options, sessions Sessions, prompts PromptFiles, recordings Recordings, server *PromptServer, log *slog.Logger) (*Client, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if !opts.Enabled() {
		return nil, errors.New("ari.url: not set; the Asterisk adapter is disabled")
	}
	if opts.PromptMode == PromptHTTP && server == nil {
		return nil, errors.New("ari.prompt_mode: http needs a PromptServer mounted at ari.prompt_base_url")
	}
	if sessions == nil || prompts == nil || recordings == nil || log == nil {
		return nil, errors.New("asterisk.New: sessions, prompts, recordings and log are required")
	}
	return &Client{opts: opts, sessions: sessions, prompts: prompts, recordings: recordings, server: server,
		log: log.With("component", "ari", "app", opts.App), rest: newREST(opts),
		mediaAddr: netip.MustParseAddr(opts.MediaAddress),
		live:      map[string]*call{}, dials: map[string]*dial{}, media: map[string]*leg{}, ignored: map[string]bool{}}, nil
}

// Run connects to Asterisk and serves the Stasis application until ctx
// ends, reconnecting with backoff whenever the events WebSocket fails. It
// then waits for the calls in progress to close their interviews.
func (c *Client) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("asterisk: Run called twice")
	}
	c.running = true
	c.mu.Unlock()
	defer c.calls.Wait()

	backoff, first := c.opts.Backoff, true
	for ctx.Err() == nil {
		conn, err := c.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			c.log.Error("cannot reach Asterisk ARI; retrying", "err", err, "retry_in", backoff)
			if !sleep(ctx, backoff) {
				break
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		if first {
			c.log.Info("connected to Asterisk ARI", "url", c.opts.URL)
			c.calls.Add(1)
			go func() { defer c.calls.Done(); c.hangUpOrphans(ctx) }()
		} else {
			// Reconcile before reading again, so no call starts while the
			// list of channels is being compared with ours.
			c.log.Info("reconnected to Asterisk ARI; reconciling calls")
			if err := c.reconcile(ctx); err != nil {
				if cerr := conn.Close(); cerr != nil {
					c.log.Debug("close events WebSocket", "err", cerr)
				}
				c.log.Error("cannot reconcile calls after reconnecting; retrying", "err", err, "retry_in", backoff)
				if !sleep(ctx, backoff) {
					break
				}
				backoff = min(2*backoff, 30*time.Second)
				continue
			}
		}
		first = false
		backoff = c.opts.Backoff
		c.setConnected(true)
		err = c.serve(ctx, conn)
		c.setConnected(false)
		if ctx.Err() != nil {
			break
		}
		c.log.Warn("ARI events WebSocket lost; reconnecting", "err", err, "retry_in", backoff)
		if !sleep(ctx, backoff) {
			break
		}
	}
	return nil
}

// Connected reports whether the events WebSocket is up (for health checks;
// Dial refuses to place calls while it is down).
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected
}

func (c *Client) setConnected(up bool) {
	c.mu.Lock()
	c.connected = up
	c.mu.Unlock()
}

// sleep waits d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// eventsURL is the events WebSocket of the ARI at base, for app.
func eventsURL(base, app string) (string, error) {
	u, err := url.Parse(strings.TrimRight(base, "/") + "/events")
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	// subscribeAll=false: only our channels' events, not the whole PBX.
	u.RawQuery = url.Values{"app": {app}, "subscribeAll": {"false"}}.Encode()
	return u.String(), nil
}

// dial opens the events WebSocket under opts.ConnectTimeout. Credentials go
// in a Basic Authorization header (Asterisk also takes api_key=user:pass,
// which would put the password in URLs and logs).
func (c *Client) dial(ctx context.Context) (*websocket.Conn, error) {
	u, err := eventsURL(c.opts.URL, c.opts.App)
	if err != nil {
		return nil, fmt.Errorf("events URL: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.ConnectTimeout)
	defer cancel()
	d := websocket.Dialer{HandshakeTimeout: c.opts.ConnectTimeout}
	h := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(c.opts.Username+":"+c.opts.Password))}}
	conn, resp, err := d.DialContext(ctx, u, h)
	if err != nil {
		if resp != nil {
			e := &Error{Method: http.MethodGet, Path: "/events", Status: resp.StatusCode}
			return nil, fmt.Errorf("open events WebSocket: %w", e)
		}
		return nil, fmt.Errorf("open events WebSocket: %w", err)
	}
	conn.SetReadLimit(4 << 20)
	return conn, nil
}

// serve reads events until the socket fails, nothing (not even our own
// heartbeat) arrives for three heartbeats, or ctx ends.
func (c *Client) serve(ctx context.Context, conn *websocket.Conn) error {
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(2)
	go func() {
		defer wg.Done()
		<-sctx.Done()
		if err := conn.Close(); err != nil {
			c.log.Debug("close events WebSocket", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		c.heartbeat(sctx)
	}()
	for {
		if err := conn.SetReadDeadline(time.Now().Add(3 * c.opts.Heartbeat)); err != nil {
			return fmt.Errorf("set read deadline: %w", err)
		}
		typ, data, err := conn.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read events: %w", err)
		}
		if typ != websocket.TextMessage {
			c.log.Warn("skipping a non-text ARI frame", "frame_type", typ, "bytes", len(data))
			continue
		}
		c.dispatch(ctx, data)
	}
}

// heartbeat sends a user event round Asterisk every opts.Heartbeat; its
// arrival on the socket keeps the read deadline moving. (Asterisk also
// answers WebSocket pings, but a user event proves the whole path: REST,
// Stasis and delivery to this application.)
func (c *Client) heartbeat(ctx context.Context) {
	t := time.NewTicker(c.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := c.rest.do(ctx, http.MethodPost, "/events/user/canvass-heartbeat",
			url.Values{"application": {c.opts.App}}, nil, nil)
		if err != nil && ctx.Err() == nil {
			c.log.Warn("ARI heartbeat failed", "err", err)
		}
	}
}

// dispatch routes one frame. It never blocks: StasisStart starts a
// goroutine, every other event goes to its call's bounded queue.
func (c *Client) dispatch(ctx context.Context, data []byte) {
	defer func() {
		// decodeEvent is fuzzed not to panic; this is the last line of
		// defence for the process, not a code path.
		if r := recover(); r != nil {
			c.log.Error("ARI frame crashed the decoder; skipped", "panic", r, "frame", clip(data))
		}
	}()
	read := time.Now()
	ev, err := decodeEvent(data)
	if errors.Is(err, errIgnored) {
		c.mu.Lock()
		first := !c.ignored[ev.Type] && len(c.ignored) < 200
		if first {
			c.ignored[ev.Type] = true
		}
		c.mu.Unlock()
		if first {
			c.log.Info("skipping ARI events of a type Canvass does not use (logged once per type)", "type", ev.Type, "why", err)
		} else {
			c.log.Debug("skipping ARI event", "type", ev.Type, "why", err)
		}
		return
	}
	if err != nil {
		c.log.Warn("skipping a malformed ARI frame", "err", err, "frame", clip(data))
		return
	}
	switch ev.Type {
	case "ChannelUserevent":
		return // the heartbeat: reading it moved the deadline
	case "StasisStart":
		c.stasisStart(ctx, ev, read)
		return
	}
	if ev.Channel == "" {
		return
	}
	c.mu.Lock()
	cl, d, l := c.live[ev.Channel], c.dials[ev.Channel], c.media[ev.Channel]
	c.mu.Unlock()
	if d != nil {
		d.event(ev)
	}
	if l != nil {
		l.event(ev)
	}
	if cl != nil {
		cl.enqueue(ev)
	}
}

// clip shortens a frame for a log line.
func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// stasisStart takes a channel entering the application: an originated call
// that answered, or an inbound call. read is when its frame was read.
func (c *Client) stasisStart(ctx context.Context, ev event, read time.Time) {
	if ev.Channel == "" {
		c.log.Warn("skipping a StasisStart without a channel id")
		return
	}
	if strings.HasPrefix(ev.Channel, mediaPrefix) {
		c.mediaStart(ctx, ev.Channel)
		return
	}
	c.mu.Lock()
	if _, dup := c.live[ev.Channel]; dup {
		c.mu.Unlock()
		return
	}
	d := c.dials[ev.Channel]
	if d != nil && d.detecting(ev) {
		c.mu.Unlock()
		return
	}
	info := callInfo(ev)
	log := c.log.With("call_id", info.Context.CallID, "channel", ev.Channel)
	cl := newCall(c, ev.Channel, log)
	c.live[ev.Channel] = cl
	c.calls.Add(1)
	c.mu.Unlock()
	if d != nil && d.answered(cl) {
		return
	}
	go c.inbound(ctx, cl, info, setup{created: ev.Created, sent: ev.Sent, read: read})
}

// mediaStart takes a leg's externalMedia channel entering the application:
// it is no call. One no leg owns (a leg that gave up, or a previous
// process's) is hung up.
func (c *Client) mediaStart(ctx context.Context, id string) {
	c.mu.Lock()
	l := c.media[id]
	c.mu.Unlock()
	if l != nil {
		l.log.Debug("externalMedia channel entered the application")
		l.inApp()
		return
	}
	c.log.Warn("hanging up an externalMedia channel no leg owns", "channel", id)
	c.calls.Add(1)
	go func() {
		defer c.calls.Done()
		err := c.rest.do(context.WithoutCancel(ctx), http.MethodDelete, "/channels/"+esc(id), nil, nil, nil)
		if err != nil && !isNotFound(err) {
			c.log.Warn("hang up an externalMedia channel", "channel", id, "err", err)
		}
	}()
}

// end forgets a finished call.
func (c *Client) end(cl *call) {
	c.mu.Lock()
	if c.live[cl.id] == cl {
		delete(c.live, cl.id)
	}
	c.mu.Unlock()
	cl.close()
	c.calls.Done()
}

// reconcile brings calls in line with Asterisk after a reconnect.
func (c *Client) reconcile(ctx context.Context) error {
	var chans []ari.ChannelData
	if err := c.rest.do(ctx, http.MethodGet, "/channels", nil, nil, &chans); err != nil {
		return fmt.Errorf("list channels: %w", err)
	}
	exists := map[string]bool{}
	for _, ch := range chans {
		exists[ch.ID] = true
	}
	c.mu.Lock()
	var calls []*call
	for _, cl := range c.live {
		calls = append(calls, cl)
	}
	var dials []*dial
	for _, d := range c.dials {
		dials = append(dials, d)
	}
	var legs []*leg
	for _, l := range c.media {
		legs = append(legs, l)
	}
	c.mu.Unlock()
	for _, cl := range calls {
		if !exists[cl.id] {
			cl.log.Info("the channel ended while the events socket was down")
			cl.hungUp(0, "channel gone after reconnect")
			continue
		}
		cl.resync(ctx)
	}
	for _, l := range legs {
		l.mu.Lock()
		gone := l.created && !exists[l.id]
		l.mu.Unlock()
		if gone {
			l.end("externalMedia channel gone after reconnect")
		}
	}
	for _, d := range dials {
		if !exists[d.id] {
			d.event(event{Type: "ChannelDestroyed", Channel: d.id, CauseText: "channel gone after reconnect"})
		}
	}
	return nil
}

// orphanGrace is how long a channel in our application must stay unknown
// before hangUpOrphans takes it for a previous process's: a StasisStart on
// its way when the channels were listed is seen well within it.
const orphanGrace = 2 * time.Second

// hangUpOrphans hangs up the callers a previous Canvass process left in the
// application (it crashed or was killed mid-survey): Asterisk keeps them
// there, in silence, until they hang up themselves. Their interviews keep
// every stored answer and are closed as lost (ivr.Engine.CloseLost). Only
// inbound channels can be told apart (Stasis(app,…) in their dialplan
// location); an orphaned originate stays until the callee hangs up.
func (c *Client) hangUpOrphans(ctx context.Context) {
	var chans []struct {
		ID       string `json:"id"`
		Dialplan struct {
			AppName string `json:"app_name"`
			AppData string `json:"app_data"`
		} `json:"dialplan"`
	}
	if err := c.rest.do(ctx, http.MethodGet, "/channels", nil, nil, &chans); err != nil {
		c.log.Warn("cannot list channels to find callers a previous process left in the application", "err", err)
		return
	}
	var suspects []string
	for _, ch := range chans {
		app, _, _ := strings.Cut(ch.Dialplan.AppData, ",")
		if strings.EqualFold(ch.Dialplan.AppName, "Stasis") && strings.TrimSpace(app) == c.opts.App && !c.known(ch.ID) {
			suspects = append(suspects, ch.ID)
		}
	}
	if len(suspects) == 0 || !sleep(ctx, orphanGrace) {
		return
	}
	hungUp := 0
	for _, id := range suspects {
		if c.known(id) {
			continue // its StasisStart was on its way
		}
		c.log.Warn("hanging up a caller a previous Canvass process left in the application", "channel", id)
		err := c.rest.do(ctx, http.MethodDelete, "/channels/"+url.PathEscape(id), url.Values{"reason_code": {"16"}}, nil, nil)
		if err != nil && !isNotFound(err) {
			c.log.Warn("hang up a left-over channel", "channel", id, "err", err)
			continue
		}
		hungUp++
	}
	c.log.Info("done with the callers a previous Canvass process left", "hung_up", hungUp, "suspected", len(suspects))
}

// known reports whether a channel is one of this process's calls or dials.
func (c *Client) known(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, live := c.live[id]
	_, dialing := c.dials[id]
	_, leg := c.media[id]
	return live || dialing || leg
}
