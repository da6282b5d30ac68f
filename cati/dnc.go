package cati

// This file is the do-not-call API: the system-wide list at /api/v1/dnc and
// each campaign's at /api/v1/campaigns/{id}/dnc. Readers list, uploaders add
// one number (JSON) or a CSV file of them and take numbers off. Numbers are
// normalized to E.164 as the sample importer does; bad rows are reported by
// line and left out, the good ones are listed.

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/canvass/canvass/survey"
)

// DNCStore keeps the do-not-call lists; campaign 0 is the system-wide list.
// An unknown campaign returns an error coded survey.ENotFound.
type DNCStore interface {
	// AddDNC lists numbers (E.164) and returns how many were not listed yet.
	AddDNC(ctx context.Context, entries []survey.DNCEntry) (added int, err error)
	DNC(ctx context.Context, campaign survey.CampaignID) ([]survey.DNCEntry, error)
	// RemoveDNC takes a number off a list; survey.ENotFound if it is not on it.
	RemoveDNC(ctx context.Context, campaign survey.CampaignID, phone string) error
	// CaseDNC lists the listings that hold case id's number at now.
	CaseDNC(ctx context.Context, id survey.CaseID, phone string, now time.Time) ([]survey.DNCEntry, error)
}

// dncRow is a line of a CSV file left out, and how to fix it.
type dncRow struct {
	Line    int    `json:"line"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// dncReport is what a POST did.
type dncReport struct {
	Campaign survey.CampaignID `json:"campaign"` // 0: the system-wide list
	Lines    int               `json:"lines"`    // numbers read
	Added    int               `json:"added"`    // newly listed
	Already  int               `json:"already"`  // were listed before
	Errors   []dncRow          `json:"errors"`
}

type dncList struct {
	Campaign survey.CampaignID `json:"campaign"`
	Count    int               `json:"count"`
	Numbers  []survey.DNCEntry `json:"numbers"`
}

const maxDNCNote = 500

// dncRequest is what a change to a list needs: the store, the list (0: the
// system-wide one) and the region national numbers are read in.
func (s *Server) dncRequest(r *http.Request) (DNCStore, survey.CampaignID, string, error) {
	st, err := s.dncStore()
	if err != nil {
		return nil, 0, "", err
	}
	campaign, err := dncCampaign(r)
	if err != nil {
		return nil, 0, "", err
	}
	region, err := s.region(r)
	return st, campaign, region, err
}

func (s *Server) dncStore() (DNCStore, error) {
	if s.dnc == nil {
		return nil, httpError(http.StatusServiceUnavailable, survey.EInternal, "do-not-call lists are not configured on this server")
	}
	return s.dnc, nil
}

// dncCampaign is the list a request is about: the path's campaign, or 0.
func dncCampaign(r *http.Request) (survey.CampaignID, error) {
	v := r.PathValue("id")
	if v == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, survey.Errorf(survey.ENotFound, "no campaign %q", survey.Clip(v, 20))
	}
	return survey.CampaignID(id), nil
}

// region reads numbers written without +country: the request's region
// parameter, else the console's default region, else US.
func (s *Server) region(r *http.Request) (string, error) {
	if v := r.URL.Query().Get("region"); v != "" {
		v = strings.ToUpper(v)
		if len(v) != 2 || phonenumbers.GetCountryCodeForRegion(v) == 0 {
			return "", invalidParam("region", "a two-letter country code such as US or FR", v)
		}
		return v, nil
	}
	if s.console != nil {
		return s.console.Options.DefaultRegion, nil
	}
	return "US", nil
}

func (s *Server) listDNC(w http.ResponseWriter, r *http.Request) error {
	st, err := s.dncStore()
	if err != nil {
		return err
	}
	campaign, err := dncCampaign(r)
	if err != nil {
		return err
	}
	list, err := st.DNC(r.Context(), campaign)
	if err != nil {
		return err
	}
	if list == nil {
		list = []survey.DNCEntry{}
	}
	s.writeJSON(w, r, http.StatusOK, dncList{Campaign: campaign, Count: len(list), Numbers: list})
	return nil
}

// addDNC lists one number, {"phone": …, "note": …} as application/json, or
// a CSV file (text/csv) with a phone column and an optional note column.
func (s *Server) addDNC(w http.ResponseWriter, r *http.Request) error {
	st, campaign, region, err := s.dncRequest(r)
	if err != nil {
		return err
	}
	p, _ := r.Context().Value(principalKey{}).(principal)
	by := "token:" + p.name
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	rep := dncReport{Campaign: campaign, Errors: []dncRow{}}
	var entries []survey.DNCEntry
	switch mt {
	case "application/json":
		var in struct {
			Phone string `json:"phone"`
			Note  string `json:"note"`
		}
		d := json.NewDecoder(r.Body)
		d.DisallowUnknownFields()
		if err := d.Decode(&in); err != nil {
			return survey.Errorf(survey.EInvalid, "the body must be JSON {\"phone\": \"+15551234567\", \"note\": \"…\"}: %v", err)
		}
		phone, err := e164(in.Phone, region)
		if err != nil {
			return err
		}
		if utf8.RuneCountInString(in.Note) > maxDNCNote {
			return survey.Errorf(survey.EInvalid, "the note is longer than %d characters", maxDNCNote)
		}
		rep.Lines = 1
		entries = append(entries, survey.DNCEntry{Phone: phone, Campaign: campaign, AddedBy: by, Source: survey.DNCAPI, Note: strings.TrimSpace(in.Note)})
	case "text/csv":
		if entries, err = parseDNC(r.Body, region, &rep); err != nil {
			return err
		}
		for i := range entries {
			entries[i].Campaign, entries[i].AddedBy, entries[i].Source = campaign, by, survey.DNCImport
		}
	default:
		return httpError(http.StatusUnsupportedMediaType, survey.EInvalid,
			"send one number as application/json or a file of numbers as text/csv, not %q", survey.Clip(mt, 40))
	}
	now := s.now().UTC()
	for i := range entries {
		entries[i].AddedAt = now
	}
	if len(entries) > 0 {
		if rep.Added, err = st.AddDNC(r.Context(), entries); err != nil {
			return err
		}
	}
	rep.Already = len(entries) - rep.Added
	s.requestLog(r).Info("do-not-call numbers added", "campaign", campaign, "added", rep.Added, "already", rep.Already, "bad_rows", len(rep.Errors))
	s.writeJSON(w, r, http.StatusOK, rep)
	return nil
}

// Limits of a do-not-call file.
const (
	maxDNCRows   = 1_000_000
	maxDNCErrors = 1000
)

// parseDNC reads a CSV file of numbers: a header line naming a phone
// column (phone or number) and optionally a note column. Bad rows go into
// rep.Errors; the error is for the file as a whole.
func parseDNC(r io.Reader, region string, rep *dncReport) ([]survey.DNCEntry, error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && string(b) == utf8BOM {
		if _, err := br.Discard(3); err != nil {
			return nil, err
		}
	}
	rd := csv.NewReader(br)
	rd.FieldsPerRecord = -1
	header, err := rd.Read()
	if errors.Is(err, io.EOF) {
		return nil, survey.Errorf(survey.EInvalid, "the file is empty: it needs a header line with a phone column")
	}
	if err != nil {
		return nil, tooBig(err, survey.Errorf(survey.EInvalid, "the header line cannot be read as CSV: %s", csvMessage(err)))
	}
	phoneCol, noteCol := -1, -1
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "phone", "number":
			if phoneCol < 0 {
				phoneCol = i
			}
		case "note":
			noteCol = i
		}
	}
	if phoneCol < 0 {
		return nil, survey.Errorf(survey.EInvalid, "the header line needs a column named phone (it has: %s)", survey.Clip(strings.Join(header, ", "), 200))
	}
	fail := func(line int, field, format string, args ...any) error {
		if len(rep.Errors) >= maxDNCErrors {
			return survey.Errorf(survey.EInvalid, "more than %d bad rows: is this a CSV file of phone numbers with a header line? Nothing was listed", maxDNCErrors)
		}
		rep.Errors = append(rep.Errors, dncRow{Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
		return nil
	}
	var out []survey.DNCEntry
	seen := map[string]bool{}
	for {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if pe, ok := errors.AsType[*csv.ParseError](err); ok {
			rep.Lines++
			if err := fail(pe.StartLine, "", "not valid CSV: %s; quote a field that holds a comma", csvMessage(err)); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, tooBig(err, fmt.Errorf("read do-not-call file: %w", err))
		}
		line, _ := rd.FieldPos(0)
		rep.Lines++
		if rep.Lines > maxDNCRows {
			return nil, survey.Errorf(survey.EInvalid, "the file has more than %d rows; split it", maxDNCRows)
		}
		if phoneCol >= len(rec) {
			if err := fail(line, "phone", "the row has %d fields and no phone; the header has %d", len(rec), len(header)); err != nil {
				return nil, err
			}
			continue
		}
		if !utf8.ValidString(strings.Join(rec, "")) {
			return nil, notUTF8(line)
		}
		phone, perr := e164(rec[phoneCol], region)
		if perr != nil {
			if err := fail(line, "phone", "%s", survey.ErrorMessage(perr)); err != nil {
				return nil, err
			}
			continue
		}
		note := ""
		if noteCol >= 0 && noteCol < len(rec) {
			note = strings.TrimSpace(rec[noteCol])
			if utf8.RuneCountInString(note) > maxDNCNote {
				if err := fail(line, "note", "the note is longer than %d characters: shorten it", maxDNCNote); err != nil {
					return nil, err
				}
				continue
			}
		}
		if seen[phone] {
			continue // listed once
		}
		seen[phone] = true
		out = append(out, survey.DNCEntry{Phone: phone, Note: note})
	}
	if rep.Lines == 0 {
		return nil, survey.Errorf(survey.EInvalid, "the file has a header but no numbers")
	}
	return out, nil
}

// tooBig reports a body over the limit as 413, else err.
func tooBig(cause, err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](cause); ok {
		return httpError(http.StatusRequestEntityTooLarge, survey.EInvalid, "the file is larger than this server accepts (http.max_body_bytes); split it")
	}
	return err
}

func (s *Server) removeDNC(w http.ResponseWriter, r *http.Request) error {
	st, campaign, region, err := s.dncRequest(r)
	if err != nil {
		return err
	}
	phone, err := e164(r.PathValue("phone"), region)
	if err != nil {
		return err
	}
	if err := st.RemoveDNC(r.Context(), campaign, phone); err != nil {
		return err
	}
	s.requestLog(r).Info("do-not-call number removed", "campaign", campaign, "phone", phone)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
