// Report store: the counts behind a questionnaire's report, per group (day,
// week, month, touchpoint, agent or queue), over one snapshot.
// survey.BuildReport turns them into NPS, CSAT, CES and completion rates.
//
// Whole days that have not changed since RollUp counted them are read from
// the roll-up (report_slice*, migration 0014); dirty days, today and the
// range's partial first and last days are counted from the interviews
// themselves by the same three GROUP BY queries, and the two are added.

package sql

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/canvass/canvass/survey"
)

// sqlReportInterviews is the interviews a report covers and their group:
// $1 questionnaire, [$2, $3) started (NULL: unbounded), $4 grouping, $5
// language ("": any), $6 = $7 a context field's value ($6 "": any).
const sqlReportInterviews = `
WITH i AS (
    SELECT id, status, last_question,
           CASE $4::text
               WHEN 'day' THEN to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
               WHEN 'touchpoint' THEN coalesce(context->>'touchpoint', context->'extra'->>'touchpoint', '')
               WHEN 'agent' THEN coalesce(context->>'agent', context->'extra'->>'agent', '')
               WHEN 'queue' THEN coalesce(context->>'queue', context->'extra'->>'queue', '')
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

// sqlAnswerN is an answer's value (a) as an integer n: an integral number,
// or a boolean (true = 1, false = 0); NULL otherwise.
const sqlAnswerN = `
           CASE jsonb_typeof(a.value)
               WHEN 'boolean' THEN CASE WHEN a.value = 'true' THEN 1 ELSE 0 END
               WHEN 'number' THEN CASE
                   WHEN (a.value::numeric) = trunc(a.value::numeric)
                    AND (a.value::numeric) BETWEEN -9223372036854775808 AND 9223372036854775807
                   THEN (a.value::numeric)::bigint
               END
           END AS n`

// sqlTallyAnswers counts answered questions (rows where n is NULL by grouping)
// and, per integer value, answers whose value is an integral number or a
// boolean (true = 1, false = 0).
const sqlTallyAnswers = sqlReportInterviews + `,
v AS (
    SELECT i.grp, a.question_id, ` + sqlAnswerN + `
    -- Each interview's answers by its key: OFFSET 0 keeps the planner from
    -- hashing the whole answer table for a few thousand interviews.
    FROM i CROSS JOIN LATERAL (
        SELECT question_id, value FROM answer WHERE interview_id = i.id AND NOT skipped OFFSET 0) a
)
SELECT grp, question_id, n, grouping(n) = 1, count(*)
FROM v
GROUP BY GROUPING SETS ((grp, question_id), (grp, question_id, n))`

const sqlTallyStopped = sqlReportInterviews + `
SELECT grp, last_question, count(*)
FROM i
WHERE status IN ('partial', 'breakoff')
GROUP BY grp, last_question`

// The roll-up's reading queries: $1 questionnaire, $2 dim, $3 whether
// value must be $4, $5 language ("": any), $6 days counted from the
// interviews instead, $7 grouping, $8 the whole months read from month rows,
// $9 the whole weeks read from week rows, then each day range's first and
// end day ($10, $11, $12, $13…).
//
// rolledFrom is where they take their rows: the whole months' month rows,
// the whole weeks' week rows, and the day rows of the day ranges between
// them, each range its own branch so that each is one index range whatever
// the plan.
func rolledFrom(table string, ranges int) string {
	var b strings.Builder
	b.WriteString(`
FROM (SELECT * FROM ` + table + `
      WHERE questionnaire_id = $1 AND dim = $2 AND grain = 'month' AND day = ANY ($8::date[])
      UNION ALL
      SELECT * FROM ` + table + `
      WHERE questionnaire_id = $1 AND dim = $2 AND grain = 'week' AND day = ANY ($9::date[])`)
	for i := range ranges {
		fmt.Fprintf(&b, `
      UNION ALL
      SELECT * FROM %s
      WHERE questionnaire_id = $1 AND dim = $2 AND grain = 'day' AND day >= $%d::date AND day < $%d::date AND day <> ALL ($6::date[])`,
			table, 10+2*i, 11+2*i)
	}
	b.WriteString(`) s
WHERE (NOT $3::boolean OR CASE WHEN strpos($2, ':') > 0 THEN (value::jsonb)->>0 ELSE value END = $4::text)
  AND ($5::text = '' OR language = $5)
  AND cardinality($6::date[]) >= 0 -- typed even when no day range reads it`)
	return b.String()
}

// rolledQueries are the status, answers and stops queries over the roll-up
// with ranges day ranges.
func rolledQueries(ranges int) [3]string {
	return [3]string{
		`SELECT ` + sqlRolledGroup + ` AS grp, sum(started)::int, sum(in_progress)::int,
       sum(complete)::int, sum(partial)::int, sum(breakoff)::int` + rolledFrom("report_slice", ranges) + `
GROUP BY grp`,
		// One histogram a row, added up by the caller: grouping here would
		// unnest every row's values again.
		`SELECT ` + sqlRolledGroup + ` AS grp, question_id, answered, ns, counts` + rolledFrom("report_slice_answer", ranges),
		`SELECT ` + sqlRolledGroup + ` AS grp, last_question, sum(count)::int` + rolledFrom("report_slice_stop", ranges) + `
GROUP BY grp, last_question`,
	}
}

const sqlRolledGroup = `
CASE $7::text
    WHEN 'day' THEN to_char(day, 'YYYY-MM-DD')
    WHEN 'week' THEN to_char(day - (extract(isodow FROM day)::int - 1), 'YYYY-MM-DD')
    WHEN 'month' THEN to_char(day, 'YYYY-MM')
    ELSE CASE WHEN strpos($2, ':') > 0 THEN (value::jsonb)->>1 ELSE value END
END`

const (
	sqlDirtyDays = `SELECT day FROM report_dirty
WHERE questionnaire_id = $1 AND ($2::date IS NULL OR day >= $2) AND ($3::date IS NULL OR day <= $3)`
)

// Tally counts, per group of q, interviews by status, answers per question
// and per integer value, and where ended, incomplete interviews stopped.
// Groups come in key order; a group exists when an interview falls in it.
func (db *DB) Tally(ctx context.Context, q survey.ReportQuery) ([]survey.Tally, error) {
	var ts []survey.Tally
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := db.retry(ctx, func() error {
		return pgx.BeginTxFunc(ctx, db.pool, opts, func(tx pgx.Tx) (err error) {
			// With a field filter, plans for these parameters, not a generic
			// one: whether the filter is set decides which index serves (a
			// generic plan read the whole answer table). Without one the
			// cached plans serve, and planning each query again would cost
			// more than it saves.
			//
			// No parallel workers: a report's queries read small index
			// ranges, and starting workers and gathering their rows cost
			// several times the read itself (measured: 35 ms alone, 170–590 ms
			// with two workers on a busy 2-core machine).
			settings := `SELECT set_config('max_parallel_workers_per_gather', '0', true)`
			if q.Field != "" {
				settings += `, set_config('plan_cache_mode', 'force_custom_plan', true)`
			}
			if _, err := tx.Exec(ctx, settings); err != nil {
				return err
			}
			ts, err = tally(ctx, tx, q)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("tally %s by %s: %w", q.Questionnaire, q.By, err)
	}
	return ts, nil
}

// rolledDims are the context fields the roll-up is sliced by. It also has
// two crossings, "touchpoint:agent" and "touchpoint:queue", whose value is
// the JSON array [touchpoint, agent or queue]: a touchpoint's breakdown by
// agent or queue.
var rolledDims = []string{"touchpoint", "agent", "queue"}

// slice says which of the roll-up's slices answers q: dim ("" for all
// interviews) and whether its value (a crossing's touchpoint) must be
// q.Value. ok is false when q filters on a field the roll-up does not slice
// by, or on one field and groups by another it has no crossing for: those
// are counted from the interviews.
func slice(q survey.ReportQuery) (dim string, filter, ok bool) {
	if q.Field != "" && !slices.Contains(rolledDims, q.Field) {
		return "", false, false
	}
	switch q.By {
	case survey.ByDay, survey.ByWeek, survey.ByMonth:
		return q.Field, q.Field != "", true
	case survey.ByAgent, survey.ByQueue:
		if q.Field == "touchpoint" {
			return "touchpoint:" + string(q.By), true, true
		}
	}
	if q.Field != "" && q.Field != string(q.By) {
		return "", false, false
	}
	return string(q.By), q.Field != "", true
}

// tally should run in a repeatable-read transaction so that its queries
// agree. Its counting queries go to the server in one batch.
func tally(ctx context.Context, tx pgx.Tx, q survey.ReportQuery) ([]survey.Tally, error) {
	switch q.By {
	case survey.ByDay, survey.ByTouchpoint, survey.ByAgent, survey.ByQueue, survey.ByWeek, survey.ByMonth:
	default:
		return nil, fmt.Errorf("unknown grouping %q", q.By)
	}
	c := newCounting()
	dim, filter, ok := slice(q)
	if !ok {
		c.live(q, q.From, q.To)
		return c.run(ctx, tx)
	}
	first, last, liveDays, err := days(ctx, tx, q)
	if err != nil {
		return nil, err
	}
	months, weeks, lo, hi := periods(first, last, liveDays, q.By)
	rolled := []any{q.Questionnaire, dim, filter, q.Value, q.Language, liveDays, string(q.By), months, weeks}
	for i := range lo {
		rolled = append(rolled, lo[i], hi[i])
	}
	c.add(rolled, rolledQueries(len(lo)), true)
	// Day by day, so each is one range of the interview_report index.
	for _, d := range liveDays {
		from, to := d, d.AddDate(0, 0, 1)
		if q.From.After(from) {
			from = q.From
		}
		if !q.To.IsZero() && q.To.Before(to) {
			to = q.To
		}
		c.live(q, from, to)
	}
	return c.run(ctx, tx)
}

// sqlFieldFilter is the live queries' context-field filter; for the
// roll-up's fields it is written with the field named, so that the
// interview_<field> index (migration 0014) finds the interviews.
const sqlFieldFilter = `AND ($6::text = '' OR coalesce(context->>$6, context->'extra'->>$6, '') = $7::text)`

// liveQueries are the status, answers and stops queries counting from the
// interviews, for a filter on field.
var liveQueries = func() map[string][3]string {
	qs := map[string][3]string{"": {sqlTallyStatus, sqlTallyAnswers, sqlTallyStopped}}
	for _, f := range rolledDims {
		named := "AND $6::text <> '' AND coalesce(context->>'" + f + "', context->'extra'->>'" + f + "', '') = $7::text"
		var q [3]string
		for i, generic := range qs[""] {
			if !strings.Contains(generic, sqlFieldFilter) {
				panic("sql: the live report queries lost their field filter")
			}
			q[i] = strings.Replace(generic, sqlFieldFilter, named, 1)
		}
		qs[f] = q
	}
	return qs
}()

// live counts q's interviews started in [from, to).
func (c *counting) live(q survey.ReportQuery, from, to time.Time) {
	qs, ok := liveQueries[q.Field]
	if !ok {
		qs = liveQueries[""]
	}
	c.add(liveArgs(q, from, to), qs, false)
}

// liveArgs are the arguments of the queries counting q's interviews
// started in [from, to).
func liveArgs(q survey.ReportQuery, from, to time.Time) []any {
	return []any{q.Questionnaire, nullTime(from), nullTime(to), string(q.By), q.Language, q.Field, q.Value}
}

// days splits q's range for the roll-up: whole days [first, last) (nil:
// unbounded) are read from it except liveDays, which are counted from the
// interviews: the partial first and last days, and the days changed since
// they were rolled up (today's among them).
func days(ctx context.Context, tx DBTX, q survey.ReportQuery) (first, last *time.Time, liveDays []time.Time, err error) {
	liveDays = []time.Time{} // an array, never NULL: day <> ALL (NULL) is never true
	var lo, hi *time.Time    // the range's days, inclusive
	if !q.From.IsZero() {
		d := utcDay(q.From)
		lo = &d
		if !d.Equal(q.From) {
			liveDays = append(liveDays, d)
			d = d.AddDate(0, 0, 1)
		}
		first = &d
	}
	if !q.To.IsZero() {
		d := utcDay(q.To)
		last = &d
		if !d.Equal(q.To) {
			liveDays = append(liveDays, d)
			hi = &d
		} else {
			prev := d.AddDate(0, 0, -1)
			hi = &prev
		}
	}
	rows, err := tx.Query(ctx, sqlDirtyDays, q.Questionnaire, lo, hi)
	if err != nil {
		return nil, nil, nil, err
	}
	dirty, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read the days changed since the roll-up: %w", err)
	}
	for _, d := range dirty {
		if !slices.ContainsFunc(liveDays, d.Equal) {
			liveDays = append(liveDays, d)
		}
	}
	return first, last, liveDays, nil
}

// periods splits the whole days [first, last) of a report (nil:
// unbounded) into what the roll-up answers it with: whole calendar months
// (month rows; not when grouping by day or week), then whole ISO weeks
// (week rows, from Monday; not when grouping by day or month), then day
// ranges [lo[i], hi[i]). A month or week with a day in liveDays is read
// day by day. An unbounded range is read day by day.
func periods(first, last *time.Time, liveDays []time.Time, by survey.GroupBy) (months, weeks, lo, hi []time.Time) {
	months, weeks, lo, hi = []time.Time{}, []time.Time{}, []time.Time{}, []time.Time{} // arrays, never NULL
	type span struct{ from, to time.Time }
	gaps := []span{{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}}
	if first != nil {
		gaps[0].from = *first
	}
	if last != nil {
		gaps[0].to = *last
	}
	clean := func(from, to time.Time) bool {
		return !slices.ContainsFunc(liveDays, func(d time.Time) bool { return !d.Before(from) && d.Before(to) })
	}
	// whole cuts the periods start, next(start) wholly inside the gaps and
	// clean out of them.
	whole := func(start func(time.Time) time.Time, next func(time.Time) time.Time) []time.Time {
		var out []time.Time
		var rest []span
		for _, g := range gaps {
			at := g.from
			for p := start(g.from); !next(p).After(g.to); p = next(p) {
				if p.Before(g.from) || !clean(p, next(p)) {
					continue
				}
				if at.Before(p) {
					rest = append(rest, span{at, p})
				}
				out, at = append(out, p), next(p)
			}
			if at.Before(g.to) {
				rest = append(rest, span{at, g.to})
			}
		}
		gaps = rest
		return out
	}
	if first != nil && last != nil {
		if by != survey.ByDay && by != survey.ByWeek {
			months = append(months, whole(func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC) },
				func(t time.Time) time.Time { return t.AddDate(0, 1, 0) })...)
		}
		if by != survey.ByDay && by != survey.ByMonth {
			weeks = append(weeks, whole(func(t time.Time) time.Time { return t.AddDate(0, 0, -(int(t.Weekday())+6)%7) },
				func(t time.Time) time.Time { return t.AddDate(0, 0, 7) })...)
		}
	}
	for _, g := range gaps {
		lo, hi = append(lo, g.from), append(hi, g.to)
	}
	return months, weeks, lo, hi
}

// utcDay is the start of t's UTC day.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// counting is a batch of counting queries, each status, answers and stops
// query with its arguments, and the groups they add up to.
type counting struct {
	batch  pgx.Batch
	reads  []func(pgx.Rows) error
	groups map[string]*survey.Tally
}

func newCounting() *counting { return &counting{groups: map[string]*survey.Tally{}} }

func (c *counting) group(g string) *survey.Tally {
	t := c.groups[g]
	if t == nil {
		t = &survey.Tally{Group: g, Values: map[string]map[int64]int{}, Answered: map[string]int{}, StoppedAt: map[string]int{}}
		c.groups[g] = t
	}
	return t
}

// value adds n answers of value v to question of group t.
func value(t *survey.Tally, question string, v int64, n int) {
	if t.Values[question] == nil {
		t.Values[question] = map[int64]int{}
	}
	t.Values[question][v] += n
}

// add queues the status, answers and stops queries qs with args. The
// roll-up's answers query (rolled) gives a histogram a row; the live one a
// question's total (n NULL, total) or one value's count a row.
func (c *counting) add(args []any, qs [3]string, rolled bool) {
	var (
		g, question string
		t           survey.Tally
		n           *int64
		total       bool
		k           int
		ns          []int64
		counts      []int32
	)
	c.batch.Queue(qs[0], args...)
	c.reads = append(c.reads, func(rows pgx.Rows) error {
		_, err := pgx.ForEachRow(rows, []any{&g, &t.Started, &t.InProgress, &t.Complete, &t.Partial, &t.Breakoff}, func() error {
			gt := c.group(g)
			gt.Started += t.Started
			gt.InProgress += t.InProgress
			gt.Complete += t.Complete
			gt.Partial += t.Partial
			gt.Breakoff += t.Breakoff
			return nil
		})
		if err != nil {
			return fmt.Errorf("count statuses: %w", err)
		}
		return nil
	})
	c.batch.Queue(qs[1], args...)
	if rolled {
		c.reads = append(c.reads, func(rows pgx.Rows) error {
			_, err := pgx.ForEachRow(rows, []any{&g, &question, &k, &ns, &counts}, func() error {
				if len(ns) != len(counts) {
					return fmt.Errorf("a histogram of %s has %d values and %d counts", question, len(ns), len(counts))
				}
				gt := c.group(g)
				gt.Answered[question] += k
				for i, v := range ns {
					value(gt, question, v, int(counts[i]))
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("count answers: %w", err)
			}
			return nil
		})
	} else {
		c.reads = append(c.reads, func(rows pgx.Rows) error {
			_, err := pgx.ForEachRow(rows, []any{&g, &question, &n, &total, &k}, func() error {
				gt := c.group(g)
				switch {
				case total:
					gt.Answered[question] += k
				case n != nil:
					value(gt, question, *n, k)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("count answers: %w", err)
			}
			return nil
		})
	}
	c.batch.Queue(qs[2], args...)
	c.reads = append(c.reads, func(rows pgx.Rows) error {
		_, err := pgx.ForEachRow(rows, []any{&g, &question, &k}, func() error {
			c.group(g).StoppedAt[question] += k
			return nil
		})
		if err != nil {
			return fmt.Errorf("count stops: %w", err)
		}
		return nil
	})
}

// run sends the batch and reads its results into the groups, in key order.
func (c *counting) run(ctx context.Context, tx pgx.Tx) ([]survey.Tally, error) {
	br := tx.SendBatch(ctx, &c.batch)
	for _, read := range c.reads {
		rows, err := br.Query()
		if err == nil {
			err = read(rows)
		}
		if err != nil {
			br.Close()
			return nil, err
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	return sorted(c.groups), nil
}

func sorted(groups map[string]*survey.Tally) []survey.Tally {
	ts := make([]survey.Tally, 0, len(groups))
	for _, t := range groups {
		ts = append(ts, *t)
	}
	slices.SortFunc(ts, func(a, b survey.Tally) int { return strings.Compare(a.Group, b.Group) })
	return ts
}

// The roll-up's writing statements: $1 questionnaire, $2 the UTC day.
const sqlRollDay = `
WITH i AS (
    SELECT id, status, last_question, language,
           coalesce(context->>'touchpoint', context->'extra'->>'touchpoint', '') AS touchpoint,
           coalesce(context->>'agent', context->'extra'->>'agent', '') AS agent,
           coalesce(context->>'queue', context->'extra'->>'queue', '') AS queue
    FROM interview
    WHERE questionnaire_id = $1
      AND started_at >= $2::date::timestamp AT TIME ZONE 'UTC'
      AND started_at < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'
), s AS (
    SELECT i.*, d.dim, d.value
    FROM i CROSS JOIN LATERAL (VALUES ('', ''), ('touchpoint', i.touchpoint), ('agent', i.agent), ('queue', i.queue),
        ('touchpoint:agent', jsonb_build_array(i.touchpoint, i.agent)::text),
        ('touchpoint:queue', jsonb_build_array(i.touchpoint, i.queue)::text)) d (dim, value)
)`

const (
	sqlRollLock          = `SELECT pg_advisory_xact_lock(hashtextextended('report:' || $1 || '/' || to_char($2::date, 'YYYY-MM-DD'), 0))`
	sqlRollClean         = `DELETE FROM report_dirty WHERE questionnaire_id = $1 AND day = $2`
	sqlRollForget        = `DELETE FROM report_slice WHERE questionnaire_id = $1 AND day = $2`
	sqlRollForgetAnswers = `DELETE FROM report_slice_answer WHERE questionnaire_id = $1 AND day = $2`
	sqlRollForgetStops   = `DELETE FROM report_slice_stop WHERE questionnaire_id = $1 AND day = $2`
	sqlRollStatus        = sqlRollDay + `
INSERT INTO report_slice (questionnaire_id, day, language, dim, value, started, in_progress, complete, partial, breakoff)
SELECT $1, $2, language, dim, value, count(*),
       count(*) FILTER (WHERE status = 'in_progress'),
       count(*) FILTER (WHERE status = 'complete'),
       count(*) FILTER (WHERE status = 'partial'),
       count(*) FILTER (WHERE status = 'breakoff')
FROM s
GROUP BY language, dim, value`
	sqlRollAnswers = sqlRollDay + `, v AS (
    SELECT s.language, s.dim, s.value, a.question_id, ` + sqlAnswerN + `
    FROM s JOIN answer a ON a.interview_id = s.id
    WHERE NOT a.skipped

), c AS (
    SELECT language, dim, value, question_id, n, count(*)::int AS c
    FROM v
    GROUP BY language, dim, value, question_id, n
)
INSERT INTO report_slice_answer (questionnaire_id, day, language, dim, value, question_id, answered, ns, counts)
SELECT $1, $2, language, dim, value, question_id, sum(c)::int,
       coalesce(array_agg(n ORDER BY n) FILTER (WHERE n IS NOT NULL), '{}'),
       coalesce(array_agg(c ORDER BY n) FILTER (WHERE n IS NOT NULL), '{}')
FROM c
GROUP BY language, dim, value, question_id`
	sqlRollStopped = sqlRollDay + `
INSERT INTO report_slice_stop (questionnaire_id, day, language, dim, value, last_question, count)
SELECT $1, $2, language, dim, value, last_question, count(*)
FROM s
WHERE status IN ('partial', 'breakoff')
GROUP BY language, dim, value, last_question`
	sqlRollDue = `SELECT questionnaire_id, day FROM report_dirty
WHERE day < (now() AT TIME ZONE 'UTC')::date ORDER BY day, questionnaire_id LIMIT $1`
)

// RollUp counts into the report roll-up up to limit days that changed
// since they were last counted, today excepted (it is still changing;
// reports count it from the interviews), and says how many it counted.
// Several nodes may roll up at once: each day is counted under its lock.
func (db *DB) RollUp(ctx context.Context, limit int) (int, error) {
	type due struct {
		q   string
		day time.Time
	}
	days, err := collect(ctx, db, "find the days to roll up", func(r pgx.CollectableRow) (d due, err error) {
		return d, r.Scan(&d.q, &d.day)
	}, sqlRollDue, limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range days {
		err := db.retry(ctx, func() error {
			return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, sqlRollLock, d.q, d.day); err != nil {
					return err
				}
				tag, err := tx.Exec(ctx, sqlRollClean, d.q, d.day)
				if err != nil || tag.RowsAffected() == 0 { // another node counted it
					return err
				}
				for _, stmt := range []string{sqlRollForget, sqlRollForgetAnswers, sqlRollForgetStops, sqlRollStatus, sqlRollAnswers, sqlRollStopped} {
					if _, err := tx.Exec(ctx, stmt, d.q, d.day); err != nil {
						return err
					}
				}
				if err := monthPeriod.roll(ctx, tx, d.q, time.Date(d.day.Year(), d.day.Month(), 1, 0, 0, 0, 0, time.UTC)); err != nil {
					return err
				}
				return weekPeriod.roll(ctx, tx, d.q, d.day.AddDate(0, 0, -(int(d.day.Weekday())+6)%7))
			})
		})
		if err != nil {
			return n, fmt.Errorf("roll up %s on %s: %w", d.q, d.day.Format(time.DateOnly), err)
		}
		n++
	}
	return n, nil
}

const sqlClosedCases = `
SELECT CASE $4::text
           WHEN 'day' THEN to_char(sc.closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
           WHEN 'week' THEN to_char(date_trunc('week', sc.closed_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')
           WHEN 'month' THEN to_char(sc.closed_at AT TIME ZONE 'UTC', 'YYYY-MM')
       END AS grp, d.rate_group, count(*)::int
FROM campaign c
JOIN survey_case sc ON sc.campaign_id = c.id AND sc.status = 'closed'
JOIN disposition_code d ON d.code = sc.final_disposition
WHERE c.questionnaire_id = $1
  AND ($2::timestamptz IS NULL OR sc.closed_at >= $2)
  AND ($3::timestamptz IS NULL OR sc.closed_at < $3)
GROUP BY grp, d.rate_group
ORDER BY grp`

// ClosedCases counts, per day, week or month of closing (q.By), the cases
// of q's questionnaire's campaigns closed in q's range, by AAPOR rate group:
// the AAPOR rates over time. Language and context filters do not apply.
func (db *DB) ClosedCases(ctx context.Context, q survey.ReportQuery) ([]survey.GroupCounts, error) {
	switch q.By {
	case survey.ByDay, survey.ByWeek, survey.ByMonth:
	default:
		return nil, fmt.Errorf("closed cases by %q: only by day, week or month", q.By)
	}
	var out []survey.GroupCounts
	err := db.retry(ctx, func() error {
		out = out[:0]
		rows, err := db.pool.Query(ctx, sqlClosedCases, q.Questionnaire, nullTime(q.From), nullTime(q.To), string(q.By))
		if err != nil {
			return err
		}
		var (
			g     string
			group survey.RateGroup
			n     int
		)
		_, err = pgx.ForEachRow(rows, []any{&g, &group, &n}, func() error {
			if len(out) == 0 || out[len(out)-1].Group != g {
				out = append(out, survey.GroupCounts{Group: g})
			}
			out[len(out)-1].Counts.AddN(group, n)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("count closed cases of %s: %w", q.Questionnaire, err)
	}
	return out, nil
}

// A period's rows (grain month or week) are recounted from its day rows
// when none of its days is dirty, under the period's lock: of two roll-ups
// of one period, the second sees the first's days.
type period struct {
	grain, span string // span: the PostgreSQL interval of one period
	stmts       []string
}

func newPeriod(grain, span string) period {
	where := ` WHERE questionnaire_id = $1 AND grain = 'day' AND day >= $2 AND day < ($2::date + interval '` + span + `')`
	return period{grain: grain, span: span, stmts: []string{
		`DELETE FROM report_slice WHERE questionnaire_id = $1 AND grain = '` + grain + `' AND day = $2`,
		`DELETE FROM report_slice_answer WHERE questionnaire_id = $1 AND grain = '` + grain + `' AND day = $2`,
		`DELETE FROM report_slice_stop WHERE questionnaire_id = $1 AND grain = '` + grain + `' AND day = $2`,
		`INSERT INTO report_slice (questionnaire_id, day, grain, language, dim, value, started, in_progress, complete, partial, breakoff)
SELECT $1, $2, '` + grain + `', language, dim, value, sum(started), sum(in_progress), sum(complete), sum(partial), sum(breakoff)
FROM report_slice` + where + `
GROUP BY language, dim, value`,
		`WITH d AS (
    SELECT language, dim, value, question_id, answered, ns, counts FROM report_slice_answer` + where + `
), a AS (
    SELECT language, dim, value, question_id, sum(answered)::int AS answered
    FROM d
    GROUP BY language, dim, value, question_id
), h AS (
    SELECT language, dim, value, question_id, array_agg(n ORDER BY n) AS ns, array_agg(c ORDER BY n) AS counts
    FROM (SELECT language, dim, value, question_id, x.n, sum(x.c)::int AS c
          FROM d, unnest(d.ns, d.counts) x (n, c)
          GROUP BY language, dim, value, question_id, x.n) u
    GROUP BY language, dim, value, question_id
)
INSERT INTO report_slice_answer (questionnaire_id, day, grain, language, dim, value, question_id, answered, ns, counts)
SELECT $1, $2, '` + grain + `', language, dim, value, question_id, a.answered,
       coalesce(h.ns, '{}'), coalesce(h.counts, '{}')
FROM a LEFT JOIN h USING (language, dim, value, question_id)`,
		`INSERT INTO report_slice_stop (questionnaire_id, day, grain, language, dim, value, last_question, count)
SELECT $1, $2, '` + grain + `', language, dim, value, last_question, sum(count)
FROM report_slice_stop` + where + `
GROUP BY language, dim, value, last_question`,
	}}
}

var (
	monthPeriod = newPeriod("month", "1 month")
	weekPeriod  = newPeriod("week", "7 days")
)

// roll recounts the period starting at start of questionnaire q from its
// day rows, when none of its days is dirty.
func (p period) roll(ctx context.Context, tx pgx.Tx, q string, start time.Time) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('report-' || $3 || ':' || $1 || '/' || to_char($2::date, 'YYYY-MM-DD'), 0))`,
		q, start, p.grain); err != nil {
		return err
	}
	var dirty bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM report_dirty
WHERE questionnaire_id = $1 AND day >= $2 AND day < ($2::date + $3::interval))`, q, start, p.span).Scan(&dirty); err != nil || dirty {
		return err
	}
	for _, stmt := range p.stmts {
		if _, err := tx.Exec(ctx, stmt, q, start); err != nil {
			return fmt.Errorf("%s of %s: %w", p.grain, start.Format(time.DateOnly), err)
		}
	}
	return nil
}
