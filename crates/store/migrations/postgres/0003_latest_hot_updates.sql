-- Every commit updates one latest_positions row per vehicle it carries. Half-empty pages let those
-- updates stay on their page (HOT: no index entry, no page split), and frequent vacuums reclaim the
-- old versions, so a fleet-wide commit costs little here and the table stays small for the 20 ms
-- "latest of every vehicle" read.
ALTER TABLE latest_positions SET (
    fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0.0,
    autovacuum_vacuum_threshold = 20000,
    autovacuum_vacuum_cost_delay = 0
);
