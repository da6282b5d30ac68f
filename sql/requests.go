package sql

// Survey requests (survey/requests.go): one transaction per request, under
// a lock on its number, checks the do-not-call lists and survey fatigue,
// draws the sample, and either queues a case in a keypad campaign (the
// dialer calls it) or admits a transferred call; every request is kept
// with what was decided.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/survey"
)

const (
	sqlRequestLock     = `SELECT pg_advisory_xact_lock(hashtextextended('survey_request:' || $1, 0))`
	sqlRequestCampaign = `
SELECT id, name, questionnaire_id FROM campaign
WHERE mode = 'ivr' AND status = 'running' AND CASE WHEN $2 <> '' THEN name = $2 ELSE questionnaire_id = $1 END
ORDER BY id LIMIT 1`
	sqlRequestDNC = `
SELECT d.phone_e164, coalesce(d.campaign_id, 0), d.added_at, d.added_by, d.source, d.note
FROM dnc d
WHERE d.phone_e164 = $1 AND (d.campaign_id IS NULL OR d.campaign_id = nullif($2, 0))
  AND (d.expires_at IS NULL OR d.expires_at > $3)
ORDER BY d.campaign_id NULLS FIRST LIMIT 1`
	sqlLastSurveyed = `
SELECT max(created_at) FROM survey_request
WHERE phone = $1 AND decision IN ('queued', 'surveyed') AND created_at > $2`
	sqlRequestContact = `INSERT INTO contact (phone_e164, language, attrs) VALUES ($1, $2, $3) RETURNING id`
	sqlRequestCase    = `
INSERT INTO survey_case (campaign_id, contact_id, next_attempt_at, context) VALUES ($1, $2, $3, $4) RETURNING id`
	sqlInsertRequest = `
INSERT INTO survey_request (source, phone, questionnaire_id, language, context, decision, reason, share, case_id,
                            call_after, requested_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, nullif($9, 0), $10, $11, $12)
RETURNING id`
)

// DecideRequest decides survey request r at now by rules, drawing the
// sample with draw (crypto/rand in production), and keeps the request with
// the decision. An API request that is surveyed is queued as a case of the
// keypad campaign rules name, or of the running keypad campaign of its
// questionnaire (survey.EConflict when there is none); an Asterisk one is
// surveyed at once. Checks run in this order, so that a skip is explained
// by the first rule that applies: do-not-call, fatigue, the draw.
func (db *DB) DecideRequest(ctx context.Context, r survey.SurveyRequest, rules survey.RequestRules, draw func(share float64) bool, now time.Time) (survey.RequestDecision, error) {
	var d survey.RequestDecision
	err := db.tx(ctx, func(tx pgx.Tx) error {
		d = survey.RequestDecision{Share: 1}
		// The number's lock makes the fatigue check and this decision one
		// step; without fatigue there is nothing to serialize, and calls
		// from one number (a switchboard's, a load test's) must not queue.
		if rules.FatigueDays > 0 {
			if _, err := tx.Exec(ctx, sqlRequestLock, r.Phone); err != nil {
				return err
			}
		}
		var campaignName, questionnaire string
		if r.Source == survey.RequestAPI {
			err := tx.QueryRow(ctx, sqlRequestCampaign, r.Questionnaire, rules.Campaign).Scan(&d.Campaign, &campaignName, &questionnaire)
			switch {
			case errors.Is(err, pgx.ErrNoRows) && rules.Campaign != "":
				return survey.Errorf(survey.EConflict, "requests.campaign %q is not a running keypad campaign: start it, or name another", rules.Campaign)
			case errors.Is(err, pgx.ErrNoRows):
				return survey.Errorf(survey.EConflict, "no running keypad campaign asks questionnaire %s: create one (admin → campaigns, the keypad asks) and start it, or set requests.campaign", r.Questionnaire)
			case err != nil:
				return err
			case questionnaire != r.Questionnaire:
				return survey.Errorf(survey.EInvalid, "campaign %s asks questionnaire %s, not %s", campaignName, questionnaire, r.Questionnaire)
			}
		}
		decided := func(decision, reason string) { d.Decision, d.Reason = decision, reason }
		e, err := scanDNC(tx.QueryRow(ctx, sqlRequestDNC, r.Phone, d.Campaign, now))
		switch {
		case err == nil:
			d.DNC = &e
			decided(survey.RequestSkipped, survey.SkipDNC)
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("check do-not-call lists: %w", err)
		}
		if d.Decision == "" && rules.FatigueDays > 0 {
			var last *time.Time
			if err := tx.QueryRow(ctx, sqlLastSurveyed, r.Phone, now.Add(-rules.Fatigue())).Scan(&last); err != nil {
				return err
			}
			if last != nil {
				t := last.UTC()
				d.LastSurveyed = &t
				decided(survey.RequestSkipped, survey.SkipFatigue)
			}
		}
		if d.Decision == "" {
			d.Share = rules.ShareFor(r.Context)
			if !draw(d.Share) {
				decided(survey.RequestSkipped, survey.SkipSampledOut)
			}
		}
		ictx, err := json.Marshal(r.Context)
		if err != nil {
			return err
		}
		var callAfter *time.Time
		switch {
		case d.Decision != "":
		case r.Source == survey.RequestARI:
			decided(survey.RequestSurveyed, "")
		default:
			decided(survey.RequestQueued, "")
			at := now
			if r.CallAfter.After(now) {
				at = r.CallAfter
			}
			at = at.UTC()
			callAfter, d.CallAfter = &at, &at
			attrs, err := json.Marshal(requestAttrs(r.Context))
			if err != nil {
				return err
			}
			var contact int64
			if err := tx.QueryRow(ctx, sqlRequestContact, r.Phone, r.Language, attrs).Scan(&contact); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, sqlRequestCase, d.Campaign, contact, at, ictx).Scan(&d.Case); err != nil {
				return err
			}
		}
		if d.Decision != survey.RequestQueued {
			d.Campaign = 0
		}
		return tx.QueryRow(ctx, sqlInsertRequest, r.Source, r.Phone, r.Questionnaire, r.Language, ictx, d.Decision, d.Reason,
			d.Share, d.Case, callAfter, r.RequestedBy, now).Scan(&d.ID)
	})
	if err != nil {
		return survey.RequestDecision{}, fmt.Errorf("survey request for %s: %w", r.Phone, err)
	}
	return d, nil
}

// requestAttrs are a request's context as contact fields, for the
// questionnaire's piping and relevance (contact.agent, contact.touchpoint,
// contact.<crm field>…).
func requestAttrs(c survey.Context) map[string]string {
	m := map[string]string{}
	for k, v := range c.Extra {
		m[k] = v
	}
	for k, v := range map[string]string{"agent": c.Agent, "queue": c.Queue, "call_id": c.CallID,
		"touchpoint": c.Touchpoint, "customer_id": c.CustomerID} {
		if v != "" {
			m[k] = v
		}
	}
	return m
}
