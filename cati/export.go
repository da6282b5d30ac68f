package cati

// This file is GET /api/v1/questionnaires/{id}/export.csv: every interview of
// a questionnaire as one CSV row, streamed from the store without holding
// them in memory.
//
// Columns: interview_id, questionnaire_version, mode, language, status,
// started_at, ended_at (RFC 3339, UTC), end_cause, agent, queue, call_id,
// touchpoint, caller_number, customer_id, context (the other context fields:
// CRM fields, SIP headers, Stasis arguments, as a JSON object with sorted
// keys; empty when none); then, for an interview a campaign dialed, what
// joins it back to the sample file: case_id, campaign, disposition (the
// case's final one, empty while open), phone and contact.<field> for each
// contact field of the questionnaire, as imported; then one column per
// answerable question of the latest version, in questionnaire order.
// Answers to questions the latest version no longer has are left out.
//
// Answer cells: nps, scale and number as decimal integers; yes_no as 1 (yes)
// or 0 (no), the coding statistics packages expect; choice as the option
// value; multi as the option values joined with ";"; text and recording as
// given. A skipped question and an unasked one are both empty; with
// paradata=1 the paradata columns tell them apart (a skipped question has
// them, an unasked one does not).
//
// With paradata=1, each question also gets <id>.raw_keys, <id>.first_key_ms
// (empty when no key was timed), <id>.no_input, <id>.no_match and
// <id>.barge_in (1 or 0) and <id>.mode (ivr or cati: who took the answer;
// empty for answers stored before modes were recorded).
//
// Formula injection: a spreadsheet runs a cell starting with = + - or @ as a
// formula, and free text comes from respondents, interviewers and PBXs (the
// caller number is whatever the caller's network sent). Such a text cell is
// prefixed with ' — which spreadsheets show as text and hide — unless it is a
// plain number like +15551234567 or -3, which no spreadsheet can run.

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/canvass/canvass/survey"
)

// exportFlushRows is how many rows are sent at a time, so a long export
// reaches the client as it goes.
const exportFlushRows = 200

// exportStall is how long a client may take to read each batch of rows; a
// client that stops reading loses the connection rather than keep the
// export's goroutine and buffers forever.
const exportStall = time.Minute

var exportColumns = []string{"interview_id", "questionnaire_version", "mode", "language", "status",
	"started_at", "ended_at", "end_cause", "agent", "queue", "call_id", "touchpoint", "caller_number",
	"customer_id", "context", "case_id", "campaign", "disposition", "phone"}

var paradataColumns = []string{"raw_keys", "first_key_ms", "no_input", "no_match", "barge_in", "mode"}

func (s *Server) export(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := checkParams(q, "from", "to", "paradata"); err != nil {
		return err
	}
	from, to, err := parseRange(q) // absent: unbounded
	if err != nil {
		return err
	}
	pd, err := oneOf(q, "paradata", "0", "0", "1")
	if err != nil {
		return err
	}
	paradata := pd == "1"
	id := r.PathValue("id")
	v, qn, err := s.latest(r.Context(), id)
	if err != nil {
		return err
	}
	var questions []*survey.Question
	for _, qq := range qn.Questions {
		if qq.Answerable() {
			questions = append(questions, qq)
		}
	}

	header := append([]string(nil), exportColumns...)
	for _, f := range qn.Contact {
		header = append(header, "contact."+f)
	}
	for _, qq := range questions {
		header = append(header, qq.ID)
		if paradata {
			for _, c := range paradataColumns {
				header = append(header, qq.ID+"."+c)
			}
		}
	}

	// Until the first byte goes out, a failure can still be a JSON error.
	out := &sentWriter{w: w}
	cw := csv.NewWriter(out)
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": v.ID + ".csv"}))
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("export %s: %w", id, err)
	}
	rc := http.NewResponseController(w)
	stall := func() error {
		if err := rc.SetWriteDeadline(time.Now().Add(exportStall)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil
	}
	if err := stall(); err != nil {
		return fmt.Errorf("export %s: %w", id, err)
	}
	rows := 0
	f := survey.InterviewFilter{Questionnaire: id, From: from, To: to, WithAnswers: true}
	row := make([]string, 0, len(header))
	err = s.store.EachInterview(r.Context(), f, func(rec survey.InterviewRecord) error {
		row = exportRow(row[:0], rec, qn.Contact, questions, paradata)
		if err := cw.Write(row); err != nil {
			return err
		}
		if rows++; rows%exportFlushRows == 0 {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
				return err
			}
			if err := stall(); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		cw.Flush()
		err = cw.Error()
	}
	if err == nil {
		return nil
	}
	err = fmt.Errorf("export %s after %d rows: %w", id, rows, err)
	if !out.sent {
		h.Del("Content-Disposition")
		return err
	}
	// Half a CSV must not look like a whole one: log, and break the
	// connection so the client sees the transfer fail.
	s.requestLog(r).Error("export failed mid-stream", "err", err)
	panic(http.ErrAbortHandler)
}

// sentWriter notes whether anything has been written.
type sentWriter struct {
	w    http.ResponseWriter
	sent bool
}

func (s *sentWriter) Write(b []byte) (int, error) {
	s.sent = true
	return s.w.Write(b)
}

// exportRow appends the cells of one interview to row.
func exportRow(row []string, rec survey.InterviewRecord, contact []string, questions []*survey.Question, paradata bool) []string {
	ended := ""
	if rec.EndedAt != nil {
		ended = rec.EndedAt.UTC().Format(time.RFC3339)
	}
	c := rec.Context
	row = append(row,
		strconv.FormatInt(int64(rec.ID), 10), strconv.Itoa(rec.Version), guard(string(rec.Mode)), guard(rec.Language),
		guard(string(rec.Status)), rec.StartedAt.UTC().Format(time.RFC3339), ended, guard(rec.EndCause),
		guard(c.Agent), guard(c.Queue), guard(c.CallID), guard(c.Touchpoint), guard(c.CallerNumber), guard(c.CustomerID), contextCell(c.Extra))
	if l := rec.Sample; l != nil {
		row = append(row, strconv.FormatInt(int64(rec.CaseID), 10), guard(l.Campaign), guard(string(l.Disposition)), guard(l.Phone))
		for _, f := range contact {
			row = append(row, guard(l.Fields[f]))
		}
	} else {
		row = append(row, "", "", "", "")
		for range contact {
			row = append(row, "")
		}
	}
	answers := make(map[string]*survey.Answer, len(rec.Answers))
	for i := range rec.Answers {
		answers[rec.Answers[i].Question] = &rec.Answers[i]
	}
	for _, qq := range questions {
		a := answers[qq.ID]
		if a == nil {
			row = append(row, "")
			if paradata {
				row = append(row, "", "", "", "", "", "")
			}
			continue
		}
		if a.Skipped {
			row = append(row, "")
		} else {
			row = append(row, cell(a.Value))
		}
		if paradata {
			p := a.Paradata
			first := ""
			if p.FirstKeyMillis != 0 {
				first = strconv.FormatInt(p.FirstKeyMillis, 10)
			}
			row = append(row, guard(p.RawKeys), first, strconv.Itoa(p.NoInput), strconv.Itoa(p.NoMatch), flag(p.BargeIn), string(p.Mode))
		}
	}
	return row
}

// contextCell is the context's other fields as a JSON object (sorted keys),
// "" when there are none.
func contextCell(extra map[string]string) string {
	if len(extra) == 0 {
		return ""
	}
	b, err := json.Marshal(extra)
	if err != nil {
		return ""
	}
	return guard(string(b))
}

// cell formats an answer value. It goes by the value's Go type rather than
// the question's, so that answers stored under an older version whose
// question had another type still export.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case bool:
		return flag(x)
	case string:
		return guard(x)
	case []string:
		return guard(strings.Join(x, ";"))
	case []any:
		s := make([]string, len(x))
		for i, e := range x {
			s[i] = fmt.Sprint(e)
		}
		return guard(strings.Join(s, ";"))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return guard(fmt.Sprint(v))
	}
	return guard(string(b))
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// plainNumber is a cell no spreadsheet can run as a formula although it
// starts with + or -: digits and phone-number punctuation only.
var plainNumber = regexp.MustCompile(`^[+-]?[0-9][0-9 .()-]*$`)

// guard defuses a text cell a spreadsheet would run as a formula.
func guard(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if !plainNumber.MatchString(s) {
			return "'" + s
		}
	}
	return s
}
