package aritest

// This file models Asterisk's HTTP server as main/http.c and main/tcptls.c
// of Asterisk 22 run it, for tests and benchmarks that care how a client
// uses its connections: one accept thread with a listen backlog of 10,
// a thread per connection up to http.conf's sessionlimit (100; one over it
// is closed unanswered), idle connections closed after session_keep_alive
// (15 s), and REST requests that take time, one at a time per channel (a
// channel's commands run on its own Stasis thread). The zero HTTP is a
// server with none of these limits.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"
)

// HTTP is how the server's HTTP side behaves (SetHTTP).
type HTTP struct {
	// KeepAlive is session_keep_alive: a connection idle this long is
	// closed. 0 keeps idle connections open.
	KeepAlive time.Duration
	// CrossClose holds that close until the client's next request
	// arrives on the connection, which then goes unanswered: the request
	// and Asterisk's close cross on the wire, the unlucky case of a real
	// Asterisk made certain. The connection's session is freed at
	// KeepAlive all the same.
	CrossClose bool
	// SessionLimit is http.conf's sessionlimit (Asterisk's default is
	// 100): a connection past it is accepted and closed unanswered.
	SessionLimit int
	// Backlog is the listen backlog (10 in tcptls.c): connections the
	// accept thread has not taken yet past it are left to the kernel,
	// which drops their SYNs; the client retransmits 1 s, 3 s, 7 s later.
	Backlog int
	// Accept is what the one accept thread spends on each new
	// connection (accept, a session, a thread) before taking the next.
	Accept time.Duration
	// Latency is how long each REST request takes to be answered.
	// Requests on one channel (/channels/{id}/…) are served one at a
	// time.
	Latency time.Duration
}

// ConnStats counts the server's HTTP connections.
type ConnStats struct {
	Open     int // connections open (events WebSockets included)
	Sessions int // open connections holding a session (not expired)
	Accepted int // connections accepted in all
	Refused  int // closed at once: over SessionLimit
	Expired  int // idle for KeepAlive
	Crossed  int // a request arrived on an expired connection and was dropped unanswered
}

// SetHTTP changes how the HTTP side behaves; call it before the client
// connects.
func (s *Server) SetHTTP(h HTTP) error {
	if h.Backlog > 0 {
		// Linux takes a second listen() on a listening socket as a new
		// backlog.
		raw, err := s.ln.(*net.TCPListener).SyscallConn()
		if err != nil {
			return err
		}
		var lerr error
		if err := raw.Control(func(fd uintptr) { lerr = syscall.Listen(int(fd), h.Backlog) }); err != nil {
			return err
		}
		if lerr != nil {
			return fmt.Errorf("aritest: listen backlog %d: %w", h.Backlog, lerr)
		}
	}
	s.httpMu.Lock()
	s.http = h
	s.httpMu.Unlock()
	return nil
}

// Conns returns the connection counts.
func (s *Server) Conns() ConnStats {
	s.httpMu.Lock()
	defer s.httpMu.Unlock()
	return s.connStats
}

// AwaitConns waits until the connection counts satisfy ok.
func (s *Server) AwaitConns(ctx context.Context, ok func(ConnStats) bool) (ConnStats, error) {
	for {
		s.httpMu.Lock()
		st, ch := s.connStats, s.connChanged
		s.httpMu.Unlock()
		if ok(st) {
			return st, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return st, fmt.Errorf("connections %+v: %w", st, ctx.Err())
		}
	}
}

func (s *Server) httpOpts() HTTP {
	s.httpMu.Lock()
	defer s.httpMu.Unlock()
	return s.http
}

// connChangedLocked wakes AwaitConns; s.httpMu must be held.
func (s *Server) connChangedLocked() {
	close(s.connChanged)
	s.connChanged = make(chan struct{})
}

// hconn is one accepted connection: its session and idle timer.
type hconn struct {
	net.Conn
	s       *Server
	once    sync.Once
	expired bool // idle for KeepAlive: its session is gone
	idle    *time.Timer
	gen     int // which idle period the timer is for
}

func (c *hconn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		s := c.s
		s.httpMu.Lock()
		s.connStats.Open--
		if !c.expired {
			s.connStats.Sessions--
		}
		if c.idle != nil {
			c.idle.Stop()
		}
		s.connChangedLocked()
		s.httpMu.Unlock()
	})
	return err
}

// listener is the accept thread.
type listener struct {
	net.Listener
	s *Server
}

func (l listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		s := l.s
		h := s.httpOpts()
		if h.Accept > 0 {
			time.Sleep(h.Accept) // the accept thread is busy: the backlog fills
		}
		c := &hconn{Conn: nc, s: s}
		s.httpMu.Lock()
		s.connStats.Accepted++
		over := h.SessionLimit > 0 && s.connStats.Sessions >= h.SessionLimit
		if over {
			s.connStats.Refused++
		} else {
			s.connStats.Open++
			s.connStats.Sessions++
		}
		s.connChangedLocked()
		s.httpMu.Unlock()
		if over {
			nc.Close() // "HTTP session count exceeded": no answer
			continue
		}
		return c, nil
	}
}

type connKey struct{}

// connContext lets a request find its connection.
func connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// connState runs each connection's idle timer.
func (s *Server) connState(nc net.Conn, st http.ConnState) {
	c, ok := nc.(*hconn)
	if !ok {
		return
	}
	s.httpMu.Lock()
	defer s.httpMu.Unlock()
	c.gen++
	if c.idle != nil {
		c.idle.Stop()
		c.idle = nil
	}
	if st != http.StateIdle || s.http.KeepAlive <= 0 || c.expired {
		return
	}
	gen, cross := c.gen, s.http.CrossClose
	c.idle = time.AfterFunc(s.http.KeepAlive, func() {
		s.httpMu.Lock()
		if c.gen != gen || c.expired {
			s.httpMu.Unlock()
			return
		}
		c.expired = true
		s.connStats.Expired++
		s.connStats.Sessions--
		s.connChangedLocked()
		s.httpMu.Unlock()
		if !cross {
			c.Close()
		}
	})
}

// crossed drops a request that arrived on an expired connection: the
// connection is closed without an answer.
func (s *Server) crossed(w http.ResponseWriter, r *http.Request) bool {
	c, ok := r.Context().Value(connKey{}).(*hconn)
	if !ok {
		return false
	}
	s.httpMu.Lock()
	expired := c.expired
	if expired {
		s.connStats.Crossed++
		s.connChangedLocked()
	}
	s.httpMu.Unlock()
	if !expired {
		return false
	}
	if hj, ok := w.(http.Hijacker); ok {
		if nc, _, err := hj.Hijack(); err == nil {
			nc.Close()
			return true
		}
	}
	c.Close()
	return true
}

// serveLatency holds a REST request for HTTP.Latency, one at a time per
// channel; the returned func ends the hold.
func (s *Server) serveLatency(p string) func() {
	h := s.httpOpts()
	if h.Latency <= 0 {
		return func() {}
	}
	var mu *sync.Mutex
	if rest, ok := strings.CutPrefix(p, "/channels/"); ok {
		id, _, _ := strings.Cut(rest, "/")
		if id != "" && id != "externalMedia" {
			s.httpMu.Lock()
			mu = s.chanLocks[id]
			if mu == nil {
				mu = &sync.Mutex{}
				s.chanLocks[id] = mu
			}
			s.httpMu.Unlock()
			mu.Lock()
		}
	}
	time.Sleep(h.Latency)
	return func() {
		if mu != nil {
			mu.Unlock()
		}
	}
}
