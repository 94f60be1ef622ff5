-- Alert cases as JT/T 809 alarm reports. `jt809_alarm_forwarding`: how far each upper platform has been
-- sent this store's cases (the highest case id passed; cases with a larger id are what its link still
-- owes). `jt809_alarms`: the alarm reports lower platforms sent here (`peer` names the
-- `[[jt809.lower]]` entry), one row per report however often it came (a link that broke before its
-- keep-alive answer sends it again); `info_id` is 0 for a 2019 report. Times are Unix ms.
CREATE TABLE jt809_alarm_forwarding (
    upper        TEXT   PRIMARY KEY,
    case_up_to   INTEGER NOT NULL,
    saved_ms     INTEGER NOT NULL
);
CREATE TABLE jt809_alarms (
    id           INTEGER PRIMARY KEY,
    peer         TEXT    NOT NULL,
    plate        TEXT    NOT NULL,
    vehicle_id   INTEGER  NOT NULL,
    warn_src     INTEGER  NOT NULL,
    warn_type    INTEGER  NOT NULL,
    warn_ms      INTEGER  NOT NULL,
    start_ms     INTEGER,
    end_ms       INTEGER,
    info_id      INTEGER  NOT NULL,
    info         TEXT    NOT NULL,
    received_ms  INTEGER  NOT NULL
);
CREATE UNIQUE INDEX jt809_alarms_once ON jt809_alarms (peer, plate, warn_type, warn_ms, info_id, info);
CREATE INDEX jt809_alarms_vehicle ON jt809_alarms (vehicle_id, warn_ms);
