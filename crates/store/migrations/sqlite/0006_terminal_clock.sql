-- A terminal's clock: the offset an administrator set (seconds added to its fix times before they are
-- checked and stored) and the steady offset last found in its live fixes, with when it was found (ms).
ALTER TABLE terminals ADD COLUMN clock_offset_secs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE terminals ADD COLUMN clock_found_offset_secs INTEGER;
ALTER TABLE terminals ADD COLUMN clock_found_at INTEGER;
