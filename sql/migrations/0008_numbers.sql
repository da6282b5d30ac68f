-- 0008_numbers: several numbers per contact (home, mobile, work…). The
-- contact's phone_e164 is the number its cases call now; contact_phone
-- (contact_number) lists all of them in the order the sample gave, with when and why one
-- was settled (not working, a fax): the case then goes on with the next.
-- Each number's own outcome history is its attempts (attempt.phone_e164).
CREATE TABLE contact_number (
    contact_id  bigint NOT NULL REFERENCES contact (id) ON DELETE CASCADE,
    rank        int NOT NULL CHECK (rank >= 0),
    phone_e164  text NOT NULL CHECK (phone_e164 ~ '^\+[1-9][0-9]{1,14}$'),
    label       text NOT NULL DEFAULT '',
    settled_at  timestamptz,
    settled_as  text NOT NULL DEFAULT '',
    PRIMARY KEY (contact_id, rank),
    UNIQUE (contact_id, phone_e164)
);
