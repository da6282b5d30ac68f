package survey

// This file is the time slices as an administrator writes them, one a
// line: "weekday evening: Mon-Fri 17:00-24:00". Days are English weekday
// abbreviations, single or as ranges, separated by commas, or "daily";
// times are HH:MM, 24:00 allowed as the end.

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

var dayNames = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// ParseSlices reads slices from text, one a line (blank lines skipped),
// and validates them; every problem is named with its line.
func ParseSlices(text string) (Slices, error) {
	var (
		ss   Slices
		errs []error
	)
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		s, err := parseSlice(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("time slices, line %d (%q): %w", i+1, Clip(line, 60), err))
			continue
		}
		ss = append(ss, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := ss.Validate(); err != nil {
		return nil, fmt.Errorf("time slices: %w", err)
	}
	return ss, nil
}

func parseSlice(line string) (Slice, error) {
	name, rest, ok := strings.Cut(line, ":")
	name, rest = strings.TrimSpace(name), strings.TrimSpace(rest)
	if !ok || name == "" {
		return Slice{}, errors.New(`write "name: days HH:MM-HH:MM", e.g. "weekday evening: Mon-Fri 17:00-24:00"`)
	}
	days, span, ok := strings.Cut(rest, " ")
	if !ok {
		return Slice{}, errors.New("give the days, then the hours, e.g. Mon-Fri 17:00-24:00")
	}
	s := Slice{Name: name}
	d, err := parseDays(days)
	if err != nil {
		return Slice{}, err
	}
	s.Days = d
	from, to, ok := strings.Cut(strings.TrimSpace(span), "-")
	if !ok {
		return Slice{}, errors.New("give the hours as HH:MM-HH:MM")
	}
	if s.From, err = clockMinutes(from); err != nil {
		return Slice{}, err
	}
	if s.To, err = clockMinutes(to); err != nil {
		return Slice{}, err
	}
	return s, nil
}

func parseDays(text string) (Days, error) {
	if strings.EqualFold(text, "daily") {
		return Daily, nil
	}
	var d Days
	for _, part := range strings.Split(text, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, err := dayOf(from)
		if err != nil {
			return 0, err
		}
		b := a
		if isRange {
			if b, err = dayOf(to); err != nil {
				return 0, err
			}
		}
		for w := a; ; w = (w + 1) % 7 {
			d |= 1 << w
			if w == b {
				break
			}
		}
	}
	return d, nil
}

func dayOf(name string) (time.Weekday, error) {
	for i, n := range dayNames {
		if strings.EqualFold(strings.TrimSpace(name), n) {
			return time.Weekday(i), nil
		}
	}
	return 0, fmt.Errorf("%q is not a day: use Mon, Tue, Wed, Thu, Fri, Sat, Sun, ranges such as Mon-Fri, or daily", Clip(name, 10))
}

func clockMinutes(s string) (int, error) {
	var h, m int
	if n, err := fmt.Sscanf(strings.TrimSpace(s), "%2d:%2d", &h, &m); err != nil || n != 2 || len(strings.TrimSpace(s)) != 5 ||
		h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%q is not a time: use HH:MM, 00:00 to 24:00", Clip(strings.TrimSpace(s), 10))
	}
	return h*60 + m, nil
}

// Text writes ss as ParseSlices reads it.
func (ss Slices) Text() string {
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "%s: %s %02d:%02d-%02d:%02d\n", s.Name, s.Days.text(), s.From/60, s.From%60, s.To/60, s.To%60)
	}
	return b.String()
}

// text is d as ParseSlices reads it: "daily", or days and runs of days.
func (d Days) text() string {
	if d&Daily == Daily {
		return "daily"
	}
	var parts []string
	for w := 0; w < 7; w++ {
		if d&(1<<w) == 0 {
			continue
		}
		end := w
		for end+1 < 7 && d&(1<<(end+1)) != 0 {
			end++
		}
		if end > w {
			parts = append(parts, dayNames[w]+"-"+dayNames[end])
		} else {
			parts = append(parts, dayNames[w])
		}
		w = end
	}
	return strings.Join(parts, ",")
}
