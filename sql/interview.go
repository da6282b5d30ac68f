// Interview store: interviews and their answers. Each answer is committed on
// its own, before the next prompt plays; an interview leaves in_progress once,
// by compare-and-set, and after that its answers no longer change.

package sql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/survey"
)

// sqlStartInterview links the interview of a case to the case at once, so
// a keypad interview left in progress is found for the call back.
const sqlStartInterview = `
WITH iv AS (
    INSERT INTO interview (questionnaire_id, version, mode, language, context, contact, started_at, case_id, attempt_id, node_id)
    VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()), nullif($8, 0), nullif($9, 0), nullif($10, 0))
    RETURNING id, case_id),
link AS (UPDATE survey_case sc SET interview_id = iv.id FROM iv WHERE sc.id = iv.case_id)
SELECT id FROM iv`

// StartInterview stores r as a new interview in progress, started now unless
// r.StartedAt is set; r's status, end and answers are ignored. The
// questionnaire version must exist, and so must r's case and attempt when
// they are set (survey.NotFound).
func (db *DB) StartInterview(ctx context.Context, r survey.InterviewRecord) (survey.InterviewID, error) {
	var id survey.InterviewID
	err := db.retry(ctx, func() (err error) {
		id, err = startInterview(ctx, db.pool, r)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("start interview of %s version %d: %w", r.Questionnaire, r.Version, err)
	}
	return id, nil
}

func startInterview(ctx context.Context, q DBTX, r survey.InterviewRecord) (survey.InterviewID, error) {
	ictx, err := json.Marshal(r.Context)
	if err != nil {
		return 0, err
	}
	contact := r.Contact
	if contact == nil {
		contact = map[string]string{}
	}
	ccontact, err := json.Marshal(contact)
	if err != nil {
		return 0, err
	}
	var id survey.InterviewID
	err = q.QueryRow(ctx, sqlStartInterview, r.Questionnaire, r.Version, string(r.Mode), r.Language,
		ictx, ccontact, nullTime(r.StartedAt), r.CaseID, r.AttemptID, r.Node).Scan(&id)
	if pgCode(err) == codeForeignKeyViolation {
		return 0, fmt.Errorf("no such questionnaire version, case or attempt: %w", survey.NotFound)
	}
	return id, err
}

// The FOR SHARE lock makes a concurrent FinishInterview wait for this answer,
// or this answer see the interview finished and insert nothing.
const sqlSaveAnswer = `
INSERT INTO answer (interview_id, question_id, value, skipped, paradata, answered_at)
SELECT i.id, $2::text, $3::jsonb, $4::boolean, $5::jsonb, coalesce($6::timestamptz, now())
FROM interview i
WHERE i.id = $1 AND i.status = 'in_progress'
FOR SHARE
ON CONFLICT (interview_id, question_id) DO UPDATE
SET value = excluded.value, skipped = excluded.skipped, paradata = excluded.paradata, answered_at = excluded.answered_at`

// SaveAnswer stores a, replacing an earlier answer to the same question,
// committed before it returns, and deletes the answers to cleared, which a
// changed answer made irrelevant (an irrelevant question's answer is NULL),
// in the same transaction: no crash leaves one without the other. A skipped
// answer is stored with a null value. survey.Conflict if the interview is no
// longer in progress, survey.NotFound if there is no such interview.
//
// It is idempotent (an upsert on the interview and question, and a delete),
// so it is retried even when the connection was lost mid-commit: the answer
// is stored once.
func (db *DB) SaveAnswer(ctx context.Context, id survey.InterviewID, a survey.Answer, cleared ...string) error {
	err := db.retryIdempotent(ctx, func() error {
		if len(cleared) == 0 {
			return saveAnswer(ctx, db.pool, id, a) // one statement: no transaction to pay for
		}
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			if err := saveAnswer(ctx, tx, id, a); err != nil {
				return err
			}
			return clearAnswers(ctx, tx, id, cleared)
		})
	})
	if err != nil {
		return fmt.Errorf("save answer %s of interview %d (clearing %v): %w", a.Question, id, cleared, err)
	}
	return nil
}

func saveAnswer(ctx context.Context, q DBTX, id survey.InterviewID, a survey.Answer) error {
	value := []byte("null")
	if !a.Skipped && a.Value != nil {
		var err error
		if value, err = json.Marshal(a.Value); err != nil {
			return err
		}
	}
	paradata, err := json.Marshal(a.Paradata)
	if err != nil {
		return err
	}
	tag, err := q.Exec(ctx, sqlSaveAnswer, id, a.Question, value, a.Skipped, paradata, nullTime(a.AnsweredAt))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return notInProgress(ctx, q, id)
	}
	return nil
}

const (
	sqlClearAnswersLock = `SELECT status FROM interview WHERE id = $1 FOR SHARE`
	sqlClearAnswers     = `DELETE FROM answer WHERE interview_id = $1 AND question_id = ANY($2)`
)

// ClearAnswers deletes the answers to questions, which a back-up made
// irrelevant (an irrelevant question's answer is NULL). Same rule as
// SaveAnswer: survey.Conflict once the interview is no longer in progress.
func (db *DB) ClearAnswers(ctx context.Context, id survey.InterviewID, questions []string) error {
	err := db.retryIdempotent(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return clearAnswers(ctx, tx, id, questions) })
	})
	if err != nil {
		return fmt.Errorf("clear answers %v of interview %d: %w", questions, id, err)
	}
	return nil
}

// clearAnswers must run in a transaction, which holds the interview row.
func clearAnswers(ctx context.Context, tx DBTX, id survey.InterviewID, questions []string) error {
	var status survey.Status
	if err := tx.QueryRow(ctx, sqlClearAnswersLock, id).Scan(&status); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return survey.NotFound
		}
		return err
	}
	if status != survey.StatusInProgress {
		return fmt.Errorf("interview is %s: %w", status, survey.Conflict)
	}
	_, err := tx.Exec(ctx, sqlClearAnswers, id, questions)
	return err
}

const (
	// sqlDiscardInterview deletes an interview in progress without
	// answers, returning what the call's attempt keeps.
	sqlDiscardInterview = `
DELETE FROM interview i WHERE i.id = $1 AND i.status = 'in_progress'
  AND NOT EXISTS (SELECT 1 FROM answer a WHERE a.interview_id = i.id)
RETURNING i.started_at, coalesce(i.context->>'call_id', ''), coalesce(i.context->>'caller_number', ''),
          i.case_id, i.attempt_id`
	sqlEndDialedAttempt = `
UPDATE attempt SET ended_at = coalesce(ended_at, now()), talk_ms = coalesce(talk_ms, (extract(epoch FROM now() - $2::timestamptz) * 1000)::int)
WHERE id = $1`
	sqlInboundAttempt = `
INSERT INTO attempt (case_id, direction, channel, phone_e164, started_at, answered_at, ended_at, talk_ms)
VALUES (NULL, 'inbound', $1, $2, $3, $3, now(), (extract(epoch FROM now() - $3::timestamptz) * 1000)::int)`
)

// DiscardInterview removes interview id, in progress and without answers,
// which never started: the caller's audio never arrived. The call is kept as
// an attempt (the dialed one, ended; or a new inbound one). It is not an
// interview, so no break-off is counted. survey.Conflict if it has answers
// or has ended; survey.NotFound if there is no such interview. The cause
// goes to the log: an attempt has no column for it.
func (db *DB) DiscardInterview(ctx context.Context, id survey.InterviewID, cause string) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var (
			started       time.Time
			callID, phone string
			caseID        *survey.CaseID
			attemptID     *survey.AttemptID
		)
		err := tx.QueryRow(ctx, sqlDiscardInterview, id).Scan(&started, &callID, &phone, &caseID, &attemptID)
		if errors.Is(err, pgx.ErrNoRows) {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM answer WHERE interview_id = $1`, id).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return survey.Errorf(survey.EConflict, "interview %d has answers", id)
			}
			return notInProgress(ctx, tx, id)
		}
		if err != nil {
			return err
		}
		if attemptID != nil {
			_, err = tx.Exec(ctx, sqlEndDialedAttempt, *attemptID, started)
			return err
		}
		_, err = tx.Exec(ctx, sqlInboundAttempt, callID, phone, started)
		return err
	})
	if err != nil {
		return fmt.Errorf("discard interview %d (%s): %w", id, cause, err)
	}
	return nil
}

const sqlFinishInterview = `
WITH done AS (
    UPDATE interview
    SET status = $2, ended_at = now(), end_cause = $3, last_question = $4
    WHERE id = $1 AND status = 'in_progress'
    RETURNING *)` + sqlInterviewEnded

// sqlInterviewEnded follows a CTE done (the interview just ended) with its
// "interview.ended" event, notified, in the same statement; it returns 1
// when the interview ended, 0 when it was not in progress. The event says
// how it ended, its context and its answers, for the webhooks.
const sqlInterviewEnded = `,
ins AS (
    INSERT INTO event (at, kind, campaign_id, interview_id, case_id, payload)
    SELECT d.ended_at, 'interview.ended', sc.campaign_id, d.id, d.case_id,
           jsonb_build_object('status', d.status, 'end_cause', d.end_cause, 'questionnaire', d.questionnaire_id,
               'version', d.version, 'mode', d.mode, 'language', d.language, 'context', d.context,
               'started_at', d.started_at, 'ended_at', d.ended_at,
               'answers', coalesce((SELECT jsonb_object_agg(a.question_id, a.value) FROM answer a WHERE a.interview_id = d.id), '{}'::jsonb))
    FROM done d LEFT JOIN survey_case sc ON sc.id = d.case_id
    RETURNING id)
SELECT count(*) FROM (SELECT pg_notify('` + EventChannel + `', id::text) FROM ins) n`

// FinishInterview moves the interview from in_progress to status to, once:
// survey.Conflict if it had already ended (the other side of a hangup/timeout race
// won), survey.NotFound if there is no such interview.
func (db *DB) FinishInterview(ctx context.Context, id survey.InterviewID, to survey.Status, cause, lastQuestion string) error {
	err := db.finishOnce(ctx, id, to, cause, func() error { return finishInterview(ctx, db.pool, id, to, cause, lastQuestion) })
	if err != nil {
		return fmt.Errorf("finish interview %d as %s: %w", id, to, err)
	}
	return nil
}

const sqlEndedAs = `SELECT status = $2 AND end_cause = $3 FROM interview WHERE id = $1`

// finishOnce runs finish, which ends interview id as to with cause, and
// runs it again when the connection was lost. A try that then finds the
// interview already ended exactly so means that the lost one committed: it
// succeeded, rather than conflicting with itself.
func (db *DB) finishOnce(ctx context.Context, id survey.InterviewID, to survey.Status, cause string, finish func() error) error {
	tries := 0
	return db.retryIdempotent(ctx, func() error {
		tries++
		err := finish()
		if tries > 1 && errors.Is(err, survey.Conflict) {
			var same bool
			if qerr := db.pool.QueryRow(ctx, sqlEndedAs, id, string(to), cause).Scan(&same); qerr == nil && same {
				return nil
			}
		}
		return err
	})
}

func finishInterview(ctx context.Context, q DBTX, id survey.InterviewID, to survey.Status, cause, lastQuestion string) error {
	switch to {
	case survey.StatusComplete, survey.StatusPartial, survey.StatusBreakoff:
	default:
		return fmt.Errorf("%q is not a final status", to)
	}
	var n int
	if err := q.QueryRow(ctx, sqlFinishInterview, id, string(to), cause, lastQuestion).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return notInProgress(ctx, q, id)
	}
	return nil
}

const sqlInterviewStatus = `SELECT status FROM interview WHERE id = $1`

// notInProgress explains why a compare-and-set on interview id changed
// nothing: survey.NotFound or survey.Conflict.
func notInProgress(ctx context.Context, q DBTX, id survey.InterviewID) error {
	var status survey.Status
	err := q.QueryRow(ctx, sqlInterviewStatus, id).Scan(&status)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return survey.NotFound
	case err != nil:
		return err
	}
	return fmt.Errorf("interview is %s: %w", status, survey.Conflict)
}

// sqlSelectInterviews selects the columns scanInterview reads; answers (as
// one jsonb array per interview) only when the last parameter is true.
const sqlSelectInterviews = `
SELECT i.id, i.questionnaire_id, i.version, i.mode, i.language, i.status, i.context, i.contact,
       i.started_at, i.ended_at, i.end_cause, i.last_question, coalesce(i.case_id, 0), coalesce(i.attempt_id, 0),
       (SELECT jsonb_build_object('campaign', cp.name, 'disposition', coalesce(sc.final_disposition, ''),
                                  'phone', ct.phone_e164, 'fields', ct.attrs)
        FROM survey_case sc JOIN campaign cp ON cp.id = sc.campaign_id JOIN contact ct ON ct.id = sc.contact_id
        WHERE sc.id = i.case_id),
       CASE WHEN $1::boolean THEN (
           SELECT jsonb_agg(jsonb_build_object('q', a.question_id, 'v', a.value, 's', a.skipped,
                                               'p', a.paradata, 't', a.answered_at)
                            ORDER BY a.answered_at, a.question_id)
           FROM answer a WHERE a.interview_id = i.id)
       END
FROM interview i`

const sqlInterview = sqlSelectInterviews + `
WHERE i.id = $2`

// Interview returns interview id with its answers in the order they were
// given; survey.NotFound if there is none.
func (db *DB) Interview(ctx context.Context, id survey.InterviewID) (survey.InterviewRecord, error) {
	var r survey.InterviewRecord
	err := db.retry(ctx, func() error {
		rows, err := db.pool.Query(ctx, sqlInterview, true, id)
		if err != nil {
			return err
		}
		r, err = pgx.CollectExactlyOneRow(rows, scanInterview)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = survey.NotFound
	}
	if err != nil {
		return survey.InterviewRecord{}, fmt.Errorf("load interview %d: %w", id, err)
	}
	return r, nil
}

// InterviewFilter selects interviews; it is declared in survey so that the
// API can use it without importing this package.
type InterviewFilter = survey.InterviewFilter

func filterString(f InterviewFilter) string {
	return fmt.Sprintf("questionnaire %q status %q mode %q from %s to %s after %d", f.Questionnaire, f.Status,
		f.Mode, f.From.Format(time.RFC3339), f.To.Format(time.RFC3339), f.AfterID)
}

const sqlInterviews = sqlSelectInterviews + `
WHERE ($2 = '' OR i.questionnaire_id = $2)
  AND ($3 = '' OR i.status = $3)
  AND ($4::timestamptz IS NULL OR i.started_at >= $4)
  AND ($5::timestamptz IS NULL OR i.started_at < $5)
  AND i.id > $6
  AND ($8 = '' OR i.mode = $8)
  AND (NOT $9 OR i.case_id IS NULL
       OR NOT EXISTS (SELECT 1 FROM survey_case sc WHERE sc.id = i.case_id AND sc.interview_id = i.id AND sc.status <> 'closed'))
  AND ($10::bigint = 0 OR i.node_id IN (SELECT n.id FROM node n WHERE n.seen_at < now() - $10 * interval '1 millisecond'))
ORDER BY i.id
LIMIT $7`

// Interviews lists the interviews f selects (an empty slice if none). For
// the next page, call again with AfterID set to the last id returned.
func (db *DB) Interviews(ctx context.Context, f InterviewFilter) ([]survey.InterviewRecord, error) {
	rs := []survey.InterviewRecord{}
	err := db.EachInterview(ctx, f, func(r survey.InterviewRecord) error {
		rs = append(rs, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// eachPage is how many interviews EachInterview reads per query.
const eachPage = 500

// EachInterview calls fn with each interview f selects, oldest first, so
// that an export of many interviews does not hold them all in memory. It
// reads them a page at a time and holds no connection while fn runs: a
// client that reads an export slowly, or stops reading, cannot starve the
// pool that answers are saved through. An error from fn stops it and is
// returned.
func (db *DB) EachInterview(ctx context.Context, f InterviewFilter, fn func(survey.InterviewRecord) error) error {
	if f.Limit < 0 {
		return fmt.Errorf("list interviews (%s): negative limit %d", filterString(f), f.Limit)
	}
	left := f.Limit // 0: no limit
	for {
		page := f
		page.Limit = eachPage
		if left > 0 && left < eachPage {
			page.Limit = left
		}
		var rs []survey.InterviewRecord
		err := db.retry(ctx, func() error {
			rs = rs[:0]
			return eachInterview(ctx, db.pool, page, func(r survey.InterviewRecord) error {
				rs = append(rs, r)
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("list interviews (%s): %w", filterString(page), err)
		}
		for _, r := range rs {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(rs) < page.Limit {
			return nil
		}
		if left > 0 {
			if left -= len(rs); left == 0 {
				return nil
			}
		}
		f.AfterID = rs[len(rs)-1].ID
	}
}

func eachInterview(ctx context.Context, q DBTX, f InterviewFilter, fn func(survey.InterviewRecord) error) error {
	if f.Limit < 0 {
		return fmt.Errorf("negative limit %d", f.Limit)
	}
	var limit *int
	if f.Limit > 0 {
		limit = &f.Limit
	}
	rows, err := q.Query(ctx, sqlInterviews, f.WithAnswers, f.Questionnaire, string(f.Status),
		nullTime(f.From), nullTime(f.To), f.AfterID, limit, string(f.Mode), f.Unheld, f.NodeSilentFor.Milliseconds())
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanInterview(rows)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// storedAnswer is one element of the answers jsonb array of sqlSelectInterviews.
type storedAnswer struct {
	Question   string          `json:"q"`
	Value      json.RawMessage `json:"v"`
	Skipped    bool            `json:"s"`
	Paradata   survey.Paradata `json:"p"`
	AnsweredAt time.Time       `json:"t"`
}

func scanInterview(row pgx.CollectableRow) (survey.InterviewRecord, error) {
	var (
		r                          survey.InterviewRecord
		ictx, contact, answers     []byte
		sample                     []byte
		started                    time.Time
		ended                      *time.Time
		mode, status, lastQuestion string
	)
	err := row.Scan(&r.ID, &r.Questionnaire, &r.Version, &mode, &r.Language, &status, &ictx, &contact,
		&started, &ended, &r.EndCause, &lastQuestion, &r.CaseID, &r.AttemptID, &sample, &answers)
	if err != nil {
		return r, err
	}
	if sample != nil {
		var l struct {
			Campaign    string            `json:"campaign"`
			Disposition string            `json:"disposition"`
			Phone       string            `json:"phone"`
			Fields      map[string]string `json:"fields"`
		}
		if err := json.Unmarshal(sample, &l); err != nil {
			return r, fmt.Errorf("interview %d case: %w", r.ID, err)
		}
		r.Sample = &survey.SampleLink{Campaign: l.Campaign, Disposition: survey.DispositionCode(l.Disposition), Phone: l.Phone, Fields: l.Fields}
	}
	r.Mode, r.Status, r.LastQuestion = survey.Mode(mode), survey.Status(status), lastQuestion
	r.StartedAt = started.UTC()
	if ended != nil {
		t := ended.UTC()
		r.EndedAt = &t
	}
	if err := json.Unmarshal(ictx, &r.Context); err != nil {
		return r, fmt.Errorf("interview %d context: %w", r.ID, err)
	}
	if err := json.Unmarshal(contact, &r.Contact); err != nil {
		return r, fmt.Errorf("interview %d contact: %w", r.ID, err)
	}
	if len(r.Contact) == 0 {
		r.Contact = nil
	}
	if answers == nil {
		return r, nil
	}
	var stored []storedAnswer
	if err := json.Unmarshal(answers, &stored); err != nil {
		return r, fmt.Errorf("interview %d answers: %w", r.ID, err)
	}
	r.Answers = make([]survey.Answer, len(stored))
	for i, s := range stored {
		v, err := decodeValue(s.Value)
		if err != nil {
			return r, fmt.Errorf("interview %d answer %s: %w", r.ID, s.Question, err)
		}
		r.Answers[i] = survey.Answer{Question: s.Question, Value: v, Skipped: s.Skipped,
			Paradata: s.Paradata, AnsweredAt: s.AnsweredAt.UTC()}
	}
	return r, nil
}

// decodeValue turns a stored answer value back into Go: integral numbers to
// int64 (other numbers to float64), bools, strings, arrays of strings to
// []string; null to nil. The engine normalizes further per question type.
func decodeValue(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return normalize(v), nil
}

func normalize(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, err := v.Float64()
		if err != nil {
			return v.String()
		}
		if f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
			return int64(f) // jsonb keeps "3.0" as written
		}
		return f
	case []any:
		strs := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				for i := range v {
					v[i] = normalize(v[i])
				}
				return v
			}
			strs = append(strs, s)
		}
		return strs
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
		return v
	}
	return v
}

// nullTime is NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
