package main

// This file adapts the database (package sql) to what the HTTP server
// consumes (cati.Store, cati.TokenStore). cati may not import sql, and it
// reads errors only by survey's codes: here sql's sentinels become coded
// errors (ErrNotFound → ENotFound, ErrConflict → EConflict), the sql error
// still wrapped for the log.

import (
	"context"
	"errors"
	"fmt"

	"github.com/canvass/canvass/cati"
	"github.com/canvass/canvass/ivr"
	"github.com/canvass/canvass/sql"
	"github.com/canvass/canvass/survey"
)

// storeAdapter is the database as the HTTP server sees it.
type storeAdapter struct{ db *sql.DB }

var (
	_ cati.Store      = storeAdapter{}
	_ cati.TokenStore = storeAdapter{}
)

// coded gives sql's sentinel errors the survey code cati maps to a status.
func coded(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNotFound):
		return fmt.Errorf("%w: %w", survey.Errorf(survey.ENotFound, "not found"), err)
	case errors.Is(err, sql.ErrConflict):
		return fmt.Errorf("%w: %w", survey.Errorf(survey.EConflict, "it changed meanwhile; reload and try again"), err)
	}
	return err
}

func (a storeAdapter) Ping(ctx context.Context) error { return a.db.Pool().Ping(ctx) }

func (a storeAdapter) PutQuestionnaire(ctx context.Context, v survey.QuestionnaireVersion) (survey.QuestionnaireVersion, bool, error) {
	v, created, err := a.db.PutQuestionnaire(ctx, v)
	return v, created, coded(err)
}

func (a storeAdapter) Questionnaires(ctx context.Context) ([]survey.QuestionnaireVersion, error) {
	vs, err := a.db.Questionnaires(ctx)
	return vs, coded(err)
}

func (a storeAdapter) QuestionnaireVersions(ctx context.Context, id string) ([]survey.QuestionnaireVersion, error) {
	vs, err := a.db.QuestionnaireVersions(ctx, id)
	return vs, coded(err)
}

func (a storeAdapter) Questionnaire(ctx context.Context, id string, version int) (survey.QuestionnaireVersion, error) {
	v, err := a.db.Questionnaire(ctx, id, version)
	return v, coded(err)
}

func (a storeAdapter) Interview(ctx context.Context, id survey.InterviewID) (survey.InterviewRecord, error) {
	r, err := a.db.Interview(ctx, id)
	return r, coded(err)
}

func (a storeAdapter) Interviews(ctx context.Context, f survey.InterviewFilter) ([]survey.InterviewRecord, error) {
	rs, err := a.db.Interviews(ctx, f)
	return rs, coded(err)
}

func (a storeAdapter) EachInterview(ctx context.Context, f survey.InterviewFilter, fn func(survey.InterviewRecord) error) error {
	return coded(a.db.EachInterview(ctx, f, fn))
}

func (a storeAdapter) Tally(ctx context.Context, q survey.ReportQuery) ([]survey.Tally, error) {
	ts, err := a.db.Tally(ctx, q)
	return ts, coded(err)
}

// TokenRole finds a live API token by the hash of its secret.
func (a storeAdapter) TokenRole(ctx context.Context, hash []byte) (string, survey.Role, error) {
	t, err := a.db.TokenByHash(ctx, hash)
	return t.Name, t.Role, coded(err)
}

// The IVR engine stores interviews and answers through the same adapter.
var (
	_ ivr.Store          = storeAdapter{}
	_ ivr.Questionnaires = storeAdapter{}
)

func (a storeAdapter) StartInterview(ctx context.Context, r survey.InterviewRecord) (survey.InterviewID, error) {
	id, err := a.db.StartInterview(ctx, r)
	return id, coded(err)
}

func (a storeAdapter) SaveAnswer(ctx context.Context, id survey.InterviewID, ans survey.Answer) error {
	return coded(a.db.SaveAnswer(ctx, id, ans))
}

func (a storeAdapter) ClearAnswers(ctx context.Context, id survey.InterviewID, questions []string) error {
	return coded(a.db.ClearAnswers(ctx, id, questions))
}

func (a storeAdapter) FinishInterview(ctx context.Context, id survey.InterviewID, to survey.Status, cause, lastQuestion string) error {
	return coded(a.db.FinishInterview(ctx, id, to, cause, lastQuestion))
}
