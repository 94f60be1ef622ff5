//! Which cars a platform link covers: the cars of its configured units and of their sub-units.

use std::collections::HashSet;

use tianshu_model::{Unit, UnitId, subtree};

/// The units named in `names` with every unit below them, and the names the registry lacks.
pub fn units_named(all: &[Unit], names: &[String]) -> (HashSet<UnitId>, Vec<String>) {
    let mut units = HashSet::new();
    let mut missing = Vec::new();
    for name in names {
        match all.iter().find(|u| u.name == *name) {
            Some(u) => units.extend(subtree(all, u.id)),
            None => missing.push(name.clone()),
        }
    }
    (units, missing)
}
