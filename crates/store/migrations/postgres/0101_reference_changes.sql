-- One stamp that moves on every change to reference data the stored rows' own times cannot show: a
-- registry edit (a car moved to another unit or class), a deleted geofence. The rules reload when the
-- largest of this and the reference tables' update times moves.
CREATE TABLE rules_reference_changes (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    stamp_ms  BIGINT  NOT NULL
);
INSERT INTO rules_reference_changes (id, stamp_ms) VALUES (1, 0);
