-- Login sessions, kept across restarts. Only the SHA-256 of the token is stored: a copy of this table
-- lets nobody in. A session ends at logout, at expiry, or when its user is deleted or disabled.
ALTER TABLE access_users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;

CREATE TABLE access_sessions (
    token_hash  TEXT    PRIMARY KEY, -- hex SHA-256 of the cookie's token
    user_id     INTEGER NOT NULL REFERENCES access_users (id) ON DELETE CASCADE,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,    -- moved forward while the session is used (idle lifetime)
    remote      TEXT    NOT NULL     -- where the login came from
);
CREATE INDEX access_sessions_user ON access_sessions (user_id);
CREATE INDEX access_sessions_expiry ON access_sessions (expires_ms);
