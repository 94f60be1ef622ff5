-- On a TimescaleDB hypertable, the index create_hypertable made by default on fix_time alone: no query of
-- Tianshu's uses it (every read names the vehicle, and the key's index serves it), and it cost about 18 bytes
-- a point. Hypertables made from now on are created without it (`create_default_indexes => false`).
-- The layout is read from TimescaleDB's catalogue, not from whether the extension is installed: a database
-- that got the extension after its schema was made keeps its plain `points`.
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        IF EXISTS (SELECT 1 FROM timescaledb_information.hypertables
                   WHERE hypertable_schema = current_schema() AND hypertable_name = 'points') THEN
            DROP INDEX IF EXISTS points_fix_time_idx;
        END IF;
    END IF;
END
$migration$;
