-- 0014_report_rollup: the report's counts per questionnaire and UTC day,
-- sliced by language and by one context dimension (none, touchpoint, agent
-- or queue), so that the dashboard over a million interviews sums a few
-- thousand rows instead of reading every answer.
--
-- Any change to an interview or an answer marks its (questionnaire, day)
-- dirty in the same transaction; RollUp recomputes dirty days before today
-- from the interviews themselves, and readers count dirty days (today
-- always) from the interviews too, so a report is exact whatever the
-- roll-up's lag. A writer holds a shared advisory lock on its day until it
-- commits; RollUp takes it exclusively before it clears the mark, so no
-- change can slip between the recount and the cleared mark.
CREATE TABLE report_dirty (
    questionnaire_id text NOT NULL,
    day              date NOT NULL,
    PRIMARY KEY (questionnaire_id, day)
);

-- dim is '' (all interviews), 'touchpoint', 'agent' or 'queue'; value is
-- that context field ('' when unset, and for dim ''). grain 'day' rows count
-- one day; grain 'month' rows (day is the 1st) and 'week' rows (day is the
-- Monday) add up their days' rows once none of those days is dirty, so a
-- year reads twelve months' rows and a month four weeks'.
CREATE TABLE report_slice (
    questionnaire_id text NOT NULL,
    day              date NOT NULL,
    grain            text NOT NULL DEFAULT 'day' CHECK (grain IN ('day', 'week', 'month')),
    language         text NOT NULL,
    dim              text NOT NULL,
    value            text NOT NULL,
    started          int NOT NULL,
    in_progress      int NOT NULL,
    complete         int NOT NULL,
    partial          int NOT NULL,
    breakoff         int NOT NULL
);
CREATE INDEX report_slice_day ON report_slice (questionnaire_id, dim, grain, day);

-- total rows count a question's answers; the others count one integer
-- value (n).
CREATE TABLE report_slice_answer (
    questionnaire_id text NOT NULL,
    day              date NOT NULL,
    grain            text NOT NULL DEFAULT 'day' CHECK (grain IN ('day', 'week', 'month')),
    language         text NOT NULL,
    dim              text NOT NULL,
    value            text NOT NULL,
    question_id      text NOT NULL,
    n                bigint,
    total            boolean NOT NULL,
    count            int NOT NULL
);
CREATE INDEX report_slice_answer_day ON report_slice_answer (questionnaire_id, dim, grain, day);

CREATE TABLE report_slice_stop (
    questionnaire_id text NOT NULL,
    day              date NOT NULL,
    grain            text NOT NULL DEFAULT 'day' CHECK (grain IN ('day', 'week', 'month')),
    language         text NOT NULL,
    dim              text NOT NULL,
    value            text NOT NULL,
    last_question    text NOT NULL,
    count            int NOT NULL
);
CREATE INDEX report_slice_stop_day ON report_slice_stop (questionnaire_id, dim, grain, day);

CREATE FUNCTION report_touch(q text, started timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    d date := (started AT TIME ZONE 'UTC')::date;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('report:' || q || '/' || to_char(d, 'YYYY-MM-DD'), 0));
    INSERT INTO report_dirty (questionnaire_id, day) VALUES (q, d) ON CONFLICT DO NOTHING;
END $$;

CREATE FUNCTION report_interview_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM report_touch(OLD.questionnaire_id, OLD.started_at);
        RETURN NULL;
    END IF;
    PERFORM report_touch(NEW.questionnaire_id, NEW.started_at);
    IF TG_OP = 'UPDATE' AND (OLD.questionnaire_id, OLD.started_at) IS DISTINCT FROM (NEW.questionnaire_id, NEW.started_at) THEN
        PERFORM report_touch(OLD.questionnaire_id, OLD.started_at);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER interview_report AFTER INSERT OR DELETE OR UPDATE OF questionnaire_id, started_at, language, status, context, last_question
ON interview FOR EACH ROW EXECUTE FUNCTION report_interview_changed();

CREATE FUNCTION report_answer_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    iid bigint := CASE WHEN TG_OP = 'DELETE' THEN OLD.interview_id ELSE NEW.interview_id END;
    q text;
    s timestamptz;
BEGIN
    SELECT questionnaire_id, started_at INTO q, s FROM interview WHERE id = iid;
    IF FOUND THEN
        PERFORM report_touch(q, s);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER answer_report AFTER INSERT OR DELETE OR UPDATE OF value, skipped, question_id
ON answer FOR EACH ROW EXECUTE FUNCTION report_answer_changed();

-- What was there before this migration is rolled up like any change.
INSERT INTO report_dirty (questionnaire_id, day)
SELECT DISTINCT questionnaire_id, (started_at AT TIME ZONE 'UTC')::date FROM interview;

-- The dashboard's AAPOR rates over time count cases by when they closed.
CREATE INDEX survey_case_closed ON survey_case (campaign_id, closed_at) WHERE status = 'closed';

-- Reports filtered on a touchpoint, agent or queue and counted from the
-- interviews (today's, or a breakdown the roll-up has no slice for) find
-- them by the field.
CREATE INDEX interview_touchpoint ON interview (questionnaire_id, (coalesce(context->>'touchpoint', context->'extra'->>'touchpoint', '')), started_at);
CREATE INDEX interview_agent ON interview (questionnaire_id, (coalesce(context->>'agent', context->'extra'->>'agent', '')), started_at);
CREATE INDEX interview_queue ON interview (questionnaire_id, (coalesce(context->>'queue', context->'extra'->>'queue', '')), started_at);
