//! Fuel-card statements from file to findings, shared by the upload endpoint and `tianshu fuel import`:
//! read the file ([`read_statement_file`]: CSV in UTF-8 or GBK, or XLSX), store its good rows
//! ([`tianshu_store::fuel::Fuel::import_statement`]), then check each stored transaction against its
//! card, its car's track and the calendar ([`Reconciler`]) and open (or update, or withdraw) its case.
//! The decisions are the model's and the rules' (`tianshu_model::fuel`, `tianshu_rules::fuel`); this
//! module gathers what they look at.

use futures::StreamExt as _;
use serde::Serialize;
use serde_json::json;
use tianshu_model::case::{CaseFilter, NewCase, Transition};
use tianshu_model::fuel::{ParsedStatement, RowError, TextEncoding};
use tianshu_model::reference::StoredOrder;
use tianshu_model::{CaseState, LonLat, Timestamp, VehicleId};
use tianshu_rules::fuel::{FUEL_RULE, FillContext, FuelConfig, PreviousFill, case_texts, check_fill};
use tianshu_rules::{Calendar, CaseAction, YearCalendar};
use tianshu_store::Store;
use tianshu_store::fuel::StoredFinding;

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
        let r = Reconciler::load(store, cfg).await?;
        for id in done.stored {
            let c = r.check(id, now).await?;
            report.findings += c.findings;
            report.cases_opened += usize::from(c.opened);
        }
    }
    Ok(report)
}

/// What checking one transaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Checked {
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
    orders: Vec<StoredOrder>,
}

/// The distance along a track, metres.
fn track_length_m(points: &[(Timestamp, LonLat)]) -> f64 {
    points.windows(2).map(|w| w[0].1.distance_m(w[1].1)).sum()
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
        let orders = store.rules().orders().await?;
        Ok(Reconciler {
            store,
            cfg,
            calendar,
            orders,
        })
    }

    async fn positions(
        &self,
        v: VehicleId,
        from: Timestamp,
        to: Timestamp,
    ) -> tianshu_store::Result<Vec<(Timestamp, LonLat)>> {
        let mut s = self.store.backend().track(v, from, to).await?;
        let mut out = Vec::new();
        while let Some(p) = s.next().await {
            let p = p?;
            out.push((p.fix_time, LonLat::from_e6(p.lon_e6, p.lat_e6)));
        }
        Ok(out)
    }

    /// Checks transaction `id` and records its findings and its case: opened for new findings,
    /// updated for changed ones, withdrawn when none are left.
    pub async fn check(&self, id: i64, now: Timestamp) -> tianshu_store::Result<Checked> {
        let rec = self.store.fuel().fill_record(id).await?;
        let t = rec.txn.txn.time;
        let window = i64::from(self.cfg.near_window_minutes) * 60_000;
        let (positions, tracked, km) = match rec.vehicle {
            Some((v, ..)) => {
                let positions = self
                    .positions(v, t.add_millis(-window), t.add_millis(window + 1))
                    .await?;
                let day = 86_400_000;
                let tracked = !positions.is_empty()
                    || self
                        .store
                        .backend()
                        .track_count(v, t.add_millis(-day), t.add_millis(day))
                        .await?
                        > 0;
                // The distance since the previous fill, from the track, when the gap is at most a month.
                let km = match &rec.previous {
                    Some((p, _)) if tracked && t.0 - p.txn.time.0 <= 31 * day => {
                        let track = self.positions(v, p.txn.time, t).await?;
                        (!track.is_empty()).then(|| track_length_m(&track) / 1000.0)
                    }
                    _ => None,
                };
                (positions, tracked, km)
            }
            None => (Vec::new(), false, None),
        };
        let plate = rec.vehicle.as_ref().map(|(_, p, _)| p.as_str());
        let covered = plate.is_some_and(|plate| {
            self.orders
                .iter()
                .any(|o| o.plate == plate && o.state == "approved" && o.start <= t && t < o.end)
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
            positions: &positions,
            tracked,
            previous: rec.previous.as_ref().map(|(p, s)| PreviousFill {
                time: p.txn.time,
                at: s.as_ref().map(|s| s.position),
                station: p.txn.station.clone(),
            }),
            km_since_previous: km,
            month_spent_fen: rec.month_spent_fen,
            day: self.calendar.day_kind_at(t),
            covered_by_order: covered,
        };
        let findings = check_fill(self.cfg, &ctx);
        let vehicle = rec.vehicle.as_ref().map_or(VehicleId(0), |(v, ..)| *v);
        let unit = rec.card.unit;
        let mut out = Checked {
            findings: findings.len(),
            ..Checked::default()
        };
        match case_texts(&findings) {
            Some((severity, reasoning, reasoning_zh, at_stake)) => {
                let case = NewCase {
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
                };
                let (case_id, opened) = self.store.cases().record_case(&case, &[], now).await?;
                out.case_id = Some(case_id);
                out.opened = opened;
            }
            None => {
                let open = self
                    .store
                    .cases()
                    .cases(&CaseFilter {
                        vehicle: Some(vehicle),
                        rule: Some(FUEL_RULE.into()),
                        from: Some(t),
                        to: Some(t.add_millis(1)),
                        states: CaseAction::Withdraw.from_states(),
                        ..CaseFilter::default()
                    })
                    .await?;
                for c in open.into_iter().filter(|c| c.unit == unit) {
                    let step = Transition {
                        case_id: c.id,
                        from: CaseAction::Withdraw.from_states(),
                        to: CaseState::Withdrawn,
                        actor: "system".into(),
                        action: CaseAction::Withdraw.as_str().into(),
                        note: "the fuel checks no longer find anything on this transaction".into(),
                        escalate_at: None,
                        deliveries: Vec::new(),
                    };
                    self.store.cases().transition_case(&step, now).await?;
                    out.withdrawn = true;
                }
            }
        }
        let stored: Vec<StoredFinding> = findings
            .iter()
            .map(|f| StoredFinding {
                transaction_id: id,
                check: f.check.as_str().into(),
                severity: f.severity.as_str().into(),
                at_stake_fen: f.at_stake_fen,
                reason: f.reason.clone(),
                reason_zh: f.reason_zh.clone(),
                evidence: f.evidence.clone(),
                unit,
                time: t,
                case_id: out.case_id,
            })
            .collect();
        self.store.fuel().replace_findings(id, &stored).await?;
        Ok(out)
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
