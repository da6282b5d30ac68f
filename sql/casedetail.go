// Case detail: what the console shows about one case — the contact, its
// campaign, every call attempt with its outcome and interviewer, notes and
// appointments.

package sql

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Contact is a person in the sample.
type Contact struct {
	ID       int64
	Phone    string // E.164
	TZ       string // IANA zone
	Language string
	Attrs    map[string]string
}

// AttemptRow is one call attempt of a case.
type AttemptRow struct {
	ID          int64
	StartedAt   time.Time
	AnsweredAt  *time.Time
	EndedAt     *time.Time
	Disposition string
	Interviewer string
	Note        string
}

// Note is a note on a case.
type Note struct {
	At     time.Time
	Author string
	Body   string
}

// Appointment is a call back agreed with the respondent.
type Appointment struct {
	ID          int64
	At          time.Time
	Status      string // pending, kept, missed, cancelled
	Interviewer string // "" = anyone
	Note        string
}

// CaseDetail is a case with everything around it.
type CaseDetail struct {
	ID               int64
	CampaignID       int64
	CampaignName     string
	Questionnaire    string
	Status           string
	Priority         int
	Attempts         int
	MaxAttempts      int
	OwnerUserID      int64
	InterviewID      int64
	NextAttemptAt    time.Time
	LastDisposition  string
	FinalDisposition string
	Contact          Contact
	History          []AttemptRow
	Notes            []Note
	Appointments     []Appointment
}

const sqlCaseDetail = `
SELECT sc.id, sc.campaign_id, cp.name, cp.questionnaire_id, sc.status, sc.priority, sc.attempts, cp.max_attempts,
       coalesce(sc.owner_user_id, 0), coalesce(sc.interview_id, 0), sc.next_attempt_at,
       coalesce(sc.last_disposition, ''), coalesce(sc.final_disposition, ''),
       ct.id, ct.phone_e164, ct.tz, ct.language, ct.attrs
FROM survey_case sc
JOIN campaign cp ON cp.id = sc.campaign_id
JOIN contact ct ON ct.id = sc.contact_id
WHERE sc.id = $1`

const sqlCaseAttempts = `
SELECT a.id, a.started_at, a.answered_at, a.ended_at, coalesce(a.disposition, ''), coalesce(u.name, ''), a.note
FROM attempt a LEFT JOIN app_user u ON u.id = a.interviewer_id
WHERE a.case_id = $1 ORDER BY a.started_at, a.id`

const sqlCaseNotes = `
SELECT n.at, coalesce(u.name, 'system'), n.body
FROM case_note n LEFT JOIN app_user u ON u.id = n.user_id
WHERE n.case_id = $1 ORDER BY n.at, n.id`

const sqlCaseAppointments = `
SELECT a.id, a.at, a.status, coalesce(u.name, ''), a.note
FROM appointment a LEFT JOIN app_user u ON u.id = a.interviewer_id
WHERE a.case_id = $1 ORDER BY a.at, a.id`

// Case returns case id with its contact, history, notes and appointments;
// ErrNotFound if there is none.
func (db *DB) Case(ctx context.Context, id int64) (CaseDetail, error) {
	var c CaseDetail
	err := db.retry(ctx, func() error {
		c = CaseDetail{}
		err := db.pool.QueryRow(ctx, sqlCaseDetail, id).Scan(&c.ID, &c.CampaignID, &c.CampaignName, &c.Questionnaire,
			&c.Status, &c.Priority, &c.Attempts, &c.MaxAttempts, &c.OwnerUserID, &c.InterviewID, &c.NextAttemptAt,
			&c.LastDisposition, &c.FinalDisposition,
			&c.Contact.ID, &c.Contact.Phone, &c.Contact.TZ, &c.Contact.Language, &c.Contact.Attrs)
		if err != nil {
			return err
		}
		c.NextAttemptAt = c.NextAttemptAt.UTC()
		rows, err := db.pool.Query(ctx, sqlCaseAttempts, id)
		if err != nil {
			return err
		}
		if c.History, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (AttemptRow, error) {
			var a AttemptRow
			err := row.Scan(&a.ID, &a.StartedAt, &a.AnsweredAt, &a.EndedAt, &a.Disposition, &a.Interviewer, &a.Note)
			return a, err
		}); err != nil {
			return err
		}
		rows, err = db.pool.Query(ctx, sqlCaseNotes, id)
		if err != nil {
			return err
		}
		if c.Notes, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Note, error) {
			var n Note
			err := row.Scan(&n.At, &n.Author, &n.Body)
			return n, err
		}); err != nil {
			return err
		}
		rows, err = db.pool.Query(ctx, sqlCaseAppointments, id)
		if err != nil {
			return err
		}
		c.Appointments, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Appointment, error) {
			var a Appointment
			err := row.Scan(&a.ID, &a.At, &a.Status, &a.Interviewer, &a.Note)
			return a, err
		})
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return CaseDetail{}, fmt.Errorf("load case %d: %w", id, err)
	}
	return c, nil
}
