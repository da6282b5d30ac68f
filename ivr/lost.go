package ivr

// This file closes the interviews a dead process left open. A keypad
// interview lives no longer than its call, and a call no longer than
// Options.MaxCallDuration, so one still in progress well past that was held
// by a process that died without closing it (kill -9, power loss, the OOM
// killer). Its answers are all stored, each committed as it was given; only
// its end is missing, and without one it counts in no report and no AAPOR
// rate. CloseLost gives it the end the engine would have given at a hangup:
// complete, partial or break-off by the questionnaire's thresholds, cause
// "lost". Any node may run it: FinishInterview's compare-and-set lets
// several run at once, and a live call's interview is never that old. An
// interview this process could not close because the database was away is
// not lost: it keeps its own cause (unclosed.go).

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/canvass/canvass/survey"
)

// Interviews lists stored interviews; the database satisfies it.
type Interviews interface {
	Interviews(ctx context.Context, f survey.InterviewFilter) ([]survey.InterviewRecord, error)
}

// CauseLost is the end cause of an interview closed by CloseLost.
const CauseLost = "lost"

// LostAfter is how long after it started a keypad interview still in
// progress is taken as lost: the longest call, plus time for ringing and
// for clocks that disagree between nodes.
func (o Options) LostAfter() time.Duration { return o.MaxCallDuration + 5*time.Minute }

// lostPage is how many lost interviews CloseLost loads at a time.
const lostPage = 100

// CloseLost closes every keypad interview still in progress that started
// more than Options.LostAfter ago, or whose node has been silent for
// Options.NodeTimeout (node.go), and returns how many it closed. One
// interview that cannot be closed does not hold up the others: it is
// logged, skipped, and its error returned at the end (it will be tried
// again next round).
func (e *Engine) CloseLost(ctx context.Context, list Interviews) (int, error) {
	f := survey.InterviewFilter{Status: survey.StatusInProgress, Mode: survey.ModeIVR,
		To: e.now().Add(-e.opts.LostAfter()), Limit: lostPage, WithAnswers: true, Unheld: true}
	closed, err := e.closeLostBy(ctx, list, f)
	if err != nil || !e.node.steady(e.now(), e.opts.NodeTimeout) {
		return closed, err
	}
	// Only a node whose own heartbeat has gone through for a whole
	// NodeTimeout judges the others by theirs: after the database was
	// away, every node's heartbeat is stale until it beats again.
	f.To, f.NodeSilentFor = time.Time{}, e.opts.NodeTimeout
	n, err := e.closeLostBy(ctx, list, f)
	return closed + n, err
}

// closeLostBy closes the interviews f selects.
func (e *Engine) closeLostBy(ctx context.Context, list Interviews, f survey.InterviewFilter) (int, error) {
	closed := 0
	var errs []error
	for {
		page, err := list.Interviews(ctx, f)
		if err != nil {
			return closed, errors.Join(append(errs, fmt.Errorf("list lost interviews: %w", err))...)
		}
		for _, r := range page {
			ok, err := e.closeLost(ctx, r)
			switch {
			case ctx.Err() != nil:
				return closed, errors.Join(append(errs, ctx.Err())...)
			case err != nil:
				e.log.Error("cannot close a lost interview; trying the others", "interview_id", r.ID, "err", err)
				errs = append(errs, err)
			case ok:
				closed++
			}
		}
		if len(page) < f.Limit {
			return closed, errors.Join(errs...)
		}
		f.AfterID = page[len(page)-1].ID
	}
}

// closeLost ends one lost interview; false if another node ended it first.
func (e *Engine) closeLost(ctx context.Context, r survey.InterviewRecord) (bool, error) {
	log := e.log.With("interview_id", r.ID, "questionnaire", r.Questionnaire, "version", r.Version, "started_at", r.StartedAt)
	status, last := survey.StatusBreakoff, r.LastQuestion
	v, err := e.questionnaires.Questionnaire(ctx, r.Questionnaire, r.Version)
	if err != nil {
		return false, fmt.Errorf("lost interview %d: questionnaire %s version %d: %w", r.ID, r.Questionnaire, r.Version, err)
	}
	q, err := e.parsed.Get(v)
	var iv *survey.Interview
	if err == nil {
		if iv, err = q.Resume(r.Language, r.Contact, r.Answers, e.now); err == nil {
			iv.SetContext(r.Context)
			status = iv.Outcome()
			if qq := iv.Current(); qq != nil {
				last = qq.ID
			}
		}
	}
	if err != nil {
		// Its answers stay as they are; only the status is a guess.
		log.Warn("lost interview cannot be replayed; closing it as a break-off", "err", err)
	}
	// An interview this process could not close when its call ended (the
	// database was away) keeps the cause of its end.
	cause := CauseLost
	pending, unclosed := e.unclosed.get(r.ID)
	if unclosed {
		cause = pending.cause
	}
	var finish error
	if iv != nil && err == nil {
		finish = e.finishInterview(ctx, r.ID, iv, status, cause, last) // with its end-time alerts
	} else {
		finish = e.store.FinishInterview(ctx, r.ID, status, cause, last)
	}
	if err := finish; err != nil {
		if survey.ErrorCodeOf(err) == survey.EConflict {
			return false, nil
		}
		return false, fmt.Errorf("close lost interview %d: %w", r.ID, err)
	}
	if unclosed {
		e.unclosed.remove(r.ID)
		log.Warn("closed an interview whose end the database could not take when its call ended",
			"status", status, "cause", cause, "last_question", last, "answers", len(r.Answers))
		return true, nil
	}
	log.Warn("closed an interview left open by a process that stopped mid-call",
		"status", status, "last_question", last, "answers", len(r.Answers))
	return true, nil
}

// CloseLostEvery runs CloseLost now and then every interval until ctx ends.
// A failed round is logged and tried again at the next.
func (e *Engine) CloseLostEvery(ctx context.Context, list Interviews, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := e.CloseLost(ctx, list); err != nil && ctx.Err() == nil {
			e.log.Error("closing lost interviews", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
