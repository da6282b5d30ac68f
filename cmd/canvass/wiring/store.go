// Package wiring adapts the database (package sql) to the interfaces its
// consumers declare — cati.Store and cati.TokenStore, ivr.Store and
// ivr.Questionnaires, the console's stores — for cmd/canvass and for the
// consumers' own tests, which cannot import package main. cati and ivr may
// not import sql, and they read errors only by survey's codes: here sql's
// sentinels become coded errors (ErrNotFound → ENotFound, ErrConflict →
// EConflict) that keep the store's explanation, the sql error still wrapped
// for the log.
package wiring

import (
	"context"
	"errors"
	"fmt"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// Store is the database as the HTTP server and the IVR engine see it.
type Store struct{ db *sql.DB }

// NewStore adapts db.
func NewStore(db *sql.DB) Store { return Store{db} }

var (
	_ cati.Store      = Store{}
	_ cati.TokenStore = Store{}
)

// coded gives sql's sentinel errors the survey code cati maps to a status,
// with the store's own explanation (a *sql.Refusal: "no case 7",
// "interviewer ian is busy (on case)") as the message when it gave one.
func coded(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNotFound):
		return fmt.Errorf("%w: %w", survey.Errorf(survey.ENotFound, "%s", reason(err, "not found")), err)
	case errors.Is(err, sql.ErrConflict):
		return fmt.Errorf("%w: %w", survey.Errorf(survey.EConflict, "%s", reason(err, "it changed meanwhile; reload and try again")), err)
	}
	return err
}

// reason is the message of the store's refusal in err, or otherwise.
func reason(err error, otherwise string) string {
	if r, ok := errors.AsType[*sql.Refusal](err); ok {
		return r.Reason
	}
	return otherwise
}

func (a Store) Ping(ctx context.Context) error { return a.db.Pool().Ping(ctx) }

func (a Store) PutQuestionnaire(ctx context.Context, v survey.QuestionnaireVersion) (survey.QuestionnaireVersion, bool, error) {
	v, created, err := a.db.PutQuestionnaire(ctx, v)
	return v, created, coded(err)
}

func (a Store) Questionnaires(ctx context.Context) ([]survey.QuestionnaireVersion, error) {
	vs, err := a.db.Questionnaires(ctx)
	return vs, coded(err)
}

func (a Store) QuestionnaireVersions(ctx context.Context, id string) ([]survey.QuestionnaireVersion, error) {
	vs, err := a.db.QuestionnaireVersions(ctx, id)
	return vs, coded(err)
}

func (a Store) Questionnaire(ctx context.Context, id string, version int) (survey.QuestionnaireVersion, error) {
	v, err := a.db.Questionnaire(ctx, id, version)
	return v, coded(err)
}

func (a Store) Interview(ctx context.Context, id survey.InterviewID) (survey.InterviewRecord, error) {
	r, err := a.db.Interview(ctx, id)
	return r, coded(err)
}

func (a Store) Interviews(ctx context.Context, f survey.InterviewFilter) ([]survey.InterviewRecord, error) {
	rs, err := a.db.Interviews(ctx, f)
	return rs, coded(err)
}

func (a Store) EachInterview(ctx context.Context, f survey.InterviewFilter, fn func(survey.InterviewRecord) error) error {
	return coded(a.db.EachInterview(ctx, f, fn))
}

func (a Store) Tally(ctx context.Context, q survey.ReportQuery) ([]survey.Tally, error) {
	ts, err := a.db.Tally(ctx, q)
	return ts, coded(err)
}

// TokenRole finds a live API token by the hash of its secret.
func (a Store) TokenRole(ctx context.Context, hash []byte) (string, survey.Role, error) {
	t, err := a.db.TokenByHash(ctx, hash)
	return t.Name, t.Role, coded(err)
}

// The IVR engine stores interviews and answers through the same adapter.
var (
	_ ivr.Store          = Store{}
	_ ivr.Questionnaires = Store{}
)

func (a Store) StartInterview(ctx context.Context, r survey.InterviewRecord) (survey.InterviewID, error) {
	id, err := a.db.StartInterview(ctx, r)
	return id, coded(err)
}

func (a Store) SaveAnswer(ctx context.Context, id survey.InterviewID, ans survey.Answer) error {
	return coded(a.db.SaveAnswer(ctx, id, ans))
}

func (a Store) ClearAnswers(ctx context.Context, id survey.InterviewID, questions []string) error {
	return coded(a.db.ClearAnswers(ctx, id, questions))
}

func (a Store) FinishInterview(ctx context.Context, id survey.InterviewID, to survey.Status, cause, lastQuestion string) error {
	return coded(a.db.FinishInterview(ctx, id, to, cause, lastQuestion))
}
