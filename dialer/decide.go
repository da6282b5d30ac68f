package dialer

// This file is what becomes of a case after one of the runner's calls:
// Decide turns the settled signal and how the keypad survey ended into the
// case's survey.Outcome, which the store applies in the transaction that
// records the call. The rules:
//
//   - a complete interview closes the case as 1.1;
//   - a respondent who hung up before the end, with attempts left and the
//     interview kept in progress, is called back after the campaign's
//     retry delay for 2.12 (DefaultResumeAfter when it sets none), and the
//     interview resumes where it stopped; on the last attempt the
//     interview has ended already, as partial or break-off, and so does
//     the case;
//   - an abandoned call (a person answered a predictive call and no
//     interviewer was free) is not the respondent's doing: no code, and
//     the number rests 72 h;
//   - a call nobody answered, or a machine, follows the cause table: a
//     number that is not one (RetryNever) goes on with the contact's next
//     number at once, or closes the case when it has none; any other is
//     tried again after its delay until the attempts run out, and then the
//     case closes with the best disposition its attempts reached
//     (survey.FinalDisposition); a cancelled call (shutdown, the campaign
//     paused) is due again at once.

import (
	"slices"
	"time"

	"github.com/canvass/canvass/survey"
)

// Decide is the outcome of case c (loaded with its history, this attempt
// counted and not yet settled) after a keypad call that went as r; soon is
// the delay of a RetrySoon (DefaultSoon when 0).
func Decide(c survey.Case, camp survey.Campaign, r Result, soon time.Duration, now time.Time) (survey.Outcome, error) {
	st, err := camp.DecodeSettings()
	if err != nil {
		return survey.Outcome{}, err
	}
	s := Settle(r.Signal)
	last := c.Attempts >= c.MaxAttempts
	closeWith := func(code survey.DispositionCode, v survey.Status) survey.Outcome {
		code, codes := survey.ClosingCodes(c.History, v, code)
		codes = slices.DeleteFunc(codes, func(c survey.DispositionCode) bool { return c == "" })
		return survey.Outcome{AttemptCode: code, Status: survey.CaseClosed, FinalCode: survey.FinalDisposition(codes, true)}
	}
	reopen := func(code survey.DispositionCode, after time.Duration) survey.Outcome {
		return survey.Outcome{AttemptCode: code, Status: survey.CaseOpen, NextAttemptAt: now.Add(after)}
	}
	if r.Facts.Abandoned {
		// A person answered and nobody was free: not their doing. The
		// number rests 72 h (MayRedial), then the case goes on.
		if last {
			return closeWith("", ""), nil
		}
		return reopen("", RedialAfterAbandon), nil
	}
	if s.Retry == RetryWrapUp {
		switch r.Status {
		case survey.StatusComplete:
			return closeWith(survey.CodeComplete, survey.StatusComplete), nil
		case survey.StatusInProgress:
			if !last {
				after := survey.DefaultResumeAfter
				if sec, ok := st.RetrySeconds[survey.CodeBreakoff]; ok {
					after = time.Duration(sec) * time.Second
				}
				return reopen(survey.CodeBreakoff, after), nil
			}
			// The engine keeps no interview on a last attempt; one kept
			// anyway ends with the case.
			o := closeWith(survey.CodeBreakoff, survey.StatusBreakoff)
			o.FinishInterview = survey.StatusBreakoff
			return o, nil
		case survey.StatusPartial:
			return closeWith(survey.CodePartial, survey.StatusPartial), nil
		case survey.StatusBreakoff:
			return closeWith(survey.CodeBreakoff, survey.StatusBreakoff), nil
		}
		// Answered, but no interview ran (no audio came, or the line
		// dropped in the language menu): try again like a technical fault.
		s = Settle(Signal{})
	}
	if s.Outcome == survey.DialCancelled {
		if last {
			return closeWith("", ""), nil
		}
		return reopen("", 0), nil
	}
	delay, ok := s.Delay(st.RetrySeconds, soon)
	if next, more := c.NumberAfter(s.Code); more && !ok {
		o := reopen(s.Code, 0)
		o.NextNumber = next.Phone
		return o, nil
	}
	if !ok || last {
		return closeWith(s.Code, ""), nil
	}
	return reopen(s.Code, delay), nil
}
