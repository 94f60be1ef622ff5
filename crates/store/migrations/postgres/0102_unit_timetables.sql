-- Office hours of single units, edited through the API or imported from a file; they override the
-- configured `[rules] unit_timetables` of the same unit. body: {"periods": [...], "seasons": [...]} as
-- JSON. Writes move rules_reference_changes, so the running rules reload.
CREATE TABLE rules_unit_timetables (
    unit_id     bigint PRIMARY KEY REFERENCES units (id) ON DELETE CASCADE,
    body        text   NOT NULL,
    updated_ms  bigint NOT NULL
);
