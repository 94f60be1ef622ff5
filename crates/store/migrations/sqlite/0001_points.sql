-- Track points, keyed for idempotence on (vehicle, fix time, hash of the basic location block).
-- WITHOUT ROWID clusters rows by (vehicle, fix_time): a replay reads one contiguous key range.
CREATE TABLE points (
    vehicle     INTEGER NOT NULL,
    fix_time    INTEGER NOT NULL, -- UTC milliseconds
    block_hash  INTEGER NOT NULL,
    phone       TEXT    NOT NULL,
    recv_time   INTEGER NOT NULL, -- UTC milliseconds
    lat_e6      INTEGER NOT NULL,
    lon_e6      INTEGER NOT NULL,
    altitude_m  INTEGER NOT NULL,
    speed_dkmh  INTEGER NOT NULL,
    course_deg  INTEGER NOT NULL,
    alarm       INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    mileage_dkm INTEGER,
    fuel_dl     INTEGER,
    satellites  INTEGER,
    rssi        INTEGER,
    source      INTEGER NOT NULL, -- 0 live, 1 blind-area backfill, 2 JSON
    PRIMARY KEY (vehicle, fix_time, block_hash)
) WITHOUT ROWID;

-- The latest position of each vehicle; only ever moves forward in fix time.
CREATE TABLE latest_positions (
    vehicle     INTEGER PRIMARY KEY,
    fix_time    INTEGER NOT NULL,
    block_hash  INTEGER NOT NULL,
    phone       TEXT    NOT NULL,
    recv_time   INTEGER NOT NULL,
    lat_e6      INTEGER NOT NULL,
    lon_e6      INTEGER NOT NULL,
    altitude_m  INTEGER NOT NULL,
    speed_dkmh  INTEGER NOT NULL,
    course_deg  INTEGER NOT NULL,
    alarm       INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    mileage_dkm INTEGER,
    fuel_dl     INTEGER,
    satellites  INTEGER,
    rssi        INTEGER,
    source      INTEGER NOT NULL
);
