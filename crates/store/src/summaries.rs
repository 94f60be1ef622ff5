//! The cars' daily summaries (`tianshu_rules::summary`): a China day of every registered car summarised
//! from its committed track and the cases opened on it that day, and written in one transaction, each
//! row replacing the day's earlier one (summarising a day again is the same as once). The yearly figures
//! read them back. Written once over [`crate::sql::Tx`]; reached through [`crate::Store::summaries`].
//! Schema: migration 0302 of both backends.

use std::collections::HashMap;

use futures::TryStreamExt;
use tianshu_model::VehicleId;
use tianshu_rules::calendar::instant_of;
use tianshu_rules::summary::{DaySummary, summarise_day};

use crate::db::{Change, Db};
use crate::sql::{Row, Tx, params, tx};
use crate::{Error, Result, Store};

const COLS: &str = "vehicle_id, day, metres, online_secs, points, trips, cases";

/// The daily summaries.
pub struct Summaries<'a> {
    store: &'a Store,
    db: &'a Db,
}

fn to_summary(r: &Row) -> Result<DaySummary> {
    let cases = r.text(6)?;
    Ok(DaySummary {
        vehicle: VehicleId(r.int(0)?),
        day: r.int(1)?,
        metres: r.int(2)?,
        online_secs: r.int(3)?,
        points: r.int(4)?,
        trips: r.int(5)?,
        cases: serde_json::from_str(&cases)
            .map_err(|e| Error::Corrupt(format!("daily summary cases: {e}")))?,
    })
}

async fn replace(tx: &mut dyn Tx, rows: Vec<DaySummary>) -> Result<u64> {
    let sql = format!(
        "INSERT INTO daily_summaries ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (vehicle_id, day) DO UPDATE SET metres = excluded.metres, \
         online_secs = excluded.online_secs, points = excluded.points, trips = excluded.trips, \
         cases = excluded.cases"
    );
    let mut n = 0;
    for s in rows {
        let cases = serde_json::to_string(&s.cases).map_err(|e| Error::Corrupt(e.to_string()))?;
        n += tx
            .execute(
                &sql,
                params![
                    s.vehicle.0,
                    s.day,
                    s.metres,
                    s.online_secs,
                    s.points,
                    s.trips,
                    cases
                ],
            )
            .await?;
    }
    Ok(n)
}

impl<'a> Summaries<'a> {
    /// Writes `rows`, each replacing its car's day; how many were written.
    pub fn replace(&self, rows: Vec<DaySummary>) -> Change<'a, u64> {
        Change::new(self.db, tx!(|tx| replace(tx, rows)))
    }

    /// The summaries of the China days `from..=to`, by day then car.
    pub async fn between(&self, from: i64, to: i64) -> Result<Vec<DaySummary>> {
        let sql = format!(
            "SELECT {COLS} FROM daily_summaries WHERE day >= $1 AND day <= $2 ORDER BY day, vehicle_id"
        );
        self.db.rows(sql, vec![from.into(), to.into()], to_summary).await
    }

    /// The China days of `from..=to` summarised, ascending.
    pub async fn days(&self, from: i64, to: i64) -> Result<Vec<i64>> {
        let sql =
            "SELECT DISTINCT day FROM daily_summaries WHERE day >= $1 AND day <= $2 ORDER BY day".to_string();
        self.db
            .rows(sql, vec![from.into(), to.into()], |r| r.int(0))
            .await
    }

    /// Summarises China day `day` of every registered car from its committed track and the cases
    /// opened on it that day, replacing the day's earlier summaries; how many cars.
    pub async fn summarise(&self, day: i64) -> Result<u64> {
        let (from, to) = (instant_of(day, 0), instant_of(day + 1, 0));
        let mut rules: HashMap<VehicleId, Vec<String>> = HashMap::new();
        for (v, rule) in self.store.carpool().case_rules(from, to).await? {
            rules.entry(v).or_default().push(rule);
        }
        let mut rows = Vec::new();
        for v in self.store.vehicles().await? {
            let track: Vec<_> = self.store.track(v.id, from, to).await?.try_collect().await?;
            let cases = rules.remove(&v.id).unwrap_or_default();
            rows.push(summarise_day(v.id, day, &track, &cases));
        }
        self.replace(rows).await
    }

    /// Summarises each China day of `from..=to` not summarised yet (see [`Summaries::summarise`]); the
    /// days summarised.
    pub async fn summarise_missing(&self, from: i64, to: i64) -> Result<Vec<i64>> {
        let done = self.days(from, to).await?;
        let mut out = Vec::new();
        for day in (from..=to).filter(|d| !done.contains(d)) {
            self.summarise(day).await?;
            out.push(day);
        }
        Ok(out)
    }
}

impl Store {
    /// The cars' daily summaries.
    pub fn summaries(&self) -> Summaries<'_> {
        Summaries {
            store: self,
            db: self.db(),
        }
    }
}
