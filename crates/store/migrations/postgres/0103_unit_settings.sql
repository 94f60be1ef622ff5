-- Settings of single units, edited by administrators through the API; a unit without a row has the
-- defaults. body: {"second_person_approval": true} as JSON.
CREATE TABLE rules_unit_settings (
    unit_id     bigint PRIMARY KEY REFERENCES units (id) ON DELETE CASCADE,
    body        text   NOT NULL,
    updated_ms  bigint NOT NULL
);
