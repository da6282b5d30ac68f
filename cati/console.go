package cati

// This file is the browser console's side of the server: what it needs from
// storage (small interfaces in cati's own types, which cmd/canvass adapts to
// package sql), its options, and how it joins the route table. The console is
// server-rendered HTML plus ES modules (cati/static), talking to the server
// over one authenticated WebSocket per page (ws.go).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/canvass/canvass/survey"
)

// SessionStore keeps console accounts' sessions. Unknown names and dead
// sessions return errors whose code is survey.ENotFound.
type SessionStore interface {
	User(ctx context.Context, name string) (survey.User, error)
	CreateSession(ctx context.Context, s survey.Session) error
	// TouchSession returns the live session and its account and records its
	// use at now; a session idle for longer than idle, past its expiry or
	// whose account is disabled is not found.
	TouchSession(ctx context.Context, hash []byte, now time.Time, idle time.Duration) (survey.Session, survey.User, error)
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteDeadSessions removes expired sessions, returning how many.
	DeleteDeadSessions(ctx context.Context, now time.Time, idle time.Duration) (int64, error)
}

// CampaignStore keeps campaigns, their interviewers and their sample.
// Changes are audit-logged as actor.
type CampaignStore interface {
	Users(ctx context.Context) ([]survey.User, error)
	CreateCampaign(ctx context.Context, c survey.Campaign, actor string) (survey.CampaignID, error)
	Campaigns(ctx context.Context) ([]survey.Campaign, error)
	Campaign(ctx context.Context, id survey.CampaignID) (survey.Campaign, error)
	SetCampaignStatus(ctx context.Context, id survey.CampaignID, status survey.CampaignStatus, actor string) error
	AssignInterviewers(ctx context.Context, id survey.CampaignID, users []survey.UserID, actor string) error
	// SetFieldLabels records the sample file's names of contact fields.
	SetFieldLabels(ctx context.Context, id survey.CampaignID, labels map[string]string) error
	// UpdateCampaignSettings replaces c's max attempts, windows and settings.
	UpdateCampaignSettings(ctx context.Context, c survey.Campaign, actor string) error
	ImportSample(ctx context.Context, id survey.CampaignID, rows []survey.SampleRow, actor string) (int, []survey.Duplicate, error)
}

// AccountStore keeps console accounts for the admin page, audit-logged as
// actor.
type AccountStore interface {
	AddAccount(ctx context.Context, name string, role survey.Role, passwordHash []byte, actor string) error
	UpdateAccount(ctx context.Context, name string, ch survey.AccountChange, actor string) error
}

// DeskStore moves interviewers through their cases. A step that no longer
// applies — the case was taken by a supervisor, the desk moved on in
// another tab — returns an error whose code is survey.EConflict; a claim
// with nothing due, survey.ENotFound.
type DeskStore interface {
	Desk(ctx context.Context, user survey.UserID) (survey.Desk, error)
	Case(ctx context.Context, id survey.CaseID) (survey.Case, error)
	ClaimNext(ctx context.Context, user survey.UserID, name string, now time.Time) (survey.Desk, error)
	StartDial(ctx context.Context, user survey.UserID, caseID survey.CaseID, now time.Time) (survey.Desk, error)
	Connect(ctx context.Context, user survey.UserID, caseID survey.CaseID, r survey.InterviewRecord, now time.Time) (survey.Desk, error)
	SetDeskQuestion(ctx context.Context, user survey.UserID, interviewID survey.InterviewID, question string) error
	// CompleteInterview ends the desk's interview and raises its
	// end-time alerts with it.
	CompleteInterview(ctx context.Context, user survey.UserID, caseID survey.CaseID, status survey.Status, lastQuestion string, quotaCells []string, alerts []survey.Alert, now time.Time) (survey.Desk, error)
	EndCall(ctx context.Context, user survey.UserID, caseID survey.CaseID, now time.Time) (survey.Desk, error)
	WrapUp(ctx context.Context, user survey.UserID, caseID survey.CaseID, o survey.Outcome, now time.Time) (survey.Desk, error)
	// Today counts the interviewer's answered calls and completes since
	// midnight UTC.
	Today(ctx context.Context, user survey.UserID, now time.Time) (contacts, completes int, err error)
	// Appointments lists the call backs booked with the interviewer.
	Appointments(ctx context.Context, user survey.UserID) ([]survey.Appointment, error)
	// LastWrapped is the interviewer's latest case.wrapped event;
	// survey.ENotFound if there is none.
	LastWrapped(ctx context.Context, user survey.UserID) (survey.Event, error)
	// SetPresence signs a desk in or out, or takes or ends a break.
	SetPresence(ctx context.Context, user survey.UserID, move survey.DeskMove, reason string, now time.Time) (survey.Desk, error)
	// RecordCall stores what the network said of a call the console placed
	// on its attempt.
	RecordCall(ctx context.Context, id survey.AttemptID, f survey.CallFacts) error
	// DialSlots lists the interviewers the dialer may place a call for.
	DialSlots(ctx context.Context) ([]survey.AgentSlot, error)
	// HandDial gives the dialer's answered call to an idle interviewer.
	HandDial(ctx context.Context, user survey.UserID, name string, job survey.DialJob, now time.Time) (survey.Desk, error)
}

// AnswerStore commits answers one at a time, as ivr.Store does: an answer
// and the clearing of the answers it made irrelevant in one transaction.
type AnswerStore interface {
	SaveAnswer(ctx context.Context, id survey.InterviewID, a survey.Answer, cleared ...string) error
	// SaveAnswerAlerts is SaveAnswer raising alerts (survey.Interview.Alerts)
	// in the same transaction, each at most once per interview.
	SaveAnswerAlerts(ctx context.Context, id survey.InterviewID, a survey.Answer, alerts []survey.Alert, cleared ...string) error
}

// FloorStore is what supervisors read and do. Reassign, Release and
// SetDisposition write an audit-log entry as actor.
type FloorStore interface {
	Floor(ctx context.Context, now time.Time) (survey.Floor, error)
	Reassign(ctx context.Context, actor string, caseID survey.CaseID, to survey.UserID, toName string, now time.Time) error
	ReassignAppointment(ctx context.Context, actor string, caseID survey.CaseID, to survey.UserID, toName string, now time.Time) error
	Release(ctx context.Context, actor string, caseID survey.CaseID, now time.Time) error
	SetDisposition(ctx context.Context, actor string, actorID survey.UserID, caseID survey.CaseID, o survey.Outcome, now time.Time) error
}

// EventFeed is the live feed: events committed by any node, announced by id.
type EventFeed interface {
	// ListenEvents calls notify with each new event's id until ctx ends,
	// and connected after every (re)connection.
	ListenEvents(ctx context.Context, connected func(), notify func(id int64)) error
	EventsAfter(ctx context.Context, after int64, limit int) ([]survey.Event, error)
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
	// NextCaseDelay is how long after a case is settled the next one comes
	// by itself (the interviewer may stay); 0 waits for the interviewer.
	NextCaseDelay time.Duration `yaml:"next_case_delay"`
	// RecoveryCampaign is the running interviewer campaign an alert's
	// "call back now" opens a case in, by name; "" disables it.
	RecoveryCampaign string `yaml:"recovery_campaign"`
	// Journey is the customer journey's stages in order, each a touchpoint
	// (context.touchpoint), e.g. purchase, delivery, support, renewal: the
	// dashboard shows the transactional surveys' scores along it.
	Journey []string `yaml:"journey"`
}

// DefaultConsoleOptions: a working shift with lunch idle, a day at most.
func DefaultConsoleOptions() ConsoleOptions {
	return ConsoleOptions{IdleTimeout: 2 * time.Hour, SessionLifetime: 12 * time.Hour, DefaultRegion: "US", MaxUploadBytes: 64 << 20,
		NextCaseDelay: 3 * time.Second}
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
	for i, stage := range o.Journey {
		if stage == "" || slices.Contains(o.Journey[:i], stage) {
			errs = append(errs, fmt.Errorf("console.journey: stage %d %q must be a touchpoint named once (e.g. [purchase, delivery, support, renewal])", i+1, stage))
		}
	}
	if len(o.DefaultRegion) != 2 {
		errs = append(errs, fmt.Errorf("console.default_region: %q is not a two-letter country code", o.DefaultRegion))
	}
	if o.NextCaseDelay < 0 || o.NextCaseDelay > time.Minute || o.NextCaseDelay%time.Second != 0 {
		errs = append(errs, fmt.Errorf("console.next_case_delay: whole seconds from 0 (off) to 1m, not %s", o.NextCaseDelay))
	}
	if o.MaxUploadBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("console.max_upload_bytes: must be at least 1024, not %d", o.MaxUploadBytes))
	}
	return errors.Join(errs...)
}

// Console is what the console needs; cmd/canvass fills it in and hands it to
// New.
type Console struct {
	Options   ConsoleOptions
	Sessions  SessionStore
	Campaigns CampaignStore
	Accounts  AccountStore
	Desks     DeskStore
	Answers   AnswerStore
	Floor     FloorStore
	Events    EventFeed
	// Phones make the console a phone (ivr/phone's Switchboard); nil: the
	// interviewers use another phone and record what happened.
	Phones Phones
	Phone  PhoneOptions
	// Keypads hand an interviewer's respondent to the keypad (mixed
	// mode); nil: interviewers cannot.
	Keypads Keypads
	// Alerts is the alert inbox's store; nil leaves it out.
	Alerts AlertStore
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
	// names are account names for the live feed (events.go).
	names names
}

// enableConsole sets up the console over c's stores.
func (s *Server) enableConsole(c Console) error {
	if err := c.Options.Validate(); err != nil {
		return err
	}
	if c.Sessions == nil || c.Campaigns == nil || c.Accounts == nil || c.Desks == nil || c.Answers == nil || c.Floor == nil || c.Events == nil {
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
	s.desks = NewDesks(c, s.store, s.parsed, func() time.Time { return s.now() }, s.log.With("component", "desks"))
	s.phones = c.Phones
	return nil
}

// RunConsole runs the live feed — LISTEN on the database, fan-out to the
// WebSockets, floor snapshots for supervisors — until ctx ends. It returns
// nil at once when the console is not enabled.
func (s *Server) RunConsole(ctx context.Context) error {
	if s.console == nil {
		return nil
	}
	go s.runPhone(ctx)
	return s.runFeed(ctx)
}

// userLocks serializes one interviewer's console actions on this node, so
// that two tabs cannot interleave an answer and a back-up.
type userLocks struct {
	mu sync.Mutex
	m  map[survey.UserID]*sync.Mutex
}

func (l *userLocks) lock(user survey.UserID) func() {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[survey.UserID]*sync.Mutex{}
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
func (s *Server) consoleLog(u survey.User) *slog.Logger { return userLogger(s.log, u) }

// userLogger is log for one user's steps, keyed interviewer or user.
func userLogger(log *slog.Logger, u survey.User) *slog.Logger {
	key := "user"
	if u.Role == survey.RoleInterviewer {
		key = "interviewer"
	}
	return log.With(key, u.Name)
}
