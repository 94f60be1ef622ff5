//! Track points and latest positions in PostgreSQL, and its [`Backend`] implementation.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use tianshu_model::{
    AlarmFlags, Phone, Position, StatusFlags, Terminal, Timestamp, Unit, Vehicle, VehicleId,
};
use tokio_postgres::Row;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::{PostgresBackend, month_of, pg_error};
use crate::{
    Backend, DriverEvent, Error, ImportSummary, RegistryRecord, Result, TrackStream, parse_stored_phone,
    source_from_i16, source_to_i16,
};

/// The columns of `points`, `latest_positions` and the staging table, in COPY and read order.
const COLUMNS: &str = "vehicle, fix_time, block_hash, phone, recv_time, lat_e6, lon_e6, altitude_m, speed_dkmh, \
                       course_deg, alarm, status, mileage_dkm, fuel_dl, satellites, rssi, source";

/// The COPY types of [`COLUMNS`].
const COPY_TYPES: [Type; 17] = [
    Type::INT8,
    Type::TIMESTAMPTZ,
    Type::INT8,
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::INT4,
    Type::INT4,
    Type::INT4,
    Type::INT4,
    Type::INT4,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT4,
    Type::INT2,
    Type::INT2,
    Type::INT2,
];

/// Instants PostgreSQL's `timestamptz` holds (about 4300 BC to 255,000 AD); a range bound beyond
/// them (say `i64::MAX` for "until the end") is clamped rather than wrapped.
const PG_MIN_MILLIS: i64 = -200_000_000_000_000;
const PG_MAX_MILLIS: i64 = 8_000_000_000_000_000;

pub(crate) fn to_datetime(t: Timestamp) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(t.0.clamp(PG_MIN_MILLIS, PG_MAX_MILLIS)).unwrap_or_default()
}

fn from_datetime(t: DateTime<Utc>) -> Timestamp {
    Timestamp(t.timestamp_millis())
}

fn narrow<T: TryFrom<i64>>(v: i64, what: &str) -> Result<T> {
    T::try_from(v).map_err(|_| Error::Corrupt(format!("{what} {v} out of range")))
}

fn row_to_position(r: &Row) -> Result<Position> {
    let get_err = |e: tokio_postgres::Error| Error::Corrupt(format!("points row: {e}"));
    Ok(Position {
        vehicle: VehicleId(r.try_get(0).map_err(get_err)?),
        fix_time: from_datetime(r.try_get(1).map_err(get_err)?),
        phone: parse_stored_phone(r.try_get(3).map_err(get_err)?)?,
        recv_time: from_datetime(r.try_get(4).map_err(get_err)?),
        lat_e6: r.try_get(5).map_err(get_err)?,
        lon_e6: r.try_get(6).map_err(get_err)?,
        altitude_m: r.try_get(7).map_err(get_err)?,
        speed_dkmh: narrow(i64::from(r.try_get::<_, i32>(8).map_err(get_err)?), "speed")?,
        course_deg: narrow(i64::from(r.try_get::<_, i32>(9).map_err(get_err)?), "course")?,
        alarm: AlarmFlags(narrow(r.try_get::<_, i64>(10).map_err(get_err)?, "alarm")?),
        status: StatusFlags(narrow(r.try_get::<_, i64>(11).map_err(get_err)?, "status")?),
        mileage_dkm: r
            .try_get::<_, Option<i64>>(12)
            .map_err(get_err)?
            .map(|v| narrow(v, "mileage"))
            .transpose()?,
        fuel_dl: r
            .try_get::<_, Option<i32>>(13)
            .map_err(get_err)?
            .map(|v| narrow(i64::from(v), "fuel"))
            .transpose()?,
        satellites: r
            .try_get::<_, Option<i16>>(14)
            .map_err(get_err)?
            .map(|v| narrow(i64::from(v), "satellites"))
            .transpose()?,
        rssi: r
            .try_get::<_, Option<i16>>(15)
            .map_err(get_err)?
            .map(|v| narrow(i64::from(v), "rssi"))
            .transpose()?,
        source: source_from_i16(r.try_get(16).map_err(get_err)?),
    })
}

/// One staged row, owned so that references to it can be handed to COPY.
struct StagedRow {
    vehicle: i64,
    fix_time: DateTime<Utc>,
    block_hash: i64,
    phone: String,
    recv_time: DateTime<Utc>,
    lat_e6: i32,
    lon_e6: i32,
    altitude_m: i32,
    speed_dkmh: i32,
    course_deg: i32,
    alarm: i64,
    status: i64,
    mileage_dkm: Option<i64>,
    fuel_dl: Option<i32>,
    satellites: Option<i16>,
    rssi: Option<i16>,
    source: i16,
}

impl StagedRow {
    fn new(p: &Position, block_hash: i64) -> Self {
        StagedRow {
            vehicle: p.vehicle.0,
            fix_time: to_datetime(p.fix_time),
            block_hash,
            phone: p.phone.to_string(),
            recv_time: to_datetime(p.recv_time),
            lat_e6: p.lat_e6,
            lon_e6: p.lon_e6,
            altitude_m: p.altitude_m,
            speed_dkmh: i32::from(p.speed_dkmh),
            course_deg: i32::from(p.course_deg),
            alarm: i64::from(p.alarm.0),
            status: i64::from(p.status.0),
            mileage_dkm: p.mileage_dkm.map(i64::from),
            fuel_dl: p.fuel_dl.map(i32::from),
            satellites: p.satellites.map(i16::from),
            rssi: p.rssi.map(i16::from),
            source: source_to_i16(p.source),
        }
    }

    fn values(&self) -> [&(dyn ToSql + Sync); 17] {
        [
            &self.vehicle,
            &self.fix_time,
            &self.block_hash,
            &self.phone,
            &self.recv_time,
            &self.lat_e6,
            &self.lon_e6,
            &self.altitude_m,
            &self.speed_dkmh,
            &self.course_deg,
            &self.alarm,
            &self.status,
            &self.mileage_dkm,
            &self.fuel_dl,
            &self.satellites,
            &self.rssi,
            &self.source,
        ]
    }
}

impl PostgresBackend {
    async fn commit_points_pg(&self, points: &[Position]) -> Result<Vec<bool>> {
        // First occurrence of each key goes to the database; later repeats in the batch are duplicates.
        let mut index: HashMap<(i64, i64, i64), usize> = HashMap::with_capacity(points.len());
        let mut staged = Vec::with_capacity(points.len());
        let mut months = HashSet::new();
        for (i, p) in points.iter().enumerate() {
            let hash = p.block_hash();
            if let std::collections::hash_map::Entry::Vacant(e) =
                index.entry((p.vehicle.0, p.fix_time.0, hash))
            {
                e.insert(i);
                staged.push(StagedRow::new(p, hash));
                months.insert(month_of(p.fix_time.0));
            }
        }
        let months: Vec<i32> = months.into_iter().collect();
        self.ensure_partitions(&months).await?;
        // Key order: index inserts walk the B-tree in order, and lock order is the same everywhere.
        staged.sort_unstable_by_key(|r| (r.vehicle, r.fix_time, r.block_hash));

        // Fast path: live points are almost never duplicates, so COPY straight into `points`. If a
        // duplicate is there after all, the transaction fails whole (nothing committed) and the batch
        // goes the staging way; the fast path then rests for a few batches (a retransmitting fleet).
        if self.fast_path_rest.load(Ordering::Relaxed) == 0 {
            let mut client = self.client().await?;
            match copy_direct(&mut client, &staged).await {
                Ok(()) => {
                    let mut inserted = vec![false; points.len()];
                    for i in index.values() {
                        inserted[*i] = true;
                    }
                    return Ok(inserted);
                }
                Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
                    self.fast_path_rest
                        .store(FAST_PATH_REST_BATCHES, Ordering::Relaxed);
                }
                Err(e) => return Err(pg_error(e)),
            }
        } else {
            let _ = self
                .fast_path_rest
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }

        // Two overlapping commits that both hold duplicates could deadlock on the key index; the
        // sorted insert makes that rare, and the loser is retried once before anyone sees an error.
        let mut attempt = 0;
        let inserted_rows = loop {
            let mut client = self.client().await?;
            match copy_and_insert(&mut client, &staged).await {
                Ok(rows) => break rows,
                Err(e)
                    if attempt == 0
                        && e.code() == Some(&tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED) =>
                {
                    attempt += 1;
                    tracing::debug!(error = %e, "store commit deadlocked; retrying once");
                }
                Err(e) => return Err(pg_error(e)),
            }
        };

        let mut inserted = vec![false; points.len()];
        for r in inserted_rows {
            let key = (
                r.try_get::<_, i64>(0).map_err(pg_error)?,
                r.try_get::<_, DateTime<Utc>>(1)
                    .map_err(pg_error)?
                    .timestamp_millis(),
                r.try_get::<_, i64>(2).map_err(pg_error)?,
            );
            if let Some(&i) = index.get(&key) {
                inserted[i] = true;
            }
        }
        Ok(inserted)
    }
}

/// Batches the fast path sits out after a batch turned out to hold a stored point.
const FAST_PATH_REST_BATCHES: u32 = 16;

/// COPYs the rows straight into `points` and moves `latest_positions` forward, in one transaction.
/// Fails with a unique violation, committing nothing, when any row is already stored.
async fn copy_direct(
    client: &mut deadpool_postgres::Object,
    staged: &[StagedRow],
) -> std::result::Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL synchronous_commit = on").await?;
    let sink = tx
        .copy_in(&format!("COPY points ({COLUMNS}) FROM STDIN (FORMAT binary)"))
        .await?;
    let writer = BinaryCopyInWriter::new(sink, &COPY_TYPES);
    let mut writer = std::pin::pin!(writer);
    for row in staged {
        writer.as_mut().write(&row.values()).await?;
    }
    writer.finish().await?;

    // The newest row of each vehicle (rows are in key order: the last of each vehicle's run).
    let newest: Vec<&StagedRow> = staged
        .iter()
        .enumerate()
        .filter(|(i, r)| staged.get(i + 1).is_none_or(|next| next.vehicle != r.vehicle))
        .map(|(_, r)| r)
        .collect();
    let updates: Vec<String> = COLUMNS
        .split(", ")
        .skip(1)
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let sql = format!(
        "INSERT INTO latest_positions ({COLUMNS})
         SELECT * FROM unnest($1::int8[], $2::timestamptz[], $3::int8[], $4::text[], $5::timestamptz[],
                              $6::int4[], $7::int4[], $8::int4[], $9::int4[], $10::int4[], $11::int8[],
                              $12::int8[], $13::int8[], $14::int4[], $15::int2[], $16::int2[], $17::int2[])
         ON CONFLICT (vehicle) DO UPDATE SET {}
         WHERE excluded.fix_time > latest_positions.fix_time",
        updates.join(", ")
    );
    macro_rules! column {
        ($f:ident) => {
            newest.iter().map(|r| r.$f.clone()).collect::<Vec<_>>()
        };
    }
    let (vehicle, fix_time, block_hash, phone) = (
        column!(vehicle),
        column!(fix_time),
        column!(block_hash),
        column!(phone),
    );
    let (recv_time, lat_e6, lon_e6, altitude_m) = (
        column!(recv_time),
        column!(lat_e6),
        column!(lon_e6),
        column!(altitude_m),
    );
    let (speed_dkmh, course_deg, alarm, status) = (
        column!(speed_dkmh),
        column!(course_deg),
        column!(alarm),
        column!(status),
    );
    let (mileage_dkm, fuel_dl, satellites, rssi, source) = (
        column!(mileage_dkm),
        column!(fuel_dl),
        column!(satellites),
        column!(rssi),
        column!(source),
    );
    tx.execute(
        &sql,
        &[
            &vehicle,
            &fix_time,
            &block_hash,
            &phone,
            &recv_time,
            &lat_e6,
            &lon_e6,
            &altitude_m,
            &speed_dkmh,
            &course_deg,
            &alarm,
            &status,
            &mileage_dkm,
            &fuel_dl,
            &satellites,
            &rssi,
            &source,
        ],
    )
    .await?;
    tx.commit().await
}

/// COPYs the staged rows and moves them into `points` and `latest_positions` in one transaction;
/// returns the keys that were new.
async fn copy_and_insert(
    client: &mut deadpool_postgres::Object,
    staged: &[StagedRow],
) -> std::result::Result<Vec<Row>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.batch_execute(&format!(
        "SET LOCAL synchronous_commit = on;
         CREATE TEMP TABLE IF NOT EXISTS points_staging ON COMMIT DELETE ROWS
             AS SELECT {COLUMNS} FROM points WITH NO DATA;"
    ))
    .await?;
    let sink = tx
        .copy_in(&format!(
            "COPY points_staging ({COLUMNS}) FROM STDIN (FORMAT binary)"
        ))
        .await?;
    let writer = BinaryCopyInWriter::new(sink, &COPY_TYPES);
    let mut writer = std::pin::pin!(writer);
    for row in staged {
        writer.as_mut().write(&row.values()).await?;
    }
    writer.finish().await?;
    let updates: Vec<String> = COLUMNS
        .split(", ")
        .skip(1)
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let rows = tx
        .query(
            &format!(
                "WITH ins AS (
                     INSERT INTO points ({COLUMNS}) SELECT {COLUMNS} FROM points_staging
                     ORDER BY vehicle, fix_time, block_hash
                     ON CONFLICT DO NOTHING
                     RETURNING vehicle, fix_time, block_hash
                 ), newest AS (
                     -- From all staged points: a duplicate is never newer than the latest.
                     INSERT INTO latest_positions ({COLUMNS})
                     SELECT DISTINCT ON (vehicle) {COLUMNS} FROM points_staging
                     ORDER BY vehicle, fix_time DESC, block_hash DESC
                     ON CONFLICT (vehicle) DO UPDATE SET {}
                     WHERE excluded.fix_time > latest_positions.fix_time
                 )
                 SELECT vehicle, fix_time, block_hash FROM ins",
                updates.join(", ")
            ),
            &[],
        )
        .await?;
    tx.commit().await?;
    Ok(rows)
}

#[async_trait]
impl Backend for PostgresBackend {
    async fn commit_points(&self, points: &[Position]) -> Result<Vec<bool>> {
        self.commit_points_pg(points).await
    }

    async fn latest_positions(&self) -> Result<Vec<Position>> {
        let client = self.client().await?;
        let st = client
            .prepare_cached(&format!("SELECT {COLUMNS} FROM latest_positions"))
            .await
            .map_err(pg_error)?;
        client
            .query(&st, &[])
            .await
            .map_err(pg_error)?
            .iter()
            .map(row_to_position)
            .collect()
    }

    async fn latest_position(&self, vehicle: VehicleId) -> Result<Option<Position>> {
        let client = self.client().await?;
        let st = client
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM latest_positions WHERE vehicle = $1"
            ))
            .await
            .map_err(pg_error)?;
        client
            .query_opt(&st, &[&vehicle.0])
            .await
            .map_err(pg_error)?
            .as_ref()
            .map(row_to_position)
            .transpose()
    }

    async fn track(&self, vehicle: VehicleId, from: Timestamp, to: Timestamp) -> Result<TrackStream> {
        let client = self.client().await?;
        let st = client
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM points WHERE vehicle = $1 AND fix_time >= $2 AND fix_time < $3 \
                 ORDER BY fix_time, block_hash"
            ))
            .await
            .map_err(pg_error)?;
        let (from, to) = (to_datetime(from), to_datetime(to));
        let params: [&(dyn ToSql + Sync); 3] = [&vehicle.0, &from, &to];
        let rows = client.query_raw(&st, params).await.map_err(pg_error)?;
        // The pooled connection rides along with the rows and returns to the pool when the stream ends.
        let stream = futures::stream::unfold((client, Box::pin(rows)), |(client, mut rows)| async move {
            let next = rows.next().await?;
            Some((
                next.map_err(pg_error).and_then(|r| row_to_position(&r)),
                (client, rows),
            ))
        });
        Ok(stream.boxed())
    }

    async fn ping(&self) -> Result<()> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.map_err(pg_error)?;
        Ok(())
    }

    async fn applied_migrations(&self) -> Result<Vec<u32>> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT version FROM schema_migrations ORDER BY version", &[])
            .await
            .map_err(pg_error)?;
        rows.iter()
            .map(|r| r.try_get::<_, i32>(0).map_err(pg_error).map(|v| v as u32))
            .collect()
    }

    async fn import_registry(&self, records: &[RegistryRecord]) -> Result<ImportSummary> {
        self.import_registry_pg(records).await
    }

    async fn units(&self) -> Result<Vec<Unit>> {
        self.units_pg().await
    }

    async fn vehicles(&self) -> Result<Vec<Vehicle>> {
        self.vehicles_pg(None).await
    }

    async fn vehicle_by_plate(&self, plate: &str) -> Result<Option<Vehicle>> {
        Ok(self.vehicles_pg(Some(plate)).await?.into_iter().next())
    }

    async fn terminal(&self, phone: Phone) -> Result<Option<Terminal>> {
        Ok(self.terminals_pg(Some(phone)).await?.into_iter().next())
    }

    async fn terminals(&self) -> Result<Vec<Terminal>> {
        self.terminals_pg(None).await
    }

    async fn save_registration(
        &self,
        phone: Phone,
        edition: tianshu_model::Edition,
        auth_code_hash: &str,
        imei: Option<&str>,
    ) -> Result<()> {
        self.save_registration_pg(phone, edition, auth_code_hash, imei)
            .await
    }

    async fn append_driver_event(&self, event: &DriverEvent) -> Result<()> {
        self.append_driver_event_pg(event).await
    }

    async fn driver_events(
        &self,
        vehicle: VehicleId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<DriverEvent>> {
        self.driver_events_pg(vehicle, from, to).await
    }
}
