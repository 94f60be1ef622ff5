//! The facts the office's figures count, read for a period and a set of units; the counting is the
//! rules' (`tianshu_rules::casework::summarize`).

use tianshu_model::complaint::{ComplaintState, FindingOutcome, Measure};
use tianshu_model::{Timestamp, UnitId};
use tianshu_rules::casework::{ComplaintFacts, FindingFacts};

use super::findings::parse_date;
use super::{Casework, corrupt, marks};
use crate::Result;
use crate::sql::{Value, work};

impl Casework<'_> {
    /// The facts the figures count: complaints received in `from..to` and findings decided on the local
    /// dates `from_date..to_date`, of `units` only when given.
    pub async fn facts(
        &self,
        (from, to): (Timestamp, Timestamp),
        (from_date, to_date): (chrono::NaiveDate, chrono::NaiveDate),
        units: Option<Vec<UnitId>>,
    ) -> Result<(Vec<ComplaintFacts>, Vec<FindingFacts>)> {
        self.db
            .read(work(move |tx| {
                Box::pin(async move {
                    let mut args: Vec<Value> = vec![from.into(), to.into()];
                    let unit_sql = match &units {
                        Some(u) if u.is_empty() => return Ok((Vec::new(), Vec::new())),
                        Some(u) => format!(" AND unit_id IN ({})", marks(u.iter().map(|u| u.0.into()), &mut args)),
                        None => String::new(),
                    };
                    let complaints = tx
                        .query(
                            &format!(
                                "SELECT received_ms, unit_id, state, deadline_ms, forwarded_ms, answered_in_time, replied_ms \
                                 FROM complaints WHERE received_ms >= $1 AND received_ms < $2{unit_sql}"
                            ),
                            &args,
                        )
                        .await?
                        .iter()
                        .map(|r| {
                            let s = r.text(2)?;
                            Ok(ComplaintFacts {
                                received: Timestamp(r.int(0)?),
                                unit: r.opt_int(1)?.map(UnitId),
                                state: ComplaintState::parse(&s).ok_or_else(|| corrupt("complaint state", &s))?,
                                deadline: r.opt_int(3)?.map(Timestamp),
                                forwarded: r.opt_int(4)?.map(Timestamp),
                                answered_in_time: r.opt_int(5)?.map(|v| v != 0),
                                replied: r.opt_int(6)?.map(Timestamp),
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    args[0] = from_date.to_string().into();
                    args[1] = to_date.to_string().into();
                    let rows = tx
                        .query(
                            &format!(
                                "SELECT f.case_id, f.decided, f.unit_id, f.outcome, f.violation, f.recovered_fen, a.measure \
                                 FROM case_findings f LEFT JOIN case_accountability a ON a.case_id = f.case_id \
                                 WHERE f.decided >= $1 AND f.decided < $2{} ORDER BY f.case_id, a.id",
                                unit_sql.replace("unit_id", "f.unit_id")
                            ),
                            &args,
                        )
                        .await?;
                    let mut findings: Vec<(i64, FindingFacts)> = Vec::new();
                    for r in &rows {
                        let case_id = r.int(0)?;
                        if findings.last().is_none_or(|(id, _)| *id != case_id) {
                            let o = r.text(3)?;
                            findings.push((
                                case_id,
                                FindingFacts {
                                    decided: parse_date(&r.text(1)?)?,
                                    unit: UnitId(r.int(2)?),
                                    outcome: FindingOutcome::parse(&o).ok_or_else(|| corrupt("outcome", &o))?,
                                    violation: r.opt_text(4)?,
                                    measures: Vec::new(),
                                    recovered_fen: r.int(5)?,
                                },
                            ));
                        }
                        if let (Some(m), Some((_, f))) = (r.opt_text(6)?, findings.last_mut()) {
                            f.measures.push(Measure::parse(&m).ok_or_else(|| corrupt("measure", &m))?);
                        }
                    }
                    Ok((complaints, findings.into_iter().map(|(_, f)| f).collect()))
                })
            }))
            .await
    }
}
