-- 0017_dialer_node: a dialer's claim names the node (0015) that holds it,
-- and an attempt says when its call was placed. When a node goes silent
-- (kill -9, its machine gone), the other nodes take its claims over
-- (sql/dialer.go TakeOverDials): a call that was placed gets its attempt
-- ended as lost with the node and its case moved on by the retry rules;
-- a claim whose call was never placed goes back to the queue as if it
-- had not been made.
ALTER TABLE survey_case ADD COLUMN dialer_node_id bigint REFERENCES node (id);
ALTER TABLE attempt ADD COLUMN dialed_at timestamptz;
