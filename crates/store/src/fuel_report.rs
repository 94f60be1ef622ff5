//! The facts the fuel report counts, read for a period in one read transaction; the counting is the
//! rules' (`tianshu_rules::fuel::report::fuel_report`).

use chrono::NaiveDate;
use tianshu_model::fuel::CardState;
use tianshu_model::{Timestamp, UnitId};
use tianshu_rules::calendar::{date_of_day, local_day};
use tianshu_rules::fuel::Check;
use tianshu_rules::fuel::FUEL_RULE;
use tianshu_rules::fuel::report::{CardFact, FillFact, FindingFact, RecoveryFact};

use crate::fuel::Fuel;
use crate::sql::{Value, work};
use crate::{Error, Result};

/// What the fuel report of a period counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFacts {
    /// Transactions of the period.
    pub fills: Vec<FillFact>,
    /// Findings on them.
    pub findings: Vec<FindingFact>,
    /// Cards cancelled or suspended in the period (by their state's date, else the day they were last
    /// changed).
    pub cards: Vec<CardFact>,
    /// Amounts recovered by the findings of fuel cases decided in the period.
    pub recoveries: Vec<RecoveryFact>,
}

impl ReportFacts {
    /// Keeps the facts of `units` only.
    pub fn retain_units(&mut self, units: &[UnitId]) {
        self.fills.retain(|f| units.contains(&f.unit));
        self.findings.retain(|f| units.contains(&f.unit));
        self.cards.retain(|c| units.contains(&c.unit));
        self.recoveries.retain(|r| units.contains(&r.unit));
    }
}

fn date(s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| Error::Corrupt(format!("fuel report: date {s:?}")))
}

impl Fuel<'_> {
    /// The facts of the report over `from <= time < to` (local dates from `from`'s to `to`'s for the
    /// cards and the recoveries).
    pub async fn report_facts(&self, from: Timestamp, to: Timestamp) -> Result<ReportFacts> {
        let day =
            |t: Timestamp| date_of_day(local_day(t)).ok_or_else(|| Error::invalid("a date out of range"));
        let (from_date, to_date) = (day(from)?, day(to)?);
        self.db
            .read(work(move |tx| {
                Box::pin(async move {
                    let range: Vec<Value> = vec![from.into(), to.into()];
                    let mut out = ReportFacts::default();
                    for r in tx
                        .query(
                            "SELECT unit_id, time_ms, card, litres_cl, amount_fen FROM fuel_transactions \
                             WHERE time_ms >= $1 AND time_ms < $2",
                            &range,
                        )
                        .await?
                    {
                        out.fills.push(FillFact {
                            unit: UnitId(r.int(0)?),
                            time: Timestamp(r.int(1)?),
                            card: r.text(2)?,
                            litres_cl: r.int(3)?,
                            amount_fen: r.int(4)?,
                        });
                    }
                    for r in tx
                        .query(
                            "SELECT transaction_id, unit_id, time_ms, check_id, at_stake_fen FROM fuel_findings \
                             WHERE time_ms >= $1 AND time_ms < $2",
                            &range,
                        )
                        .await?
                    {
                        let id = r.text(3)?;
                        out.findings.push(FindingFact {
                            transaction_id: r.int(0)?,
                            unit: UnitId(r.int(1)?),
                            time: Timestamp(r.int(2)?),
                            check: Check::parse(&id)
                                .ok_or_else(|| Error::Corrupt(format!("fuel: stored check {id:?}")))?,
                            at_stake_fen: r.int(4)?,
                        });
                    }
                    for r in tx
                        .query(
                            "SELECT unit_id, state, state_date, updated_ms FROM fuel_cards WHERE state <> $1",
                            &[CardState::Active.as_str().into()],
                        )
                        .await?
                    {
                        let s = r.text(1)?;
                        let state = CardState::parse(&s)
                            .ok_or_else(|| Error::Corrupt(format!("fuel: stored card state {s:?}")))?;
                        let on = match r.opt_text(2)? {
                            Some(d) => date(&d)?,
                            None => day(Timestamp(r.int(3)?))?,
                        };
                        if from_date <= on && on < to_date {
                            out.cards.push(CardFact {
                                unit: UnitId(r.int(0)?),
                                state,
                                date: on,
                            });
                        }
                    }
                    let args: Vec<Value> = vec![
                        from_date.to_string().into(),
                        to_date.to_string().into(),
                        FUEL_RULE.into(),
                    ];
                    for r in tx
                        .query(
                            "SELECT f.unit_id, f.decided, f.recovered_fen FROM case_findings f \
                             JOIN alert_cases c ON c.id = f.case_id \
                             WHERE f.decided >= $1 AND f.decided < $2 AND c.rule = $3",
                            &args,
                        )
                        .await?
                    {
                        out.recoveries.push(RecoveryFact {
                            unit: UnitId(r.int(0)?),
                            decided: date(&r.text(1)?)?,
                            recovered_fen: r.int(2)?,
                        });
                    }
                    Ok(out)
                })
            }))
            .await
    }
}
