// Report store: the counts behind a questionnaire's report, per group (day,
// touchpoint, agent or queue), from three GROUP BY queries over one snapshot.
// survey.BuildReport turns them into NPS, CSAT, CES and completion rates.

package sql

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/survey"
)

// sqlReportInterviews is the interviews a report covers and their group:
// $1 questionnaire, [$2, $3) started (NULL: unbounded), $4 grouping.
const sqlReportInterviews = `
WITH i AS (
    SELECT id, status, last_question,
           CASE $4::text
               WHEN 'day' THEN to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
               WHEN 'touchpoint' THEN coalesce(context->>'touchpoint', '')
               WHEN 'agent' THEN coalesce(context->>'agent', '')
               WHEN 'queue' THEN coalesce(context->>'queue', '')
               WHEN 'week' THEN to_char(date_trunc('week', started_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')
               WHEN 'month' THEN to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM')
           END AS grp
    FROM interview
    WHERE questionnaire_id = $1
      AND ($2::timestamptz IS NULL OR started_at >= $2)
      AND ($3::timestamptz IS NULL OR started_at < $3)
      AND ($5::text = '' OR language = $5)
      AND ($6::text = '' OR coalesce(context->>$6, context->'extra'->>$6, '') = $7::text)
)`

const sqlTallyStatus = sqlReportInterviews + `
SELECT grp, count(*),
       count(*) FILTER (WHERE status = 'in_progress'),
       count(*) FILTER (WHERE status = 'complete'),
       count(*) FILTER (WHERE status = 'partial'),
       count(*) FILTER (WHERE status = 'breakoff')
FROM i
GROUP BY grp`

// sqlTallyAnswers counts answered questions (rows where n is NULL by grouping)
// and, per integer value, answers whose value is an integral number or a
// boolean (true = 1, false = 0).
const sqlTallyAnswers = sqlReportInterviews + `,
v AS (
    SELECT i.grp, a.question_id,
           CASE jsonb_typeof(a.value)
               WHEN 'boolean' THEN CASE WHEN a.value = 'true' THEN 1 ELSE 0 END
               WHEN 'number' THEN CASE
                   WHEN (a.value::numeric) = trunc(a.value::numeric)
                    AND (a.value::numeric) BETWEEN -9223372036854775808 AND 9223372036854775807
                   THEN (a.value::numeric)::bigint
               END
           END AS n
    FROM i JOIN answer a ON a.interview_id = i.id
    WHERE NOT a.skipped
)
SELECT grp, question_id, n, grouping(n) = 1, count(*)
FROM v
GROUP BY GROUPING SETS ((grp, question_id), (grp, question_id, n))`

const sqlTallyStopped = sqlReportInterviews + `
SELECT grp, last_question, count(*)
FROM i
WHERE status IN ('partial', 'breakoff')
GROUP BY grp, last_question`

// Tally counts, per group of q, interviews by status, answers per question
// and per integer value, and where ended, incomplete interviews stopped.
// Groups come in key order; a group exists when an interview falls in it.
func (db *DB) Tally(ctx context.Context, q survey.ReportQuery) ([]survey.Tally, error) {
	var ts []survey.Tally
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := db.retry(ctx, func() error {
		return pgx.BeginTxFunc(ctx, db.pool, opts, func(tx pgx.Tx) (err error) {
			ts, err = tally(ctx, tx, q)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("tally %s by %s: %w", q.Questionnaire, q.By, err)
	}
	return ts, nil
}

// tally should run in a repeatable-read transaction so that its queries agree.
func tally(ctx context.Context, tx DBTX, q survey.ReportQuery) ([]survey.Tally, error) {
	switch q.By {
	case survey.ByDay, survey.ByTouchpoint, survey.ByAgent, survey.ByQueue, survey.ByWeek, survey.ByMonth:
	default:
		return nil, fmt.Errorf("unknown grouping %q", q.By)
	}
	args := []any{q.Questionnaire, nullTime(q.From), nullTime(q.To), string(q.By), q.Language, q.Field, q.Value}
	groups := map[string]*survey.Tally{}
	group := func(g string) *survey.Tally {
		t := groups[g]
		if t == nil {
			t = &survey.Tally{Group: g, Values: map[string]map[int64]int{}, Answered: map[string]int{}, StoppedAt: map[string]int{}}
			groups[g] = t
		}
		return t
	}

	rows, err := tx.Query(ctx, sqlTallyStatus, args...)
	if err != nil {
		return nil, err
	}
	var (
		g    string
		t    survey.Tally
		scan = []any{&g, &t.Started, &t.InProgress, &t.Complete, &t.Partial, &t.Breakoff}
	)
	if _, err := pgx.ForEachRow(rows, scan, func() error {
		gt := group(g)
		gt.Started, gt.InProgress, gt.Complete, gt.Partial, gt.Breakoff = t.Started, t.InProgress, t.Complete, t.Partial, t.Breakoff
		return nil
	}); err != nil {
		return nil, fmt.Errorf("count statuses: %w", err)
	}

	rows, err = tx.Query(ctx, sqlTallyAnswers, args...)
	if err != nil {
		return nil, err
	}
	var (
		question string
		n        *int64
		total    bool
		count    int
	)
	if _, err := pgx.ForEachRow(rows, []any{&g, &question, &n, &total, &count}, func() error {
		gt := group(g)
		switch {
		case total:
			gt.Answered[question] = count
		case n != nil:
			if gt.Values[question] == nil {
				gt.Values[question] = map[int64]int{}
			}
			gt.Values[question][*n] = count
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("count answers: %w", err)
	}

	rows, err = tx.Query(ctx, sqlTallyStopped, args...)
	if err != nil {
		return nil, err
	}
	if _, err := pgx.ForEachRow(rows, []any{&g, &question, &count}, func() error {
		group(g).StoppedAt[question] = count
		return nil
	}); err != nil {
		return nil, fmt.Errorf("count stops: %w", err)
	}

	ts := make([]survey.Tally, 0, len(groups))
	for _, t := range groups {
		ts = append(ts, *t)
	}
	slices.SortFunc(ts, func(a, b survey.Tally) int { return strings.Compare(a.Group, b.Group) })
	return ts, nil
}
