// Case store for the CATI console: interviewers claim due cases with
// FOR UPDATE SKIP LOCKED, dial, interview and wrap up; supervisors reassign,
// release and close them. Every change is one transaction that locks the
// interviewer's desk before the case (supervisors lock desks in user-id
// order, then the case), checks that the case is still the caller's
// (compare-and-set), and writes an event and, for supervisors, an audit entry.

package sql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/survey"
)

// Refusal is an ErrNotFound or ErrConflict the store can explain to the
// person who asked: Reason names the case, the interviewer and what stands in
// the way, and the console shows it as is (wiring turns it into a coded
// error), while the wrapping error keeps the details for the log.
type Refusal struct {
	Reason string
	Err    error // ErrNotFound or ErrConflict, for errors.Is
}

func (r *Refusal) Error() string { return r.Reason + ": " + r.Err.Error() }
func (r *Refusal) Unwrap() error { return r.Err }

// refuse returns a *Refusal of kind sentinel.
func refuse(sentinel error, format string, args ...any) error {
	return &Refusal{Reason: fmt.Sprintf(format, args...), Err: sentinel}
}

// stateText is a desk state as the floor shows it ("on case").
func stateText(state string) string { return strings.ReplaceAll(state, "_", " ") }

// Desk states (CHECK constraint in 0002_cati.sql).
const (
	DeskIdle         = "idle"
	DeskOnCase       = "on_case"
	DeskDialing      = "dialing"
	DeskInterviewing = "interviewing"
	DeskWrapUp       = "wrap_up"
)

// Desk is where an interviewer stands: what they are doing, on which case,
// call attempt and interview, and since when. Zero ids mean none.
type Desk struct {
	UserID      int64
	State       string
	CaseID      int64
	CampaignID  int64
	AttemptID   int64
	InterviewID int64
	Question    string // the question backed up to; "" = the engine's next
	Since       time.Time
}

const sqlEnsureDesk = `INSERT INTO interviewer_desk (user_id, since) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING`

const sqlDesk = `
SELECT d.user_id, d.state, coalesce(d.case_id, 0), coalesce(sc.campaign_id, 0), coalesce(d.attempt_id, 0),
       coalesce(d.interview_id, 0), d.question, d.since
FROM interviewer_desk d LEFT JOIN survey_case sc ON sc.id = d.case_id
WHERE d.user_id = $1`

// lockDesk returns the user's desk, locked until the transaction ends
// (created idle on first use).
func lockDesk(ctx context.Context, tx DBTX, userID int64, now time.Time) (Desk, error) {
	if _, err := tx.Exec(ctx, sqlEnsureDesk, userID, now); err != nil {
		if pgCode(err) == codeForeignKeyViolation {
			return Desk{}, fmt.Errorf("no user %d: %w", userID, ErrNotFound)
		}
		return Desk{}, err
	}
	return scanDesk(tx.QueryRow(ctx, sqlDesk+` FOR UPDATE OF d`, userID))
}

func scanDesk(row pgx.Row) (Desk, error) {
	var d Desk
	err := row.Scan(&d.UserID, &d.State, &d.CaseID, &d.CampaignID, &d.AttemptID, &d.InterviewID, &d.Question, &d.Since)
	d.Since = d.Since.UTC()
	return d, err
}

// Desk returns the interviewer's desk; an interviewer who never used the
// console is idle.
func (db *DB) Desk(ctx context.Context, userID int64) (Desk, error) {
	var d Desk
	err := db.retry(ctx, func() (err error) {
		d, err = scanDesk(db.pool.QueryRow(ctx, sqlDesk, userID))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Desk{UserID: userID, State: DeskIdle}, nil
	}
	if err != nil {
		return Desk{}, fmt.Errorf("load desk of user %d: %w", userID, err)
	}
	return d, nil
}

const sqlSetDesk = `
UPDATE interviewer_desk SET state = $2, case_id = nullif($3, 0), attempt_id = nullif($4, 0),
    interview_id = nullif($5, 0), question = $6,
    since = CASE WHEN state = $2 AND case_id IS NOT DISTINCT FROM nullif($3, 0) THEN since ELSE $7 END
WHERE user_id = $1`

func setDesk(ctx context.Context, tx DBTX, d Desk, now time.Time) error {
	if d.State == DeskIdle {
		d.CaseID, d.AttemptID, d.InterviewID, d.Question = 0, 0, 0, ""
	}
	_, err := tx.Exec(ctx, sqlSetDesk, d.UserID, d.State, d.CaseID, d.AttemptID, d.InterviewID, d.Question, now)
	if err != nil {
		return fmt.Errorf("set desk of user %d to %s: %w", d.UserID, d.State, err)
	}
	return nil
}

// deskEvent reports a desk change on the live feed.
func deskEvent(ctx context.Context, tx DBTX, kind string, d Desk, campaignID int64, now time.Time, extra map[string]any) error {
	payload := map[string]any{"state": d.State}
	for k, v := range extra {
		payload[k] = v
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	_, err = addEvent(ctx, tx, Event{At: now, Kind: kind, CampaignID: campaignID, InterviewID: d.InterviewID,
		UserID: d.UserID, CaseID: d.CaseID, Payload: b})
	return err
}

// tx runs fn in a transaction, retried after a server restart.
func (db *DB) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return db.retry(ctx, func() error { return pgx.BeginFunc(ctx, db.pool, fn) })
}

// sqlClaim picks the best due case for interviewer $1 at $2 among the
// running CATI campaigns they are assigned to, inside the respondent's local
// calling window: due appointments first (their own or anyone's), then
// priority, then the respondents whose window closes soonest. SKIP LOCKED
// lets concurrent claims pass each other instead of queueing on one row.
const sqlClaim = `
WITH cand AS (
    SELECT sc.id
    FROM survey_case sc
    JOIN campaign cp ON cp.id = sc.campaign_id AND cp.status = 'running' AND cp.mode = 'cati'
    JOIN campaign_interviewer ci ON ci.campaign_id = sc.campaign_id AND ci.user_id = $1
    JOIN contact ct ON ct.id = sc.contact_id
    CROSS JOIN LATERAL (SELECT ($2::timestamptz AT TIME ZONE coalesce(nullif(ct.tz, ''), 'UTC')) AS local) l
    JOIN campaign_window w ON w.campaign_id = sc.campaign_id AND w.dow = extract(dow FROM l.local)::int
         AND l.local::time >= w.opens AND l.local::time < w.closes
    LEFT JOIN LATERAL (
        SELECT a.at, a.interviewer_id FROM appointment a
        WHERE a.case_id = sc.id AND a.status = 'pending' ORDER BY a.at LIMIT 1) ap ON true
    WHERE sc.next_attempt_at <= $2
      AND ((sc.status = 'open' AND sc.attempts < cp.max_attempts)
           OR (sc.status = 'appointment' AND ap.at <= $2 AND (ap.interviewer_id IS NULL OR ap.interviewer_id = $1)))
      AND NOT EXISTS (SELECT 1 FROM dnc d WHERE d.phone_e164 = ct.phone_e164 AND (d.expires_at IS NULL OR d.expires_at > $2))
    ORDER BY (sc.status = 'appointment') DESC, sc.priority DESC, (w.closes - l.local::time), sc.next_attempt_at, sc.id
    LIMIT 1
    FOR UPDATE OF sc SKIP LOCKED
)
UPDATE survey_case s SET status = 'claimed', owner = 'interviewer:' || $3, owner_user_id = $1
FROM cand WHERE s.id = cand.id
RETURNING s.id, s.campaign_id, coalesce(s.interview_id, 0)`

// ClaimNext gives the interviewer the best due case and puts their desk on
// it. An interviewer already on a case gets their desk back unchanged
// (nothing is claimed). ErrNotFound: no case is due for them now.
func (db *DB) ClaimNext(ctx context.Context, userID int64, userName string, now time.Time) (Desk, error) {
	var d Desk
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if d, err = lockDesk(ctx, tx, userID, now); err != nil {
			return err
		}
		if d.State != DeskIdle {
			return nil
		}
		var interviewID int64
		err = tx.QueryRow(ctx, sqlClaim, userID, now, userName).Scan(&d.CaseID, &d.CampaignID, &interviewID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		d.State, d.Since = DeskOnCase, now
		if err := setDesk(ctx, tx, d, now); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "case.claimed", d, d.CampaignID, now, nil)
	})
	if err != nil {
		return Desk{}, fmt.Errorf("claim a case for user %d: %w", userID, err)
	}
	return d, nil
}

const sqlLockCase = `
SELECT sc.status, coalesce(sc.owner_user_id, 0), sc.campaign_id, ct.phone_e164, coalesce(sc.interview_id, 0)
FROM survey_case sc JOIN contact ct ON ct.id = sc.contact_id
WHERE sc.id = $1
FOR UPDATE OF sc`

type lockedCase struct {
	status      string
	owner       int64
	campaignID  int64
	phone       string
	interviewID int64
}

func lockCase(ctx context.Context, tx DBTX, caseID int64) (lockedCase, error) {
	var c lockedCase
	err := tx.QueryRow(ctx, sqlLockCase, caseID).Scan(&c.status, &c.owner, &c.campaignID, &c.phone, &c.interviewID)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, refuse(ErrNotFound, "no case %d", caseID)
	}
	return c, err
}

// ownDesk locks the user's desk and their case, and checks that the desk is
// on caseID in one of states and that the case is still claimed by them.
func ownDesk(ctx context.Context, tx DBTX, userID, caseID int64, now time.Time, states ...string) (Desk, lockedCase, error) {
	d, err := lockDesk(ctx, tx, userID, now)
	if err != nil {
		return d, lockedCase{}, err
	}
	if d.CaseID != caseID || caseID == 0 {
		return d, lockedCase{}, fmt.Errorf("desk is on case %d: %w", d.CaseID,
			refuse(ErrConflict, "case %d is not on your desk any more; your screen has been refreshed", caseID))
	}
	if !slices.Contains(states, d.State) {
		return d, lockedCase{}, fmt.Errorf("desk is %s, not %v: %w", d.State, states,
			refuse(ErrConflict, "that step does not apply while your desk is %s; your screen has been refreshed", stateText(d.State)))
	}
	c, err := lockCase(ctx, tx, caseID)
	if err != nil {
		return d, c, err
	}
	if c.status != "claimed" || c.owner != userID {
		return d, c, fmt.Errorf("case %d is %s by user %d: %w", caseID, c.status, c.owner,
			refuse(ErrConflict, "case %d is no longer yours (a supervisor reassigned, released or closed it)", caseID))
	}
	return d, c, nil
}

const (
	sqlStartAttempt = `
INSERT INTO attempt (case_id, direction, phone_e164, started_at, interviewer_id)
VALUES ($1, 'outbound', $2, $3, $4) RETURNING id`
	sqlCountAttempt = `UPDATE survey_case SET attempts = attempts + 1 WHERE id = $1`
)

// StartDial records that the interviewer is dialing their case: a new
// attempt, counted against the campaign's maximum.
func (db *DB) StartDial(ctx context.Context, userID, caseID int64, now time.Time) (Desk, error) {
	var d Desk
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var (
			c   lockedCase
			err error
		)
		if d, c, err = ownDesk(ctx, tx, userID, caseID, now, DeskOnCase); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, sqlStartAttempt, caseID, c.phone, now, userID).Scan(&d.AttemptID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlCountAttempt, caseID); err != nil {
			return err
		}
		d.State = DeskDialing
		if err := setDesk(ctx, tx, d, now); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "desk.dialing", d, c.campaignID, now, nil)
	})
	if err != nil {
		return Desk{}, fmt.Errorf("dial case %d for user %d: %w", caseID, userID, err)
	}
	return d, nil
}

const (
	sqlAnswered       = `UPDATE attempt SET answered_at = $2 WHERE id = $1 AND answered_at IS NULL`
	sqlReuseInterview = `
UPDATE interview SET interviewer_id = $2, attempt_id = $3
WHERE id = $1 AND status = 'in_progress'`
	sqlStartCATIInterview = `
INSERT INTO interview (questionnaire_id, version, mode, language, context, contact, started_at, case_id, attempt_id, interviewer_id)
VALUES ($1, $2, 'cati', $3, $4, $5, $6, $7, $8, $9)
RETURNING id`
	sqlCaseInterview = `UPDATE survey_case SET interview_id = $2 WHERE id = $1`
)

// Connect records that the respondent answered the interviewer's call and
// puts the desk on the case's interview: the one in progress, if the case
// has one (a callback resumes it), else a new one built from r.
func (db *DB) Connect(ctx context.Context, userID, caseID int64, r survey.InterviewRecord, now time.Time) (Desk, error) {
	var d Desk
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var (
			c   lockedCase
			err error
		)
		if d, c, err = ownDesk(ctx, tx, userID, caseID, now, DeskDialing); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlAnswered, d.AttemptID, now); err != nil {
			return err
		}
		d.InterviewID = 0
		if c.interviewID != 0 {
			tag, err := tx.Exec(ctx, sqlReuseInterview, c.interviewID, userID, d.AttemptID)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				d.InterviewID = c.interviewID
			}
		}
		if d.InterviewID == 0 {
			ictx, err := json.Marshal(r.Context)
			if err != nil {
				return err
			}
			contact := r.Contact
			if contact == nil {
				contact = map[string]string{}
			}
			cc, err := json.Marshal(contact)
			if err != nil {
				return err
			}
			err = tx.QueryRow(ctx, sqlStartCATIInterview, r.Questionnaire, r.Version, r.Language, ictx, cc, now,
				caseID, d.AttemptID, userID).Scan(&d.InterviewID)
			if pgCode(err) == codeForeignKeyViolation {
				return fmt.Errorf("no questionnaire %s version %d: %w", r.Questionnaire, r.Version, ErrNotFound)
			}
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, sqlCaseInterview, caseID, d.InterviewID); err != nil {
				return err
			}
		}
		d.State, d.Question = DeskInterviewing, ""
		if err := setDesk(ctx, tx, d, now); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "interview.started", d, c.campaignID, now, nil)
	})
	if err != nil {
		return Desk{}, fmt.Errorf("connect case %d for user %d: %w", caseID, userID, err)
	}
	return d, nil
}

const sqlSetQuestion = `
UPDATE interviewer_desk SET question = $3
WHERE user_id = $1 AND interview_id = $2 AND state = 'interviewing'`

// SetDeskQuestion remembers the question the interviewer backed up to (""
// once they move on), so that a reload shows the same question.
func (db *DB) SetDeskQuestion(ctx context.Context, userID, interviewID int64, question string) error {
	err := db.retry(ctx, func() error {
		tag, err := db.pool.Exec(ctx, sqlSetQuestion, userID, interviewID, question)
		if err == nil && tag.RowsAffected() == 0 {
			err = fmt.Errorf("desk is not on interview %d: %w", interviewID, ErrConflict)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("set desk question of user %d: %w", userID, err)
	}
	return nil
}

const sqlQuotaCells = `UPDATE survey_case SET quota_cells = $2 WHERE id = $1`

// CompleteInterview ends the desk's interview as status (compare-and-set:
// ErrConflict if it had already ended) and moves the desk to wrap-up.
// quotaCells are the quota cells a complete counts in.
func (db *DB) CompleteInterview(ctx context.Context, userID, caseID int64, status survey.Status, lastQuestion string, quotaCells []string, now time.Time) (Desk, error) {
	var d Desk
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var (
			c   lockedCase
			err error
		)
		if d, c, err = ownDesk(ctx, tx, userID, caseID, now, DeskInterviewing); err != nil {
			return err
		}
		if err := finishInterviewAt(ctx, tx, survey.InterviewID(d.InterviewID), status, "interviewer", lastQuestion, now); err != nil {
			return err
		}
		if quotaCells == nil {
			quotaCells = []string{}
		}
		if status == survey.StatusComplete {
			if _, err := tx.Exec(ctx, sqlQuotaCells, caseID, quotaCells); err != nil {
				return err
			}
		}
		d.State, d.Question = DeskWrapUp, ""
		if err := setDesk(ctx, tx, d, now); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "interview.ended", d, c.campaignID, now, map[string]any{"status": status})
	})
	if err != nil {
		return Desk{}, fmt.Errorf("end interview of case %d for user %d: %w", caseID, userID, err)
	}
	return d, nil
}

const sqlFinishInterviewAt = `
UPDATE interview
SET status = $2, ended_at = $5, end_cause = $3, last_question = $4
WHERE id = $1 AND status = 'in_progress'`

// finishInterviewAt is finishInterview at a given time.
func finishInterviewAt(ctx context.Context, q DBTX, id survey.InterviewID, to survey.Status, cause, lastQuestion string, now time.Time) error {
	switch to {
	case survey.StatusComplete, survey.StatusPartial, survey.StatusBreakoff:
	default:
		return fmt.Errorf("%q is not a final status", to)
	}
	tag, err := q.Exec(ctx, sqlFinishInterviewAt, id, string(to), cause, lastQuestion, now)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return notInProgress(ctx, q, id)
	}
	return nil
}

// EndCall moves the desk from the interview (or the dialing) to wrap-up
// without ending the interview: the respondent hung up or asked to be
// called back, and the wrap-up decides.
func (db *DB) EndCall(ctx context.Context, userID, caseID int64, now time.Time) (Desk, error) {
	var d Desk
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var (
			c   lockedCase
			err error
		)
		if d, c, err = ownDesk(ctx, tx, userID, caseID, now, DeskInterviewing, DeskDialing, DeskOnCase); err != nil {
			return err
		}
		d.State, d.Question = DeskWrapUp, ""
		if err := setDesk(ctx, tx, d, now); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "desk.wrap_up", d, c.campaignID, now, nil)
	})
	if err != nil {
		return Desk{}, fmt.Errorf("end call on case %d for user %d: %w", caseID, userID, err)
	}
	return d, nil
}

// Outcome is how a case leaves an interviewer's (or a supervisor's) hands.
type Outcome struct {
	AttemptCode   string // disposition of the desk's attempt; "" = none
	Note          string // kept on the attempt and as a case note
	Status        string // the case's next status: open, appointment or closed
	FinalCode     string // with closed: the case's final disposition
	NextAttemptAt time.Time
	AppointmentAt time.Time // with appointment
	// FinishInterview, when set, ends the case's interview in progress.
	FinishInterview survey.Status
	LastQuestion    string
}

const (
	sqlEndAttempt = `
UPDATE attempt SET ended_at = coalesce(ended_at, $2), disposition = coalesce(nullif($3, ''), disposition),
    note = CASE WHEN $4 = '' THEN note ELSE $4 END
WHERE id = $1`
	sqlEndOpenAttempts = `UPDATE attempt SET ended_at = $2 WHERE case_id = $1 AND ended_at IS NULL`
	sqlReopenCase      = `
UPDATE survey_case SET status = $2, owner = '', owner_user_id = NULL, next_attempt_at = $3,
    last_disposition = coalesce(nullif($4, ''), last_disposition)
WHERE id = $1`
	sqlCloseCase = `
UPDATE survey_case SET status = 'closed', owner = '', owner_user_id = NULL, final_disposition = $2,
    last_disposition = coalesce(nullif($3, ''), last_disposition), closed_at = $4
WHERE id = $1`
	sqlKeepAppointments = `
UPDATE appointment SET status = CASE WHEN at <= $2 THEN 'kept' ELSE 'cancelled' END
WHERE case_id = $1 AND status = 'pending'`
	sqlAddAppointment = `
INSERT INTO appointment (case_id, at, interviewer_id, note, created_by) VALUES ($1, $2, $3, $4, $5)`
	sqlAddNote = `INSERT INTO case_note (case_id, user_id, at, body) VALUES ($1, nullif($2, 0), $3, $4)`
)

// applyOutcome moves a locked case on as o says; byUser is who decided
// (0 = system), appointmentFor the interviewer an appointment is with.
func applyOutcome(ctx context.Context, tx DBTX, caseID, attemptID, interviewID, byUser, appointmentFor int64, o Outcome, now time.Time) error {
	if attemptID != 0 {
		if _, err := tx.Exec(ctx, sqlEndAttempt, attemptID, now, o.AttemptCode, o.Note); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, sqlEndOpenAttempts, caseID, now); err != nil {
		return err
	}
	if o.FinishInterview != "" && interviewID != 0 {
		err := finishInterviewAt(ctx, tx, survey.InterviewID(interviewID), o.FinishInterview, "disposition", o.LastQuestion, now)
		if err != nil && !errors.Is(err, ErrConflict) { // already ended: fine
			return err
		}
	}
	if _, err := tx.Exec(ctx, sqlKeepAppointments, caseID, now); err != nil {
		return err
	}
	switch o.Status {
	case "closed":
		if _, err := tx.Exec(ctx, sqlCloseCase, caseID, o.FinalCode, o.AttemptCode, now); err != nil {
			return err
		}
	case "open":
		if _, err := tx.Exec(ctx, sqlReopenCase, caseID, "open", o.NextAttemptAt, o.AttemptCode); err != nil {
			return err
		}
	case "appointment":
		if _, err := tx.Exec(ctx, sqlReopenCase, caseID, "appointment", o.AppointmentAt, o.AttemptCode); err != nil {
			return err
		}
		var with *int64
		if appointmentFor != 0 {
			with = &appointmentFor
		}
		if _, err := tx.Exec(ctx, sqlAddAppointment, caseID, o.AppointmentAt, with, o.Note, nullID(byUser)); err != nil {
			return err
		}
	default:
		return fmt.Errorf("case status %q: want open, appointment or closed", o.Status)
	}
	if o.Note != "" {
		if _, err := tx.Exec(ctx, sqlAddNote, caseID, byUser, now, o.Note); err != nil {
			return err
		}
	}
	return nil
}

func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// WrapUp settles the interviewer's case as o says and frees their desk.
// ErrConflict when the case is no longer theirs (a supervisor took it) or
// the desk has moved on, and when the desk has no call attempt (the case
// was never dialed) but o puts the case back in the queue: with no attempt
// counted it would come back forever, never reaching the campaign's
// maximum. Closing it, or booking a call back, needs no call.
func (db *DB) WrapUp(ctx context.Context, userID, caseID int64, o Outcome, now time.Time) (Desk, error) {
	var d Desk
	err := db.tx(ctx, func(tx pgx.Tx) error {
		d0, c, err := ownDesk(ctx, tx, userID, caseID, now, DeskOnCase, DeskDialing, DeskInterviewing, DeskWrapUp)
		if err != nil {
			return err
		}
		if d0.AttemptID == 0 && o.Status == "open" {
			return refuse(ErrConflict, "case %d was not dialed: dial it before recording what the call found", caseID)
		}
		if err := applyOutcome(ctx, tx, caseID, d0.AttemptID, c.interviewID, userID, 0, o, now); err != nil {
			return err
		}
		d = Desk{UserID: userID, State: DeskIdle, Since: now}
		if err := setDesk(ctx, tx, d, now); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "case.wrapped", Desk{UserID: userID, State: DeskIdle, CaseID: caseID, InterviewID: c.interviewID},
			c.campaignID, now, map[string]any{"case_status": o.Status, "final_code": o.FinalCode, "attempt_code": o.AttemptCode})
	})
	if err != nil {
		return Desk{}, fmt.Errorf("wrap up case %d for user %d: %w", caseID, userID, err)
	}
	return d, nil
}

// supervise runs fn on case caseID with the desks of its owner and of the
// other users locked (in user-id order, before the case, as interviewers
// lock them), and checks that the owner did not change meanwhile.
func (db *DB) supervise(ctx context.Context, caseID int64, others []int64, now time.Time, fn func(tx pgx.Tx, c lockedCase, desks map[int64]Desk) error) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var owner int64
		err := tx.QueryRow(ctx, `SELECT coalesce(owner_user_id, 0) FROM survey_case WHERE id = $1`, caseID).Scan(&owner)
		if errors.Is(err, pgx.ErrNoRows) {
			return refuse(ErrNotFound, "no case %d", caseID)
		}
		if err != nil {
			return err
		}
		users := slices.Clone(others)
		if owner != 0 {
			users = append(users, owner)
		}
		slices.Sort(users)
		users = slices.Compact(users)
		desks := map[int64]Desk{}
		for _, u := range users {
			d, err := lockDesk(ctx, tx, u, now)
			if err != nil {
				return err
			}
			desks[u] = d
		}
		c, err := lockCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		if c.owner != owner {
			return refuse(ErrConflict, "case %d changed hands meanwhile; reload and try again", caseID)
		}
		return fn(tx, c, desks)
	})
}

// freeOwner moves the owner's desk off the case, if it is on it.
func freeOwner(ctx context.Context, tx DBTX, c lockedCase, caseID int64, desks map[int64]Desk, now time.Time) error {
	if c.owner == 0 {
		return nil
	}
	if d := desks[c.owner]; d.CaseID == caseID {
		if err := setDesk(ctx, tx, Desk{UserID: c.owner, State: DeskIdle}, now); err != nil {
			return err
		}
	}
	return nil
}

const sqlIsInterviewer = `SELECT role = 'interviewer' AND NOT disabled FROM app_user WHERE id = $1`

const sqlReassign = `UPDATE survey_case SET status = 'claimed', owner = 'interviewer:' || $3, owner_user_id = $2 WHERE id = $1`

// Reassign gives case caseID to interviewer to, whose desk must be idle; the
// previous owner's desk, if any, is freed and an open call attempt ended.
// An interview in progress stays in progress for the new interviewer to
// resume. ErrConflict: the case is closed or the new interviewer is busy.
// ErrNotFound: no such case, or to is not an active interviewer.
func (db *DB) Reassign(ctx context.Context, actor string, caseID, to int64, toName string, now time.Time) error {
	err := db.supervise(ctx, caseID, []int64{to}, now, func(tx pgx.Tx, c lockedCase, desks map[int64]Desk) error {
		var ok bool
		if err := tx.QueryRow(ctx, sqlIsInterviewer, to).Scan(&ok); errors.Is(err, pgx.ErrNoRows) || !ok {
			return fmt.Errorf("user %d: %w", to, refuse(ErrNotFound, "%s is not an active interviewer", toName))
		} else if err != nil {
			return err
		}
		if c.status == "closed" {
			return refuse(ErrConflict, "case %d is closed", caseID)
		}
		if c.owner == to {
			return nil
		}
		if d := desks[to]; d.State != DeskIdle {
			return fmt.Errorf("user %d: %w", to, refuse(ErrConflict,
				"interviewer %s is busy (%s): a case goes only to an idle interviewer", toName, stateText(d.State)))
		}
		if err := freeOwner(ctx, tx, c, caseID, desks, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlEndOpenAttempts, caseID, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlReassign, caseID, to, toName); err != nil {
			return err
		}
		nd := Desk{UserID: to, State: DeskOnCase, CaseID: caseID}
		if err := setDesk(ctx, tx, nd, now); err != nil {
			return err
		}
		if err := audit(ctx, tx, actor, "case.reassign", fmt.Sprintf("case:%d", caseID), map[string]any{"from": c.owner, "to": to}); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "case.reassigned", nd, c.campaignID, now, map[string]any{"users": []int64{c.owner, to}, "by": actor})
	})
	if err != nil {
		return fmt.Errorf("reassign case %d to user %d: %w", caseID, to, err)
	}
	return nil
}

const sqlPendingAppointment = `SELECT EXISTS (SELECT 1 FROM appointment WHERE case_id = $1 AND status = 'pending')`

const sqlCaseHasComplete = `SELECT EXISTS (SELECT 1 FROM interview WHERE case_id = $1 AND status = 'complete')`

// Release takes case caseID from its interviewer and puts it back in the
// queue, due now (or at its pending appointment). ErrConflict if it is
// closed or its interview is complete.
func (db *DB) Release(ctx context.Context, actor string, caseID int64, now time.Time) error {
	err := db.supervise(ctx, caseID, nil, now, func(tx pgx.Tx, c lockedCase, desks map[int64]Desk) error {
		if c.status == "closed" {
			return refuse(ErrConflict, "case %d is closed", caseID)
		}
		// A released case is called again: never one whose respondent
		// already completed the interview.
		var complete bool
		if err := tx.QueryRow(ctx, sqlCaseHasComplete, caseID).Scan(&complete); err != nil {
			return err
		}
		if complete {
			return refuse(ErrConflict, "case %d has a complete interview; set disposition 1.1 instead of releasing it", caseID)
		}
		if err := freeOwner(ctx, tx, c, caseID, desks, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlEndOpenAttempts, caseID, now); err != nil {
			return err
		}
		var pending bool
		if err := tx.QueryRow(ctx, sqlPendingAppointment, caseID).Scan(&pending); err != nil {
			return err
		}
		status, at := "open", now
		if pending {
			status = "appointment"
			if err := tx.QueryRow(ctx, `SELECT min(at) FROM appointment WHERE case_id = $1 AND status = 'pending'`, caseID).Scan(&at); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, sqlReopenCase, caseID, status, at, ""); err != nil {
			return err
		}
		if err := audit(ctx, tx, actor, "case.release", fmt.Sprintf("case:%d", caseID), map[string]any{"from": c.owner}); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "case.released", Desk{UserID: c.owner, State: DeskIdle, CaseID: caseID}, c.campaignID, now,
			map[string]any{"users": []int64{c.owner}, "by": actor})
	})
	if err != nil {
		return fmt.Errorf("release case %d: %w", caseID, err)
	}
	return nil
}

// SetDisposition closes case caseID with a final disposition chosen by a
// supervisor: the owner's desk is freed, an open attempt ended, and an
// interview in progress ended as o.FinishInterview. ErrConflict if the case
// is already closed.
func (db *DB) SetDisposition(ctx context.Context, actor string, actorID, caseID int64, o Outcome, now time.Time) error {
	err := db.supervise(ctx, caseID, nil, now, func(tx pgx.Tx, c lockedCase, desks map[int64]Desk) error {
		if c.status == "closed" {
			return refuse(ErrConflict, "case %d is already closed", caseID)
		}
		if err := freeOwner(ctx, tx, c, caseID, desks, now); err != nil {
			return err
		}
		o.Status = "closed"
		if err := applyOutcome(ctx, tx, caseID, 0, c.interviewID, actorID, 0, o, now); err != nil {
			return err
		}
		if err := audit(ctx, tx, actor, "case.disposition", fmt.Sprintf("case:%d", caseID),
			map[string]any{"from": c.owner, "code": o.FinalCode, "note": o.Note}); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "case.disposition", Desk{UserID: c.owner, State: DeskIdle, CaseID: caseID}, c.campaignID, now,
			map[string]any{"users": []int64{c.owner}, "by": actor, "code": o.FinalCode})
	})
	if err != nil {
		return fmt.Errorf("set disposition of case %d: %w", caseID, err)
	}
	return nil
}
