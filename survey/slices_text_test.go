package survey

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseSlices(t *testing.T) {
	ss, err := ParseSlices("weekday lunch: Mon-Fri 11:00-14:00\n\n weekend: Sat,Sun 00:00-24:00\nlate friday: fri 17:00-24:00\n")
	if err != nil {
		t.Fatal(err)
	}
	want := Slices{{"weekday lunch", Weekdays, 660, 840}, {"weekend", Weekend, 0, 1440}, {"late friday", 1 << 5, 1020, 1440}}
	if !reflect.DeepEqual(ss, want) {
		t.Fatalf("got %+v", ss)
	}
	if got := DefaultSlices().Text(); !strings.Contains(got, "weekday morning: Mon-Fri 00:00-12:00") || !strings.Contains(got, "weekend evening: Sun,Sat 17:00-24:00") {
		t.Errorf("text of the defaults:\n%s", got)
	}
	for text, want := range map[string]string{
		"evening Mon-Fri 17:00-24:00":              "line 1",
		"a: Monday 10:00-11:00":                    `"Monday" is not a day`,
		"a: Mon 10:00-25:00":                       `"25:00" is not a time`,
		"a: Mon 11:00-10:00":                       "from 660 to 600",
		"a: Mon 10:00-12:00\nb: daily 11:00-13:00": "overlaps",
		"a: Mon": "give the days, then the hours",
	} {
		if _, err := ParseSlices(text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error saying %q", text, err, want)
		}
	}
}

// FuzzParseSlices: whatever is typed, the parser answers without panicking,
// and what it accepts comes back the same through Text.
func FuzzParseSlices(f *testing.F) {
	f.Add("weekday lunch: Mon-Fri 11:00-14:00\nweekend: Sat,Sun 00:00-24:00")
	f.Add("a: Fri-Mon 00:00-00:01")
	f.Add(DefaultSlices().Text())
	f.Fuzz(func(t *testing.T, text string) {
		ss, err := ParseSlices(text)
		if err != nil {
			return
		}
		again, err := ParseSlices(ss.Text())
		if err != nil || !reflect.DeepEqual(ss, again) {
			t.Fatalf("%q: parsed %+v, its text %q parses as %+v (%v)", text, ss, ss.Text(), again, err)
		}
	})
}
