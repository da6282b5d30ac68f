-- 0011_webhooks: subscriptions to events, and an outbox the event table
-- fills in the same transaction as the change it reports (a trigger), so a
-- delivery is never lost nor invented. Each subscription's deliveries go
-- out in event order, one at a time, retried with backoff until delivered
-- or dead-lettered; every attempt is logged with the receiver's answer.
CREATE TABLE webhook (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL DEFAULT '',
    url             text NOT NULL,
    secret          text NOT NULL,
    previous_secret text NOT NULL DEFAULT '',   -- still signed with until previous_until (rotation)
    previous_until  timestamptz,
    event_types     text[] NOT NULL CHECK (cardinality(event_types) > 0),
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text NOT NULL DEFAULT ''
);

CREATE TABLE webhook_outbox (
    id              bigserial PRIMARY KEY,
    webhook_id      bigint NOT NULL REFERENCES webhook (id) ON DELETE CASCADE,
    event_id        bigint NOT NULL,
    kind            text NOT NULL,
    payload         jsonb NOT NULL,             -- the envelope, kept though the event is pruned
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    done_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, event_id, kind)
);
CREATE INDEX webhook_outbox_pending ON webhook_outbox (webhook_id, event_id, id) WHERE state = 'pending';

CREATE TABLE webhook_attempt (
    id          bigserial PRIMARY KEY,
    outbox_id   bigint NOT NULL REFERENCES webhook_outbox (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    status_code int NOT NULL DEFAULT 0,         -- 0: no HTTP answer
    error       text NOT NULL DEFAULT '',
    duration_ms int NOT NULL DEFAULT 0,
    replay      boolean NOT NULL DEFAULT false
);
CREATE INDEX webhook_attempt_outbox ON webhook_attempt (outbox_id, at);

-- An interview.ended event of a complete interview is also an
-- interview.completed for the subscriptions that ask for that.
CREATE FUNCTION webhook_enqueue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_outbox (webhook_id, event_id, kind, payload)
    SELECT w.id, NEW.id, t.kind,
           jsonb_build_object('id', NEW.id, 'type', t.kind, 'version', 1, 'occurred_at', NEW.at,
                              'campaign_id', NEW.campaign_id, 'interview_id', NEW.interview_id, 'case_id', NEW.case_id,
                              'data', NEW.payload)
    FROM webhook w
    CROSS JOIN LATERAL (
        SELECT NEW.kind AS kind WHERE NEW.kind = ANY (w.event_types)
        UNION ALL
        SELECT 'interview.completed' WHERE NEW.kind = 'interview.ended' AND NEW.payload->>'status' = 'complete'
                                       AND 'interview.completed' = ANY (w.event_types)
    ) t
    WHERE w.active
    ON CONFLICT (webhook_id, event_id, kind) DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER event_webhooks AFTER INSERT ON event FOR EACH ROW EXECUTE FUNCTION webhook_enqueue();
