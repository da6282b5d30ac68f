-- 0007_dialer: what the dialer keeps of its calls. The AMD verdict was
-- already a column (amd_result); its cause as app_amd words it and the
-- audio heard until the verdict come with it. The cause-table row that
-- settled an attempt is kept for the record. The claim of a keypad
-- campaign's due cases uses 0002's survey_case_due_cati; the index here
-- serves the release of a dead node's claims.
ALTER TABLE attempt
    ADD COLUMN amd_cause text NOT NULL DEFAULT '',
    ADD COLUMN amd_ms    int CHECK (amd_ms >= 0),
    ADD COLUMN rule      text NOT NULL DEFAULT '';
CREATE INDEX survey_case_claimed ON survey_case (owner) WHERE status = 'claimed';
-- A case is claimed by an interviewer or, while its call is up, by a dialer
-- node ("dialer:<node>", no interviewer).
ALTER TABLE survey_case DROP CONSTRAINT survey_case_claimed_owner,
    ADD CONSTRAINT survey_case_claimed_owner
        CHECK (status <> 'claimed' OR owner_user_id IS NOT NULL OR owner LIKE 'dialer:%');
-- An abandoned call: a person answered and nobody was there for them within
-- the rules' 2 s (or AMD took them for a machine and hung up). The
-- abandonment ledger counts these over live answered calls.
ALTER TABLE attempt ADD COLUMN abandoned boolean NOT NULL DEFAULT false;
CREATE INDEX attempt_open ON attempt (case_id) WHERE ended_at IS NULL;
-- The 72 h rule: a number that got an abandoned call is not called again
-- within 72 h (few rows: abandons are rare).
CREATE INDEX attempt_abandoned ON attempt (phone_e164, answered_at) WHERE abandoned;
-- A case whose contact is in a full quota cell is held back from every
-- claim (the cell's id; '' when not held). The dialer sets it as cells
-- fill (survey.QuotaHold).
ALTER TABLE survey_case ADD COLUMN quota_hold text NOT NULL DEFAULT '';
