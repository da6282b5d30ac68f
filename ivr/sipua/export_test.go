package sipua

// Hooks for the external tests (package sipua_test).

import "github.com/canvass/canvass/ivr/media"

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
