package sql

// Survey requests (survey/requests.go): one statement per request, under a
// lock on its number when fatigue applies, checks the do-not-call lists and
// survey fatigue, applies the draw, and either queues a case in a keypad
// campaign (the dialer calls it) or admits a transferred call; every
// request is kept with what was decided.

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
	sqlRequestLock = `SELECT pg_advisory_xact_lock(hashtextextended('survey_request:' || $1, 0))`
	// sqlGateCommit makes a transferred call's decision commit
	// asynchronously: visible to every session at once (fatigue and the
	// number's lock hold as with any commit), but a PostgreSQL crash, not
	// Canvass's, can lose the decisions of its last fraction of a second
	// (up to 3 × wal_writer_delay), whose numbers could then be surveyed
	// again within the fatigue period. Waiting for the disk instead was
	// most of a call's setup on a busy host (README, ARI call setup).
	sqlGateCommit      = `SELECT set_config('synchronous_commit', 'off', true)`
	sqlRequestCampaign = `
SELECT id, name, questionnaire_id FROM campaign
WHERE mode = 'ivr' AND status = 'running' AND CASE WHEN $2 <> '' THEN name = $2 ELSE questionnaire_id = $1 END
ORDER BY id LIMIT 1`
	// sqlDecideRequest decides a request and keeps it in one statement:
	// the do-not-call lists, then fatigue (when $8, the start of the
	// period, is not NULL), then the draw made before ($9, at share $10);
	// a request that passes them is $11 (queued or surveyed). A queued one
	// gets its contact and its case in campaign $6, due at $13. It returns
	// the request with the do-not-call entry and the last survey that
	// decided it (NULL when none), and the latest version of questionnaire
	// $3 (0 when none), for the call the request admits.
	sqlDecideRequest = `
WITH dnc AS (
    SELECT d.phone_e164, coalesce(d.campaign_id, 0) AS campaign_id, d.added_at, d.added_by, d.source, d.note
    FROM dnc d
    WHERE d.phone_e164 = $2::text AND (d.campaign_id IS NULL OR d.campaign_id = nullif($6::bigint, 0))
      AND (d.expires_at IS NULL OR d.expires_at > $7::timestamptz)
    ORDER BY d.campaign_id NULLS FIRST LIMIT 1
), last AS (
    SELECT max(created_at) AS at FROM survey_request
    WHERE phone = $2::text AND decision IN ('queued', 'surveyed') AND created_at > $8::timestamptz
), rule AS (
    SELECT CASE WHEN EXISTS (SELECT FROM dnc) THEN 'dnc' WHEN last.at IS NOT NULL THEN 'fatigue'
                WHEN NOT $9::boolean THEN 'sampled_out' ELSE '' END AS reason
    FROM last
), decided AS (
    SELECT reason, CASE reason WHEN '' THEN $11::text ELSE 'skipped' END AS decision,
           CASE WHEN reason IN ('dnc', 'fatigue') THEN 1 ELSE $10::double precision END AS share
    FROM rule
), contact AS (
    INSERT INTO contact (phone_e164, language, attrs)
    SELECT $2::text, $4::text, $12::jsonb FROM decided WHERE decision = 'queued'
    RETURNING id
), kase AS (
    INSERT INTO survey_case (campaign_id, contact_id, next_attempt_at, context)
    SELECT $6::bigint, contact.id, $13::timestamptz, $5::jsonb FROM contact
    RETURNING id
), req AS (
    INSERT INTO survey_request (source, phone, questionnaire_id, language, context, decision, reason, share, case_id,
                                call_after, requested_by, created_at)
    SELECT $1::text, $2::text, $3::text, $4::text, $5::jsonb, decision, reason, share, (SELECT id FROM kase),
           CASE decision WHEN 'queued' THEN $13::timestamptz END, $14::text, $7::timestamptz
    FROM decided
    RETURNING id, decision, reason, share, coalesce(case_id, 0) AS case_id, call_after
)
SELECT req.id, req.decision, req.reason, req.share, req.case_id, req.call_after, last.at,
       dnc.phone_e164, dnc.campaign_id, dnc.added_at, dnc.added_by, dnc.source, dnc.note,
       (SELECT coalesce(max(version), 0) FROM questionnaire_version WHERE questionnaire_id = $3::text)
FROM req CROSS JOIN last LEFT JOIN dnc ON true`
)

// DecideRequest decides survey request r at now by rules, drawing the
// sample with draw (crypto/rand in production), and keeps the request with
// the decision. An API request that is surveyed is queued as a case of the
// keypad campaign rules name, or of the running keypad campaign of its
// questionnaire (survey.EConflict when there is none); an Asterisk one is
// surveyed at once. Checks run in this order, so that a skip is explained
// by the first rule that applies: do-not-call, fatigue, the draw (drawn
// beforehand, and kept only when the others let the request through).
//
// An Asterisk request is one round trip, since a caller waits for it in
// silence: one statement decides and keeps it; with fatigue, the number's
// lock goes before it in the same batch (one implicit transaction, and the
// statement after the lock sees every decision committed before it was
// granted). It runs on the gate's own connections, not behind the pool's
// transactions, and commits asynchronously (sqlGateCommit). An API request
// also looks up its campaign, in a transaction committed as any other.
func (db *DB) DecideRequest(ctx context.Context, r survey.SurveyRequest, rules survey.RequestRules, draw func(share float64) bool, now time.Time) (survey.RequestDecision, error) {
	d, _, err := db.decideRequest(ctx, r, rules, draw, now)
	return d, err
}

// AdmitCall is DecideRequest for a call Asterisk transferred (r.Source is
// survey.RequestARI), with the latest version of r's questionnaire as the
// decision saw it (0 when there is none), so that the call need not look
// it up again: the version a publish made is seen by every call decided
// after the publish committed.
func (db *DB) AdmitCall(ctx context.Context, r survey.SurveyRequest, rules survey.RequestRules, draw func(share float64) bool, now time.Time) (survey.RequestDecision, int, error) {
	if r.Source != survey.RequestARI {
		return survey.RequestDecision{}, 0, fmt.Errorf("admit call: source %q is not %q", r.Source, survey.RequestARI)
	}
	return db.decideRequest(ctx, r, rules, draw, now)
}

func (db *DB) decideRequest(ctx context.Context, r survey.SurveyRequest, rules survey.RequestRules, draw func(share float64) bool, now time.Time) (survey.RequestDecision, int, error) {
	share := rules.ShareFor(r.Context)
	drawn := draw(share)
	ictx, err := json.Marshal(r.Context)
	if err != nil {
		return survey.RequestDecision{}, 0, err
	}
	attrs, err := json.Marshal(requestAttrs(r.Context))
	if err != nil {
		return survey.RequestDecision{}, 0, err
	}
	// The number's lock makes the fatigue check and this decision one
	// step; without fatigue there is nothing to serialize, and calls
	// from one number (a switchboard's, a load test's) must not queue.
	var since *time.Time
	if rules.FatigueDays > 0 {
		s := now.Add(-rules.Fatigue())
		since = &s
	}
	accept := survey.RequestSurveyed
	callAfter := now.UTC()
	if r.Source == survey.RequestAPI {
		accept = survey.RequestQueued
		if r.CallAfter.After(now) {
			callAfter = r.CallAfter.UTC()
		}
	}
	args := func(campaign survey.CampaignID) []any {
		return []any{r.Source, r.Phone, r.Questionnaire, r.Language, ictx, campaign, now, since, drawn, share, accept,
			attrs, callAfter, r.RequestedBy}
	}
	var (
		d       survey.RequestDecision
		version int
	)
	switch {
	case r.Source == survey.RequestAPI:
		err = db.tx(ctx, func(tx pgx.Tx) error {
			if since != nil {
				if _, err := tx.Exec(ctx, sqlRequestLock, r.Phone); err != nil {
					return err
				}
			}
			campaign, err := requestCampaign(ctx, tx, r, rules)
			if err != nil {
				return err
			}
			if d, version, err = scanDecision(tx.QueryRow(ctx, sqlDecideRequest, args(campaign)...)); err != nil {
				return err
			}
			if d.Decision == survey.RequestQueued {
				d.Campaign = campaign
			}
			return nil
		})
	default:
		// A caller waits in silence: the decision commits without waiting
		// for the WAL to reach the disk (sqlGateCommit).
		err = retryLoop(ctx, db.gate.Reset, notRun, func() error {
			b := &pgx.Batch{}
			b.Queue(sqlGateCommit)
			if since != nil {
				b.Queue(sqlRequestLock, r.Phone)
			}
			b.Queue(sqlDecideRequest, args(0)...)
			br := db.gate.SendBatch(ctx, b)
			_, err := br.Exec()
			if err == nil && since != nil {
				_, err = br.Exec()
			}
			if err == nil {
				d, version, err = scanDecision(br.QueryRow())
			}
			return errors.Join(err, br.Close())
		})
	}
	if err != nil {
		return survey.RequestDecision{}, 0, fmt.Errorf("survey request for %s: %w", r.Phone, err)
	}
	return d, version, nil
}

// requestCampaign is the running keypad campaign an API request is queued
// in: the one rules name, else the one asking its questionnaire.
func requestCampaign(ctx context.Context, tx pgx.Tx, r survey.SurveyRequest, rules survey.RequestRules) (survey.CampaignID, error) {
	var (
		id                  survey.CampaignID
		name, questionnaire string
	)
	err := tx.QueryRow(ctx, sqlRequestCampaign, r.Questionnaire, rules.Campaign).Scan(&id, &name, &questionnaire)
	switch {
	case errors.Is(err, pgx.ErrNoRows) && rules.Campaign != "":
		return 0, survey.Errorf(survey.EConflict, "requests.campaign %q is not a running keypad campaign: start it, or name another", rules.Campaign)
	case errors.Is(err, pgx.ErrNoRows):
		return 0, survey.Errorf(survey.EConflict, "no running keypad campaign asks questionnaire %s: create one (admin → campaigns, the keypad asks) and start it, or set requests.campaign", r.Questionnaire)
	case err != nil:
		return 0, err
	case questionnaire != r.Questionnaire:
		return 0, survey.Errorf(survey.EInvalid, "campaign %s asks questionnaire %s, not %s", name, questionnaire, r.Questionnaire)
	}
	return id, nil
}

// scanDecision reads sqlDecideRequest's row.
func scanDecision(row pgx.Row) (_ survey.RequestDecision, version int, _ error) {
	var (
		d         survey.RequestDecision
		callAfter *time.Time
		last      *time.Time
		phone     *string
		e         survey.DNCEntry
		campaign  *survey.CampaignID
		addedAt   *time.Time
		by, note  *string
		src       *survey.DNCSource
	)
	err := row.Scan(&d.ID, &d.Decision, &d.Reason, &d.Share, &d.Case, &callAfter, &last,
		&phone, &campaign, &addedAt, &by, &src, &note, &version)
	if err != nil {
		return d, 0, err
	}
	if callAfter != nil {
		t := callAfter.UTC()
		d.CallAfter = &t
	}
	switch d.Reason {
	case survey.SkipDNC:
		e.Phone, e.Campaign, e.AddedAt, e.AddedBy, e.Source, e.Note = *phone, *campaign, addedAt.UTC(), *by, *src, *note
		d.DNC = &e
	case survey.SkipFatigue:
		t := last.UTC()
		d.LastSurveyed = &t
	}
	return d, version, nil
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
