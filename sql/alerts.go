package sql

// Alerts (survey/alerts.go): raised with the answer or the end that
// triggers them, in its transaction, at most once per interview and rule;
// each raise is an "alert.raised" event, which the live feed and the
// webhooks carry.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/survey"
)

const sqlRaiseAlert = `
INSERT INTO alert (interview_id, rule_id, severity, owner, question_id, raised_at, due_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (interview_id, rule_id) DO NOTHING
RETURNING id`

// sqlAlertFacts is what an alert's event says of its interview.
const sqlAlertFacts = `
SELECT i.questionnaire_id, coalesce(i.case_id, 0), coalesce(sc.campaign_id, 0), i.context
FROM interview i LEFT JOIN survey_case sc ON sc.id = i.case_id WHERE i.id = $1`

// raiseAlerts raises alerts of interview id at now, each once: a rule
// already raised for the interview is left as it is.
func raiseAlerts(ctx context.Context, tx DBTX, id survey.InterviewID, alerts []survey.Alert, now time.Time) error {
	var (
		questionnaire string
		caseID        survey.CaseID
		campaign      survey.CampaignID
		ictx          json.RawMessage
		loaded        bool
	)
	for _, a := range alerts {
		var alertID int64
		err := tx.QueryRow(ctx, sqlRaiseAlert, id, a.Rule, a.Severity, a.Owner, a.Question, now, now.Add(a.Due)).Scan(&alertID)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // raised before
		}
		if err != nil {
			return fmt.Errorf("raise alert %s: %w", a.Rule, err)
		}
		if !loaded {
			if err := tx.QueryRow(ctx, sqlAlertFacts, id).Scan(&questionnaire, &caseID, &campaign, &ictx); err != nil {
				return err
			}
			loaded = true
		}
		payload, err := json.Marshal(map[string]any{"alert_id": alertID, "rule": a.Rule, "severity": a.Severity, "owner": a.Owner,
			"question": a.Question, "questionnaire": questionnaire, "due_at": now.Add(a.Due).UTC(), "context": ictx})
		if err != nil {
			return err
		}
		if _, err := WriteEvent(ctx, tx, survey.Event{At: now, Kind: "alert.raised", CampaignID: campaign, InterviewID: id,
			CaseID: caseID, Payload: payload}); err != nil {
			return err
		}
	}
	return nil
}

// SaveAnswerAlerts is SaveAnswer raising alerts in the same transaction:
// the answer that triggers them and they commit together, or neither.
func (db *DB) SaveAnswerAlerts(ctx context.Context, id survey.InterviewID, a survey.Answer, alerts []survey.Alert, cleared ...string) error {
	if len(alerts) == 0 {
		return db.SaveAnswer(ctx, id, a, cleared...)
	}
	err := db.retryIdempotent(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return saveAnswerAlerts(ctx, tx, id, a, alerts, cleared) })
	})
	if err != nil {
		return fmt.Errorf("save answer %s of interview %d with alerts: %w", a.Question, id, err)
	}
	return nil
}

// saveAnswerAlerts is idempotent, as SaveAnswer: the answer is an upsert
// and each alert is raised once.
func saveAnswerAlerts(ctx context.Context, tx pgx.Tx, id survey.InterviewID, a survey.Answer, alerts []survey.Alert, cleared []string) error {
	if err := saveAnswer(ctx, tx, id, a); err != nil {
		return err
	}
	if len(cleared) > 0 {
		if err := clearAnswers(ctx, tx, id, cleared); err != nil {
			return err
		}
	}
	at := a.AnsweredAt
	if at.IsZero() {
		at = time.Now()
	}
	return raiseAlerts(ctx, tx, id, alerts, at)
}

// FinishInterviewAlerts is FinishInterview raising the end-time alerts in
// the same transaction.
func (db *DB) FinishInterviewAlerts(ctx context.Context, id survey.InterviewID, to survey.Status, cause, lastQuestion string, alerts []survey.Alert) error {
	if len(alerts) == 0 {
		return db.FinishInterview(ctx, id, to, cause, lastQuestion)
	}
	err := db.finishOnce(ctx, id, to, cause, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			if err := finishInterview(ctx, tx, id, to, cause, lastQuestion); err != nil {
				return err
			}
			return raiseAlerts(ctx, tx, id, alerts, time.Now())
		})
	})
	if err != nil {
		return fmt.Errorf("finish interview %d as %s with alerts: %w", id, to, err)
	}
	return nil
}

const sqlAlertCols = `
SELECT a.id, a.interview_id, i.questionnaire_id, a.rule_id, a.severity, a.owner, a.question_id, a.status,
       coalesce(u.name, ''), a.raised_at, a.due_at, a.first_action_at, a.closed_at, a.root_cause, coalesce(a.outcome, ''),
       coalesce(a.recovery_case_id, 0), i.context,
       coalesce(ct.phone_e164, i.context->>'caller_number', ''),
       coalesce((SELECT jsonb_object_agg(an.question_id, an.value) FROM answer an WHERE an.interview_id = i.id), '{}'::jsonb)
FROM alert a
JOIN interview i ON i.id = a.interview_id
LEFT JOIN survey_case sc ON sc.id = i.case_id
LEFT JOIN contact ct ON ct.id = sc.contact_id
LEFT JOIN app_user u ON u.id = a.assignee_id`

func scanAlert(row pgx.Row) (survey.AlertCase, error) {
	var a survey.AlertCase
	err := row.Scan(&a.ID, &a.Interview, &a.Questionnaire, &a.Rule, &a.Severity, &a.Owner, &a.Question, &a.Status, &a.Assignee,
		&a.RaisedAt, &a.DueAt, &a.FirstAction, &a.ClosedAt, &a.RootCause, &a.Outcome, &a.RecoveryCase, &a.Context, &a.Phone, &a.Answers)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, survey.NotFound
	}
	return a, err
}

// Alerts lists alerts for the inbox, most urgent first: the open and
// working ones by due time (or the filter's), newest first when closed.
func (db *DB) Alerts(ctx context.Context, f survey.AlertFilter) ([]survey.AlertCase, error) {
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 200
	}
	var out []survey.AlertCase
	err := db.retry(ctx, func() error {
		rows, err := db.pool.Query(ctx, sqlAlertCols+`
WHERE CASE $1 WHEN '' THEN a.status <> 'closed' WHEN 'all' THEN true ELSE a.status = $1 END
  AND ($2 = '' OR a.owner = $2) AND ($3 = '' OR a.severity = $3)
  AND ($5 = '' OR (i.context ? 'customer_id' AND i.context->>'customer_id' = $5))
ORDER BY (a.status = 'closed'), CASE WHEN a.status = 'closed' THEN -extract(epoch FROM a.closed_at) ELSE extract(epoch FROM a.due_at) END, a.id
LIMIT $4`, f.Status, f.Owner, f.Severity, limit, f.Customer)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (survey.AlertCase, error) { return scanAlert(row) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out, nil
}

// Alert is one alert with its history and the respondent's later surveys
// (by customer id, else by number): whether recovery worked.
func (db *DB) Alert(ctx context.Context, id survey.AlertID) (survey.AlertCase, error) {
	var a survey.AlertCase
	err := db.retry(ctx, func() error {
		var err error
		if a, err = scanAlert(db.pool.QueryRow(ctx, sqlAlertCols+` WHERE a.id = $1`, id)); err != nil {
			return err
		}
		rows, err := db.pool.Query(ctx, `SELECT n.at, coalesce(u.name, ''), n.kind, n.text FROM alert_note n
LEFT JOIN app_user u ON u.id = n.user_id WHERE n.alert_id = $1 ORDER BY n.at, n.id`, id)
		if err != nil {
			return err
		}
		if a.Notes, err = pgx.CollectRows(rows, pgx.RowToStructByPos[survey.AlertNote]); err != nil {
			return err
		}
		rows, err = db.pool.Query(ctx, `
SELECT i.id, i.started_at, i.status,
       coalesce((SELECT jsonb_object_agg(an.question_id, an.value) FROM answer an WHERE an.interview_id = i.id), '{}'::jsonb)
FROM interview i
WHERE i.id <> $1 AND i.started_at > (SELECT started_at FROM interview WHERE id = $1)
  AND (($2 <> '' AND i.context->>'customer_id' = $2) OR ($2 = '' AND $3 <> '' AND i.context->>'caller_number' = $3))
ORDER BY i.started_at LIMIT 20`, a.Interview, a.Context.CustomerID, a.Phone)
		if err != nil {
			return err
		}
		a.Later, err = pgx.CollectRows(rows, pgx.RowToStructByPos[survey.LaterInterview])
		return err
	})
	if err != nil {
		return a, fmt.Errorf("alert %d: %w", id, err)
	}
	return a, nil
}

// sqlAlertAct records a step: the note, and the first action's time.
const sqlAlertAct = `
WITH n AS (INSERT INTO alert_note (alert_id, at, user_id, kind, text) VALUES ($1, $2, nullif($3, 0), $4, $5))
UPDATE alert SET first_action_at = coalesce(first_action_at, $2),
                 status = CASE WHEN status = 'open' THEN 'working' ELSE status END
WHERE id = $1 AND status <> 'closed'`

// alertStep records a step on alert id by user at now, in tx; a closed
// alert takes none (survey.Conflict).
func alertStep(ctx context.Context, tx pgx.Tx, id survey.AlertID, user survey.UserID, kind, text string, now time.Time) error {
	tag, err := tx.Exec(ctx, sqlAlertAct, id, now, user, kind, text)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM alert WHERE id = $1`, id).Scan(&status); errors.Is(err, pgx.ErrNoRows) {
			return survey.NotFound
		}
		return survey.Errorf(survey.EConflict, "alert %d is closed", id)
	}
	return nil
}

// AssignAlert gives alert id to user to (by acting), noting it.
func (db *DB) AssignAlert(ctx context.Context, id survey.AlertID, by, to survey.UserID, toName string, now time.Time) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		if err := alertStep(ctx, tx, id, by, "assigned", "to "+toName, now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE alert SET assignee_id = $2 WHERE id = $1`, id, to)
		return err
	})
}

// NoteAlert adds a note to alert id.
func (db *DB) NoteAlert(ctx context.Context, id survey.AlertID, by survey.UserID, text string, now time.Time) error {
	return db.tx(ctx, func(tx pgx.Tx) error { return alertStep(ctx, tx, id, by, "note", text, now) })
}

// CloseAlert closes alert id with its root cause and outcome, and an
// "alert.closed" event (the webhooks'), in one transaction.
func (db *DB) CloseAlert(ctx context.Context, id survey.AlertID, by survey.UserID, rootCause, outcome string, now time.Time) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		if err := alertStep(ctx, tx, id, by, "closed", outcome+": "+rootCause, now); err != nil {
			return err
		}
		var (
			interview survey.InterviewID
			caseID    survey.CaseID
			campaign  survey.CampaignID
			payload   json.RawMessage
		)
		err := tx.QueryRow(ctx, `
UPDATE alert a SET status = 'closed', closed_at = $2, root_cause = $3, outcome = $4
FROM interview i LEFT JOIN survey_case sc ON sc.id = i.case_id
WHERE a.id = $1 AND i.id = a.interview_id
RETURNING a.interview_id, coalesce(i.case_id, 0), coalesce(sc.campaign_id, 0),
          jsonb_build_object('alert_id', a.id, 'rule', a.rule_id, 'severity', a.severity, 'owner', a.owner,
              'root_cause', a.root_cause, 'outcome', a.outcome, 'raised_at', a.raised_at, 'closed_at', a.closed_at,
              'first_action_at', a.first_action_at, 'context', i.context)`, id, now, rootCause, outcome).
			Scan(&interview, &caseID, &campaign, &payload)
		if err != nil {
			return err
		}
		_, err = WriteEvent(ctx, tx, survey.Event{At: now, Kind: "alert.closed", CampaignID: campaign, InterviewID: interview, CaseID: caseID, Payload: payload})
		return err
	})
}

// RecoverAlert opens a call back for alert id: a case in recovery campaign
// (a running CATI campaign, by name) to the respondent's number, due now
// and first in line, whose context names the alert and the interview so
// the interviewer has them on screen.
func (db *DB) RecoverAlert(ctx context.Context, id survey.AlertID, by survey.UserID, campaign string, now time.Time) (survey.CaseID, error) {
	var caseID survey.CaseID
	err := db.tx(ctx, func(tx pgx.Tx) error {
		a, err := scanAlert(tx.QueryRow(ctx, sqlAlertCols+` WHERE a.id = $1 FOR UPDATE OF a`, id))
		if err != nil {
			return err
		}
		if a.RecoveryCase != 0 {
			return survey.Errorf(survey.EConflict, "alert %d already has its call back: case %d", id, a.RecoveryCase)
		}
		if a.Phone == "" || a.Phone[0] != '+' {
			return survey.Errorf(survey.EInvalid, "alert %d: the respondent's number is not known", id)
		}
		var camp survey.CampaignID
		err = tx.QueryRow(ctx, `SELECT id FROM campaign WHERE name = $1 AND mode = 'cati' AND status = 'running'`, campaign).Scan(&camp)
		if errors.Is(err, pgx.ErrNoRows) {
			return survey.Errorf(survey.EConflict, "alerts.recovery_campaign %q is not a running interviewer campaign: create it (admin → campaigns) and start it", campaign)
		}
		if err != nil {
			return err
		}
		c := a.Context
		if c.Extra == nil {
			c.Extra = map[string]string{}
		}
		c.Extra["alert_id"] = fmt.Sprint(id)
		c.Extra["original_interview"] = fmt.Sprint(a.Interview)
		ictx, err := json.Marshal(c)
		if err != nil {
			return err
		}
		var contact int64
		if err := tx.QueryRow(ctx, `INSERT INTO contact (phone_e164, attrs) VALUES ($1, '{}') RETURNING id`, a.Phone).Scan(&contact); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO survey_case (campaign_id, contact_id, next_attempt_at, priority, context) VALUES ($1, $2, $3, 100, $4) RETURNING id`,
			camp, contact, now, ictx).Scan(&caseID); err != nil {
			return err
		}
		if err := alertStep(ctx, tx, id, by, "callback", fmt.Sprintf("case %d in %s", caseID, campaign), now); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE alert SET recovery_case_id = $2 WHERE id = $1`, id, caseID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("call back for alert %d: %w", id, err)
	}
	return caseID, nil
}

// AlertStats measures the alerts raised since since.
func (db *DB) AlertStats(ctx context.Context, since, now time.Time) (survey.AlertStats, error) {
	var (
		st             survey.AlertStats
		first, toClose float64
	)
	err := db.retry(ctx, func() error {
		return db.pool.QueryRow(ctx, `
SELECT count(*), count(*) FILTER (WHERE status = 'closed'), count(*) FILTER (WHERE outcome = 'recovered'),
       count(*) FILTER (WHERE status <> 'closed' AND due_at < $2),
       coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_action_at - raised_at)), 0),
       coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - raised_at)), 0)
FROM alert WHERE raised_at >= $1`, since, now).Scan(&st.Raised, &st.Closed, &st.Recovered, &st.Overdue, &first, &toClose)
	})
	if err != nil {
		return st, fmt.Errorf("alert statistics: %w", err)
	}
	st.FirstAction, st.ToClose = time.Duration(first*float64(time.Second)), time.Duration(toClose*float64(time.Second))
	return st, nil
}

// LastInterviewOf is customer's latest ended interview started before
// before, other than except, with its answers; ok is false when they have
// none.
func (db *DB) LastInterviewOf(ctx context.Context, customer string, before time.Time, except survey.InterviewID) (survey.InterviewRecord, bool, error) {
	var id survey.InterviewID
	err := db.retry(ctx, func() error {
		return db.pool.QueryRow(ctx, `
SELECT id FROM interview
WHERE context ? 'customer_id' AND context->>'customer_id' = $1 AND id <> $3 AND status <> 'in_progress' AND started_at < $2
ORDER BY started_at DESC LIMIT 1`, customer, before, except).Scan(&id)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return survey.InterviewRecord{}, false, nil
	}
	if err != nil {
		return survey.InterviewRecord{}, false, fmt.Errorf("last interview of customer %s: %w", customer, err)
	}
	rec, err := db.Interview(ctx, id)
	return rec, err == nil, err
}

const sqlCustomerInterviews = sqlSelectInterviews + `
WHERE i.context ? 'customer_id' AND i.context->>'customer_id' = $2
ORDER BY i.started_at DESC, i.id DESC
LIMIT $3`

// CustomerInterviews is a customer's (context.customer_id's) latest limit
// interviews with their answers, oldest first: the score history.
func (db *DB) CustomerInterviews(ctx context.Context, customer string, limit int) ([]survey.InterviewRecord, error) {
	rs, err := collect(ctx, db, "interviews of customer "+customer, scanInterview, sqlCustomerInterviews, true, customer, limit)
	slices.Reverse(rs)
	return rs, err
}
