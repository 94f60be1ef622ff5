-- The registry: units (a tree), vehicles, terminals, driver sign-ins.
CREATE TABLE units (
    id     INTEGER PRIMARY KEY,
    name   TEXT    NOT NULL,
    parent INTEGER REFERENCES units (id),
    path   TEXT    NOT NULL UNIQUE -- '/'-joined names from the root: the import key
);

CREATE TABLE vehicles (
    id    INTEGER PRIMARY KEY,
    plate TEXT    NOT NULL UNIQUE,
    unit  INTEGER NOT NULL REFERENCES units (id),
    class TEXT    NOT NULL
);

CREATE TABLE terminals (
    phone          TEXT PRIMARY KEY, -- decimal value, no leading zeros
    terminal_id    TEXT NOT NULL,
    edition        TEXT,
    auth_code_hash TEXT,
    imei           TEXT,
    vehicle        INTEGER REFERENCES vehicles (id)
);
CREATE INDEX terminals_vehicle ON terminals (vehicle);

CREATE TABLE driver_events (
    vehicle     INTEGER NOT NULL,
    phone       TEXT    NOT NULL,
    time        INTEGER NOT NULL,
    signed_in   INTEGER NOT NULL,
    name        TEXT,
    certificate TEXT,
    PRIMARY KEY (vehicle, time, signed_in)
) WITHOUT ROWID;
