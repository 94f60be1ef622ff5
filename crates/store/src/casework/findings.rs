//! The finding that closes a case and the people held to account, taken only by a case whose state
//! allows it (checked under the case's row lock); one on an explained or escalated case closes it.

use tianshu_model::complaint::{Accountable, Finding, FindingOutcome, Measure};
use tianshu_model::{CaseState, Timestamp, UnitId};
use tianshu_rules::casework::{FindingInput, finding_allowed};

use super::{Casework, corrupt};
use crate::db::Change;
use crate::sql::{Tx, params, work};
use crate::{Error, Result};

/// A finding to record on a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingWrite {
    /// The case.
    pub case_id: i64,
    /// What was found (checked by the caller against the configured types).
    pub input: FindingInput,
    /// The date decided.
    pub decided: chrono::NaiveDate,
    /// A note.
    pub note: String,
    /// Who records it.
    pub actor: String,
}

pub(super) async fn record_finding(tx: &mut dyn Tx, f: &FindingWrite, now: Timestamp) -> Result<Finding> {
    let lock = tx.row_lock();
    let row = tx
        .opt(
            &format!("SELECT state, unit_id FROM alert_cases WHERE id = $1{lock}"),
            params![f.case_id],
        )
        .await?
        .ok_or_else(|| Error::NotFound(format!("case {}", f.case_id)))?;
    let state_text = row.text(0)?;
    let state = CaseState::parse(&state_text).ok_or_else(|| corrupt("case state", &state_text))?;
    let unit = row.int(1)?;
    let closes = finding_allowed(state).map_err(Error::Conflict)?;
    let outcome = f.input.outcome.as_str();
    if closes {
        tx.execute(
            "UPDATE alert_cases SET state = 'closed', escalate_ms = NULL, updated_ms = $2 WHERE id = $1",
            params![f.case_id, now],
        )
        .await?;
        tx.execute(
            "INSERT INTO alert_case_events (case_id, time_ms, actor, action, note) VALUES ($1, $2, $3, 'closed', $4)",
            params![f.case_id, now, &f.actor, format!("finding: {outcome}")],
        )
        .await?;
    }
    tx.execute(
        "DELETE FROM case_accountability WHERE case_id = $1",
        params![f.case_id],
    )
    .await?;
    tx.execute("DELETE FROM case_findings WHERE case_id = $1", params![f.case_id])
        .await?;
    tx.execute(
        "INSERT INTO case_findings (case_id, unit_id, outcome, violation, recovered_fen, decided, note, \
         recorded_by, recorded_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        params![
            f.case_id,
            unit,
            outcome,
            f.input.violation.clone(),
            f.input.recovered_fen,
            f.decided.to_string(),
            &f.note,
            &f.actor,
            now
        ],
    )
    .await?;
    for p in &f.input.people {
        tx.execute(
            "INSERT INTO case_accountability (case_id, name, post, unit, measure) VALUES ($1, $2, $3, $4, $5)",
            params![f.case_id, &p.name, &p.post, &p.unit, p.measure.as_str()],
        )
        .await?;
    }
    load_finding(tx, f.case_id)
        .await?
        .ok_or_else(|| Error::Corrupt("a finding just written is not there".into()))
}

pub(super) fn parse_date(s: &str) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| corrupt("date", s))
}

async fn load_finding(tx: &mut dyn Tx, case_id: i64) -> Result<Option<Finding>> {
    let Some(r) = tx
        .opt(
            "SELECT case_id, unit_id, outcome, violation, recovered_fen, decided, note, recorded_by, recorded_ms \
             FROM case_findings WHERE case_id = $1",
            params![case_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let outcome = r.text(2)?;
    let people = tx
        .query(
            "SELECT name, post, unit, measure FROM case_accountability WHERE case_id = $1 ORDER BY id",
            params![case_id],
        )
        .await?
        .iter()
        .map(|p| {
            let m = p.text(3)?;
            Ok(Accountable {
                name: p.text(0)?,
                post: p.text(1)?,
                unit: p.text(2)?,
                measure: Measure::parse(&m).ok_or_else(|| corrupt("measure", &m))?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(Some(Finding {
        case_id: r.int(0)?,
        unit: UnitId(r.int(1)?),
        outcome: FindingOutcome::parse(&outcome).ok_or_else(|| corrupt("outcome", &outcome))?,
        violation: r.opt_text(3)?,
        people,
        recovered_fen: r.int(4)?,
        decided: parse_date(&r.text(5)?)?,
        note: r.text(6)?,
        recorded_by: r.text(7)?,
        recorded: Timestamp(r.int(8)?),
    }))
}

impl Casework<'_> {
    /// Records (or replaces) the finding of a case.
    pub fn record_finding(&self, f: &FindingWrite, now: Timestamp) -> Change<'_, Finding> {
        let f = f.clone();
        Change::new(
            self.db,
            work(move |tx| Box::pin(async move { record_finding(tx, &f, now).await })),
        )
    }

    /// The finding of a case.
    pub async fn finding(&self, case_id: i64) -> Result<Option<Finding>> {
        self.db
            .read(work(move |tx| {
                Box::pin(async move { load_finding(tx, case_id).await })
            }))
            .await
    }
}
