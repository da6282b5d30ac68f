package survey

// This file is a questionnaire's alert rules (alerts: in the file): a
// condition over the answers and the call's context, a severity, who owns
// the alert (by touchpoint, queue or agent), when it is due, and whether it
// is raised as soon as an answer makes it true or when the interview ends.
// The interview evaluates them; the store raises each at most once per
// interview, in the transaction that commits the answer (or the end) that
// triggers it.

import (
	"fmt"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
)

// Alert severities, least to most.
var Severities = []string{"low", "medium", "high", "critical"}

// AlertRule is one rule of a questionnaire.
type AlertRule struct {
	ID       string
	Severity string
	// Owner is who owns an alert where Owners has no entry for the call's
	// Route field (touchpoint, queue or agent; "" routes nothing).
	Owner  string
	Route  string
	Owners map[string]string
	Due    time.Duration // from the raise to when it should be closed
	OnEnd  bool          // raised when the interview ends, not on the answer
	Line   int
	when   *program
}

// Source is the rule's condition as written.
func (r *AlertRule) Source() string {
	if r.when == nil {
		return ""
	}
	return r.when.src
}

// Alert is an alert an interview raises: the rule, its severity, its owner
// for the call, when it is due from its raise, and the answer that raised
// it ("" when raised at the end).
type Alert struct {
	Rule     string        `json:"rule"`
	Severity string        `json:"severity"`
	Owner    string        `json:"owner,omitempty"`
	Due      time.Duration `json:"-"`
	Question string        `json:"question,omitempty"`
}

// contextNames are the call-context fields alert conditions read by name
// (touchpoint == "billing"), unless a question has that id; every field is
// context.<name> too, CRM fields included.
var contextNames = []string{"agent", "queue", "call_id", "touchpoint", "customer_id", "caller_number"}

// contextFields is a context as alert conditions see it.
func contextFields(c Context) map[string]string {
	m := make(map[string]string, len(c.Extra)+len(contextNames))
	for k, v := range c.Extra {
		m[k] = v
	}
	for k, v := range map[string]string{"agent": c.Agent, "queue": c.Queue, "call_id": c.CallID, "touchpoint": c.Touchpoint,
		"customer_id": c.CustomerID, "caller_number": c.CallerNumber} {
		m[k] = v
	}
	return m
}

// routeValue is the context field a rule routes by.
func (r *AlertRule) owner(c Context) string {
	v := ""
	switch r.Route {
	case "touchpoint":
		v = c.Touchpoint
	case "queue":
		v = c.Queue
	case "agent":
		v = c.Agent
	}
	if o, ok := r.Owners[v]; ok && v != "" {
		return o
	}
	return r.Owner
}

// SetContext gives the interview its call's context, for alert conditions
// and owner routing.
func (iv *Interview) SetContext(c Context) { iv.context = c }

// SetPreviousNPS gives the interview the NPS the same customer gave in
// their previous survey (previous_nps in alert conditions: a promoter
// turned detractor, two low scores in a row — a churn risk).
func (iv *Interview) SetPreviousNPS(nps int64) { iv.previousNPS = &nps }

// NPSOf is the NPS answer (the first nps-metric question's) among answers.
func (q *Questionnaire) NPSOf(answers []Answer) (int64, bool) { return q.metricOf(MetricNPS, answers) }

// CSATOf is the CSAT answer (the first csat-metric question's) among
// answers, with the top of its scale.
func (q *Questionnaire) CSATOf(answers []Answer) (v, top int64, ok bool) {
	v, ok = q.metricOf(MetricCSAT, answers)
	for _, qq := range q.Questions {
		if qq.Metric == MetricCSAT {
			return v, qq.Max, ok
		}
	}
	return v, 0, ok
}

// metricOf is the integer answer to the first question with metric m.
func (q *Questionnaire) metricOf(m Metric, answers []Answer) (int64, bool) {
	for _, qq := range q.Questions {
		if qq.Metric != m {
			continue
		}
		for _, a := range answers {
			if a.Question == qq.ID {
				v, ok := a.Value.(int64)
				if f, isF := a.Value.(float64); isF {
					v, ok = int64(f), true
				}
				return v, ok && !a.Skipped
			}
		}
		return 0, false
	}
	return 0, false
}

// CustomerScore is one survey in a customer's score history.
type CustomerScore struct {
	Interview     InterviewID `json:"interview_id"`
	Questionnaire string      `json:"questionnaire"`
	Kind          Kind        `json:"kind"`
	StartedAt     time.Time   `json:"started_at"`
	Status        Status      `json:"status"`
	Touchpoint    string      `json:"touchpoint,omitempty"`
	NPS           *int64      `json:"nps,omitempty"`
	CSAT          *int64      `json:"csat,omitempty"`
	CSATTop       int64       `json:"csat_scale_top,omitempty"`
	// ChurnRisk says why this survey's score flags the customer: "promoter
	// turned detractor" or "two low scores in a row"; "" when it does not.
	ChurnRisk string      `json:"churn_risk,omitempty"`
	Alerts    []AlertCase `json:"alerts,omitempty"`
}

// Churn-risk reasons.
const (
	ChurnTurned = "promoter turned detractor"
	ChurnTwoLow = "two low scores in a row"
)

// FlagChurn marks, in a customer's history (oldest first), the surveys
// whose NPS falls as the CX literature watches for: a detractor's score
// after a promoter's, or a second detractor's score in a row. Surveys
// without an NPS answer are passed over.
func FlagChurn(h []CustomerScore) {
	var prev *int64
	for i := range h {
		if h[i].NPS == nil {
			continue
		}
		if prev != nil && NPSGroup(*h[i].NPS) == "detractor" {
			switch NPSGroup(*prev) {
			case "promoter":
				h[i].ChurnRisk = ChurnTurned
			case "detractor":
				h[i].ChurnRisk = ChurnTwoLow
			}
		}
		prev = h[i].NPS
	}
}

// Alerts are the alerts whose conditions hold now: the answer-time rules
// (ended false) or the end-time ones (ended true). Raising one twice is the
// store's to prevent (one per rule and interview); q is the answer just
// given, recorded with answer-time alerts.
func (iv *Interview) Alerts(ended bool, q string) []Alert {
	if len(iv.q.Alerts) == 0 {
		return nil
	}
	e := iv.env()
	ctx := contextFields(iv.context)
	e["context"] = ctx
	for _, n := range contextNames {
		if _, isQuestion := e[n]; !isQuestion {
			e[n] = ctx[n]
		}
	}
	if _, isQuestion := e["previous_nps"]; !isQuestion {
		e["previous_nps"] = nil
		if iv.previousNPS != nil {
			e["previous_nps"] = int(*iv.previousNPS)
		}
	}
	var out []Alert
	for _, r := range iv.q.Alerts {
		if r.OnEnd != ended || r.when == nil {
			continue
		}
		if v, ok := r.when.eval(e); ok && v == true {
			a := Alert{Rule: r.ID, Severity: r.Severity, Owner: r.owner(iv.context), Due: r.Due}
			if !ended {
				a.Question = q
			}
			out = append(out, a)
		}
	}
	return out
}

type rawAlert struct {
	ID       string            `yaml:"id"`
	When     yaml.Node         `yaml:"when"`
	Severity string            `yaml:"severity"`
	Owner    string            `yaml:"owner"`
	Route    string            `yaml:"route"`
	Owners   map[string]string `yaml:"owners"`
	Due      string            `yaml:"due"`
	Raise    string            `yaml:"raise"`
}

// DefaultAlertDue is when an alert is due when its rule does not say.
const DefaultAlertDue = 24 * time.Hour

func (p *parser) alert(n *yaml.Node) {
	var r rawAlert
	if !p.decode(n, &r, "an alert") {
		return
	}
	a := &AlertRule{ID: r.ID, Severity: r.Severity, Owner: r.Owner, Route: r.Route, Owners: r.Owners, Due: DefaultAlertDue, Line: n.Line}
	what := "alert " + r.ID
	if err := validID(r.ID); err != nil {
		p.addf(n.Line, "alert %v", err)
	}
	for _, other := range p.q.Alerts {
		if other.ID == r.ID {
			p.addf(n.Line, "alert id %q is used twice (first at line %d)", r.ID, other.Line)
		}
	}
	switch {
	case a.Severity == "":
		a.Severity = "medium"
	case !slices.Contains(Severities, a.Severity):
		p.addf(fieldLine(n, "severity"), "%s: severity %q is not one of %v", what, r.Severity, Severities)
	}
	switch r.Route {
	case "", "touchpoint", "queue", "agent":
	default:
		p.addf(fieldLine(n, "route"), "%s: route %q: route owners by touchpoint, queue or agent", what, r.Route)
	}
	if len(r.Owners) > 0 && r.Route == "" {
		p.addf(fieldLine(n, "owners"), "%s: owners need a route (touchpoint, queue or agent) to pick from", what)
	}
	if r.Due != "" {
		d, err := time.ParseDuration(r.Due)
		if err != nil || d < time.Minute || d > 90*24*time.Hour {
			p.addf(fieldLine(n, "due"), "%s: due %q must be a duration from 1m to 2160h (90 days), e.g. 4h", what, r.Due)
		} else {
			a.Due = d
		}
	}
	switch r.Raise {
	case "", "answer":
	case "end":
		a.OnEnd = true
	default:
		p.addf(fieldLine(n, "raise"), "%s: raise %q must be answer (as soon as an answer makes it true) or end (when the interview ends)", what, r.Raise)
	}
	if r.When.Kind == 0 {
		p.addf(n.Line, "%s: when is missing: the condition that raises it, e.g. nps <= 6", what)
	} else {
		p.alertEnv = true
		a.when = p.compile(r.When.Value, r.When.Line, len(p.q.Questions), nil, true, what+" when")
		p.alertEnv = false
	}
	p.q.Alerts = append(p.q.Alerts, a)
}

// alertTypes adds the call context to an alert condition's type
// environment.
func (p *parser) alertTypes(env map[string]any) {
	env["context"] = map[string]string{}
	for _, n := range contextNames {
		if _, isQuestion := env[n]; !isQuestion {
			env[n] = ""
		}
	}
	if _, isQuestion := env["previous_nps"]; !isQuestion {
		env["previous_nps"] = 0
	}
}

// String names a rule for logs.
func (r *AlertRule) String() string { return fmt.Sprintf("alert %s (%s)", r.ID, r.Severity) }

// AlertID identifies a raised alert.
type AlertID int64

// Alert states.
const (
	AlertOpen    = "open"    // raised, nobody has acted on it
	AlertWorking = "working" // someone owns it or acted on it
	AlertClosed  = "closed"
)

// Alert outcomes, when closed.
const (
	AlertRecovered    = "recovered"
	AlertNotRecovered = "not_recovered"
)

// AlertCase is a raised alert as the inbox shows it.
type AlertCase struct {
	ID            AlertID          `json:"id"`
	Interview     InterviewID      `json:"interview_id"`
	Questionnaire string           `json:"questionnaire"`
	Rule          string           `json:"rule"`
	Severity      string           `json:"severity"`
	Owner         string           `json:"owner"`
	Question      string           `json:"question,omitempty"`
	Status        string           `json:"status"`
	Assignee      string           `json:"assignee,omitempty"`
	RaisedAt      time.Time        `json:"raised_at"`
	DueAt         time.Time        `json:"due_at"`
	FirstAction   *time.Time       `json:"first_action_at,omitempty"`
	ClosedAt      *time.Time       `json:"closed_at,omitempty"`
	RootCause     string           `json:"root_cause,omitempty"`
	Outcome       string           `json:"outcome,omitempty"`
	RecoveryCase  CaseID           `json:"recovery_case_id,omitempty"`
	Context       Context          `json:"context"`
	Phone         string           `json:"phone,omitempty"`
	Answers       map[string]any   `json:"answers"`
	Notes         []AlertNote      `json:"notes,omitempty"`
	Later         []LaterInterview `json:"later_interviews,omitempty"`
}

// AlertNote is one step in an alert's history.
type AlertNote struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	Kind string    `json:"kind"` // note, assigned, callback, closed
	Text string    `json:"text"`
}

// LaterInterview is a later survey of the same respondent (customer or
// number): whether recovery worked shows there.
type LaterInterview struct {
	ID        InterviewID    `json:"id"`
	StartedAt time.Time      `json:"started_at"`
	Status    Status         `json:"status"`
	Answers   map[string]any `json:"answers"`
}

// AlertFilter selects alerts for the inbox.
type AlertFilter struct {
	Status   string // "" open and working; "all"; or one state
	Owner    string
	Severity string
	Customer string // context.customer_id; "" any
	Limit    int
}

// AlertStats are the inbox's measures over a period: how many alerts, how
// soon someone acted and how soon they were closed (medians), and how many
// were recovered.
type AlertStats struct {
	Raised, Closed, Recovered, Overdue int
	FirstAction, ToClose               time.Duration
}
