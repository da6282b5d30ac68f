package survey

import "time"

// QuestionnaireVersion is one stored version of a questionnaire: the YAML as
// uploaded plus what the store needs to list it. A running interview is
// pinned to the version it started on.
type QuestionnaireVersion struct {
	ID        string    `json:"id"`
	Version   int       `json:"version"`
	Title     string    `json:"title"`
	Languages []string  `json:"languages"`
	Source    []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// Role is what an account or API token may do (CHECK constraint in sql).
type Role string

// Roles.
const (
	RoleAdmin       Role = "admin"
	RoleSupervisor  Role = "supervisor"
	RoleInterviewer Role = "interviewer"
	RoleIntegrator  Role = "integrator" // API tokens for PBXes and CRMs
	RoleManager     Role = "manager"    // works the alert inbox
)

// GroupBy is how a report splits interviews.
type GroupBy string

// Report groupings.
const (
	ByDay        GroupBy = "day"
	ByTouchpoint GroupBy = "touchpoint"
	ByAgent      GroupBy = "agent"
	ByQueue      GroupBy = "queue"
	ByWeek       GroupBy = "week"  // the Monday (YYYY-MM-DD, UTC)
	ByMonth      GroupBy = "month" // YYYY-MM, UTC
)

// ReportQuery selects the interviews a report covers: one questionnaire (all
// its versions), started in [From, To), split by By.
type ReportQuery struct {
	Questionnaire string
	From, To      time.Time
	By            GroupBy
	// Language, and Field = Value (a context field: touchpoint, agent,
	// queue, customer_id or a CRM field), narrow the interviews; "" is any.
	Language     string
	Field, Value string
}

// Tally is what the store counts for one report group; BuildReport turns
// tallies into metrics.
type Tally struct {
	Group      string // the day (YYYY-MM-DD, UTC), touchpoint, agent or queue; "" when unset
	Started    int
	InProgress int
	Complete   int
	Partial    int
	Breakoff   int
	// Values counts answers per question per integer value, for questions whose
	// value is an integer (nps, scale, number) or a yes_no (true = 1, false = 0).
	Values map[string]map[int64]int
	// Answered counts non-skipped answers per question.
	Answered map[string]int
	// StoppedAt counts ended, non-complete interviews per last question asked.
	StoppedAt map[string]int
}

// GroupCounts is the AAPOR counts of the cases closed in one report group
// (day, week or month of closing).
type GroupCounts struct {
	Group  string
	Counts Counts
}

// InterviewFilter selects stored interviews in id order. Zero fields select
// all.
type InterviewFilter struct {
	Questionnaire string
	Status        Status      // "" = any
	Mode          Mode        // "" = any
	From, To      time.Time   // started in [From, To)
	AfterID       InterviewID // keyset pagination: ids above this one
	Limit         int         // at most this many; 0: no limit
	WithAnswers   bool
	// Unheld leaves out the interviews a case keeps in progress for a
	// call back (its case not closed): the dialer resumes them, so they
	// are not lost.
	Unheld bool
	// NodeSilentFor, when set, selects only the interviews run by a node
	// whose heartbeat stopped at least this long ago (by the database's
	// clock): the interviews of a process that died.
	NodeSilentFor time.Duration
}
