package dialer

// This file is the cause table: how the dialer settles one dial attempt from
// what the network said (the final SIP status, the Q.850 cause, Asterisk's
// Dial status, a fax tone, the AMD verdict) into a survey.DialOutcome, the
// AAPOR code that outcome records, and when the number may be called again.
// It is the one table a campaign uses; the adapters' own classification
// (ivr/dial.go) agrees with it wherever they look at the same input, which
// causes_test.go lists row by row. testdata/causes.md is the table as the
// README shows it, regenerated with `go test ./dialer -run CauseDoc -update`.

import (
	"fmt"
	"strings"
	"time"

	"github.com/canvass/canvass/survey"
)

// AMD is what answering-machine detection concluded on an answered call,
// with ivr.AMDVerdict's values; "" means it did not run.
type AMD string

// AMD verdicts.
const (
	AMDHuman   AMD = "human"
	AMDMachine AMD = "machine"
	AMDNotSure AMD = "notsure"
)

// Signal is what the network and the adapter said about one dial attempt:
// the facts the cause table settles it from. The runner fills it from the
// adapter's dial result; the dialer never sees the adapter's types.
type Signal struct {
	// Answered: the call was answered with usable media (a 2xx whose SDP
	// was accepted, or the originated channel's StasisStart).
	Answered bool
	// SIPStatus is the final SIP response; 0 when none came (and always
	// over Asterisk, which does not show it).
	SIPStatus int
	// Q850 is the ISDN cause: of the Reason header of the final response,
	// or Asterisk's hangup cause; 0 when there is none.
	Q850 int
	// DialStatus is Asterisk's Dial status (BUSY, NOANSWER, CONGESTION,
	// CHANUNAVAIL, CANCEL); "" when there is none.
	DialStatus string
	// RingTimeout: we hung up because the call rang for the whole ring
	// timeout (a 487 or a cause that follows our CANCEL says nothing more).
	RingTimeout bool
	// Cancelled: we hung up before an answer for another reason (the
	// campaign paused, shutdown).
	Cancelled bool
	// NodeLost: the node placing the call went silent (killed, its
	// machine gone) before settling it; another node settles it
	// (Runner's takeover) knowing nothing of how it went.
	NodeLost bool
	// Fax: a fax or modem tone was heard on the answered call.
	Fax bool
	// AMD is the detection's verdict on the answered call; "" when it did
	// not run.
	AMD AMD
}

// RetryClass says when a number may be called again after an attempt.
type RetryClass string

// Retry classes.
const (
	// RetrySoon: the network failed, not the respondent; call again in
	// minutes (Settlement.Delay's soon).
	RetrySoon RetryClass = "soon"
	// RetryNormal: call again after the code's retry delay, the
	// campaign's (retry_seconds) or else the catalog's.
	RetryNormal RetryClass = "normal"
	// RetryNever: the attempt settled this number (not working, fax); it
	// is never called again and the case goes on with its next number.
	RetryNever RetryClass = "never"
	// RetryWrapUp: the call connected; the interview or the interviewer's
	// wrap-up decides (survey.Decide), not the network.
	RetryWrapUp RetryClass = "wrap_up"
)

// DefaultSoon is the delay of RetrySoon when the campaign sets none.
const DefaultSoon = 5 * time.Minute

// Settlement is what Settle made of a Signal.
type Settlement struct {
	Outcome survey.DialOutcome
	// Code is the AAPOR disposition the attempt records: Outcome.Code(),
	// "" when the call connected (the interview decides) or was cancelled
	// (no result).
	Code  survey.DispositionCode
	Retry RetryClass
	// TrunkFault: the failure says our trunk or account is wrong
	// (credentials, payment), not the number; the runner alerts.
	TrunkFault bool
	// Rule names the row that decided ("SIP 486", "Q.850 17", "Dial
	// BUSY", "AMD machine", "ring timeout", "unknown"), for the attempt's
	// record and the logs.
	Rule string
	// Unknown names the inputs the table does not know ("SIP 499, Q.850
	// 99"); "" when it knew them all. The caller logs it. When nothing
	// known decided, the attempt is a technical problem retried after its
	// normal delay, never a final code.
	Unknown string
}

// Delay is how long the number waits after s before it may be called
// again: soon (DefaultSoon when 0) for RetrySoon, the campaign's retry
// seconds for the code (retrySeconds, as survey.CampaignSettings holds
// them) or the catalog's delay for RetryNormal. ok is false when the
// network does not decide: the number is never called again (RetryNever),
// or the wrap-up decides (RetryWrapUp).
func (s Settlement) Delay(retrySeconds map[survey.DispositionCode]int64, soon time.Duration) (time.Duration, bool) {
	switch s.Retry {
	case RetrySoon:
		if soon <= 0 {
			soon = DefaultSoon
		}
		return soon, true
	case RetryNormal:
		if sec, ok := retrySeconds[s.Code]; ok {
			return time.Duration(sec) * time.Second, true
		}
		if d, ok := survey.LookupDisposition(s.Code); ok {
			return d.RetryAfter, true
		}
		return DefaultSoon, true // unreachable: every normal row has a catalog code
	}
	return 0, false
}

// Source is the kind of input a cause row reads.
type Source string

// Sources, in the order Settle consults them.
const (
	SourceAnswer Source = "answer" // the call was answered: fax tone, AMD
	SourceDialer Source = "dialer" // we hung up: ring timeout, cancel
	SourceQ850   Source = "Q.850"
	SourceSIP    Source = "SIP"
	SourceDial   Source = "Dial" // Asterisk's Dial status
	SourceNone   Source = "none" // nothing came back
)

// Cause is one row of the cause table.
type Cause struct {
	Source Source
	// Value is the status, cause or condition: "486", "17", "BUSY",
	// "AMD machine", "ring timeout".
	Value   string
	Meaning string
	Outcome survey.DialOutcome
	Retry   RetryClass
	// TrunkFault: see Settlement.
	TrunkFault bool
}

// causes is the table. Within a source the first matching row wins. The
// Q.850 causes 16, 31 and 127 say nothing specific and are consulted only
// after the SIP status (generic).
var causes = []Cause{
	{SourceAnswer, "fax tone", "a fax or modem tone on the answered call", survey.DialFax, RetryNever, false},
	{SourceAnswer, "AMD machine", "an answering machine", survey.DialAnsweringMachine, RetryNormal, false},
	{SourceAnswer, "person", "AMD human or notsure, or no AMD", survey.DialAnswered, RetryWrapUp, false},

	{SourceDialer, "ring timeout", "rang for the whole ring timeout; we hung up", survey.DialNoAnswer, RetryNormal, false},
	{SourceDialer, "cancelled", "we hung up before an answer (pause, shutdown)", survey.DialCancelled, RetrySoon, false},

	{SourceQ850, "1", "unallocated (unassigned) number", survey.DialNotWorking, RetryNever, false},
	{SourceQ850, "2", "no route to the transit network", survey.DialTechnical, RetryNormal, false},
	{SourceQ850, "3", "no route to destination", survey.DialTechnical, RetryNormal, false},
	{SourceQ850, "6", "channel unacceptable", survey.DialTechnical, RetrySoon, false},
	{SourceQ850, "17", "user busy", survey.DialBusy, RetryNormal, false},
	{SourceQ850, "18", "no user responding", survey.DialNoAnswer, RetryNormal, false},
	{SourceQ850, "19", "no answer from user (alerted)", survey.DialNoAnswer, RetryNormal, false},
	{SourceQ850, "20", "subscriber absent", survey.DialTechnical, RetryNormal, false},
	{SourceQ850, "21", "call rejected", survey.DialRejected, RetryNormal, false},
	{SourceQ850, "22", "number changed", survey.DialNotWorking, RetryNever, false},
	{SourceQ850, "26", "non-selected user clearing", survey.DialTechnical, RetryNormal, false},
	{SourceQ850, "27", "destination out of order", survey.DialTechnical, RetryNormal, false},
	{SourceQ850, "28", "invalid number format (incomplete number)", survey.DialNotWorking, RetryNever, false},
	{SourceQ850, "29", "facility rejected", survey.DialTechnical, RetryNormal, false},
	{SourceQ850, "34", "no circuit/channel available", survey.DialTechnical, RetrySoon, false},
	{SourceQ850, "38", "network out of order", survey.DialTechnical, RetrySoon, false},
	{SourceQ850, "41", "temporary failure", survey.DialTechnical, RetrySoon, false},
	{SourceQ850, "42", "switching equipment congestion", survey.DialTechnical, RetrySoon, false},
	{SourceQ850, "44", "requested circuit/channel not available", survey.DialTechnical, RetrySoon, false},
	{SourceQ850, "47", "resource unavailable, unspecified", survey.DialTechnical, RetrySoon, false},
	{SourceQ850, "58", "bearer capability not presently available", survey.DialTechnical, RetrySoon, false},
	{SourceQ850, "102", "recovery on timer expiry", survey.DialTechnical, RetrySoon, false},

	{SourceSIP, "2xx", "answered, but the answer was unusable (no media)", survey.DialTechnical, RetrySoon, false},
	{SourceSIP, "3xx", "redirected (not followed)", survey.DialTechnical, RetryNormal, false},
	{SourceSIP, "401", "unauthorized: the trunk's credentials", survey.DialTechnical, RetryNormal, true},
	{SourceSIP, "402", "payment required: the trunk's account", survey.DialTechnical, RetryNormal, true},
	{SourceSIP, "403", "forbidden: the trunk refuses the call", survey.DialTechnical, RetryNormal, true},
	{SourceSIP, "404", "not found", survey.DialNotWorking, RetryNever, false},
	{SourceSIP, "407", "proxy authentication required: the trunk's credentials", survey.DialTechnical, RetryNormal, true},
	{SourceSIP, "408", "request timeout (no answer)", survey.DialNoAnswer, RetryNormal, false},
	{SourceSIP, "410", "gone", survey.DialNotWorking, RetryNever, false},
	{SourceSIP, "480", "temporarily unavailable", survey.DialNoAnswer, RetryNormal, false},
	{SourceSIP, "484", "address incomplete", survey.DialNotWorking, RetryNever, false},
	{SourceSIP, "486", "busy here", survey.DialBusy, RetryNormal, false},
	{SourceSIP, "487", "request terminated (the ring ended)", survey.DialNoAnswer, RetryNormal, false},
	{SourceSIP, "488", "not acceptable here (media)", survey.DialTechnical, RetryNormal, false},
	{SourceSIP, "500", "server internal error", survey.DialTechnical, RetrySoon, false},
	{SourceSIP, "502", "bad gateway", survey.DialTechnical, RetrySoon, false},
	{SourceSIP, "503", "service unavailable", survey.DialTechnical, RetrySoon, false},
	{SourceSIP, "504", "server time-out", survey.DialTechnical, RetrySoon, false},
	{SourceSIP, "600", "busy everywhere", survey.DialBusy, RetryNormal, false},
	{SourceSIP, "603", "decline", survey.DialRejected, RetryNormal, false},
	{SourceSIP, "604", "does not exist anywhere", survey.DialNotWorking, RetryNever, false},
	{SourceSIP, "606", "not acceptable (media)", survey.DialTechnical, RetryNormal, false},

	{SourceQ850, "16", "normal call clearing (generic)", survey.DialTechnical, RetryNormal, false},
	{SourceQ850, "31", "normal, unspecified (generic)", survey.DialTechnical, RetryNormal, false},
	{SourceQ850, "127", "interworking, unspecified (generic)", survey.DialTechnical, RetryNormal, false},

	{SourceDial, "BUSY", "Asterisk: busy", survey.DialBusy, RetryNormal, false},
	{SourceDial, "NOANSWER", "Asterisk: no answer", survey.DialNoAnswer, RetryNormal, false},
	{SourceDial, "CONGESTION", "Asterisk: congestion", survey.DialTechnical, RetrySoon, false},
	{SourceDial, "CHANUNAVAIL", "Asterisk: channel unavailable", survey.DialTechnical, RetrySoon, false},
	{SourceDial, "CANCEL", "Asterisk: cancelled", survey.DialTechnical, RetrySoon, false},

	{SourceNone, "no response", "no response, cause or status at all", survey.DialTechnical, RetrySoon, false},
	{SourceNone, "node lost", "the node placing the call went silent (killed); another node settled it", survey.DialTechnical, RetrySoon, false},
}

// unknownCause is what an attempt nothing known decided settles as: a
// technical problem, retried after its normal delay, never final.
var unknownCause = Cause{Source: SourceNone, Value: "unknown", Meaning: "nothing the table knows", Outcome: survey.DialTechnical, Retry: RetryNormal}

// generic are the Q.850 causes that say nothing specific.
func generic(q850 int) bool { return q850 == 16 || q850 == 31 || q850 == 127 }

// Causes returns the cause table, in the order Settle consults it, for
// documentation and the console. The slice is new on every call.
func Causes() []Cause { return append([]Cause(nil), causes...) }

// row finds the row of source with value v.
func row(src Source, v string) (Cause, bool) {
	for _, c := range causes {
		if c.Source == src && c.Value == v {
			return c, true
		}
	}
	return Cause{}, false
}

// sipRow finds the row of a final SIP status, by code and then by class
// (2xx, 3xx).
func sipRow(status int) (Cause, bool) {
	if c, ok := row(SourceSIP, fmt.Sprint(status)); ok {
		return c, true
	}
	if status >= 200 && status < 400 {
		return row(SourceSIP, fmt.Sprintf("%dxx", status/100))
	}
	return Cause{}, false
}

// Settle settles one dial attempt from what the network said, consulting
// the table in this order:
//
//  1. an answered call: a fax tone makes it a fax line, an AMD machine
//     verdict an answering machine; otherwise a person (AMD human or
//     notsure, or no AMD) is on the line and the interview decides;
//  2. our own hang-up: after the whole ring timeout it is no answer; for
//     another reason it is cancelled, with no result;
//  3. a specific Q.850 cause: the originating network's own account,
//     carried in the Reason header, is more precise than the SIP status
//     a gateway translated it into (RFC 3398 maps cause 21, call
//     rejected, to 403);
//  4. the final SIP status;
//  5. a generic Q.850 cause (16, 31, 127);
//  6. Asterisk's Dial status;
//  7. nothing at all: a technical problem, retried soon.
//
// Anything else is unknown: a technical problem (3.16) retried after its
// normal delay, with Unknown naming what was not recognised.
func Settle(sig Signal) Settlement {
	var unknown []string
	note := func(what string) { unknown = append(unknown, what) }
	if sig.Answered {
		var c Cause
		switch {
		case sig.Fax:
			c, _ = row(SourceAnswer, "fax tone")
		case sig.AMD == AMDMachine:
			c, _ = row(SourceAnswer, "AMD machine")
		default:
			if sig.AMD != "" && sig.AMD != AMDHuman && sig.AMD != AMDNotSure {
				note("AMD " + clip(string(sig.AMD)))
			}
			c, _ = row(SourceAnswer, "person")
		}
		return settled(c, unknown)
	}
	if sig.RingTimeout {
		c, _ := row(SourceDialer, "ring timeout")
		return settled(c, nil)
	}
	if sig.Cancelled {
		c, _ := row(SourceDialer, "cancelled")
		return settled(c, nil)
	}
	if sig.NodeLost {
		c, _ := row(SourceNone, "node lost")
		return settled(c, nil)
	}

	var (
		q850, q850ok = row(SourceQ850, fmt.Sprint(sig.Q850))
		sip, sipok   = sipRow(sig.SIPStatus)
		dial, dialok = row(SourceDial, strings.ToUpper(sig.DialStatus))
	)
	if sig.Q850 != 0 && !q850ok {
		note(fmt.Sprintf("Q.850 %d", sig.Q850))
	}
	if sig.SIPStatus != 0 && !sipok {
		note(fmt.Sprintf("SIP %d", sig.SIPStatus))
	}
	if sig.DialStatus != "" && !dialok {
		note("Dial " + clip(sig.DialStatus))
	}
	switch {
	case q850ok && !generic(sig.Q850):
		return settled(q850, unknown)
	case sipok:
		return settled(sip, unknown)
	case q850ok:
		return settled(q850, unknown)
	case dialok:
		return settled(dial, unknown)
	case len(unknown) == 0:
		c, _ := row(SourceNone, "no response")
		return settled(c, nil)
	}
	return settled(unknownCause, unknown)
}

// settled turns the deciding row into a Settlement.
func settled(c Cause, unknown []string) Settlement {
	code, _ := c.Outcome.Code()
	rule := c.Value
	switch c.Source {
	case SourceQ850, SourceSIP, SourceDial:
		rule = string(c.Source) + " " + c.Value
	}
	return Settlement{
		Outcome:    c.Outcome,
		Code:       code,
		Retry:      c.Retry,
		TrunkFault: c.TrunkFault,
		Rule:       rule,
		Unknown:    strings.Join(unknown, ", "),
	}
}

// clip keeps an echoed input short and printable for a log line.
func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return survey.Clip(s, 24)
}
