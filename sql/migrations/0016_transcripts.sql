-- 0016_transcripts: the text of voice answers, from a speech-to-text
-- service (transcribe:, off by default). A row is claimed (working, with a
-- lease in next_attempt_at) before the service is called, so nodes do not
-- transcribe one recording twice at once; failures are retried with
-- backoff, then left failed with the service's error.
CREATE TABLE transcript (
    interview_id    bigint NOT NULL REFERENCES interview (id) ON DELETE CASCADE,
    question_id     text NOT NULL,
    recording       text NOT NULL,
    status          text NOT NULL CHECK (status IN ('working', 'done', 'retry', 'failed')),
    text            text NOT NULL DEFAULT '',
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    error           text NOT NULL DEFAULT '',
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (interview_id, question_id)
);

-- Voice answers (their paradata has recording_ms), newest first.
CREATE INDEX answer_recording ON answer (answered_at) WHERE paradata ? 'recording_ms' AND NOT skipped;
