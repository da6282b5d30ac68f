package cati

// This file reads query parameters. Each bad parameter is a 400 that names
// it and the form it takes, and unknown parameters are refused so that a
// typo (?form=) does not silently return everything. Values that are not
// UTF-8 or hold NUL are refused here too, before they reach the database.

import (
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/canvass/canvass/survey"
)

// timeForm is what from and to accept.
const timeForm = "RFC 3339 or YYYY-MM-DD"

// checkParams refuses parameters other than allowed, and repeated ones.
func checkParams(q url.Values, allowed ...string) error {
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(allowed, name) {
			if len(allowed) == 0 {
				return survey.Errorf(survey.EInvalid, "unknown parameter %q: this endpoint takes none", survey.Clip(name, 64))
			}
			return survey.Errorf(survey.EInvalid, "unknown parameter %q: this endpoint takes %s", survey.Clip(name, 64), strings.Join(allowed, ", "))
		}
		if len(q[name]) > 1 {
			return survey.Errorf(survey.EInvalid, "%s: given %d times; give it once", name, len(q[name]))
		}
	}
	return checkValues(q)
}

// checkValues refuses a query or form with a name or value that is not text
// PostgreSQL can store (see checkText).
func checkValues(vs url.Values) error {
	for _, name := range slices.Sorted(maps.Keys(vs)) {
		if err := checkText("parameter name", name); err != nil {
			return err
		}
		for _, v := range vs[name] {
			if err := checkText(name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkText refuses a value that is not UTF-8 or holds a NUL character:
// PostgreSQL text cannot hold either, and the database's error would be a
// 500 that names neither the field nor the fix. what names the value.
func checkText(what, v string) error {
	if !utf8.ValidString(v) {
		return survey.Errorf(survey.EInvalid, "%s: %q is not UTF-8 text; send UTF-8, percent-encoded in a URL", what, survey.Clip(v, 64))
	}
	if strings.IndexByte(v, 0) >= 0 {
		return survey.Errorf(survey.EInvalid, "%s: %q contains a NUL character (%%00), which cannot be stored; remove it", what, survey.Clip(v, 64))
	}
	return nil
}

// parseTime reads a from or to parameter: an RFC 3339 instant, or a date
// taken in UTC. As an upper bound (end), a date means the end of that day, so
// that from=2025-01-01&to=2025-01-31 covers all of January; the range is
// [from, to) either way. An empty value is the zero time.
func parseTime(name, v string, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	return time.Time{}, invalidParam(name, timeForm, v)
}

// parseRange reads from and to; either may be absent (zero). When both are
// given, from must be before to.
func parseRange(q url.Values) (from, to time.Time, err error) {
	if from, err = parseTime("from", q.Get("from"), false); err != nil {
		return from, to, err
	}
	if to, err = parseTime("to", q.Get("to"), true); err != nil {
		return from, to, err
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return from, to, survey.Errorf(survey.EInvalid, "from: %s is not before to (%s); the range is [from, to)",
			from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	}
	return from, to, nil
}

// defaultRange fills a missing end of a range: to defaults to now, from to
// span before to.
func defaultRange(from, to, now time.Time, span time.Duration) (time.Time, time.Time, error) {
	if to.IsZero() {
		to = now
	}
	if from.IsZero() {
		from = to.Add(-span)
	}
	if !from.Before(to) {
		return from, to, survey.Errorf(survey.EInvalid, "from: %s is not before to (%s); the range is [from, to)",
			from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	}
	return from, to, nil
}

// parseInt reads an integer parameter in [lo, hi]; def when absent.
func parseInt(q url.Values, name string, lo, hi, def int64) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		want := fmt.Sprintf("an integer from %d to %d", lo, hi)
		if hi == math.MaxInt64 {
			want = fmt.Sprintf("an integer of at least %d", lo)
		}
		return 0, invalidParam(name, want, v)
	}
	return n, nil
}

// parseID reads a positive integer path value, such as an interview id.
func parseID(name, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, invalidParam(name, "a positive integer", v)
	}
	return n, nil
}

// oneOf reads a parameter that takes one of values; def when absent.
func oneOf[T ~string](q url.Values, name string, def T, values ...T) (T, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	if slices.Contains(values, T(v)) {
		return T(v), nil
	}
	s := make([]string, len(values))
	for i, x := range values {
		s[i] = string(x)
	}
	return "", invalidParam(name, "one of "+strings.Join(s, ", "), v)
}
