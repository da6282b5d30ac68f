package cati

// Hooks for the external tests (package cati_test), compiled only into the
// test binary.

import (
	"strings"
	"time"
)

// SetNow replaces the server's clock.
func SetNow(s *Server, now func() time.Time) { s.now = now }

// Routes are the server's API routes as "METHOD /path" (the catch-all
// left out).
func Routes(s *Server) []string {
	var out []string
	for _, rt := range s.table() {
		if strings.Contains(rt.pattern, " ") {
			out = append(out, rt.pattern)
		}
	}
	return out
}
