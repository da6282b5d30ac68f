-- 0015_node: the canvass processes sharing this database. Each one adds a
-- row when it starts and stamps seen_at every few seconds by the
-- database's clock (one clock for every node); the keypad interviews it
-- runs carry its id. An interview still in progress whose node has gone
-- silent was left by a process that died (kill -9, power loss): the
-- lost-interview sweep of the other nodes closes it (ivr/lost.go) within
-- seconds, instead of waiting for the longest call to be over. A node
-- that starts again is a new row: its earlier self's interviews are lost.
CREATE TABLE node (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    seen_at    timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE interview ADD COLUMN node_id bigint REFERENCES node (id);
CREATE INDEX interview_open_node ON interview (node_id) WHERE status = 'in_progress';
