// Floor store: what the supervisors' live view shows — every interviewer's
// desk with their completes, and per campaign the sample's progress, final
// dispositions by AAPOR rate group, quota fill and the answer distributions
// behind live NPS and CSAT. Read in one repeatable-read snapshot.

package sql

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/survey"
)

const sqlFloorDesks = `
SELECT u.id, u.name, coalesce(d.state, 'signed_out'), coalesce(d.reason, ''),
       CASE WHEN d.state <> 'signed_out' THEN d.since END, coalesce(d.case_id, 0),
       coalesce(sc.campaign_id, 0),
       (SELECT count(*) FROM interview i WHERE i.interviewer_id = u.id AND i.status = 'complete' AND i.ended_at > $1::timestamptz - interval '1 hour'),
       (SELECT count(*) FROM interview i WHERE i.interviewer_id = u.id AND i.status = 'complete' AND i.ended_at >= date_trunc('day', $1::timestamptz)),
       a.contacts_hour, a.contacts_today, a.refusals_today, a.handle_ms
FROM app_user u
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE at.answered_at > $1::timestamptz - interval '1 hour') AS contacts_hour,
           count(*) FILTER (WHERE at.answered_at IS NOT NULL) AS contacts_today,
           count(*) FILTER (WHERE at.disposition LIKE '2.11%') AS refusals_today,
           coalesce((avg(extract(epoch FROM at.ended_at - at.started_at) * 1000)
               FILTER (WHERE at.answered_at IS NOT NULL AND at.ended_at IS NOT NULL))::bigint, 0) AS handle_ms
    FROM attempt at WHERE at.interviewer_id = u.id AND at.started_at >= date_trunc('day', $1::timestamptz)) a
LEFT JOIN interviewer_desk d ON d.user_id = u.id
LEFT JOIN survey_case sc ON sc.id = d.case_id
WHERE u.role = 'interviewer' AND NOT u.disabled
ORDER BY u.name`

const sqlFloorCampaigns = `
SELECT c.id, c.name, c.questionnaire_id, c.status,
       count(sc.id),
       count(sc.id) FILTER (WHERE sc.status = 'open'),
       count(sc.id) FILTER (WHERE sc.status = 'claimed'),
       count(sc.id) FILTER (WHERE sc.status = 'appointment'),
       count(sc.id) FILTER (WHERE sc.status = 'appointment' AND sc.next_attempt_at <= $1),
       count(sc.id) FILTER (WHERE sc.status = 'closed'),
       (SELECT count(*) FROM interview i JOIN survey_case s2 ON s2.id = i.case_id
        WHERE s2.campaign_id = c.id AND i.status = 'complete' AND i.ended_at > $1::timestamptz - interval '1 hour'),
       (SELECT count(*) FROM interview i JOIN survey_case s2 ON s2.id = i.case_id
        WHERE s2.campaign_id = c.id AND i.status = 'complete' AND i.ended_at > $1::timestamptz - interval '7 days'),
       dl.up, dl.live_24h, dl.abandoned_24h, dl.live_30d, dl.abandoned_30d, dl.dialer_up, dl.machines_24h, dl.machines_30d,
       (SELECT count(*) FROM interviewer_desk d JOIN campaign_interviewer ci ON ci.user_id = d.user_id
        WHERE ci.campaign_id = c.id AND d.state = 'idle')
FROM campaign c LEFT JOIN survey_case sc ON sc.campaign_id = c.id
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE a.ended_at IS NULL AND a.started_at > $1::timestamptz - interval '1 hour') AS up,
           count(*) FILTER (WHERE a.ended_at IS NULL AND a.interviewer_id IS NULL AND a.started_at > $1::timestamptz - interval '1 hour') AS dialer_up,
           count(*) FILTER (WHERE a.live AND a.answered_at > $1::timestamptz - interval '24 hours') AS live_24h,
           count(*) FILTER (WHERE a.live AND a.abandoned AND a.answered_at > $1::timestamptz - interval '24 hours') AS abandoned_24h,
           count(*) FILTER (WHERE a.live) AS live_30d,
           count(*) FILTER (WHERE a.live AND a.abandoned) AS abandoned_30d,
           count(*) FILTER (WHERE a.machine AND a.answered_at > $1::timestamptz - interval '24 hours') AS machines_24h,
           count(*) FILTER (WHERE a.machine) AS machines_30d
    FROM (SELECT at.ended_at, at.started_at, at.answered_at, at.abandoned, at.interviewer_id,
                 at.answered_at IS NOT NULL AND coalesce(at.amd_result, '') <> 'machine' AS live,
                 at.answered_at IS NOT NULL AND at.amd_result = 'machine' AND at.interviewer_id IS NULL AS machine
          FROM attempt at JOIN survey_case s3 ON s3.id = at.case_id
          WHERE s3.campaign_id = c.id AND at.started_at > $1::timestamptz - interval '30 days') a) dl
GROUP BY c.id, dl.up, dl.live_24h, dl.abandoned_24h, dl.live_30d, dl.abandoned_30d, dl.dialer_up, dl.machines_24h, dl.machines_30d ORDER BY c.id`

const sqlFloorGroups = `
SELECT sc.campaign_id, d.rate_group, count(*) FILTER (WHERE d.code LIKE '1.1%'), count(*) FILTER (WHERE d.code LIKE '1.2%'), count(*)
FROM survey_case sc JOIN disposition_code d ON d.code = sc.final_disposition
WHERE sc.status = 'closed'
GROUP BY sc.campaign_id, d.rate_group`

const sqlFloorQuotas = `
SELECT sc.campaign_id, cell, count(*)
FROM survey_case sc CROSS JOIN LATERAL unnest(sc.quota_cells) cell
WHERE sc.status = 'closed' AND sc.final_disposition = '1.1'
GROUP BY sc.campaign_id, cell`

const sqlFloorValues = `
SELECT sc.campaign_id, a.question_id, (a.value::numeric)::bigint, count(*)
FROM survey_case sc
JOIN interview i ON i.case_id = sc.id
JOIN answer a ON a.interview_id = i.id
WHERE NOT a.skipped AND jsonb_typeof(a.value) = 'number'
  AND (a.value::numeric) = trunc(a.value::numeric) AND abs(a.value::numeric) < 1e15
GROUP BY 1, 2, 3`

const sqlToday = `
SELECT (SELECT count(*) FROM attempt WHERE interviewer_id = $1 AND answered_at >= date_trunc('day', $2::timestamptz)),
       (SELECT count(*) FROM interview WHERE interviewer_id = $1 AND status = 'complete' AND ended_at >= date_trunc('day', $2::timestamptz))`

// Today counts an interviewer's answered calls and completes since midnight
// UTC, as the floor does.
func (db *DB) Today(ctx context.Context, userID survey.UserID, now time.Time) (contacts, completes int, err error) {
	err = db.retry(ctx, func() error { return db.pool.QueryRow(ctx, sqlToday, userID, now).Scan(&contacts, &completes) })
	if err != nil {
		return 0, 0, fmt.Errorf("today's counts of user %d: %w", userID, err)
	}
	return contacts, completes, nil
}

// Floor reads the floor as of now.
func (db *DB) Floor(ctx context.Context, now time.Time) (survey.Floor, error) {
	var f survey.Floor
	err := db.retry(ctx, func() error {
		f = survey.Floor{At: now}
		return pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, sqlFloorDesks, now)
			if err != nil {
				return err
			}
			f.Desks, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (survey.DeskRow, error) {
				var d survey.DeskRow
				var since *time.Time // none while signed out
				var handleMS int64
				err := row.Scan(&d.UserID, &d.Name, &d.State, &d.Reason, &since, &d.CaseID, &d.CampaignID, &d.CompletesHour, &d.CompletesToday,
					&d.ContactsHour, &d.ContactsToday, &d.RefusalsToday, &handleMS)
				d.HandleToday = time.Duration(handleMS) * time.Millisecond
				if since != nil {
					d.Since = since.UTC()
				}
				return d, err
			})
			if err != nil {
				return err
			}
			rows, err = tx.Query(ctx, sqlFloorCampaigns, now)
			if err != nil {
				return err
			}
			f.Campaigns, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (survey.CampaignProgress, error) {
				c := survey.CampaignProgress{QuotaFill: map[string]int{}, Values: map[string]map[int64]int{}}
				err := row.Scan(&c.ID, &c.Name, &c.Questionnaire, &c.Status, &c.Cases, &c.Open, &c.Claimed, &c.Appointments,
					&c.AppointmentsDue, &c.Closed, &c.CompletesHour, &c.CompletesWeek, &c.CallsUp, &c.Live24h, &c.Abandoned24h, &c.Live30d, &c.Abandoned30d, &c.DialerUp, &c.Machines24h, &c.Machines30d, &c.Idle)
				return c, err
			})
			if err != nil {
				return err
			}
			byID := map[survey.CampaignID]*survey.CampaignProgress{}
			for i := range f.Campaigns {
				byID[f.Campaigns[i].ID] = &f.Campaigns[i]
			}
			var (
				id        survey.CampaignID
				group     string
				a, b, n   int
				cell, qid string
				v         int64
			)
			rows, err = tx.Query(ctx, sqlFloorGroups)
			if err != nil {
				return err
			}
			if _, err := pgx.ForEachRow(rows, []any{&id, &group, &a, &b, &n}, func() error {
				if c := byID[id]; c != nil {
					for range n {
						c.Groups.Add(survey.RateGroup(group))
					}
					c.Completes += a
					c.Partials += b
					if group == string(survey.GroupR) {
						c.Refusals += n
					}
				}
				return nil
			}); err != nil {
				return err
			}
			rows, err = tx.Query(ctx, sqlFloorQuotas)
			if err != nil {
				return err
			}
			if _, err := pgx.ForEachRow(rows, []any{&id, &cell, &n}, func() error {
				if c := byID[id]; c != nil {
					c.QuotaFill[cell] = n
				}
				return nil
			}); err != nil {
				return err
			}
			rows, err = tx.Query(ctx, sqlFloorValues)
			if err != nil {
				return err
			}
			_, err = pgx.ForEachRow(rows, []any{&id, &qid, &v, &n}, func() error {
				if c := byID[id]; c != nil {
					if c.Values[qid] == nil {
						c.Values[qid] = map[int64]int{}
					}
					c.Values[qid][v] = n
				}
				return nil
			})
			return err
		})
	})
	if err != nil {
		return survey.Floor{}, fmt.Errorf("read the floor: %w", err)
	}
	return f, nil
}
