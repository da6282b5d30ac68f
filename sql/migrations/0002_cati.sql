-- 0002_cati: what the browser console needs on top of 0001 — console
-- sessions, campaign calling windows and interviewer assignments, who works
-- a case and where each interviewer stands (so a reload or a restart resumes
-- them), case notes, and the columns that tie attempts and interviews to
-- interviewers. Enumerations are text with a CHECK listing the values of the
-- matching Go type (cati.DeskState…); change both together.

-- Console sessions: the cookie holds a random 32-byte id, the table only its
-- SHA-256. expires_at is the absolute limit; last_seen_at drives the idle one.
CREATE TABLE console_session (
    id_hash      bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    user_id      bigint NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    csrf_token   text NOT NULL CHECK (length(csrf_token) >= 32),
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX console_session_user ON console_session (user_id);
CREATE INDEX console_session_expires ON console_session (expires_at);

-- Calling windows in the respondent's local time, per weekday (0 = Sunday,
-- as extract(dow) counts). A campaign without a window for a day does not
-- call that day.
CREATE TABLE campaign_window (
    campaign_id bigint NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    dow         int NOT NULL CHECK (dow BETWEEN 0 AND 6),
    opens       time NOT NULL,
    closes      time NOT NULL,
    PRIMARY KEY (campaign_id, dow),
    CHECK (closes > opens)
);

-- Which interviewers work which campaigns.
CREATE TABLE campaign_interviewer (
    campaign_id bigint NOT NULL REFERENCES campaign (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    PRIMARY KEY (campaign_id, user_id)
);
CREATE INDEX campaign_interviewer_user ON campaign_interviewer (user_id);

-- The interviewer working a claimed case, the interview that case is on, and
-- the quota cells a complete fell in (counted for quota fill).
ALTER TABLE survey_case
    ADD COLUMN owner_user_id bigint REFERENCES app_user (id),
    ADD COLUMN interview_id  bigint REFERENCES interview (id),
    ADD COLUMN quota_cells   text[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT survey_case_claimed_owner CHECK (status <> 'claimed' OR owner_user_id IS NOT NULL);
CREATE INDEX survey_case_owner ON survey_case (owner_user_id) WHERE owner_user_id IS NOT NULL;
CREATE INDEX survey_case_due_cati ON survey_case (campaign_id, status, next_attempt_at) WHERE status IN ('open', 'appointment');

ALTER TABLE attempt
    ADD COLUMN interviewer_id bigint REFERENCES app_user (id),
    ADD COLUMN note           text NOT NULL DEFAULT '';

CREATE INDEX interview_interviewer ON interview (interviewer_id, ended_at) WHERE interviewer_id IS NOT NULL;
CREATE INDEX appointment_case ON appointment (case_id) WHERE status = 'pending';

-- Where each interviewer stands. One row per interviewer who has ever used the
-- console; the console rebuilds its screen from it (plus the case, the
-- interview and its answers) after a reload or a restart. question is the
-- question the interviewer backed up to ('' = the engine's next question).
CREATE TABLE interviewer_desk (
    user_id      bigint PRIMARY KEY REFERENCES app_user (id) ON DELETE CASCADE,
    state        text NOT NULL DEFAULT 'idle'
                 CHECK (state IN ('idle', 'on_case', 'dialing', 'interviewing', 'wrap_up')),
    case_id      bigint REFERENCES survey_case (id),
    attempt_id   bigint REFERENCES attempt (id),
    interview_id bigint REFERENCES interview (id),
    question     text NOT NULL DEFAULT '',
    since        timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'idle') = (case_id IS NULL))
);

-- Notes interviewers and supervisors leave on a case.
CREATE TABLE case_note (
    id      bigserial PRIMARY KEY,
    case_id bigint NOT NULL REFERENCES survey_case (id),
    user_id bigint REFERENCES app_user (id),
    at      timestamptz NOT NULL DEFAULT now(),
    body    text NOT NULL CHECK (body <> '')
);
CREATE INDEX case_note_case ON case_note (case_id);

-- Events name the interviewer and case they concern, so the live feed can
-- route them without reading the payload.
ALTER TABLE event
    ADD COLUMN user_id bigint,
    ADD COLUMN case_id bigint;
