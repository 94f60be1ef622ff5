//! Alert cases as JT/T 809 alarm reports (migration 0530, both backends), written once over
//! [`crate::sql::Tx`]: as a lower platform, how far each upper platform has been sent this store's
//! cases (the highest case number passed); as an upper platform, the alarm reports lower platforms
//! sent, each kept once however often it came.

use serde::Serialize;
use tianshu_model::{Timestamp, VehicleId};

use crate::db::Db;
use crate::forwarding::save_position;
use crate::sql::{Row, Tx, params, tx};
use crate::{Result, Store};

/// An alarm report a lower platform sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewAlarm {
    /// The lower platform's configured name.
    pub peer: String,
    /// The car's plate as sent.
    pub plate: String,
    /// The car here.
    #[serde(rename = "vehicle_id")]
    pub vehicle: VehicleId,
    /// WARN_SRC (0 in 2019).
    pub warn_src: i64,
    /// WARN_TYPE.
    pub warn_type: i64,
    /// WARN_TIME.
    pub warn_time: Timestamp,
    /// START_TIME (2019).
    pub start: Option<Timestamp>,
    /// END_TIME (2019).
    pub end: Option<Timestamp>,
    /// INFO_ID (0 in 2019).
    pub info_id: i64,
    /// INFO_CONTENT.
    pub info: String,
    /// When it arrived.
    pub received: Timestamp,
}

/// An alarm report as stored: its number here and the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredAlarm {
    /// Its number here.
    pub id: i64,
    /// The report.
    #[serde(flatten)]
    pub alarm: NewAlarm,
}

const COLS: &str =
    "id, peer, plate, vehicle_id, warn_src, warn_type, warn_ms, start_ms, end_ms, info_id, info, received_ms";

fn decode(r: &Row) -> Result<StoredAlarm> {
    Ok(StoredAlarm {
        id: r.int(0)?,
        alarm: NewAlarm {
            peer: r.text(1)?,
            plate: r.text(2)?,
            vehicle: VehicleId(r.int(3)?),
            warn_src: r.int(4)?,
            warn_type: r.int(5)?,
            warn_time: Timestamp(r.int(6)?),
            start: r.opt_int(7)?.map(Timestamp),
            end: r.opt_int(8)?.map(Timestamp),
            info_id: r.int(9)?,
            info: r.text(10)?,
            received: Timestamp(r.int(11)?),
        },
    })
}

/// Stores `a` unless the same report from the same peer is there; whether it is new.
async fn record(tx: &mut dyn Tx, a: NewAlarm) -> Result<bool> {
    let sql = "INSERT INTO jt809_alarms (peer, plate, vehicle_id, warn_src, warn_type, warn_ms, start_ms, end_ms, \
               info_id, info, received_ms) \
               VALUES ($1, $2, CAST($3 AS BIGINT), CAST($4 AS BIGINT), CAST($5 AS BIGINT), CAST($6 AS BIGINT), \
               CAST($7 AS BIGINT), CAST($8 AS BIGINT), CAST($9 AS BIGINT), $10, CAST($11 AS BIGINT)) \
               ON CONFLICT (peer, plate, warn_type, warn_ms, info_id, info) DO NOTHING";
    let n = tx
        .execute(
            sql,
            params![
                &a.peer,
                &a.plate,
                a.vehicle.0,
                a.warn_src,
                a.warn_type,
                a.warn_time,
                a.start,
                a.end,
                a.info_id,
                &a.info,
                a.received,
            ],
        )
        .await?;
    Ok(n == 1)
}

/// The alarm reports and alarm forwarding positions in a store; reached through [`Store::jt809_alarms`].
#[derive(Clone, Copy)]
pub struct Jt809Alarms<'a> {
    db: &'a Db,
}

impl Jt809Alarms<'_> {
    /// The highest case number sent to `upper`; `None` before its link first logged in.
    pub async fn position(&self, upper: &str) -> Result<Option<i64>> {
        let sql = "SELECT case_up_to FROM jt809_alarm_forwarding WHERE upper = $1".to_string();
        self.db.row(sql, params![upper].to_vec(), |r| r.int(0)).await
    }

    /// Records that every case up to number `case_up_to` has been sent to `upper` (or passed over).
    pub async fn save(&self, upper: &str, case_up_to: i64, now: Timestamp) -> Result<()> {
        let upper = upper.to_string();
        self.db
            .write(tx!(|tx| save_position(
                tx,
                "jt809_alarm_forwarding",
                "case_up_to",
                &upper,
                case_up_to,
                now
            )))
            .await
    }

    /// Stores an alarm report a lower platform sent; `false` when it was there already.
    pub async fn record(&self, a: NewAlarm) -> Result<bool> {
        self.db.write(tx!(|tx| record(tx, a))).await
    }

    /// One alarm report received.
    pub async fn get(&self, id: i64) -> Result<Option<StoredAlarm>> {
        let sql = format!("SELECT {COLS} FROM jt809_alarms WHERE id = $1");
        self.db.row(sql, params![id].to_vec(), decode).await
    }

    /// The newest `limit` alarm reports received, of `peer` when given, newest first.
    pub async fn list(&self, peer: Option<&str>, limit: usize) -> Result<Vec<StoredAlarm>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (filter, args) = match peer {
            Some(p) => ("WHERE peer = $2", params![limit, p].to_vec()),
            None => ("", params![limit].to_vec()),
        };
        let sql =
            format!("SELECT {COLS} FROM jt809_alarms {filter} ORDER BY id DESC LIMIT CAST($1 AS BIGINT)");
        self.db.rows(sql, args, decode).await
    }
}

impl Store {
    /// The JT/T 809 alarm reports in this store, both ways.
    pub fn jt809_alarms(&self) -> Jt809Alarms<'_> {
        Jt809Alarms { db: self.db() }
    }
}
