-- Track blocks: the points of one vehicle and China day (days since 1970-01-01 in UTC+8) packed into
-- one compressed block (see the model's `block` module) once the day is older than the store keeps as
-- rows. A point is in exactly one of `points_recent`, `points` and `point_blocks`.
CREATE TABLE point_blocks (
    vehicle INTEGER NOT NULL,
    day     INTEGER NOT NULL,
    points  INTEGER NOT NULL,
    data    BLOB    NOT NULL,
    PRIMARY KEY (vehicle, day)
) WITHOUT ROWID;
