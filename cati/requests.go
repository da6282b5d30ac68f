package cati

// This file is POST /api/v1/survey-requests: an integrator (a CRM, the
// PBX's hang-up hook) asks for a post-call survey of a call, with its
// context; Canvass decides whether to survey it (the request rules:
// do-not-call, fatigue, the sampling draw) and says what it decided and
// why. A surveyed request is a case of a keypad campaign, which the dialer
// calls within the respondent's calling window.

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/canvass/canvass/survey"
)

// RequestStore decides survey requests (sql.DB).
type RequestStore interface {
	DecideRequest(ctx context.Context, r survey.SurveyRequest, rules survey.RequestRules, draw func(share float64) bool, now time.Time) (survey.RequestDecision, error)
}

// surveyRequestIn is the request body.
type surveyRequestIn struct {
	Phone         string           `json:"phone"`
	Questionnaire string           `json:"questionnaire"`
	Language      string           `json:"language"`
	Context       requestContextIn `json:"context"`
	CallAfter     string           `json:"call_after"` // RFC 3339; "" = as soon as allowed
}

// requestContextIn is the call's context: the known fields, and any CRM
// fields besides.
type requestContextIn struct {
	Agent      string            `json:"agent"`
	Queue      string            `json:"queue"`
	CallID     string            `json:"call_id"`
	Touchpoint string            `json:"touchpoint"`
	CustomerID string            `json:"customer_id"`
	Fields     map[string]string `json:"fields"`
}

// Limits of a survey request.
const (
	maxContextValue  = 200
	maxContextFields = 50
	maxCallAfter     = 30 * 24 * time.Hour
)

func (s *Server) requestSurvey(w http.ResponseWriter, r *http.Request) error {
	if s.requests == nil {
		return httpError(http.StatusServiceUnavailable, survey.EInternal, "survey requests are not configured on this server")
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	var in surveyRequestIn
	d := json.NewDecoder(r.Body)
	d.DisallowUnknownFields()
	if err := d.Decode(&in); err != nil {
		return survey.Errorf(survey.EInvalid, `the body must be JSON {"phone": "+15551234567", "questionnaire": "post-call", "language": "en", "context": {"agent": "…", "touchpoint": "…", "fields": {…}}, "call_after": "2026-12-07T10:00:00Z"}: %s`, survey.Clip(err.Error(), 160))
	}
	region, err := s.region(r)
	if err != nil {
		return err
	}
	req, err := s.checkRequest(r.Context(), in, region)
	if err != nil {
		return err
	}
	p, _ := r.Context().Value(principalKey{}).(principal)
	req.RequestedBy = "token:" + p.name
	dec, err := s.requests.DecideRequest(r.Context(), req, s.requestRules, survey.Draw, s.now().UTC())
	if err != nil {
		return err
	}
	s.requestLog(r).Info("survey request", "request_id", dec.ID, "decision", dec.Decision, "reason", dec.Reason,
		"questionnaire", req.Questionnaire, "touchpoint", req.Context.Touchpoint, "case_id", dec.Case)
	status := http.StatusOK
	if dec.Decision == survey.RequestQueued {
		status = http.StatusCreated
	}
	s.writeJSON(w, r, status, dec)
	return nil
}

// checkRequest validates a request, naming each bad field.
func (s *Server) checkRequest(ctx context.Context, in surveyRequestIn, region string) (survey.SurveyRequest, error) {
	phone, err := e164(in.Phone, region)
	if err != nil {
		return survey.SurveyRequest{}, survey.Errorf(survey.EInvalid, "phone: %v", err)
	}
	if strings.TrimSpace(in.Questionnaire) == "" {
		return survey.SurveyRequest{}, survey.Errorf(survey.EInvalid, "questionnaire: give the id of the keypad questionnaire to ask, e.g. post-call")
	}
	v, err := s.store.Questionnaire(ctx, in.Questionnaire, 0)
	if err != nil {
		if survey.ErrorCodeOf(err) == survey.ENotFound {
			return survey.SurveyRequest{}, survey.Errorf(survey.EInvalid, "questionnaire: no questionnaire %q; upload it first (POST /api/v1/questionnaires)", survey.Clip(in.Questionnaire, 64))
		}
		return survey.SurveyRequest{}, err
	}
	q, err := s.parsed.Get(v)
	if err != nil {
		return survey.SurveyRequest{}, err
	}
	if !q.HasMode(survey.ModeIVR) {
		return survey.SurveyRequest{}, survey.Errorf(survey.EInvalid, "questionnaire: %s is not a keypad survey (modes %v); add ivr to its modes", q.ID, q.Modes)
	}
	lang := strings.TrimSpace(in.Language)
	if lang == "" {
		lang = q.DefaultLanguage()
	} else if !slices.Contains(q.Languages, lang) {
		return survey.SurveyRequest{}, survey.Errorf(survey.EInvalid, "language: %s has no %q; use one of %v", q.ID, survey.Clip(lang, 20), q.Languages)
	}
	c := in.Context
	out := survey.SurveyRequest{Source: survey.RequestAPI, Phone: phone, Questionnaire: q.ID, Language: lang,
		Context: survey.Context{Agent: c.Agent, Queue: c.Queue, CallID: c.CallID, Touchpoint: c.Touchpoint, CustomerID: c.CustomerID,
			CallerNumber: phone}}
	for name, v := range map[string]string{"agent": c.Agent, "queue": c.Queue, "call_id": c.CallID, "touchpoint": c.Touchpoint, "customer_id": c.CustomerID} {
		if utf8.RuneCountInString(v) > maxContextValue || !utf8.ValidString(v) {
			return survey.SurveyRequest{}, survey.Errorf(survey.EInvalid, "context.%s: at most %d characters of text", name, maxContextValue)
		}
	}
	if len(c.Fields) > maxContextFields {
		return survey.SurveyRequest{}, survey.Errorf(survey.EInvalid, "context.fields: at most %d fields", maxContextFields)
	}
	if len(c.Fields) > 0 {
		out.Context.Extra = map[string]string{}
	}
	for k, v := range c.Fields {
		if !contextKey(k) {
			return survey.SurveyRequest{}, survey.Errorf(survey.EInvalid, "context.fields: %q must be 1-40 lower-case letters, digits or _ (it becomes contact.%s for the questionnaire)", survey.Clip(k, 40), survey.Clip(k, 40))
		}
		if utf8.RuneCountInString(v) > maxContextValue {
			return survey.SurveyRequest{}, survey.Errorf(survey.EInvalid, "context.fields.%s: at most %d characters", k, maxContextValue)
		}
		out.Context.Extra[k] = v
	}
	if in.CallAfter != "" {
		at, err := time.Parse(time.RFC3339, in.CallAfter)
		if err != nil {
			return survey.SurveyRequest{}, survey.Errorf(survey.EInvalid, "call_after: %q is not an RFC 3339 time such as 2026-12-07T10:00:00Z", survey.Clip(in.CallAfter, 40))
		}
		if at.After(s.now().Add(maxCallAfter)) {
			return survey.SurveyRequest{}, survey.Errorf(survey.EInvalid, "call_after: at most 30 days ahead")
		}
		out.CallAfter = at
	}
	return out, nil
}

// contextKey is a CRM field name the questionnaire can read as
// contact.<key>.
func contextKey(k string) bool {
	if k == "" || len(k) > 40 {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
