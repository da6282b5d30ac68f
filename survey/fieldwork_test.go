package survey_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/canvass/canvass/survey"
)

func TestWindowsAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	weekdays := survey.Windows{}
	for d := 1; d <= 5; d++ {
		weekdays = append(weekdays, survey.Window{Dow: d, Opens: 9 * 60, Closes: 21 * 60})
	}
	tests := []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2026, 3, 6, 13, 30, 0, 0, time.UTC), false}, // Fri 08:30 EST
		{time.Date(2026, 3, 6, 14, 0, 0, 0, time.UTC), true},   // Fri 09:00 EST
		{time.Date(2026, 3, 9, 13, 0, 0, 0, time.UTC), true},   // Mon 09:00 EDT
		{time.Date(2026, 3, 9, 12, 59, 0, 0, time.UTC), false}, // Mon 08:59 EDT
		{time.Date(2026, 3, 10, 0, 59, 0, 0, time.UTC), true},  // Mon 20:59 EDT
		{time.Date(2026, 3, 10, 1, 0, 0, 0, time.UTC), false},  // Mon 21:00 EDT
		{time.Date(2026, 3, 7, 15, 0, 0, 0, time.UTC), false},  // Saturday
	}
	for _, tt := range tests {
		if got := weekdays.Contains(tt.at, ny); got != tt.want {
			t.Errorf("%s (%s): %v, want %v", tt.at, tt.at.In(ny), got, tt.want)
		}
	}
}

func TestParseLocal(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	got, err := survey.ParseLocal("2026-03-09T18:30", ny)
	if err != nil || !got.Equal(time.Date(2026, 3, 9, 22, 30, 0, 0, time.UTC)) {
		t.Fatalf("EDT: %s, %v", got, err)
	}
	got, err = survey.ParseLocal("2026-03-06T18:30", ny)
	if err != nil || !got.Equal(time.Date(2026, 3, 6, 23, 30, 0, 0, time.UTC)) {
		t.Fatalf("EST: %s, %v", got, err)
	}
	// 02:30 does not exist on the day the clocks go forward.
	if _, err := survey.ParseLocal("2026-03-08T02:30", ny); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("DST gap: %v", err)
	}
	if _, err := survey.ParseLocal("tomorrow", ny); survey.ErrorCodeOf(err) != survey.EInvalid {
		t.Fatalf("garbage: %v", err)
	}
}

func TestWindowText(t *testing.T) {
	var daily, week survey.Windows
	for d := range 7 {
		daily = append(daily, survey.Window{Dow: d, Opens: 540, Closes: 1260})
		if d >= 1 && d <= 5 {
			week = append(week, survey.Window{Dow: d, Opens: 540, Closes: 1260})
		}
	}
	week = append(week, survey.Window{Dow: 6, Opens: 600, Closes: 1080})
	for _, tt := range []struct {
		ws   survey.Windows
		want string
	}{
		{daily, "daily 09:00–21:00"},
		{week, "Mon–Fri 09:00–21:00, Sat 10:00–18:00"},
		{survey.Windows{{Dow: 0, Opens: 600, Closes: 720}, {Dow: 3, Opens: 600, Closes: 720}}, "Wed 10:00–12:00, Sun 10:00–12:00"},
		{nil, "no calling hours are set"},
	} {
		if got := tt.ws.String(); got != tt.want {
			t.Errorf("Windows.String() = %q, want %q", got, tt.want)
		}
	}
}

// An interview left open at its closing statement, every question answered,
// closes as complete, as the IVR engine and CloseLost close it; one left
// with enough answers halfway is a partial, one with none a break-off.
func TestVerdict(t *testing.T) {
	q, err := survey.Parse([]byte(`id: t
modes: [cati]
questions:
  - {id: a, type: yes_no, text: "A?"}
  - {id: b, type: yes_no, text: "B?"}
  - {id: bye, type: statement, text: Goodbye.}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		answers int
		want    survey.Status
	}{{0, survey.StatusBreakoff}, {1, survey.StatusPartial}, {2, survey.StatusComplete}} {
		iv, _ := q.Start("", nil, time.Now)
		for range tc.answers {
			if _, _, err := iv.Answer(true, survey.Paradata{}); err != nil {
				t.Fatal(err)
			}
		}
		if got := survey.Verdict(iv, survey.StatusInProgress); got != tc.want {
			t.Errorf("%d of 2 answered, in progress: verdict %s, want %s", tc.answers, got, tc.want)
		}
	}
	if got := survey.Verdict(nil, survey.StatusPartial); got != survey.StatusPartial {
		t.Errorf("ended partial: verdict %s", got)
	}
}

// Every dial outcome records a code of the catalog (or none, when the call
// connected or gave no result), and an interviewer is offered the eight she
// can tell, in order.
func TestDialOutcomes(t *testing.T) {
	for _, o := range []survey.DialOutcome{survey.DialAnswered, survey.DialContact, survey.DialNoAnswer, survey.DialBusy,
		survey.DialAnsweringMachine, survey.DialMachineMessage, survey.DialFax, survey.DialNotWorking, survey.DialTechnical,
		survey.DialRejected, survey.DialCancelled} {
		code, ok := o.Code()
		if !ok {
			t.Errorf("%s: no entry", o)
			continue
		}
		if _, known := survey.LookupDisposition(code); code != "" && !known {
			t.Errorf("%s records %s, not in the catalog", o, code)
		}
	}
	if _, ok := survey.DialOutcome("ringing").Code(); ok {
		t.Error("an unknown outcome has a code")
	}
	want := "[contact no_answer busy answering_machine machine_message fax not_working technical]"
	if got := fmt.Sprint(survey.DialOutcomes()); got != want {
		t.Errorf("offered %s, want %s", got, want)
	}
}
