-- Re-registration: the code issued to a terminal that already holds one waits beside it (JSON of the
-- model's PendingRegistration: code hash, edition, time, address, state) until a terminal uses it and
-- proves to be the same; how often each terminal registered again, and when last. A unit may require
-- an administrator's approval of re-registrations its cars' terminals cannot prove.
ALTER TABLE terminals ADD COLUMN pending_registration TEXT;
ALTER TABLE terminals ADD COLUMN reregistrations INTEGER NOT NULL DEFAULT 0;
ALTER TABLE terminals ADD COLUMN last_reregistered_ms INTEGER;
ALTER TABLE units ADD COLUMN reregistration_approval INTEGER NOT NULL DEFAULT 0;
