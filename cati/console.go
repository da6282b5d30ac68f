package cati

// This file is the browser console's side of the server: what it needs from
// storage (small interfaces in cati's own types, which cmd/canvass adapts to
// package sql), its options, and how it joins the route table. The console is
// server-rendered HTML plus ES modules (cati/static), talking to the server
// over one authenticated WebSocket per page (ws.go).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/canvass/canvass/survey"
)

// Account is a console user.
type Account struct {
	ID           int64
	Name         string
	Role         survey.Role
	PasswordHash []byte
	Disabled     bool
}

// SessionRecord is a stored console session: the SHA-256 of the cookie's id,
// never the id itself.
type SessionRecord struct {
	Hash      []byte
	UserID    int64
	CSRF      string
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
}

// SessionStore keeps console accounts' sessions. Unknown names and dead
// sessions return errors whose code is survey.ENotFound.
type SessionStore interface {
	User(ctx context.Context, name string) (Account, error)
	CreateSession(ctx context.Context, s SessionRecord) error
	// TouchSession returns the live session and its account and records its
	// use at now; a session idle for longer than idle, past its expiry or
	// whose account is disabled is not found.
	TouchSession(ctx context.Context, hash []byte, now time.Time, idle time.Duration) (SessionRecord, Account, error)
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteDeadSessions removes expired sessions, returning how many.
	DeleteDeadSessions(ctx context.Context, now time.Time, idle time.Duration) (int64, error)
}

// Window is a calling window on weekday Dow (0 = Sunday) from Opens to
// Closes, in minutes after the respondent's local midnight.
type Window struct {
	Dow    int
	Opens  int
	Closes int
}

// Campaign is a campaign as the admin pages edit it.
type Campaign struct {
	ID            int64
	Name          string
	Questionnaire string
	Mode          string
	Status        string
	MaxAttempts   int
	Settings      json.RawMessage // CampaignSettings as JSON
	Windows       []Window
	Interviewers  []int64
	CreatedAt     time.Time
}

// CampaignSettings are the parts of a campaign the console interprets.
type CampaignSettings struct {
	// RetrySeconds overrides the catalog's retry delay per disposition code.
	RetrySeconds map[survey.DispositionCode]int64 `json:"retry_seconds,omitempty"`
	// Quotas are the target completes per quota cell of the questionnaire.
	Quotas map[string]int `json:"quotas,omitempty"`
	// E is the eligible share of unknown-eligibility cases used for RR3,
	// RR4, REF2 and CON2; nil = the proportional default.
	E *float64 `json:"e,omitempty"`
}

// SampleRow is one contact of a sample file, ready to store.
type SampleRow struct {
	Line     int
	Phone    string
	TZ       string
	Language string
	Priority int
	Attrs    map[string]string
}

// Duplicate is a sample row left out because its number is already there.
type Duplicate struct {
	Line  int
	Phone string
}

// CampaignStore keeps campaigns, their interviewers and their sample.
// Changes are audit-logged as actor.
type CampaignStore interface {
	Users(ctx context.Context) ([]Account, error)
	CreateCampaign(ctx context.Context, c Campaign, actor string) (int64, error)
	Campaigns(ctx context.Context) ([]Campaign, error)
	Campaign(ctx context.Context, id int64) (Campaign, error)
	SetCampaignStatus(ctx context.Context, id int64, status, actor string) error
	AssignInterviewers(ctx context.Context, id int64, users []int64, actor string) error
	ImportSample(ctx context.Context, id int64, rows []SampleRow, actor string) (int, []Duplicate, error)
}

// Desk states: what an interviewer is doing.
const (
	DeskIdle         = "idle"
	DeskOnCase       = "on_case"
	DeskDialing      = "dialing"
	DeskInterviewing = "interviewing"
	DeskWrapUp       = "wrap_up"
)

// Desk is where an interviewer stands. Zero ids mean none.
type Desk struct {
	UserID      int64
	State       string
	CaseID      int64
	CampaignID  int64
	AttemptID   int64
	InterviewID int64
	Question    string
	Since       time.Time
}

// Contact is a respondent.
type Contact struct {
	ID       int64
	Phone    string
	TZ       string
	Language string
	Attrs    map[string]string
}

// AttemptRow is one call attempt of a case.
type AttemptRow struct {
	ID          int64
	StartedAt   time.Time
	AnsweredAt  *time.Time
	EndedAt     *time.Time
	Disposition string
	Interviewer string
	Note        string
}

// Note is a note on a case.
type Note struct {
	At     time.Time
	Author string
	Body   string
}

// Appointment is a call back agreed with the respondent.
type Appointment struct {
	ID          int64
	At          time.Time
	Status      string
	Interviewer string
	Note        string
}

// CaseDetail is a case with its contact and history.
type CaseDetail struct {
	ID               int64
	CampaignID       int64
	CampaignName     string
	Questionnaire    string
	Status           string
	Priority         int
	Attempts         int
	MaxAttempts      int
	OwnerUserID      int64
	InterviewID      int64
	NextAttemptAt    time.Time
	LastDisposition  string
	FinalDisposition string
	Contact          Contact
	History          []AttemptRow
	Notes            []Note
	Appointments     []Appointment
}

// Outcome is how a case leaves an interviewer's or a supervisor's hands.
type Outcome struct {
	AttemptCode     string
	Note            string
	Status          string // open, appointment or closed
	FinalCode       string
	NextAttemptAt   time.Time
	AppointmentAt   time.Time
	FinishInterview survey.Status
	LastQuestion    string
}

// DeskStore moves interviewers through their cases. A step that no longer
// applies — the case was taken by a supervisor, the desk moved on in
// another tab — returns an error whose code is survey.EConflict; a claim
// with nothing due, survey.ENotFound.
type DeskStore interface {
	Desk(ctx context.Context, user int64) (Desk, error)
	Case(ctx context.Context, id int64) (CaseDetail, error)
	ClaimNext(ctx context.Context, user int64, name string, now time.Time) (Desk, error)
	StartDial(ctx context.Context, user, caseID int64, now time.Time) (Desk, error)
	Connect(ctx context.Context, user, caseID int64, r survey.InterviewRecord, now time.Time) (Desk, error)
	SetDeskQuestion(ctx context.Context, user, interviewID int64, question string) error
	CompleteInterview(ctx context.Context, user, caseID int64, status survey.Status, lastQuestion string, quotaCells []string, now time.Time) (Desk, error)
	EndCall(ctx context.Context, user, caseID int64, now time.Time) (Desk, error)
	WrapUp(ctx context.Context, user, caseID int64, o Outcome, now time.Time) (Desk, error)
}

// AnswerStore commits answers one at a time, as ivr.Store does.
type AnswerStore interface {
	SaveAnswer(ctx context.Context, id survey.InterviewID, a survey.Answer) error
	ClearAnswers(ctx context.Context, id survey.InterviewID, questions []string) error
}

// DeskRow is one interviewer on the floor.
type DeskRow struct {
	UserID         int64
	Name           string
	State          string
	Since          time.Time
	CaseID         int64
	CampaignID     int64
	CompletesHour  int
	CompletesToday int
}

// CampaignProgress is one campaign's fieldwork so far.
type CampaignProgress struct {
	ID              int64
	Name            string
	Questionnaire   string
	Status          string
	Cases           int
	Open            int
	Claimed         int
	Appointments    int
	AppointmentsDue int
	Closed          int
	Completes       int
	Partials        int
	Refusals        int
	Groups          survey.Counts
	QuotaFill       map[string]int
	Values          map[string]map[int64]int
}

// Floor is the whole floor at one instant.
type Floor struct {
	At        time.Time
	Desks     []DeskRow
	Campaigns []CampaignProgress
}

// FloorStore is what supervisors read and do. Reassign, Release and
// SetDisposition write an audit-log entry as actor.
type FloorStore interface {
	Floor(ctx context.Context, now time.Time) (Floor, error)
	Reassign(ctx context.Context, actor string, caseID, to int64, toName string, now time.Time) error
	Release(ctx context.Context, actor string, caseID int64, now time.Time) error
	SetDisposition(ctx context.Context, actor string, actorID, caseID int64, o Outcome, now time.Time) error
}

// Event is one entry of the live feed.
type Event struct {
	ID          int64
	At          time.Time
	Kind        string
	CampaignID  int64
	InterviewID int64
	UserID      int64
	CaseID      int64
	Payload     json.RawMessage
}

// EventFeed is the live feed: events committed by any node, announced by id.
type EventFeed interface {
	// ListenEvents calls notify with each new event's id until ctx ends,
	// and connected after every (re)connection.
	ListenEvents(ctx context.Context, connected func(), notify func(id int64)) error
	EventsAfter(ctx context.Context, after int64, limit int) ([]Event, error)
	LastEventID(ctx context.Context) (int64, error)
	// PruneEvents deletes events older than before, but the newest.
	PruneEvents(ctx context.Context, before time.Time) (int64, error)
}

// ConsoleOptions configure the console's sessions.
type ConsoleOptions struct {
	// SecureCookies marks the session cookie Secure even on plain HTTP (a
	// TLS-terminating proxy in front); it is always Secure over TLS.
	SecureCookies bool `yaml:"secure_cookies"`
	// IdleTimeout ends a session nobody used for this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// SessionLifetime ends a session this long after login, used or not.
	SessionLifetime time.Duration `yaml:"session_lifetime"`
	// DefaultRegion is the ISO country of sample numbers written without
	// a +country prefix, e.g. US.
	DefaultRegion string `yaml:"default_region"`
	// MaxUploadBytes bounds an uploaded sample file.
	MaxUploadBytes int64 `yaml:"max_upload_bytes"`
}

// DefaultConsoleOptions: a working shift with lunch idle, a day at most.
func DefaultConsoleOptions() ConsoleOptions {
	return ConsoleOptions{IdleTimeout: 2 * time.Hour, SessionLifetime: 12 * time.Hour, DefaultRegion: "US", MaxUploadBytes: 64 << 20}
}

// Validate returns every problem at once.
func (o ConsoleOptions) Validate() error {
	var errs []error
	if o.IdleTimeout < time.Minute {
		errs = append(errs, fmt.Errorf("console.idle_timeout: must be at least 1m, not %s", o.IdleTimeout))
	}
	if o.SessionLifetime < o.IdleTimeout {
		errs = append(errs, fmt.Errorf("console.session_lifetime: must be at least the idle timeout %s, not %s", o.IdleTimeout, o.SessionLifetime))
	}
	if len(o.DefaultRegion) != 2 {
		errs = append(errs, fmt.Errorf("console.default_region: %q is not a two-letter country code", o.DefaultRegion))
	}
	if o.MaxUploadBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("console.max_upload_bytes: must be at least 1024, not %d", o.MaxUploadBytes))
	}
	return errors.Join(errs...)
}

// Console is what the console needs; cmd/canvass fills it in and hands it to
// Server.EnableConsole.
type Console struct {
	Options   ConsoleOptions
	Sessions  SessionStore
	Campaigns CampaignStore
	Desks     DeskStore
	Answers   AnswerStore
	Floor     FloorStore
	Events    EventFeed
}

// console is the server's console state.
type console struct {
	Console
	hub     *hub
	imports *imports
	assets  *assets
	locks   userLocks
	// dummyHash is compared against when a login names no account.
	dummyHash []byte
	// logins slows down password guessing (throttle.go).
	logins *throttle
}

// EnableConsole adds the browser console (login, interviewer console,
// supervisor live view, admin pages, WebSocket) to the server's routes. It
// rebuilds the route table, so call it right after New, before Mount and
// before serving; RunConsole runs its live feed.
func (s *Server) EnableConsole(c Console) error {
	if err := c.Options.Validate(); err != nil {
		return err
	}
	if c.Sessions == nil || c.Campaigns == nil || c.Desks == nil || c.Answers == nil || c.Floor == nil || c.Events == nil {
		return errors.New("console: every store must be set")
	}
	a, err := loadAssets()
	if err != nil {
		return err
	}
	dummy, err := bcrypt.GenerateFromPassword(randomBytes(16), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	s.console = &console{Console: c, hub: newHub(s.log.With("component", "hub")), imports: newImports(), assets: a, dummyHash: dummy, logins: newThrottle()}
	s.handler = s.routes()
	return nil
}

// RunConsole runs the live feed — LISTEN on the database, fan-out to the
// WebSockets, floor snapshots for supervisors — until ctx ends. It returns
// nil at once when the console is not enabled.
func (s *Server) RunConsole(ctx context.Context) error {
	if s.console == nil {
		return nil
	}
	return s.runFeed(ctx)
}

// userLocks serializes one interviewer's console actions on this node, so
// that two tabs cannot interleave an answer and a back-up.
type userLocks struct {
	mu sync.Mutex
	m  map[int64]*sync.Mutex
}

func (l *userLocks) lock(user int64) func() {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[int64]*sync.Mutex{}
	}
	m, ok := l.m[user]
	if !ok {
		m = &sync.Mutex{}
		l.m[user] = m
	}
	l.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// consoleLog is the logger of one user's request or connection.
func (s *Server) consoleLog(u Account) *slog.Logger {
	key := "user"
	if u.Role == survey.RoleInterviewer {
		key = "interviewer"
	}
	return s.log.With(key, u.Name)
}
