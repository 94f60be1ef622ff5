-- Requests between JT/T 809 platforms that wait for a person's answer: platform checks (平台查岗) and
-- supervision requests (报警督办). `received` ones came from an upper platform (`peer` names its
-- `[[upper]]` entry) and are answered by an operator here; `sent` ones went to a lower platform (`peer`
-- names its `[[jt809.lower]]` entry) and its answer is recorded. `ref_id` is the request's INFO_ID or
-- SUPERVISION_ID, `sent_ms` when the answer (received) or the request (sent) went on the wire; times
-- are Unix ms. A supervision names the alarm (`warn_type`, `warn_ms`) and the case it is about, once known.
CREATE TABLE jt809_requests (
    id           INTEGER PRIMARY KEY,
    direction    TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    peer         TEXT    NOT NULL,
    ref_id       INTEGER NOT NULL,
    msg_sn       INTEGER NOT NULL,
    object_type  INTEGER NOT NULL,
    object_id    TEXT    NOT NULL,
    plate        TEXT,
    question     TEXT    NOT NULL,
    created_ms   INTEGER NOT NULL,
    deadline_ms  INTEGER NOT NULL,
    answer       TEXT,
    answered_ms  INTEGER,
    answered_by  TEXT,
    warn_type    INTEGER,
    warn_ms      INTEGER,
    case_id      TEXT,
    sent_ms      INTEGER
);
CREATE UNIQUE INDEX jt809_requests_ref ON jt809_requests (direction, kind, peer, ref_id);
CREATE INDEX jt809_requests_owed ON jt809_requests (peer, sent_ms);
