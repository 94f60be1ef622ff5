-- Alert channels an administrator adds beside the configured ones: a webhook (url, format) or an
-- e-mail address, the units it serves (a JSON array of unit ids; empty = every case), the lowest
-- severity it is sent, and whether it is on. The outbox names a delivery `channel:<id>`.
CREATE TABLE alert_channels (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    url          TEXT,
    format       TEXT NOT NULL,
    address      TEXT,
    units        TEXT NOT NULL,
    min_severity TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL DEFAULT 1
);
