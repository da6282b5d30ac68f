package survey

// This file holds the AAPOR side of survey science: the telephone disposition
// catalog (what each call outcome means and what the dialer does next), the
// rule that settles a case's final disposition from its attempts, and the
// outcome rates (RR, COOP, REF, CON) computed from final dispositions, as
// AAPOR's Standard Definitions give them for RDD telephone surveys.

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// DispositionCode is an AAPOR disposition code such as "1.1" or "2.112".
// Codes are strings, not numbers: "2.1" and "2.10" are different codes.
type DispositionCode string

// Codes other packages map call and interview outcomes to. The catalog
// (Dispositions) holds every code; these are the ones named in code.
const (
	CodeComplete         DispositionCode = "1.1"  // interview reached the end
	CodePartial          DispositionCode = "1.2"  // ended early with enough answers
	CodeRefusal          DispositionCode = "2.11" // declined before the interview started
	CodeBreakoff         DispositionCode = "2.12" // ended early with too few answers
	CodeMiscellaneous    DispositionCode = "2.36" // eligible, none of the above; also attempt limit on an eligible case
	CodeNotAttempted     DispositionCode = "3.11" // never dialled
	CodeBusy             DispositionCode = "3.12"
	CodeNoAnswer         DispositionCode = "3.13"
	CodeAnsweringMachine DispositionCode = "3.14" // machine, unknown if household
	CodeOtherUnknown     DispositionCode = "3.90" // unknown eligibility, none of the above; also attempt limit
	CodeFaxLine          DispositionCode = "4.20"
	CodeNonWorking       DispositionCode = "4.31"
)

// RateGroup is the bucket of the AAPOR rate formulas a final disposition is
// counted in.
type RateGroup string

// Rate groups (CHECK constraint in sql/migrations).
const (
	GroupI  RateGroup = "I"  // complete interview
	GroupP  RateGroup = "P"  // partial interview
	GroupR  RateGroup = "R"  // refusal and break-off
	GroupNC RateGroup = "NC" // eligible, not contacted
	GroupO  RateGroup = "O"  // eligible, other non-interview
	GroupUH RateGroup = "UH" // unknown if household / occupied
	GroupUO RateGroup = "UO" // household, unknown if eligible respondent
	GroupNE RateGroup = "NE" // not eligible: leaves every denominator
)

// Valid reports whether g is one of the eight AAPOR rate groups.
func (g RateGroup) Valid() bool {
	switch g {
	case GroupI, GroupP, GroupR, GroupNC, GroupO, GroupUH, GroupUO, GroupNE:
		return true
	}
	return false
}

// Eligibility is what a rate group says about the case's eligibility. It is
// derived from the group, never set independently, so the two cannot
// disagree.
func (g RateGroup) Eligibility() Eligibility {
	switch g {
	case GroupI, GroupP, GroupR, GroupNC, GroupO:
		return Eligible
	case GroupNE:
		return NotEligible
	}
	return EligibilityUnknown
}

// Eligibility says whether a case is known to be in the target population.
type Eligibility string

// Eligibility values.
const (
	Eligible           Eligibility = "eligible"
	EligibilityUnknown Eligibility = "unknown"
	NotEligible        Eligibility = "not_eligible"
)

// Retry is what the dialer does with a case after a disposition.
type Retry string

// Retry policies (CHECK constraint in sql/migrations).
const (
	RetryNone       Retry = "none"        // no further call for this case
	RetrySameNumber Retry = "same_number" // call the same number again after RetryAfter
	RetryNextNumber Retry = "next_number" // this number is settled; try the contact's next number, if any
)

// Disposition is one catalog entry: an AAPOR code with the call-center policy
// attached to it. The catalog is authoritative: every start writes it to the
// disposition_code table (for SQL reports), so a label or policy is changed
// here, not in the table.
type Disposition struct {
	Code  DispositionCode
	Label string
	Group RateGroup
	// RetryAfter is how long the dialer waits before calling the same number
	// again; meaningful only with RetrySameNumber.
	RetryAfter time.Duration
	Retry      Retry
	// Contacted means a person answered on this call (interviewer and
	// campaign statistics). The AAPOR contact rates do not use it: they
	// count rate groups.
	Contacted bool
	// Eligible is derived from Group.
	Eligible Eligibility
	// RequiresNote means the interviewer must say what happened, because
	// the code alone does not.
	RequiresNote bool
	// Final means the code settles the number it was reached on: the dialer
	// never calls that number again (with RetryNextNumber the case goes on
	// with the contact's next number). A code that is not final is retried
	// while attempts remain; FinalDisposition maps it when they run out.
	Final bool
}

// dispositionJSON is Disposition on the wire: the retry delay in whole
// seconds, as the disposition_code table and the API store it.
type dispositionJSON struct {
	Code              DispositionCode `json:"code"`
	Label             string          `json:"label"`
	Group             RateGroup       `json:"group"`
	RetryAfterSeconds int64           `json:"retry_after_seconds"`
	Retry             Retry           `json:"retry"`
	Contacted         bool            `json:"contacted"`
	Eligible          Eligibility     `json:"eligible"`
	RequiresNote      bool            `json:"requires_note"`
	Final             bool            `json:"final"`
}

// MarshalJSON writes RetryAfter as retry_after_seconds.
func (d Disposition) MarshalJSON() ([]byte, error) {
	return json.Marshal(dispositionJSON{
		Code:              d.Code,
		Label:             d.Label,
		Group:             d.Group,
		RetryAfterSeconds: int64(d.RetryAfter / time.Second),
		Retry:             d.Retry,
		Contacted:         d.Contacted,
		Eligible:          d.Eligible,
		RequiresNote:      d.RequiresNote,
		Final:             d.Final,
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Disposition) UnmarshalJSON(data []byte) error {
	var w dispositionJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*d = Disposition{
		Code:         w.Code,
		Label:        w.Label,
		Group:        w.Group,
		RetryAfter:   time.Duration(w.RetryAfterSeconds) * time.Second,
		Retry:        w.Retry,
		Contacted:    w.Contacted,
		Eligible:     w.Eligible,
		RequiresNote: w.RequiresNote,
		Final:        w.Final,
	}
	return nil
}

// disposition builds a catalog entry; the eligibility comes from the group.
func disposition(code DispositionCode, label string, g RateGroup, retry Retry, after time.Duration, contacted, final, note bool) Disposition {
	return Disposition{
		Code:         code,
		Label:        label,
		Group:        g,
		RetryAfter:   after,
		Retry:        retry,
		Contacted:    contacted,
		Eligible:     g.Eligibility(),
		RequiresNote: note,
		Final:        final,
	}
}

// Dispositions returns the AAPOR telephone disposition catalog, parent codes
// and sub-codes, in code order. The slice is new on every call, so callers
// may change it.
//
// Retry policies are what a call center would start from: busy lines are
// tried again soon, no-answers and machines after hours, a reached household
// whose respondent is away the same day. Refusals, break-offs and completes
// close the case (no refusal conversion by default). Numbers that are not
// working, fax lines or businesses send the dialer to the contact's next
// number; a case-level not-eligible finding (out of sample, no eligible
// respondent, quota filled) closes the case.
func Dispositions() []Disposition {
	const (
		contact   = true // a person answered
		noContact = false
		final     = true
		retried   = false
		note      = true
		noNote    = false
	)
	const (
		none = RetryNone
		same = RetrySameNumber
		next = RetryNextNumber
	)
	return []Disposition{
		disposition("1.1", "Complete", GroupI, none, 0, contact, final, noNote),
		disposition("1.2", "Partial", GroupP, none, 0, contact, final, noNote),

		disposition("2.11", "Refusal", GroupR, none, 0, contact, final, noNote),
		disposition("2.111", "Refusal, household-level", GroupR, none, 0, contact, final, noNote),
		disposition("2.112", "Refusal, known respondent", GroupR, none, 0, contact, final, noNote),
		disposition("2.12", "Break-off", GroupR, none, 0, contact, final, noNote),
		disposition("2.21", "Respondent never available", GroupNC, same, 4*time.Hour, contact, retried, noNote),
		disposition("2.22", "Answering machine, household confirmed", GroupNC, same, 4*time.Hour, noContact, retried, noNote),
		// A message left invites a call back: give the household a day.
		disposition("2.221", "Answering machine, household confirmed, message left", GroupNC, same, 24*time.Hour, noContact, retried, noNote),
		disposition("2.222", "Answering machine, household confirmed, no message left", GroupNC, same, 4*time.Hour, noContact, retried, noNote),
		disposition("2.31", "Dead", GroupO, none, 0, contact, final, noNote),
		disposition("2.32", "Physically or mentally unable", GroupO, none, 0, contact, final, note),
		disposition("2.33", "Language problem", GroupO, none, 0, contact, final, noNote),
		disposition("2.331", "Language problem, household", GroupO, none, 0, contact, final, noNote),
		disposition("2.332", "Language problem, respondent", GroupO, none, 0, contact, final, noNote),
		// Retried so a supervisor can route the case to an interviewer who
		// speaks the language.
		disposition("2.333", "Language problem, no interviewer for the language", GroupO, same, 24*time.Hour, contact, retried, noNote),
		disposition("2.34", "Inadequate audio quality", GroupO, same, 30*time.Minute, contact, retried, noNote),
		disposition("2.35", "Location or activity not allowing interview", GroupO, same, 2*time.Hour, contact, retried, noNote),
		disposition("2.36", "Miscellaneous", GroupO, none, 0, contact, final, note),

		disposition("3.11", "Not attempted or worked", GroupUH, same, 0, noContact, retried, noNote),
		disposition("3.12", "Always busy", GroupUH, same, 15*time.Minute, noContact, retried, noNote),
		disposition("3.13", "No answer", GroupUH, same, 2*time.Hour, noContact, retried, noNote),
		disposition("3.14", "Answering machine, unknown if household", GroupUH, same, 4*time.Hour, noContact, retried, noNote),
		disposition("3.15", "Call blocking", GroupUH, same, 24*time.Hour, noContact, retried, noNote),
		disposition("3.16", "Technical phone problems", GroupUH, same, time.Hour, noContact, retried, noNote),
		disposition("3.161", "Technical phone problems, ambiguous operator message", GroupUH, same, 24*time.Hour, noContact, retried, noNote),
		disposition("3.21", "Housing unit, no screener completed", GroupUO, same, 24*time.Hour, contact, retried, noNote),
		disposition("3.90", "Other unknown eligibility", GroupUO, none, 0, noContact, final, note),

		disposition("4.10", "Out of sample", GroupNE, none, 0, contact, final, noNote),
		disposition("4.20", "Fax or data line", GroupNE, next, 0, noContact, final, noNote),
		disposition("4.31", "Non-working number", GroupNE, next, 0, noContact, final, noNote),
		disposition("4.32", "Disconnected number", GroupNE, next, 0, noContact, final, noNote),
		disposition("4.33", "Temporarily out of service", GroupNE, next, 0, noContact, final, noNote),
		disposition("4.41", "Number changed", GroupNE, next, 0, noContact, final, noNote),
		disposition("4.43", "Call forwarding", GroupNE, next, 0, noContact, final, noNote),
		disposition("4.51", "Business or organisation", GroupNE, next, 0, contact, final, noNote),
		disposition("4.52", "Institution", GroupNE, next, 0, contact, final, noNote),
		disposition("4.53", "Group quarters", GroupNE, next, 0, contact, final, noNote),
		disposition("4.70", "No eligible respondent", GroupNE, none, 0, contact, final, noNote),
		disposition("4.80", "Quota filled", GroupNE, none, 0, contact, final, noNote),
		disposition("4.90", "Other not eligible", GroupNE, none, 0, noContact, final, note),
	}
}

// LookupDisposition returns the catalog entry for code.
func LookupDisposition(code DispositionCode) (Disposition, bool) {
	for _, d := range Dispositions() {
		if d.Code == code {
			return d, true
		}
	}
	return Disposition{}, false
}

// FinalDisposition settles a case's final disposition from the codes of its
// attempts, in the order they were made, on every number the case was
// called on. limitReached says the case ran out of attempts (or the field
// period ended) and will not be called again.
//
// The most informative outcome wins, in this order:
//
//  1. a complete interview (1.1);
//  2. a partial interview (1.2);
//  3. a refusal or break-off (R), even if later calls went unanswered;
//  4. another eligible non-interview (O): a contact beats a non-contact;
//  5. an eligible non-contact (NC);
//  6. a not-eligible finding (NE): a definitive determination beats unknown
//     eligibility, but any eligible outcome above beats it, because a case
//     known to be eligible on one call stays eligible;
//  7. an unknown-eligibility outcome (UH, UO) other than 3.11;
//  8. not attempted (3.11).
//
// Within one rank the last attempt wins, so the code reflects what was
// learned most recently. An empty history is 3.11. A code not in the catalog
// counts as 3.90, other unknown eligibility.
//
// When limitReached and the winning code is not final (it would be retried,
// e.g. 3.13 no answer or 2.21 respondent never available), it becomes 2.36
// if any attempt showed the case eligible, else 3.90. Without limitReached
// the winning code is returned as is: the case is still open.
func FinalDisposition(attempts []DispositionCode, limitReached bool) DispositionCode {
	if len(attempts) == 0 {
		return CodeNotAttempted
	}
	var (
		chosen   Disposition
		best     = -1
		eligible bool
	)
	for _, code := range attempts {
		d, ok := LookupDisposition(code)
		if !ok {
			d, _ = LookupDisposition(CodeOtherUnknown)
		}
		if d.Eligible == Eligible {
			eligible = true
		}
		// >= so that the last attempt of the best rank wins.
		if r := finalRank(d); r >= best {
			best, chosen = r, d
		}
	}
	if limitReached && !chosen.Final {
		if eligible {
			return CodeMiscellaneous
		}
		return CodeOtherUnknown
	}
	return chosen.Code
}

// finalRank orders dispositions for FinalDisposition: higher is more
// informative.
func finalRank(d Disposition) int {
	if d.Code == CodeNotAttempted {
		return 0
	}
	switch d.Group {
	case GroupI:
		return 7
	case GroupP:
		return 6
	case GroupR:
		return 5
	case GroupO:
		return 4
	case GroupNC:
		return 3
	case GroupNE:
		return 2
	}
	return 1 // UH, UO
}

// Counts is the number of cases per rate group, over final dispositions.
type Counts struct {
	I  int `json:"i"`
	P  int `json:"p"`
	R  int `json:"r"`
	NC int `json:"nc"`
	O  int `json:"o"`
	UH int `json:"uh"`
	UO int `json:"uo"`
	NE int `json:"ne"`
}

// Add counts one case in group g. A group that is not Valid is not counted;
// the disposition_code table's CHECK constraint keeps such groups out of the
// store.
func (c *Counts) Add(g RateGroup) { c.AddN(g, 1) }

// AddN counts n cases in group g, as Add.
func (c *Counts) AddN(g RateGroup, n int) {
	switch g {
	case GroupI:
		c.I += n
	case GroupP:
		c.P += n
	case GroupR:
		c.R += n
	case GroupNC:
		c.NC += n
	case GroupO:
		c.O += n
	case GroupUH:
		c.UH += n
	case GroupUO:
		c.UO += n
	case GroupNE:
		c.NE += n
	}
}

// Cases is how many cases are counted, in every group.
func (c Counts) Cases() int { return c.I + c.P + c.R + c.NC + c.O + c.UH + c.UO + c.NE }

// Rate is a computed ratio that may be undefined: an AAPOR rate in [0, 1],
// or a CX score. A rate whose denominator is zero is not 0 and not NaN, it
// does not exist, and reports must say so.
type Rate struct {
	Value   float64
	Defined bool
}

// ratio is num/den, undefined when den is zero.
func ratio(num, den float64) Rate {
	if den == 0 {
		return Rate{}
	}
	return Rate{Value: num / den, Defined: true}
}

// String formats the rate with four decimals, or "n/a" when undefined.
func (r Rate) String() string {
	if !r.Defined {
		return "n/a"
	}
	return strconv.FormatFloat(r.Value, 'f', 4, 64)
}

// MarshalJSON writes the value as a number, or null when undefined.
func (r Rate) MarshalJSON() ([]byte, error) {
	if !r.Defined {
		return []byte("null"), nil
	}
	if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
		return nil, fmt.Errorf("rate %v is not a number", r.Value)
	}
	return strconv.AppendFloat(nil, r.Value, 'g', -1, 64), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Rate) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*r = Rate{}
		return nil
	}
	var v float64
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*r = Rate{Value: v, Defined: true}
	return nil
}

// Rates are the AAPOR outcome rates of one set of counts. E, the estimated
// share of unknown-eligibility cases that are eligible, is reported with
// them because RR3, RR4, REF2 and CON2 depend on it.
type Rates struct {
	E     float64 `json:"e"`
	RR1   Rate    `json:"rr1"`
	RR2   Rate    `json:"rr2"`
	RR3   Rate    `json:"rr3"`
	RR4   Rate    `json:"rr4"`
	RR5   Rate    `json:"rr5"`
	RR6   Rate    `json:"rr6"`
	COOP1 Rate    `json:"coop1"`
	COOP2 Rate    `json:"coop2"`
	COOP3 Rate    `json:"coop3"`
	COOP4 Rate    `json:"coop4"`
	REF1  Rate    `json:"ref1"`
	REF2  Rate    `json:"ref2"`
	REF3  Rate    `json:"ref3"`
	CON1  Rate    `json:"con1"`
	CON2  Rate    `json:"con2"`
	CON3  Rate    `json:"con3"`
}

// Rates computes the AAPOR response, cooperation, refusal and contact rates
// with e as the eligible share of the unknown-eligibility cases (UH+UO).
// ProportionalE gives the standard default for e.
//
// e comes from the user, so an e outside [0, 1] is an EInvalid *Error whose
// message names it. A negative count can only come from a bug upstream and
// is a plain error.
func (c Counts) Rates(e float64) (Rates, error) {
	if math.IsNaN(e) || e < 0 || e > 1 {
		return Rates{}, Errorf(EInvalid, "e, the eligible share of unknown-eligibility cases, must be between 0 and 1, not %v", e)
	}
	if c.I < 0 || c.P < 0 || c.R < 0 || c.NC < 0 || c.O < 0 || c.UH < 0 || c.UO < 0 || c.NE < 0 {
		return Rates{}, fmt.Errorf("aapor rates: negative count in %+v", c)
	}
	var (
		interviews = float64(c.I + c.P)
		complete   = float64(c.I)
		refusals   = float64(c.R)
		eligibleNI = float64(c.R + c.NC + c.O) // eligible non-interviews
		unknown    = float64(c.UH + c.UO)
		contacted  = float64(c.I + c.P + c.R + c.O) // (I+P)+R+O
		// The three denominators shared by RR, REF and CON: all unknowns
		// counted eligible, a share e of them, none of them.
		denAll  = interviews + eligibleNI + unknown
		denE    = interviews + eligibleNI + e*unknown
		denNone = interviews + eligibleNI
	)
	return Rates{
		E:     e,
		RR1:   ratio(complete, denAll),
		RR2:   ratio(interviews, denAll),
		RR3:   ratio(complete, denE),
		RR4:   ratio(interviews, denE),
		RR5:   ratio(complete, denNone),
		RR6:   ratio(interviews, denNone),
		COOP1: ratio(complete, interviews+refusals+float64(c.O)),
		COOP2: ratio(interviews, interviews+refusals+float64(c.O)),
		COOP3: ratio(complete, interviews+refusals),
		COOP4: ratio(interviews, interviews+refusals),
		REF1:  ratio(refusals, denAll),
		REF2:  ratio(refusals, denE),
		REF3:  ratio(refusals, denNone),
		// (I+P)+R+O+NC is denNone, so the CON denominators are the RR ones.
		CON1: ratio(contacted, denAll),
		CON2: ratio(contacted, denE),
		CON3: ratio(contacted, denNone),
	}, nil
}

// ProportionalE is the standard default for e: the eligible share of the
// cases whose eligibility is known, (I+P+R+NC+O) / (I+P+R+NC+O+NE). It is
// undefined when no case's eligibility is known.
func (c Counts) ProportionalE() Rate {
	eligible := float64(c.I + c.P + c.R + c.NC + c.O)
	return ratio(eligible, eligible+float64(c.NE))
}
