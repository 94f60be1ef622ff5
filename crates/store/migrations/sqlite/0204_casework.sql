-- Public complaints (举报), their steps and linked cases; the finding and accountability record that
-- closes any alert case. The reporter's phone number is stored sealed (an AEAD with a key that is never
-- in the database) beside its masked form; it is never stored in clear.
CREATE TABLE complaints (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    received_ms    BIGINT  NOT NULL,
    channel        TEXT    NOT NULL,
    reporter_name  TEXT,             -- NULL: anonymous
    phone_sealed   TEXT,             -- nonce and ciphertext, hex
    phone_masked   TEXT,
    body           TEXT    NOT NULL, -- what was reported
    place          TEXT    NOT NULL,
    window_from_ms BIGINT,
    window_to_ms   BIGINT,
    cars           TEXT    NOT NULL, -- the named cars as JSON, resolved or not
    unresolved     INTEGER   NOT NULL,
    state          TEXT    NOT NULL, -- received, forwarded, answered, accepted, replied
    unit_id        BIGINT,           -- the unit it is forwarded to (or its first named car's)
    forwarded_to   BIGINT,           -- set once forwarded: who must answer
    deadline_ms    BIGINT,
    forwarded_ms   BIGINT,
    answered_ms    BIGINT,
    answered_in_time INTEGER,
    replied_ms     BIGINT,
    escalated_ms   BIGINT,
    entered_by     TEXT    NOT NULL,
    updated_ms     BIGINT  NOT NULL
);
CREATE INDEX complaints_received ON complaints (received_ms, id);
CREATE INDEX complaints_forwarded ON complaints (forwarded_to, received_ms);
CREATE INDEX complaints_due ON complaints (state, deadline_ms);
CREATE INDEX complaints_state ON complaints (state, received_ms);

CREATE TABLE complaint_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    complaint_id BIGINT NOT NULL REFERENCES complaints (id),
    time_ms      BIGINT NOT NULL,
    actor        TEXT   NOT NULL,
    action       TEXT   NOT NULL,
    note         TEXT   NOT NULL
);
CREATE INDEX complaint_events_of ON complaint_events (complaint_id, id);

CREATE TABLE complaint_cases (
    complaint_id BIGINT NOT NULL REFERENCES complaints (id),
    case_id      BIGINT NOT NULL REFERENCES alert_cases (id),
    PRIMARY KEY (complaint_id, case_id)
);

CREATE TABLE case_findings (
    case_id       BIGINT  PRIMARY KEY REFERENCES alert_cases (id),
    unit_id       BIGINT  NOT NULL,
    outcome       TEXT    NOT NULL, -- unfounded, explained, confirmed
    violation     TEXT,
    recovered_fen BIGINT  NOT NULL,
    decided       TEXT    NOT NULL, -- YYYY-MM-DD, local
    note          TEXT    NOT NULL,
    recorded_by   TEXT    NOT NULL,
    recorded_ms   BIGINT  NOT NULL
);
CREATE INDEX case_findings_decided ON case_findings (decided);

CREATE TABLE case_accountability (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES case_findings (case_id),
    name    TEXT   NOT NULL,
    post    TEXT   NOT NULL,
    unit    TEXT   NOT NULL,
    measure TEXT   NOT NULL
);
CREATE INDEX case_accountability_of ON case_accountability (case_id, id);
