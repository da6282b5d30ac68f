package survey

import (
	"strings"
	"testing"
	"time"
)

func TestWhyNotCalled(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	var week Windows
	for d := range 7 {
		week = append(week, Window{Dow: d, Opens: 9 * 60, Closes: 21 * 60})
	}
	camp := Campaign{Name: "Study", Status: CampaignRunning, Windows: week}
	// Tuesday 14:00 in New York.
	now := time.Date(2026, 3, 10, 14, 0, 0, 0, ny)
	due := Case{Status: CaseOpen, Attempts: 1, MaxAttempts: 4, NextAttemptAt: now.Add(-time.Hour), Contact: Contact{TZ: "America/New_York"}}
	if hs := WhyNotCalled(due, camp, nil, now); len(hs) != 0 {
		t.Fatalf("a due case is held: %+v", hs)
	}
	rules := func(hs []Hold) string {
		var rs []string
		for _, h := range hs {
			rs = append(rs, h.Rule)
		}
		return strings.Join(rs, ",")
	}
	for _, c := range []struct {
		name  string
		set   func(*Case, *Campaign, *[]DNCEntry, *time.Time)
		rules string
		says  string
		until time.Time
	}{
		{"paused", func(_ *Case, cp *Campaign, _ *[]DNCEntry, _ *time.Time) { cp.Status = CampaignPaused }, "campaign", "campaign Study is paused", time.Time{}},
		{"closed", func(c *Case, _ *Campaign, _ *[]DNCEntry, _ *time.Time) {
			c.Status, c.FinalDisposition = CaseClosed, "1.1"
		}, "closed", "closed as 1.1", time.Time{}},
		{"max attempts", func(c *Case, _ *Campaign, _ *[]DNCEntry, _ *time.Time) { c.Attempts = 4 }, "max_attempts", "all 4 attempts made", time.Time{}},
		{"retry", func(c *Case, _ *Campaign, _ *[]DNCEntry, _ *time.Time) { c.NextAttemptAt = now.Add(2 * time.Hour) }, "retry",
			"retry delay until Tue 10 Mar 16:00 EDT", now.Add(2 * time.Hour)},
		{"appointment", func(c *Case, _ *Campaign, _ *[]DNCEntry, _ *time.Time) {
			c.Status = CaseAppointment
			c.Appointments = []Appointment{{At: now.Add(-time.Hour), Status: "kept"}, {At: now.Add(3 * time.Hour), Status: "pending"}}
		}, "appointment", "call back booked for Tue 10 Mar 17:00 EDT", now.Add(3 * time.Hour)},
		// 22:30 on Saturday 7 March: the window opens at 09:00 on Sunday,
		// the day the clocks go forward.
		{"window across DST", func(c *Case, _ *Campaign, _ *[]DNCEntry, at *time.Time) {
			*at = time.Date(2026, 3, 7, 22, 30, 0, 0, ny)
			c.NextAttemptAt = at.Add(-time.Hour)
		}, "window",
			"outside the respondent's calling hours (daily 09:00–21:00) until Sun 8 Mar 09:00 EDT", time.Date(2026, 3, 8, 9, 0, 0, 0, ny)},
		{"dnc", func(_ *Case, _ *Campaign, d *[]DNCEntry, _ *time.Time) {
			*d = []DNCEntry{{Campaign: 3, AddedAt: now.Add(-24 * time.Hour)}}
		}, "dnc", "on the campaign's do-not-call list since Mon 9 Mar 14:00 EDT", time.Time{}},
	} {
		cs, cp, at := due, camp, now
		var dnc []DNCEntry
		c.set(&cs, &cp, &dnc, &at)
		hs := WhyNotCalled(cs, cp, dnc, at)
		if got := rules(hs); got != c.rules {
			t.Errorf("%s: rules %q, want %q (%+v)", c.name, got, c.rules, hs)
			continue
		}
		if hs[0].Text != c.says || !hs[0].Until.Equal(c.until) {
			t.Errorf("%s: %q until %v, want %q until %v", c.name, hs[0].Text, hs[0].Until, c.says, c.until)
		}
	}
}

func TestWhyAbandonedRest(t *testing.T) {
	now := time.Date(2026, 3, 9, 15, 0, 0, 0, time.UTC)
	answered := now.Add(-70 * time.Hour)
	c := Case{Status: CaseOpen, Attempts: 1, MaxAttempts: 5, Contact: Contact{Phone: "+12025550100", TZ: "America/New_York"},
		History: []Attempt{{Phone: "+12025550100", AnsweredAt: &answered, Abandoned: true}}}
	camp := Campaign{Name: "p", Status: CampaignRunning, Windows: Windows{{Dow: 1, Opens: 0, Closes: 24 * 60}}}
	hs := WhyNotCalled(c, camp, nil, now)
	if len(hs) != 1 || hs[0].Rule != "abandoned" || !strings.Contains(hs[0].Text, "an abandoned call 70 h ago") ||
		!hs[0].Until.Equal(answered.Add(72*time.Hour)) {
		t.Fatalf("holds %+v", hs)
	}
	if hs := WhyNotCalled(c, camp, nil, now.Add(3*time.Hour)); len(hs) != 0 {
		t.Errorf("after 72 h: %+v", hs)
	}
}
