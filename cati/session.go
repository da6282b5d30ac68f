package cati

// This file is console authentication: the login form (bcrypt against the
// account's hash), server-side sessions whose random 32-byte id lives in an
// HttpOnly, SameSite=Lax cookie and only its SHA-256 in the database, idle
// and absolute expiry, logout, the anti-forgery token every state-changing
// request carries, and the role check of every page, call and WebSocket.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/canvass/canvass/survey"
)

// sessionCookie is the name of the console's session cookie.
const sessionCookie = "canvass_session"

// csrfField and csrfHeader carry the session's anti-forgery token in forms
// and in fetch() calls.
const (
	csrfField  = "csrf"
	csrfHeader = "X-CSRF-Token"
)

// session is an authenticated console request's user and session.
type session struct {
	survey.User
	rec survey.Session
}

type sessionKey struct{}

// Who may see which part of the console.
var (
	interviewers = []survey.Role{survey.RoleInterviewer}
	supervisors  = []survey.Role{survey.RoleSupervisor, survey.RoleAdmin}
	admins       = []survey.Role{survey.RoleAdmin}
	consoleUsers = []survey.Role{survey.RoleInterviewer, survey.RoleSupervisor, survey.RoleAdmin}
	// allUsers may sign in: the console's users and managers (alerts).
	allUsers = []survey.Role{survey.RoleInterviewer, survey.RoleSupervisor, survey.RoleAdmin, survey.RoleManager}
)

// home is where a role lands after login.
func home(role survey.Role) string {
	switch role {
	case survey.RoleInterviewer:
		return "/console"
	case survey.RoleAdmin:
		return "/admin"
	case survey.RoleManager:
		return "/alerts"
	}
	return "/supervisor"
}

func hashID(id string) []byte {
	sum := sha256.Sum256([]byte(id))
	return sum[:]
}

// loginPage shows the login form.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) error {
	if sess, err := s.currentSession(r); err == nil {
		http.Redirect(w, r, home(sess.Role), http.StatusSeeOther)
		return nil
	}
	s.render(w, r, http.StatusOK, "login", pageData{Title: "Sign in", Data: map[string]string{"Next": safeNext(r.URL.Query().Get("next")), "Reason": r.URL.Query().Get("reason")}})
	return nil
}

// safeNext keeps a post-login redirect on this site: a path on this host,
// or "". Browsers drop tabs and newlines from a Location and read a
// backslash as a slash, so "/\t/evil.example" and "/\\evil.example" are
// "//evil.example" to them, another site; such characters are refused
// anywhere, in the raw value and in its decoded path.
func safeNext(next string) string {
	if next == "" || !utf8.ValidString(next) || strings.ContainsFunc(next, unsafeInURL) {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	for _, p := range []string{next, u.Path} {
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsFunc(p, unsafeInURL) {
			return ""
		}
	}
	return next
}

// unsafeInURL is a character a browser may drop or reinterpret in a URL.
func unsafeInURL(r rune) bool { return r == '\\' || unicode.IsControl(r) }

// maxNameBytes bounds an account name at sign-in (the throttle keeps the
// names that failed).
const maxNameBytes = 128

// login checks the form's name and password and starts a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	if err := checkOrigin(r); err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return survey.Errorf(survey.EInvalid, "the login form could not be read")
	}
	name, password := strings.TrimSpace(r.PostForm.Get("name")), r.PostForm.Get("password")
	next := safeNext(r.PostForm.Get("next"))
	err := checkText("name", name)
	if err == nil && len(name) > maxNameBytes {
		err = survey.Errorf(survey.EInvalid, "name: at most %d characters", maxNameBytes)
	}
	if err != nil {
		s.render(w, r, http.StatusBadRequest, "login", pageData{Title: "Sign in", Error: survey.ErrorMessage(err),
			Data: map[string]string{"Next": next}})
		return nil
	}
	c := s.console
	if wait := c.logins.attempt(name, r, s.now()); wait > 0 {
		minutes := int((wait + time.Minute - 1) / time.Minute)
		s.log.Warn("login refused: too many failed sign-ins", "user", name, "remote", r.RemoteAddr, "wait", wait.Round(time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
		s.render(w, r, http.StatusTooManyRequests, "login", pageData{Title: "Sign in",
			Error: fmt.Sprintf("Too many failed sign-ins. Try again in %d minute(s).", minutes),
			Data:  map[string]string{"Next": next, "Name": name}})
		return nil
	}
	fail := func() error {
		c.logins.failed(name, r, s.now())
		s.render(w, r, http.StatusUnauthorized, "login", pageData{Title: "Sign in", Error: "Wrong name or password.",
			Data: map[string]string{"Next": next, "Name": name}})
		return nil
	}
	u, err := c.Sessions.User(r.Context(), name)
	switch {
	case survey.ErrorCodeOf(err) == survey.ENotFound:
		// Compare anyway, so that a wrong name takes as long as a wrong
		// password; the result is irrelevant.
		_ = bcrypt.CompareHashAndPassword(c.dummyHash, []byte(password))
		s.log.Info("login refused: unknown user", "user", name)
		return fail()
	case err != nil:
		c.logins.release(name, r)
		return fmt.Errorf("login %q: %w", name, err)
	}
	if bcrypt.CompareHashAndPassword(u.PasswordHash, []byte(password)) != nil || u.Disabled {
		s.log.Info("login refused", "user", name, "disabled", u.Disabled)
		return fail()
	}
	c.logins.succeeded(name, r)
	id := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	now := s.now()
	rec := survey.Session{Hash: hashID(id), UserID: u.ID, CSRF: base64.RawURLEncoding.EncodeToString(randomBytes(32)),
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(c.Options.SessionLifetime)}
	if err := c.Sessions.CreateSession(r.Context(), rec); err != nil {
		return fmt.Errorf("login %q: %w", name, err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil || c.Options.SecureCookies, MaxAge: int(c.Options.SessionLifetime / time.Second),
	})
	s.consoleLog(u).Info("login", "role", u.Role)
	if next == "" {
		next = home(u.Role)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// logout ends the session (the form carries its CSRF token).
func (s *Server) logout(w http.ResponseWriter, r *http.Request, sess *session) error {
	if err := s.console.Sessions.DeleteSession(r.Context(), sess.rec.Hash); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	if sess.Role == survey.RoleInterviewer {
		// Gone from the console: signed out, unless a case is on the desk.
		if err := s.desks.Presence(r.Context(), sess.User, survey.MoveSignOut, ""); err != nil {
			return fmt.Errorf("logout: %w", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil || s.console.Options.SecureCookies, MaxAge: -1})
	s.consoleLog(sess.User).Info("logout")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return b
}

var errNoSession = survey.Errorf(survey.EUnauthorized, "your session has ended; sign in again")

// currentSession finds the request's live session, if any.
func (s *Server) currentSession(r *http.Request) (*session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || len(ck.Value) != 43 {
		return nil, errNoSession
	}
	o := s.console.Options
	rec, u, err := s.console.Sessions.TouchSession(r.Context(), hashID(ck.Value), s.now(), o.IdleTimeout)
	if survey.ErrorCodeOf(err) == survey.ENotFound {
		return nil, errNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	return &session{User: u, rec: rec}, nil
}

// checkOrigin refuses a cross-site state-changing request: when the browser
// says where the request comes from, it must be this site.
func checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		if ref := r.Header.Get("Referer"); ref != "" {
			origin = ref
		} else {
			return nil // not a browser, or one that says nothing: the CSRF token decides
		}
	}
	u, err := url.Parse(origin)
	if err != nil || !strings.EqualFold(u.Host, r.Host) {
		return survey.Errorf(survey.EForbidden, "this request came from another site (%s); it was refused", survey.Clip(origin, 80))
	}
	return nil
}

// checkCSRF checks the anti-forgery token of a state-changing request.
func checkCSRF(r *http.Request, sess *session) error {
	if err := checkOrigin(r); err != nil {
		return err
	}
	token := r.Header.Get(csrfHeader)
	if token == "" {
		token = r.PostFormValue(csrfField) // multipart forms are parsed by their handler
	}
	if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(sess.rec.CSRF)) != 1 {
		return survey.Errorf(survey.EForbidden, "the form has expired or did not come from this site; reload the page and try again")
	}
	return nil
}

// consoleHandler is a console page or action: it gets the session.
type consoleHandler func(w http.ResponseWriter, r *http.Request, sess *session) error

// page wraps a console handler: it requires a live session with one of
// roles, a valid CSRF token on anything but GET/HEAD (unless the handler
// checks it itself, as multipart uploads do: csrfLater), and reports errors
// as an HTML page or, for JSON callers, as the API's error body.
func (s *Server) page(roles []survey.Role, h consoleHandler, csrfLater ...bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Frame-Options", "DENY")
		sess, err := s.currentSession(r)
		if err != nil {
			if errors.Is(err, errNoSession) && r.Method == http.MethodGet && !wantsJSON(r) {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return nil
			}
			return s.consoleFail(w, r, err)
		}
		if !slices.Contains(roles, sess.Role) {
			return s.consoleFail(w, r, survey.Errorf(survey.EForbidden, "%s accounts cannot open this page; it is for %s", sess.Role, roleList(roles)))
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && len(csrfLater) == 0 {
			if err := checkCSRF(r, sess); err != nil {
				return s.consoleFail(w, r, err)
			}
		}
		// The query, and the form when checkCSRF has read it (multipart
		// uploads check their own fields).
		if err := checkValues(r.URL.Query()); err != nil {
			return s.consoleFail(w, r, err)
		}
		if err := checkValues(r.PostForm); err != nil {
			return s.consoleFail(w, r, err)
		}
		r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess))
		if err := h(w, r, sess); err != nil {
			return s.consoleFail(w, r, err)
		}
		return nil
	}
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json") || strings.HasSuffix(r.URL.Path, ".json") ||
		strings.HasSuffix(r.URL.Path, "/status") || r.URL.Path == "/console/whoami"
}

// consoleFail reports err as an HTML error page (JSON for JSON callers).
func (s *Server) consoleFail(w http.ResponseWriter, r *http.Request, err error) error {
	if wantsJSON(r) {
		return err // the route's fail writes the API's JSON error
	}
	code := survey.ErrorCodeOf(err)
	status := codeStatus[code]
	if se, ok := errors.AsType[*statusError](err); ok {
		status = se.status
	}
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		s.requestLog(r).Error("console request failed", "status", status, "err", err)
	} else {
		s.requestLog(r).Info("console request refused", "status", status, "err", err)
	}
	var sess *session
	if v, ok := r.Context().Value(sessionKey{}).(*session); ok {
		sess = v
	}
	s.render(w, r, status, "error", pageData{Title: http.StatusText(status), Error: survey.ErrorMessage(err), Session: sess,
		Data: map[string]any{"Status": status, "SignIn": code == survey.EUnauthorized}})
	return nil
}

// whoami tells the console's scripts who is signed in (and, by a 401, that
// nobody is: they go to the login page).
func (s *Server) whoami(w http.ResponseWriter, r *http.Request, sess *session) error {
	s.writeJSON(w, r, http.StatusOK, map[string]any{"name": sess.Name, "role": sess.Role, "csrf": sess.rec.CSRF,
		"expires_at": sess.rec.ExpiresAt.UTC().Format(time.RFC3339)})
	return nil
}
