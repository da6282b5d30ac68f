package survey

import (
	"slices"
	"testing"
	"time"
)

func location(t *testing.T, tz string) *time.Location {
	t.Helper()
	loc, err := Location(tz)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestSlicesAt(t *testing.T) {
	ny := location(t, "America/New_York")
	ss := DefaultSlices()
	if err := ss.Validate(); err != nil {
		t.Fatal(err)
	}
	name := func(tm time.Time) string {
		i, ok := ss.At(tm, ny)
		if !ok {
			return ""
		}
		return ss[i].Name
	}
	tests := []struct {
		name string
		at   time.Time
		want string
	}{
		{"Monday 09:00", time.Date(2026, 3, 2, 9, 0, 0, 0, ny), "weekday morning"},
		{"Monday 11:59", time.Date(2026, 3, 2, 11, 59, 0, 0, ny), "weekday morning"},
		{"Monday noon", time.Date(2026, 3, 2, 12, 0, 0, 0, ny), "weekday afternoon"},
		{"Monday 17:00", time.Date(2026, 3, 2, 17, 0, 0, 0, ny), "weekday evening"},
		{"Friday 23:30 is Saturday in UTC, a weekday here", time.Date(2026, 3, 6, 23, 30, 0, 0, ny), "weekday evening"},
		{"Saturday 00:30", time.Date(2026, 3, 7, 0, 30, 0, 0, ny), "weekend morning"},
		{"Sunday of the spring change, 01:59 EST", time.Date(2026, 3, 8, 1, 59, 0, 0, ny), "weekend morning"},
		{"Sunday of the spring change, 03:00 EDT", time.Date(2026, 3, 8, 3, 0, 0, 0, ny), "weekend morning"},
		{"Monday after it, 12:30 EDT (11:30 by the winter offset)", time.Date(2026, 3, 9, 12, 30, 0, 0, ny), "weekday afternoon"},
		{"Sunday of the autumn change, 16:59 EST", time.Date(2026, 11, 1, 16, 59, 0, 0, ny), "weekend afternoon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := name(tt.at); got != tt.want {
				t.Errorf("%s (%s UTC) is in %q, want %q", tt.at, tt.at.UTC().Format("Mon 15:04"), got, tt.want)
			}
		})
	}
}

// TestSlicesScoreAcrossDST: attempts are instants; the slice is the
// respondent's wall clock on the day of the attempt, whichever side of a
// clock change.
func TestSlicesScoreAcrossDST(t *testing.T) {
	ss := DefaultSlices()
	tests := []struct {
		tz       string
		attempts []time.Time
		now      time.Time
		want     int
	}{
		// Friday 12:30 EST (17:30 UTC) and Monday 12:30 EDT (16:30 UTC):
		// both weekday afternoon, an hour apart in UTC.
		{"America/New_York", []time.Time{time.Date(2026, 3, 6, 17, 30, 0, 0, time.UTC)}, time.Date(2026, 3, 9, 16, 30, 0, 0, time.UTC), 1},
		// Friday 11:30 EST (16:30 UTC) is morning; Monday 16:30 UTC is
		// 12:30 EDT, afternoon, though the same UTC hour.
		{"America/New_York", []time.Time{time.Date(2026, 3, 6, 16, 30, 0, 0, time.UTC)}, time.Date(2026, 3, 9, 16, 30, 0, 0, time.UTC), 0},
		// Paris, autumn: 02:30 happens twice on Sunday 25 October 2026,
		// both weekend morning; a Saturday evening attempt is not.
		{"Europe/Paris", []time.Time{
			time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), // 02:30 CEST
			time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), // 02:30 CET
			time.Date(2026, 10, 24, 18, 0, 0, 0, time.UTC), // Saturday 20:00 CEST
		}, time.Date(2026, 10, 31, 9, 0, 0, 0, time.UTC), 2}, // Saturday 10:00 CET
		// Sydney, where the clocks go back in April: Saturday 4 April 2026
		// 11:30 AEDT and Saturday 11 April 11:30 AEST.
		{"Australia/Sydney", []time.Time{time.Date(2026, 4, 4, 0, 30, 0, 0, time.UTC)}, time.Date(2026, 4, 11, 1, 30, 0, 0, time.UTC), 1},
	}
	for _, tt := range tests {
		loc := location(t, tt.tz)
		got, ok := ss.Score(tt.now, loc, tt.attempts)
		if !ok || got != tt.want {
			t.Errorf("%s at %s: score %d (%v), want %d", tt.tz, tt.now.In(loc).Format("Mon 15:04 MST"), got, ok, tt.want)
		}
	}
}

// TestSlicesRotate: the case not tried in the current slice ranks first.
func TestSlicesRotate(t *testing.T) {
	paris := location(t, "Europe/Paris")
	ss := DefaultSlices()
	morning := func(d int) time.Time { return time.Date(2026, 3, 2+d, 10, 0, 0, 0, paris) } // Monday on
	evening := func(d int) time.Time { return time.Date(2026, 3, 2+d, 19, 0, 0, 0, paris) } // Monday on
	cases := map[string][]time.Time{
		"three mornings":           {morning(0), morning(1), morning(2)},
		"one morning, one evening": {morning(0), evening(1)},
		"two evenings":             {evening(0), evening(1)},
		"weekend mornings only":    {time.Date(2026, 3, 7, 10, 0, 0, 0, paris), time.Date(2026, 3, 8, 10, 0, 0, 0, paris)},
	}
	now := morning(3) // Thursday morning
	names := []string{"three mornings", "one morning, one evening", "two evenings", "weekend mornings only"}
	slices.SortStableFunc(names, func(a, b string) int {
		sa, _ := ss.Score(now, paris, cases[a])
		sb, _ := ss.Score(now, paris, cases[b])
		return sa - sb
	})
	want := []string{"two evenings", "weekend mornings only", "one morning, one evening", "three mornings"}
	if !slices.Equal(names, want) {
		t.Errorf("order on a weekday morning: %q, want %q", names, want)
	}
}

func TestSlicesValidate(t *testing.T) {
	tests := []struct {
		name string
		ss   Slices
		ok   bool
	}{
		{"defaults", DefaultSlices(), true},
		{"none", nil, true},
		{"no name", Slices{{Days: Daily, From: 0, To: 60}}, false},
		{"same name", Slices{{"a", Weekdays, 0, 60}, {"a", Weekend, 0, 60}}, false},
		{"no days", Slices{{"a", 0, 0, 60}}, false},
		{"bits past Saturday", Slices{{"a", 1 << 7, 0, 60}}, false},
		{"empty span", Slices{{"a", Daily, 60, 60}}, false},
		{"past midnight", Slices{{"a", Daily, 60, 24*60 + 1}}, false},
		{"overlap", Slices{{"a", Weekdays, 0, 120}, {"b", 1 << time.Monday, 60, 180}}, false},
		{"same hours, other days", Slices{{"a", Weekdays, 0, 120}, {"b", Weekend, 0, 120}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.ss.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate = %v, want ok %v", err, tt.ok)
			}
		})
	}
	if _, ok := (Slices{{"a", Weekdays, 9 * 60, 12 * 60}}).Score(time.Date(2026, 3, 7, 10, 0, 0, 0, time.UTC), time.UTC, nil); ok {
		t.Error("a Saturday scored in a weekday-only slice")
	}
}
