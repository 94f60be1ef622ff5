//! Track points and latest positions in the embedded store, and its [`Backend`] implementation.

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::{Connection, Row, params};
use tianshu_model::{
    AlarmFlags, Phone, Position, StatusFlags, Terminal, Timestamp, Unit, Vehicle, VehicleId,
};

use super::{EmbeddedBackend, applied_versions, db_error};
use crate::{
    Backend, DriverEvent, Error, ImportSummary, RegistryRecord, Result, TrackStream, parse_stored_phone,
    source_from_i16, source_to_i16,
};

/// The columns of `points` and `latest_positions`, in the order [`row_to_position`] reads them.
const COLUMNS: &str = "vehicle, fix_time, block_hash, phone, recv_time, lat_e6, lon_e6, altitude_m, speed_dkmh, \
                       course_deg, alarm, status, mileage_dkm, fuel_dl, satellites, rssi, source";

/// Points a track stream reads per step before handing them to the async side.
const TRACK_CHUNK_POINTS: usize = 2_048;

fn row_to_position(r: &Row<'_>) -> rusqlite::Result<(Position, String)> {
    let phone: String = r.get(3)?;
    Ok((
        Position {
            vehicle: VehicleId(r.get(0)?),
            fix_time: Timestamp(r.get(1)?),
            phone: Phone::default(),
            recv_time: Timestamp(r.get(4)?),
            lat_e6: r.get(5)?,
            lon_e6: r.get(6)?,
            altitude_m: r.get(7)?,
            speed_dkmh: r.get(8)?,
            course_deg: r.get(9)?,
            alarm: AlarmFlags(r.get(10)?),
            status: StatusFlags(r.get(11)?),
            mileage_dkm: r.get(12)?,
            fuel_dl: r.get(13)?,
            satellites: r.get(14)?,
            rssi: r.get(15)?,
            source: source_from_i16(r.get(16)?),
        },
        phone,
    ))
}

fn finish_position((mut p, phone): (Position, String)) -> Result<Position> {
    p.phone = parse_stored_phone(&phone)?;
    Ok(p)
}

fn insert_point(
    st: &mut rusqlite::CachedStatement<'_>,
    p: &Position,
    block_hash: i64,
) -> rusqlite::Result<usize> {
    st.execute(params![
        p.vehicle.0,
        p.fix_time.0,
        block_hash,
        p.phone.to_string(),
        p.recv_time.0,
        p.lat_e6,
        p.lon_e6,
        p.altitude_m,
        p.speed_dkmh,
        p.course_deg,
        p.alarm.0,
        p.status.0,
        p.mileage_dkm,
        p.fuel_dl,
        p.satellites,
        p.rssi,
        source_to_i16(p.source),
    ])
}

/// One transaction: insert what is new into `points_recent` (a point already moved into `points` is
/// a duplicate too), move latest positions forward, commit (fsync'd by FULL sync). Returns, per
/// point, whether it was new, and how many were.
fn commit_points_blocking(
    conn: &mut Connection,
    points: &[Position],
    stored_up_to: &mut HashMap<i64, i64>,
) -> Result<(Vec<bool>, u64)> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(db_error)?;
    let mut inserted = Vec::with_capacity(points.len());
    let mut newest: HashMap<VehicleId, (&Position, i64)> = HashMap::new();
    let mut count = 0;
    {
        let mut ins = tx
            .prepare_cached(&format!(
                "INSERT INTO points_recent ({COLUMNS}) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
                 ?13, ?14, ?15, ?16, ?17 WHERE NOT EXISTS (SELECT 1 FROM points WHERE vehicle = ?1 AND \
                 fix_time = ?2 AND block_hash = ?3) ON CONFLICT DO NOTHING"
            ))
            .map_err(db_error)?;
        // A point newer than everything stored for its vehicle cannot be in `points`: only the
        // (cheap, time-clustered) `points_recent` key needs checking. Live points all take this way;
        // retransmissions and backfills take the probe.
        let mut fresh = tx
            .prepare_cached(&format!(
                "INSERT INTO points_recent ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
                 ?13, ?14, ?15, ?16, ?17) ON CONFLICT DO NOTHING"
            ))
            .map_err(db_error)?;
        for p in points {
            let hash = p.block_hash();
            let newer = stored_up_to.get(&p.vehicle.0).is_none_or(|t| p.fix_time.0 > *t);
            let st = if newer { &mut fresh } else { &mut ins };
            let new = insert_point(st, p, hash).map_err(db_error)? == 1;
            inserted.push(new);
            if new {
                count += 1;
                let e = newest.entry(p.vehicle).or_insert((p, hash));
                if (p.fix_time, hash) > (e.0.fix_time, e.1) {
                    *e = (p, hash);
                }
            }
        }
        let mut latest = tx
            .prepare_cached(&format!(
                "INSERT INTO latest_positions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
                 ?13, ?14, ?15, ?16, ?17) ON CONFLICT (vehicle) DO UPDATE SET fix_time = excluded.fix_time, \
                 block_hash = excluded.block_hash, phone = excluded.phone, recv_time = excluded.recv_time, \
                 lat_e6 = excluded.lat_e6, lon_e6 = excluded.lon_e6, altitude_m = excluded.altitude_m, \
                 speed_dkmh = excluded.speed_dkmh, course_deg = excluded.course_deg, alarm = excluded.alarm, \
                 status = excluded.status, mileage_dkm = excluded.mileage_dkm, fuel_dl = excluded.fuel_dl, \
                 satellites = excluded.satellites, rssi = excluded.rssi, source = excluded.source \
                 WHERE excluded.fix_time > latest_positions.fix_time"
            ))
            .map_err(db_error)?;
        for (p, hash) in newest.values() {
            insert_point(&mut latest, p, *hash).map_err(db_error)?;
        }
    }
    tx.commit().map_err(db_error)?;
    for (vehicle, (p, _)) in newest {
        let t = stored_up_to.entry(vehicle.0).or_insert(p.fix_time.0);
        *t = (*t).max(p.fix_time.0);
    }
    Ok((inserted, count))
}

#[async_trait]
impl Backend for EmbeddedBackend {
    async fn commit_points(&self, points: &[Position]) -> Result<Vec<bool>> {
        let points = points.to_vec();
        let recent = self.recent_points.clone();
        let stored_up_to = self.stored_up_to.clone();
        self.write(move |conn| {
            let mut stored_up_to = stored_up_to
                .lock()
                .map_err(|_| Error::Unavailable("latest-time cache poisoned".into()))?;
            let (inserted, count) = commit_points_blocking(conn, &points, &mut stored_up_to)?;
            recent.fetch_add(count, std::sync::atomic::Ordering::Relaxed);
            Ok(inserted)
        })
        .await
    }

    async fn latest_positions(&self) -> Result<Vec<Position>> {
        self.read(|conn| {
            let mut st = conn
                .prepare_cached(&format!("SELECT {COLUMNS} FROM latest_positions"))
                .map_err(db_error)?;
            let rows = st.query_map([], row_to_position).map_err(db_error)?;
            rows.map(|r| r.map_err(db_error).and_then(finish_position))
                .collect()
        })
        .await
    }

    async fn latest_position(&self, vehicle: VehicleId) -> Result<Option<Position>> {
        self.read(move |conn| {
            let mut st = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM latest_positions WHERE vehicle = ?1"
                ))
                .map_err(db_error)?;
            let mut rows = st.query_map([vehicle.0], row_to_position).map_err(db_error)?;
            rows.next()
                .transpose()
                .map_err(db_error)?
                .map(finish_position)
                .transpose()
        })
        .await
    }

    async fn track(&self, vehicle: VehicleId, from: Timestamp, to: Timestamp) -> Result<TrackStream> {
        // Keyset pagination: each step is a short read, so no read transaction stays open for the
        // life of a slow consumer, and the first points arrive before the last are read.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<Position>>>(2);
        let conn = self.reader()?;
        let readers = self.readers.clone();
        let max_idle = self.config.max_idle_readers;
        tokio::task::spawn_blocking(move || {
            let mut after: Option<(i64, i64)> = None;
            loop {
                let chunk = read_track_chunk(&conn, vehicle, from, to, after);
                let stop = match &chunk {
                    Ok(c) => {
                        after = c.last().map(|p| (p.fix_time.0, p.block_hash()));
                        c.len() < TRACK_CHUNK_POINTS
                    }
                    Err(_) => true,
                };
                if tx.blocking_send(chunk).is_err() || stop {
                    break;
                }
            }
            super::give_back(&readers, conn, max_idle);
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            let chunk = rx.recv().await?;
            let items: Vec<Result<Position>> = match chunk {
                Ok(c) => c.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            Some((futures::stream::iter(items), rx))
        });
        use futures::StreamExt;
        Ok(stream.flatten().boxed())
    }

    async fn ping(&self) -> Result<()> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(db_error))
            .await
    }

    async fn applied_migrations(&self) -> Result<Vec<u32>> {
        self.read(applied_versions).await
    }

    async fn import_registry(&self, records: &[RegistryRecord]) -> Result<ImportSummary> {
        self.import_registry_embedded(records).await
    }

    async fn units(&self) -> Result<Vec<Unit>> {
        self.units_embedded().await
    }

    async fn vehicles(&self) -> Result<Vec<Vehicle>> {
        self.vehicles_embedded(None).await
    }

    async fn vehicle_by_plate(&self, plate: &str) -> Result<Option<Vehicle>> {
        Ok(self
            .vehicles_embedded(Some(plate.to_string()))
            .await?
            .into_iter()
            .next())
    }

    async fn terminal(&self, phone: Phone) -> Result<Option<Terminal>> {
        Ok(self.terminals_embedded(Some(phone)).await?.into_iter().next())
    }

    async fn terminals(&self) -> Result<Vec<Terminal>> {
        self.terminals_embedded(None).await
    }

    async fn save_registration(
        &self,
        phone: Phone,
        edition: tianshu_model::Edition,
        auth_code_hash: &str,
        imei: Option<&str>,
    ) -> Result<()> {
        self.save_registration_embedded(phone, edition, auth_code_hash, imei)
            .await
    }

    async fn append_driver_event(&self, event: &DriverEvent) -> Result<()> {
        self.append_driver_event_embedded(event).await
    }

    async fn driver_events(
        &self,
        vehicle: VehicleId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<DriverEvent>> {
        self.driver_events_embedded(vehicle, from, to).await
    }
}

fn read_track_chunk(
    conn: &Connection,
    vehicle: VehicleId,
    from: Timestamp,
    to: Timestamp,
    after: Option<(i64, i64)>,
) -> Result<Vec<Position>> {
    // A point is in exactly one of `points` and `points_recent` at any snapshot (the move is one
    // transaction), and both tables are read in one read transaction: keyset pagination over the
    // merge neither repeats nor skips a point, even when a move happens between two chunks.
    // The range starts at the last point returned (a plain `fix_time >=` bound the index can seek
    // to), and the points of that same instant up to its hash are filtered out.
    let (start, after_time, after_hash) = match after {
        Some((t, h)) => (t.max(from.0), t, h),
        None => (from.0, i64::MIN, i64::MIN),
    };
    let limit = TRACK_CHUNK_POINTS as i64;
    let tx = conn.unchecked_transaction().map_err(db_error)?;
    let read = |table: &str| -> Result<Vec<(Position, String)>> {
        let mut st = tx
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM {table} WHERE vehicle = ?1 AND fix_time >= ?2 AND fix_time < ?3 \
                 AND (fix_time > ?4 OR block_hash > ?5) ORDER BY fix_time, block_hash LIMIT ?6"
            ))
            .map_err(db_error)?;
        let rows = st
            .query_map(
                params![vehicle.0, start, to.0, after_time, after_hash, limit],
                row_to_position,
            )
            .map_err(db_error)?;
        rows.collect::<Result<_, _>>().map_err(db_error)
    };
    let archived = read("points")?;
    let recent = read("points_recent")?;
    tx.finish().map_err(db_error)?;
    // Merge the two ordered lists, keeping the first `limit` points.
    let mut out = Vec::with_capacity(TRACK_CHUNK_POINTS.min(archived.len() + recent.len()));
    let (mut a, mut b) = (archived.into_iter().peekable(), recent.into_iter().peekable());
    while out.len() < TRACK_CHUNK_POINTS {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => {
                x.0.fix_time < y.0.fix_time
                    || (x.0.fix_time == y.0.fix_time && x.0.block_hash() <= y.0.block_hash())
            }
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_a { a.next() } else { b.next() };
        if let Some(row) = next {
            out.push(finish_position(row)?);
        }
    }
    Ok(out)
}
