-- Track blocks: the points of one vehicle and China day (days since 1970-01-01 in UTC+8) packed into
-- one compressed block (see the model's `block` module) once the day is older than the store keeps as
-- rows. A point is in exactly one of `points` and `point_blocks`. The blocks are compressed already:
-- PostgreSQL stores them out of line without trying to compress them again.
CREATE TABLE point_blocks (
    vehicle bigint  NOT NULL,
    day     integer NOT NULL,
    points  integer NOT NULL,
    data    bytea   NOT NULL,
    PRIMARY KEY (vehicle, day)
);
ALTER TABLE point_blocks ALTER COLUMN data SET STORAGE EXTERNAL;
