// Package aritest is a stand-in Asterisk for testing ARI clients: an
// httptest server with the REST endpoints the Canvass adapter uses and the
// events WebSocket, and real RTP on its externalMedia channels (media.go). It behaves as a recorded Asterisk 20.20.1 did
// (PlaybackStarted before the REST answer to a play, 404 for a playback
// that already ended or a channel that is gone, ChannelHangupRequest →
// RecordingFinished → StasisEnd → ChannelDestroyed on a hangup) and sends
// events cloned from captured ones (Templates) with ids and timestamps
// filled in. It logs every REST request it received, can be told to fail
// requests (Fail) or answer them late (Delay), to drop its WebSockets
// (Drop) or to send any frame (SendRaw). SetHTTP makes its HTTP side behave
// as Asterisk's does under load (http.go).
package aritest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Request is one REST request the server received, with its answer.
type Request struct {
	Method string
	Path   string // under /ari, e.g. /channels/1.1/play
	Query  url.Values
	Body   string
	Status int
	At     time.Time // when it took effect (answered, or about to be)
}

func (r Request) String() string {
	s := r.Method + " " + r.Path
	if len(r.Query) > 0 {
		s += "?" + r.Query.Encode()
	}
	return fmt.Sprintf("%s -> %d", s, r.Status)
}

// Templates reads captured ARI traffic, one JSON object a line as in
// shared/testdata/ari ({"dir":"event","msg":{…}} or {"dir":"rest",…}),
// and keeps the first event of each type as the shape to send.
func Templates(captures ...[]byte) (map[string]json.RawMessage, error) {
	t := map[string]json.RawMessage{}
	for _, c := range captures {
		sc := bufio.NewScanner(bytes.NewReader(c))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var line struct {
				Dir string          `json:"dir"`
				Msg json.RawMessage `json:"msg"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				return nil, fmt.Errorf("capture line %q: %w", sc.Text(), err)
			}
			if line.Dir != "event" {
				continue
			}
			var head struct{ Type string }
			if err := json.Unmarshal(line.Msg, &head); err != nil {
				return nil, err
			}
			if _, ok := t[head.Type]; !ok {
				t[head.Type] = line.Msg
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	// Shapes the captures lack, from Asterisk's rest-api/api-docs/events.json.
	for typ, shape := range map[string]string{
		"ChannelUserevent":     `{"type":"ChannelUserevent","application":"","asterisk_id":"02:fc:00:00:00:01","timestamp":"","eventname":"","userevent":{}}`,
		"ChannelEnteredBridge": `{"type":"ChannelEnteredBridge","application":"","asterisk_id":"02:fc:00:00:00:01","timestamp":"","bridge":{},"channel":{}}`,
		"ChannelLeftBridge":    `{"type":"ChannelLeftBridge","application":"","asterisk_id":"02:fc:00:00:00:01","timestamp":"","bridge":{},"channel":{}}`,
		"BridgeDestroyed":      `{"type":"BridgeDestroyed","application":"","asterisk_id":"02:fc:00:00:00:01","timestamp":"","bridge":{}}`,
		"RecordingFailed":      `{"type":"RecordingFailed","application":"","asterisk_id":"02:fc:00:00:00:01","timestamp":"","recording":{"format":"wav","name":"","state":"failed","cause":"","target_uri":""}}`,
	} {
		if _, ok := t[typ]; !ok {
			t[typ] = json.RawMessage(shape)
		}
	}
	return t, nil
}

// Server is a fake Asterisk ARI.
type Server struct {
	// URL is the ARI root, e.g. http://127.0.0.1:41234/ari.
	URL        string
	App        string
	User, Pass string
	// PromptLen is how long every playback plays (default 300ms).
	PromptLen time.Duration
	// OnOriginate is called (in its own goroutine) after a POST /channels
	// with the new channel's id; it decides the call's fate with Answer,
	// Ring and Unanswered.
	OnOriginate func(id string)
	// OnContinue, when set, is called (in its own goroutine) after a POST
	// /channels/{id}/continue with the id and the context asked for; the
	// channel stays, outside the application, for Return or HangUp, as a
	// dialplan that runs AMD() and then Stasis() again keeps it.
	OnContinue func(id, context string)

	hs   *httptest.Server
	ln   net.Listener // the TCP listener under hs (http.go)
	tmpl map[string]json.RawMessage

	httpMu      sync.Mutex // http.go's state
	http        HTTP
	connStats   ConnStats
	connChanged chan struct{}
	chanLocks   map[string]*sync.Mutex

	emitMu sync.Mutex // one event at a time, in order, to every socket

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every logged request or connection
	requests   []Request
	conns      map[*wsConn]bool
	dials      int
	seq        int
	faults     []*fault
	channels   map[string]*channel
	playbacks  map[string]*playback
	recordings map[string]*recording
	stored     map[string][]byte
	bridges    map[string]*bridge
	media      map[string]*extMedia // externalMedia channels' RTP, by channel id
	voices     map[string]float64   // what a channel says in a bridge (Voice)
	heard      map[string][]int16   // what a channel heard in a bridge
	digits     map[string]string    // DTMF sent to a channel
	lost       int                  // events sent while no socket was connected
	muted      bool                 // events are silently discarded, sockets stay open
}

type channel struct {
	id, name, caller, state string
	args                    []string
	app                     string            // the Stasis application it is in; "" = the server's
	vars                    map[string]string // channelvars, when it has some
	outside                 bool              // not (yet) in the application: it cannot be bridged
}

type playback struct {
	id, channel, media string
	timer              *time.Timer
}

type recording struct {
	name, channel string
	started       time.Time
}

type fault struct {
	method, prefix string
	status, n      int
	delay          time.Duration // with status 0: answer this late
}

type wsConn struct {
	c      *websocket.Conn
	out    chan []byte
	closed chan struct{}
	once   sync.Once
}

func (w *wsConn) close() {
	w.once.Do(func() {
		close(w.closed)
		w.c.Close() // the reader notices; nothing else to do
	})
}

// New starts a Server on 127.0.0.1:0 sending events shaped like templates.
// Close it when done.
func New(templates map[string]json.RawMessage) *Server {
	s := &Server{App: "canvass", User: "canvass", Pass: "secret", PromptLen: 300 * time.Millisecond, tmpl: templates,
		changed: make(chan struct{}), conns: map[*wsConn]bool{}, channels: map[string]*channel{},
		playbacks: map[string]*playback{}, recordings: map[string]*recording{}, stored: map[string][]byte{},
		bridges: map[string]*bridge{}, media: map[string]*extMedia{}, voices: map[string]float64{},
		heard: map[string][]int16{}, digits: map[string]string{}}
	s.connChanged, s.chanLocks = make(chan struct{}), map[string]*sync.Mutex{}
	s.hs = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.ln = s.hs.Listener
	s.hs.Listener = listener{Listener: s.ln, s: s}
	s.hs.Config.ConnState = s.connState
	s.hs.Config.ConnContext = connContext
	s.hs.Start()
	s.URL = s.hs.URL + "/ari"
	return s
}

// Close drops the sockets and stops the server.
func (s *Server) Close() {
	s.Drop()
	s.mu.Lock()
	for _, p := range s.playbacks {
		p.timer.Stop()
	}
	var ems []string
	for id := range s.media {
		ems = append(ems, id)
	}
	s.mu.Unlock()
	for _, id := range ems {
		s.closeMedia(id)
	}
	s.hs.Close()
}

// notify wakes waiters; s.mu must be held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Requests returns every REST request so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Await waits for the n-th (from 1) request matching match.
func (s *Server) Await(ctx context.Context, n int, match func(Request) bool) (Request, error) {
	for {
		s.mu.Lock()
		seen := 0
		for _, r := range s.requests {
			if match(r) {
				if seen++; seen == n {
					s.mu.Unlock()
					return r, nil
				}
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Request{}, fmt.Errorf("request #%d not seen (%d matching): %w", n, seen, ctx.Err())
		}
	}
}

// AwaitConnections waits until n event sockets have been opened in all.
func (s *Server) AwaitConnections(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		got, ch := s.dials, s.changed
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%d event sockets opened, want %d: %w", got, n, ctx.Err())
		}
	}
}

// Fail makes the next n requests whose method is method and whose path
// starts with prefix answer status.
func (s *Server) Fail(method, prefix string, status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, prefix: prefix, status: status, n: n})
}

// Delay makes the next n requests whose method is method and whose path
// starts with prefix take effect and be logged at once, but be answered d
// later: an Asterisk under load, whose answer may come after the client
// gave up. (What a request does after its answer, such as the hangup
// events of a DELETE /channels, waits too.)
func (s *Server) Delay(method, prefix string, d time.Duration, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, prefix: prefix, delay: d, n: n})
}

// Stored returns the audio of a stored recording Asterisk still holds.
func (s *Server) Stored(name string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.stored[name]
	return b, ok
}

// Drop closes every events WebSocket from the server's side.
func (s *Server) Drop() {
	s.mu.Lock()
	conns := s.conns
	s.conns = map[*wsConn]bool{}
	s.mu.Unlock()
	for c := range conns {
		c.close()
	}
}

// Lost is how many events were sent while no socket was connected.
func (s *Server) Lost() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lost
}

// Mute makes the server swallow every event while keeping its sockets open:
// a socket that went dead without closing.
func (s *Server) Mute(on bool) {
	s.mu.Lock()
	s.muted = on
	s.mu.Unlock()
}

// SendRaw sends frame as it is to every socket.
func (s *Server) SendRaw(frame string) { s.send([]byte(frame)) }

func (s *Server) send(b []byte) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.mu.Lock()
	var conns []*wsConn
	for c := range s.conns {
		conns = append(conns, c)
	}
	if len(conns) == 0 || s.muted {
		s.lost++
		conns = nil
	}
	s.mu.Unlock()
	for _, c := range conns {
		select {
		case c.out <- b:
		case <-c.closed:
		}
	}
}

// emit sends an event of type typ cloned from its template, changed by
// fill.
func (s *Server) emit(typ string, fill func(m map[string]any)) {
	m := map[string]any{}
	if t, ok := s.tmpl[typ]; ok {
		if err := json.Unmarshal(t, &m); err != nil {
			panic(fmt.Sprintf("aritest: template %s: %v", typ, err))
		}
	}
	m["type"] = typ
	m["application"] = s.App
	m["timestamp"] = time.Now().Format("2006-01-02T15:04:05.000-0700")
	if fill != nil {
		fill(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("aritest: event %s: %v", typ, err))
	}
	s.send(b)
}

// channelJSON is ch in the shape of the StasisStart template's channel.
func (s *Server) channelJSON(ch *channel) map[string]any {
	m := map[string]any{}
	var t struct {
		Channel map[string]any `json:"channel"`
	}
	if raw, ok := s.tmpl["StasisStart"]; ok && json.Unmarshal(raw, &t) == nil && t.Channel != nil {
		m = t.Channel
	}
	m["id"], m["name"], m["state"] = ch.id, ch.name, ch.state
	m["caller"] = map[string]any{"name": "", "number": ch.caller}
	app := ch.app
	if app == "" {
		app = s.App
	}
	if ch.vars != nil {
		m["channelvars"] = ch.vars
	}
	m["dialplan"] = map[string]any{"app_name": "Stasis", "app_data": strings.Join(append([]string{app}, ch.args...), ","),
		"context": "incoming", "exten": "survey", "priority": 1}
	return m
}

func (s *Server) channelEvent(typ string, ch *channel, fill func(m map[string]any)) {
	s.emit(typ, func(m map[string]any) {
		m["channel"] = s.channelJSON(ch)
		if fill != nil {
			fill(m)
		}
	})
}

func (s *Server) channel(id string) *channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channels[id]
}

// Call sends a new inbound channel into the application with args (each
// key=value) from caller, and returns its id.
func (s *Server) Call(caller string, args ...string) string {
	id, _ := s.CallAt(caller, args...)
	return id
}

// CallAt is Call, also returning when the StasisStart was handed to the
// events sockets.
func (s *Server) CallAt(caller string, args ...string) (string, time.Time) {
	s.mu.Lock()
	s.seq++
	ch := &channel{id: fmt.Sprintf("1795375138.%d", s.seq), name: fmt.Sprintf("SIP/%s-%08x", caller, s.seq),
		caller: caller, state: "Ring", args: args}
	s.channels[ch.id] = ch
	s.mu.Unlock()
	at := time.Now()
	s.channelEvent("StasisStart", ch, func(m map[string]any) { m["args"] = args })
	return ch.id, at
}

// Orphan puts a caller in Stasis application app with args, without a
// StasisStart: a channel a previous client was serving when it died. It
// returns its id.
func (s *Server) Orphan(app, caller string, args ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	ch := &channel{id: fmt.Sprintf("1795375000.%d", s.seq), name: fmt.Sprintf("SIP/%s-%08x", caller, s.seq),
		caller: caller, state: "Up", args: args, app: app}
	s.channels[ch.id] = ch
	return ch.id
}

// Press sends the caller's keys.
func (s *Server) Press(id, keys string) {
	ch := s.channel(id)
	if ch == nil {
		return
	}
	for _, k := range keys {
		s.channelEvent("ChannelDtmfReceived", ch, func(m map[string]any) {
			m["digit"], m["duration_ms"] = string(k), 120
		})
	}
}

// HangUp is the caller hanging up, in Asterisk's order of events and as
// captured: a ChannelHangupRequest without a cause, ChannelDestroyed with
// Q.850 16.
func (s *Server) HangUp(id string) { s.hangup(id, nil, 16, "Normal Clearing") }

// HangUpCause is the far end hanging up with a Q.850 cause as Asterisk 22
// reports it: the ChannelHangupRequest is soft and its cause is Asterisk's
// internal soft-hangup flag (4 was seen), and only ChannelDestroyed carries
// the Q.850 cause and its text.
func (s *Server) HangUpCause(id string, cause int, text string) {
	s.hangup(id, map[string]any{"cause": 4, "soft": true}, cause, text)
}

// hangup ends a channel: a ChannelHangupRequest with req's fields, then
// ChannelDestroyed with the Q.850 cause.
func (s *Server) hangup(id string, req map[string]any, cause int, text string) bool {
	s.mu.Lock()
	ch := s.channels[id]
	delete(s.channels, id)
	var recs []*recording
	for n, r := range s.recordings {
		if r.channel == id {
			recs = append(recs, r)
			delete(s.recordings, n)
		}
	}
	var pbs []*playback
	for pid, p := range s.playbacks {
		if p.channel == id {
			p.timer.Stop()
			pbs = append(pbs, p)
			delete(s.playbacks, pid)
		}
	}
	s.mu.Unlock()
	if ch == nil {
		return false
	}
	s.closeMedia(id)
	s.channelEvent("ChannelHangupRequest", ch, func(m map[string]any) {
		for k, v := range req {
			m[k] = v
		}
	})
	s.leaveBridges(ch)
	for _, p := range pbs {
		s.playbackEvent("PlaybackFinished", p, "done")
	}
	for _, r := range recs {
		s.finishRecording(r)
	}
	s.channelEvent("StasisEnd", ch, nil)
	s.channelEvent("ChannelDestroyed", ch, func(m map[string]any) { m["cause"], m["cause_txt"] = cause, text })
	return true
}

// Ring reports an originated channel ringing.
func (s *Server) Ring(id string) {
	if ch := s.channel(id); ch != nil {
		s.dialEvent(ch, "RINGING")
	}
}

// Answer answers an originated channel: it enters the application.
func (s *Server) Answer(id string) {
	ch := s.channel(id)
	if ch == nil {
		return
	}
	s.mu.Lock()
	ch.state = "Up"
	s.mu.Unlock()
	s.channelEvent("ChannelStateChange", ch, nil)
	s.dialEvent(ch, "ANSWER")
	s.channelEvent("StasisStart", ch, func(m map[string]any) { m["args"] = ch.args })
}

// Return brings a channel the dialplan has (OnContinue) back into the
// application with args, as Stasis(app,args…) does.
func (s *Server) Return(id string, args ...string) {
	ch := s.channel(id)
	if ch == nil {
		return
	}
	s.mu.Lock()
	ch.outside, ch.args = false, args
	s.mu.Unlock()
	s.channelEvent("StasisStart", ch, func(m map[string]any) { m["args"] = args })
}

// Unanswered ends an originated channel that never answered, with a Q.850
// cause (17 busy, 19 no answer…): Dial events and ChannelDestroyed, no
// StasisStart.
func (s *Server) Unanswered(id string, cause int, text string) {
	s.mu.Lock()
	ch := s.channels[id]
	delete(s.channels, id)
	s.mu.Unlock()
	if ch == nil {
		return
	}
	status := map[int]string{17: "BUSY", 19: "NOANSWER", 21: "CONGESTION"}[cause]
	s.dialEvent(ch, status)
	s.channelEvent("ChannelDestroyed", ch, func(m map[string]any) { m["cause"], m["cause_txt"] = cause, text })
}

func (s *Server) dialEvent(ch *channel, status string) {
	s.emit("Dial", func(m map[string]any) {
		m["peer"], m["dialstatus"] = s.channelJSON(ch), status
	})
}

func (s *Server) playbackEvent(typ string, p *playback, state string) {
	s.emit(typ, func(m map[string]any) {
		m["playback"] = map[string]any{"id": p.id, "language": "en", "media_uri": p.media, "state": state,
			"target_uri": "channel:" + p.channel}
	})
}

func (s *Server) recordingEvent(typ string, r *recording, state string, fill func(rec map[string]any)) {
	s.emit(typ, func(m map[string]any) {
		rec := map[string]any{"format": "wav", "name": r.name, "state": state, "target_uri": "channel:" + r.channel}
		if fill != nil {
			fill(rec)
		}
		m["recording"] = rec
	})
}

// finishRecording stores a recording of silence as long as it ran and
// says so.
func (s *Server) finishRecording(r *recording) {
	d := time.Since(r.started)
	s.mu.Lock()
	s.stored[r.name] = WAV(d)
	s.mu.Unlock()
	s.recordingEvent("RecordingFinished", r, "done", func(rec map[string]any) { rec["duration"] = int(d / time.Second) })
}

// WAV returns d of 8 kHz mono 16-bit silence as a WAV file.
func WAV(d time.Duration) []byte {
	n := uint32(d*16000/time.Second) &^ 1
	le := binary.LittleEndian
	b := le.AppendUint32([]byte("RIFF"), 36+n)
	b = append(b, "WAVEfmt "...)
	b = le.AppendUint32(b, 16)
	b = le.AppendUint16(le.AppendUint16(b, 1), 1)        // PCM, mono
	b = le.AppendUint32(le.AppendUint32(b, 8000), 16000) // rate, bytes/s
	b = le.AppendUint16(le.AppendUint16(b, 2), 16)       // block, bits
	b = le.AppendUint32(append(b, "data"...), n)
	return append(b, make([]byte, n)...)
}

// serve answers REST requests and the events WebSocket.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.crossed(w, r) {
		return
	}
	p, ok := strings.CutPrefix(r.URL.Path, "/ari")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
		s.reply(w, r, p, http.StatusUnauthorized, map[string]string{"message": "Authentication required"})
		return
	}
	if p == "/events" {
		s.events(w, r)
		return
	}
	defer s.serveLatency(p)()
	if st := s.fault(r.Method, p); st != 0 {
		s.reply(w, r, p, st, map[string]string{"message": http.StatusText(st)})
		return
	}
	seg := strings.Split(strings.Trim(p, "/"), "/")
	for i := range seg {
		if u, err := url.PathUnescape(seg[i]); err == nil {
			seg[i] = u
		}
	}
	if s.serveMedia(w, r, p, seg) {
		return
	}
	q := r.URL.Query()
	notFound := func(what string) {
		s.reply(w, r, p, http.StatusNotFound, map[string]string{"message": what + " not found"})
	}
	switch {
	case r.Method == "GET" && p == "/channels":
		s.mu.Lock()
		list := []map[string]any{}
		for _, ch := range s.channels {
			list = append(list, s.channelJSON(ch))
		}
		s.mu.Unlock()
		s.reply(w, r, p, http.StatusOK, list)
	case r.Method == "POST" && p == "/channels":
		s.originate(w, r, p)
	case r.Method == "POST" && len(seg) == 3 && seg[0] == "channels" && seg[2] == "answer":
		ch := s.channel(seg[1])
		if ch == nil {
			notFound("Channel")
			return
		}
		s.mu.Lock()
		ch.state = "Up"
		s.mu.Unlock()
		s.channelEvent("ChannelStateChange", ch, nil)
		s.reply(w, r, p, http.StatusNoContent, nil)
	case r.Method == "POST" && len(seg) == 3 && seg[0] == "channels" && seg[2] == "play":
		if s.channel(seg[1]) == nil {
			notFound("Channel")
			return
		}
		pb := &playback{id: q.Get("playbackId"), channel: seg[1], media: q.Get("media")}
		s.mu.Lock()
		s.playbacks[pb.id] = pb
		pb.timer = time.AfterFunc(s.PromptLen, func() { s.endPlayback(pb.id) })
		s.mu.Unlock()
		// As captured: PlaybackStarted beats the REST answer.
		s.playbackEvent("PlaybackStarted", pb, "playing")
		s.reply(w, r, p, http.StatusCreated, map[string]any{"id": pb.id, "language": "en", "media_uri": pb.media,
			"state": "queued", "target_uri": "channel:" + pb.channel})
	case r.Method == "DELETE" && len(seg) == 2 && seg[0] == "playbacks":
		s.mu.Lock()
		pb := s.playbacks[seg[1]]
		delete(s.playbacks, seg[1])
		s.mu.Unlock()
		if pb == nil {
			notFound("Playback")
			return
		}
		pb.timer.Stop()
		s.reply(w, r, p, http.StatusNoContent, nil)
		s.playbackEvent("PlaybackFinished", pb, "done")
	case r.Method == "GET" && len(seg) == 2 && seg[0] == "playbacks":
		s.mu.Lock()
		pb := s.playbacks[seg[1]]
		s.mu.Unlock()
		if pb == nil {
			notFound("Playback")
			return
		}
		s.reply(w, r, p, http.StatusOK, map[string]any{"id": pb.id, "media_uri": pb.media, "state": "playing",
			"target_uri": "channel:" + pb.channel})
	case r.Method == "POST" && len(seg) == 3 && seg[0] == "channels" && seg[2] == "record":
		if s.channel(seg[1]) == nil {
			notFound("Channel")
			return
		}
		rec := &recording{name: q.Get("name"), channel: seg[1], started: time.Now()}
		s.mu.Lock()
		s.recordings[rec.name] = rec
		s.mu.Unlock()
		s.recordingEvent("RecordingStarted", rec, "recording", nil)
		s.reply(w, r, p, http.StatusCreated, map[string]any{"format": "wav", "name": rec.name, "state": "queued",
			"target_uri": "channel:" + rec.channel})
	case r.Method == "POST" && len(seg) == 4 && seg[0] == "recordings" && seg[1] == "live" && seg[3] == "stop":
		s.mu.Lock()
		rec := s.recordings[seg[2]]
		delete(s.recordings, seg[2])
		s.mu.Unlock()
		if rec == nil {
			notFound("Recording")
			return
		}
		s.reply(w, r, p, http.StatusNoContent, nil)
		s.finishRecording(rec)
	case r.Method == "GET" && len(seg) == 3 && seg[0] == "recordings" && seg[1] == "live":
		s.mu.Lock()
		rec := s.recordings[seg[2]]
		s.mu.Unlock()
		if rec == nil {
			notFound("Recording")
			return
		}
		s.reply(w, r, p, http.StatusOK, map[string]any{"name": rec.name, "format": "wav", "state": "recording"})
	case r.Method == "GET" && len(seg) == 4 && seg[0] == "recordings" && seg[1] == "stored" && seg[3] == "file":
		data, ok := s.Stored(seg[2])
		if !ok {
			notFound("Recording")
			return
		}
		s.log(r, p, http.StatusOK)
		w.Header().Set("Content-Type", "audio/wav")
		w.Write(data) // a failed write shows as a short body to the client
	case r.Method == "DELETE" && len(seg) == 3 && seg[0] == "recordings" && seg[1] == "stored":
		s.mu.Lock()
		_, ok := s.stored[seg[2]]
		delete(s.stored, seg[2])
		s.mu.Unlock()
		if !ok {
			notFound("Recording")
			return
		}
		s.reply(w, r, p, http.StatusNoContent, nil)
	case r.Method == "DELETE" && len(seg) == 2 && seg[0] == "channels":
		if s.channel(seg[1]) == nil {
			notFound("Channel")
			return
		}
		s.reply(w, r, p, http.StatusNoContent, nil)
		// As captured: a soft request with AST_SOFTHANGUP_EXPLICIT (32).
		s.hangup(seg[1], map[string]any{"cause": 32, "soft": true}, 16, "Normal Clearing")
	case r.Method == "POST" && len(seg) == 3 && seg[0] == "channels" && seg[2] == "continue":
		s.mu.Lock()
		ch := s.channels[seg[1]]
		if s.OnContinue == nil {
			delete(s.channels, seg[1]) // it left the application
		} else if ch != nil {
			ch.outside = true
		}
		s.mu.Unlock()
		if ch == nil {
			notFound("Channel")
			return
		}
		s.reply(w, r, p, http.StatusNoContent, nil)
		s.channelEvent("StasisEnd", ch, nil)
		if s.OnContinue != nil {
			go s.OnContinue(ch.id, q.Get("context"))
		}
	case r.Method == "POST" && len(seg) == 3 && seg[0] == "applications" && seg[2] == "subscription":
		if seg[1] != s.App {
			notFound("Application")
			return
		}
		s.reply(w, r, p, http.StatusOK, map[string]any{"name": s.App})
	case r.Method == "POST" && len(seg) == 3 && seg[0] == "events" && seg[1] == "user":
		if q.Get("application") != s.App {
			s.reply(w, r, p, http.StatusNotFound, map[string]string{"message": "Application not found"})
			return
		}
		s.reply(w, r, p, http.StatusNoContent, nil)
		s.emit("ChannelUserevent", func(m map[string]any) { m["eventname"] = seg[2] })
	default:
		s.reply(w, r, p, http.StatusNotFound, map[string]string{"message": "Resource not found"})
	}
}

func (s *Server) authorized(r *http.Request) bool {
	if u, p, ok := r.BasicAuth(); ok {
		return u == s.User && p == s.Pass
	}
	return r.URL.Query().Get("api_key") == s.User+":"+s.Pass
}

func (s *Server) fault(method, p string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.n > 0 && f.status != 0 && f.method == method && strings.HasPrefix(p, f.prefix) {
			f.n--
			return f.status
		}
	}
	return 0
}

// lateness is how long to hold the answer to a request (Delay).
func (s *Server) lateness(method, p string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.n > 0 && f.delay > 0 && f.method == method && strings.HasPrefix(p, f.prefix) {
			f.n--
			return f.delay
		}
	}
	return 0
}

func (s *Server) log(r *http.Request, p string, status int) {
	var body bytes.Buffer
	if r.Body != nil {
		if _, err := body.ReadFrom(r.Body); err != nil {
			body.WriteString("<unreadable: " + err.Error() + ">")
		}
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: p, Query: r.URL.Query(), Body: body.String(), Status: status, At: time.Now()})
	s.notify()
	s.mu.Unlock()
}

func (s *Server) reply(w http.ResponseWriter, r *http.Request, p string, status int, body any) {
	s.log(r, p, status)
	if d := s.lateness(r.Method, p); d > 0 {
		time.Sleep(d)
	}
	if body == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body) // a failed write shows as a bad body to the client
}

func (s *Server) endPlayback(id string) {
	s.mu.Lock()
	pb := s.playbacks[id]
	delete(s.playbacks, id)
	s.mu.Unlock()
	if pb != nil {
		s.playbackEvent("PlaybackFinished", pb, "done")
	}
}

// originate creates an outbound channel, as POST /channels does.
func (s *Server) originate(w http.ResponseWriter, r *http.Request, p string) {
	q := r.URL.Query()
	id := q.Get("channelId")
	if id == "" || q.Get("endpoint") == "" || q.Get("app") != s.App {
		s.reply(w, r, p, http.StatusBadRequest, map[string]string{"message": "endpoint, app and channelId are required here"})
		return
	}
	ch := &channel{id: id, name: q.Get("endpoint") + "-00000002", state: "Down", args: strings.Split(q.Get("appArgs"), ",")}
	s.mu.Lock()
	s.channels[id] = ch
	s.mu.Unlock()
	s.reply(w, r, p, http.StatusOK, s.channelJSON(ch))
	s.dialEvent(ch, "")
	if s.OnOriginate != nil {
		go s.OnOriginate(id)
	}
}

// events upgrades to the events WebSocket.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("app") != s.App {
		s.reply(w, r, "/events", http.StatusBadRequest, map[string]string{"message": "wrong app"})
		return
	}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	wc := &wsConn{c: c, out: make(chan []byte, 4096), closed: make(chan struct{})}
	s.mu.Lock()
	s.conns[wc] = true
	s.dials++
	s.notify()
	s.mu.Unlock()
	go func() { // the one writer
		for {
			select {
			case b := <-wc.out:
				if c.WriteMessage(websocket.TextMessage, b) != nil {
					wc.close()
					return
				}
			case <-wc.closed:
				return
			}
		}
	}()
	go func() { // reads only to notice the client going away
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				s.mu.Lock()
				delete(s.conns, wc)
				s.mu.Unlock()
				wc.close()
				return
			}
		}
	}()
}
