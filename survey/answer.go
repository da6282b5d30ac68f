package survey

import (
	"time"
)

// InterviewID identifies a stored interview.
type InterviewID int64

// Mode says how an interview is conducted.
type Mode string

// Interview modes (CHECK constraint in sql/migrations).
const (
	ModeIVR  Mode = "ivr"  // keypad survey, the respondent alone with the machine
	ModeCATI Mode = "cati" // an interviewer reads the script in the console
)

// Status is where an interview stands. Only in_progress may change, and only
// once (compare-and-set in the store), so a hangup and a timeout cannot both win.
type Status string

// Interview statuses (CHECK constraint in sql/migrations).
const (
	StatusInProgress Status = "in_progress"
	StatusComplete   Status = "complete" // reached the end of the questionnaire
	StatusPartial    Status = "partial"  // ended early with enough answers (AAPOR 1.2)
	StatusBreakoff   Status = "breakoff" // ended early with too few answers (AAPOR 2.12)
)

// Answer is one question's answer as given, with how it was given.
//
// Value holds the typed value: int64 for nps, scale and number; bool for
// yes_no; string for choice (the option value), text and recording (the
// stored recording's name); []string for multi. A skipped question (no valid
// answer after every attempt, or skipped by the interviewer) has Skipped set
// and a nil Value.
type Answer struct {
	Question   string    `json:"question"`
	Value      any       `json:"value"`
	Skipped    bool      `json:"skipped,omitempty"`
	Paradata   Paradata  `json:"paradata"`
	AnsweredAt time.Time `json:"answered_at"`
}

// Paradata is how a question was asked and answered: what the IVR engine or
// the console observed while the respondent answered. Zero fields are omitted
// when stored.
type Paradata struct {
	PromptStart    time.Time `json:"prompt_start,omitzero"`
	FirstKeyMillis int64     `json:"first_key_ms,omitempty"` // prompt start to first key
	RawKeys        string    `json:"raw_keys,omitempty"`     // every key pressed, terminators and repeats included
	NoInput        int       `json:"no_input,omitempty"`     // reprompts after silence
	NoMatch        int       `json:"no_match,omitempty"`     // reprompts after an invalid entry
	Repeats        int       `json:"repeats,omitempty"`      // "*" presses
	BargeIn        bool      `json:"barge_in,omitempty"`     // a key cut the prompt short
	DurationMillis int64     `json:"duration_ms,omitempty"`  // prompt start to answer
	RecordingMS    int64     `json:"recording_ms,omitempty"` // length of a voice answer
	// Mode is who asked: the keypad (ivr) or an interviewer (cati). In a
	// mixed-mode interview it differs from question to question.
	Mode Mode `json:"mode,omitempty"`
}

// Context is what the call or the case says about the interview: who handled
// the customer, where, and how to join the answers back to the integrator's
// data. Every field is optional.
type Context struct {
	Agent        string            `json:"agent,omitempty"`
	Queue        string            `json:"queue,omitempty"`
	CallID       string            `json:"call_id,omitempty"` // the PBX's or CRM's id of the surveyed call
	Touchpoint   string            `json:"touchpoint,omitempty"`
	CallerNumber string            `json:"caller_number,omitempty"`
	CustomerID   string            `json:"customer_id,omitempty"` // the CRM's customer, for the score history
	Extra        map[string]string `json:"extra,omitempty"`
}

// InterviewRecord is a stored interview: what the store returns and the API
// shows.
type InterviewRecord struct {
	ID            InterviewID       `json:"id"`
	Questionnaire string            `json:"questionnaire"`
	Version       int               `json:"version"`
	Mode          Mode              `json:"mode"`
	Language      string            `json:"language"`
	Status        Status            `json:"status"`
	Context       Context           `json:"context"`
	Contact       map[string]string `json:"contact,omitempty"`
	StartedAt     time.Time         `json:"started_at"`
	EndedAt       *time.Time        `json:"ended_at,omitempty"`
	EndCause      string            `json:"end_cause,omitempty"`     // hangup cause, "completed", "max_duration"…
	LastQuestion  string            `json:"last_question,omitempty"` // the question being asked when it ended
	Answers       []Answer          `json:"answers,omitempty"`
	// CaseID and AttemptID tie the interview to the case and the dial
	// attempt that reached the respondent; 0 when nobody dialed the call.
	// They are kept out of JSON so the interviews API answers as it did
	// before they existed; showing them there is for the API to decide.
	CaseID    CaseID    `json:"-"`
	AttemptID AttemptID `json:"-"`
	// Node is the canvass process that runs a keypad interview; 0 when
	// unknown (CATI, or a process that registered none).
	Node NodeID `json:"-"`
	// Sample is the case and contact a campaign dialed, for exports that
	// join back to the sample file; nil for an interview of no case.
	Sample *SampleLink `json:"-"`
}

// NodeID is a canvass process sharing the database with others (one id
// per start).
type NodeID int64

// SampleLink ties an interview to its case in a campaign's sample.
type SampleLink struct {
	Campaign    string
	Disposition DispositionCode // the case's final disposition; "" while open
	Phone       string
	Fields      map[string]string // the contact's fields, as imported
}

// PendingRecording is a voice answer waiting for its transcript.
type PendingRecording struct {
	Interview InterviewID
	Question  string
	Recording string // the stored recording's name
	Language  string // the interview's
}
