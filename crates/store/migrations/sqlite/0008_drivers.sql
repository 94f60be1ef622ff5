-- Drivers of the units' cars, edited by administrators through the API; a certificate number (as a
-- card sign-in reports it) belongs to one driver.
CREATE TABLE drivers (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    certificate TEXT    NOT NULL UNIQUE,
    phone       TEXT,
    unit        INTEGER NOT NULL REFERENCES units (id)
);
CREATE INDEX drivers_unit ON drivers (unit);
