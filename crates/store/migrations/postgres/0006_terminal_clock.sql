-- A terminal's clock: the offset an administrator set (seconds added to its fix times before they are
-- checked and stored) and the steady offset last found in its live fixes, with when it was found.
ALTER TABLE terminals
    ADD COLUMN clock_offset_secs       integer NOT NULL DEFAULT 0,
    ADD COLUMN clock_found_offset_secs integer,
    ADD COLUMN clock_found_at          timestamptz;
