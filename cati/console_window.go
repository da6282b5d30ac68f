package cati

// This file is calling windows in the respondent's local time: whether a
// moment falls in one, and when the current one closes. The case claim does
// the same test in SQL (sql.ClaimNext); this one checks appointments and
// tells the interviewer the respondent's local time.

import (
	"fmt"
	"strings"
	"time"

	"github.com/canvass/canvass/survey"
)

// location loads a contact's time zone; "" is UTC.
func location(tz string) (*time.Location, error) {
	if tz == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", tz, err)
	}
	return loc, nil
}

// windowAt returns the window containing t in loc, if any.
func windowAt(ws []Window, t time.Time, loc *time.Location) (Window, bool) {
	local := t.In(loc)
	minute := local.Hour()*60 + local.Minute()
	for _, w := range ws {
		if w.Dow == int(local.Weekday()) && minute >= w.Opens && minute < w.Closes {
			return w, true
		}
	}
	return Window{}, false
}

// inWindow reports whether t is inside one of the windows in loc.
func inWindow(ws []Window, t time.Time, loc *time.Location) bool {
	_, ok := windowAt(ws, t, loc)
	return ok
}

// windowText describes the windows for a message, grouping days with the
// same hours: "Mon–Fri 09:00–21:00, Sat 10:00–18:00".
func windowText(ws []Window) string {
	if len(ws) == 0 {
		return "no calling hours are set"
	}
	hours := map[int]string{}
	for _, w := range ws {
		hours[w.Dow] = fmt.Sprintf("%02d:%02d–%02d:%02d", w.Opens/60, w.Opens%60, w.Closes/60, w.Closes%60)
	}
	order := []int{1, 2, 3, 4, 5, 6, 0} // Monday first
	if len(hours) == 7 {
		same := true
		for _, d := range order {
			same = same && hours[d] == hours[1]
		}
		if same {
			return "daily " + hours[1]
		}
	}
	day := func(d int) string { return time.Weekday(d).String()[:3] }
	var parts []string
	for i := 0; i < len(order); {
		h, ok := hours[order[i]]
		if !ok {
			i++
			continue
		}
		j := i
		for j+1 < len(order) && hours[order[j+1]] == h {
			j++
		}
		name := day(order[i])
		if j > i {
			name += "–" + day(order[j])
		}
		parts = append(parts, name+" "+h)
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// localLayout is how the console sends a respondent-local date and time.
const localLayout = "2006-01-02T15:04"

// parseLocal reads a respondent-local date and time in loc. A time that a
// DST change skips or repeats is refused rather than guessed.
func parseLocal(s string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(localLayout, s, loc)
	if err != nil {
		return time.Time{}, survey.Errorf(survey.EInvalid, "give the appointment as YYYY-MM-DDTHH:MM in the respondent's time, not %q", truncate(s, 40))
	}
	// Go moves a time in a DST gap forward; refuse it, since the
	// respondent named a clock time that does not exist that day.
	if t.Format(localLayout) != s {
		return time.Time{}, survey.Errorf(survey.EInvalid, "%s does not exist in %s (the clocks change that day); pick another time", s, loc)
	}
	return t, nil
}
