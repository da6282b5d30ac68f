package survey

// This file is the fieldwork half of the domain: campaigns, their cases and
// contacts, call attempts, appointments, the interviewers' desks and the
// live floor. The store (package sql) scans into these types, the console
// (package cati) shows them and the dialer moves them; each is defined here
// once. The rules over them are in casework.go and window.go.

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Typed ids. Zero means none.
type (
	CaseID     int64
	CampaignID int64
	ContactID  int64
	AttemptID  int64
	UserID     int64
)

// CaseStatus is where a case stands in its campaign (CHECK constraint in sql).
type CaseStatus string

// Case statuses.
const (
	CaseOpen        CaseStatus = "open"        // waiting to be called
	CaseClaimed     CaseStatus = "claimed"     // on an interviewer's desk
	CaseAppointment CaseStatus = "appointment" // waiting for a call back agreed with the respondent
	CaseClosed      CaseStatus = "closed"      // final disposition set
)

// CampaignMode is who asks the questions.
type CampaignMode string

// Campaign modes.
const (
	CampaignIVR  CampaignMode = "ivr"
	CampaignCATI CampaignMode = "cati"
)

// CampaignStatus is a campaign's life cycle.
type CampaignStatus string

// Campaign statuses.
const (
	CampaignDraft    CampaignStatus = "draft"
	CampaignRunning  CampaignStatus = "running"
	CampaignPaused   CampaignStatus = "paused"
	CampaignFinished CampaignStatus = "finished"
)

// User is a console account.
type User struct {
	ID           UserID
	Name         string
	Role         Role
	PasswordHash []byte
	Disabled     bool
}

// Session is a stored console session: the SHA-256 of the cookie's id, never
// the id itself.
type Session struct {
	Hash      []byte
	UserID    UserID
	CSRF      string // the session's anti-forgery token
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time // absolute limit
}

// Campaign is a survey's fieldwork: who is called, when, by whom.
type Campaign struct {
	ID            CampaignID
	Name          string
	Questionnaire string
	Mode          CampaignMode
	Status        CampaignStatus
	MaxAttempts   int
	Settings      json.RawMessage // CampaignSettings as JSON
	Windows       Windows
	Interviewers  []UserID // in id order
	CreatedAt     time.Time
}

// CampaignSettings are the parts of a campaign's settings the rules read.
type CampaignSettings struct {
	// RetrySeconds overrides the catalog's retry delay per disposition code.
	RetrySeconds map[DispositionCode]int64 `json:"retry_seconds,omitempty"`
	// Quotas are the target completes per quota cell of the questionnaire.
	Quotas map[string]int `json:"quotas,omitempty"`
	// E is the eligible share of unknown-eligibility cases used for RR3,
	// RR4, REF2 and CON2; nil = the proportional default.
	E *float64 `json:"e,omitempty"`
	// FieldLabels name the contact fields as the sample file did ("First
	// name" for first_name), for the interviewers' screen.
	FieldLabels map[string]string `json:"field_labels,omitempty"`
	// RecordCalls records both sides of every call the console places
	// (off by default); the questionnaire's recording_consent is what the
	// interviewer reads when recording starts.
	RecordCalls bool `json:"record_calls,omitempty"`
	// Dialing is how the dialer places the campaign's calls.
	Dialing Dialing `json:"dialing,omitzero"`
}

// DecodeSettings reads a campaign's settings JSON ("" or {} = defaults).
func (c Campaign) DecodeSettings() (CampaignSettings, error) {
	var st CampaignSettings
	if len(c.Settings) == 0 {
		return st, nil
	}
	if err := json.Unmarshal(c.Settings, &st); err != nil {
		return st, fmt.Errorf("campaign settings: %w", err)
	}
	return st, nil
}

// SampleRow is one contact of a sample file, from line Line, ready to store.
type SampleRow struct {
	Line  int
	Phone string // E.164
	// More are the contact's other numbers, tried in order when one is
	// settled as not working (a fax, non-working, changed).
	More     []Number
	TZ       string
	Language string
	Priority int
	Attrs    map[string]string
}

// Duplicate is a sample row left out because its number is already in the
// campaign.
type Duplicate struct {
	Line  int
	Phone string
}

// Contact is a respondent.
type Contact struct {
	ID       ContactID
	Phone    string // E.164
	TZ       string // IANA zone; "" = UTC
	Language string
	Attrs    map[string]string
}

// Attempt is one call attempt of a case.
type Attempt struct {
	ID          AttemptID
	StartedAt   time.Time
	AnsweredAt  *time.Time
	EndedAt     *time.Time
	Disposition DispositionCode // "" until the attempt is settled
	Interviewer string
	Note        string
	// What the network said of the call, when the console placed it:
	// the final SIP status and Q.850 cause, how long it rang and talked,
	// and the name of its recording ("" when not recorded).
	SIPStatus  int
	Q850Cause  int
	Ring, Talk time.Duration
	Recording  string
	HungUpBy   string // respondent, interviewer, supervisor, system; "" unknown
	EndReason  string // why the call ended, in words
	Phone      string // the number called (E.164): each number has its own history
	Abandoned  bool   // answered by a person nobody was free for (predictive)
}

// Note is a note on a case.
type Note struct {
	At     time.Time
	Author string
	Body   string
}

// Appointment is a call back agreed with the respondent.
type Appointment struct {
	ID          int64
	At          time.Time
	Status      string // pending, kept, missed, cancelled
	Interviewer string // "" = anyone
	Note        string
	CaseID      CaseID // set in an interviewer's list of appointments
	TZ          string // the respondent's zone, likewise
}

// Case is a case with its contact and history.
type Case struct {
	ID               CaseID
	CampaignID       CampaignID
	CampaignName     string
	Questionnaire    string
	Status           CaseStatus
	Priority         int
	Attempts         int
	MaxAttempts      int
	OwnerUserID      UserID
	InterviewID      InterviewID
	NextAttemptAt    time.Time
	LastDisposition  DispositionCode
	FinalDisposition DispositionCode
	QuotaHold        string // the full quota cell that holds it back; "" none
	// Context is a requested survey's call context, or a call back's
	// (an alert's recovery: Extra["alert_id"], Extra["original_interview"]).
	Context Context
	Contact Contact
	// Numbers are the contact's numbers in order when it has several
	// (Contact.Phone is the one called now); nil with one.
	Numbers      []Number
	History      []Attempt
	Notes        []Note
	Appointments []Appointment
}

// Outcome is how a case leaves an interviewer's, a supervisor's or the
// dialer's hands: Decide and CloseAs make it, the store applies it.
type Outcome struct {
	AttemptCode   DispositionCode // disposition of the attempt; "" = none
	Note          string          // kept on the attempt and as a case note
	Status        CaseStatus      // the case's next status: open, appointment or closed
	FinalCode     DispositionCode // with closed: the case's final disposition
	NextAttemptAt time.Time
	AppointmentAt time.Time // with appointment
	// FinishInterview, when set, ends the case's interview in progress.
	FinishInterview Status
	LastQuestion    string
	// Alerts are the end-time alerts of the interview FinishInterview
	// ends, raised with it.
	Alerts []Alert
	// DoNotCall puts the case's number on its campaign's do-not-call list
	// in the same transaction (WrapUp.NeverCall).
	DoNotCall bool
	// NextNumber, with status open, settles the number just called (as
	// AttemptCode) and goes on with this one of the contact's numbers.
	NextNumber string
}

// Number is one of a contact's numbers.
type Number struct {
	Phone     string          `json:"phone"` // E.164
	Label     string          `json:"label"` // the sample's column: mobile, work…
	SettledAt time.Time       `json:"settled_at,omitzero"`
	SettledAs DispositionCode `json:"settled_as,omitempty"` // the code that settled it
}

// NumberAfter says whether an attempt settled with code moves the case to
// the contact's next number, and which: code settles the number, not the
// contact (RetryNextNumber), the contact has another number not settled,
// and attempts are left.
func (c Case) NumberAfter(code DispositionCode) (Number, bool) {
	if d, ok := LookupDisposition(code); !ok || d.Retry != RetryNextNumber || c.Attempts >= c.MaxAttempts {
		return Number{}, false
	}
	return c.NextNumber()
}

// NextNumber is the contact's first number after the one called now that
// is not settled; ok is false when there is none.
func (c Case) NextNumber() (Number, bool) {
	at := slices.IndexFunc(c.Numbers, func(n Number) bool { return n.Phone == c.Contact.Phone })
	for _, n := range c.Numbers[at+1:] {
		if n.SettledAs == "" && n.Phone != c.Contact.Phone {
			return n, true
		}
	}
	return Number{}, false
}

// Desk is where an interviewer stands: what they are doing, on which case,
// call attempt and interview, and since when. Zero ids mean none.
type Desk struct {
	UserID      UserID
	State       DeskState
	CaseID      CaseID
	CampaignID  CampaignID
	AttemptID   AttemptID
	InterviewID InterviewID
	Question    string // the question backed up to; "" = the engine's next
	Reason      string // why the interviewer is on a break
	Since       time.Time
}

// DeskRow is one interviewer on the floor.
type DeskRow struct {
	UserID         UserID
	Name           string
	State          DeskState
	Reason         string    // of a break
	Since          time.Time // zero: never signed in
	CaseID         CaseID
	CampaignID     CampaignID
	CompletesHour  int           // completes ended in the last hour
	CompletesToday int           // since midnight UTC
	ContactsHour   int           // calls answered in the last hour
	ContactsToday  int           // since midnight UTC
	RefusalsToday  int           // calls settled as a refusal (2.11, 2.111, 2.112) today
	HandleToday    time.Duration // mean length of today's answered calls, dial to wrap-up
}

// CampaignProgress is one campaign's fieldwork so far.
type CampaignProgress struct {
	ID              CampaignID
	Name            string
	Questionnaire   string
	Status          CampaignStatus
	Cases           int
	Open            int // waiting to be called (not closed, not claimed)
	Claimed         int
	Appointments    int // cases waiting for an appointment
	AppointmentsDue int
	Closed          int
	Completes       int
	CompletesHour   int // ended in the last hour
	CompletesWeek   int // ended in the last 7 days
	Partials        int
	Refusals        int
	Groups          Counts                   // closed cases by rate group
	QuotaFill       map[string]int           // quota cell -> completes
	Values          map[string]map[int64]int // question -> value -> answers
	// CallsUp is the campaign's call attempts not ended (ringing or
	// talking); Live and Abandoned count the calls a person answered, and
	// of them those abandoned, over the last 24 h and 30 days: the
	// abandonment rules' windows.
	CallsUp               int
	Live24h, Abandoned24h int
	// DialerUp is the calls up that no interviewer has yet (the
	// dialer's lines, ringing); Idle the campaign's interviewers waiting.
	DialerUp, Idle        int
	Live30d, Abandoned30d int
	// Machines are the calls AMD took for a machine that nobody took,
	// over the same windows: the campaign's false-positive estimate of
	// them counts as abandoned (survey.Dialing.AMDFalsePositive).
	Machines24h, Machines30d int
}

// Floor is the whole floor at one instant.
type Floor struct {
	At        time.Time
	Desks     []DeskRow
	Campaigns []CampaignProgress
}

// Event is one entry of the live feed.
type Event struct {
	ID          int64
	At          time.Time
	Kind        string
	CampaignID  CampaignID
	InterviewID InterviewID
	UserID      UserID
	CaseID      CaseID
	Payload     json.RawMessage
}
