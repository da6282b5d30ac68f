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
	err := db.tx(ctx, func(tx pgx.Tx) error {
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
	})
	if err != nil {
		return fmt.Errorf("save answer %s of interview %d with alerts: %w", a.Question, id, err)
	}
	return nil
}

// FinishInterviewAlerts is FinishInterview raising the end-time alerts in
// the same transaction.
func (db *DB) FinishInterviewAlerts(ctx context.Context, id survey.InterviewID, to survey.Status, cause, lastQuestion string, alerts []survey.Alert) error {
	if len(alerts) == 0 {
		return db.FinishInterview(ctx, id, to, cause, lastQuestion)
	}
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := finishInterview(ctx, tx, id, to, cause, lastQuestion); err != nil {
			return err
		}
		return raiseAlerts(ctx, tx, id, alerts, time.Now())
	})
	if err != nil {
		return fmt.Errorf("finish interview %d as %s with alerts: %w", id, to, err)
	}
	return nil
}
