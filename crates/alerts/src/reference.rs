//! The rules' reference data compiled from the store into a [`Reference`] for the running rules (and
//! the command line's re-evaluation). The data gets in through the store's reference area
//! ([`tianshu_store::reference`]), one set of imports for the command line and the web API; compiling
//! stays here, with its only users, so the API and the store need no rule engine.

use tianshu_rules::calendar::YearCalendar;
use tianshu_rules::config::UnitTimetable;
use tianshu_rules::timetable::UnitTimetableBody;
use tianshu_rules::{Calendar, Geofence, Order, Reference, RulesConfig};
use tianshu_store::Store;

use crate::Error;

/// Everything [`load_reference`] could not use, for the operator.
pub type Warnings = Vec<String>;

/// Warnings as shown to an operator: the first `max` as they are, then one line counting the rest (a
/// world or registry written for more cars than were imported yields one warning per depot or order).
pub fn summarized(warnings: &[String], max: usize) -> Vec<String> {
    let mut out: Vec<String> = warnings.iter().take(max).cloned().collect();
    if warnings.len() > max {
        out.push(format!(
            "{} more like these (the first {max} are shown)",
            warnings.len() - max
        ));
    }
    out
}

/// Builds the rules' reference data from the store: the shipped calendars overlaid with imported
/// years, the registry, the geofences, the orders, and the stored unit timetables, which replace a
/// configured timetable of the same unit (the nearest ancestor with a timetable of either origin
/// still wins for the units below).
pub async fn load_reference(store: &Store, config: &RulesConfig) -> Result<(Reference, Warnings), Error> {
    let mut warnings = Vec::new();
    let mut calendar =
        Calendar::builtin().map_err(|e| Error::Invalid(vec![format!("shipped calendar: {e}")]))?;
    for c in store.rules().calendars().await? {
        match YearCalendar::parse_toml(&c.source) {
            Ok(y) => calendar.insert(y),
            Err(e) => warnings.push(format!("stored calendar {}: {e}", c.year)),
        }
    }
    let units = store.units().await?;
    let vehicles = store.vehicles().await?;
    let mut fences: Vec<Geofence> = Vec::new();
    for f in store.rules().geofences().await? {
        match serde_json::from_value(f.body) {
            Ok(g) => fences.push(g),
            Err(e) => warnings.push(format!("stored geofence {} {:?}: {e}", f.kind, f.name)),
        }
    }
    let mut orders: Vec<Order> = Vec::new();
    for o in store.rules().orders().await? {
        match serde_json::from_value(o.body) {
            Ok(order) => orders.push(order),
            Err(e) => warnings.push(format!("stored order {}: {e}", o.id)),
        }
    }
    let mut config = config.clone();
    let paths = tianshu_rules::unit_paths(&units);
    for t in store.rules().unit_timetables().await? {
        let Some(path) = paths.get(&t.unit) else {
            warnings.push(format!(
                "stored timetable of unit {}: the unit is not in the registry",
                t.unit
            ));
            continue;
        };
        let body = match serde_json::from_value::<UnitTimetableBody>(t.body) {
            Ok(b) => b,
            Err(e) => {
                warnings.push(format!("stored timetable of unit {path:?}: {e}"));
                continue;
            }
        };
        if let Err(e) = body.validate() {
            warnings.push(format!("stored timetable of unit {path:?}: {e}"));
            continue;
        }
        // Later entries of one unit replace earlier ones when the reference is built.
        config.unit_timetables.push(UnitTimetable {
            unit: path.clone(),
            periods: body.periods,
            seasons: body.seasons,
        });
    }
    let reference = Reference::build(config, calendar, &units, &vehicles, &fences, &orders)?;
    warnings.extend(reference.warnings().iter().cloned());
    Ok((reference, warnings))
}

#[cfg(test)]
mod tests {
    #[test]
    fn many_warnings_are_counted_past_the_first_few() {
        let few: Vec<String> = (0..3).map(|i| format!("w{i}")).collect();
        assert_eq!(super::summarized(&few, 5), few);
        assert_eq!(super::summarized(&few, 3), few);
        let many: Vec<String> = (0..40).map(|i| format!("w{i}")).collect();
        let shown = super::summarized(&many, 5);
        assert_eq!(shown.len(), 6);
        assert_eq!(shown[..5], many[..5]);
        assert_eq!(shown[5], "35 more like these (the first 5 are shown)");
    }
}
