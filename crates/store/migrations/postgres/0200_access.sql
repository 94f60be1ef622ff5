-- Users (who may log in, with which role and unit) and the tamper-evident audit log.
CREATE TABLE access_users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT   NOT NULL UNIQUE,
    role          TEXT   NOT NULL, -- administrator, dispatcher, inspector, supervisor
    unit_id       BIGINT,          -- required for supervisors: bounds what they see
    password_hash TEXT   NOT NULL, -- argon2 PHC string
    created_ms    BIGINT NOT NULL
);

-- Append-only; each record's hash covers the previous record's hash and its own fields.
CREATE TABLE access_audit (
    seq        BIGINT PRIMARY KEY, -- 1, 2, 3... without gaps
    time_ms    BIGINT NOT NULL,
    actor      TEXT   NOT NULL,
    role       TEXT   NOT NULL,
    action     TEXT   NOT NULL,
    vehicle_id BIGINT,
    from_ms    BIGINT,
    to_ms      BIGINT,
    remote     TEXT   NOT NULL,
    rows       BIGINT NOT NULL,
    detail     TEXT   NOT NULL,
    prev_hash  TEXT   NOT NULL,
    hash       TEXT   NOT NULL
);
