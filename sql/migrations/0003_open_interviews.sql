-- 0003_open_interviews: finds the interviews still in progress without
-- reading the closed ones. Every node looks for keypad interviews a crashed
-- node left open once a minute (ivr/lost.go); nearly all interviews are
-- closed, so the index stays small.
CREATE INDEX interview_open ON interview (id) WHERE status = 'in_progress';
