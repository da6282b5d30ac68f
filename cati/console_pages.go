package cati

// This file renders the console's HTML: embedded templates (static/pages)
// around one layout, the embedded scripts and styles under /static/, and the
// console's place in the route table.

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/canvass/canvass/survey"
)

//go:embed static
var staticFiles embed.FS

// assets are the parsed templates and the static files.
type assets struct {
	pages  map[string]*template.Template
	static fs.FS
}

func loadAssets() (*assets, error) {
	funcs := template.FuncMap{
		"since":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"when":       func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"add":        func(a, b int) int { return a + b },
		"hhmm":       func(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) },
		"has":        slices.Contains[[]survey.UserID],
		"pathescape": url.PathEscape,
		"duration": func(d time.Duration) string {
			if d <= 0 {
				return "—"
			}
			return d.Round(time.Second).String()
		},
	}
	layout, err := fs.ReadFile(staticFiles, "static/pages/layout.html")
	if err != nil {
		return nil, fmt.Errorf("console assets: %w", err)
	}
	names, err := fs.Glob(staticFiles, "static/pages/*.html")
	if err != nil {
		return nil, fmt.Errorf("console assets: %w", err)
	}
	a := &assets{pages: map[string]*template.Template{}}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		body, err := fs.ReadFile(staticFiles, n)
		if err != nil {
			return nil, fmt.Errorf("console assets: %w", err)
		}
		t, err := template.New("layout").Funcs(funcs).Parse(string(layout))
		if err == nil {
			_, err = t.New(name).Parse(string(body))
		}
		if err != nil {
			return nil, fmt.Errorf("console page %s: %w", name, err)
		}
		a.pages[name] = t
	}
	if a.static, err = fs.Sub(staticFiles, "static"); err != nil {
		return nil, fmt.Errorf("console assets: %w", err)
	}
	return a, nil
}

// pageData is what every page template gets.
type pageData struct {
	Title   string
	Session *session
	Error   string
	Flash   string
	Script  string // an ES module under /static/ to load
	Data    any
}

// CSRF is the session's anti-forgery token, for forms.
func (p pageData) CSRF() string {
	if p.Session == nil {
		return ""
	}
	return p.Session.rec.CSRF
}

// render writes page name inside the layout.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p pageData) {
	if p.Session == nil {
		if v, ok := r.Context().Value(sessionKey{}).(*session); ok {
			p.Session = v
		}
	}
	t := s.console.assets.pages[name]
	var buf bytes.Buffer
	if t == nil {
		s.requestLog(r).Error("no such page template", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", struct {
		pageData
		Page string
	}{p, name}); err != nil {
		s.requestLog(r).Error("render page", "page", name, "err", err)
		http.Error(w, "internal error; the details are in the server log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	w.WriteHeader(status)
	if _, err := w.Write(buf.Bytes()); err != nil {
		s.requestLog(r).Debug("write page", "err", err)
	}
}

// static serves the embedded scripts and styles.
func (s *Server) static(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("file")
	if !strings.HasSuffix(name, ".js") && !strings.HasSuffix(name, ".css") {
		return survey.Errorf(survey.ENotFound, "no such file")
	}
	b, err := fs.ReadFile(s.console.assets.static, name)
	if err != nil {
		http.NotFound(w, r)
		return nil
	}
	ct := "text/css; charset=utf-8"
	if strings.HasSuffix(name, ".js") {
		ct = "text/javascript; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	return nil
}

// root sends a signed-in user to their home page, anyone else to login.
func (s *Server) root(w http.ResponseWriter, r *http.Request) error {
	if sess, err := s.currentSession(r); err == nil {
		http.Redirect(w, r, home(sess.Role), http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// consoleRoutes are the console's routes, none when it is not enabled.
// They are public to the API's bearer check: page() checks the session.
func (s *Server) consoleRoutes() []route {
	if s.console == nil {
		return nil
	}
	return []route{
		{"GET /{$}", public, s.root},
		{"GET /login", public, s.loginPage},
		{"POST /login", public, s.login},
		{"POST /logout", public, s.page(allUsers, s.logout)},
		{"GET /static/{file}", public, s.static},
		{"GET /console/whoami", public, s.page(allUsers, s.whoami)},
		{"GET /console/ws", public, s.serveWS},
		{"GET /console", public, s.page(interviewers, s.consolePage)},
		{"GET /supervisor", public, s.page(supervisors, s.supervisorPage)},
		{"GET /supervisor/report/{id}", public, s.page(supervisors, s.reportPage)},
		{"GET /supervisor/cases/{id}", public, s.page(supervisors, s.casePage)},
		{"GET /supervisor/recordings/{name}", public, s.page(supervisors, s.recordingPage)},
		{"GET /alerts", public, s.page(alertUsers, s.alertsPage)},
		{"GET /dashboard", public, s.page(alertUsers, s.dashboardPage)},
		{"GET /customers/{id}", public, s.page(alertUsers, s.customerPage)},
		{"GET /dashboard.csv", public, s.page(alertUsers, s.dashboardCSV)},
		{"GET /alerts/{id}", public, s.page(alertUsers, s.alertPage)},
		{"POST /alerts/{id}/{action}", public, s.page(alertUsers, s.alertAction)},
		{"GET /admin", public, s.page(admins, s.adminPage)},
		{"POST /admin/questionnaires", public, s.page(admins, s.adminUpload, true)},
		{"GET /admin/campaigns/new", public, s.page(admins, s.campaignForm)},
		{"POST /admin/campaigns", public, s.page(admins, s.createCampaign)},
		{"GET /admin/campaigns/{id}", public, s.page(admins, s.campaignPage)},
		{"POST /admin/campaigns/{id}/status", public, s.page(admins, s.campaignStatus)},
		{"POST /admin/campaigns/{id}/interviewers", public, s.page(admins, s.campaignInterviewers)},
		{"POST /admin/campaigns/{id}/settings", public, s.page(admins, s.campaignSettings)},
		{"POST /admin/users", public, s.page(admins, s.addAccount)},
		{"POST /admin/users/{name}", public, s.page(admins, s.updateAccount)},
		{"POST /admin/campaigns/{id}/sample", public, s.page(admins, s.uploadSample, true)},
		{"GET /admin/imports/{id}/status", public, s.page(admins, s.importStatus)},
		{"GET /admin/webhooks", public, s.page(admins, s.webhooksPage)},
		{"POST /admin/webhooks", public, s.page(admins, s.webhookSubscribe)},
		{"GET /admin/webhooks/{id}", public, s.page(admins, s.webhookDeliveriesPage)},
		{"POST /admin/webhooks/{id}/{action}", public, s.page(admins, s.webhookChange)},
		{"POST /admin/webhooks/{id}/deliveries/{delivery}/replay", public, s.page(admins, s.webhookReplayPage)},
	}
}

func (s *Server) consolePage(w http.ResponseWriter, r *http.Request, sess *session) error {
	s.render(w, r, http.StatusOK, "console", pageData{Title: "Interviewer console", Session: sess, Script: "console.js", Data: s.iceJSON()})
	return nil
}

func (s *Server) supervisorPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	s.render(w, r, http.StatusOK, "supervisor", pageData{Title: "Live floor", Session: sess, Script: "supervisor.js", Data: s.iceJSON()})
	return nil
}
