// Questionnaire store: every uploaded version of each questionnaire's YAML.
// Uploading the same source again is a no-op; anything else is a new version.

package sql

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/survey"
)

const (
	sqlPutQuestionnaire     = `INSERT INTO questionnaire (id) VALUES ($1) ON CONFLICT (id) DO NOTHING`
	sqlPutQuestionnaireLock = `SELECT id FROM questionnaire WHERE id = $1 FOR UPDATE`
	sqlPutQuestionnaireNew  = `
INSERT INTO questionnaire_version (questionnaire_id, version, title, languages, source)
VALUES ($1, $2, $3, $4, $5)
RETURNING created_at`
)

// PutQuestionnaire stores v as the next version of questionnaire v.ID, unless
// its source is byte for byte that of the latest version: then it returns the
// latest version and created is false. v.Version and v.CreatedAt are ignored.
func (db *DB) PutQuestionnaire(ctx context.Context, v survey.QuestionnaireVersion) (_ survey.QuestionnaireVersion, created bool, err error) {
	if v.ID == "" {
		return v, false, errors.New("put questionnaire: empty id")
	}
	var stored survey.QuestionnaireVersion
	err = db.retry(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			var err error
			stored, created, err = putQuestionnaire(ctx, tx, v)
			return err
		})
	})
	if err != nil {
		return v, false, fmt.Errorf("put questionnaire %s: %w", v.ID, err)
	}
	return stored, created, nil
}

// putQuestionnaire must run in a transaction: the questionnaire row, locked
// until commit, serializes concurrent uploads so they get distinct versions.
func putQuestionnaire(ctx context.Context, tx DBTX, v survey.QuestionnaireVersion) (survey.QuestionnaireVersion, bool, error) {
	if _, err := tx.Exec(ctx, sqlPutQuestionnaire, v.ID); err != nil {
		return v, false, err
	}
	if _, err := tx.Exec(ctx, sqlPutQuestionnaireLock, v.ID); err != nil {
		return v, false, err
	}
	latest, err := questionnaire(ctx, tx, v.ID, 0)
	switch {
	case errors.Is(err, survey.NotFound):
		v.Version = 1
	case err != nil:
		return v, false, err
	case bytes.Equal(latest.Source, v.Source):
		return latest, false, nil
	default:
		v.Version = latest.Version + 1
	}
	if v.Languages == nil {
		v.Languages = []string{}
	}
	err = tx.QueryRow(ctx, sqlPutQuestionnaireNew, v.ID, v.Version, v.Title, v.Languages, string(v.Source)).Scan(&v.CreatedAt)
	v.CreatedAt = v.CreatedAt.UTC()
	return v, true, err
}

const sqlQuestionnaires = `
SELECT DISTINCT ON (questionnaire_id) questionnaire_id, version, title, languages, NULL, created_at
FROM questionnaire_version
ORDER BY questionnaire_id, version DESC`

// Questionnaires lists the latest version of each questionnaire, by id,
// without their sources.
func (db *DB) Questionnaires(ctx context.Context) ([]survey.QuestionnaireVersion, error) {
	var vs []survey.QuestionnaireVersion
	err := db.retry(ctx, func() (err error) {
		vs, err = queryVersions(ctx, db.pool, sqlQuestionnaires)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list questionnaires: %w", err)
	}
	return vs, nil
}

const sqlQuestionnaireVersions = `
SELECT questionnaire_id, version, title, languages, NULL, created_at
FROM questionnaire_version
WHERE questionnaire_id = $1
ORDER BY version`

// QuestionnaireVersions lists every version of questionnaire id, oldest first,
// without their sources; survey.NotFound if there is none.
func (db *DB) QuestionnaireVersions(ctx context.Context, id string) ([]survey.QuestionnaireVersion, error) {
	var vs []survey.QuestionnaireVersion
	err := db.retry(ctx, func() (err error) {
		vs, err = queryVersions(ctx, db.pool, sqlQuestionnaireVersions, id)
		return err
	})
	if err == nil && len(vs) == 0 {
		err = survey.NotFound
	}
	if err != nil {
		return nil, fmt.Errorf("list versions of questionnaire %s: %w", id, err)
	}
	return vs, nil
}

const sqlLatestVersion = `SELECT max(version) FROM questionnaire_version WHERE questionnaire_id = $1`

// LatestVersion is the latest version of questionnaire id, without the
// rest: a small round trip the IVR makes on each call to know whether the
// version it holds parsed is still the one to run; survey.NotFound if there
// is none.
func (db *DB) LatestVersion(ctx context.Context, id string) (int, error) {
	var v *int
	err := db.retry(ctx, func() error { return db.pool.QueryRow(ctx, sqlLatestVersion, id).Scan(&v) })
	if err == nil && v == nil {
		err = survey.NotFound
	}
	if err != nil {
		return 0, fmt.Errorf("latest version of questionnaire %s: %w", id, err)
	}
	return *v, nil
}

const sqlQuestionnaire = `
SELECT questionnaire_id, version, title, languages, source, created_at
FROM questionnaire_version
WHERE questionnaire_id = $1 AND ($2 = 0 OR version = $2)
ORDER BY version DESC
LIMIT 1`

// Questionnaire returns version of questionnaire id with its source; version
// 0 is the latest. survey.NotFound if there is no such version.
func (db *DB) Questionnaire(ctx context.Context, id string, version int) (survey.QuestionnaireVersion, error) {
	var v survey.QuestionnaireVersion
	err := db.retry(ctx, func() (err error) {
		v, err = questionnaire(ctx, db.pool, id, version)
		return err
	})
	if err != nil {
		return v, fmt.Errorf("load questionnaire %s version %d: %w", id, version, err)
	}
	return v, nil
}

func questionnaire(ctx context.Context, q DBTX, id string, version int) (survey.QuestionnaireVersion, error) {
	vs, err := queryVersions(ctx, q, sqlQuestionnaire, id, version)
	if err != nil {
		return survey.QuestionnaireVersion{}, err
	}
	if len(vs) == 0 {
		return survey.QuestionnaireVersion{}, survey.NotFound
	}
	return vs[0], nil
}

// queryVersions runs a query selecting questionnaire_version columns: id,
// version, title, languages, source (or NULL), created_at.
func queryVersions(ctx context.Context, q DBTX, sql string, args ...any) ([]survey.QuestionnaireVersion, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (survey.QuestionnaireVersion, error) {
		var (
			v      survey.QuestionnaireVersion
			source *string
			at     time.Time
		)
		err := row.Scan(&v.ID, &v.Version, &v.Title, &v.Languages, &source, &at)
		if source != nil {
			v.Source = []byte(*source)
		}
		v.CreatedAt = at.UTC()
		return v, err
	})
}
