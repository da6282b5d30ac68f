// Case detail: what the console shows about one case — the contact, its
// campaign, every call attempt with its outcome and interviewer, notes and
// appointments.

package sql

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/canvass/canvass/survey"

	"github.com/jackc/pgx/v5"
)

const sqlCaseDetail = `
SELECT sc.id, sc.campaign_id, cp.name, cp.questionnaire_id, sc.status, sc.priority, sc.attempts, cp.max_attempts,
       coalesce(sc.owner_user_id, 0), coalesce(sc.interview_id, 0), sc.next_attempt_at,
       coalesce(sc.last_disposition, ''), coalesce(sc.final_disposition, ''),
       ct.id, ct.phone_e164, ct.tz, ct.language, ct.attrs, sc.quota_hold, sc.context
FROM survey_case sc
JOIN campaign cp ON cp.id = sc.campaign_id
JOIN contact ct ON ct.id = sc.contact_id
WHERE sc.id = $1`

const sqlCaseAttempts = `
SELECT a.id, a.started_at, a.answered_at, a.ended_at, coalesce(a.disposition, ''), coalesce(u.name, ''), a.note,
       coalesce(a.sip_cause, 0), coalesce(a.q850_cause, 0), coalesce(a.ring_ms, 0), coalesce(a.talk_ms, 0), a.recording,
       a.hung_up_by, a.end_reason, a.phone_e164, a.abandoned
FROM attempt a LEFT JOIN app_user u ON u.id = a.interviewer_id
WHERE a.case_id = $1 ORDER BY a.started_at, a.id`

const sqlCaseNumbers = `
SELECT cn.phone_e164, cn.label, cn.settled_at, cn.settled_as
FROM contact_number cn WHERE cn.contact_id = $1 ORDER BY cn.rank`

const sqlCaseNotes = `
SELECT n.at, coalesce(u.name, 'system'), n.body
FROM case_note n LEFT JOIN app_user u ON u.id = n.user_id
WHERE n.case_id = $1 ORDER BY n.at, n.id`

const sqlCaseAppointments = `
SELECT a.id, a.at, a.status, coalesce(u.name, ''), a.note
FROM appointment a LEFT JOIN app_user u ON u.id = a.interviewer_id
WHERE a.case_id = $1 ORDER BY a.at, a.id`

const sqlMyAppointments = `
SELECT a.id, a.at, a.status, a.note, a.case_id, ct.tz
FROM appointment a JOIN survey_case sc ON sc.id = a.case_id JOIN contact ct ON ct.id = sc.contact_id
WHERE a.interviewer_id = $1 AND a.status = 'pending' AND sc.status <> 'closed'
ORDER BY a.at, a.id LIMIT 50`

// Appointments lists the call backs booked with interviewer userID, soonest
// first (at most 50).
func (db *DB) Appointments(ctx context.Context, userID survey.UserID) ([]survey.Appointment, error) {
	var as []survey.Appointment
	err := db.retry(ctx, func() error {
		rows, err := db.pool.Query(ctx, sqlMyAppointments, userID)
		if err != nil {
			return err
		}
		as, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (survey.Appointment, error) {
			var a survey.Appointment
			err := row.Scan(&a.ID, &a.At, &a.Status, &a.Note, &a.CaseID, &a.TZ)
			a.At = a.At.UTC()
			return a, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("appointments of user %d: %w", userID, err)
	}
	return as, nil
}

// Case returns case id with its contact, history, notes and appointments;
// survey.NotFound if there is none.
func (db *DB) Case(ctx context.Context, id survey.CaseID) (survey.Case, error) {
	var c survey.Case
	err := db.retry(ctx, func() (err error) {
		c, err = loadCase(ctx, db.pool, id)
		return err
	})
	if err != nil {
		return survey.Case{}, err
	}
	return c, nil
}

// loadCase is Case through q (in the caller's transaction).
func loadCase(ctx context.Context, q DBTX, id survey.CaseID) (survey.Case, error) {
	c, err := caseHistory(ctx, q, id, false)
	if err != nil {
		return c, err
	}
	err = func() error {
		rows, err := q.Query(ctx, sqlCaseNotes, id)
		if err != nil {
			return err
		}
		if c.Notes, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (survey.Note, error) {
			var n survey.Note
			err := row.Scan(&n.At, &n.Author, &n.Body)
			return n, err
		}); err != nil {
			return err
		}
		rows, err = q.Query(ctx, sqlCaseAppointments, id)
		if err != nil {
			return err
		}
		c.Appointments, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (survey.Appointment, error) {
			var a survey.Appointment
			err := row.Scan(&a.ID, &a.At, &a.Status, &a.Interviewer, &a.Note)
			return a, err
		})
		return err
	}()
	if err != nil {
		return survey.Case{}, fmt.Errorf("load case %d: %w", id, err)
	}
	return c, nil
}

// caseHistory is case id with its contact and attempts, without its notes
// and appointments; lock holds its row until the transaction ends.
func caseHistory(ctx context.Context, q DBTX, id survey.CaseID, lock bool) (survey.Case, error) {
	var c survey.Case
	query := sqlCaseDetail
	if lock {
		query += " FOR UPDATE OF sc"
	}
	err := func() error {
		err := q.QueryRow(ctx, query, id).Scan(&c.ID, &c.CampaignID, &c.CampaignName, &c.Questionnaire,
			&c.Status, &c.Priority, &c.Attempts, &c.MaxAttempts, &c.OwnerUserID, &c.InterviewID, &c.NextAttemptAt,
			&c.LastDisposition, &c.FinalDisposition,
			&c.Contact.ID, &c.Contact.Phone, &c.Contact.TZ, &c.Contact.Language, &c.Contact.Attrs, &c.QuotaHold, &c.Context)
		if err != nil {
			return err
		}
		c.NextAttemptAt = c.NextAttemptAt.UTC()
		rows, err := q.Query(ctx, sqlCaseAttempts, id)
		if err != nil {
			return err
		}
		c.History, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (survey.Attempt, error) {
			var (
				a          survey.Attempt
				ring, talk int64
			)
			err := row.Scan(&a.ID, &a.StartedAt, &a.AnsweredAt, &a.EndedAt, &a.Disposition, &a.Interviewer, &a.Note,
				&a.SIPStatus, &a.Q850Cause, &ring, &talk, &a.Recording, &a.HungUpBy, &a.EndReason, &a.Phone, &a.Abandoned)
			a.Ring, a.Talk = time.Duration(ring)*time.Millisecond, time.Duration(talk)*time.Millisecond
			return a, err
		})
		if err != nil {
			return err
		}
		rows, err = q.Query(ctx, sqlCaseNumbers, c.Contact.ID)
		if err != nil {
			return err
		}
		c.Numbers, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (survey.Number, error) {
			var (
				n  survey.Number
				at *time.Time
			)
			err := row.Scan(&n.Phone, &n.Label, &at, &n.SettledAs)
			if at != nil {
				n.SettledAt = *at
			}
			return n, err
		})
		return err
	}()
	if errors.Is(err, pgx.ErrNoRows) {
		err = survey.NotFound
	}
	if err != nil {
		return survey.Case{}, fmt.Errorf("load case %d: %w", id, err)
	}
	return c, nil
}
