-- Without TimescaleDB, a point dated outside the window of monthly partitions the store keeps (see
-- `ensure_partitions` in src/postgres/mod.rs) goes to one default partition: a flood of odd dates
-- cannot create a partition for every month it names.
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'points'::regclass) THEN
        CREATE TABLE points_default PARTITION OF points DEFAULT;
    END IF;
END
$migration$;
