-- 0004_desk_presence: a desk says whether its interviewer is at the console
-- (signed_out until they sign in, again when they leave) and when they pause
-- (break, with its reason), so the floor tells apart who is absent, ready,
-- pausing and busy. A desk holds a case exactly in the states of a case.
ALTER TABLE interviewer_desk DROP CONSTRAINT interviewer_desk_state_check;
ALTER TABLE interviewer_desk DROP CONSTRAINT interviewer_desk_check;
ALTER TABLE interviewer_desk
    ADD CONSTRAINT interviewer_desk_state_check
        CHECK (state IN ('signed_out', 'idle', 'break', 'on_case', 'dialing', 'interviewing', 'wrap_up')),
    ADD CONSTRAINT interviewer_desk_case_check
        CHECK ((state IN ('signed_out', 'idle', 'break')) = (case_id IS NULL)),
    ADD COLUMN reason text NOT NULL DEFAULT '',
    ALTER COLUMN state SET DEFAULT 'signed_out';
