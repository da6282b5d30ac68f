package cati

// Tests of the query-parameter parsers and the CSV guard, from inside the
// package: the time range parser is fuzzed.

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	utc := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t.UTC()
	}
	for _, tc := range []struct {
		v    string
		end  bool
		want time.Time
		ok   bool
	}{
		{"", false, time.Time{}, true},
		{"2025-03-01", false, utc("2025-03-01T00:00:00Z"), true},
		{"2025-03-01", true, utc("2025-03-02T00:00:00Z"), true}, // the end of the day
		{"2024-12-31", true, utc("2025-01-01T00:00:00Z"), true},
		{"2025-03-01T10:00:00Z", true, utc("2025-03-01T10:00:00Z"), true},
		{"2025-03-01T10:00:00.25+02:00", false, utc("2025-03-01T08:00:00.25Z"), true},
		{"2025-02-30", false, time.Time{}, false},
		{"2025-03-01T10:00:00", false, time.Time{}, false},
		{"1741000000", false, time.Time{}, false},
		{"today", false, time.Time{}, false},
		{" 2025-03-01", false, time.Time{}, false},
	} {
		got, err := parseTime("from", tc.v, tc.end)
		if (err == nil) != tc.ok || !got.Equal(tc.want) {
			t.Errorf("parseTime(%q, end=%v) = %v, %v; want %v ok=%v", tc.v, tc.end, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "from: want RFC 3339 or YYYY-MM-DD") {
			t.Errorf("parseTime(%q): message %q does not name the parameter and the form", tc.v, err)
		}
	}
}

// FuzzParseRange: any from and to either parse into a range that is UTC,
// ordered and round-trips, or are refused with a message naming the
// parameter; nothing panics.
func FuzzParseRange(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""}, {"2025-03-01", "2025-03-01"}, {"2025-03-01T10:00:00Z", "2025-03-01T10:00:00.000000001Z"},
		{"2025-03-02", "2025-03-01"}, {"0000-01-01", "9999-12-31"}, {"2025-03-01T10:00:00+14:00", ""},
		{"yesterday", ""}, {"", "2025-13-01"}, {"2025-03-01T10:00:00-23:59", "2025-03-01T10:00:00+23:59"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, from, to string) {
		q := url.Values{"from": {from}, "to": {to}}
		start, end, err := parseRange(q)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "from: ") && !strings.HasPrefix(msg, "to: ") {
				t.Fatalf("parseRange(%q, %q): %q does not name the parameter", from, to, msg)
			}
			return
		}
		for _, x := range []struct {
			name, v string
			t       time.Time
		}{{"from", from, start}, {"to", to, end}} {
			if x.v == "" {
				if !x.t.IsZero() {
					t.Fatalf("%s empty but %v", x.name, x.t)
				}
				continue
			}
			if x.t.Location() != time.UTC {
				t.Fatalf("%s %q gave %v, not UTC", x.name, x.v, x.t)
			}
			// What was parsed is what was given (a date as the end moves to
			// the next midnight).
			back := x.t
			if len(x.v) == len(time.DateOnly) && x.name == "to" {
				back = back.AddDate(0, 0, -1)
			}
			if len(x.v) == len(time.DateOnly) {
				if back.Format(time.DateOnly) != x.v {
					t.Fatalf("%s %q read as %v", x.name, x.v, x.t)
				}
			} else if again, err := time.Parse(time.RFC3339Nano, x.v); err != nil || !again.Equal(x.t) {
				t.Fatalf("%s %q read as %v", x.name, x.v, x.t)
			}
		}
		if !start.IsZero() && !end.IsZero() && !start.Before(end) {
			t.Fatalf("parseRange(%q, %q) = [%v, %v): empty range accepted", from, to, start, end)
		}
	})
}

func TestGuard(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "",
		"hello":                 "hello",
		"=1+2":                  "'=1+2",
		"+cmd|' /C calc'!A0":    "'+cmd|' /C calc'!A0",
		"-2+3+cmd|' /C calc'!A": "'-2+3+cmd|' /C calc'!A",
		"@SUM(A1:A2)":           "'@SUM(A1:A2)",
		"\t=1":                  "'\t=1",
		"\r=1":                  "'\r=1",
		"+15551234567":          "+15551234567",
		"+1 (555) 123-4567":     "+1 (555) 123-4567",
		"-42":                   "-42",
		"-3.5":                  "-3.5",
		"-":                     "'-",
		"+":                     "'+",
		"a=1":                   "a=1",
		"'quoted":               "'quoted",
	} {
		if got := guard(in); got != want {
			t.Errorf("guard(%q) = %q, want %q", in, got, want)
		}
	}
}
