// Package cati is Canvass's HTTP server: the REST API integrators and
// supervisors use (questionnaires, interviews, reports, CSV export), health
// and Prometheus metrics, and the browser console where interviewers work
// their cases and supervisors watch the floor (console*.go, ws*.go,
// static/). The desk workflow both drive is plain code in desk.go (Desks),
// which the dialer can drive too.
//
// It meets storage only through the small interfaces declared here, in
// survey types, which *sql.DB satisfies (cmd/canvass wires them). Errors
// reach users as JSON built from survey's coded errors, while causes stay
// in the log.
package cati

// This file is the server itself: what it needs, its routes with the roles
// each allows, and how it runs and stops.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/acme/autocert"

	"github.com/canvass/canvass/survey"
)

// QuestionnaireStore keeps questionnaire versions. Unknown ids return an
// error whose survey.ErrorCodeOf is survey.ENotFound.
type QuestionnaireStore interface {
	// PutQuestionnaire stores v as the questionnaire's next version and
	// reports true, or returns the latest version and false when its source
	// is identical to v's.
	PutQuestionnaire(ctx context.Context, v survey.QuestionnaireVersion) (survey.QuestionnaireVersion, bool, error)
	// Questionnaires returns the latest version of each questionnaire.
	Questionnaires(ctx context.Context) ([]survey.QuestionnaireVersion, error)
	// QuestionnaireVersions returns every version of one questionnaire.
	QuestionnaireVersions(ctx context.Context, id string) ([]survey.QuestionnaireVersion, error)
	// Questionnaire returns one version, the latest when version is 0.
	Questionnaire(ctx context.Context, id string, version int) (survey.QuestionnaireVersion, error)
}

// InterviewStore reads stored interviews and counts them for reports. An
// unknown interview returns an error whose code is survey.ENotFound.
type InterviewStore interface {
	Interview(ctx context.Context, id survey.InterviewID) (survey.InterviewRecord, error)
	Interviews(ctx context.Context, f survey.InterviewFilter) ([]survey.InterviewRecord, error)
	// EachInterview calls fn for each selected interview, oldest first,
	// without holding them all in memory; an error from fn stops it.
	EachInterview(ctx context.Context, f survey.InterviewFilter, fn func(survey.InterviewRecord) error) error
	Tally(ctx context.Context, q survey.ReportQuery) ([]survey.Tally, error)
	// ClosedCases counts, per day, week or month (q.By), the cases of the
	// questionnaire's campaigns closed in q's range, by AAPOR rate group.
	ClosedCases(ctx context.Context, q survey.ReportQuery) ([]survey.GroupCounts, error)
}

// Store is everything the server reads and writes, and Ping for /healthz.
type Store interface {
	Ping(ctx context.Context) error
	QuestionnaireStore
	InterviewStore
}

// TokenStore finds API tokens by the SHA-256 of the token (HashToken). An
// unknown or revoked token returns an error whose code is survey.ENotFound.
type TokenStore interface {
	TokenRole(ctx context.Context, hash []byte) (name string, role survey.Role, err error)
}

// Server serves the HTTP API and, when it has one, the console. Build it
// with New; run it with Run, or mount Handler in a server of your own.
type Server struct {
	opts    Options
	store   Store
	tokens  TokenStore
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	parsed  *survey.Parsed
	audio   Audio    // nil: the prompt endpoints answer 503
	dnc     DNCStore // nil: the do-not-call endpoints answer 503
	// requests decide survey requests by requestRules; nil: 503.
	requests     RequestStore
	requestRules survey.RequestRules
	// webhooks keep subscriptions; dispatcher delivers (and replays).
	webhooks    WebhookStore
	webhookOpts WebhookOptions
	dispatcher  *Dispatcher
	console     *console // nil: no console
	desks       *Desks   // with the console
	phones      Phones   // with the console; nil: no browser phone
	// phoneUsers are the users whose browsers connected a phone here
	// (id → survey.User), for moving a desk when its call ends.
	phoneUsers sync.Map
	callSeq    atomic.Uint64 // numbers "call" envelopes, for pages and tests
	api        http.Handler
	pages      http.Handler // the console's routes; nil without it
	handler    http.Handler

	// tls, when set, makes Run serve HTTPS (tls.go); acme issues its
	// certificates when they come from an ACME CA.
	tls  *tls.Config
	acme *autocert.Manager

	mu         sync.Mutex
	ln         net.Listener
	redirectLn net.Listener // plain HTTP to HTTPS, with RedirectAddr
}

// Deps is everything the server uses, given once to New.
type Deps struct {
	Options Options // should have passed Validate
	Store   Store
	Tokens  TokenStore // authenticates API calls
	// Audio is the prompt catalog; nil leaves the prompt and recording
	// endpoints answering 503.
	Audio Audio
	// DNC keeps the do-not-call lists; nil leaves their endpoints
	// answering 503.
	DNC DNCStore
	// Console adds the browser console (login, interviewer console,
	// supervisor live view, admin pages, WebSocket); nil leaves it out. Run
	// its live feed with RunConsole.
	Console *Console
	// Parsed is the questionnaire parse cache to share with the IVR
	// engine; nil: the server keeps its own.
	Parsed *survey.Parsed
	// Mounts are served without authentication, for peers that cannot send
	// a token: Asterisk fetching prompt files it was given long, unguessable
	// URLs for. Pattern → handler.
	Mounts map[string]http.Handler
	// Requests decides survey requests (POST /api/v1/survey-requests) by
	// RequestRules; nil leaves the endpoint answering 503.
	Requests     RequestStore
	RequestRules survey.RequestRules
	// Webhooks keeps webhook subscriptions and their outbox, delivered by
	// the server's Dispatcher (RunWebhooks) with WebhookOptions; nil leaves
	// the endpoints answering 503.
	Webhooks       WebhookStore
	WebhookOptions WebhookOptions
	// Collectors are more metrics for /metrics (the SIP endpoint's).
	Collectors []prometheus.Collector
	Log        *slog.Logger
}

// New returns a server with every dependency it will use.
func New(d Deps) (*Server, error) {
	if d.Store == nil || d.Tokens == nil || d.Log == nil {
		return nil, errors.New("http server: Store, Tokens and Log must be set")
	}
	s := &Server{
		opts:    d.Options,
		store:   d.Store,
		tokens:  d.Tokens,
		log:     d.Log,
		now:     time.Now,
		metrics: newMetrics(d.Collectors...),
		parsed:  d.Parsed,
		audio:   d.Audio,
		dnc:     d.DNC,

		requests:     d.Requests,
		requestRules: d.RequestRules,
		webhooks:     d.Webhooks,
		webhookOpts:  d.WebhookOptions,
	}
	if s.webhookOpts == (WebhookOptions{}) {
		s.webhookOpts = DefaultWebhookOptions()
	}
	if d.Webhooks != nil {
		s.dispatcher = NewDispatcher(d.Webhooks, s.webhookOpts, d.Log.With("component", "webhooks"))
	}
	if s.parsed == nil {
		s.parsed = new(survey.Parsed)
	}
	if d.Console != nil {
		if err := s.enableConsole(*d.Console); err != nil {
			return nil, err
		}
	}
	if err := s.setUpTLS(); err != nil {
		return nil, err
	}
	s.api = s.mux(s.table())
	top := http.NewServeMux()
	for _, rt := range s.table() {
		top.Handle(rt.pattern, s.api)
	}
	if s.console != nil {
		s.pages = s.mux(s.consoleRoutes())
		for _, rt := range s.consoleRoutes() {
			top.Handle(rt.pattern, s.pages)
		}
	}
	for pattern, h := range d.Mounts {
		top.Handle(pattern, h)
	}
	s.handler = s.instrument(top)
	return s, nil
}

// RunWebhooks delivers the webhook outbox until ctx ends (nil without
// webhooks). Run it on every node.
func (s *Server) RunWebhooks(ctx context.Context) error {
	if s.dispatcher == nil {
		return nil
	}
	return s.dispatcher.Run(ctx)
}

// Dispatcher is the server's webhook dispatcher; nil without webhooks.
func (s *Server) Dispatcher() *Dispatcher { return s.dispatcher }

// Who may call what. A route with no roles is public.
var (
	public    []survey.Role
	readers   = []survey.Role{survey.RoleAdmin, survey.RoleSupervisor, survey.RoleIntegrator}
	uploaders = []survey.Role{survey.RoleAdmin, survey.RoleIntegrator}
)

// route is one endpoint: its ServeMux pattern, the roles allowed to call it
// and what it does. A handler returns its error instead of writing it, so
// that every failure is reported the same way (fail).
type route struct {
	pattern string
	roles   []survey.Role
	handle  func(w http.ResponseWriter, r *http.Request) error
}

func (s *Server) table() []route {
	return []route{
		{"GET /healthz", public, s.healthz},
		{"GET /metrics", public, s.serveMetrics},
		{"GET /api/v1/openapi.json", public, s.openapiJSON},

		{"GET /api/v1/questionnaires", readers, s.listQuestionnaires},
		{"POST /api/v1/questionnaires", uploaders, s.uploadQuestionnaire},
		{"GET /api/v1/questionnaires/{id}", readers, s.getQuestionnaire},
		{"PUT /api/v1/questionnaires/{id}", uploaders, s.replaceQuestionnaire},
		{"GET /api/v1/questionnaires/{id}/versions/{version}", readers, s.getVersion},
		{"GET /api/v1/questionnaires/{id}/report", readers, s.report},
		{"GET /api/v1/questionnaires/{id}/export.csv", readers, s.export},
		{"GET /api/v1/questionnaires/{id}/export.sps", readers, s.exportSPS},
		{"GET /api/v1/questionnaires/{id}/export.R", readers, s.exportR},
		{"GET /api/v1/questionnaires/{id}/themes", readers, s.themes},
		{"GET /api/v1/questionnaires/{id}/prompts", readers, s.listPrompts},
		{"PUT /api/v1/questionnaires/{id}/prompts/{lang}/{prompt}", uploaders, s.putPrompt},

		{"GET /api/v1/recordings/{name}", readers, s.getRecording},
		{"GET /api/v1/cases/{id}/why", readers, s.getWhy},

		{"GET /api/v1/interviews", readers, s.listInterviews},
		{"GET /api/v1/interviews/{id}", readers, s.getInterview},

		{"GET /api/v1/dnc", readers, s.listDNC},
		{"POST /api/v1/dnc", uploaders, s.addDNC},
		{"DELETE /api/v1/dnc/{phone}", uploaders, s.removeDNC},
		{"GET /api/v1/campaigns/{id}/dialing", readers, s.getDialing},
		{"GET /api/v1/campaigns/{id}/dnc", readers, s.listDNC},
		{"POST /api/v1/campaigns/{id}/dnc", uploaders, s.addDNC},
		{"DELETE /api/v1/campaigns/{id}/dnc/{phone}", uploaders, s.removeDNC},
		{"POST /api/v1/survey-requests", uploaders, s.requestSurvey},
		{"GET /api/v1/alerts", readers, s.listAlerts},
		{"GET /api/v1/alerts/{id}", readers, s.getAlert},
		{"GET /api/v1/customers/{id}/history", readers, s.getCustomerHistory},
		{"GET /api/v1/webhooks", uploaders, s.listWebhooks},
		{"POST /api/v1/webhooks", uploaders, s.createWebhook},
		{"GET /api/v1/webhooks/{id}", uploaders, s.getWebhook},
		{"PATCH /api/v1/webhooks/{id}", uploaders, s.updateWebhook},
		{"DELETE /api/v1/webhooks/{id}", uploaders, s.deleteWebhook},
		{"GET /api/v1/webhooks/{id}/deliveries", uploaders, s.listDeliveries},
		{"POST /api/v1/webhooks/{id}/deliveries/{delivery}/replay", uploaders, s.replayDelivery},

		// Anything else under /api/ gets a JSON 404 rather than ServeMux's text.
		{"/api/", public, s.noRoute},
	}
}

// mux serves routes, each authenticated and authorized as it says.
func (s *Server) mux(routes []route) *http.ServeMux {
	m := http.NewServeMux()
	for _, rt := range routes {
		m.Handle(rt.pattern, s.endpoint(rt))
	}
	return m
}

// endpoint authenticates and authorizes a request for rt, then runs it.
func (s *Server) endpoint(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.roles != nil {
			p, err := s.authenticate(r)
			if err == nil {
				err = authorize(p, rt.roles)
			}
			if err != nil {
				s.fail(w, r, err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
			// What a token may read, no cache may keep.
			w.Header().Set("Cache-Control", "no-store")
		}
		if err := rt.handle(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

// Handler is the server's routes, instrumented, for mounting elsewhere or
// for httptest: the API's, the console's and the mounts.
func (s *Server) Handler() http.Handler { return s.handler }

// API is the REST API alone (/api/v1, /healthz, /metrics), uninstrumented.
func (s *Server) API() http.Handler { return s.api }

// Pages is the console alone (pages, admin, WebSocket), uninstrumented; nil
// without a console.
func (s *Server) Pages() http.Handler { return s.pages }

// Desks is the desk workflow the console drives, for the dialer to drive
// too; nil without a console.
func (s *Server) Desks() *Desks { return s.desks }

// Listen binds opts.Addr, and opts.RedirectAddr when set. Run calls it
// when it has not been called; call it first to learn the address (Addr)
// before serving, as tests binding 127.0.0.1:0 do.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("http: listen: %w", err)
	}
	if s.tls != nil && s.opts.RedirectAddr != "" {
		if s.redirectLn, err = net.Listen("tcp", s.opts.RedirectAddr); err != nil {
			ln.Close()
			return fmt.Errorf("http: listen on http.redirect_addr: %w", err)
		}
	}
	s.ln = ln
	return nil
}

// Addr is the address the server listens on, "" before Listen.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// RedirectAddr is the address of the plain-HTTP listener that sends
// browsers to HTTPS, "" without one or before Listen.
func (s *Server) RedirectAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.redirectLn == nil {
		return ""
	}
	return s.redirectLn.Addr().String()
}

// URL is where browsers reach the server: https:// with TLS; "" before
// Listen.
func (s *Server) URL() string {
	addr := s.Addr()
	switch {
	case addr == "":
		return ""
	case s.tls != nil && len(s.opts.ACME.Hosts) > 0:
		_, port, _ := net.SplitHostPort(addr)
		if port == "443" {
			return "https://" + s.opts.ACME.Hosts[0]
		}
		return "https://" + net.JoinHostPort(s.opts.ACME.Hosts[0], port)
	case s.tls != nil:
		return "https://" + addr
	}
	return "http://" + addr
}

// shutdownGrace is how long in-flight requests (an export, say) may take to
// finish once Run's context ends.
const shutdownGrace = 15 * time.Second

// Run serves until ctx ends, then stops accepting connections and waits for
// in-flight requests to finish. It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	ln, redirectLn := s.ln, s.redirectLn
	s.mu.Unlock()
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.tls,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	servers := []*http.Server{srv}
	served := make(chan error, 2)
	if s.tls != nil {
		s.log.Info("https listening", "addr", ln.Addr().String(), "acme_hosts", s.opts.ACME.Hosts)
		// The certificate comes from TLSConfig (files or ACME).
		go func() { served <- srv.ServeTLS(ln, "", "") }()
	} else {
		s.log.Info("http listening", "addr", ln.Addr().String())
		go func() { served <- srv.Serve(ln) }()
	}
	if redirectLn != nil {
		redirect := &http.Server{
			Handler:           s.redirectHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       time.Minute,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
		servers = append(servers, redirect)
		s.log.Info("http redirecting to https", "addr", redirectLn.Addr().String(), "acme_http_01", s.acme != nil)
		go func() { served <- redirect.Serve(redirectLn) }()
	}
	var failed error
	select {
	case err := <-served:
		failed = fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	var errs []error
	for _, hs := range servers {
		if err := hs.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("http: shutdown: %w", err), hs.Close())
		}
	}
	if failed != nil {
		return errors.Join(append(errs, failed)...)
	}
	for range servers {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("http: %w", err))
		}
	}
	return errors.Join(errs...)
}

// healthz reports whether the server can reach its database.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Error("health check: store unreachable", "err", err)
		s.writeJSON(w, r, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return nil
	}
	s.writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) error {
	return survey.Errorf(survey.ENotFound, "no such endpoint: %s %s", r.Method, r.URL.Path)
}
