package cati

// This file is one console WebSocket: the upgrade (same-origin, a live
// session with a console role), one writer goroutine fed by a channel (a
// gorilla connection allows one writer at a time), the reader that decodes
// and dispatches each message in turn, heartbeats (ping/pong with read
// deadlines, so a client that stops reading is reaped), and the session's
// expiry, which closes the socket with a reason the page acts on.

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/canvass/canvass/survey"
)

// Heartbeat timing: a ping every pingEvery; a connection that has sent
// nothing, not even a pong, for pongWait is dead. Writes must finish within
// writeWait.
const (
	pingEvery    = 20 * time.Second
	pongWait     = 45 * time.Second
	writeWait    = 10 * time.Second
	sessionCheck = 30 * time.Second
	sendBuffer   = 64
)

// Close codes the page understands (4000–4999 are the application's).
const (
	closeSessionEnded = 4001 // sign in again
	closeTooSlow      = 4008 // the client did not keep up; reconnect
)

// wsConn is one console WebSocket.
type wsConn struct {
	s       *Server
	ws      *websocket.Conn
	user    survey.User
	hash    []byte // the session's
	log     *slog.Logger
	send    chan []byte
	refresh chan struct{} // an event concerns this interviewer: send a fresh state
	// stateMu orders the states sent: each is read and queued under it, so
	// a refresh read before a step cannot arrive after the step's reply
	// and put the screen back.
	stateMu sync.Mutex
	done    chan struct{}
	once    sync.Once
	reason  string
	code    int
}

func (s *Server) upgrader() *websocket.Upgrader {
	return &websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		CheckOrigin:     sameOrigin,
	}
}

// sameOrigin accepts an upgrade only from pages of this site.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// serveWS upgrades an authenticated console page's connection.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.currentSession(r)
	if err != nil {
		return err // 401: the page's script sends the user to the login page
	}
	if !slices.Contains(consoleUsers, sess.Role) {
		return survey.Errorf(survey.EForbidden, "%s accounts have no console", sess.Role)
	}
	if !sameOrigin(r) {
		return survey.Errorf(survey.EForbidden, "WebSocket connections are accepted from this site's pages only")
	}
	// The metrics recorder wraps the writer; the upgrade needs the
	// connection underneath.
	for {
		if _, ok := w.(http.Hijacker); ok {
			break
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	ws, err := s.upgrader().Upgrade(w, r, nil)
	if err != nil {
		s.consoleLog(sess.User).Info("websocket upgrade failed", "err", err)
		return nil // Upgrade has answered the client
	}
	c := &wsConn{s: s, ws: ws, user: sess.User, hash: sess.rec.Hash, log: s.consoleLog(sess.User).With("conn", r.RemoteAddr),
		send: make(chan []byte, sendBuffer), refresh: make(chan struct{}, 1), done: make(chan struct{})}
	s.console.hub.add(c)
	c.log.Info("console connected", "role", c.user.Role)
	go c.writeLoop()
	if c.user.Role == survey.RoleInterviewer {
		// The console is open: the desk is signed in (a no-op when it is).
		if err := s.desks.Presence(r.Context(), c.user, survey.MoveSignIn, ""); err != nil {
			c.log.Error("sign in the desk", "err", err)
		}
		go c.refreshLoop()
	}
	c.hello()
	if s.phones != nil && c.user.Role == survey.RoleInterviewer {
		s.phones.Back(c.user.ID)
	}
	c.s.sendCalls(c)
	c.readLoop() // until the connection ends
	if s.console.hub.remove(c) && s.phones != nil {
		s.phones.Away(c.user.ID) // a call waits for the page to come back
	}
	c.log.Info("console disconnected", "reason", c.reason)
	return nil
}

// close ends the connection once, with a close frame giving the reason.
func (c *wsConn) close(code int, reason string) {
	c.once.Do(func() {
		c.code, c.reason = code, reason
		close(c.done)
		msg := websocket.FormatCloseMessage(code, reason)
		if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
			c.log.Debug("write close", "err", err)
		}
		if err := c.ws.Close(); err != nil {
			c.log.Debug("close", "err", err)
		}
	})
}

// queue hands a message to the writer; a client whose buffer is full is
// not reading and is dropped.
func (c *wsConn) queue(b []byte) {
	select {
	case <-c.done:
	case c.send <- b:
	default:
		c.log.Warn("client too slow; closing")
		go c.close(closeTooSlow, "too slow: reconnect")
	}
}

func (c *wsConn) reply(typ, id string, data any) {
	b, err := encode(typ, id, data)
	if err != nil {
		c.log.Error("encode reply", "type", typ, "err", err)
		return
	}
	c.queue(b)
}

func (c *wsConn) replyError(id, typ string, err error) {
	code := survey.ErrorCodeOf(err)
	if code == survey.EInternal {
		c.log.Error("console request failed", "type", typ, "err", err)
	} else {
		c.log.Info("console request refused", "type", typ, "err", err)
	}
	c.reply("error", id, errorData{Code: code, Message: survey.ErrorMessage(err), Type: typ})
}

// writeLoop is the connection's only writer: queued messages, pings, and
// the session check.
func (c *wsConn) writeLoop() {
	ping := time.NewTicker(pingEvery)
	check := time.NewTicker(sessionCheck)
	defer ping.Stop()
	defer check.Stop()
	for {
		select {
		case <-c.done:
			return
		case b := <-c.send:
			if err := c.ws.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
				c.close(websocket.CloseGoingAway, "write failed")
				return
			}
			if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				c.close(websocket.CloseGoingAway, "write failed")
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.close(websocket.CloseGoingAway, "ping failed")
				return
			}
		case <-check.C:
			if !c.sessionAlive() {
				c.bye("your session has ended; sign in again")
				return
			}
		}
	}
}

// sessionAlive re-checks the session (idle and absolute expiry, logout,
// account disabled).
func (c *wsConn) sessionAlive() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err := c.s.console.Sessions.TouchSession(ctx, c.hash, c.s.now(), c.s.console.Options.IdleTimeout)
	if err != nil && survey.ErrorCodeOf(err) != survey.ENotFound {
		c.log.Warn("session check failed; keeping the connection", "err", err)
		return true
	}
	return err == nil
}

// bye tells the page why it is being disconnected, then closes.
func (c *wsConn) bye(reason string) {
	if b, err := encode("bye", "", map[string]string{"reason": reason}); err == nil {
		if err := c.ws.SetWriteDeadline(time.Now().Add(time.Second)); err == nil {
			if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				c.log.Debug("write bye", "err", err)
			}
		}
	}
	c.close(closeSessionEnded, reason)
}

// readLoop reads, validates and handles messages one at a time until the
// connection ends.
func (c *wsConn) readLoop() {
	c.ws.SetReadLimit(maxMessageBytes)
	if err := c.ws.SetReadDeadline(time.Now().Add(pongWait)); err != nil {
		c.close(websocket.CloseGoingAway, "read failed")
		return
	}
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			reason := "closed by client"
			if ce, ok := errors.AsType[*websocket.CloseError](err); !ok || (ce.Code != websocket.CloseNormalClosure && ce.Code != websocket.CloseGoingAway) {
				reason = "read: " + err.Error()
			}
			c.close(websocket.CloseNormalClosure, reason)
			return
		}
		if err := c.ws.SetReadDeadline(time.Now().Add(pongWait)); err != nil {
			c.close(websocket.CloseGoingAway, "read failed")
			return
		}
		c.handle(b)
	}
}

// hello greets a new connection and sends the first screen.
func (c *wsConn) hello() {
	c.reply("hello", "", map[string]any{"v": protocolVersion, "user": c.user.Name, "role": c.user.Role,
		"heartbeat_seconds": int(pingEvery / time.Second)})
	c.sync("")
}

// sync sends the page's full screen: the desk, or the floor.
func (c *wsConn) sync(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c.user.Role == survey.RoleInterviewer {
		c.sendState(ctx, id)
		return
	}
	f, err := c.s.floorView(ctx)
	if err != nil {
		c.replyError(id, "sync", err)
		return
	}
	c.reply("floor", id, f)
}

func (c *wsConn) sendState(ctx context.Context, id string) {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	v, err := c.s.deskView(ctx, c.user)
	if err != nil {
		c.replyError(id, "state", err)
		return
	}
	c.reply("state", id, v)
}

// refreshLoop sends an interviewer a fresh state when an event concerns
// them (a supervisor took or gave them a case, another tab moved on).
func (c *wsConn) refreshLoop() {
	for {
		select {
		case <-c.done:
			return
		case <-c.refresh:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c.sendState(ctx, "")
			cancel()
		}
	}
}

// handle answers one client message.
func (c *wsConn) handle(b []byte) {
	env, req, err := decodeEnvelope(b)
	if err != nil {
		c.replyError(env.ID, env.Type, err)
		return
	}
	if !slices.Contains(clientTypes[env.Type].roles, c.user.Role) {
		c.replyError(env.ID, env.Type, survey.Errorf(survey.EForbidden, "%s accounts cannot send %s", c.user.Role, env.Type))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	switch env.Type {
	case "ping":
		c.reply("pong", env.ID, struct{}{})
		return
	case "sync":
		c.sync(env.ID)
		return
	}
	if phoneTypes[env.Type] {
		c.phone(ctx, env.Type, env.ID, req)
		return
	}
	if c.user.Role != survey.RoleInterviewer {
		if err := c.s.supervise(ctx, c.user, env.Type, req); err != nil {
			c.replyError(env.ID, env.Type, err)
			return
		}
		c.reply("ok", env.ID, map[string]string{"type": env.Type})
		return
	}
	unlock := c.s.console.locks.lock(c.user.ID)
	err = c.s.interviewerAction(ctx, c.user, env.Type, req)
	unlock()
	if err != nil {
		c.replyError(env.ID, env.Type, err)
		if code := survey.ErrorCodeOf(err); code != survey.EConflict && code != survey.EInternal {
			return // nothing changed: the screen is still right
		}
	}
	c.sendState(ctx, env.ID)
	if err == nil {
		// The interviewer's other tabs on this node follow at once (on
		// other nodes they catch up at their next step, refused as stale).
		c.s.console.hub.refreshUserBut(c.user.ID, c)
	}
}

// interviewerAction runs one interviewer request.
func (s *Server) interviewerAction(ctx context.Context, u survey.User, typ string, req request) error {
	ds := s.desks
	switch r := req.(type) {
	case *emptyReq:
		if typ == "resume" {
			return ds.Presence(ctx, u, survey.MoveResume, "")
		}
		return ds.Claim(ctx, u) // next_case
	case *breakReq:
		return ds.Presence(ctx, u, survey.MoveBreak, r.Reason)
	case *caseReq:
		switch typ {
		case "dial":
			return s.dial(ctx, u, r.CaseID)
		case "back":
			return ds.Step(ctx, u, r.CaseID, InterviewStep{Kind: "back"})
		case "end_call":
			s.hangUpIfCalling(u)
			return ds.EndCall(ctx, u, r.CaseID)
		}
	case *dialResReq:
		if survey.DialOutcome(r.Outcome) != survey.DialContact {
			s.hangUpIfCalling(u)
		}
		return ds.DialResult(ctx, u, r.CaseID, survey.DialOutcome(r.Outcome), r.Note)
	case *answerReq:
		var v any
		if len(r.Value) > 0 {
			if err := json.Unmarshal(r.Value, &v); err != nil {
				return survey.Errorf(survey.EInvalid, "answer: the value is not JSON")
			}
		}
		return ds.Step(ctx, u, r.CaseID, InterviewStep{Kind: "answer", Question: r.Question, Value: v, Millis: r.Millis})
	case *skipReq:
		return ds.Step(ctx, u, r.CaseID, InterviewStep{Kind: "skip", Question: r.Question})
	case *wrapUpReq:
		s.hangUpIfCalling(u)
		if r.NeverCall {
			return ds.NeverCallAgain(ctx, u, r.CaseID, survey.DispositionCode(r.Code), r.Note)
		}
		return ds.WrapUp(ctx, u, r.CaseID, survey.DispositionCode(r.Code), r.Appointment, r.Note)
	}
	return survey.Errorf(survey.EInvalid, "%s is not an interviewer request", typ)
}
