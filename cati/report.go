package cati

// This file is GET /api/v1/questionnaires/{id}/report: the store counts the
// interviews of every version, and the latest version's questions decide
// what each count means (survey.BuildReport).

import (
	"fmt"
	"net/http"
	"time"

	"github.com/canvass/canvass/survey"
)

// reportSpan is the period a report covers when from is not given.
const reportSpan = 30 * 24 * time.Hour

var groupings = []survey.GroupBy{survey.ByDay, survey.ByTouchpoint, survey.ByAgent, survey.ByQueue}

func (s *Server) report(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := checkParams(q, "from", "to", "by"); err != nil {
		return err
	}
	from, to, err := parseRange(q)
	if err != nil {
		return err
	}
	if from, to, err = defaultRange(from, to, s.now().UTC(), reportSpan); err != nil {
		return err
	}
	by, err := oneOf(q, "by", survey.ByDay, groupings...)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	_, qn, err := s.latest(r.Context(), id)
	if err != nil {
		return err
	}
	rq := survey.ReportQuery{Questionnaire: id, From: from, To: to, By: by}
	tallies, err := s.store.Tally(r.Context(), rq)
	if err != nil {
		return fmt.Errorf("tally %s: %w", id, err)
	}
	s.writeJSON(w, r, http.StatusOK, qn.BuildReport(rq, tallies))
	return nil
}
