package survey

// This file is the do-not-call rule: a number on the system-wide list, or on
// the list of the case's campaign, is never dialed. Claims skip its cases and
// a dial to it is refused with OnDNC; the cases themselves stay as they are
// (a number taken off the list is dialed again).

import (
	"fmt"
	"time"
)

// DNCSource says how a number got on a do-not-call list.
type DNCSource string

// Sources of do-not-call numbers.
const (
	DNCImport  DNCSource = "import"  // a CSV file
	DNCAPI     DNCSource = "api"     // one number through the REST API
	DNCConsole DNCSource = "console" // an interviewer's "never call again"
)

// DNCEntry is one number on a do-not-call list.
type DNCEntry struct {
	Phone    string     `json:"phone"`    // E.164
	Campaign CampaignID `json:"campaign"` // 0: the system-wide list
	AddedAt  time.Time  `json:"added_at"`
	AddedBy  string     `json:"added_by"`
	Source   DNCSource  `json:"source"`
	Note     string     `json:"note"`
}

// OnDNC is the refusal of a dial to a listed number: EConflict, naming the
// list and since when, so the interviewer or dialer knows which rule held.
func OnDNC(e DNCEntry) error {
	list := "system-wide do-not-call list"
	if e.Campaign != 0 {
		list = fmt.Sprintf("do-not-call list of campaign %d", e.Campaign)
	}
	return Errorf(EConflict, "%s is on the %s since %s (%s): it may not be dialed, and its case is skipped while it is listed",
		e.Phone, list, e.AddedAt.UTC().Format("2006-01-02 15:04 MST"), e.Source)
}
