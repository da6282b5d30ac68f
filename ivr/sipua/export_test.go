package sipua

// Hooks for the external tests (package sipua_test).

import (
	"time"

	"github.com/canvass/canvass/ivr/media"
)

// LegOf is the media leg of the live call whose SIP Call-ID is callID.
func (s *Server) LegOf(callID string) (media.Leg, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if c.dialog != nil && c.dialog.InviteRequest.CallID().Value() == callID {
			return c.Leg(), true
		}
	}
	return nil, false
}

// CallOf is the live call whose SIP Call-ID is callID, as the session that
// runs on it sees it (an inbound call's ivr.Media).
func (s *Server) CallOf(callID string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if c.dialog != nil && c.dialog.InviteRequest.CallID().Value() == callID {
			return c, true
		}
	}
	return nil, false
}

// SetAckTimers sets T1 and T2 of the wait for the ACK of a 200 OK (RFC
// 3261 §13.3.1.4), so that a test gives up after 64*t1 rather than 32 s.
func (s *Server) SetAckTimers(t1, t2 time.Duration) {
	s.mu.Lock()
	s.t1, s.t2 = t1, t2
	s.mu.Unlock()
}
