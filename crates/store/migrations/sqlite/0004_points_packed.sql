-- Points, recent points and latest positions as their key columns plus one packed record (`rec`, the
-- layout is documented in src/record.rs): smaller rows and fewer values to bind and store per point.
-- Existing rows are converted, not lost. The record is built here with printf (big-endian hex) and
-- unhex, exactly as the store encodes it.

CREATE TABLE points_packed (
    vehicle    INTEGER NOT NULL,
    fix_time   INTEGER NOT NULL, -- UTC milliseconds
    block_hash INTEGER NOT NULL,
    rec        BLOB    NOT NULL,
    PRIMARY KEY (vehicle, fix_time, block_hash)
) WITHOUT ROWID;
INSERT INTO points_packed (vehicle, fix_time, block_hash, rec)
SELECT vehicle, fix_time, block_hash,
       unhex(printf('01%02X%02X%016X%08X%08X%08X%04X%04X%08X%08X%08X%04X%02X%02X',
                    (mileage_dkm IS NOT NULL) | ((fuel_dl IS NOT NULL) << 1) | ((satellites IS NOT NULL) << 2)
                        | ((rssi IS NOT NULL) << 3),
                    source & 255, recv_time, lat_e6 & 4294967295, lon_e6 & 4294967295, altitude_m & 4294967295,
                    speed_dkmh & 65535, course_deg & 65535, alarm & 4294967295, status & 4294967295,
                    coalesce(mileage_dkm, 0) & 4294967295, coalesce(fuel_dl, 0) & 65535,
                    coalesce(satellites, 0) & 255, coalesce(rssi, 0) & 255) || hex(phone))
FROM points ORDER BY vehicle, fix_time, block_hash;
DROP TABLE points;
ALTER TABLE points_packed RENAME TO points;

CREATE TABLE points_recent_packed (
    vehicle    INTEGER NOT NULL,
    fix_time   INTEGER NOT NULL,
    block_hash INTEGER NOT NULL,
    rec        BLOB    NOT NULL,
    PRIMARY KEY (fix_time, vehicle, block_hash)
) WITHOUT ROWID;
INSERT INTO points_recent_packed (vehicle, fix_time, block_hash, rec)
SELECT vehicle, fix_time, block_hash,
       unhex(printf('01%02X%02X%016X%08X%08X%08X%04X%04X%08X%08X%08X%04X%02X%02X',
                    (mileage_dkm IS NOT NULL) | ((fuel_dl IS NOT NULL) << 1) | ((satellites IS NOT NULL) << 2)
                        | ((rssi IS NOT NULL) << 3),
                    source & 255, recv_time, lat_e6 & 4294967295, lon_e6 & 4294967295, altitude_m & 4294967295,
                    speed_dkmh & 65535, course_deg & 65535, alarm & 4294967295, status & 4294967295,
                    coalesce(mileage_dkm, 0) & 4294967295, coalesce(fuel_dl, 0) & 65535,
                    coalesce(satellites, 0) & 255, coalesce(rssi, 0) & 255) || hex(phone))
FROM points_recent;
DROP TABLE points_recent;
ALTER TABLE points_recent_packed RENAME TO points_recent;

CREATE TABLE latest_positions_packed (
    vehicle    INTEGER PRIMARY KEY,
    fix_time   INTEGER NOT NULL,
    block_hash INTEGER NOT NULL,
    rec        BLOB    NOT NULL
);
INSERT INTO latest_positions_packed (vehicle, fix_time, block_hash, rec)
SELECT vehicle, fix_time, block_hash,
       unhex(printf('01%02X%02X%016X%08X%08X%08X%04X%04X%08X%08X%08X%04X%02X%02X',
                    (mileage_dkm IS NOT NULL) | ((fuel_dl IS NOT NULL) << 1) | ((satellites IS NOT NULL) << 2)
                        | ((rssi IS NOT NULL) << 3),
                    source & 255, recv_time, lat_e6 & 4294967295, lon_e6 & 4294967295, altitude_m & 4294967295,
                    speed_dkmh & 65535, course_deg & 65535, alarm & 4294967295, status & 4294967295,
                    coalesce(mileage_dkm, 0) & 4294967295, coalesce(fuel_dl, 0) & 65535,
                    coalesce(satellites, 0) & 255, coalesce(rssi, 0) & 255) || hex(phone))
FROM latest_positions;
DROP TABLE latest_positions;
ALTER TABLE latest_positions_packed RENAME TO latest_positions;
