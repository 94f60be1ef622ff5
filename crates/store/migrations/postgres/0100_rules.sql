-- Rules reference data (calendars, geofences, orders and filings) and alert cases with their outbox.

-- One official calendar year per row, as the TOML text it was imported from.
CREATE TABLE rules_calendars (
    year        INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    updated_ms  BIGINT NOT NULL
);

-- Geofences; (kind, name) is the identity a re-import replaces. body: the fence as JSON.
CREATE TABLE rules_geofences (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    updated_ms  BIGINT NOT NULL,
    UNIQUE (kind, name)
);

-- Dispatch orders and holiday filings; a re-import of an id updates it. body: the order as JSON.
CREATE TABLE rules_orders (
    id          TEXT    PRIMARY KEY,
    plate       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    start_ms    BIGINT NOT NULL,
    end_ms      BIGINT NOT NULL,
    body        TEXT    NOT NULL,
    updated_ms  BIGINT NOT NULL
);
CREATE INDEX rules_orders_plate ON rules_orders (plate, start_ms);

-- One case per episode: (vehicle, rule, start) identifies it.
CREATE TABLE alert_cases (
    id            BIGSERIAL PRIMARY KEY,
    vehicle_id    BIGINT NOT NULL,
    unit_id       BIGINT NOT NULL,
    rule          TEXT    NOT NULL,
    start_ms      BIGINT NOT NULL,
    end_ms        BIGINT,
    severity      TEXT    NOT NULL,
    late          BOOLEAN NOT NULL,
    state         TEXT    NOT NULL, -- open, acknowledged, explained, closed, escalated, withdrawn
    reasoning     TEXT    NOT NULL,
    reasoning_zh  TEXT    NOT NULL,
    episode       TEXT    NOT NULL, -- the episode as JSON, evidence included
    escalate_ms   BIGINT,          -- when an unexplained case escalates by itself
    created_ms    BIGINT NOT NULL,
    updated_ms    BIGINT NOT NULL,
    UNIQUE (vehicle_id, rule, start_ms)
);
CREATE INDEX alert_cases_state ON alert_cases (state, escalate_ms);
CREATE INDEX alert_cases_unit ON alert_cases (unit_id, start_ms);

-- Every step of a case: who, when, what.
CREATE TABLE alert_case_events (
    id        BIGSERIAL PRIMARY KEY,
    case_id   BIGINT NOT NULL REFERENCES alert_cases (id),
    time_ms   BIGINT NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    note      TEXT    NOT NULL
);
CREATE INDEX alert_case_events_case ON alert_case_events (case_id, id);

-- Notifications to send: written with the case, then sent and retried with backoff.
CREATE TABLE alert_outbox (
    id              BIGSERIAL PRIMARY KEY,
    case_id         BIGINT NOT NULL REFERENCES alert_cases (id),
    channel         TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL, -- pending, sent, failed
    attempts        INTEGER NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    last_error      TEXT,
    created_ms      BIGINT NOT NULL,
    sent_ms         BIGINT
);
CREATE INDEX alert_outbox_due ON alert_outbox (state, next_attempt_ms);
