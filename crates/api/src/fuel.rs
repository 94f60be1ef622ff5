//! Fuel-card statements from file to findings, shared by the upload endpoint and `tianshu fuel import`:
//! read the file ([`read_statement_file`]: CSV in UTF-8 or GBK, or XLSX), store its good rows
//! ([`tianshu_store::fuel::Fuel::import_statement`]), then check each stored transaction against its
//! card, its car's track and the calendar ([`Reconciler`]) and open (or update, or withdraw) its case.
//! The decisions are the model's and the rules' (`tianshu_model::fuel`, `tianshu_rules::fuel`); this
//! module gathers what they look at.

use std::collections::{HashMap, HashSet};

use futures::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;
use serde_json::json;
use tianshu_model::case::{NewCase, Transition};
use tianshu_model::fuel::{ParsedStatement, RowError, TextEncoding};
use tianshu_model::reference::StoredOrder;
use tianshu_model::{CaseState, LonLat, Timestamp, VehicleId, china_month};
use tianshu_rules::fuel::{
    FUEL_RULE, FillContext, FuelConfig, MonthUse, PreviousFill, case_texts, check_fill,
};
use tianshu_rules::track::TrackIndex;
use tianshu_rules::{Calendar, CaseAction, YearCalendar};
use tianshu_store::Store;

use crate::FuelNotifier;
use tianshu_store::fuel::{FillRecord, StoredFinding};
use tianshu_store::fuel_check::CheckOutcome;

/// Reads a statement file: XLSX when its name ends `.xlsx` or it is a zip, else CSV in `encoding` (or
/// UTF-8/GBK as detected). `Err` when nothing of it can be read (no header, an unreadable workbook).
pub fn read_statement_file(
    bytes: &[u8],
    name: &str,
    format: Option<&str>,
    encoding: Option<TextEncoding>,
) -> Result<(ParsedStatement, Option<TextEncoding>), RowError> {
    let xlsx = name.to_lowercase().ends_with(".xlsx") || bytes.starts_with(b"PK\x03\x04");
    if xlsx {
        return Ok((tianshu_model::fuel::read_statement_xlsx(bytes, format)?, None));
    }
    let (text, enc) = tianshu_model::fuel::decode_text(bytes, encoding)?;
    Ok((tianshu_model::fuel::read_statement_csv(&text, format)?, Some(enc)))
}

/// What importing a statement did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatementReport {
    /// The statement format read.
    pub format: String,
    /// The text encoding (`None` for XLSX).
    pub encoding: Option<TextEncoding>,
    /// Transactions stored now.
    pub stored: usize,
    /// Rows stored by an earlier import.
    pub duplicates: u64,
    /// Rows refused, by line and column; none of them is stored.
    pub errors: Vec<RowError>,
    /// Findings on the stored transactions.
    pub findings: usize,
    /// Cases opened.
    pub cases_opened: usize,
}

/// Stores a read statement and checks what it stored.
pub async fn import_statement(
    store: &Store,
    cfg: &FuelConfig,
    parsed: ParsedStatement,
    encoding: Option<TextEncoding>,
    source: &str,
    notifier: Option<FuelNotifier>,
    now: Timestamp,
) -> tianshu_store::Result<StatementReport> {
    let done = store.fuel().import_statement(&parsed.rows, source, now).await?;
    let mut errors = parsed.errors;
    errors.extend(done.errors);
    errors.sort_by_key(|e| e.line);
    let mut report = StatementReport {
        format: parsed.format.to_string(),
        encoding,
        stored: done.stored.len(),
        duplicates: done.duplicates,
        errors,
        ..StatementReport::default()
    };
    if cfg.enabled {
        let r = Reconciler::load(store, cfg).await?.notifying(notifier);
        let stored: HashSet<i64> = done.stored.iter().copied().collect();
        let checked = r.check_many(&done.stored, now).await?;
        for c in checked.iter().filter(|c| stored.contains(&c.transaction_id)) {
            report.findings += c.findings;
            report.cases_opened += usize::from(c.opened);
        }
    }
    Ok(report)
}

/// Re-checks car `vehicle`'s fills with `from <= time < to` (an order or filing approved for it,
/// track data arrived late): findings that no longer hold withdraw their case, new ones open one.
pub async fn recheck_car(
    store: &Store,
    cfg: &FuelConfig,
    vehicle: VehicleId,
    (from, to): (Timestamp, Timestamp),
    notifier: Option<FuelNotifier>,
    now: Timestamp,
) -> tianshu_store::Result<Vec<Checked>> {
    let ids = store.fuel().car_transactions(vehicle, from, to).await?;
    check_ids(store, cfg, &ids, notifier, now).await
}

/// Re-checks the fills an order or filing may explain, once approved: its car's within its window
/// ([`recheck_car`]); nothing for an order in another state. The API's approval and `tianshu order
/// import` both come here.
pub async fn recheck_order(
    store: &Store,
    cfg: &FuelConfig,
    vehicle: VehicleId,
    order: &StoredOrder,
    notifier: Option<FuelNotifier>,
    now: Timestamp,
) -> tianshu_store::Result<Vec<Checked>> {
    if order.state != tianshu_rules::OrderState::Approved.as_str() {
        return Ok(Vec::new());
    }
    recheck_car(store, cfg, vehicle, (order.start, order.end), notifier, now).await
}

/// [`recheck_order`] for each stored order or filing of `ids` (those an import created or changed),
/// its car found by its plate.
pub async fn recheck_orders(
    store: &Store,
    cfg: &FuelConfig,
    ids: &[String],
    notifier: Option<FuelNotifier>,
    now: Timestamp,
) -> tianshu_store::Result<Vec<Checked>> {
    let mut out = Vec::new();
    if !cfg.enabled || ids.is_empty() {
        return Ok(out);
    }
    for order in store.rules().orders().await? {
        if !ids.contains(&order.id) {
            continue;
        }
        if let Some(v) = store.vehicle_by_plate(&order.plate).await? {
            out.extend(recheck_order(store, cfg, v.id, &order, notifier.clone(), now).await?);
        }
    }
    Ok(out)
}

/// Checks `ids` with the reference data of now (nothing when the checks are off or there is none).
async fn check_ids(
    store: &Store,
    cfg: &FuelConfig,
    ids: &[i64],
    notifier: Option<FuelNotifier>,
    now: Timestamp,
) -> tianshu_store::Result<Vec<Checked>> {
    if !cfg.enabled || ids.is_empty() {
        return Ok(Vec::new());
    }
    let r = Reconciler::load(store, cfg).await?.notifying(notifier);
    r.check_many(ids, now).await
}

/// Re-checks the fills of the last `recheck_days` days that fixes with a fix time before `since` but
/// received after it (track data arriving late) may change: those within a day of such a fix, after
/// it since their previous fill, or in its China month (the monthly ratio).
pub async fn recheck_late(
    store: &Store,
    cfg: &FuelConfig,
    since: Timestamp,
    notifier: Option<FuelNotifier>,
    now: Timestamp,
) -> tianshu_store::Result<Vec<Checked>> {
    if !cfg.enabled {
        return Ok(Vec::new());
    }
    let from = now.add_millis(-i64::from(cfg.recheck_days) * DAY_MS);
    let mut by_car: HashMap<VehicleId, Vec<Timestamp>> = HashMap::new();
    let mut ids_of: HashMap<(VehicleId, Timestamp), Vec<i64>> = HashMap::new();
    for t in store
        .fuel()
        .transactions(None, from, now.add_millis(DAY_MS))
        .await?
    {
        if let Some(v) = t.vehicle {
            by_car.entry(v).or_default().push(t.txn.time);
            ids_of.entry((v, t.txn.time)).or_default().push(t.id);
        }
    }
    let mut ids = Vec::new();
    for (v, fills) in by_car {
        let (Some(&first), Some(&last)) = (fills.first(), fills.last()) else {
            continue;
        };
        let (lo, hi) = (
            china_month(first).1.min(first.add_millis(-DAY_MS)),
            china_month(last).2,
        );
        let mut s = store
            .backend()
            .track_received_after(v, lo, hi.min(since), since)
            .await?;
        let mut late = Vec::new();
        while let Some(p) = s.next().await {
            late.push(p?.fix_time);
        }
        if late.is_empty() {
            continue;
        }
        for (i, &t) in fills.iter().enumerate() {
            let previous = if i > 0 { fills[i - 1] } else { t };
            let touched = late.iter().any(|&f| {
                (f >= t.add_millis(-DAY_MS) && f < t.add_millis(DAY_MS))
                    || (f >= previous && f < t)
                    || china_month(f).0 == china_month(t).0
            });
            if touched {
                ids.extend(ids_of.get(&(v, t)).into_iter().flatten());
            }
        }
    }
    check_ids(store, cfg, &ids, notifier, now).await
}

/// What checking one transaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Checked {
    /// The transaction.
    pub transaction_id: i64,
    /// Findings.
    pub findings: usize,
    /// The case, when there are findings.
    pub case_id: Option<i64>,
    /// Whether the case is new.
    pub opened: bool,
    /// Whether an earlier case was withdrawn (its findings cleared).
    pub withdrawn: bool,
}

/// Checks transactions with the reference data of one moment (calendars and orders read once).
pub struct Reconciler<'a> {
    store: &'a Store,
    cfg: &'a FuelConfig,
    calendar: Calendar,
    /// The approved orders and filings, by plate.
    orders: HashMap<String, Vec<StoredOrder>>,
    /// What notifies the supervisors of new cases, when anything does.
    notifier: Option<FuelNotifier>,
}

const DAY_MS: i64 = 86_400_000;
/// The distance since the previous fill is read from the track when the gap is at most this.
const KM_GAP_MS: i64 = 31 * DAY_MS;

/// What a car's track says about one fill.
#[derive(Default)]
struct TrackFacts {
    positions: Vec<(Timestamp, LonLat)>,
    tracked: bool,
    km: Option<f64>,
    /// Kilometres in the fill's month, for the month's last fill of a car with a track in it.
    month_km: Option<f64>,
}

impl<'a> Reconciler<'a> {
    /// Reads the calendars (the shipped ones, then the imported ones over them) and the orders.
    pub async fn load(store: &'a Store, cfg: &'a FuelConfig) -> tianshu_store::Result<Self> {
        let mut calendar = Calendar::builtin().unwrap_or_default();
        for c in store.rules().calendars().await? {
            if let Ok(y) = YearCalendar::parse_toml(&c.source) {
                calendar.insert(y);
            }
        }
        let mut orders: HashMap<String, Vec<StoredOrder>> = HashMap::new();
        for o in store.rules().orders().await? {
            if o.state == "approved" {
                orders.entry(o.plate.clone()).or_default().push(o);
            }
        }
        Ok(Reconciler {
            store,
            cfg,
            calendar,
            orders,
            notifier: None,
        })
    }

    /// New cases notify the units' supervisors through `notifier`.
    pub fn notifying(self, notifier: Option<FuelNotifier>) -> Self {
        Reconciler { notifier, ..self }
    }

    /// The notifications of each outcome's case (kept by the store for a new case only).
    async fn route(&self, outcomes: &mut [CheckOutcome]) -> tianshu_store::Result<()> {
        let Some(notify) = &self.notifier else {
            return Ok(());
        };
        let cases: Vec<NewCase> = outcomes.iter().filter_map(|o| o.case.clone()).collect();
        if cases.is_empty() {
            return Ok(());
        }
        let routed = notify(cases).await.map_err(tianshu_store::Error::Unavailable)?;
        let with_case = outcomes.iter_mut().filter(|o| o.case.is_some());
        for (o, deliveries) in with_case.zip(routed) {
            o.deliveries = deliveries;
        }
        Ok(())
    }

    /// Each car's fixes with `from <= time < to`, read once, in the order of `spans`: on as many tasks
    /// at once as there are cores (a year of a car is some 260,000 fixes to decode and index, which
    /// one core would do one car after another).
    async fn tracks(
        &self,
        spans: Vec<(VehicleId, Timestamp, Timestamp)>,
    ) -> tianshu_store::Result<Vec<TrackIndex>> {
        let at_once = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        futures::stream::iter(spans.into_iter().map(|(v, from, to)| {
            let store = self.store.clone();
            async move {
                tokio::spawn(async move {
                    let mut s = store.backend().track(v, from, to).await?;
                    let mut out = Vec::new();
                    while let Some(p) = s.next().await {
                        let p = p?;
                        out.push((p.fix_time, LonLat::from_e6(p.lon_e6, p.lat_e6)));
                    }
                    Ok(TrackIndex::new(out))
                })
                .await
                .map_err(|e| tianshu_store::Error::Unavailable(format!("reading car {}'s track: {e}", v.0)))?
            }
        }))
        .buffered(at_once)
        .try_collect()
        .await
    }

    /// What each car's track says about its fills: each car's track read once, over the span of its
    /// fills (a day either side, and back to a previous fill at most [`KM_GAP_MS`] earlier).
    async fn track_facts(&self, recs: &[FillRecord]) -> tianshu_store::Result<Vec<Option<TrackFacts>>> {
        let mut by_car: HashMap<VehicleId, Vec<usize>> = HashMap::new();
        for (i, r) in recs.iter().enumerate() {
            if let Some((v, ..)) = r.vehicle {
                by_car.entry(v).or_default().push(i);
            }
        }
        let window = i64::from(self.cfg.near_window_minutes) * 60_000;
        let previous = |r: &FillRecord| {
            let t = r.txn.txn.time;
            r.previous
                .as_ref()
                .map(|(p, _)| p.txn.time)
                .filter(|p| t.0 - p.0 <= KM_GAP_MS)
        };
        let mut spans = Vec::new();
        let mut cars = Vec::new();
        for (v, fills) in by_car {
            let lo = fills
                .iter()
                .map(|&i| {
                    let t = recs[i].txn.txn.time.add_millis(-DAY_MS.max(window));
                    let t = recs[i].month.map_or(t, |m| m.start.min(t));
                    previous(&recs[i]).map_or(t, |p| p.min(t))
                })
                .min();
            let hi = fills
                .iter()
                .map(|&i| {
                    let t = recs[i].txn.txn.time.add_millis(DAY_MS.max(window + 1));
                    recs[i].month.map_or(t, |m| m.end.max(t))
                })
                .max();
            let (Some(lo), Some(hi)) = (lo, hi) else { continue };
            spans.push((v, lo, hi));
            cars.push(fills);
        }
        let tracks = self.tracks(spans).await?;
        let mut out: Vec<Option<TrackFacts>> = recs.iter().map(|_| None).collect();
        for (fills, track) in cars.into_iter().zip(tracks) {
            for i in fills {
                let t = recs[i].txn.txn.time;
                let positions = track
                    .within(t.add_millis(-window), t.add_millis(window + 1))
                    .to_vec();
                let tracked = !positions.is_empty()
                    || !track
                        .within(t.add_millis(-DAY_MS), t.add_millis(DAY_MS))
                        .is_empty();
                let km = match previous(&recs[i]) {
                    Some(p) if tracked => track.distance_m(p, t).map(|m| m / 1000.0),
                    _ => None,
                };
                let month_km = recs[i]
                    .month
                    .and_then(|m| track.distance_m(m.start, m.end))
                    .map(|m| m / 1000.0);
                out[i] = Some(TrackFacts {
                    positions,
                    tracked,
                    km,
                    month_km,
                });
            }
        }
        Ok(out)
    }

    /// Checks transaction `id` and records its findings and its case: opened for new findings,
    /// updated for changed ones, withdrawn when none are left.
    pub async fn check(&self, id: i64, now: Timestamp) -> tianshu_store::Result<Checked> {
        self.check_many(&[id], now)
            .await?
            .into_iter()
            .find(|c| c.transaction_id == id)
            .ok_or_else(|| tianshu_store::Error::NotFound(format!("fuel transaction {id}")))
    }

    /// Checks transactions `ids` as [`Reconciler::check`] does one, with every other fill of their cars'
    /// months (whose monthly figures they change), reading what they need in a few queries, each car's
    /// track once, and recording the outcomes in batches; in fill order.
    pub async fn check_many(&self, ids: &[i64], now: Timestamp) -> tianshu_store::Result<Vec<Checked>> {
        let recs = self.store.fuel().fill_records(ids).await?;
        let facts = self.track_facts(&recs).await?;
        let mut outcomes: Vec<CheckOutcome> = recs
            .iter()
            .zip(facts)
            .map(|(rec, facts)| self.outcome(rec, facts.unwrap_or_default(), now))
            .collect();
        self.route(&mut outcomes).await?;
        let withdrawal = Transition {
            case_id: 0,
            from: CaseAction::Withdraw.from_states(),
            to: CaseState::Withdrawn,
            actor: "system".into(),
            action: CaseAction::Withdraw.as_str().into(),
            note: "the fuel checks no longer find anything on this transaction".into(),
            escalate_at: None,
            deliveries: Vec::new(),
        };
        let recorded = self
            .store
            .fuel()
            .record_checks(&outcomes, &withdrawal, now)
            .await?;
        Ok(outcomes
            .iter()
            .zip(recorded)
            .map(|(o, r)| Checked {
                transaction_id: o.transaction_id,
                findings: o.findings.len(),
                case_id: r.case_id,
                opened: r.opened,
                withdrawn: r.withdrawn,
            })
            .collect())
    }

    /// The findings on one fill and the case they open.
    fn outcome(&self, rec: &FillRecord, facts: TrackFacts, now: Timestamp) -> CheckOutcome {
        let t = rec.txn.txn.time;
        let plate = rec.vehicle.as_ref().map(|(_, p, _)| p.as_str());
        let covered = plate.is_some_and(|plate| {
            self.orders
                .get(plate)
                .is_some_and(|os| os.iter().any(|o| o.start <= t && t < o.end))
        });
        let unknown_plate = match (&rec.txn.txn.plate, rec.txn.vehicle) {
            (Some(p), None) => Some(p.as_str()),
            _ => None,
        };
        let ctx = FillContext {
            txn: &rec.txn.txn,
            card: &rec.card,
            vehicle: rec.vehicle.as_ref().map(|(v, p, _)| (*v, p.as_str())),
            unknown_plate,
            profile: rec.profile,
            station: rec.station.as_ref().map(|s| s.position),
            positions: &facts.positions,
            tracked: facts.tracked,
            previous: rec.previous.as_ref().map(|(p, s)| PreviousFill {
                time: p.txn.time,
                at: s.as_ref().map(|s| s.position),
                station: p.txn.station.clone(),
            }),
            km_since_previous: facts.km,
            month_spent_fen: rec.month_spent_fen,
            day: self.calendar.day_kind_at(t),
            covered_by_order: covered,
            month: rec.month.zip(facts.month_km).map(|(m, km)| MonthUse {
                month: m.month,
                litres_cl: m.litres_cl,
                amount_fen: m.amount_fen,
                fills: m.fills,
                km,
            }),
        };
        let findings = check_fill(self.cfg, &ctx);
        let vehicle = rec.vehicle.as_ref().map_or(VehicleId(0), |(v, ..)| *v);
        let unit = rec.card.unit;
        let case = case_texts(&findings).map(|(severity, reasoning, reasoning_zh, at_stake)| NewCase {
            vehicle,
            unit,
            rule: FUEL_RULE.into(),
            start: t,
            end: Some(t),
            severity: severity.as_str().into(),
            late: false,
            reasoning,
            reasoning_zh,
            episode: json!({
                "kind": "fuel",
                "transaction": rec.txn,
                "plate": plate,
                "card": rec.card.number,
                "at_stake_fen": at_stake,
                "findings": findings,
            }),
            escalate_at: (self.cfg.escalate_after_hours > 0)
                .then(|| now.add_millis(i64::from(self.cfg.escalate_after_hours) * 3_600_000)),
        });
        let findings = findings
            .iter()
            .map(|f| StoredFinding {
                transaction_id: rec.txn.id,
                check: f.check.as_str().into(),
                severity: f.severity.as_str().into(),
                at_stake_fen: f.at_stake_fen,
                reason: f.reason.clone(),
                reason_zh: f.reason_zh.clone(),
                evidence: f.evidence.clone(),
                unit,
                time: t,
                case_id: None,
            })
            .collect();
        CheckOutcome {
            transaction_id: rec.txn.id,
            case,
            findings,
            deliveries: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Cell, Table};

    #[test]
    fn an_xlsx_statement_reads_like_its_csv_and_a_truncated_one_is_refused() {
        let table = Table {
            sheet: "流水".into(),
            header: ["卡号", "交易时间", "加油站", "油品", "数量", "单价", "金额"]
                .map(String::from)
                .to_vec(),
            rows: vec![
                vec![
                    Cell::from("1000113300001234"),
                    Cell::from("2026-03-05 08:12:00"),
                    Cell::from("团城山站"),
                    Cell::from("92#"),
                    Cell::from(40.0),
                    Cell::from(7.5),
                    Cell::from(300.0),
                ],
                vec![
                    Cell::from("1000113300001234"),
                    Cell::from("2026-03-06 08:12:00"),
                    Cell::from("团城山站"),
                    Cell::from("92#"),
                    Cell::from(-4.0),
                    Cell::from(7.5),
                    Cell::from(300.0),
                ],
            ],
        };
        let bytes = table.to_xlsx();
        let (p, enc) = read_statement_file(&bytes, "march.xlsx", None, None).unwrap();
        assert_eq!((p.format, enc), ("sinopec", None));
        assert_eq!(p.rows.len(), 1);
        assert_eq!(p.rows[0].1.amount_fen, 30_000);
        assert_eq!(p.errors[0].line, 3);
        assert_eq!(p.errors[0].column.as_deref(), Some("数量 (5)"));
        let e = read_statement_file(&bytes[..bytes.len() / 2], "march.xlsx", None, None).unwrap_err();
        assert!(e.reason.contains("not a readable XLSX"), "{e}");
    }
}
