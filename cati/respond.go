package cati

// This file is how the API answers: JSON bodies, and one error shape for
// every failure, {"error": {"code", "message"[, "problems"]}}, whose status
// comes from survey's error code. Internal causes go to the log, never to
// the client.

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/canvass/canvass/survey"
)

// statusError is a user-facing error with a status survey's codes do not
// tell apart, such as 413 or 415.
type statusError struct {
	status int
	err    *survey.Error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// httpError returns an error with its own status and a user-facing message.
func httpError(status int, code survey.ErrorCode, format string, args ...any) error {
	return &statusError{status: status, err: survey.Errorf(code, format, args...)}
}

// invalidParam is a 400 naming the query parameter and the form it takes.
func invalidParam(name, want, got string) error {
	return survey.Errorf(survey.EInvalid, "%s: want %s, not %q", name, want, survey.Clip(got, 64))
}

var codeStatus = map[survey.ErrorCode]int{
	survey.EInvalid:      http.StatusBadRequest,
	survey.ENotFound:     http.StatusNotFound,
	survey.EConflict:     http.StatusConflict,
	survey.EUnauthorized: http.StatusUnauthorized,
	survey.EForbidden:    http.StatusForbidden,
	survey.EInternal:     http.StatusInternalServerError,
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code     survey.ErrorCode `json:"code"`
	Message  string           `json:"message"`
	Problems survey.Problems  `json:"problems,omitempty"`
}

// fail writes err as the JSON error response, logging internal causes.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	d := errorDetail{Code: survey.ErrorCodeOf(err), Message: survey.ErrorMessage(err)}
	status := codeStatus[d.Code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if se, ok := errors.AsType[*statusError](err); ok {
		status = se.status
	} else if problems, ok := errors.AsType[survey.Problems](err); ok {
		// A questionnaire that does not lint: list every problem with its line.
		status, d.Code, d.Problems = http.StatusUnprocessableEntity, survey.EInvalid, problems
		d.Message = fmt.Sprintf("questionnaire has %d problem%s", len(problems), plural(len(problems)))
	}
	if status >= 500 {
		s.requestLog(r).Error("request failed", "status", status, "err", err)
	} else {
		s.requestLog(r).Debug("request refused", "status", status, "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="canvass"`)
	}
	s.writeJSON(w, r, status, errorBody{Error: d})
}

// requestLog is the logger for one request, with the route and the caller.
func (s *Server) requestLog(r *http.Request) *slog.Logger {
	l := s.log.With("method", r.Method, "path", r.URL.Path)
	if r.Pattern != "" {
		l = l.With("route", r.Pattern)
	}
	if p, ok := r.Context().Value(principalKey{}).(principal); ok {
		l = l.With("token", p.name)
	}
	return l
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// writeJSON writes v as the response body with status.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// A bug in a response type; say so rather than send half a body.
		s.requestLog(r).Error("encode response", "err", err)
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error; the details are in the server log"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if _, err := w.Write(append(b, '\n')); err != nil {
		s.requestLog(r).Debug("write response", "err", err) // the client has gone
	}
}
