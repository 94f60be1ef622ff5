-- Track points, keyed for idempotence on (vehicle, fix time, hash of the basic location block).
-- With TimescaleDB loaded, `points` is a hypertable (compression and retention are set from config at
-- open); without it, the same table is range-partitioned by month of fix time and the store creates
-- partitions ahead of need. Either way the key index covers every column a replay reads, so a replay is
-- an index-only range scan on (vehicle, fix_time).
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       AND current_setting('shared_preload_libraries', true) LIKE '%timescaledb%' THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
        CREATE TABLE points (
            vehicle     bigint      NOT NULL,
            fix_time    timestamptz NOT NULL,
            block_hash  bigint      NOT NULL,
            phone       text        NOT NULL,
            recv_time   timestamptz NOT NULL,
            lat_e6      integer     NOT NULL,
            lon_e6      integer     NOT NULL,
            altitude_m  integer     NOT NULL,
            speed_dkmh  integer     NOT NULL,
            course_deg  integer     NOT NULL,
            alarm       bigint      NOT NULL,
            status      bigint      NOT NULL,
            mileage_dkm bigint,
            fuel_dl     integer,
            satellites  smallint,
            rssi        smallint,
            source      smallint    NOT NULL,
            CONSTRAINT points_key PRIMARY KEY (vehicle, fix_time, block_hash)
        );
        PERFORM create_hypertable('points', 'fix_time', chunk_time_interval => interval '7 days',
                                 create_default_indexes => false);
    ELSE
        CREATE TABLE points (
            vehicle     bigint      NOT NULL,
            fix_time    timestamptz NOT NULL,
            block_hash  bigint      NOT NULL,
            phone       text        NOT NULL,
            recv_time   timestamptz NOT NULL,
            lat_e6      integer     NOT NULL,
            lon_e6      integer     NOT NULL,
            altitude_m  integer     NOT NULL,
            speed_dkmh  integer     NOT NULL,
            course_deg  integer     NOT NULL,
            alarm       bigint      NOT NULL,
            status      bigint      NOT NULL,
            mileage_dkm bigint,
            fuel_dl     integer,
            satellites  smallint,
            rssi        smallint,
            source      smallint    NOT NULL,
            CONSTRAINT points_key PRIMARY KEY (vehicle, fix_time, block_hash)
                INCLUDE (phone, recv_time, lat_e6, lon_e6, altitude_m, speed_dkmh, course_deg, alarm, status,
                         mileage_dkm, fuel_dl, satellites, rssi, source)
        ) PARTITION BY RANGE (fix_time);
    END IF;
END
$migration$;

-- The latest position of each vehicle; only ever moves forward in fix time.
CREATE TABLE latest_positions (
    vehicle     bigint      PRIMARY KEY,
    fix_time    timestamptz NOT NULL,
    block_hash  bigint      NOT NULL,
    phone       text        NOT NULL,
    recv_time   timestamptz NOT NULL,
    lat_e6      integer     NOT NULL,
    lon_e6      integer     NOT NULL,
    altitude_m  integer     NOT NULL,
    speed_dkmh  integer     NOT NULL,
    course_deg  integer     NOT NULL,
    alarm       bigint      NOT NULL,
    status      bigint      NOT NULL,
    mileage_dkm bigint,
    fuel_dl     integer,
    satellites  smallint,
    rssi        smallint,
    source      smallint    NOT NULL
);
