package survey

// This file is how Canvass decides whether to survey a call an integrator
// points at (POST /api/v1/survey-requests) or Asterisk transfers: the
// sampling share for its touchpoint or agent, drawn so that nobody can
// predict or steer it; survey fatigue, one survey per number per N days; the
// do-not-call lists. The store applies them in one transaction per number.

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// Draw is true with probability share, drawn from crypto/rand so that
// nobody (an agent wanting their best calls surveyed) can predict or steer
// which calls are sampled.
func Draw(share float64) bool {
	if share >= 1 {
		return true
	}
	if share <= 0 {
		return false
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return true // crypto/rand does not fail on Linux; survey rather than skip
	}
	return float64(binary.BigEndian.Uint64(b[:])>>11)/(1<<53) < share
}

// RequestID identifies a stored survey request.
type RequestID int64

// Request sources.
const (
	RequestAPI = "api" // POST /api/v1/survey-requests
	RequestARI = "ari" // a call Asterisk transferred into the Stasis application
)

// Request decisions.
const (
	RequestQueued   = "queued"   // a case of a keypad campaign: the dialer calls
	RequestSurveyed = "surveyed" // the transferred call is surveyed now
	RequestSkipped  = "skipped"  // not surveyed; Reason says why
)

// Why a request is skipped.
const (
	SkipSampledOut = "sampled_out" // not drawn at the touchpoint's or agent's share
	SkipFatigue    = "fatigue"     // the number was surveyed within the fatigue period
	SkipDNC        = "dnc"         // the number is on a do-not-call list
)

// SurveyRequest asks for a post-call survey of a call.
type SurveyRequest struct {
	Source        string
	Phone         string // E.164 when read; a transferred call's caller as given otherwise
	Questionnaire string
	Language      string
	Context       Context
	// CallAfter is the earliest the dialer calls (zero: as soon as the
	// calling window allows).
	CallAfter   time.Time
	RequestedBy string // the token's name, for the audit
}

// RequestDecision is what Canvass decided about a request, and why.
type RequestDecision struct {
	ID       RequestID `json:"id"`
	Decision string    `json:"decision"`
	Reason   string    `json:"reason,omitempty"`
	// Share is the sampling share that applied (1 when the request was
	// skipped before the draw).
	Share    float64    `json:"share"`
	Case     CaseID     `json:"case_id,omitempty"`
	Campaign CampaignID `json:"campaign_id,omitempty"`
	// CallAfter is when the dialer may call a queued request.
	CallAfter *time.Time `json:"call_after,omitempty"`
	// LastSurveyed is the number's survey within the fatigue period.
	LastSurveyed *time.Time `json:"last_surveyed,omitempty"`
	// DNC is the listing that holds the number.
	DNC *DNCEntry `json:"dnc,omitempty"`
}

// RequestRules are the sampling and fatigue rules of survey requests and
// of the calls Asterisk transfers (configuration `requests:`).
type RequestRules struct {
	// Share is the share of requests surveyed (0 to 1) where no
	// touchpoint or agent share applies.
	Share float64 `yaml:"sample_share"`
	// Touchpoints and Agents set the share by touchpoint and by agent;
	// an agent's share wins over the touchpoint's.
	Touchpoints map[string]float64 `yaml:"touchpoints"`
	Agents      map[string]float64 `yaml:"agents"`
	// FatigueDays surveys a number at most once in that many days (0:
	// no limit).
	FatigueDays int `yaml:"fatigue_days"`
	// Campaign is the keypad campaign queued requests go to, by name; ""
	// is the running keypad campaign of the request's questionnaire.
	Campaign string `yaml:"campaign"`
}

// DefaultRequestRules survey every request, a number at most once in 30
// days.
func DefaultRequestRules() RequestRules { return RequestRules{Share: 1, FatigueDays: 30} }

// ShareFor is the sampling share of a call with context c.
func (r RequestRules) ShareFor(c Context) float64 {
	if s, ok := r.Agents[c.Agent]; ok && c.Agent != "" {
		return s
	}
	if s, ok := r.Touchpoints[c.Touchpoint]; ok && c.Touchpoint != "" {
		return s
	}
	return r.Share
}

// Fatigue is the fatigue period.
func (r RequestRules) Fatigue() time.Duration {
	return time.Duration(r.FatigueDays) * 24 * time.Hour
}

// Validate names every bad rule.
func (r RequestRules) Validate() error {
	var errs []error
	share := func(key string, v float64) {
		if !(v >= 0 && v <= 1) || math.IsNaN(v) {
			errs = append(errs, fmt.Errorf("requests.%s: %v must be a share between 0 and 1", key, v))
		}
	}
	share("sample_share", r.Share)
	for k, v := range r.Touchpoints {
		share("touchpoints."+k, v)
	}
	for k, v := range r.Agents {
		share("agents."+k, v)
	}
	if r.FatigueDays < 0 || r.FatigueDays > 3650 {
		errs = append(errs, fmt.Errorf("requests.fatigue_days: %d must be between 0 (no limit) and 3650", r.FatigueDays))
	}
	return errors.Join(errs...)
}
