-- Personal API tokens: a user's keys for machine clients, acting as that user until revoked. Only the
-- SHA-256 of a token is stored; a revoked token stays listed (revoked_ms set) and lets nobody in.
CREATE TABLE access_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash  TEXT    NOT NULL UNIQUE, -- hex SHA-256 of the token
    user_id     INTEGER NOT NULL REFERENCES access_users (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    revoked_ms  INTEGER                  -- NULL while live
);
CREATE INDEX access_tokens_user ON access_tokens (user_id);
