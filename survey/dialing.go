package survey

// This file is how a campaign asks to be dialed: the pacing mode and its
// figures, kept in the campaign's settings. The dialer (dialer/) reads
// them; the admin page and the API write them; Validate is the one check.

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// DialMode is how a campaign's calls are placed.
type DialMode string

// Dial modes. A CATI campaign is preview (the default) or progressive; a
// keypad (IVR) campaign is always dialed by the dialer.
const (
	DialPreview     DialMode = "preview"     // the interviewer sees the case, then dials
	DialProgressive DialMode = "progressive" // a free interviewer gets the next case already dialing
	DialPredictive  DialMode = "predictive"  // more lines than free interviewers, within the abandonment budget
	DialKeypad      DialMode = "ivr"         // no interviewers: the questionnaire runs on the keypad
)

// Dialing defaults.
const (
	DefaultCallsPerSecond = 1.0
	DefaultMaxLines       = 10
	DefaultRing           = 25 * time.Second
	// MinRing is the shortest ring the rules allow: an unanswered call
	// rings at least 15 s (Ofcom; 47 CFR 64.1200(a)(6)).
	MinRing = 15 * time.Second
	// DefaultResumeAfter is when a respondent who hung up in the middle
	// of a keypad survey is called back, when the campaign sets no retry
	// delay for 2.12.
	DefaultResumeAfter = time.Hour
	// DefaultAbandonBudget is the most abandoned calls a campaign may make,
	// as a share of the calls a person answered, in any rolling 24 h (Ofcom)
	// or 30 days (16 CFR 310.4(b)(4)); dialer.DefaultBudget.
	DefaultAbandonBudget = 0.03
)

// Dialing is a campaign's dialer settings; the zero value is preview for a
// CATI campaign and the defaults above for a keypad one.
type Dialing struct {
	// Mode is preview or progressive for CATI; "" is the campaign's
	// natural mode (preview, or ivr for a keypad campaign).
	Mode DialMode `json:"mode,omitempty"`
	// AutoDialSeconds dials a preview that long after it is shown (0:
	// the interviewer clicks).
	AutoDialSeconds int `json:"auto_dial_seconds,omitempty"`
	// CallsPerSecond and MaxLines pace a keypad campaign: new calls a
	// second, and calls up at once (ringing and in the survey).
	CallsPerSecond float64 `json:"calls_per_second,omitempty"`
	MaxLines       int     `json:"max_lines,omitempty"`
	// TargetCompletes stops a keypad campaign's dialing at that many
	// completes (0: until the sample is worked).
	TargetCompletes int `json:"target_completes,omitempty"`
	// RingSeconds is how long an unanswered call rings (at least 15).
	RingSeconds int `json:"ring_seconds,omitempty"`
	// NoResume starts a keypad interview from the beginning on a call
	// back; by default it resumes at the first unanswered question.
	NoResume bool `json:"no_resume,omitempty"`
	// AMD runs answering-machine detection on each answered keypad call
	// and says what a machine gets: "" (no detection), hangup, message
	// (MachineMessage is said, then the call ends) or survey (the
	// questionnaire runs anyway; the verdict is kept on the attempt).
	AMD            AMDPolicy `json:"amd,omitempty"`
	MachineMessage string    `json:"machine_message,omitempty"`
	// AMDFalsePositive is the campaign's estimate of the share of calls
	// AMD takes for a machine that a person answered (measure it by
	// listening to a sample). Regulators count those persons as abandoned
	// calls: each machine verdict on a predictive call not handed to an
	// interviewer counts as that share of an abandoned live call in the
	// ledger and on the floor. A predictive campaign that hangs up on
	// machines (or leaves them a message) must give it; 0 is allowed.
	AMDFalsePositive *float64 `json:"amd_false_positive,omitempty"`
	// AbandonMessage is what a person hears whose predictive call found
	// no interviewer free within AbandonAfter: who called and a number to
	// opt out, no marketing. Predictive campaigns need one.
	AbandonMessage string `json:"abandon_message,omitempty"`
	// AbandonBudget is the most abandoned calls as a share of live
	// answered ones (nil: DefaultAbandonBudget; 0: none, and predictive
	// dials as progressive).
	AbandonBudget *float64 `json:"abandon_budget,omitempty"`
	// Slices are the parts of the respondent's week attempts rotate
	// across; nil: DefaultSlices.
	Slices Slices `json:"slices,omitempty"`
	// AgentKey is mixed mode in a keypad campaign: a respondent who
	// presses it (alone, on a question it does not answer) is handed to a
	// free interviewer of the campaign, with the interview on their
	// screen. "" is off.
	AgentKey string `json:"agent_key,omitempty"`
}

// TransferWait is how long a respondent who pressed the agent key waits
// for a free interviewer before the keypad survey goes on.
const TransferWait = 30 * time.Second

// RestAfterAbandon is how long a number that got an abandoned call is not
// called again by the dialer (Ofcom: 72 h; an interviewer's own claim, with
// an interviewer reserved for the call, may).
const RestAfterAbandon = 72 * time.Hour

// AbandonAfter is how long a person who answers a predictive call may
// wait for an interviewer before the call is abandoned (Ofcom; 16 CFR
// 310.4(b)(4)(iii)).
const AbandonAfter = 2 * time.Second

// FalsePositives is the campaign's AMD false-positive estimate (0 when
// none is set).
func (d Dialing) FalsePositives() float64 {
	if d.AMDFalsePositive == nil {
		return 0
	}
	return *d.AMDFalsePositive
}

// Budget is the campaign's abandonment budget.
func (d Dialing) Budget() float64 {
	if d.AbandonBudget == nil {
		return DefaultAbandonBudget
	}
	return *d.AbandonBudget
}

// AMDPolicy is what a campaign does with a call AMD takes for a machine.
type AMDPolicy string

// AMD policies.
const (
	AMDOff     AMDPolicy = ""
	AMDHangup  AMDPolicy = "hangup"
	AMDMessage AMDPolicy = "message"
	AMDSurvey  AMDPolicy = "survey"
)

// DialMode is the campaign's effective dial mode.
func (c Campaign) DialMode(d Dialing) DialMode {
	if c.Mode == CampaignIVR {
		return DialKeypad
	}
	if d.Mode == "" {
		return DialPreview
	}
	return d.Mode
}

// Pace is the keypad pacing with the defaults filled in.
func (d Dialing) Pace() (cps float64, maxLines int) {
	cps, maxLines = d.CallsPerSecond, d.MaxLines
	if cps <= 0 {
		cps = DefaultCallsPerSecond
	}
	if maxLines <= 0 {
		maxLines = DefaultMaxLines
	}
	return cps, maxLines
}

// Ring is how long an unanswered call rings.
func (d Dialing) Ring() time.Duration {
	if d.RingSeconds <= 0 {
		return DefaultRing
	}
	return time.Duration(d.RingSeconds) * time.Second
}

// Validate checks d for a campaign of mode m, naming each bad field.
func (d Dialing) Validate(m CampaignMode) error {
	var errs []error
	switch {
	case d.Mode == "":
	case m == CampaignIVR && d.Mode != DialKeypad:
		errs = append(errs, fmt.Errorf("dialing mode %q: a keypad campaign is dialed as ivr", d.Mode))
	case m == CampaignCATI && d.Mode != DialPreview && d.Mode != DialProgressive && d.Mode != DialPredictive:
		errs = append(errs, fmt.Errorf("dialing mode %q: pick preview, progressive or predictive", Clip(string(d.Mode), 20)))
	}
	if d.Mode == DialPredictive && strings.TrimSpace(d.AbandonMessage) == "" {
		errs = append(errs, errors.New("abandoned-call message: predictive dialing needs the message a person hears when no interviewer is free (who called, a number to opt out)"))
	}
	if len(d.AbandonMessage) > 500 {
		errs = append(errs, errors.New("abandoned-call message: at most 500 characters"))
	}
	if b := d.Budget(); b < 0 || b > DefaultAbandonBudget || math.IsNaN(b) {
		errs = append(errs, fmt.Errorf("abandonment budget %g%%: use 0 to 3%%", 100*b))
	}
	if d.AutoDialSeconds < 0 || d.AutoDialSeconds > 600 {
		errs = append(errs, fmt.Errorf("auto-dial after %d s: use 0 (off) to 600 seconds", d.AutoDialSeconds))
	}
	if d.CallsPerSecond < 0 || d.CallsPerSecond > 500 {
		errs = append(errs, fmt.Errorf("calls per second %g: use 0 (the default, %g) to 500", d.CallsPerSecond, DefaultCallsPerSecond))
	}
	if d.MaxLines < 0 || d.MaxLines > 10000 {
		errs = append(errs, fmt.Errorf("max lines %d: use 0 (the default, %d) to 10000", d.MaxLines, DefaultMaxLines))
	}
	if d.TargetCompletes < 0 {
		errs = append(errs, fmt.Errorf("target completes %d: use 0 (no target) or more", d.TargetCompletes))
	}
	if d.RingSeconds != 0 && (time.Duration(d.RingSeconds)*time.Second < MinRing || d.RingSeconds > 120) {
		errs = append(errs, fmt.Errorf("ring %d s: an unanswered call rings 15 to 120 seconds", d.RingSeconds))
	}
	switch d.AMD {
	case AMDOff, AMDHangup, AMDSurvey:
	case AMDMessage:
		if strings.TrimSpace(d.MachineMessage) == "" {
			errs = append(errs, errors.New("machine message: write what an answering machine is told (who called, why, a number to call back), or pick another AMD policy"))
		}
	default:
		errs = append(errs, fmt.Errorf("AMD %q: pick none, hangup, message or survey", Clip(string(d.AMD), 20)))
	}
	if fp := d.AMDFalsePositive; fp != nil && !(*fp >= 0 && *fp <= 1) {
		errs = append(errs, fmt.Errorf("AMD false positives %g%%: give the share of machine verdicts that were persons, 0 to 100%%", 100**fp))
	}
	if d.Mode == DialPredictive && (d.AMD == AMDHangup || d.AMD == AMDMessage) && d.AMDFalsePositive == nil {
		errs = append(errs, errors.New("AMD false positives: a predictive campaign that hangs up on machines must estimate how many were persons (0 to 100%; listen to a sample) — regulators count them as abandoned calls"))
	}
	if len(d.MachineMessage) > 500 {
		errs = append(errs, errors.New("machine message: at most 500 characters"))
	}
	switch {
	case d.AgentKey == "":
	case m != CampaignIVR:
		errs = append(errs, errors.New("agent key: only a keypad campaign hands respondents to interviewers on a key; clear it"))
	case len(d.AgentKey) != 1 || d.AgentKey[0] < '0' || d.AgentKey[0] > '9':
		errs = append(errs, fmt.Errorf("agent key %q: use one digit, 0 to 9 (* repeats a question and # ends an entry)", Clip(d.AgentKey, 10)))
	}
	if len(d.Slices) > 0 {
		if err := d.Slices.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("time slices: %w", err))
		}
	}
	for i, e := range errs {
		errs[i] = Errorf(EInvalid, "%v", e)
	}
	return errors.Join(errs...)
}

// DialJob is one call the dialer places: a case claimed for it, with its
// call attempt already started and counted.
type DialJob struct {
	Campaign      CampaignID
	Case          CaseID
	Attempt       AttemptID
	Phone         string // E.164
	TZ            string
	Language      string
	Contact       map[string]string
	Questionnaire string
	// Interview is the case's interview in progress, which the call
	// resumes; 0 for none.
	Interview InterviewID
	// Attempts is the case's attempts with this one; MaxAttempts the
	// campaign's limit.
	Attempts, MaxAttempts int
	// Context is the interview context of a case a survey request queued
	// (agent, queue, call id, touchpoint, customer, CRM fields); zero for a
	// sample's case.
	Context Context
}

// LastAttempt says whether the job is the case's last allowed attempt.
func (j DialJob) LastAttempt() bool { return j.Attempts >= j.MaxAttempts }

// AgentSlot is an interviewer the dialer may place a call for: idle on a
// running progressive campaign (the next case, already dialing), or on a
// previewed case whose campaign auto-dials it.
type AgentSlot struct {
	User  UserID
	Name  string
	State DeskState // idle or on_case
	Since time.Time // in that state since
	// Case and Campaign are the previewed case's (on_case).
	Case     CaseID
	Campaign CampaignID
	// AutoDial is the previewed case's campaign's auto-dial delay (0:
	// never).
	AutoDial time.Duration
	// Progressive: the slot's campaign (an idle interviewer's: one of
	// theirs) dials progressive, so a case on the desk is dialed at once.
	// Predictive: an idle interviewer waits for a predictive campaign's
	// calls. Mixed: for the respondents of a keypad campaign who press its
	// agent key.
	Progressive, Predictive, Mixed bool
}

// DialStats is what predictive pacing knows of a campaign's recent dials.
type DialStats struct {
	Dials, Live      int           // ended dials, and those a person answered
	Ring             time.Duration // mean time from dial to a person's answer
	Handle, HandleSD time.Duration // answered calls' length: mean, deviation
}

// LiveCall is a call a person answered: the abandonment ledger's unit.
type LiveCall struct {
	At        time.Time
	Abandoned bool
	// Machine: AMD took it for a machine and nobody took it; it counts
	// in the ledger as the campaign's false-positive share of an abandoned
	// live call.
	Machine bool
}

// PredictedCall is how a predictive call went: the dial's outcome and
// facts, and who took the answered call (0: nobody; Facts.Abandoned when
// nobody was free in time).
type PredictedCall struct {
	Outcome DialOutcome
	Facts   CallFacts
	User    UserID
}
