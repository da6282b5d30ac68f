package cati

// This file is the interview endpoints: a filtered, paginated list (keyset
// on the id: pass the returned next as after) and one interview with its
// answers.

import (
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/canvass/canvass/survey"
)

// Page sizes of GET /api/v1/interviews.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

var statuses = []survey.Status{survey.StatusInProgress, survey.StatusComplete, survey.StatusPartial, survey.StatusBreakoff}

// interviewPage is GET /api/v1/interviews. Next is the after value of the
// following page, "" on the last one.
type interviewPage struct {
	Interviews []survey.InterviewRecord `json:"interviews"`
	Next       string                   `json:"next"`
}

func (s *Server) listInterviews(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := checkParams(q, "questionnaire", "status", "mode", "from", "to", "after", "limit"); err != nil {
		return err
	}
	f := survey.InterviewFilter{Questionnaire: q.Get("questionnaire")}
	var err error
	if f.Status, err = oneOf(q, "status", "", statuses...); err != nil {
		return err
	}
	if f.Mode, err = oneOf(q, "mode", "", survey.ModeIVR, survey.ModeCATI); err != nil {
		return err
	}
	if f.From, f.To, err = parseRange(q); err != nil {
		return err
	}
	after, err := parseInt(q, "after", 0, math.MaxInt64, 0)
	if err != nil {
		return err
	}
	f.AfterID = survey.InterviewID(after)
	limit, err := parseInt(q, "limit", 1, maxLimit, defaultLimit)
	if err != nil {
		return err
	}
	f.Limit = int(limit)
	list, err := s.store.Interviews(r.Context(), f)
	if err != nil {
		return fmt.Errorf("list interviews: %w", err)
	}
	page := interviewPage{Interviews: list}
	if page.Interviews == nil {
		page.Interviews = []survey.InterviewRecord{}
	}
	if len(list) == f.Limit {
		// Possibly more: the client asks again after the last one.
		page.Next = strconv.FormatInt(int64(list[len(list)-1].ID), 10)
	}
	s.writeJSON(w, r, http.StatusOK, page)
	return nil
}

func (s *Server) getInterview(w http.ResponseWriter, r *http.Request) error {
	if err := checkParams(r.URL.Query()); err != nil {
		return err
	}
	id, err := parseID("interview id", r.PathValue("id"))
	if err != nil {
		return err
	}
	rec, err := s.store.Interview(r.Context(), survey.InterviewID(id))
	if err != nil {
		if survey.ErrorCodeOf(err) == survey.ENotFound {
			return survey.Errorf(survey.ENotFound, "no interview %d", id)
		}
		return fmt.Errorf("load interview %d: %w", id, err)
	}
	s.writeJSON(w, r, http.StatusOK, rec)
	return nil
}
