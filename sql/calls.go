package sql

// This file keeps what the network said of a call the console placed on
// the call's attempt: the SIP status and Q.850 cause, ring and talk time,
// and the recording.

import (
	"context"
	"fmt"

	"github.com/canvass/canvass/survey"
)

// sqlRecordCall fills in the call's facts: the network's answer time
// replaces the moment the interviewer confirmed the contact; the end time
// the desk workflow recorded first is kept.
const sqlRecordCall = `
UPDATE attempt SET
    channel     = $2,
    sip_cause   = nullif($3, 0),
    q850_cause  = nullif($4, 0),
    ring_ms     = $5,
    talk_ms     = $6,
    answered_at = coalesce($7, answered_at),
    ended_at    = coalesce(ended_at, $8),
    recording   = CASE WHEN $9 = '' THEN recording ELSE $9 END,
    hung_up_by  = $10,
    end_reason  = left($11, 500),
    amd_result  = nullif($12, ''),
    amd_cause   = left($13, 100),
    amd_ms      = CASE WHEN $12 = '' THEN NULL ELSE $14::int END,
    rule        = left($15, 100),
    abandoned   = abandoned OR $16
WHERE id = $1`

// RecordCall stores f on attempt id; survey.NotFound when there is no such
// attempt.
func (db *DB) RecordCall(ctx context.Context, id survey.AttemptID, f survey.CallFacts) error {
	return db.retry(ctx, func() error { return recordCall(ctx, db.pool, id, f) })
}

// recordCall is RecordCall in the caller's transaction.
func recordCall(ctx context.Context, q DBTX, id survey.AttemptID, f survey.CallFacts) error {
	if f.SIPStatus != 0 && (f.SIPStatus < 100 || f.SIPStatus > 699) {
		f.SIPStatus = 0
	}
	if f.Q850Cause < 0 || f.Q850Cause > 127 {
		f.Q850Cause = 0
	}
	switch f.AMD {
	case "", "human", "machine", "notsure", "hangup":
	default:
		f.AMD = "notsure"
	}
	var answered, ended any
	if !f.AnsweredAt.IsZero() {
		answered = f.AnsweredAt
	}
	if !f.EndedAt.IsZero() {
		ended = f.EndedAt
	}
	tag, err := q.Exec(ctx, sqlRecordCall, id, f.CallID, f.SIPStatus, f.Q850Cause,
		max(f.Ring.Milliseconds(), 0), max(f.Talk.Milliseconds(), 0), answered, ended, f.Recording, f.HungUpBy, f.Reason,
		f.AMD, f.AMDCause, max(f.AMDTime.Milliseconds(), 0), f.Rule, f.Abandoned)
	if err != nil {
		return fmt.Errorf("record the call of attempt %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("record the call of attempt %d: %w", id, survey.NotFound)
	}
	return nil
}
