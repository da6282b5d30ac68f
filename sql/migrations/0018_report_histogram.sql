-- 0018_report_histogram: two crossings in the roll-up, and its answer
-- counts as one row per
-- question and slice, its integer values a histogram (ns[i] was given
-- counts[i] times), instead of one row per value. A breakdown by 200
-- agents over a month read ~50,000 rows, one per agent, language, question
-- and value; it now reads one per agent, language and question, and the
-- report adds the histograms up.
--
-- The roll-up also gets two crossings of dimensions, dim 'touchpoint:agent'
-- and 'touchpoint:queue', whose value is the JSON array [touchpoint, agent
-- or queue]: a touchpoint's breakdown by agent or queue (the dashboard
-- filtered on a touchpoint) reads them instead of the interviews.
--
-- The old rows are dropped and every rolled day marked dirty: reports count
-- those days from the interviews until RollUp has counted them again (in
-- the minutes after the upgrade), so they stay exact meanwhile.
DROP TABLE report_slice_answer;

-- answered counts the question's answers (integral or not); ns are the
-- integer values given (a boolean as 0 or 1), ascending, and counts how
-- many times each was.
CREATE TABLE report_slice_answer (
    questionnaire_id text NOT NULL,
    day              date NOT NULL,
    grain            text NOT NULL DEFAULT 'day' CHECK (grain IN ('day', 'week', 'month')),
    language         text NOT NULL,
    dim              text NOT NULL,
    value            text NOT NULL,
    question_id      text NOT NULL,
    answered         int NOT NULL,
    ns               bigint[] NOT NULL,
    counts           int[] NOT NULL,
    CHECK (cardinality(ns) = cardinality(counts))
);
CREATE INDEX report_slice_answer_day ON report_slice_answer (questionnaire_id, dim, grain, day);

INSERT INTO report_dirty (questionnaire_id, day)
SELECT DISTINCT questionnaire_id, day FROM report_slice WHERE grain = 'day'
ON CONFLICT DO NOTHING;
