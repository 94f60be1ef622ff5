//! The fuel checks' reads and writes in batches: what the checks of many transactions need, gathered in
//! a handful of queries whatever their number ([`Fuel::fill_records`]), and their outcomes (cases
//! opened, updated or withdrawn, findings replaced) written a few hundred transactions per database
//! transaction ([`Fuel::record_checks`]).
//!
//! Invariants: a transaction's previous fill is the latest one of its car (of its card, for a fill with
//! no car) before it in (time, id) order; its month's spend is its card's from the first of its China
//! month up to it in the same order; the last fill of a car's month carries the month's litres, and a
//! transaction is never read without the other fills of its car's month (a fill arriving late moves
//! the month's figures to itself). Findings are replaced whole; a transaction whose findings are gone
//! withdraws the case its earlier findings joined (a case already closed stays as it is).

use std::collections::HashMap;

use tianshu_model::case::{NewCase, NewDelivery, Transition};
use tianshu_model::fuel::{Card, FuelProfile, Station};
use tianshu_model::{Timestamp, UnitId, VehicleId, china_month};

use crate::fuel::{
    CARD_COLS, CarMonth, FINDING_COLS, FillRecord, Fuel, PROFILE_SQL, StoredFinding, StoredTransaction,
    TXN_COLS, to_card, to_profile, to_station, to_txn,
};
use crate::sql::{Tx, Value, placeholders, tx};
use crate::{Error, Result};

/// Keys per `IN (...)` list and rows per multi-row `INSERT`: far below both databases' limits on
/// parameters, and enough rows per round trip that the trips stop mattering.
const CHUNK: usize = 500;

/// Runs `sql` (with `{keys}` where the `IN` list goes, after `fixed` parameters) once per chunk of keys.
async fn rows_in(
    tx: &mut dyn Tx,
    sql: &str,
    fixed: &[Value],
    keys: &[Value],
) -> Result<Vec<crate::sql::Row>> {
    let mut out = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        let mut args = fixed.to_vec();
        let marks = placeholders(chunk.to_vec(), &mut args);
        out.extend(tx.query(&sql.replace("{keys}", &marks), &args).await?);
    }
    Ok(out)
}

/// The stations by code, then by name (a statement may write either; the code wins).
struct Stations {
    by_code: HashMap<String, Station>,
    by_name: HashMap<String, Station>,
}

impl Stations {
    fn named(&self, name: &str) -> Option<Station> {
        self.by_code.get(name).or_else(|| self.by_name.get(name)).cloned()
    }
}

/// Transactions in (time, id) order, by car or by card.
type History<K> = HashMap<K, Vec<StoredTransaction>>;

fn order(t: &StoredTransaction) -> (i64, i64) {
    (t.txn.time.0, t.id)
}

/// The registries a fill is checked against, read whole (they are small next to the transactions).
struct Reference {
    cards: HashMap<String, Card>,
    profiles: HashMap<VehicleId, FuelProfile>,
    vehicles: HashMap<VehicleId, (String, UnitId)>,
    stations: Stations,
}

async fn reference(tx: &mut dyn Tx) -> Result<Reference> {
    let cards = tx
        .query(&format!("SELECT {CARD_COLS} FROM fuel_cards"), &[])
        .await?
        .iter()
        .map(|r| to_card(r).map(|c| (c.number.clone(), c)))
        .collect::<Result<_>>()?;
    let profiles = tx
        .query(PROFILE_SQL, &[])
        .await?
        .iter()
        .map(to_profile)
        .collect::<Result<_>>()?;
    let mut vehicles = HashMap::new();
    for r in tx.query("SELECT id, plate, unit FROM vehicles", &[]).await? {
        vehicles.insert(VehicleId(r.int(0)?), (r.text(1)?, UnitId(r.int(2)?)));
    }
    let mut stations = Stations {
        by_code: HashMap::new(),
        by_name: HashMap::new(),
    };
    let sql = "SELECT code, name, brand, lon_e6, lat_e6 FROM fuel_stations ORDER BY code";
    for s in tx.query(sql, &[]).await?.iter().map(to_station) {
        let s = s?;
        stations
            .by_name
            .entry(s.name.clone())
            .or_insert_with(|| s.clone());
        stations.by_code.insert(s.code.clone(), s);
    }
    Ok(Reference {
        cards,
        profiles,
        vehicles,
        stations,
    })
}

/// Every fill before `until` of the cars and the cards of `txns`, in order: their previous fills,
/// months' spend and months' litres.
async fn histories(
    tx: &mut dyn Tx,
    txns: &[StoredTransaction],
    until: Timestamp,
) -> Result<(History<VehicleId>, History<String>)> {
    let mut cars: Vec<i64> = txns.iter().filter_map(|t| t.vehicle.map(|v| v.0)).collect();
    let mut numbers: Vec<String> = txns.iter().map(|t| t.txn.card.clone()).collect();
    cars.sort_unstable();
    cars.dedup();
    numbers.sort_unstable();
    numbers.dedup();
    let cars: Vec<Value> = cars.into_iter().map(Value::Int).collect();
    let numbers: Vec<Value> = numbers.into_iter().map(Value::Text).collect();
    let (mut by_car, mut by_card): (History<VehicleId>, History<String>) = (HashMap::new(), HashMap::new());
    let sql =
        format!("SELECT {TXN_COLS} FROM fuel_transactions WHERE time_ms < $1 AND vehicle_id IN ({{keys}})");
    for r in rows_in(tx, &sql, &[until.into()], &cars).await? {
        let t = to_txn(&r)?;
        if let Some(v) = t.vehicle {
            by_car.entry(v).or_default().push(t);
        }
    }
    let sql = format!("SELECT {TXN_COLS} FROM fuel_transactions WHERE time_ms < $1 AND card IN ({{keys}})");
    for r in rows_in(tx, &sql, &[until.into()], &numbers).await? {
        let t = to_txn(&r)?;
        by_card.entry(t.txn.card.clone()).or_default().push(t);
    }
    for list in by_car.values_mut() {
        list.sort_by_key(order);
    }
    for list in by_card.values_mut() {
        list.sort_by_key(order);
    }
    Ok((by_car, by_card))
}

/// The fills of `list` with `from <= (time, id) < to`.
fn between(list: Option<&Vec<StoredTransaction>>, from: (i64, i64), to: (i64, i64)) -> &[StoredTransaction] {
    let list = list.map_or(&[][..], Vec::as_slice);
    let end = list.partition_point(|p| order(p) < to);
    let start = list.partition_point(|p| order(p) < from).min(end);
    &list[start..end]
}

fn record(
    txn: StoredTransaction,
    r: &Reference,
    by_car: &History<VehicleId>,
    by_card: &History<String>,
) -> Result<FillRecord> {
    let card = r.cards.get(&txn.txn.card).cloned().ok_or_else(|| {
        Error::Corrupt(format!(
            "fuel transaction {}: card {} vanished",
            txn.id, txn.txn.card
        ))
    })?;
    let (month, month_start, month_end) = china_month(txn.txn.time);
    let (at, start) = (order(&txn), (month_start.0, i64::MIN));
    // The car's previous fill; a fill with no car: its card's.
    let history = match txn.vehicle {
        Some(v) => by_car.get(&v),
        None => by_card.get(&txn.txn.card),
    };
    let previous = between(history, (i64::MIN, i64::MIN), at)
        .last()
        .map(|p| (p.clone(), r.stations.named(&p.txn.station)));
    let month_spent_fen = between(by_card.get(&txn.txn.card), start, at)
        .iter()
        .map(|p| p.txn.amount_fen)
        .sum();
    // The car's month, on its last fill so far.
    let car_month = txn.vehicle.and_then(|v| {
        let fills = between(by_car.get(&v), start, (month_end.0, i64::MIN));
        (fills.last().map(order) == Some(at)).then(|| CarMonth {
            month,
            start: month_start,
            end: month_end,
            litres_cl: fills.iter().map(|f| f.txn.litres_cl).sum(),
            amount_fen: fills.iter().map(|f| f.txn.amount_fen).sum(),
            fills: fills.len(),
        })
    });
    let vehicle = txn
        .vehicle
        .and_then(|v| r.vehicles.get(&v).map(|(plate, unit)| (v, plate.clone(), *unit)));
    Ok(FillRecord {
        profile: txn.vehicle.and_then(|v| r.profiles.get(&v).copied()),
        station: r.stations.named(&txn.txn.station),
        txn,
        card,
        vehicle,
        previous,
        month_spent_fen,
        month: car_month,
    })
}

async fn fill_records(tx: &mut dyn Tx, ids: &[i64]) -> Result<Vec<FillRecord>> {
    let keys: Vec<Value> = ids.iter().map(|i| Value::Int(*i)).collect();
    let sql = format!("SELECT {TXN_COLS} FROM fuel_transactions WHERE id IN ({{keys}})");
    let txns = rows_in(tx, &sql, &[], &keys)
        .await?
        .iter()
        .map(to_txn)
        .collect::<Result<Vec<_>>>()?;
    let Some(latest) = txns.iter().map(|t| t.txn.time).max() else {
        return Ok(Vec::new());
    };
    let r = reference(tx).await?;
    let (by_car, by_card) = histories(tx, &txns, china_month(latest).2).await?;
    // With them, every other fill of their cars' months: the month's last fill carries its figures.
    let mut all: HashMap<i64, StoredTransaction> = HashMap::new();
    for t in &txns {
        if let Some(v) = t.vehicle {
            let (_, start, end) = china_month(t.txn.time);
            for f in between(by_car.get(&v), (start.0, i64::MIN), (end.0, i64::MIN)) {
                all.entry(f.id).or_insert_with(|| f.clone());
            }
        }
    }
    for t in txns {
        all.entry(t.id).or_insert(t);
    }
    let mut txns: Vec<StoredTransaction> = all.into_values().collect();
    txns.sort_by_key(order);
    txns.into_iter()
        .map(|t| record(t, &r, &by_car, &by_card))
        .collect()
}

/// What checking one transaction decided, to be recorded.
#[derive(Debug, Clone)]
pub struct CheckOutcome {
    /// The transaction.
    pub transaction_id: i64,
    /// The case its findings open or update (`None`: it has none).
    pub case: Option<NewCase>,
    /// Its findings (their case ids are set when recorded).
    pub findings: Vec<StoredFinding>,
    /// The notifications of the case, queued with it if it is new.
    pub deliveries: Vec<NewDelivery>,
}

/// What recording one transaction's check did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The case, when there are findings.
    pub case_id: Option<i64>,
    /// Whether the case is new.
    pub opened: bool,
    /// Whether the case of its earlier findings was withdrawn.
    pub withdrawn: bool,
}

async fn record_checks(
    tx: &mut dyn Tx,
    outcomes: &[CheckOutcome],
    withdrawal: &Transition,
    now: Timestamp,
) -> Result<Vec<Recorded>> {
    let keys: Vec<Value> = outcomes.iter().map(|o| Value::Int(o.transaction_id)).collect();
    let sql = "SELECT transaction_id, case_id FROM fuel_findings WHERE transaction_id IN ({keys})";
    let mut earlier: HashMap<i64, i64> = HashMap::new();
    for r in rows_in(tx, sql, &[], &keys).await? {
        if let Some(case) = r.opt_int(1)? {
            earlier.insert(r.int(0)?, case);
        }
    }
    let cases: Vec<(NewCase, Vec<NewDelivery>)> = outcomes
        .iter()
        .filter_map(|o| o.case.clone().map(|c| (c, o.deliveries.clone())))
        .collect();
    let mut recorded = crate::cases::record_cases(tx, &cases, now).await?.into_iter();
    let mut out = Vec::with_capacity(outcomes.len());
    let mut findings = Vec::new();
    let mut touched = Vec::new();
    for o in outcomes {
        let mut done = Recorded::default();
        match (&o.case, earlier.get(&o.transaction_id)) {
            (Some(_), _) => {
                let (id, opened) = recorded
                    .next()
                    .ok_or_else(|| Error::Corrupt("a fuel case was not recorded".into()))?;
                (done.case_id, done.opened) = (Some(id), opened);
            }
            (None, Some(&case_id)) => {
                let step = Transition {
                    case_id,
                    ..withdrawal.clone()
                };
                match crate::cases::transition_case(tx, &step, now).await {
                    Ok(_) => done.withdrawn = true,
                    // Closed meanwhile (explained, confirmed, withdrawn): it stays as it is.
                    Err(Error::Invalid { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            (None, None) => {}
        }
        if o.case.is_some() || earlier.contains_key(&o.transaction_id) {
            touched.push(Value::Int(o.transaction_id));
        }
        findings.extend(o.findings.iter().map(|f| StoredFinding {
            case_id: done.case_id,
            ..f.clone()
        }));
        out.push(done);
    }
    let sql = "DELETE FROM fuel_findings WHERE transaction_id IN ({keys})";
    rows_in(tx, sql, &[], &touched).await?;
    for chunk in findings.chunks(CHUNK) {
        let mut args = Vec::with_capacity(chunk.len() * 10);
        let rows: Vec<String> = chunk
            .iter()
            .map(|f| {
                let values = vec![
                    f.transaction_id.into(),
                    f.check.clone().into(),
                    f.severity.clone().into(),
                    f.at_stake_fen.into(),
                    f.reason.clone().into(),
                    f.reason_zh.clone().into(),
                    f.evidence.to_string().into(),
                    f.unit.0.into(),
                    f.time.into(),
                    f.case_id.into(),
                ];
                format!("({})", placeholders(values, &mut args))
            })
            .collect();
        let sql = format!(
            "INSERT INTO fuel_findings ({FINDING_COLS}) VALUES {}",
            rows.join(", ")
        );
        tx.execute(&sql, &args).await?;
    }
    Ok(out)
}

impl Fuel<'_> {
    /// What the checks of transactions `ids` need, in (time, id) order; ids not stored are left out.
    pub async fn fill_records(&self, ids: &[i64]) -> Result<Vec<FillRecord>> {
        let ids = ids.to_vec();
        self.db.read(tx!(|tx| fill_records(tx, &ids))).await
    }

    /// Records checks' outcomes, [`CHUNK`] transactions per database transaction: each case opened or
    /// updated, or (its findings gone) the earlier case withdrawn by `withdrawal` (its `case_id` set
    /// here), and the findings replaced. In the order of `outcomes`.
    pub async fn record_checks(
        &self,
        outcomes: &[CheckOutcome],
        withdrawal: &Transition,
        now: Timestamp,
    ) -> Result<Vec<Recorded>> {
        let mut out = Vec::with_capacity(outcomes.len());
        for chunk in outcomes.chunks(CHUNK) {
            let (chunk, withdrawal) = (chunk.to_vec(), withdrawal.clone());
            let done = self
                .db
                .write(tx!(|tx| record_checks(tx, &chunk, &withdrawal, now)))
                .await?;
            out.extend(done);
        }
        Ok(out)
    }
}
