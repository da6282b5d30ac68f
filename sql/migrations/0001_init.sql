-- 0001_init: the tables of DESIGN.md §4. Enumerations are text with a CHECK
-- listing the values of the matching Go type (survey.Mode, survey.Status,
-- survey.Role…); change both together.

-- Questionnaires: the YAML as uploaded, one row per version. A running
-- interview is pinned to its version.
CREATE TABLE questionnaire (
    id         text PRIMARY KEY CHECK (id <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE questionnaire_version (
    questionnaire_id text NOT NULL REFERENCES questionnaire (id),
    version          int NOT NULL CHECK (version > 0),
    title            text NOT NULL DEFAULT '',
    languages        text[] NOT NULL DEFAULT '{}',
    source           text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (questionnaire_id, version)
);

-- AAPOR final disposition codes. Seeded from the Go catalog, not here.
CREATE TABLE disposition_code (
    code          text PRIMARY KEY CHECK (code ~ '^[1-4](\.[0-9]+)+$'),
    label         text NOT NULL CHECK (label <> ''),
    rate_group    text NOT NULL CHECK (rate_group IN ('I', 'P', 'R', 'NC', 'O', 'UH', 'UO', 'NE')),
    retry_after   interval CHECK (retry_after >= interval '0'), -- delay before the next attempt
    retry         text NOT NULL DEFAULT 'none' CHECK (retry IN ('none', 'same_number', 'next_number')),
    final         boolean NOT NULL DEFAULT false,                -- the number is settled
    contacted     boolean NOT NULL DEFAULT false,
    eligible      boolean,                                       -- NULL: eligibility unknown
    requires_note boolean NOT NULL DEFAULT false
);

CREATE TABLE app_user (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name <> ''),
    role          text NOT NULL CHECK (role IN ('admin', 'supervisor', 'interviewer')),
    password_hash bytea NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- API tokens are stored hashed; the clear token is shown once.
CREATE TABLE api_token (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL CHECK (name <> ''),
    role         text NOT NULL CHECK (role IN ('admin', 'supervisor', 'integrator')),
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- Sample: people to call, and the campaigns that call them.
CREATE TABLE contact (
    id         bigserial PRIMARY KEY,
    phone_e164 text NOT NULL CHECK (phone_e164 ~ '^\+[1-9][0-9]{1,14}$'),
    tz         text NOT NULL DEFAULT '', -- IANA zone; '' = derive from the number
    language   text NOT NULL DEFAULT '',
    attrs      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attrs) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_phone ON contact (phone_e164);

CREATE TABLE campaign (
    id               bigserial PRIMARY KEY,
    name             text NOT NULL UNIQUE CHECK (name <> ''),
    questionnaire_id text NOT NULL REFERENCES questionnaire (id),
    mode             text NOT NULL CHECK (mode IN ('ivr', 'cati')),
    status           text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'running', 'paused', 'finished')),
    caller_id        text NOT NULL DEFAULT '',
    max_attempts     int NOT NULL DEFAULT 6 CHECK (max_attempts > 0),
    settings         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'), -- calling windows, pacing…
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- A case is one contact in one campaign, worked until it gets a final
-- disposition. Dialer nodes claim cases with FOR UPDATE SKIP LOCKED.
CREATE TABLE survey_case (
    id                bigserial PRIMARY KEY,
    campaign_id       bigint NOT NULL REFERENCES campaign (id),
    contact_id        bigint NOT NULL REFERENCES contact (id),
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'claimed', 'appointment', 'closed')),
    priority          int NOT NULL DEFAULT 0,
    owner             text NOT NULL DEFAULT '', -- node or interviewer working the case; '' = nobody
    attempts          int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_disposition  text REFERENCES disposition_code (code),
    final_disposition text REFERENCES disposition_code (code),
    closed_at         timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (campaign_id, contact_id),
    CHECK ((status = 'closed') = (final_disposition IS NOT NULL)),
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE INDEX survey_case_due ON survey_case (campaign_id, priority DESC, next_attempt_at) WHERE status = 'open';

-- An attempt is one call: placed by the dialer, or received by the IVR.
CREATE TABLE attempt (
    id          bigserial PRIMARY KEY,
    case_id     bigint REFERENCES survey_case (id), -- NULL for an inbound call
    direction   text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    channel     text NOT NULL DEFAULT '', -- ARI channel id or SIP Call-ID
    phone_e164  text NOT NULL DEFAULT '',
    started_at  timestamptz NOT NULL DEFAULT now(),
    answered_at timestamptz,
    ended_at    timestamptz,
    sip_cause   int CHECK (sip_cause BETWEEN 100 AND 699),
    q850_cause  int CHECK (q850_cause BETWEEN 0 AND 127),
    amd_result  text CHECK (amd_result IN ('human', 'machine', 'notsure', 'hangup')), -- NULL: no AMD
    ring_ms     int CHECK (ring_ms >= 0),
    talk_ms     int CHECK (talk_ms >= 0),
    recording   text NOT NULL DEFAULT '',
    disposition text REFERENCES disposition_code (code)
);
CREATE INDEX attempt_case ON attempt (case_id) WHERE case_id IS NOT NULL;

CREATE TABLE interview (
    id               bigserial PRIMARY KEY,
    questionnaire_id text NOT NULL,
    version          int NOT NULL,
    mode             text NOT NULL CHECK (mode IN ('ivr', 'cati')),
    language         text NOT NULL DEFAULT '',
    status           text NOT NULL DEFAULT 'in_progress'
                     CHECK (status IN ('in_progress', 'complete', 'partial', 'breakoff')),
    context          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(context) = 'object'),
    contact          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(contact) = 'object'),
    case_id          bigint REFERENCES survey_case (id),
    attempt_id       bigint REFERENCES attempt (id),
    interviewer_id   bigint REFERENCES app_user (id),
    started_at       timestamptz NOT NULL DEFAULT now(),
    ended_at         timestamptz,
    end_cause        text NOT NULL DEFAULT '',
    last_question    text NOT NULL DEFAULT '',
    FOREIGN KEY (questionnaire_id, version) REFERENCES questionnaire_version (questionnaire_id, version),
    CHECK ((status = 'in_progress') = (ended_at IS NULL))
);
CREATE INDEX interview_report ON interview (questionnaire_id, started_at);
CREATE INDEX interview_case ON interview (case_id) WHERE case_id IS NOT NULL;

-- One row per answered (or skipped) question, committed as it is given.
CREATE TABLE answer (
    interview_id bigint NOT NULL REFERENCES interview (id) ON DELETE CASCADE,
    question_id  text NOT NULL CHECK (question_id <> ''),
    value        jsonb NOT NULL, -- JSON null when skipped
    skipped      boolean NOT NULL DEFAULT false,
    paradata     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(paradata) = 'object'),
    answered_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (interview_id, question_id),
    CHECK (NOT skipped OR value = 'null')
);

CREATE TABLE appointment (
    id             bigserial PRIMARY KEY,
    case_id        bigint NOT NULL REFERENCES survey_case (id),
    at             timestamptz NOT NULL,
    interviewer_id bigint REFERENCES app_user (id), -- NULL: anyone
    status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'kept', 'missed', 'cancelled')),
    note           text NOT NULL DEFAULT '',
    created_by     bigint REFERENCES app_user (id),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX appointment_due ON appointment (at) WHERE status = 'pending';

-- Do-not-call numbers, checked at dial time.
CREATE TABLE dnc (
    phone_e164 text PRIMARY KEY CHECK (phone_e164 ~ '^\+[1-9][0-9]{1,14}$'),
    source     text NOT NULL DEFAULT '', -- 'respondent', 'import', …
    added_at   timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz
);

-- Webhooks and alerts, delivered at least once by a worker.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('webhook', 'alert')),
    topic           text NOT NULL CHECK (topic <> ''), -- 'interview.completed', …
    target          text NOT NULL DEFAULT '',          -- URL or channel
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      text NOT NULL DEFAULT '',
    delivered_at    timestamptz
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;

CREATE TABLE audit_log (
    id     bigserial PRIMARY KEY,
    at     timestamptz NOT NULL DEFAULT now(),
    actor  text NOT NULL, -- user name, 'token:NAME' or 'system'
    action text NOT NULL CHECK (action <> ''),
    target text NOT NULL DEFAULT '',
    detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);

-- The live feed: supervisors' screens replay it after a reconnect. Ids, not
-- foreign keys: it is append-only and hot.
CREATE TABLE event (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    kind         text NOT NULL CHECK (kind <> ''),
    campaign_id  bigint,
    interview_id bigint,
    payload      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX event_at ON event (at);
