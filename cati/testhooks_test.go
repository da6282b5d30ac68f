package cati

// Hooks for the external tests (package cati_test), compiled only into the
// test binary.

import "time"

// SetNow replaces the server's clock.
func SetNow(s *Server, now func() time.Time) { s.now = now }
