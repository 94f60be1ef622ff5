//! A casework file loaded into the store (`tianshu casework import`): each record's complaint entered
//! with its named car resolved against the registry, its steps taken at their recorded times, and its
//! finding recorded on a case of kind `complaint` opened from it and explained first, as the desk, the
//! unit and the inspector would have done it. All in one transaction: a record the store refuses
//! (a step its state does not allow, a finding naming no known car) is named by its line and nothing
//! of the file is kept.

use tianshu_model::Vehicle;
use tianshu_model::case::Transition;
use tianshu_model::complaint::NewComplaint;
use tianshu_rules::casework::file::CaseworkRecord;
use tianshu_rules::casework::{ComplaintAction, resolve_car};
use tianshu_rules::workflow::CaseAction;

use super::Casework;
use super::complaints::{ComplaintCase, ComplaintStep, create, open_case, step};
use super::findings::{FindingWrite, record_finding};
use crate::db::Change;
use crate::registry::{VEHICLE_COLS, to_vehicle};
use crate::sql::{Tx, work};
use crate::{Error, Result};

/// What a casework file brought.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CaseworkImport {
    /// Complaints entered.
    pub complaints: usize,
    /// Of them, naming no known car (kept as written, flagged).
    pub unresolved: usize,
    /// Steps taken.
    pub steps: usize,
    /// Findings recorded (each on a case opened from its complaint).
    pub findings: usize,
}

/// Names the record's line in a refusal of bad input; other failures pass as they are.
fn at_line(line: usize) -> impl Fn(Error) -> Error {
    move |e| match e {
        Error::Invalid { reason, .. }
        | Error::Conflict(reason)
        | Error::NotFound(reason)
        | Error::Forbidden(reason) => Error::Invalid {
            line: Some(line),
            reason,
        },
        other => other,
    }
}

async fn import_record(
    tx: &mut dyn Tx,
    r: &CaseworkRecord,
    vehicles: &[Vehicle],
    actor: &str,
    done: &mut CaseworkImport,
) -> Result<()> {
    let car = resolve_car(&r.plate, vehicles);
    let new = NewComplaint {
        received: r.received,
        channel: r.channel,
        reporter_name: None,
        phone_sealed: None,
        phone_masked: None,
        text: r.text.clone(),
        place: r.place.clone(),
        window: None,
        cars: vec![car.clone()],
        entered_by: actor.to_string(),
    };
    let complaint = create(tx, &new, r.received).await?;
    done.complaints += 1;
    done.unresolved += usize::from(!car.resolved());
    for s in &r.steps {
        let forward = s.action == ComplaintAction::Forward;
        let taken = ComplaintStep {
            id: complaint.id,
            action: s.action,
            actor: actor.to_string(),
            note: s.note.clone(),
            unit: car.unit.filter(|_| forward),
            deadline: r.deadline.filter(|_| forward),
            answering_units: None,
            deliveries: Vec::new(),
        };
        step(tx, &taken, s.at).await?;
        done.steps += 1;
    }
    let Some(f) = &r.finding else {
        return Ok(());
    };
    let (Some(vehicle), Some(unit)) = (car.vehicle, car.unit) else {
        return Err(Error::invalid(format!(
            "finding: {:?} names no known car to open a case for",
            r.plate
        )));
    };
    let opened = ComplaintCase {
        id: complaint.id,
        vehicle,
        unit,
        actor: actor.to_string(),
        escalate_at: None,
    };
    let (_, case_id) = open_case(tx, &opened, f.at).await?;
    let explain = CaseAction::Explain;
    let explained = Transition {
        case_id,
        from: explain.from_states(),
        to: explain.to_state(),
        actor: actor.to_string(),
        action: explain.as_str().to_string(),
        note: "explained with the complaint's finding".into(),
        escalate_at: None,
        deliveries: Vec::new(),
    };
    crate::cases::transition_case(tx, &explained, f.at).await?;
    let finding = FindingWrite {
        case_id,
        input: f.input(),
        decided: f.decided,
        note: String::new(),
        actor: actor.to_string(),
    };
    record_finding(tx, &finding, f.at).await?;
    done.findings += 1;
    Ok(())
}

async fn import(tx: &mut dyn Tx, records: &[(usize, CaseworkRecord)], actor: &str) -> Result<CaseworkImport> {
    let vehicles = tx
        .query(&format!("SELECT {VEHICLE_COLS} FROM vehicles ORDER BY id"), &[])
        .await?
        .iter()
        .map(to_vehicle)
        .collect::<Result<Vec<_>>>()?;
    let mut done = CaseworkImport::default();
    for (line, r) in records {
        import_record(tx, r, &vehicles, actor, &mut done)
            .await
            .map_err(at_line(*line))?;
    }
    Ok(done)
}

impl Casework<'_> {
    /// Loads a casework file's records with their lines (checked by the rules as they were read) as
    /// `actor`, in one transaction; a record refused is named by its line.
    pub fn import(&self, records: Vec<(usize, CaseworkRecord)>, actor: &str) -> Change<'_, CaseworkImport> {
        let actor = actor.to_string();
        Change::new(
            self.db,
            work(move |tx| Box::pin(async move { import(tx, &records, &actor).await })),
        )
    }
}
