package survey

// This file is the time-slice rule: a case's attempts rotate across parts
// of the respondent's week (morning, afternoon, evening, on weekdays and at
// weekends by default), all in the respondent's local time, so a case is
// not always tried at the hour nobody is home. A case not yet tried in the
// slice the respondent is in now ranks first. The claims (sql) repeat the
// rule in SQL over a campaign's slices as JSON; a test keeps the two in
// step.

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Days is a set of weekdays, bit time.Weekday (Sunday = bit 0).
type Days uint8

// Day sets.
const (
	Weekdays Days = 1<<time.Monday | 1<<time.Tuesday | 1<<time.Wednesday | 1<<time.Thursday | 1<<time.Friday
	Weekend  Days = 1<<time.Saturday | 1<<time.Sunday
	Daily         = Weekdays | Weekend
)

// Has reports whether d holds weekday w.
func (d Days) Has(w time.Weekday) bool { return d&(1<<w) != 0 }

// Slice is a part of the respondent's week: the days Days, from From to To
// minutes after local midnight, [From, To).
type Slice struct {
	Name string `json:"name"`
	Days Days   `json:"days"`
	From int    `json:"from"`
	To   int    `json:"to"`
}

// Slices are a campaign's time slices; a local time falls in one at most.
type Slices []Slice

// DefaultSlices are morning (before noon), afternoon (noon to 17:00) and
// evening (from 17:00), on weekdays and at weekends. They cover the whole
// week, so whatever the calling windows allow falls in one.
func DefaultSlices() Slices {
	var ss Slices
	for _, d := range []struct {
		name string
		days Days
	}{{"weekday", Weekdays}, {"weekend", Weekend}} {
		ss = append(ss,
			Slice{d.name + " morning", d.days, 0, 12 * 60},
			Slice{d.name + " afternoon", d.days, 12 * 60, 17 * 60},
			Slice{d.name + " evening", d.days, 17 * 60, 24 * 60})
	}
	return ss
}

// Validate returns every problem of ss at once.
func (ss Slices) Validate() error {
	var errs []error
	names := map[string]bool{}
	for i, s := range ss {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("slices[%d] %q: %s", i, s.Name, fmt.Sprintf(format, args...)))
		}
		if s.Name == "" {
			bad("no name")
		} else if strings.ContainsAny(s.Name, ":\n") || len(s.Name) > 60 {
			bad("a name has no colon or line break, and at most 60 characters")
		} else if names[s.Name] {
			bad("the name is used twice")
		}
		names[s.Name] = true
		if s.Days&Daily == 0 || s.Days&^Daily != 0 {
			bad("days must be a set of weekdays")
		}
		if s.From < 0 || s.To > 24*60 || s.From >= s.To {
			bad("from %d to %d: want minutes after midnight, 0 ≤ from < to ≤ 1440", s.From, s.To)
		}
		for j, o := range ss[:i] {
			if s.Days&o.Days != 0 && s.From < o.To && o.From < s.To {
				bad("overlaps slices[%d] %q", j, o.Name)
			}
		}
	}
	return errors.Join(errs...)
}

// At returns the index of the slice holding t in loc: by the local weekday
// and clock time, so a DST change moves nothing.
func (ss Slices) At(t time.Time, loc *time.Location) (int, bool) {
	local := t.In(loc)
	minute := local.Hour()*60 + local.Minute()
	for i, s := range ss {
		if s.Days.Has(local.Weekday()) && minute >= s.From && minute < s.To {
			return i, true
		}
	}
	return -1, false
}

// Score ranks a case for a call at now: the number of its earlier attempts
// (attempts, instants) that fell in the slice the respondent is in now.
// Lower ranks first, so a case not yet tried in this slice (0) comes before
// one tried here before, whatever its other attempts. ok is false when now
// is in no slice (the score is then 0 for every case).
func (ss Slices) Score(now time.Time, loc *time.Location, attempts []time.Time) (score int, ok bool) {
	cur, ok := ss.At(now, loc)
	if !ok {
		return 0, false
	}
	for _, a := range attempts {
		if i, in := ss.At(a, loc); in && i == cur {
			score++
		}
	}
	return score, true
}
