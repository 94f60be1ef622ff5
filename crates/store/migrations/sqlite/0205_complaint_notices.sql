-- A notification may be about a complaint (forwarded to a unit, sent back, escalated for being overdue)
-- instead of an alert case: the outbox row names one or the other. SQLite cannot drop a NOT NULL, so
-- the table is rebuilt with its rows and ids.
CREATE TABLE alert_outbox_rebuilt (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id         INTEGER REFERENCES alert_cases (id),
    complaint_id    INTEGER REFERENCES complaints (id),
    channel         TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL, -- pending, sent, failed
    attempts        INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT,
    created_ms      INTEGER NOT NULL,
    sent_ms         INTEGER
);
INSERT INTO alert_outbox_rebuilt (id, case_id, channel, recipient, payload, state, attempts, next_attempt_ms,
                                  last_error, created_ms, sent_ms)
    SELECT id, case_id, channel, recipient, payload, state, attempts, next_attempt_ms, last_error, created_ms,
           sent_ms
    FROM alert_outbox;
DROP TABLE alert_outbox;
ALTER TABLE alert_outbox_rebuilt RENAME TO alert_outbox;
CREATE INDEX alert_outbox_due ON alert_outbox (state, next_attempt_ms);
CREATE INDEX alert_outbox_complaint ON alert_outbox (complaint_id);
