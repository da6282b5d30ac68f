package cati

// This file is the live feed's fan-out. One LISTEN connection per node
// (EventFeed.ListenEvents) announces each committed event by id, whichever
// node made the change; the feed reads the events, sends each to every
// supervisor's socket at once, asks the interviewers it concerns to refresh
// their screen, and recomputes the floor for supervisors at most every
// floorEvery. After a reconnect of the LISTEN connection, what was missed is
// re-read: every page gets a fresh screen.

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/canvass/canvass/survey"
)

// floorEvery is the most often the floor is recomputed.
const floorEvery = 250 * time.Millisecond

// hub knows every console connection on this node.
type hub struct {
	log    *slog.Logger
	mu     sync.RWMutex
	supers map[*wsConn]struct{}
	users  map[survey.UserID]map[*wsConn]struct{} // interviewers by user id
	dirty  chan struct{}                          // the floor changed
}

func newHub(log *slog.Logger) *hub {
	return &hub{log: log, supers: map[*wsConn]struct{}{}, users: map[survey.UserID]map[*wsConn]struct{}{}, dirty: make(chan struct{}, 1)}
}

func (h *hub) add(c *wsConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.user.Role != survey.RoleInterviewer {
		h.supers[c] = struct{}{}
		return
	}
	if h.users[c.user.ID] == nil {
		h.users[c.user.ID] = map[*wsConn]struct{}{}
	}
	h.users[c.user.ID][c] = struct{}{}
}

// remove forgets c; it reports whether c was its interviewer's last
// socket here.
func (h *hub) remove(c *wsConn) (last bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.supers, c)
	if m := h.users[c.user.ID]; m != nil {
		delete(m, c)
		if len(m) == 0 {
			delete(h.users, c.user.ID)
			return true
		}
	}
	return false
}

// toSupervisors queues b on every supervisor's socket.
func (h *hub) toSupervisors(b []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.supers {
		c.queue(b)
	}
}

// toUser queues b on every socket of the interviewer.
func (h *hub) toUser(id survey.UserID, b []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.users[id] {
		c.queue(b)
	}
}

// refreshUser asks every socket of the interviewer for a fresh state.
func (h *hub) refreshUser(id survey.UserID) { h.refreshUserBut(id, nil) }

// refreshUserBut asks the interviewer's sockets but one for a fresh state:
// the one that moved the desk on has its answer already.
func (h *hub) refreshUserBut(id survey.UserID, but *wsConn) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.users[id] {
		if c == but {
			continue
		}
		select {
		case c.refresh <- struct{}{}:
		default: // a refresh is already pending
		}
	}
}

// refreshAll refreshes every page on this node.
func (h *hub) refreshAll() {
	h.mu.RLock()
	ids := make([]survey.UserID, 0, len(h.users))
	for id := range h.users {
		ids = append(ids, id)
	}
	h.mu.RUnlock()
	for _, id := range ids {
		h.refreshUser(id)
	}
	h.floorChanged()
}

func (h *hub) floorChanged() {
	select {
	case h.dirty <- struct{}{}:
	default:
	}
}

func (h *hub) hasSupervisors() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.supers) > 0
}

// eventView is an event as the "event" message carries it.
type eventView struct {
	ID         int64             `json:"id"`
	At         time.Time         `json:"at"`
	Kind       string            `json:"kind"`
	CampaignID survey.CampaignID `json:"campaign_id,omitempty"`
	CaseID     survey.CaseID     `json:"case_id,omitempty"`
	UserID     survey.UserID     `json:"user_id,omitempty"`
	Data       json.RawMessage   `json:"data,omitempty"`
	Text       string            `json:"text,omitempty"` // in words, for the feed
}

// runFeed runs the LISTEN loop, the event reader and the floor refresher.
func (s *Server) runFeed(ctx context.Context) error {
	c := s.console
	ids := make(chan int64, 4096)
	resync := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.readEvents(ctx, ids, resync) }()
	go func() { defer wg.Done(); s.refreshFloor(ctx) }()
	go func() { defer wg.Done(); s.sweepSessions(ctx) }()
	err := c.Events.ListenEvents(ctx, func() {
		select {
		case resync <- struct{}{}:
		default:
		}
	}, func(id int64) {
		select {
		case ids <- id:
		default: // overwhelmed: re-read everything instead
			select {
			case resync <- struct{}{}:
			default:
			}
		}
	})
	wg.Wait()
	c.hub.closeAll("the server is shutting down; reconnecting")
	return err
}

// closeAll closes every socket with "going away", so that pages reconnect
// (to another node, behind a load balancer).
func (h *hub) closeAll(reason string) {
	h.mu.RLock()
	var all []*wsConn
	for c := range h.supers {
		all = append(all, c)
	}
	for _, m := range h.users {
		for c := range m {
			all = append(all, c)
		}
	}
	h.mu.RUnlock()
	for _, c := range all {
		c.close(websocket.CloseGoingAway, reason)
	}
}

// readEvents turns announced ids into messages. Ids are read in batches
// from the lowest id announced, so a burst costs one query; transactions
// may commit out of id order, so ids already sent are remembered rather
// than assumed from the highest.
func (s *Server) readEvents(ctx context.Context, ids <-chan int64, resync <-chan struct{}) {
	c := s.console
	var last int64
	seen := map[int64]bool{} // dispatched ids above last-seenWindow
	const seenWindow = 10000
	if id, err := c.Events.LastEventID(ctx); err == nil {
		last = id
	} else if ctx.Err() == nil {
		s.log.Warn("live feed: read last event id", "err", err)
	}
	for {
		var min int64
		select {
		case <-ctx.Done():
			return
		case <-resync:
			c.hub.refreshAll()
			min = last + 1
		case id := <-ids:
			min = id
		}
	drain:
		for {
			select {
			case id := <-ids:
				min = minNonZero(min, id)
			default:
				break drain
			}
		}
		from := min - 1
		if last < from {
			from = last // also pick up any we were never told about
		}
		events, err := c.Events.EventsAfter(ctx, from, 1000)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("live feed: read events", "err", err)
			}
			continue
		}
		for _, e := range events {
			if seen[e.ID] {
				continue
			}
			seen[e.ID] = true
			s.dispatch(e)
			last = max(last, e.ID)
		}
		if len(seen) > 2*seenWindow {
			for id := range seen {
				if id < last-seenWindow {
					delete(seen, id)
				}
			}
		}
	}
}

func minNonZero(a, b int64) int64 {
	if a == 0 || b < a {
		return b
	}
	return a
}

// dispatch sends one event where it belongs.
func (s *Server) dispatch(e survey.Event) {
	h := s.console.hub
	var text string
	if h.hasSupervisors() {
		text = s.eventText(e)
	}
	b, err := encode("event", "", eventView{ID: e.ID, At: e.At, Kind: e.Kind, CampaignID: e.CampaignID, CaseID: e.CaseID, UserID: e.UserID, Data: e.Payload, Text: text})
	if err != nil {
		s.log.Error("live feed: encode event", "id", e.ID, "err", err)
		return
	}
	h.toSupervisors(b)
	users := map[survey.UserID]bool{}
	if e.UserID != 0 {
		users[e.UserID] = true
	}
	var p struct {
		Users []survey.UserID `json:"users"`
	}
	if len(e.Payload) > 0 && json.Unmarshal(e.Payload, &p) == nil {
		for _, u := range p.Users {
			if u != 0 {
				users[u] = true
			}
		}
	}
	for u := range users {
		h.refreshUser(u)
	}
	h.floorChanged()
}

// refreshFloor recomputes the floor when it changed, at most every
// floorEvery, and sends it to every supervisor.
func (s *Server) refreshFloor(ctx context.Context) {
	h := s.console.hub
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.dirty:
		}
		if h.hasSupervisors() {
			qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			f, err := s.floorView(qctx)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("live feed: read floor", "err", err)
				}
			} else if b, err := encode("floor", "", f); err == nil {
				h.toSupervisors(b)
			} else {
				s.log.Error("live feed: encode floor", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(floorEvery):
		}
	}
}

// sweepEvery is how often dead sessions and old events are deleted.
const sweepEvery = time.Hour

// eventRetention is how long the live feed's events are kept: far longer
// than any node is behind on them.
const eventRetention = 7 * 24 * time.Hour

// sweepSessions deletes expired sessions now and then (they are refused
// anyway, this only keeps the table small), and events past retention.
func (s *Server) sweepSessions(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := s.console.Sessions.DeleteDeadSessions(ctx, s.now(), s.console.Options.IdleTimeout)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("delete dead sessions", "err", err)
			} else if n > 0 {
				s.log.Debug("dead sessions deleted", "n", n)
			}
			n, err = s.console.Events.PruneEvents(ctx, s.now().Add(-eventRetention))
			if err != nil && ctx.Err() == nil {
				s.log.Warn("prune events", "err", err)
			} else if n > 0 {
				s.log.Debug("old events deleted", "n", n)
			}
		}
	}
}
