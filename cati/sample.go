package cati

// This file is the sample importer: a CSV file and a column mapping become
// contacts — phones normalized to E.164 with nyaruka/phonenumbers (numbers
// without a +country prefix read in a default region), time zones from a
// column or derived from the number, contact fields from named columns.
// Every broken row is reported with its line and left out; numbers given
// twice are reported as duplicates; a file that is not UTF-8 is refused
// whole, since its text would be stored garbled.

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/canvass/canvass/survey"
)

// Mapping says which CSV column holds what. Column names are matched
// case-insensitively after trimming spaces; "" leaves an optional column
// out.
type Mapping struct {
	Phone    string
	TZ       string // "" = derive from the number
	Language string
	Priority string
	// More are the columns of the contact's other numbers, in the order
	// they are tried when one is settled as not working.
	More   []string
	Fields map[string]string // contact field -> column
}

// rowError is a row left out, and why.
type rowError struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// sampleReport is what the importer made of a file.
type sampleReport struct {
	Rows       []survey.SampleRow `json:"-"`
	Lines      int                `json:"lines"` // data rows read
	Errors     []rowError         `json:"errors"`
	Duplicates []rowError         `json:"duplicates"`
	Truncated  bool               `json:"truncated,omitempty"` // too many errors to list
	// Labels are the file's own names of the contact fields' columns
	// ("First name" for first_name), for the interviewers' screen.
	Labels map[string]string `json:"-"`
}

// Limits of one import.
const (
	maxSampleRows = 1_000_000
	maxRowErrors  = 1000
	maxFieldRunes = 500
	progressEvery = 1000
	utf8BOM       = "\xef\xbb\xbf"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// parseSample reads a sample CSV. progress, when set, is called every
// progressEvery rows with the rows and bytes read so far. The error is for
// the file as a whole (no header, a mapped column missing, not UTF-8, too
// big); row problems are in the report.
func parseSample(r io.Reader, m Mapping, region string, progress func(rows int, bytes int64)) (sampleReport, error) {
	rep := sampleReport{Errors: []rowError{}, Duplicates: []rowError{}}
	cr := &countingReader{r: r}
	br := bufio.NewReaderSize(cr, 64<<10)
	if b, err := br.Peek(3); err == nil && string(b) == utf8BOM {
		if _, err := br.Discard(3); err != nil {
			return rep, fmt.Errorf("read sample: %w", err)
		}
	}
	rd := csv.NewReader(br)
	rd.FieldsPerRecord = -1
	rd.ReuseRecord = true
	header, err := rd.Read()
	if errors.Is(err, io.EOF) {
		return rep, survey.Errorf(survey.EInvalid, "the file is empty: it needs a header line naming the columns")
	}
	if err != nil {
		return rep, survey.Errorf(survey.EInvalid, "the header line cannot be read as CSV: %s", csvMessage(err))
	}
	if !utf8.ValidString(strings.Join(header, "")) {
		return rep, notUTF8(1)
	}
	cols := map[string]int{}
	for i, h := range header {
		cols[strings.ToLower(strings.TrimSpace(h))] = i
	}
	col := func(name string) (int, error) {
		if name == "" {
			return -1, nil
		}
		i, ok := cols[strings.ToLower(strings.TrimSpace(name))]
		if !ok {
			return -1, survey.Errorf(survey.EInvalid, "the file has no column %q (its columns are: %s)", name, strings.Join(header, ", "))
		}
		return i, nil
	}
	if strings.TrimSpace(m.Phone) == "" {
		return rep, survey.Errorf(survey.EInvalid, "say which column holds the phone number")
	}
	phoneCol, err := col(m.Phone)
	if err != nil {
		return rep, err
	}
	tzCol, err := col(m.TZ)
	if err != nil {
		return rep, err
	}
	langCol, err := col(m.Language)
	if err != nil {
		return rep, err
	}
	prioCol, err := col(m.Priority)
	if err != nil {
		return rep, err
	}
	var (
		moreCols   []int
		moreLabels []string // copied: the reader reuses the header's record
	)
	for _, c := range m.More {
		if strings.TrimSpace(c) == "" {
			continue
		}
		i, err := col(c)
		if err != nil {
			return rep, err
		}
		moreCols, moreLabels = append(moreCols, i), append(moreLabels, strings.Clone(strings.TrimSpace(header[i])))
	}
	fieldCols := map[string]int{}
	for f, c := range m.Fields {
		if c == "" {
			continue
		}
		if fieldCols[f], err = col(c); err != nil {
			return rep, err
		}
		if rep.Labels == nil {
			rep.Labels = map[string]string{}
		}
		rep.Labels[f] = strings.TrimSpace(header[fieldCols[f]])
	}
	seen := map[string]int{} // E.164 -> first line
	fail := func(line int, format string, args ...any) {
		if len(rep.Errors) >= maxRowErrors {
			rep.Truncated = true
			return
		}
		rep.Errors = append(rep.Errors, rowError{Line: line, Message: fmt.Sprintf(format, args...)})
	}
	tzCache := map[string]bool{}
	for {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if pe, ok := errors.AsType[*csv.ParseError](err); ok {
			rep.Lines++
			fail(pe.StartLine, "not valid CSV: %s", csvMessage(err))
			if rep.Truncated {
				return rep, survey.Errorf(survey.EInvalid, "more than %d broken rows: is this a CSV file with a header line?", maxRowErrors)
			}
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("read sample: %w", err)
		}
		line, _ := rd.FieldPos(0)
		rep.Lines++
		if rep.Lines > maxSampleRows {
			return rep, survey.Errorf(survey.EInvalid, "the file has more than %d rows; split it", maxSampleRows)
		}
		if progress != nil && rep.Lines%progressEvery == 0 {
			progress(rep.Lines, cr.n)
		}
		for _, f := range rec {
			if !utf8.ValidString(f) {
				return rep, notUTF8(line)
			}
		}
		if len(rec) != len(header) {
			fail(line, "has %d fields; the header has %d", len(rec), len(header))
			continue
		}
		num, phone, err := parsePhone(rec[phoneCol], region)
		if err != nil {
			fail(line, "%s", survey.ErrorMessage(err))
			continue
		}
		row := survey.SampleRow{Line: line, Phone: phone, Attrs: map[string]string{}}
		bad := false
		for k, i := range moreCols {
			raw := strings.TrimSpace(rec[i])
			if raw == "" {
				continue
			}
			_, other, err := parsePhone(raw, region)
			if err != nil {
				fail(line, "%s: %s", moreLabels[k], survey.ErrorMessage(err))
				bad = true
				break
			}
			if other != phone && !slices.ContainsFunc(row.More, func(n survey.Number) bool { return n.Phone == other }) {
				row.More = append(row.More, survey.Number{Phone: other, Label: moreLabels[k]})
			}
		}
		if bad {
			continue
		}
		if tzCol >= 0 && strings.TrimSpace(rec[tzCol]) != "" {
			row.TZ = strings.TrimSpace(rec[tzCol])
			ok, known := tzCache[row.TZ]
			if !known {
				_, err := time.LoadLocation(row.TZ)
				ok = err == nil && row.TZ != "Local"
				tzCache[row.TZ] = ok
			}
			if !ok {
				fail(line, "%q is not a time zone (use IANA names such as America/New_York)", survey.Clip(row.TZ, 40))
				continue
			}
		} else {
			row.TZ = numberZone(num)
			if row.TZ == "" {
				fail(line, "the time zone of %s cannot be told from the number; add a time zone column", phone)
				continue
			}
		}
		if langCol >= 0 {
			row.Language = strings.TrimSpace(rec[langCol])
		}
		if prioCol >= 0 && strings.TrimSpace(rec[prioCol]) != "" {
			p, err := strconv.Atoi(strings.TrimSpace(rec[prioCol]))
			if err != nil || p < -1000 || p > 1000 {
				fail(line, "priority %q is not a whole number from -1000 to 1000", survey.Clip(rec[prioCol], 20))
				continue
			}
			row.Priority = p
		}
		tooLong := ""
		for f, i := range fieldCols {
			v := strings.TrimSpace(rec[i])
			if utf8.RuneCountInString(v) > maxFieldRunes {
				tooLong = f
			}
			row.Attrs[f] = v
		}
		if tooLong != "" {
			fail(line, "%s is longer than %d characters", tooLong, maxFieldRunes)
			continue
		}
		if first, dup := seen[phone]; dup {
			if len(rep.Duplicates) < maxRowErrors {
				rep.Duplicates = append(rep.Duplicates, rowError{Line: line, Message: fmt.Sprintf("%s is also on line %d", phone, first)})
			} else {
				rep.Truncated = true
			}
			continue
		}
		seen[phone] = line
		rep.Rows = append(rep.Rows, row)
	}
	if progress != nil {
		progress(rep.Lines, cr.n)
	}
	if rep.Lines == 0 {
		return rep, survey.Errorf(survey.EInvalid, "the file has a header but no rows")
	}
	return rep, nil
}

// numberZone is the time zone of a number's region or prefix, "" when the
// number spans several zones or none is known.
func numberZone(num *phonenumbers.PhoneNumber) string {
	zones, err := phonenumbers.GetTimezonesForNumber(num)
	if err != nil || len(zones) != 1 || zones[0] == "Etc/Unknown" {
		return ""
	}
	if _, err := time.LoadLocation(zones[0]); err != nil {
		return ""
	}
	return zones[0]
}

func notUTF8(line int) error {
	return survey.Errorf(survey.EInvalid, "line %d is not UTF-8 text: the file must be saved as UTF-8 (in a spreadsheet, save as \"CSV UTF-8\"); nothing was imported", line)
}

// csvMessage is a CSV error without the package's prefix.
func csvMessage(err error) string {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// e164 normalizes a phone number (a sample's, a do-not-call listing's),
// reading one without +country as a number of region, or says how to fix
// it.
func e164(raw, region string) (string, error) {
	_, phone, err := parsePhone(raw, region)
	return phone, err
}

// parsePhone is e164 with the parsed number, for what else it tells (its
// time zone).
func parsePhone(raw, region string) (*phonenumbers.PhoneNumber, string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, "", survey.Errorf(survey.EInvalid, "the phone number is empty")
	}
	num, err := phonenumbers.Parse(raw, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return nil, "", survey.Errorf(survey.EInvalid, "%q is not a valid phone number (numbers without +country are read as %s numbers)",
			survey.Clip(raw, 40), region)
	}
	return num, phonenumbers.Format(num, phonenumbers.E164), nil
}
