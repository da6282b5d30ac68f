-- 0005_call_end: a call placed from the console keeps who ended it and why
-- ("the interviewer's console went away", the network's reason), beside
-- the SIP status and Q.850 cause it already had.
ALTER TABLE attempt
    ADD COLUMN hung_up_by text NOT NULL DEFAULT ''
        CHECK (hung_up_by IN ('', 'respondent', 'interviewer', 'supervisor', 'system')),
    ADD COLUMN end_reason text NOT NULL DEFAULT '';
