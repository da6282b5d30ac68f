package wiring

// This file wires the browser console: it adapts the database (package sql)
// to the stores cati's console consumes — converting sql's row types to
// cati's and sql's sentinel errors to survey codes (coded, store.go) — and
// enables the console on the HTTP server.

import (
	"context"
	"time"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// consoleStore is the database as the console sees it.
type consoleStore struct{ db *sql.DB }

var (
	_ cati.SessionStore  = consoleStore{}
	_ cati.CampaignStore = consoleStore{}
	_ cati.DeskStore     = consoleStore{}
	_ cati.AnswerStore   = consoleStore{}
	_ cati.FloorStore    = consoleStore{}
	_ cati.EventFeed     = consoleStore{}
)

// EnableConsole turns on the console of srv over db. Run srv.RunConsole
// beside srv.Run.
func EnableConsole(srv *cati.Server, db *sql.DB, opts cati.ConsoleOptions) error {
	a := consoleStore{db}
	return srv.EnableConsole(cati.Console{Options: opts, Sessions: a, Campaigns: a, Desks: a, Answers: a, Floor: a, Events: a})
}

func (a consoleStore) User(ctx context.Context, name string) (cati.Account, error) {
	u, err := a.db.User(ctx, name)
	return cati.Account(u), coded(err)
}

func (a consoleStore) CreateSession(ctx context.Context, s cati.SessionRecord) error {
	return coded(a.db.CreateSession(ctx, sql.Session(s)))
}

func (a consoleStore) TouchSession(ctx context.Context, hash []byte, now time.Time, idle time.Duration) (cati.SessionRecord, cati.Account, error) {
	s, u, err := a.db.TouchSession(ctx, hash, now, idle)
	return cati.SessionRecord(s), cati.Account(u), coded(err)
}

func (a consoleStore) DeleteSession(ctx context.Context, hash []byte) error {
	return coded(a.db.DeleteSession(ctx, hash))
}

func (a consoleStore) DeleteDeadSessions(ctx context.Context, now time.Time, idle time.Duration) (int64, error) {
	n, err := a.db.DeleteDeadSessions(ctx, now, idle)
	return n, coded(err)
}

func (a consoleStore) Users(ctx context.Context) ([]cati.Account, error) {
	us, err := a.db.Users(ctx)
	return convert(us, func(u sql.User) cati.Account { return cati.Account(u) }), coded(err)
}

func campaignIn(c cati.Campaign) sql.Campaign {
	return sql.Campaign{ID: c.ID, Name: c.Name, Questionnaire: c.Questionnaire, Mode: c.Mode, Status: c.Status,
		MaxAttempts: c.MaxAttempts, Settings: c.Settings, Interviewers: c.Interviewers, CreatedAt: c.CreatedAt,
		Windows: convert(c.Windows, func(w cati.Window) sql.Window { return sql.Window(w) })}
}

func campaignOut(c sql.Campaign) cati.Campaign {
	return cati.Campaign{ID: c.ID, Name: c.Name, Questionnaire: c.Questionnaire, Mode: c.Mode, Status: c.Status,
		MaxAttempts: c.MaxAttempts, Settings: c.Settings, Interviewers: c.Interviewers, CreatedAt: c.CreatedAt,
		Windows: convert(c.Windows, func(w sql.Window) cati.Window { return cati.Window(w) })}
}

func (a consoleStore) CreateCampaign(ctx context.Context, c cati.Campaign, actor string) (int64, error) {
	id, err := a.db.CreateCampaign(ctx, campaignIn(c), actor)
	return id, coded(err)
}

func (a consoleStore) Campaigns(ctx context.Context) ([]cati.Campaign, error) {
	cs, err := a.db.Campaigns(ctx)
	return convert(cs, campaignOut), coded(err)
}

func (a consoleStore) Campaign(ctx context.Context, id int64) (cati.Campaign, error) {
	c, err := a.db.Campaign(ctx, id)
	return campaignOut(c), coded(err)
}

func (a consoleStore) SetCampaignStatus(ctx context.Context, id int64, status, actor string) error {
	return coded(a.db.SetCampaignStatus(ctx, id, status, actor))
}

func (a consoleStore) AssignInterviewers(ctx context.Context, id int64, users []int64, actor string) error {
	return coded(a.db.AssignInterviewers(ctx, id, users, actor))
}

func (a consoleStore) ImportSample(ctx context.Context, id int64, rows []cati.SampleRow, actor string) (int, []cati.Duplicate, error) {
	n, dups, err := a.db.ImportSample(ctx, id, convert(rows, func(r cati.SampleRow) sql.SampleRow { return sql.SampleRow(r) }), actor)
	return n, convert(dups, func(d sql.Duplicate) cati.Duplicate { return cati.Duplicate(d) }), coded(err)
}

func (a consoleStore) Desk(ctx context.Context, user int64) (cati.Desk, error) {
	d, err := a.db.Desk(ctx, user)
	return cati.Desk(d), coded(err)
}

func (a consoleStore) Case(ctx context.Context, id int64) (cati.CaseDetail, error) {
	c, err := a.db.Case(ctx, id)
	return cati.CaseDetail{ID: c.ID, CampaignID: c.CampaignID, CampaignName: c.CampaignName, Questionnaire: c.Questionnaire,
		Status: c.Status, Priority: c.Priority, Attempts: c.Attempts, MaxAttempts: c.MaxAttempts, OwnerUserID: c.OwnerUserID,
		InterviewID: c.InterviewID, NextAttemptAt: c.NextAttemptAt, LastDisposition: c.LastDisposition,
		FinalDisposition: c.FinalDisposition, Contact: cati.Contact(c.Contact),
		History:      convert(c.History, func(x sql.AttemptRow) cati.AttemptRow { return cati.AttemptRow(x) }),
		Notes:        convert(c.Notes, func(x sql.Note) cati.Note { return cati.Note(x) }),
		Appointments: convert(c.Appointments, func(x sql.Appointment) cati.Appointment { return cati.Appointment(x) }),
	}, coded(err)
}

func (a consoleStore) ClaimNext(ctx context.Context, user int64, name string, now time.Time) (cati.Desk, error) {
	d, err := a.db.ClaimNext(ctx, user, name, now)
	return cati.Desk(d), coded(err)
}

func (a consoleStore) StartDial(ctx context.Context, user, caseID int64, now time.Time) (cati.Desk, error) {
	d, err := a.db.StartDial(ctx, user, caseID, now)
	return cati.Desk(d), coded(err)
}

func (a consoleStore) Connect(ctx context.Context, user, caseID int64, r survey.InterviewRecord, now time.Time) (cati.Desk, error) {
	d, err := a.db.Connect(ctx, user, caseID, r, now)
	return cati.Desk(d), coded(err)
}

func (a consoleStore) SetDeskQuestion(ctx context.Context, user, interviewID int64, question string) error {
	return coded(a.db.SetDeskQuestion(ctx, user, interviewID, question))
}

func (a consoleStore) CompleteInterview(ctx context.Context, user, caseID int64, status survey.Status, lastQuestion string, cells []string, now time.Time) (cati.Desk, error) {
	d, err := a.db.CompleteInterview(ctx, user, caseID, status, lastQuestion, cells, now)
	return cati.Desk(d), coded(err)
}

func (a consoleStore) EndCall(ctx context.Context, user, caseID int64, now time.Time) (cati.Desk, error) {
	d, err := a.db.EndCall(ctx, user, caseID, now)
	return cati.Desk(d), coded(err)
}

func (a consoleStore) WrapUp(ctx context.Context, user, caseID int64, o cati.Outcome, now time.Time) (cati.Desk, error) {
	d, err := a.db.WrapUp(ctx, user, caseID, sql.Outcome(o), now)
	return cati.Desk(d), coded(err)
}

func (a consoleStore) SaveAnswer(ctx context.Context, id survey.InterviewID, ans survey.Answer) error {
	return coded(a.db.SaveAnswer(ctx, id, ans))
}

func (a consoleStore) ClearAnswers(ctx context.Context, id survey.InterviewID, questions []string) error {
	return coded(a.db.ClearAnswers(ctx, id, questions))
}

func (a consoleStore) Floor(ctx context.Context, now time.Time) (cati.Floor, error) {
	f, err := a.db.Floor(ctx, now)
	return cati.Floor{At: f.At,
		Desks:     convert(f.Desks, func(d sql.DeskRow) cati.DeskRow { return cati.DeskRow(d) }),
		Campaigns: convert(f.Campaigns, func(c sql.CampaignProgress) cati.CampaignProgress { return cati.CampaignProgress(c) }),
	}, coded(err)
}

func (a consoleStore) Reassign(ctx context.Context, actor string, caseID, to int64, toName string, now time.Time) error {
	return coded(a.db.Reassign(ctx, actor, caseID, to, toName, now))
}

func (a consoleStore) Release(ctx context.Context, actor string, caseID int64, now time.Time) error {
	return coded(a.db.Release(ctx, actor, caseID, now))
}

func (a consoleStore) SetDisposition(ctx context.Context, actor string, actorID, caseID int64, o cati.Outcome, now time.Time) error {
	return coded(a.db.SetDisposition(ctx, actor, actorID, caseID, sql.Outcome(o), now))
}

func (a consoleStore) ListenEvents(ctx context.Context, connected func(), notify func(id int64)) error {
	return a.db.ListenEvents(ctx, connected, notify)
}

func (a consoleStore) EventsAfter(ctx context.Context, after int64, limit int) ([]cati.Event, error) {
	es, err := a.db.EventsAfter(ctx, after, limit)
	return convert(es, func(e sql.Event) cati.Event { return cati.Event(e) }), coded(err)
}

func (a consoleStore) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	n, err := a.db.PruneEvents(ctx, before)
	return n, coded(err)
}

func (a consoleStore) LastEventID(ctx context.Context) (int64, error) {
	id, err := a.db.LastEventID(ctx)
	return id, coded(err)
}

// convert maps a slice; nil stays nil.
func convert[A, B any](in []A, f func(A) B) []B {
	if in == nil {
		return nil
	}
	out := make([]B, len(in))
	for i, x := range in {
		out[i] = f(x)
	}
	return out
}
