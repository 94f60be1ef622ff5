-- The alert rules' saved state, one row per vehicle, so that a restart resumes it instead of replaying
-- the day's track. `state` is the rules' snapshot (JSON; its format version and configuration
-- fingerprint are inside, a mismatch is ignored by the reader); `received_up_to` is the latest receive
-- time (Unix ms) of the points it covers: the points received later are what a restart still feeds.
CREATE TABLE rule_states (
    vehicle_id      bigint PRIMARY KEY REFERENCES vehicles (id) ON DELETE CASCADE,
    state           text   NOT NULL,
    received_up_to  bigint NOT NULL,
    saved_ms        bigint NOT NULL
);
