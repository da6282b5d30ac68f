// Transcript store: voice answers waiting for the speech-to-text service,
// claimed one at a time, and their text once transcribed.

package sql

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/survey"
)

const sqlPendingRecordings = `
SELECT a.interview_id, a.question_id, a.value #>> '{}', i.language
FROM answer a
JOIN interview i ON i.id = a.interview_id
LEFT JOIN transcript t ON t.interview_id = a.interview_id AND t.question_id = a.question_id
WHERE a.paradata ? 'recording_ms' AND NOT a.skipped AND jsonb_typeof(a.value) = 'string'
  AND a.answered_at >= $3
  AND (t.status IS NULL OR (t.status IN ('working', 'retry') AND t.next_attempt_at <= $2))
ORDER BY a.answered_at
LIMIT $1`

const sqlClaimRecording = `
INSERT INTO transcript (interview_id, question_id, recording, status, attempts, next_attempt_at, updated_at)
VALUES ($1, $2, $3, 'working', 1, $5, $4)
ON CONFLICT (interview_id, question_id) DO UPDATE
SET status = 'working', attempts = transcript.attempts + 1, next_attempt_at = $5, updated_at = $4
WHERE transcript.status IN ('working', 'retry') AND transcript.next_attempt_at <= $4
RETURNING attempts`

// PendingRecordings is up to limit voice answers given since since that
// have no transcript yet, or whose retry (or a lapsed claim) is due at now.
func (db *DB) PendingRecordings(ctx context.Context, limit int, since, now time.Time) ([]survey.PendingRecording, error) {
	return collect(ctx, db, "find recordings to transcribe", pgx.RowToStructByPos[survey.PendingRecording], sqlPendingRecordings, limit, now, since)
}

// ClaimRecording takes p for transcription until lease from now; ok is
// false when another node holds it or it is done. attempts counts this
// one.
func (db *DB) ClaimRecording(ctx context.Context, p survey.PendingRecording, now time.Time, lease time.Duration) (attempts int, ok bool, err error) {
	err = db.retry(ctx, func() error {
		return db.pool.QueryRow(ctx, sqlClaimRecording, p.Interview, p.Question, p.Recording, now, now.Add(lease)).Scan(&attempts)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("claim the recording of interview %d, %s: %w", p.Interview, p.Question, err)
	}
	return attempts, true, nil
}

// SaveTranscript records the outcome of a claimed recording: its text
// (done), or the error and when to try again (retry; failed when retry
// is zero).
func (db *DB) SaveTranscript(ctx context.Context, id survey.InterviewID, question, text, failure string, now time.Time, retry time.Time) error {
	status := "done"
	switch {
	case failure != "" && retry.IsZero():
		status = "failed"
	case failure != "":
		status = "retry"
	}
	if retry.IsZero() {
		retry = now
	}
	err := db.retry(ctx, func() error {
		_, err := db.pool.Exec(ctx, `UPDATE transcript SET status = $3, text = $4, error = $5, next_attempt_at = $6, updated_at = $7
WHERE interview_id = $1 AND question_id = $2`, id, question, status, text, failure, retry, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("save the transcript of interview %d, %s: %w", id, question, err)
	}
	return nil
}

// Transcripts is the text of question's transcribed voice answers in
// questionnaire's interviews started in [from, to), by interview.
func (db *DB) Transcripts(ctx context.Context, questionnaire, question string, from, to time.Time) (map[survey.InterviewID]string, error) {
	out := map[survey.InterviewID]string{}
	err := db.retry(ctx, func() error {
		clear(out)
		rows, err := db.pool.Query(ctx, `
SELECT t.interview_id, t.text FROM transcript t JOIN interview i ON i.id = t.interview_id
WHERE t.status = 'done' AND t.question_id = $2 AND i.questionnaire_id = $1
  AND ($3::timestamptz IS NULL OR i.started_at >= $3) AND ($4::timestamptz IS NULL OR i.started_at < $4)`,
			questionnaire, question, nullTime(from), nullTime(to))
		if err != nil {
			return err
		}
		var (
			id   survey.InterviewID
			text string
		)
		_, err = pgx.ForEachRow(rows, []any{&id, &text}, func() error {
			out[id] = text
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("transcripts of %s, %s: %w", questionnaire, question, err)
	}
	return out, nil
}
