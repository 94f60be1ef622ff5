-- The office's car pool (用车保障): drivers' licence classes and whether they are dispatched; each car's
-- fleet fields (the licence its driver needs, ownership, kept or disposed, marking, terminal; a car
-- without a row has the defaults); units' requests for a car, the car and driver assigned and the
-- dispatch order that covers the trip; cars' maintenance windows, which block them like an order; the
-- notices an assignment sends to the requester and the driver.
ALTER TABLE drivers ADD COLUMN licence TEXT;
ALTER TABLE drivers ADD COLUMN active BOOLEAN NOT NULL DEFAULT 1;

CREATE TABLE vehicle_fleet (
    vehicle_id             INTEGER PRIMARY KEY REFERENCES vehicles (id) ON DELETE CASCADE,
    licence_needed         TEXT   NOT NULL,
    ownership              TEXT   NOT NULL,
    disposed_on            TEXT,
    disposal               TEXT,
    marking_status         TEXT   NOT NULL,
    marking_exempt_reason  TEXT,
    terminal_status        TEXT   NOT NULL,
    terminal_exempt_reason TEXT
);

CREATE TABLE carpool_requests (
    id          INTEGER PRIMARY KEY,
    unit        BIGINT NOT NULL REFERENCES units (id),
    requester   TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    state       TEXT   NOT NULL, -- pending, assigned, cancelled, settled
    start_ms    BIGINT NOT NULL,
    end_ms      BIGINT NOT NULL,
    body        TEXT   NOT NULL, -- the request's fields as JSON
    vehicle_id  BIGINT,
    driver_id   BIGINT,
    order_id    TEXT,
    assigned_by TEXT,
    assigned_ms BIGINT,
    settlement  TEXT,            -- the trip settled from its track, as JSON
    created_ms  BIGINT NOT NULL
);
CREATE INDEX carpool_requests_window ON carpool_requests (start_ms, end_ms);

CREATE TABLE carpool_maintenance (
    id         INTEGER PRIMARY KEY,
    vehicle_id BIGINT NOT NULL REFERENCES vehicles (id) ON DELETE CASCADE,
    start_ms   BIGINT NOT NULL,
    end_ms     BIGINT NOT NULL,
    note       TEXT   NOT NULL
);
CREATE INDEX carpool_maintenance_vehicle ON carpool_maintenance (vehicle_id, start_ms);

CREATE TABLE carpool_notices (
    id         INTEGER PRIMARY KEY,
    request_id BIGINT NOT NULL REFERENCES carpool_requests (id),
    recipient  TEXT   NOT NULL, -- requester:<username> or driver:<phone>
    body       TEXT   NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX carpool_notices_request ON carpool_notices (request_id);

CREATE INDEX rules_orders_window ON rules_orders (start_ms, end_ms);
