//! Fuel cards: the cars' fuel profiles, the cards, the stations, the issuers' transactions and the
//! findings of their checks, written once over [`crate::sql::Tx`].
//!
//! Invariants: a card number, a station code and a car's profile are each one row, so a re-import
//! updates them; (card, time, litres, amount) is one transaction, so a statement imported again adds
//! nothing; a statement's good rows are stored in one transaction (all of them or none), its bad rows
//! (an unknown card included) are reported by line and column and stored never. The findings of a
//! transaction are replaced whole at each check.

use std::collections::HashMap;

use chrono::NaiveDate;
use tianshu_model::fuel::{
    Card, CardChange, CardRecord, CardState, FuelKind, FuelProfile, FuelTransaction, Issuer, Product,
    RowError, Station,
};
use tianshu_model::{LonLat, Timestamp, UnitId, VehicleClass, VehicleId};

use crate::db::{Change, Db};
use crate::registry::parse_class;
use crate::sql::{Row, Tx, Value, params, placeholders, tx};
use crate::{Error, Result, Store};

pub(crate) const CARD_COLS: &str =
    "number, issuer, unit_id, vehicle_id, state, state_date, state_reason, limit_fill_fen, limit_month_fen";
pub(crate) const TXN_COLS: &str =
    "id, card, time_ms, station, product, litres_cl, unit_price_fen, amount_fen, plate, vehicle_id, unit_id";

/// Rows per multi-row `INSERT` of a statement: 12 values each stays far below both databases' limit
/// on parameters, and a few hundred rows share one round trip.
const INSERT_ROWS: usize = 500;

fn corrupt(what: &str, v: &str) -> Error {
    Error::Corrupt(format!("fuel: stored {what} {v:?}"))
}

pub(crate) fn to_card(r: &Row) -> Result<Card> {
    let issuer = r.text(1)?;
    let state = r.text(4)?;
    Ok(Card {
        number: r.text(0)?,
        issuer: Issuer::parse(&issuer).ok_or_else(|| corrupt("issuer", &issuer))?,
        unit: UnitId(r.int(2)?),
        vehicle: r.opt_int(3)?.map(VehicleId),
        state: CardState::parse(&state).ok_or_else(|| corrupt("card state", &state))?,
        state_date: r
            .opt_text(5)?
            .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
        state_reason: r.text(6)?,
        limit_fill_fen: r.opt_int(7)?,
        limit_month_fen: r.opt_int(8)?,
    })
}

/// A stored transaction with what the import resolved.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredTransaction {
    /// Id.
    pub id: i64,
    /// The transaction as read.
    #[serde(flatten)]
    pub txn: FuelTransaction,
    /// The car it was for: the plate's on the statement, else the card's.
    pub vehicle: Option<VehicleId>,
    /// The card's unit.
    pub unit: UnitId,
}

pub(crate) fn to_txn(r: &Row) -> Result<StoredTransaction> {
    let product = r.text(4)?;
    Ok(StoredTransaction {
        id: r.int(0)?,
        txn: FuelTransaction {
            card: r.text(1)?,
            time: Timestamp(r.int(2)?),
            station: r.text(3)?,
            product: Product::parse(&product).ok_or_else(|| corrupt("product", &product))?,
            litres_cl: r.int(5)?,
            unit_price_fen: r.int(6)?,
            amount_fen: r.int(7)?,
            plate: r.opt_text(8)?,
        },
        vehicle: r.opt_int(9)?.map(VehicleId),
        unit: UnitId(r.int(10)?),
    })
}

pub(crate) fn to_station(r: &Row) -> Result<Station> {
    Ok(Station {
        code: r.text(0)?,
        name: r.text(1)?,
        brand: r.text(2)?,
        position: LonLat::from_e6(r.int(3)? as i32, r.int(4)? as i32),
    })
}

/// A bad row of an imported file is an invalid record at its line, the column named first.
impl From<RowError> for Error {
    fn from(e: RowError) -> Self {
        Error::Invalid {
            line: Some(e.line),
            reason: match e.column {
                Some(c) => format!("column {c}: {}", e.reason),
                None => e.reason,
            },
        }
    }
}

/// What a card import changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CardImport {
    /// Cards created.
    pub created: u64,
    /// Cards updated.
    pub updated: u64,
}

async fn import_cards(
    tx: &mut dyn Tx,
    records: &[(usize, CardRecord)],
    now: Timestamp,
) -> Result<CardImport> {
    let mut out = CardImport::default();
    for (line, r) in records {
        let at = |column: &str, reason: String| {
            Error::from(RowError {
                line: *line,
                column: Some(column.into()),
                reason,
            })
        };
        let path: Vec<&str> = r.unit.split('/').map(str::trim).collect();
        let unit = tx
            .opt("SELECT id FROM units WHERE path = $1", params![path.join("/")])
            .await?
            .ok_or_else(|| at("unit (1)", format!("no unit {:?} in the registry", r.unit)))?
            .int(0)?;
        let vehicle = match &r.plate {
            None => None,
            Some(p) => Some(
                tx.opt("SELECT id FROM vehicles WHERE plate = $1", params![p.trim()])
                    .await?
                    .ok_or_else(|| at("plate (4)", format!("no car {p:?} in the registry")))?
                    .int(0)?,
            ),
        };
        let existed = tx
            .opt(
                "SELECT number FROM fuel_cards WHERE number = $1",
                params![&r.number],
            )
            .await?
            .is_some();
        tx.execute(
            "INSERT INTO fuel_cards (number, issuer, unit_id, vehicle_id, state, state_date, state_reason, \
             limit_fill_fen, limit_month_fen, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (number) DO UPDATE SET issuer = excluded.issuer, unit_id = excluded.unit_id, \
             vehicle_id = excluded.vehicle_id, state = excluded.state, state_date = excluded.state_date, \
             state_reason = excluded.state_reason, limit_fill_fen = excluded.limit_fill_fen, \
             limit_month_fen = excluded.limit_month_fen, updated_ms = excluded.updated_ms",
            params![
                &r.number,
                r.issuer.as_str(),
                unit,
                vehicle,
                r.state.as_str(),
                r.state_date.map(|d| d.to_string()),
                &r.state_reason,
                r.limit_fill_fen,
                r.limit_month_fen,
                now
            ],
        )
        .await?;
        if existed {
            out.updated += 1;
        } else {
            out.created += 1;
        }
    }
    Ok(out)
}

async fn load_card(tx: &mut dyn Tx, number: &str) -> Result<Option<Card>> {
    let sql = format!("SELECT {CARD_COLS} FROM fuel_cards WHERE number = $1");
    tx.opt(&sql, params![number])
        .await?
        .as_ref()
        .map(to_card)
        .transpose()
}

async fn update_card(tx: &mut dyn Tx, number: &str, change: &CardChange, now: Timestamp) -> Result<Card> {
    let lock = tx.row_lock();
    let sql = format!("SELECT {CARD_COLS} FROM fuel_cards WHERE number = $1{lock}");
    let card = tx
        .opt(&sql, params![number])
        .await?
        .as_ref()
        .map(to_card)
        .transpose()?
        .ok_or_else(|| Error::NotFound(format!("card {number}")))?;
    let c = card.changed(change).map_err(Error::invalid)?;
    if let Some(v) = c.vehicle
        && tx
            .opt("SELECT id FROM vehicles WHERE id = $1", params![v.0])
            .await?
            .is_none()
    {
        return Err(Error::invalid(format!("no vehicle {v}")));
    }
    tx.execute(
        "UPDATE fuel_cards SET vehicle_id = $2, state = $3, state_date = $4, state_reason = $5, \
         limit_fill_fen = $6, limit_month_fen = $7, updated_ms = $8 WHERE number = $1",
        params![
            number,
            c.vehicle.map(|v| v.0),
            c.state.as_str(),
            c.state_date.map(|d| d.to_string()),
            &c.state_reason,
            c.limit_fill_fen,
            c.limit_month_fen,
            now
        ],
    )
    .await?;
    Ok(c)
}

async fn set_profile(tx: &mut dyn Tx, vehicle: VehicleId, p: FuelProfile) -> Result<FuelProfile> {
    p.check().map_err(Error::invalid)?;
    if tx
        .opt("SELECT id FROM vehicles WHERE id = $1", params![vehicle.0])
        .await?
        .is_none()
    {
        return Err(Error::NotFound(format!("vehicle {vehicle}")));
    }
    tx.execute(
        "INSERT INTO vehicle_fuel (vehicle_id, tank_cl, rated_cl_per_100km, fuel) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (vehicle_id) DO UPDATE SET tank_cl = excluded.tank_cl, \
         rated_cl_per_100km = excluded.rated_cl_per_100km, fuel = excluded.fuel",
        params![
            vehicle.0,
            (p.tank_litres * 100.0).round() as i64,
            (p.rated_l_per_100km * 100.0).round() as i64,
            p.fuel.as_str()
        ],
    )
    .await?;
    Ok(p)
}

/// A car's fuel profile: the one entered, else its class's default.
pub(crate) fn to_profile(r: &Row) -> Result<(VehicleId, FuelProfile)> {
    let id = r.int(0)?;
    let class: VehicleClass = parse_class(id, &r.text(1)?)?;
    let profile = match (r.opt_int(2)?, r.opt_int(3)?, r.opt_text(4)?) {
        (Some(tank), Some(rated), Some(fuel)) => FuelProfile {
            tank_litres: tank as f64 / 100.0,
            rated_l_per_100km: rated as f64 / 100.0,
            fuel: FuelKind::parse(&fuel).ok_or_else(|| corrupt("fuel", &fuel))?,
        },
        _ => FuelProfile::default_for(class),
    };
    Ok((VehicleId(id), profile))
}

pub(crate) const PROFILE_SQL: &str = "SELECT v.id, v.class, f.tank_cl, f.rated_cl_per_100km, f.fuel FROM vehicles v \
                           LEFT JOIN vehicle_fuel f ON f.vehicle_id = v.id";

/// What a statement import did.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct StatementImport {
    /// The ids of the transactions stored now.
    pub stored: Vec<i64>,
    /// Rows already stored by an earlier import.
    pub duplicates: u64,
    /// Rows refused here (an unknown card), with those the caller passed in.
    pub errors: Vec<RowError>,
}

async fn import_statement(
    tx: &mut dyn Tx,
    rows: &[(usize, FuelTransaction)],
    source: &str,
    now: Timestamp,
) -> Result<StatementImport> {
    let mut out = StatementImport::default();
    let mut cards: HashMap<String, Option<Card>> = HashMap::new();
    let mut plates: HashMap<String, Option<i64>> = HashMap::new();
    let mut pending = Vec::with_capacity(rows.len());
    for (line, t) in rows {
        if !cards.contains_key(&t.card) {
            let c = load_card(tx, &t.card).await?;
            cards.insert(t.card.clone(), c);
        }
        let Some(card) = cards.get(&t.card).and_then(Option::as_ref) else {
            out.errors.push(RowError {
                line: *line,
                column: Some("card".into()),
                reason: format!("unknown card {}: import it with the cards first", t.card),
            });
            continue;
        };
        let vehicle = match &t.plate {
            Some(p) => {
                if !plates.contains_key(p) {
                    let id = tx
                        .opt("SELECT id FROM vehicles WHERE plate = $1", params![p])
                        .await?;
                    plates.insert(p.clone(), id.map(|r| r.int(0)).transpose()?);
                }
                plates.get(p).copied().flatten()
            }
            None => card.vehicle.map(|v| v.0),
        };
        pending.push((t, vehicle, card.unit.0));
    }
    for chunk in pending.chunks(INSERT_ROWS) {
        let mut args = Vec::with_capacity(chunk.len() * 12);
        let rows: Vec<String> = chunk
            .iter()
            .map(|(t, vehicle, unit)| {
                let values = vec![
                    t.card.clone().into(),
                    t.time.into(),
                    t.station.clone().into(),
                    t.product.as_str().into(),
                    t.litres_cl.into(),
                    t.unit_price_fen.into(),
                    t.amount_fen.into(),
                    t.plate.clone().into(),
                    (*vehicle).into(),
                    (*unit).into(),
                    source.into(),
                    now.into(),
                ];
                format!("({})", placeholders(values, &mut args))
            })
            .collect();
        let ids = tx
            .query(
                &format!(
                    "INSERT INTO fuel_transactions (card, time_ms, station, product, litres_cl, unit_price_fen, \
                     amount_fen, plate, vehicle_id, unit_id, source, imported_ms) VALUES {} \
                     ON CONFLICT (card, time_ms, litres_cl, amount_fen) DO NOTHING RETURNING id",
                    rows.join(", ")
                ),
                &args,
            )
            .await?;
        out.duplicates += (chunk.len() - ids.len()) as u64;
        for r in ids {
            out.stored.push(r.int(0)?);
        }
    }
    Ok(out)
}

/// What the checks of one transaction need from the store, read in one transaction.
#[derive(Debug, Clone)]
pub struct FillRecord {
    /// The transaction.
    pub txn: StoredTransaction,
    /// Its card.
    pub card: Card,
    /// The car (its plate and unit), when known.
    pub vehicle: Option<(VehicleId, String, UnitId)>,
    /// Its fuel profile.
    pub profile: Option<FuelProfile>,
    /// The station named, when registered (by code, else by name).
    pub station: Option<Station>,
    /// The previous fill of the car (or of the card, for a fill with no car) and its station.
    pub previous: Option<(StoredTransaction, Option<Station>)>,
    /// The card's spend this month before this fill, fen.
    pub month_spent_fen: i64,
    /// The car's China month, when this is its last fill so far.
    pub month: Option<CarMonth>,
}

/// A car's fills in one China calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarMonth {
    /// `(year, month)`.
    pub month: (i32, u32),
    /// Its first instant.
    pub start: Timestamp,
    /// The first instant of the next month.
    pub end: Timestamp,
    /// Litres bought, centilitres.
    pub litres_cl: i64,
    /// Their cost, fen.
    pub amount_fen: i64,
    /// How many fills.
    pub fills: usize,
}

/// A finding as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredFinding {
    /// The transaction.
    pub transaction_id: i64,
    /// The check's id.
    pub check: String,
    /// Severity.
    pub severity: String,
    /// Money at stake, fen.
    pub at_stake_fen: i64,
    /// Why, English.
    pub reason: String,
    /// Why, Chinese.
    pub reason_zh: String,
    /// Evidence.
    pub evidence: serde_json::Value,
    /// The unit.
    pub unit: UnitId,
    /// When the fill was.
    pub time: Timestamp,
    /// The case it joined.
    pub case_id: Option<i64>,
}

fn to_finding(r: &Row) -> Result<StoredFinding> {
    Ok(StoredFinding {
        transaction_id: r.int(0)?,
        check: r.text(1)?,
        severity: r.text(2)?,
        at_stake_fen: r.int(3)?,
        reason: r.text(4)?,
        reason_zh: r.text(5)?,
        evidence: crate::rules::parse_json(&r.text(6)?)?,
        unit: UnitId(r.int(7)?),
        time: Timestamp(r.int(8)?),
        case_id: r.opt_int(9)?,
    })
}

pub(crate) const FINDING_COLS: &str = "transaction_id, check_id, severity, at_stake_fen, reason, reason_zh, evidence, unit_id, time_ms, case_id";

/// Which findings to list.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    /// Only these units (`None`: every unit).
    pub units: Option<Vec<UnitId>>,
    /// Only this check.
    pub check: Option<String>,
    /// Fills at or after.
    pub from: Option<Timestamp>,
    /// Fills before.
    pub to: Option<Timestamp>,
    /// At most this many (0: 1000).
    pub limit: u32,
}

/// The fuel-card area of a store; reached through [`Store::fuel`].
#[derive(Clone, Copy)]
pub struct Fuel<'a> {
    pub(crate) db: &'a Db,
}

impl<'a> Fuel<'a> {
    /// Imports cards (read by `parse_cards_csv`, each with its line): every unit and plate must be in
    /// the registry, else nothing is imported and the error names the line and column.
    pub async fn import_cards(&self, records: &[(usize, CardRecord)], now: Timestamp) -> Result<CardImport> {
        let records = records.to_vec();
        self.db.write(tx!(|tx| import_cards(tx, &records, now))).await
    }

    /// Every card (of `units`, when given), by number.
    pub async fn cards(&self, units: Option<&[UnitId]>) -> Result<Vec<Card>> {
        let mut all = self
            .db
            .rows(
                format!("SELECT {CARD_COLS} FROM fuel_cards ORDER BY number"),
                vec![],
                to_card,
            )
            .await?;
        if let Some(units) = units {
            all.retain(|c| units.contains(&c.unit));
        }
        Ok(all)
    }

    /// One card.
    pub async fn card(&self, number: &str) -> Result<Option<Card>> {
        let sql = format!("SELECT {CARD_COLS} FROM fuel_cards WHERE number = $1");
        self.db.row(sql, vec![number.into()], to_card).await
    }

    /// Changes a card (its binding, state and limits).
    pub fn update_card(&self, number: &str, change: &CardChange, now: Timestamp) -> Change<'a, Card> {
        let (number, change) = (number.to_string(), change.clone());
        Change::new(self.db, tx!(|tx| update_card(tx, &number, &change, now)))
    }

    /// Every car's fuel profile (entered, or its class's default).
    pub async fn profiles(&self) -> Result<Vec<(VehicleId, FuelProfile)>> {
        self.db
            .rows(format!("{PROFILE_SQL} ORDER BY v.id"), vec![], to_profile)
            .await
    }

    /// Enters a car's fuel profile.
    pub fn set_profile(&self, vehicle: VehicleId, profile: FuelProfile) -> Change<'a, FuelProfile> {
        Change::new(self.db, tx!(|tx| set_profile(tx, vehicle, profile)))
    }

    /// Imports stations (WGS-84 already), replacing those with the same code; how many.
    pub async fn import_stations(&self, stations: &[Station], now: Timestamp) -> Result<u64> {
        let stations = stations.to_vec();
        self.db
            .write(tx!(|tx| async move {
                for s in &stations {
                    tx.execute(
                        "INSERT INTO fuel_stations (code, name, brand, lon_e6, lat_e6, updated_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
                         brand = excluded.brand, lon_e6 = excluded.lon_e6, lat_e6 = excluded.lat_e6, \
                         updated_ms = excluded.updated_ms",
                        params![&s.code, &s.name, &s.brand, s.position.lon_e6(), s.position.lat_e6(), now],
                    )
                    .await?;
                }
                Ok(stations.len() as u64)
            }))
            .await
    }

    /// Every station, by code.
    pub async fn stations(&self) -> Result<Vec<Station>> {
        self.db
            .rows(
                "SELECT code, name, brand, lon_e6, lat_e6 FROM fuel_stations ORDER BY code".into(),
                vec![],
                to_station,
            )
            .await
    }

    /// Stores a statement's good rows in one transaction: rows already stored are counted, rows of an
    /// unknown card are refused with their line; `source` names the file.
    pub async fn import_statement(
        &self,
        rows: &[(usize, FuelTransaction)],
        source: &str,
        now: Timestamp,
    ) -> Result<StatementImport> {
        let (rows, source) = (rows.to_vec(), source.to_string());
        self.db
            .write(tx!(|tx| import_statement(tx, &rows, &source, now)))
            .await
    }

    /// The ids of car `vehicle`'s transactions with `from <= time < to`, by time.
    pub async fn car_transactions(
        &self,
        vehicle: VehicleId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<i64>> {
        self.db
            .rows(
                "SELECT id FROM fuel_transactions WHERE vehicle_id = $1 AND time_ms >= $2 AND time_ms < $3 \
                 ORDER BY time_ms, id"
                    .into(),
                vec![vehicle.0.into(), from.into(), to.into()],
                |r| r.int(0),
            )
            .await
    }

    /// Transactions (of `units`, when given) with `from <= time < to`, by time.
    pub async fn transactions(
        &self,
        units: Option<&[UnitId]>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<StoredTransaction>> {
        let sql = format!(
            "SELECT {TXN_COLS} FROM fuel_transactions WHERE time_ms >= $1 AND time_ms < $2 ORDER BY time_ms, id"
        );
        let mut all = self.db.rows(sql, vec![from.into(), to.into()], to_txn).await?;
        if let Some(units) = units {
            all.retain(|t| units.contains(&t.unit));
        }
        Ok(all)
    }

    /// Findings matching a filter, newest fill first.
    pub async fn findings(&self, f: &FindingFilter) -> Result<Vec<StoredFinding>> {
        let mut args: Vec<Value> = vec![
            f.from.unwrap_or(Timestamp(i64::MIN)).into(),
            f.to.unwrap_or(Timestamp(i64::MAX)).into(),
        ];
        let mut sql =
            format!("SELECT {FINDING_COLS} FROM fuel_findings WHERE time_ms >= $1 AND time_ms < $2");
        if let Some(check) = &f.check {
            args.push(check.clone().into());
            sql.push_str(" AND check_id = $3");
        }
        let limit = if f.limit == 0 { 1000 } else { f.limit.min(10_000) };
        sql.push_str(&format!(
            " ORDER BY time_ms DESC, transaction_id DESC, check_id LIMIT {limit}"
        ));
        let mut all = self.db.rows(sql, args, to_finding).await?;
        if let Some(units) = &f.units {
            all.retain(|x| units.contains(&x.unit));
        }
        Ok(all)
    }
}

impl Store {
    /// The fuel-card area of this store.
    pub fn fuel(&self) -> Fuel<'_> {
        Fuel { db: self.db() }
    }
}
