package cati

// This file is the alert inbox: supervisors, admins and managers list the
// alerts the questionnaires raised (filters by state, owner, severity), open
// one with its interview, its history and the respondent's later surveys,
// assign it, note it, open a call back (a case in the recovery campaign,
// with the alert and the original interview on the interviewer's screen),
// and close it with a root cause and an outcome. Time to first action and
// time to close are measured. The API lists them for integrators.

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/canvass/canvass/survey"
)

// AlertStore keeps raised alerts and their handling (sql.DB).
type AlertStore interface {
	Alerts(ctx context.Context, f survey.AlertFilter) ([]survey.AlertCase, error)
	Alert(ctx context.Context, id survey.AlertID) (survey.AlertCase, error)
	AssignAlert(ctx context.Context, id survey.AlertID, by, to survey.UserID, toName string, now time.Time) error
	NoteAlert(ctx context.Context, id survey.AlertID, by survey.UserID, text string, now time.Time) error
	CloseAlert(ctx context.Context, id survey.AlertID, by survey.UserID, rootCause, outcome string, now time.Time) error
	RecoverAlert(ctx context.Context, id survey.AlertID, by survey.UserID, campaign string, now time.Time) (survey.CaseID, error)
	AlertStats(ctx context.Context, since, now time.Time) (survey.AlertStats, error)
}

// alertUsers work the alert inbox.
var alertUsers = []survey.Role{survey.RoleSupervisor, survey.RoleAdmin, survey.RoleManager}

const maxAlertNote = 2000

func (s *Server) alertStore() (AlertStore, error) {
	if s.console == nil || s.console.Alerts == nil {
		return nil, httpError(http.StatusServiceUnavailable, survey.EInternal, "alerts are not configured on this server")
	}
	return s.console.Alerts, nil
}

// requestedAlert is the alert store and the alert id the path names.
func (s *Server) requestedAlert(r *http.Request) (AlertStore, survey.AlertID, error) {
	st, err := s.alertStore()
	if err != nil {
		return nil, 0, err
	}
	id, err := alertID(r)
	return st, id, err
}

func alertID(r *http.Request) (survey.AlertID, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, survey.Errorf(survey.ENotFound, "no alert %q", survey.Clip(r.PathValue("id"), 20))
	}
	return survey.AlertID(id), nil
}

// alertFilter reads the inbox's filters, naming a bad one.
func alertFilter(r *http.Request) (survey.AlertFilter, error) {
	q := r.URL.Query()
	f := survey.AlertFilter{Status: q.Get("status"), Owner: q.Get("owner"), Severity: q.Get("severity")}
	switch f.Status {
	case "", "all", survey.AlertOpen, survey.AlertWorking, survey.AlertClosed:
	default:
		return f, invalidParam("status", "open, working, closed or all", f.Status)
	}
	if f.Severity != "" && !slices.Contains(survey.Severities, f.Severity) {
		return f, invalidParam("severity", strings.Join(survey.Severities, ", "), f.Severity)
	}
	return f, nil
}

// filteredAlerts are the alerts the request's filters select.
func (s *Server) filteredAlerts(r *http.Request) (AlertStore, []survey.AlertCase, survey.AlertFilter, error) {
	st, err := s.alertStore()
	if err != nil {
		return nil, nil, survey.AlertFilter{}, err
	}
	f, err := alertFilter(r)
	if err != nil {
		return nil, nil, f, err
	}
	as, err := st.Alerts(r.Context(), f)
	return st, as, f, err
}

// listAlerts is GET /api/v1/alerts.
func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) error {
	_, as, _, err := s.filteredAlerts(r)
	if err != nil {
		return err
	}
	if as == nil {
		as = []survey.AlertCase{}
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"alerts": as})
	return nil
}

// getAlert is GET /api/v1/alerts/{id}.
func (s *Server) getAlert(w http.ResponseWriter, r *http.Request) error {
	st, id, err := s.requestedAlert(r)
	if err != nil {
		return err
	}
	a, err := st.Alert(r.Context(), id)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, a)
	return nil
}

// alertsPage is the inbox.
func (s *Server) alertsPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	st, as, f, err := s.filteredAlerts(r)
	if err != nil {
		return err
	}
	now := s.now()
	stats, err := st.AlertStats(r.Context(), now.Add(-30*24*time.Hour), now)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "alerts", pageData{Title: "Alerts", Session: sess, Flash: r.URL.Query().Get("done"), Data: map[string]any{
		"Alerts": as, "Filter": f, "Stats": stats, "Now": now, "Severities": survey.Severities}})
	return nil
}

// alertPage is one alert.
func (s *Server) alertPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	st, id, err := s.requestedAlert(r)
	if err != nil {
		return err
	}
	a, err := st.Alert(r.Context(), id)
	if err != nil {
		return err
	}
	users, err := s.console.Campaigns.Users(r.Context())
	if err != nil {
		return err
	}
	var owners []survey.User
	for _, u := range users {
		if !u.Disabled && slices.Contains(alertUsers, u.Role) {
			owners = append(owners, u)
		}
	}
	s.render(w, r, http.StatusOK, "alert", pageData{Title: "Alert " + strconv.FormatInt(int64(id), 10), Session: sess,
		Flash: r.URL.Query().Get("done"), Data: map[string]any{"Alert": a, "Users": owners, "Now": s.now(),
			"Recovery": s.console.Options.RecoveryCampaign}})
	return nil
}

// alertAction is POST /alerts/{id}/{action}: assign, note, callback, close.
func (s *Server) alertAction(w http.ResponseWriter, r *http.Request, sess *session) error {
	st, id, err := s.requestedAlert(r)
	if err != nil {
		return err
	}
	now := s.now()
	done := ""
	switch r.PathValue("action") {
	case "assign":
		name := strings.TrimSpace(r.PostForm.Get("to"))
		users, err := s.console.Campaigns.Users(r.Context())
		if err != nil {
			return err
		}
		var to *survey.User
		for i := range users {
			if users[i].Name == name && !users[i].Disabled {
				to = &users[i]
			}
		}
		if to == nil {
			return survey.Errorf(survey.EInvalid, "to: no active account %q", survey.Clip(name, 40))
		}
		if err := st.AssignAlert(r.Context(), id, sess.ID, to.ID, to.Name, now); err != nil {
			return err
		}
		done = "Assigned to " + to.Name + "."
	case "note":
		text := strings.TrimSpace(r.PostForm.Get("text"))
		if text == "" || utf8.RuneCountInString(text) > maxAlertNote {
			return survey.Errorf(survey.EInvalid, "note: write 1 to %d characters", maxAlertNote)
		}
		if err := st.NoteAlert(r.Context(), id, sess.ID, text, now); err != nil {
			return err
		}
		done = "Note added."
	case "callback":
		camp := s.console.Options.RecoveryCampaign
		if camp == "" {
			return survey.Errorf(survey.EConflict, "no recovery campaign: set console.recovery_campaign to a running interviewer campaign")
		}
		c, err := st.RecoverAlert(r.Context(), id, sess.ID, camp, now)
		if err != nil {
			return err
		}
		done = "Call back opened: case " + strconv.FormatInt(int64(c), 10) + ", first in line in " + camp + "."
	case "close":
		cause := strings.TrimSpace(r.PostForm.Get("root_cause"))
		outcome := r.PostForm.Get("outcome")
		if cause == "" || utf8.RuneCountInString(cause) > 500 {
			return survey.Errorf(survey.EInvalid, "root cause: say in 1 to 500 characters why the customer was unhappy")
		}
		if outcome != survey.AlertRecovered && outcome != survey.AlertNotRecovered {
			return survey.Errorf(survey.EInvalid, "outcome: recovered or not_recovered")
		}
		if err := st.CloseAlert(r.Context(), id, sess.ID, cause, outcome, now); err != nil {
			return err
		}
		done = "Closed as " + strings.ReplaceAll(outcome, "_", " ") + "."
	default:
		return survey.Errorf(survey.ENotFound, "no such action")
	}
	s.consoleLog(sess.User).Info("alert "+r.PathValue("action"), "alert_id", id)
	http.Redirect(w, r, "/alerts/"+strconv.FormatInt(int64(id), 10)+"?done="+urlQuery(done), http.StatusSeeOther)
	return nil
}
