-- Fuel cards (公务加油卡): cars' fuel profiles, cards, stations, issuers' transactions and the findings
-- of their checks. Quantities are integers: litres in centilitres, money in fen. Station positions are
-- WGS-84 micro-degrees (a GCJ-02 source is converted on import).
CREATE TABLE vehicle_fuel (
    vehicle_id        INTEGER PRIMARY KEY REFERENCES vehicles (id) ON DELETE CASCADE,
    tank_cl           INTEGER NOT NULL,
    rated_cl_per_100km INTEGER NOT NULL,
    fuel              TEXT    NOT NULL
);

CREATE TABLE fuel_cards (
    number          TEXT    PRIMARY KEY,
    issuer          TEXT    NOT NULL,
    unit_id         INTEGER NOT NULL REFERENCES units (id),
    vehicle_id      INTEGER REFERENCES vehicles (id) ON DELETE SET NULL,
    state           TEXT    NOT NULL,
    state_date      TEXT,
    state_reason    TEXT    NOT NULL,
    limit_fill_fen  INTEGER,
    limit_month_fen INTEGER,
    updated_ms      INTEGER NOT NULL
);
CREATE INDEX fuel_cards_unit ON fuel_cards (unit_id);

CREATE TABLE fuel_stations (
    code       TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    brand      TEXT    NOT NULL,
    lon_e6     INTEGER NOT NULL,
    lat_e6     INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX fuel_stations_name ON fuel_stations (name);

-- (card, time, litres, amount) identifies a transaction: a statement imported again adds nothing.
CREATE TABLE fuel_transactions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    card           TEXT    NOT NULL REFERENCES fuel_cards (number),
    time_ms        INTEGER NOT NULL,
    station        TEXT    NOT NULL,
    product        TEXT    NOT NULL,
    litres_cl      INTEGER NOT NULL,
    unit_price_fen INTEGER NOT NULL,
    amount_fen     INTEGER NOT NULL,
    plate          TEXT,
    vehicle_id     INTEGER,
    unit_id        INTEGER NOT NULL,
    source         TEXT    NOT NULL,
    imported_ms    INTEGER NOT NULL,
    UNIQUE (card, time_ms, litres_cl, amount_fen)
);
CREATE INDEX fuel_transactions_vehicle ON fuel_transactions (vehicle_id, time_ms);
CREATE INDEX fuel_transactions_unit ON fuel_transactions (unit_id, time_ms);

-- The findings of the latest check of each transaction, and the case they opened.
CREATE TABLE fuel_findings (
    transaction_id INTEGER NOT NULL REFERENCES fuel_transactions (id),
    check_id       TEXT    NOT NULL,
    severity       TEXT    NOT NULL,
    at_stake_fen   INTEGER NOT NULL,
    reason         TEXT    NOT NULL,
    reason_zh      TEXT    NOT NULL,
    evidence       TEXT    NOT NULL,
    unit_id        INTEGER NOT NULL,
    time_ms        INTEGER NOT NULL,
    case_id        INTEGER,
    PRIMARY KEY (transaction_id, check_id)
);
CREATE INDEX fuel_findings_unit ON fuel_findings (unit_id, time_ms);
