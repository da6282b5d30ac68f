-- 0006_dnc: do-not-call lists. A number is on the system-wide list
-- (campaign_id NULL) or on one campaign's list, once per list, with who
-- added it, how (a CSV import, the API, an interviewer's "never call again")
-- and why. Claims skip the cases of a listed number and dials to it are
-- refused (sql/cases.go).
ALTER TABLE dnc DROP CONSTRAINT dnc_pkey;
ALTER TABLE dnc
    ADD COLUMN id bigserial PRIMARY KEY,
    ADD COLUMN campaign_id bigint REFERENCES campaign (id),
    ADD COLUMN added_by text NOT NULL DEFAULT '',
    ADD COLUMN note text NOT NULL DEFAULT '';
UPDATE dnc SET source = CASE WHEN source = 'respondent' THEN 'console' ELSE 'import' END
WHERE source NOT IN ('import', 'api', 'console');
ALTER TABLE dnc ALTER COLUMN source DROP DEFAULT;
ALTER TABLE dnc ADD CONSTRAINT dnc_source CHECK (source IN ('import', 'api', 'console'));
CREATE UNIQUE INDEX dnc_number ON dnc (phone_e164, coalesce(campaign_id, 0));
CREATE INDEX dnc_campaign ON dnc (campaign_id, added_at);
