-- How each audit record is linked to the one before it: 'sha256' (records written before the log was
-- keyed) or 'hmac-sha256' (keyed with a secret kept outside the database). Once keyed, always keyed.
ALTER TABLE access_audit ADD COLUMN scheme TEXT NOT NULL DEFAULT 'sha256';
