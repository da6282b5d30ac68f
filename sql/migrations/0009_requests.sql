-- 0009_requests: post-call surveys integrators trigger (POST
-- /api/v1/survey-requests) and the Asterisk transfers the same rules admit.
-- Every request is kept with what was decided and why, so sampling can be
-- audited and survey fatigue (one survey per number per N days) checked
-- under a per-number lock. A queued request is a case of a keypad campaign
-- whose context (agent, queue, call id, touchpoint, customer id, CRM
-- fields) the interview keeps.
ALTER TABLE survey_case ADD COLUMN context jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(context) = 'object');

CREATE TABLE survey_request (
    id               bigserial PRIMARY KEY,
    source           text NOT NULL CHECK (source IN ('api', 'ari')),
    phone            text NOT NULL,          -- E.164 when it could be read, else as given
    questionnaire_id text NOT NULL,
    language         text NOT NULL DEFAULT '',
    context          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(context) = 'object'),
    decision         text NOT NULL CHECK (decision IN ('queued', 'surveyed', 'skipped')),
    reason           text NOT NULL DEFAULT '',
    share            double precision NOT NULL,
    case_id          bigint REFERENCES survey_case (id),
    call_after       timestamptz,
    requested_by     text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((decision = 'queued') = (case_id IS NOT NULL))
);
CREATE INDEX survey_request_fatigue ON survey_request (phone, created_at) WHERE decision IN ('queued', 'surveyed');
CREATE INDEX survey_request_created ON survey_request (created_at);
