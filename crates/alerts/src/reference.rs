//! Reference data between the store and the rules: validated imports in, a compiled [`Reference`] out.
//!
//! Imports parse and validate a whole file with the rules crate's parsers before anything is written,
//! then store it in one transaction: all or nothing, with errors that name their lines.

use tianshu_rules::calendar::YearCalendar;
use tianshu_rules::config::UnitTimetable;
use tianshu_rules::timetable::UnitTimetableBody;
use tianshu_rules::{Calendar, Geofence, Order, Reference, RulesConfig};
use tianshu_store::Store;
use tianshu_store::rules::{OrderImportSummary, StoredFence, StoredOrder, StoredUnitTimetable};

use crate::Error;

/// Imports one calendar year from its TOML text; returns the year and whether it replaced one.
pub async fn import_calendar(
    store: &Store,
    text: &str,
    now: tianshu_model::Timestamp,
) -> Result<(i32, bool), Error> {
    let year = YearCalendar::parse_toml(text).map_err(|e| Error::Invalid(vec![e.to_string()]))?;
    let replaced = store.rules().put_calendar(year.year, text, now).await?;
    Ok((year.year, replaced))
}

/// Imports a GeoJSON FeatureCollection of geofences; returns (created, replaced).
pub async fn import_geofences(
    store: &Store,
    text: &str,
    now: tianshu_model::Timestamp,
) -> Result<(u64, u64), Error> {
    let fences =
        tianshu_rules::fences::parse_geojson(text).map_err(|e| Error::Invalid(vec![e.to_string()]))?;
    let rows = fences
        .iter()
        .map(|f| {
            Ok(StoredFence {
                kind: f.kind.as_str().to_string(),
                name: f.name.clone(),
                body: serde_json::to_value(f).map_err(|e| Error::Invalid(vec![e.to_string()]))?,
                updated: now,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(store.rules().put_geofences(&rows, now).await?)
}

/// Imports a JSON Lines file of orders and filings. Every plate must be registered.
pub async fn import_orders(
    store: &Store,
    text: &str,
    now: tianshu_model::Timestamp,
) -> Result<OrderImportSummary, Error> {
    let orders = tianshu_rules::orders::parse_jsonl(text)
        .map_err(|errs| Error::Invalid(errs.iter().map(ToString::to_string).collect()))?;
    let vehicles = store.vehicles().await?;
    let mut errors = Vec::new();
    let mut line = 0usize;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, _)| i + 1);
    let mut rows = Vec::with_capacity(orders.len());
    for o in &orders {
        line = lines.next().unwrap_or(line);
        if !vehicles.iter().any(|v| v.plate == o.plate.trim()) {
            errors.push(format!("line {line}: plate {:?} is not in the registry", o.plate));
            continue;
        }
        rows.push(StoredOrder {
            id: o.id.clone(),
            plate: o.plate.trim().to_string(),
            kind: o.kind.as_str().to_string(),
            state: o.state.as_str().to_string(),
            start: o.start,
            end: o.end,
            body: serde_json::to_value(o).map_err(|e| Error::Invalid(vec![e.to_string()]))?,
            updated: now,
        });
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    Ok(store.rules().put_orders(&rows, now).await?)
}

/// Imports a TOML file of `[[unit_timetables]]` (the shape of `[[rules.unit_timetables]]` in the
/// configuration), replacing the stored timetables of the units it names. Every unit must be
/// registered; all or nothing. Returns (created, replaced).
pub async fn import_unit_timetables(
    store: &Store,
    text: &str,
    now: tianshu_model::Timestamp,
) -> Result<(u64, u64), Error> {
    let entries = tianshu_rules::timetable::parse_unit_timetables_toml(text).map_err(Error::Invalid)?;
    let by_path: std::collections::HashMap<String, tianshu_model::UnitId> =
        tianshu_rules::unit_paths(&store.units().await?)
            .into_iter()
            .map(|(id, path)| (path, id))
            .collect();
    let mut errors = Vec::new();
    let mut rows = Vec::with_capacity(entries.len());
    for e in &entries {
        let Some(unit) = by_path.get(&e.unit) else {
            errors.push(format!(
                "line {}: unit {:?} is not in the registry",
                e.line, e.unit
            ));
            continue;
        };
        rows.push(StoredUnitTimetable {
            unit: *unit,
            body: serde_json::to_value(&e.body).map_err(|e| Error::Invalid(vec![e.to_string()]))?,
            updated: now,
        });
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    Ok(store.rules().put_unit_timetables(&rows, now).await?)
}

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
