-- Points and latest positions as their key columns plus one packed record (`rec`, the layout is
-- documented at `encode_rec` in src/postgres/points.rs): PostgreSQL formats and parses each datum of a
-- row with a function call, and with seventeen columns that cost dominated replays and much of ingest.
-- The key index covers a replay with `INCLUDE (rec)`. Existing rows are converted, not lost; the view
-- `points_readable` shows the packed fields as columns for ad-hoc queries.

-- The record of a row of the former seventeen-column layout.
CREATE FUNCTION pg_temp.tianshu_pack_point(
    phone text, recv_time timestamptz, lat_e6 integer, lon_e6 integer, altitude_m integer,
    speed_dkmh integer, course_deg integer, alarm bigint, status bigint, mileage_dkm bigint,
    fuel_dl integer, satellites smallint, rssi smallint, source smallint
) RETURNS bytea LANGUAGE sql IMMUTABLE AS $f$
    SELECT '\x01'::bytea
        || set_byte('\x00'::bytea, 0, (mileage_dkm IS NOT NULL)::int | ((fuel_dl IS NOT NULL)::int << 1)
                                      | ((satellites IS NOT NULL)::int << 2) | ((rssi IS NOT NULL)::int << 3))
        || set_byte('\x00'::bytea, 0, source::int)
        || int8send(floor(extract(epoch FROM recv_time) * 1000)::bigint)
        || int4send(lat_e6) || int4send(lon_e6) || int4send(altitude_m)
        || substring(int4send(speed_dkmh) FROM 3) || substring(int4send(course_deg) FROM 3)
        || substring(int8send(alarm) FROM 5) || substring(int8send(status) FROM 5)
        || substring(int8send(coalesce(mileage_dkm, 0)) FROM 5)
        || substring(int4send(coalesce(fuel_dl, 0)) FROM 3)
        || substring(int2send(coalesce(satellites, 0::smallint)) FROM 2)
        || substring(int2send(coalesce(rssi, 0::smallint)) FROM 2)
        || convert_to(phone, 'UTF8')
$f$;

DO $migration$
DECLARE
    part record;
    hyper boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb');
BEGIN
    ALTER TABLE points RENAME TO points_columns;
    ALTER TABLE points_columns RENAME CONSTRAINT points_key TO points_columns_key;
    IF hyper THEN
        CREATE TABLE points (
            vehicle    bigint      NOT NULL,
            fix_time   timestamptz NOT NULL,
            block_hash bigint      NOT NULL,
            rec        bytea       NOT NULL,
            CONSTRAINT points_key PRIMARY KEY (vehicle, fix_time, block_hash)
        );
        PERFORM create_hypertable('points', 'fix_time', chunk_time_interval => interval '7 days',
                                 create_default_indexes => false);
    ELSE
        CREATE TABLE points (
            vehicle    bigint      NOT NULL,
            fix_time   timestamptz NOT NULL,
            block_hash bigint      NOT NULL,
            rec        bytea       NOT NULL,
            CONSTRAINT points_key PRIMARY KEY (vehicle, fix_time, block_hash) INCLUDE (rec)
        ) PARTITION BY RANGE (fix_time);
        -- The same monthly partitions, under the same names.
        FOR part IN
            SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'points_columns'::regclass
        LOOP
            EXECUTE format('ALTER TABLE %I RENAME TO %I', part.relname, part.relname || '_columns');
            EXECUTE format('CREATE TABLE %I PARTITION OF points %s', part.relname, part.bound);
        END LOOP;
    END IF;
    INSERT INTO points (vehicle, fix_time, block_hash, rec)
    SELECT vehicle, fix_time, block_hash,
           pg_temp.tianshu_pack_point(phone, recv_time, lat_e6, lon_e6, altitude_m, speed_dkmh, course_deg,
                                      alarm, status, mileage_dkm, fuel_dl, satellites, rssi, source)
    FROM points_columns
    ORDER BY vehicle, fix_time, block_hash;
    DROP TABLE points_columns;
END
$migration$;

ALTER TABLE latest_positions RENAME TO latest_positions_columns;
ALTER INDEX latest_positions_pkey RENAME TO latest_positions_columns_pkey;
CREATE TABLE latest_positions (
    vehicle    bigint      PRIMARY KEY,
    fix_time   timestamptz NOT NULL,
    block_hash bigint      NOT NULL,
    rec        bytea       NOT NULL
) WITH (
    -- As in 0003: room on each page for HOT updates, and frequent vacuums.
    fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0.0,
    autovacuum_vacuum_threshold = 20000,
    autovacuum_vacuum_cost_delay = 0
);
INSERT INTO latest_positions (vehicle, fix_time, block_hash, rec)
SELECT vehicle, fix_time, block_hash,
       pg_temp.tianshu_pack_point(phone, recv_time, lat_e6, lon_e6, altitude_m, speed_dkmh, course_deg,
                                  alarm, status, mileage_dkm, fuel_dl, satellites, rssi, source)
FROM latest_positions_columns;
DROP TABLE latest_positions_columns;

-- The packed fields as columns, for people querying the database by hand (the store does not use it).
CREATE VIEW points_readable AS
SELECT vehicle, fix_time, block_hash,
       convert_from(substring(rec FROM 44), 'UTF8') AS phone,
       to_timestamp(('x' || encode(substring(rec FROM 4 FOR 8), 'hex'))::bit(64)::bigint / 1000.0) AS recv_time,
       ('x' || encode(substring(rec FROM 12 FOR 4), 'hex'))::bit(32)::int AS lat_e6,
       ('x' || encode(substring(rec FROM 16 FOR 4), 'hex'))::bit(32)::int AS lon_e6,
       ('x' || encode(substring(rec FROM 20 FOR 4), 'hex'))::bit(32)::int AS altitude_m,
       ('x' || encode(substring(rec FROM 24 FOR 2), 'hex'))::bit(16)::int AS speed_dkmh,
       ('x' || encode(substring(rec FROM 26 FOR 2), 'hex'))::bit(16)::int AS course_deg,
       ('x' || encode(substring(rec FROM 28 FOR 4), 'hex'))::bit(32)::bigint & 4294967295 AS alarm,
       ('x' || encode(substring(rec FROM 32 FOR 4), 'hex'))::bit(32)::bigint & 4294967295 AS status,
       CASE WHEN get_byte(rec, 1) & 1 <> 0
            THEN ('x' || encode(substring(rec FROM 36 FOR 4), 'hex'))::bit(32)::bigint & 4294967295 END
           AS mileage_dkm,
       CASE WHEN get_byte(rec, 1) & 2 <> 0
            THEN ('x' || encode(substring(rec FROM 40 FOR 2), 'hex'))::bit(16)::int END AS fuel_dl,
       CASE WHEN get_byte(rec, 1) & 4 <> 0 THEN get_byte(rec, 41) END AS satellites,
       CASE WHEN get_byte(rec, 1) & 8 <> 0 THEN get_byte(rec, 42) END AS rssi,
       get_byte(rec, 2) AS source
FROM points;
