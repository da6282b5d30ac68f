package cati

// This file is a customer's score history: every survey they answered
// (by the CRM's customer id, context.customer_id), oldest first, with its
// NPS and CSAT, the alerts it raised and how they were closed, and the
// surveys where the scores fall (churn risk) flagged. A page for the
// alert inbox's users and GET /api/v1/customers/{id}/history.

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/canvass/canvass/survey"
)

// maxHistory bounds a customer's history: their latest surveys.
const maxHistory = 200

// CustomerStore reads a customer's interviews (sql.DB).
type CustomerStore interface {
	CustomerInterviews(ctx context.Context, customer string, limit int) ([]survey.InterviewRecord, error)
}

// customerHistory is the score history of the customer the path names.
func (s *Server) customerHistory(r *http.Request) (string, []survey.CustomerScore, error) {
	id := strings.TrimSpace(r.PathValue("id"))
	if err := checkText("customer id", id); err != nil || id == "" {
		return id, nil, survey.Errorf(survey.EInvalid, "customer id: a CRM customer id as sent in context.customer_id, not %q", survey.Clip(id, 64))
	}
	cs, ok := s.store.(CustomerStore)
	if !ok {
		return id, nil, httpError(http.StatusServiceUnavailable, survey.EInternal, "customer histories are not available on this server")
	}
	recs, err := cs.CustomerInterviews(r.Context(), id, maxHistory)
	if err != nil {
		return id, nil, err
	}
	var alerts []survey.AlertCase
	if s.console != nil && s.console.Alerts != nil {
		if alerts, err = s.console.Alerts.Alerts(r.Context(), survey.AlertFilter{Status: "all", Customer: id, Limit: 500}); err != nil {
			return id, nil, err
		}
	}
	parsed := map[[2]any]*survey.Questionnaire{}
	h := make([]survey.CustomerScore, 0, len(recs))
	for _, rec := range recs {
		sc := survey.CustomerScore{Interview: rec.ID, Questionnaire: rec.Questionnaire, StartedAt: rec.StartedAt, Status: rec.Status,
			Touchpoint: rec.Context.Touchpoint}
		key := [2]any{rec.Questionnaire, rec.Version}
		q, seen := parsed[key]
		if !seen {
			if v, err := s.store.Questionnaire(r.Context(), rec.Questionnaire, rec.Version); err == nil {
				q, _ = s.parsed.Get(v)
			}
			parsed[key] = q
		}
		if q != nil {
			sc.Kind = q.Kind
			if v, ok := q.NPSOf(rec.Answers); ok {
				sc.NPS = &v
			}
			if v, top, ok := q.CSATOf(rec.Answers); ok {
				sc.CSAT, sc.CSATTop = &v, top
			}
		}
		for _, a := range alerts {
			if a.Interview == rec.ID {
				a.Answers = nil // the history shows the scores
				sc.Alerts = append(sc.Alerts, a)
			}
		}
		h = append(h, sc)
	}
	survey.FlagChurn(h)
	return id, h, nil
}

// getCustomerHistory is GET /api/v1/customers/{id}/history.
func (s *Server) getCustomerHistory(w http.ResponseWriter, r *http.Request) error {
	id, h, err := s.customerHistory(r)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"customer_id": id, "surveys": h})
	return nil
}

// customerPage is GET /customers/{id}.
func (s *Server) customerPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	id, h, err := s.customerHistory(r)
	if err != nil {
		return err
	}
	risk := "" // the latest score decides the flag
	for _, sc := range slices.Backward(h) {
		if sc.NPS != nil {
			risk = sc.ChurnRisk
			break
		}
	}
	s.render(w, r, http.StatusOK, "customer", pageData{Title: "Customer " + id, Session: sess,
		Data: map[string]any{"ID": id, "Surveys": h, "Risk": risk}})
	return nil
}
