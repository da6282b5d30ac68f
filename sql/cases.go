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

const sqlEnsureDesk = `INSERT INTO interviewer_desk (user_id, since) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING`

const sqlDesk = `
SELECT d.user_id, d.state, coalesce(d.case_id, 0), coalesce(sc.campaign_id, 0), coalesce(d.attempt_id, 0),
       coalesce(d.interview_id, 0), d.question, d.reason, d.since
FROM interviewer_desk d LEFT JOIN survey_case sc ON sc.id = d.case_id
WHERE d.user_id = $1`

// lockDesk returns the user's desk, locked until the transaction ends
// (created idle on first use).
func lockDesk(ctx context.Context, tx DBTX, userID survey.UserID, now time.Time) (survey.Desk, error) {
	if _, err := tx.Exec(ctx, sqlEnsureDesk, userID, now); err != nil {
		if pgCode(err) == codeForeignKeyViolation {
			return survey.Desk{}, fmt.Errorf("no user %d: %w", userID, survey.NotFound)
		}
		return survey.Desk{}, err
	}
	return scanDesk(tx.QueryRow(ctx, sqlDesk+` FOR UPDATE OF d`, userID))
}

func scanDesk(row pgx.Row) (survey.Desk, error) {
	var d survey.Desk
	err := row.Scan(&d.UserID, &d.State, &d.CaseID, &d.CampaignID, &d.AttemptID, &d.InterviewID, &d.Question, &d.Reason, &d.Since)
	d.Since = d.Since.UTC()
	return d, err
}

// Desk returns the interviewer's desk; an interviewer who never used the
// console is signed out.
func (db *DB) Desk(ctx context.Context, userID survey.UserID) (survey.Desk, error) {
	var d survey.Desk
	err := db.retry(ctx, func() (err error) {
		d, err = scanDesk(db.pool.QueryRow(ctx, sqlDesk, userID))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return survey.Desk{UserID: userID, State: survey.DeskSignedOut}, nil
	}
	if err != nil {
		return survey.Desk{}, fmt.Errorf("load desk of user %d: %w", userID, err)
	}
	return d, nil
}

const sqlSetDesk = `
UPDATE interviewer_desk SET state = $2, case_id = nullif($3, 0), attempt_id = nullif($4, 0),
    interview_id = nullif($5, 0), question = $6, reason = $8,
    since = CASE WHEN state = $2 AND case_id IS NOT DISTINCT FROM nullif($3, 0) THEN since ELSE $7 END
WHERE user_id = $1`

func setDesk(ctx context.Context, tx DBTX, d survey.Desk, now time.Time) error {
	if !d.State.OnCase() {
		d.CaseID, d.AttemptID, d.InterviewID, d.Question = 0, 0, 0, ""
	}
	if d.State != survey.DeskBreak {
		d.Reason = ""
	}
	_, err := tx.Exec(ctx, sqlSetDesk, d.UserID, d.State, d.CaseID, d.AttemptID, d.InterviewID, d.Question, now, d.Reason)
	if err != nil {
		return fmt.Errorf("set desk of user %d to %s: %w", d.UserID, d.State, err)
	}
	return nil
}

// deskEvent reports a desk change on the live feed.
func deskEvent(ctx context.Context, tx DBTX, kind string, d survey.Desk, campaignID survey.CampaignID, now time.Time, extra map[string]any) error {
	payload := map[string]any{"state": d.State}
	for k, v := range extra {
		payload[k] = v
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	_, err = WriteEvent(ctx, tx, survey.Event{At: now, Kind: kind, CampaignID: campaignID, InterviewID: d.InterviewID,
		UserID: d.UserID, CaseID: d.CaseID, Payload: b})
	return err
}

// tx runs fn in a transaction, retried after a server restart.
func (db *DB) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return db.retry(ctx, func() error { return pgx.BeginFunc(ctx, db.pool, fn) })
}

// Tx runs fn in one transaction, retried as a whole after a server restart,
// so a caller can compose the store's DBTX functions (ClaimCase,
// StartAttempt, ApplyOutcome, WriteEvent) into one step.
func (db *DB) Tx(ctx context.Context, fn func(tx DBTX) error) error {
	return db.tx(ctx, func(tx pgx.Tx) error { return fn(tx) })
}

// sqlInWindow is survey.Window.Contains for the claim: it joins case sc of
// contact ct to the campaign windows w that hold the instant $2 in the
// contact's zone, with l.local the contact's clock. A test checks that it
// agrees with Window.Contains over generated windows, zones and instants.
const sqlInWindow = `CROSS JOIN LATERAL (SELECT ($2::timestamptz AT TIME ZONE coalesce(nullif(ct.tz, ''), 'UTC')) AS local) l
    JOIN campaign_window w ON w.campaign_id = sc.campaign_id AND w.dow = extract(dow FROM l.local)::int
         AND l.local::time >= w.opens AND l.local::time < w.closes`

// sqlRotation is survey.Slices.Score for the claims: the count rot.n of
// case sc's attempts that fell in the time slice its respondent is in at
// $2 (by their local weekday and clock, as l.local), over the campaign's
// slices (its dialing settings' slices, else the parameter $SLICES stands
// for: survey.DefaultSlices as JSON). Cases not yet tried in this slice
// rank first. A test checks that it agrees with Score over generated zones,
// instants and histories.
const sqlRotation = `LEFT JOIN LATERAL (
        SELECT count(*) AS n
        FROM jsonb_to_recordset(coalesce(cp.settings->'dialing'->'slices', $SLICES::jsonb)) AS s(days int, "from" int, "to" int)
        JOIN attempt pa ON pa.case_id = sc.id
        CROSS JOIN LATERAL (SELECT pa.started_at AT TIME ZONE coalesce(nullif(ct.tz, ''), 'UTC') AS local) pl
        WHERE (s.days >> extract(dow FROM l.local)::int) & 1 = 1
          AND extract(hour FROM l.local) * 60 + extract(minute FROM l.local) >= s."from"
          AND extract(hour FROM l.local) * 60 + extract(minute FROM l.local) < s."to"
          AND (s.days >> extract(dow FROM pl.local)::int) & 1 = 1
          AND extract(hour FROM pl.local) * 60 + extract(minute FROM pl.local) >= s."from"
          AND extract(hour FROM pl.local) * 60 + extract(minute FROM pl.local) < s."to") rot ON true`

// defaultSlices is survey.DefaultSlices as the claims' JSON parameter.
var defaultSlices = func() string {
	b, err := json.Marshal(survey.DefaultSlices())
	if err != nil {
		panic(err) // a literal of plain fields: cannot fail
	}
	return string(b)
}()

// sqlClaim picks the best due case for interviewer $1 at $2 among the
// running CATI campaigns they are assigned to, inside the respondent's local
// calling window, whose number is on neither the system-wide do-not-call
// list nor the campaign's: due appointments first (their own or anyone's), then
// priority, then the cases tried least in the respondent's current time
// slice (sqlRotation), then the respondents whose window closes soonest.
// SKIP LOCKED lets concurrent claims pass each other instead of queueing on
// one row.
var sqlClaim = `
WITH cand AS (
    SELECT sc.id
    FROM survey_case sc
    JOIN campaign cp ON cp.id = sc.campaign_id AND cp.status = 'running' AND cp.mode = 'cati'
    JOIN campaign_interviewer ci ON ci.campaign_id = sc.campaign_id AND ci.user_id = $1
    JOIN contact ct ON ct.id = sc.contact_id
    ` + sqlInWindow + `
    LEFT JOIN LATERAL (
        SELECT a.at, a.interviewer_id FROM appointment a
        WHERE a.case_id = sc.id AND a.status = 'pending' ORDER BY a.at LIMIT 1) ap ON true
    ` + strings.ReplaceAll(sqlRotation, "$SLICES", "$4") + `
    WHERE sc.next_attempt_at <= $2 AND sc.quota_hold = ''
      AND ((sc.status = 'open' AND sc.attempts < cp.max_attempts)
           OR (sc.status = 'appointment' AND ap.at <= $2 AND (ap.interviewer_id IS NULL OR ap.interviewer_id = $1)))
      AND NOT EXISTS (SELECT 1 FROM dnc d WHERE d.phone_e164 = ct.phone_e164
                      AND (d.campaign_id IS NULL OR d.campaign_id = sc.campaign_id)
                      AND (d.expires_at IS NULL OR d.expires_at > $2))
    ORDER BY (sc.status = 'appointment') DESC, sc.priority DESC, rot.n, (w.closes - l.local::time), sc.next_attempt_at, sc.id
    LIMIT 1
    FOR UPDATE OF sc SKIP LOCKED
)
UPDATE survey_case s SET status = 'claimed', owner = 'interviewer:' || $3, owner_user_id = $1
FROM cand WHERE s.id = cand.id
RETURNING s.id, s.campaign_id, coalesce(s.interview_id, 0)`

// ClaimNext gives the interviewer the best due case and puts their desk on
// it. An interviewer already on a case gets their desk back unchanged
// (nothing is claimed). survey.NotFound: no case is due for them now.
func (db *DB) ClaimNext(ctx context.Context, userID survey.UserID, userName string, now time.Time) (survey.Desk, error) {
	var d survey.Desk
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if d, err = lockDesk(ctx, tx, userID, now); err != nil {
			return err
		}
		if d.State.OnCase() {
			return nil
		}
		if !d.State.Can(survey.MoveClaim) {
			return notReady(d)
		}
		if d.CaseID, d.CampaignID, err = ClaimCase(ctx, tx, userID, userName, now); err != nil {
			return err
		}
		d.State, d.Since = survey.DeskOnCase, now
		if err := setDesk(ctx, tx, d, now); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "case.claimed", d, d.CampaignID, now, nil)
	})
	if err != nil {
		return survey.Desk{}, fmt.Errorf("claim a case for user %d: %w", userID, err)
	}
	return d, nil
}

// notReady refuses a case to a desk that is signed out or on a break.
func notReady(d survey.Desk) error {
	if d.State == survey.DeskBreak {
		return survey.Errorf(survey.EConflict, "you are on a break (%s): come back to take a case", d.Reason)
	}
	return survey.Errorf(survey.EConflict, "sign in to the console to take a case")
}

// SetPresence moves user's desk as move says: sign in (signed out → idle),
// sign out (idle or on a break → signed out; a desk on a case keeps it, and
// its case), a break with reason (idle → break) and back (break → idle). A
// move that does not apply to the desk changes nothing, so a second tab or a
// repeated sign-in is harmless, except a break or resume asked for at the
// wrong time: survey.Conflict.
func (db *DB) SetPresence(ctx context.Context, userID survey.UserID, move survey.DeskMove, reason string, now time.Time) (survey.Desk, error) {
	var d survey.Desk
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if d, err = lockDesk(ctx, tx, userID, now); err != nil {
			return err
		}
		if !d.State.Can(move) {
			switch move {
			case survey.MoveBreak:
				return survey.Errorf(survey.EConflict, "finish the case on your desk before a break (your desk is %s)", d.State.Text())
			case survey.MoveResume:
				return survey.Errorf(survey.EConflict, "you are not on a break (your desk is %s)", d.State.Text())
			}
			return nil
		}
		d.State, d.Reason, d.Since = move.To(), reason, now
		if err := setDesk(ctx, tx, d, now); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "desk."+string(d.State), d, 0, now, map[string]any{"reason": reason})
	})
	if err != nil {
		return survey.Desk{}, fmt.Errorf("%s for user %d: %w", move, userID, err)
	}
	return d, nil
}

// ClaimCase claims the best due case for interviewer userID at now (SKIP
// LOCKED: concurrent claims pass each other) and returns it with its
// campaign; survey.NotFound when none is due. It runs in the caller's
// transaction.
func ClaimCase(ctx context.Context, tx DBTX, userID survey.UserID, userName string, now time.Time) (survey.CaseID, survey.CampaignID, error) {
	var (
		caseID      survey.CaseID
		campaignID  survey.CampaignID
		interviewID survey.InterviewID
	)
	err := tx.QueryRow(ctx, sqlClaim, userID, now, userName, defaultSlices).Scan(&caseID, &campaignID, &interviewID)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, survey.NotFound
	}
	return caseID, campaignID, err
}

const sqlLockCase = `
SELECT sc.status, coalesce(sc.owner_user_id, 0), sc.campaign_id, ct.phone_e164, coalesce(sc.interview_id, 0)
FROM survey_case sc JOIN contact ct ON ct.id = sc.contact_id
WHERE sc.id = $1
FOR UPDATE OF sc`

type lockedCase struct {
	status      survey.CaseStatus
	owner       survey.UserID
	campaignID  survey.CampaignID
	phone       string
	interviewID survey.InterviewID
}

func lockCase(ctx context.Context, tx DBTX, caseID survey.CaseID) (lockedCase, error) {
	var c lockedCase
	err := tx.QueryRow(ctx, sqlLockCase, caseID).Scan(&c.status, &c.owner, &c.campaignID, &c.phone, &c.interviewID)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, survey.Errorf(survey.ENotFound, "no case %d", caseID)
	}
	return c, err
}

// ownDesk locks the user's desk and their case, and checks that the desk is
// on caseID in a state move may start from and that the case is still
// claimed by them.
func ownDesk(ctx context.Context, tx DBTX, userID survey.UserID, caseID survey.CaseID, now time.Time, move survey.DeskMove) (survey.Desk, lockedCase, error) {
	d, err := lockDesk(ctx, tx, userID, now)
	if err != nil {
		return d, lockedCase{}, err
	}
	if d.CaseID != caseID || caseID == 0 {
		return d, lockedCase{}, fmt.Errorf("desk is on case %d: %w", d.CaseID,
			survey.Errorf(survey.EConflict, "case %d is not on your desk any more; your screen has been refreshed", caseID))
	}
	if !d.State.Can(move) {
		return d, lockedCase{}, fmt.Errorf("desk is %s, not %v: %w", d.State, move.From(),
			survey.Errorf(survey.EConflict, "that step does not apply while your desk is %s; your screen has been refreshed", d.State.Text()))
	}
	c, err := lockCase(ctx, tx, caseID)
	if err != nil {
		return d, c, err
	}
	if c.status != survey.CaseClaimed || c.owner != userID {
		return d, c, fmt.Errorf("case %d is %s by user %d: %w", caseID, c.status, c.owner,
			survey.Errorf(survey.EConflict, "case %d is no longer yours (a supervisor reassigned, released or closed it)", caseID))
	}
	return d, c, nil
}

const (
	sqlStartAttempt = `
INSERT INTO attempt (case_id, direction, phone_e164, started_at, interviewer_id)
VALUES ($1, 'outbound', $2, $3, $4) RETURNING id`
	sqlCountAttempt = `UPDATE survey_case SET attempts = attempts + 1 WHERE id = $1`
)

// StartAttempt records a new outbound call attempt of case caseID to phone
// (placed by interviewer userID; zero: the dialer), counted against the
// campaign's maximum. A number on the system-wide or the campaign's
// do-not-call list is refused (survey.OnDNC, EConflict) and nothing is
// recorded. It runs in the caller's transaction.
func StartAttempt(ctx context.Context, tx DBTX, caseID survey.CaseID, phone string, userID survey.UserID, now time.Time) (survey.AttemptID, error) {
	if err := checkDNC(ctx, tx, caseID, phone, now); err != nil {
		return 0, err
	}
	var id survey.AttemptID
	if err := tx.QueryRow(ctx, sqlStartAttempt, caseID, phone, now, nullID(userID)).Scan(&id); err != nil {
		return 0, fmt.Errorf("start attempt of case %d: %w", caseID, err)
	}
	if _, err := tx.Exec(ctx, sqlCountAttempt, caseID); err != nil {
		return 0, fmt.Errorf("count attempt of case %d: %w", caseID, err)
	}
	return id, nil
}

// StartDial records that the interviewer is dialing their case: a new
// attempt, counted against the campaign's maximum.
func (db *DB) StartDial(ctx context.Context, userID survey.UserID, caseID survey.CaseID, now time.Time) (survey.Desk, error) {
	var d survey.Desk
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var (
			c   lockedCase
			err error
		)
		if d, c, err = ownDesk(ctx, tx, userID, caseID, now, survey.MoveDial); err != nil {
			return err
		}
		if d.AttemptID, err = StartAttempt(ctx, tx, caseID, c.phone, userID, now); err != nil {
			return err
		}
		d.State = survey.DeskDialing
		if err := setDesk(ctx, tx, d, now); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "desk.dialing", d, c.campaignID, now, nil)
	})
	if err != nil {
		return survey.Desk{}, fmt.Errorf("dial case %d for user %d: %w", caseID, userID, err)
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
func (db *DB) Connect(ctx context.Context, userID survey.UserID, caseID survey.CaseID, r survey.InterviewRecord, now time.Time) (survey.Desk, error) {
	var d survey.Desk
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var (
			c   lockedCase
			err error
		)
		if d, c, err = ownDesk(ctx, tx, userID, caseID, now, survey.MoveConnect); err != nil {
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
				return fmt.Errorf("no questionnaire %s version %d: %w", r.Questionnaire, r.Version, survey.NotFound)
			}
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, sqlCaseInterview, caseID, d.InterviewID); err != nil {
				return err
			}
		}
		d.State, d.Question = survey.DeskInterviewing, ""
		if err := setDesk(ctx, tx, d, now); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "interview.started", d, c.campaignID, now, nil)
	})
	if err != nil {
		return survey.Desk{}, fmt.Errorf("connect case %d for user %d: %w", caseID, userID, err)
	}
	return d, nil
}

const sqlSetQuestion = `
UPDATE interviewer_desk SET question = $3
WHERE user_id = $1 AND interview_id = $2 AND state = 'interviewing'`

// SetDeskQuestion remembers the question the interviewer backed up to (""
// once they move on), so that a reload shows the same question.
func (db *DB) SetDeskQuestion(ctx context.Context, userID survey.UserID, interviewID survey.InterviewID, question string) error {
	err := db.retry(ctx, func() error {
		tag, err := db.pool.Exec(ctx, sqlSetQuestion, userID, interviewID, question)
		if err == nil && tag.RowsAffected() == 0 {
			err = fmt.Errorf("desk is not on interview %d: %w", interviewID, survey.Conflict)
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
// survey.Conflict if it had already ended) and moves the desk to wrap-up.
// quotaCells are the quota cells a complete counts in.
func (db *DB) CompleteInterview(ctx context.Context, userID survey.UserID, caseID survey.CaseID, status survey.Status, lastQuestion string, quotaCells []string, alerts []survey.Alert, now time.Time) (survey.Desk, error) {
	var d survey.Desk
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var (
			c   lockedCase
			err error
		)
		if d, c, err = ownDesk(ctx, tx, userID, caseID, now, survey.MoveComplete); err != nil {
			return err
		}
		if err := finishInterviewAt(ctx, tx, d.InterviewID, status, "interviewer", lastQuestion, now); err != nil {
			return err
		}
		if err := raiseAlerts(ctx, tx, d.InterviewID, alerts, now); err != nil {
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
		d.State, d.Question = survey.DeskWrapUp, ""
		if err := setDesk(ctx, tx, d, now); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "interview.ended", d, c.campaignID, now, map[string]any{"status": status})
	})
	if err != nil {
		return survey.Desk{}, fmt.Errorf("end interview of case %d for user %d: %w", caseID, userID, err)
	}
	return d, nil
}

const sqlFinishInterviewAt = `
WITH done AS (
    UPDATE interview
    SET status = $2, ended_at = $5, end_cause = $3, last_question = $4
    WHERE id = $1 AND status = 'in_progress'
    RETURNING *)` + sqlInterviewEnded

// sqlCaseFinalized is the "case.finalized" event of a case just closed,
// notified: its final AAPOR code, attempts, interview and context.
const sqlCaseFinalized = `
WITH ins AS (
    INSERT INTO event (at, kind, campaign_id, interview_id, case_id, payload)
    SELECT $2, 'case.finalized', sc.campaign_id, sc.interview_id, sc.id,
           jsonb_build_object('final_disposition', sc.final_disposition, 'attempts', sc.attempts,
               'phone', ct.phone_e164, 'context', sc.context, 'interview_id', sc.interview_id)
    FROM survey_case sc JOIN contact ct ON ct.id = sc.contact_id WHERE sc.id = $1
    RETURNING id)
SELECT count(*) FROM (SELECT pg_notify('` + EventChannel + `', id::text) FROM ins) n`

// finishInterviewAt is finishInterview at a given time.
func finishInterviewAt(ctx context.Context, q DBTX, id survey.InterviewID, to survey.Status, cause, lastQuestion string, now time.Time) error {
	switch to {
	case survey.StatusComplete, survey.StatusPartial, survey.StatusBreakoff:
	default:
		return fmt.Errorf("%q is not a final status", to)
	}
	var n int
	if err := q.QueryRow(ctx, sqlFinishInterviewAt, id, string(to), cause, lastQuestion, now).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return notInProgress(ctx, q, id)
	}
	return nil
}

// EndCall moves the desk from the interview (or the dialing) to wrap-up
// without ending the interview: the respondent hung up or asked to be
// called back, and the wrap-up decides.
func (db *DB) EndCall(ctx context.Context, userID survey.UserID, caseID survey.CaseID, now time.Time) (survey.Desk, error) {
	var d survey.Desk
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var (
			c   lockedCase
			err error
		)
		if d, c, err = ownDesk(ctx, tx, userID, caseID, now, survey.MoveEndCall); err != nil {
			return err
		}
		d.State, d.Question = survey.DeskWrapUp, ""
		if err := setDesk(ctx, tx, d, now); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "desk.wrap_up", d, c.campaignID, now, nil)
	})
	if err != nil {
		return survey.Desk{}, fmt.Errorf("end call on case %d for user %d: %w", caseID, userID, err)
	}
	return d, nil
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

// Settle names what ApplyOutcome moves on: the case (locked by the caller),
// the attempt being settled and the case's interview (zero: none), who
// decided (zero: the system) and the interviewer an appointment is with
// (zero: anyone).
type Settle struct {
	Case           survey.CaseID
	Attempt        survey.AttemptID
	Interview      survey.InterviewID
	By             survey.UserID
	AppointmentFor survey.UserID
}

// ApplyOutcome moves a case on as o says (survey.Decide or survey.CloseAs
// made it): it ends the attempt with its code and the case's other open
// attempts, ends an interview in progress when o says so, settles pending
// appointments, and reopens, books or closes the case. It runs in the
// caller's transaction, which must hold the case's row.
func ApplyOutcome(ctx context.Context, tx DBTX, t Settle, o survey.Outcome, now time.Time) error {
	if t.Attempt != 0 {
		if _, err := tx.Exec(ctx, sqlEndAttempt, t.Attempt, now, string(o.AttemptCode), o.Note); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, sqlEndOpenAttempts, t.Case, now); err != nil {
		return err
	}
	if o.FinishInterview != "" && t.Interview != 0 {
		err := finishInterviewAt(ctx, tx, t.Interview, o.FinishInterview, "disposition", o.LastQuestion, now)
		switch {
		case err == nil:
			if err := raiseAlerts(ctx, tx, t.Interview, o.Alerts, now); err != nil {
				return err
			}
		case !errors.Is(err, survey.Conflict): // already ended: fine
			return err
		}
	}
	if _, err := tx.Exec(ctx, sqlKeepAppointments, t.Case, now); err != nil {
		return err
	}
	switch o.Status {
	case survey.CaseClosed:
		if _, err := tx.Exec(ctx, sqlCloseCase, t.Case, string(o.FinalCode), string(o.AttemptCode), now); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, sqlCaseFinalized, t.Case, now).Scan(&n); err != nil {
			return err
		}
	case survey.CaseOpen:
		if _, err := tx.Exec(ctx, sqlReopenCase, t.Case, string(survey.CaseOpen), o.NextAttemptAt, string(o.AttemptCode)); err != nil {
			return err
		}
		if o.NextNumber != "" {
			if _, err := tx.Exec(ctx, sqlNextNumber, t.Case, o.NextNumber, string(o.AttemptCode), now); err != nil {
				return fmt.Errorf("go on with case %d's next number: %w", t.Case, err)
			}
		}
	case survey.CaseAppointment:
		if _, err := tx.Exec(ctx, sqlReopenCase, t.Case, string(survey.CaseAppointment), o.AppointmentAt, string(o.AttemptCode)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlAddAppointment, t.Case, o.AppointmentAt, nullID(t.AppointmentFor), o.Note, nullID(t.By)); err != nil {
			return err
		}
	default:
		return fmt.Errorf("case status %q: want open, appointment or closed", o.Status)
	}
	if o.Note != "" {
		if _, err := tx.Exec(ctx, sqlAddNote, t.Case, t.By, now, o.Note); err != nil {
			return err
		}
	}
	if o.DoNotCall {
		if _, err := tx.Exec(ctx, sqlNeverCall, t.Case, now, t.By, o.Note); err != nil {
			return fmt.Errorf("list the number of case %d as do-not-call: %w", t.Case, err)
		}
	}
	return nil
}

// sqlNeverCall puts case $1's number on its campaign's do-not-call list, as
// added by user $3 from the console.
const sqlNeverCall = `
INSERT INTO dnc (phone_e164, campaign_id, added_at, added_by, source, note)
SELECT ct.phone_e164, sc.campaign_id, $2, coalesce((SELECT 'interviewer:' || name FROM app_user WHERE id = $3), 'system'), 'console', $4
FROM survey_case sc JOIN contact ct ON ct.id = sc.contact_id WHERE sc.id = $1
ON CONFLICT (phone_e164, coalesce(campaign_id, 0)) DO NOTHING`

// sqlNextNumber settles case $1's contact's current number as $3 at $4 and
// makes $2, one of its numbers, the one its cases call.
const sqlNextNumber = `
WITH c AS (SELECT contact_id FROM survey_case WHERE id = $1),
settled AS (
    UPDATE contact_number cn SET settled_at = $4, settled_as = $3
    FROM c, contact ct WHERE cn.contact_id = c.contact_id AND ct.id = c.contact_id AND cn.phone_e164 = ct.phone_e164)
UPDATE contact ct SET phone_e164 = $2
FROM c WHERE ct.id = c.contact_id
  AND EXISTS (SELECT 1 FROM contact_number cn WHERE cn.contact_id = c.contact_id AND cn.phone_e164 = $2)`

// nullID is a zero id as NULL.
func nullID[ID ~int64](id ID) *ID {
	if id == 0 {
		return nil
	}
	return &id
}

// WrapUp settles the interviewer's case as o says and frees their desk.
// survey.Conflict when the case is no longer theirs (a supervisor took it) or
// the desk has moved on, and when the desk has no call attempt (the case
// was never dialed) but o puts the case back in the queue: with no attempt
// counted it would come back forever, never reaching the campaign's
// maximum. Closing it, or booking a call back, needs no call.
func (db *DB) WrapUp(ctx context.Context, userID survey.UserID, caseID survey.CaseID, o survey.Outcome, now time.Time) (survey.Desk, error) {
	var d survey.Desk
	err := db.tx(ctx, func(tx pgx.Tx) error {
		d0, c, err := ownDesk(ctx, tx, userID, caseID, now, survey.MoveWrapUp)
		if err != nil {
			return err
		}
		if d0.AttemptID == 0 && o.Status == survey.CaseOpen {
			return survey.Errorf(survey.EConflict, "case %d was not dialed: dial it before recording what the call found", caseID)
		}
		if err := ApplyOutcome(ctx, tx, Settle{Case: caseID, Attempt: d0.AttemptID, Interview: c.interviewID, By: userID}, o, now); err != nil {
			return err
		}
		d = survey.Desk{UserID: userID, State: survey.DeskIdle, Since: now}
		if err := setDesk(ctx, tx, d, now); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "case.wrapped", survey.Desk{UserID: userID, State: survey.DeskIdle, CaseID: caseID, InterviewID: c.interviewID},
			c.campaignID, now, map[string]any{"case_status": o.Status, "final_code": o.FinalCode, "attempt_code": o.AttemptCode})
	})
	if err != nil {
		return survey.Desk{}, fmt.Errorf("wrap up case %d for user %d: %w", caseID, userID, err)
	}
	return d, nil
}

// supervise runs fn on case caseID with the desks of its owner and of the
// other users locked (in user-id order, before the case, as interviewers
// lock them), and checks that the owner did not change meanwhile.
func (db *DB) supervise(ctx context.Context, caseID survey.CaseID, others []survey.UserID, now time.Time, fn func(tx pgx.Tx, c lockedCase, desks map[survey.UserID]survey.Desk) error) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var owner survey.UserID
		err := tx.QueryRow(ctx, `SELECT coalesce(owner_user_id, 0) FROM survey_case WHERE id = $1`, caseID).Scan(&owner)
		if errors.Is(err, pgx.ErrNoRows) {
			return survey.Errorf(survey.ENotFound, "no case %d", caseID)
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
		desks := map[survey.UserID]survey.Desk{}
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
			return survey.Errorf(survey.EConflict, "case %d changed hands meanwhile; reload and try again", caseID)
		}
		return fn(tx, c, desks)
	})
}

// freeOwner moves the owner's desk off the case, if it is on it.
func freeOwner(ctx context.Context, tx DBTX, c lockedCase, caseID survey.CaseID, desks map[survey.UserID]survey.Desk, now time.Time) error {
	if c.owner == 0 {
		return nil
	}
	if d := desks[c.owner]; d.CaseID == caseID {
		if err := setDesk(ctx, tx, survey.Desk{UserID: c.owner, State: survey.DeskIdle}, now); err != nil {
			return err
		}
	}
	return nil
}

const sqlIsInterviewer = `SELECT role = 'interviewer' AND NOT disabled FROM app_user WHERE id = $1`

// canTake checks that user to is an active interviewer and case caseID,
// locked as c, is not closed.
func canTake(ctx context.Context, tx DBTX, c lockedCase, caseID survey.CaseID, to survey.UserID, toName string) error {
	var ok bool
	if err := tx.QueryRow(ctx, sqlIsInterviewer, to).Scan(&ok); errors.Is(err, pgx.ErrNoRows) || !ok {
		return fmt.Errorf("user %d: %w", to, survey.Errorf(survey.ENotFound, "%s is not an active interviewer", toName))
	} else if err != nil {
		return err
	}
	if c.status == survey.CaseClosed {
		return survey.Errorf(survey.EConflict, "case %d is closed", caseID)
	}
	return nil
}

const sqlReassign = `UPDATE survey_case SET status = 'claimed', owner = 'interviewer:' || $3, owner_user_id = $2 WHERE id = $1`

// Reassign gives case caseID to interviewer to, whose desk must be idle; the
// previous owner's desk, if any, is freed and an open call attempt ended.
// An interview in progress stays in progress for the new interviewer to
// resume. survey.Conflict: the case is closed or the new interviewer is busy.
// survey.NotFound: no such case, or to is not an active interviewer.
func (db *DB) Reassign(ctx context.Context, actor string, caseID survey.CaseID, to survey.UserID, toName string, now time.Time) error {
	err := db.supervise(ctx, caseID, []survey.UserID{to}, now, func(tx pgx.Tx, c lockedCase, desks map[survey.UserID]survey.Desk) error {
		if err := canTake(ctx, tx, c, caseID, to, toName); err != nil {
			return err
		}
		if c.owner == to {
			return nil
		}
		if d := desks[to]; d.State != survey.DeskIdle {
			return fmt.Errorf("user %d: %w", to, notIdle(toName, d))
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
		nd := survey.Desk{UserID: to, State: survey.DeskOnCase, CaseID: caseID}
		if err := setDesk(ctx, tx, nd, now); err != nil {
			return err
		}
		if err := audit(ctx, tx, actor, "case.reassign", fmt.Sprintf("case:%d", caseID), map[string]any{"from": c.owner, "to": to}); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "case.reassigned", nd, c.campaignID, now, map[string]any{"users": []survey.UserID{c.owner, to}, "by": actor})
	})
	if err != nil {
		return fmt.Errorf("reassign case %d to user %d: %w", caseID, to, err)
	}
	return nil
}

// notIdle refuses a case to an interviewer who is not at her console, ready.
func notIdle(name string, d survey.Desk) error {
	switch d.State {
	case survey.DeskSignedOut:
		return survey.Errorf(survey.EConflict, "interviewer %s is signed out: a case goes only to an interviewer at the console, ready", name)
	case survey.DeskBreak:
		return survey.Errorf(survey.EConflict, "interviewer %s is on a break (%s): a case goes only to an interviewer ready for one", name, d.Reason)
	}
	return survey.Errorf(survey.EConflict, "interviewer %s is busy (%s): a case goes only to an idle interviewer", name, d.State.Text())
}

const (
	sqlHoldForAppointment = `UPDATE survey_case SET status = 'appointment', owner = '', owner_user_id = NULL WHERE id = $1`
	sqlAppointmentTo      = `UPDATE appointment SET interviewer_id = $2 WHERE case_id = $1 AND status = 'pending'`
)

// ReassignAppointment gives case caseID's booked call back to interviewer
// to: the case waits for it (off any desk, its open attempt ended), and
// only to may take it when it is due. She need not be at the console now.
func (db *DB) ReassignAppointment(ctx context.Context, actor string, caseID survey.CaseID, to survey.UserID, toName string, now time.Time) error {
	err := db.supervise(ctx, caseID, nil, now, func(tx pgx.Tx, c lockedCase, desks map[survey.UserID]survey.Desk) error {
		if err := canTake(ctx, tx, c, caseID, to, toName); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, sqlAppointmentTo, caseID, to)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return survey.Errorf(survey.EConflict, "case %d has no call back booked any more; reload and try again", caseID)
		}
		if err := freeOwner(ctx, tx, c, caseID, desks, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlEndOpenAttempts, caseID, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlHoldForAppointment, caseID); err != nil {
			return err
		}
		if err := audit(ctx, tx, actor, "case.reassign", fmt.Sprintf("case:%d", caseID), map[string]any{"from": c.owner, "to": to, "appointment": true}); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "case.reassigned", survey.Desk{UserID: c.owner, State: survey.DeskIdle, CaseID: caseID}, c.campaignID, now,
			map[string]any{"users": []survey.UserID{c.owner, to}, "by": actor, "appointment": true})
	})
	if err != nil {
		return fmt.Errorf("reassign the call back of case %d to user %d: %w", caseID, to, err)
	}
	return nil
}

const sqlPendingAppointment = `SELECT EXISTS (SELECT 1 FROM appointment WHERE case_id = $1 AND status = 'pending')`

const sqlCaseHasComplete = `SELECT EXISTS (SELECT 1 FROM interview WHERE case_id = $1 AND status = 'complete')`

// Release takes case caseID from its interviewer and puts it back in the
// queue, due now or at the retry time it already had (or at its pending
// appointment). survey.Conflict if it is
// closed or its interview is complete.
func (db *DB) Release(ctx context.Context, actor string, caseID survey.CaseID, now time.Time) error {
	err := db.supervise(ctx, caseID, nil, now, func(tx pgx.Tx, c lockedCase, desks map[survey.UserID]survey.Desk) error {
		if c.status == survey.CaseClosed {
			return survey.Errorf(survey.EConflict, "case %d is closed", caseID)
		}
		// A released case is called again: never one whose respondent
		// already completed the interview.
		var complete bool
		if err := tx.QueryRow(ctx, sqlCaseHasComplete, caseID).Scan(&complete); err != nil {
			return err
		}
		if complete {
			return survey.Errorf(survey.EConflict, "case %d has a complete interview; set disposition 1.1 instead of releasing it", caseID)
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
		// Due now, or when a retry delay already set says: a release takes
		// the case from a desk, it does not hurry the next call.
		status, at := "open", now
		if err := tx.QueryRow(ctx, `SELECT greatest(next_attempt_at, $2) FROM survey_case WHERE id = $1`, caseID, now).Scan(&at); err != nil {
			return err
		}
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
		return deskEvent(ctx, tx, "case.released", survey.Desk{UserID: c.owner, State: survey.DeskIdle, CaseID: caseID}, c.campaignID, now,
			map[string]any{"users": []survey.UserID{c.owner}, "by": actor})
	})
	if err != nil {
		return fmt.Errorf("release case %d: %w", caseID, err)
	}
	return nil
}

// SetDisposition closes case caseID with a final disposition chosen by a
// supervisor: the owner's desk is freed, an open attempt ended, and an
// interview in progress ended as o.FinishInterview. survey.Conflict if the case
// is already closed.
func (db *DB) SetDisposition(ctx context.Context, actor string, actorID survey.UserID, caseID survey.CaseID, o survey.Outcome, now time.Time) error {
	err := db.supervise(ctx, caseID, nil, now, func(tx pgx.Tx, c lockedCase, desks map[survey.UserID]survey.Desk) error {
		if c.status == survey.CaseClosed {
			return survey.Errorf(survey.EConflict, "case %d is already closed", caseID)
		}
		if err := freeOwner(ctx, tx, c, caseID, desks, now); err != nil {
			return err
		}
		o.Status = survey.CaseClosed
		if err := ApplyOutcome(ctx, tx, Settle{Case: caseID, Interview: c.interviewID, By: actorID}, o, now); err != nil {
			return err
		}
		if err := audit(ctx, tx, actor, "case.disposition", fmt.Sprintf("case:%d", caseID),
			map[string]any{"from": c.owner, "code": o.FinalCode, "note": o.Note}); err != nil {
			return err
		}
		return deskEvent(ctx, tx, "case.disposition", survey.Desk{UserID: c.owner, State: survey.DeskIdle, CaseID: caseID}, c.campaignID, now,
			map[string]any{"users": []survey.UserID{c.owner}, "by": actor, "code": o.FinalCode})
	})
	if err != nil {
		return fmt.Errorf("set disposition of case %d: %w", caseID, err)
	}
	return nil
}
