-- 0010_alerts: alerts the questionnaires' rules raise (a detractor, an
-- unresolved issue), each at most once per interview and rule, in the
-- transaction that commits the answer (or the end) that triggers it; who
-- owns and works them, their notes, and how they closed.
CREATE TABLE alert (
    id              bigserial PRIMARY KEY,
    interview_id    bigint NOT NULL REFERENCES interview (id),
    rule_id         text NOT NULL,
    severity        text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    owner           text NOT NULL DEFAULT '',
    question_id     text NOT NULL DEFAULT '',        -- the answer that raised it; '' at the end
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'working', 'closed')),
    assignee_id     bigint REFERENCES app_user (id),
    raised_at       timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    first_action_at timestamptz,
    closed_at       timestamptz,
    root_cause      text NOT NULL DEFAULT '',
    outcome         text CHECK (outcome IN ('recovered', 'not_recovered')),
    recovery_case_id bigint REFERENCES survey_case (id),
    UNIQUE (interview_id, rule_id),
    CHECK ((status = 'closed') = (closed_at IS NOT NULL)),
    CHECK ((status = 'closed') = (outcome IS NOT NULL))
);
CREATE INDEX alert_open ON alert (status, due_at) WHERE status <> 'closed';
CREATE INDEX alert_raised ON alert (raised_at);

CREATE TABLE alert_note (
    id       bigserial PRIMARY KEY,
    alert_id bigint NOT NULL REFERENCES alert (id) ON DELETE CASCADE,
    at       timestamptz NOT NULL,
    user_id  bigint REFERENCES app_user (id),
    kind     text NOT NULL CHECK (kind IN ('note', 'assigned', 'callback', 'closed')),
    text     text NOT NULL DEFAULT ''
);
CREATE INDEX alert_note_alert ON alert_note (alert_id, at);
