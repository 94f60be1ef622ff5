-- Newly committed points, clustered by fix time. A commit from a whole fleet (one point per vehicle)
-- dirties only the few pages at the end of this table instead of one page per vehicle in `points`,
-- and SQLite's WAL writes whole pages, so this is what lets ingest reach 100k points/s. The store's
-- writer thread moves these rows into `points` (clustered by vehicle, for replay) in bulk every few
-- seconds, many points per vehicle page at a time. A point is in exactly one of the two tables.
CREATE TABLE points_recent (
    vehicle     INTEGER NOT NULL,
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
    source      INTEGER NOT NULL,
    PRIMARY KEY (fix_time, vehicle, block_hash)
) WITHOUT ROWID;
