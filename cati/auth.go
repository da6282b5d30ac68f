package cati

// This file is API authentication and authorization: a bearer token, looked
// up by its SHA-256, gives a name and a role; each route lists the roles it
// allows (Server.table).

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/canvass/canvass/survey"
)

// principal is who is calling: the token's name and role.
type principal struct {
	name string
	role survey.Role
}

type principalKey struct{}

// authenticate finds the caller from the Authorization header.
func (s *Server) authenticate(r *http.Request) (principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return principal{}, survey.Errorf(survey.EUnauthorized, "missing API token: send the header Authorization: Bearer <token>")
	}
	scheme, token, ok := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return principal{}, survey.Errorf(survey.EUnauthorized, "the Authorization header must be Bearer <token>")
	}
	invalid := survey.Errorf(survey.EUnauthorized, "invalid API token: it is unknown or revoked")
	if !wellFormed(token) {
		return principal{}, invalid
	}
	name, role, err := s.tokens.TokenRole(r.Context(), HashToken(token))
	switch {
	case survey.ErrorCodeOf(err) == survey.ENotFound:
		return principal{}, invalid
	case err != nil:
		return principal{}, fmt.Errorf("look up API token: %w", err)
	}
	return principal{name: name, role: role}, nil
}

// authorize checks that p's role is one of roles.
func authorize(p principal, roles []survey.Role) error {
	if slices.Contains(roles, p.role) {
		return nil
	}
	return survey.Errorf(survey.EForbidden, "a %s token may not do this; it needs one of the roles %s", p.role, roleList(roles))
}

func roleList(roles []survey.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}
