package survey

// This file answers "why is case X not being called?": every rule that
// holds the case back now, in words a supervisor acts on, with the instant
// it stops holding when there is one. It mirrors the claim's rules (sql's
// claim query): the campaign running, the case's status, its attempts, its
// retry delay, its appointment, the respondent's calling window, the
// do-not-call lists.

import (
	"fmt"
	"time"
)

// Hold is one rule keeping a case from being called now.
type Hold struct {
	Rule  string    // campaign, closed, claimed, max_attempts, quota, retry, appointment, window, abandoned, dnc
	Text  string    // in words, with times in the respondent's zone
	Until time.Time // when the rule stops holding; zero: not by itself
}

// WhyNotCalled lists the rules that keep c (of campaign camp) from being
// called at now; none means it is due. dnc are the listings of its number
// (system-wide and its campaign's).
func WhyNotCalled(c Case, camp Campaign, dnc []DNCEntry, now time.Time) []Hold {
	loc, err := Location(c.Contact.TZ)
	if err != nil {
		loc = time.UTC
	}
	local := func(t time.Time) string { return t.In(loc).Format("Mon 2 Jan 15:04 MST") }
	var hs []Hold
	if camp.Status != CampaignRunning {
		hs = append(hs, Hold{Rule: "campaign", Text: fmt.Sprintf("campaign %s is %s", camp.Name, camp.Status)})
	}
	switch c.Status {
	case CaseClosed:
		return append(hs, Hold{Rule: "closed", Text: "closed as " + string(c.FinalDisposition)})
	case CaseClaimed:
		hs = append(hs, Hold{Rule: "claimed", Text: "on an interviewer's desk now"})
	case CaseAppointment:
		for _, a := range c.Appointments {
			if a.Status == "pending" && a.At.After(now) {
				hs = append(hs, Hold{Rule: "appointment", Text: "call back booked for " + local(a.At), Until: a.At})
				break
			}
		}
	case CaseOpen:
		if c.Attempts >= c.MaxAttempts {
			hs = append(hs, Hold{Rule: "max_attempts", Text: fmt.Sprintf("all %d attempts made", c.MaxAttempts)})
		}
	}
	if c.QuotaHold != "" && c.Status != CaseClaimed {
		hs = append(hs, Hold{Rule: "quota", Text: "quota cell " + c.QuotaHold + " is full: its sample is not called"})
	}
	if c.NextAttemptAt.After(now) {
		hs = append(hs, Hold{Rule: "retry", Text: "retry delay until " + local(c.NextAttemptAt), Until: c.NextAttemptAt})
	}
	if !camp.Windows.Contains(now, loc) {
		h := Hold{Rule: "window", Text: "outside the respondent's calling hours (" + camp.Windows.String() + ")"}
		if next, ok := camp.Windows.Next(now, loc); ok {
			h.Text += " until " + local(next)
			h.Until = next
		}
		hs = append(hs, h)
	}
	for _, a := range c.History {
		if a.Abandoned && a.AnsweredAt != nil && a.Phone == c.Contact.Phone && now.Sub(*a.AnsweredAt) < RestAfterAbandon {
			until := a.AnsweredAt.Add(RestAfterAbandon)
			hs = append(hs, Hold{Rule: "abandoned", Until: until, Text: fmt.Sprintf(
				"an abandoned call %d h ago: the dialer leaves the number until %s (an interviewer may still take the case)",
				int(now.Sub(*a.AnsweredAt).Hours()), local(until))})
			break
		}
	}
	for _, d := range dnc {
		list := "the system-wide do-not-call list"
		if d.Campaign != 0 {
			list = "the campaign's do-not-call list"
		}
		hs = append(hs, Hold{Rule: "dnc", Text: "on " + list + " since " + local(d.AddedAt)})
	}
	return hs
}

// Next is the first minute from t on at which a window is open, in loc;
// false when none opens within eight days (no windows).
func (ws Windows) Next(t time.Time, loc *time.Location) (time.Time, bool) {
	t = t.Truncate(time.Minute)
	for m := t; m.Before(t.Add(8 * 24 * time.Hour)); m = m.Add(time.Minute) {
		if ws.Contains(m, loc) {
			return m, true
		}
	}
	return time.Time{}, false
}
