package survey

// This file is the calling-window rule: a respondent is called only inside
// the campaign's windows in their own local time. The case claim repeats the
// test in SQL for speed (sql's window filter); a test there checks that the
// two agree over generated windows, zones and instants across DST changes.

import (
	"fmt"
	"strings"
	"time"
)

// Window is a calling window on weekday Dow (0 = Sunday) from Opens to
// Closes, in minutes after the respondent's local midnight.
type Window struct {
	Dow    int
	Opens  int
	Closes int
}

// Contains reports whether t falls in the window in loc: on the window's
// weekday by the local calendar, at a local clock time in [Opens, Closes).
func (w Window) Contains(t time.Time, loc *time.Location) bool {
	local := t.In(loc)
	minute := local.Hour()*60 + local.Minute()
	return w.Dow == int(local.Weekday()) && minute >= w.Opens && minute < w.Closes
}

// Windows are a campaign's calling windows.
type Windows []Window

// At returns the window containing t in loc, if any.
func (ws Windows) At(t time.Time, loc *time.Location) (Window, bool) {
	for _, w := range ws {
		if w.Contains(t, loc) {
			return w, true
		}
	}
	return Window{}, false
}

// Contains reports whether t is inside one of the windows in loc.
func (ws Windows) Contains(t time.Time, loc *time.Location) bool {
	_, ok := ws.At(t, loc)
	return ok
}

// String describes the windows for a message, grouping days with the same
// hours: "Mon–Fri 09:00–21:00, Sat 10:00–18:00".
func (ws Windows) String() string {
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

// Location loads a contact's time zone; "" is UTC.
func Location(tz string) (*time.Location, error) {
	if tz == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", tz, err)
	}
	return loc, nil
}

// LocalLayout is how a respondent-local date and time is written.
const LocalLayout = "2006-01-02T15:04"

// ParseLocal reads a respondent-local date and time in loc. A time that a
// DST change skips or repeats is refused rather than guessed.
func ParseLocal(s string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(LocalLayout, s, loc)
	if err != nil {
		return time.Time{}, Errorf(EInvalid, "give the appointment as YYYY-MM-DDTHH:MM in the respondent's time, not %q", Clip(s, 40))
	}
	// Go moves a time in a DST gap forward; refuse it, since the
	// respondent named a clock time that does not exist that day.
	if t.Format(LocalLayout) != s {
		return time.Time{}, Errorf(EInvalid, "%s does not exist in %s (the clocks change that day); pick another time", s, loc)
	}
	return t, nil
}

// Clip keeps echoed user input short, for messages: at most n bytes, then "…".
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
