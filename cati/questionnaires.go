package cati

// This file is the questionnaire endpoints: upload a YAML file (linted with
// survey.Parse, every problem listed with its line), list them, show one with
// its versions and questions, and fetch a version's source.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"time"

	"github.com/canvass/canvass/survey"
)

// yamlTypes are the media types an upload may have; text/yaml and the x-
// forms are what curl users and older tools send.
var yamlTypes = []string{"application/yaml", "text/yaml", "application/x-yaml", "text/x-yaml"}

// versionSummary is a version in a questionnaire's list of versions.
type versionSummary struct {
	Version   int       `json:"version"`
	Title     string    `json:"title"`
	CreatedAt time.Time `json:"created_at"`
}

// questionSummary is a question as the API lists it.
type questionSummary struct {
	ID   string              `json:"id"`
	Type survey.QuestionType `json:"type"`
	Text string              `json:"text"` // in the default language
}

// questionnaireDetail is GET /api/v1/questionnaires/{id}: the latest version,
// every version, and the latest version's questions.
type questionnaireDetail struct {
	survey.QuestionnaireVersion
	Versions  []versionSummary  `json:"versions"`
	Questions []questionSummary `json:"questions"`
}

// versionSource is a version with its YAML.
type versionSource struct {
	survey.QuestionnaireVersion
	Source string `json:"source"`
}

func (s *Server) uploadQuestionnaire(w http.ResponseWriter, r *http.Request) error {
	return s.putQuestionnaire(w, r, "")
}

func (s *Server) replaceQuestionnaire(w http.ResponseWriter, r *http.Request) error {
	return s.putQuestionnaire(w, r, r.PathValue("id"))
}

// putQuestionnaire stores the uploaded YAML as a new version: 201 when it is
// new, 200 when it is identical to the latest version. With pathID set (PUT)
// the file's id must match the path.
func (s *Server) putQuestionnaire(w http.ResponseWriter, r *http.Request, pathID string) error {
	if err := checkParams(r.URL.Query()); err != nil {
		return err
	}
	if err := requireYAML(r); err != nil {
		return err
	}
	src, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	q, err := survey.Parse(src)
	if err != nil {
		return err // survey.Problems: 422 listing each problem
	}
	if pathID != "" && q.ID != pathID {
		return survey.Errorf(survey.EInvalid, "the path names questionnaire %q but the file's id is %q; they must match", survey.Clip(pathID, 64), q.ID)
	}
	v, created, err := s.store.PutQuestionnaire(r.Context(), q.Version(src))
	if err != nil {
		return fmt.Errorf("store questionnaire %s: %w", q.ID, err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		s.requestLog(r).Info("questionnaire uploaded", "questionnaire", v.ID, "version", v.Version)
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/questionnaires/%s/versions/%d", v.ID, v.Version))
	s.writeJSON(w, r, status, v)
	return nil
}

// requireYAML refuses bodies that do not say they are YAML.
func requireYAML(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		for _, t := range yamlTypes {
			if mt == t {
				return nil
			}
		}
	}
	if ct == "" {
		ct = "none"
	}
	return httpError(http.StatusUnsupportedMediaType, survey.EInvalid,
		"Content-Type %s is not accepted; send the questionnaire as application/yaml", survey.Clip(ct, 64))
}

// readBody reads the whole body, refusing one over opts.MaxBodyBytes with 413.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := s.opts.MaxBodyBytes
	tooLarge := httpError(http.StatusRequestEntityTooLarge, survey.EInvalid,
		"the body is larger than %d bytes, the server's limit (http.max_body_bytes)", limit)
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge
		}
		return nil, httpError(http.StatusBadRequest, survey.EInvalid, "reading the body failed: %v", err)
	}
	return b, nil
}

func (s *Server) listQuestionnaires(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r.URL.Query()); err != nil {
		return err
	}
	vs, err := s.store.Questionnaires(r.Context())
	if err != nil {
		return fmt.Errorf("list questionnaires: %w", err)
	}
	if vs == nil {
		vs = []survey.QuestionnaireVersion{}
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"questionnaires": vs})
	return nil
}

func (s *Server) getQuestionnaire(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r.URL.Query()); err != nil {
		return err
	}
	id := r.PathValue("id")
	v, q, err := s.latest(r.Context(), id)
	if err != nil {
		return err
	}
	vs, err := s.store.QuestionnaireVersions(r.Context(), id)
	if err != nil {
		return fmt.Errorf("list versions of %s: %w", id, err)
	}
	d := questionnaireDetail{QuestionnaireVersion: v, Versions: []versionSummary{}, Questions: []questionSummary{}}
	for _, x := range vs {
		d.Versions = append(d.Versions, versionSummary{Version: x.Version, Title: x.Title, CreatedAt: x.CreatedAt})
	}
	for _, qq := range q.Questions {
		d.Questions = append(d.Questions, questionSummary{ID: qq.ID, Type: qq.Type, Text: qq.Text[q.DefaultLanguage()]})
	}
	s.writeJSON(w, r, http.StatusOK, d)
	return nil
}

func (s *Server) getVersion(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r.URL.Query()); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := checkText("questionnaire id", id); err != nil {
		return err
	}
	n, err := parseID("version", r.PathValue("version"))
	if err != nil {
		return err
	}
	if n > math.MaxInt32 { // versions are int in SQL
		return notFound(id, n)
	}
	v, err := s.store.Questionnaire(r.Context(), id, int(n))
	if err != nil {
		if survey.ErrorCodeOf(err) == survey.ENotFound {
			return notFound(id, n)
		}
		return fmt.Errorf("load questionnaire %s version %d: %w", id, n, err)
	}
	s.writeJSON(w, r, http.StatusOK, versionSource{QuestionnaireVersion: v, Source: string(v.Source)})
	return nil
}

// latest loads the latest version of questionnaire id, parsed. id is a path
// value: one the database cannot hold is refused here.
func (s *Server) latest(ctx context.Context, id string) (survey.QuestionnaireVersion, *survey.Questionnaire, error) {
	if err := checkText("questionnaire id", id); err != nil {
		return survey.QuestionnaireVersion{}, nil, err
	}
	v, err := s.store.Questionnaire(ctx, id, 0)
	if err != nil {
		if survey.ErrorCodeOf(err) == survey.ENotFound {
			return v, nil, notFound(id, 0)
		}
		return v, nil, fmt.Errorf("load questionnaire %s: %w", id, err)
	}
	q, err := s.parsed.Get(v)
	return v, q, err
}

// notFound says which questionnaire, or which version of it (version > 0),
// does not exist.
func notFound(id string, version int64) error {
	if version > 0 {
		return survey.Errorf(survey.ENotFound, "questionnaire %q has no version %d", survey.Clip(id, 64), version)
	}
	return survey.Errorf(survey.ENotFound, "no questionnaire %q", survey.Clip(id, 64))
}
