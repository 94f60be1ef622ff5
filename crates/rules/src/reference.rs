//! Reference data compiled for the rules: built once, shared read-only by every vehicle.
//!
//! Building resolves names to ids (unit paths, plates), indexes geofences and routes, and turns the
//! configuration into lookup tables, so that the per-point path does array and hash lookups only. When
//! reference data changes (an order imported, a fence edited) the caller builds a new one and swaps it in;
//! per-vehicle state does not hold on to anything from it.

use std::collections::{HashMap, HashSet};

use tianshu_model::{AlarmBit, LonLat, Timestamp, Unit, UnitId, Vehicle, VehicleClass, VehicleId};

use crate::RuleId;
use crate::calendar::Calendar;
use crate::config::RulesConfig;
use crate::fences::{FenceKind, Geofence};
use crate::geo::{PolygonIndex, PolygonSet, Route};
use crate::orders::{Order, OrderKind};
use crate::timetable::{Timetable, parse_hhmm};

/// Why reference data cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// A configuration value is unusable.
    #[error("rules configuration: {0}")]
    Config(String),
    /// A geofence cannot be indexed.
    #[error("geofence {name:?}: {reason}")]
    Fence {
        /// The fence.
        name: String,
        /// Why.
        reason: String,
    },
}

/// The metadata of an indexed fence.
#[derive(Debug, Clone, PartialEq)]
pub struct FenceInfo {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: FenceKind,
    /// Owning unit of a depot, when resolved.
    pub unit: Option<UnitId>,
    /// Category of a prohibited place.
    pub category: Option<String>,
    /// Speed limit of a speed zone, km/h.
    pub speed_limit_kmh: Option<f64>,
}

/// An order with its route indexed.
#[derive(Debug, Clone)]
pub struct CompiledOrder {
    /// The order as imported.
    pub order: Order,
    /// Its route, indexed for corridor tests.
    pub route: Option<Route>,
    /// Corridor half-width in metres (the order's or the configured default).
    pub corridor_m: f64,
}

/// What covers a vehicle at one instant.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cover<'a> {
    /// An approved dispatch order.
    pub order: bool,
    /// An approved filing.
    pub filing: bool,
    /// Some covering order or filing allows leaving the region.
    pub region_exit_allowed: bool,
    /// The covering order with a route, if any.
    pub routed: Option<&'a CompiledOrder>,
}

/// Night-parking times in seconds of the local day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NightTimes {
    pub(crate) start_secs: u32,
    pub(crate) end_secs: u32,
    pub(crate) checks_secs: Vec<u32>,
}

impl NightTimes {
    pub(crate) fn contains(&self, secs: u32) -> bool {
        if self.start_secs <= self.end_secs {
            self.start_secs <= secs && secs < self.end_secs
        } else {
            secs >= self.start_secs || secs < self.end_secs
        }
    }
}

/// Everything the rules need besides the points.
#[derive(Debug, Clone)]
pub struct Reference {
    /// The configuration.
    pub config: RulesConfig,
    /// The calendar.
    pub calendar: Calendar,
    timetables: Vec<Timetable>,
    unit_timetable: HashMap<UnitId, usize>,
    order_required: HashSet<UnitId>,
    fences: Vec<FenceInfo>,
    polygons: PolygonSet,
    regions: Vec<u32>,
    depots: HashMap<UnitId, Vec<u32>>,
    orders: HashMap<VehicleId, Vec<CompiledOrder>>,
    exempt: [u16; 5],
    pub(crate) tamper_mask: u32,
    pub(crate) night: NightTimes,
    unit_paths: HashMap<UnitId, String>,
    warnings: Vec<String>,
}

fn class_index(c: VehicleClass) -> usize {
    match c {
        VehicleClass::General => 0,
        VehicleClass::Confidential => 1,
        VehicleClass::Emergency => 2,
        VehicleClass::LawEnforcement => 3,
        VehicleClass::Special => 4,
    }
}

fn rule_bit(r: RuleId) -> u16 {
    1 << (RuleId::ALL.iter().position(|x| *x == r).unwrap_or(0) as u16)
}

/// Full `/`-separated paths of every unit (a unit whose parents loop is given its own name).
pub fn unit_paths(units: &[Unit]) -> HashMap<UnitId, String> {
    let by_id: HashMap<UnitId, &Unit> = units.iter().map(|u| (u.id, u)).collect();
    let mut out = HashMap::with_capacity(units.len());
    for u in units {
        let mut names = vec![u.name.as_str()];
        let mut cur = u.parent;
        let mut hops = 0;
        while let Some(p) = cur.and_then(|id| by_id.get(&id)) {
            names.push(p.name.as_str());
            cur = p.parent;
            hops += 1;
            if hops > 64 {
                names.truncate(1);
                break;
            }
        }
        names.reverse();
        out.insert(u.id, names.join("/"));
    }
    out
}

/// The unit and its ancestors, nearest first.
fn lineage(units: &HashMap<UnitId, &Unit>, id: UnitId) -> Vec<UnitId> {
    let mut out = vec![id];
    let mut cur = units.get(&id).and_then(|u| u.parent);
    while let Some(p) = cur {
        if out.contains(&p) || out.len() > 64 {
            break;
        }
        out.push(p);
        cur = units.get(&p).and_then(|u| u.parent);
    }
    out
}

/// Unit paths resolved to ids; a path that does not resolve is a warning.
struct Resolver<'a> {
    by_path: HashMap<&'a str, UnitId>,
}

impl Resolver<'_> {
    fn resolve(&self, path: &str, what: &str, warnings: &mut Vec<String>) -> Option<UnitId> {
        let p = path.trim().trim_matches('/');
        let id = self.by_path.get(p).copied();
        if id.is_none() {
            warnings.push(format!("{what}: unit {path:?} is not in the registry"));
        }
        id
    }
}

/// Office hours and order requirements by unit.
struct UnitTables {
    timetables: Vec<Timetable>,
    unit_timetable: HashMap<UnitId, usize>,
    order_required: HashSet<UnitId>,
}

impl UnitTables {
    /// The nearest ancestor with its own timetable (or order requirement) decides for each unit.
    fn build(
        config: &RulesConfig,
        units: &[Unit],
        units_by_path: &Resolver<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Self, ReferenceError> {
        let by_id: HashMap<UnitId, &Unit> = units.iter().map(|u| (u.id, u)).collect();
        let mut timetables = vec![config.timetable.clone()];
        let mut own: HashMap<UnitId, usize> = HashMap::new();
        for ut in &config.unit_timetables {
            if ut.periods.is_empty() {
                return Err(ReferenceError::Config(format!(
                    "unit_timetables for {:?} has no periods",
                    ut.unit
                )));
            }
            if let Some(id) = units_by_path.resolve(&ut.unit, "unit_timetables", warnings) {
                timetables.push(Timetable {
                    periods: ut.periods.clone(),
                    seasons: ut.seasons.clone(),
                });
                own.insert(id, timetables.len() - 1);
            }
        }
        let required: HashSet<UnitId> = config
            .order_required_units
            .iter()
            .filter_map(|p| units_by_path.resolve(p, "order_required_units", warnings))
            .collect();
        let mut unit_timetable = HashMap::new();
        let mut order_required = HashSet::new();
        for u in units {
            let line = lineage(&by_id, u.id);
            if let Some(i) = line.iter().find_map(|a| own.get(a)) {
                unit_timetable.insert(u.id, *i);
            }
            if line.iter().any(|a| required.contains(a)) {
                order_required.insert(u.id);
            }
        }
        Ok(UnitTables {
            timetables,
            unit_timetable,
            order_required,
        })
    }
}

/// The geofences, indexed, with the ids of the regions and of each unit's depots.
struct FenceTables {
    infos: Vec<FenceInfo>,
    polygons: PolygonSet,
    regions: Vec<u32>,
    depots: HashMap<UnitId, Vec<u32>>,
}

impl FenceTables {
    fn build(
        fences: &[Geofence],
        units_by_path: &Resolver<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Self, ReferenceError> {
        let mut infos = Vec::with_capacity(fences.len());
        let mut polys = Vec::with_capacity(fences.len());
        let mut regions = Vec::new();
        let mut depots: HashMap<UnitId, Vec<u32>> = HashMap::new();
        for f in fences {
            let poly = PolygonIndex::new(&f.polygons).map_err(|e| ReferenceError::Fence {
                name: f.name.clone(),
                reason: e.to_string(),
            })?;
            let id = polys.len() as u32;
            let unit = match (&f.unit, f.kind) {
                (Some(u), FenceKind::Depot) => {
                    units_by_path.resolve(u, &format!("depot {:?}", f.name), warnings)
                }
                _ => None,
            };
            match f.kind {
                FenceKind::Region => regions.push(id),
                FenceKind::Depot => {
                    if let Some(u) = unit {
                        depots.entry(u).or_default().push(id);
                    }
                }
                _ => {}
            }
            polys.push(poly);
            infos.push(FenceInfo {
                name: f.name.clone(),
                kind: f.kind,
                unit,
                category: f.category.clone(),
                speed_limit_kmh: f.speed_limit_kmh,
            });
        }
        Ok(FenceTables {
            infos,
            polygons: PolygonSet::new(polys),
            regions,
            depots,
        })
    }
}

/// Orders by vehicle, sorted by start, with their routes indexed.
fn compile_orders(
    config: &RulesConfig,
    vehicles: &[Vehicle],
    orders: &[Order],
    warnings: &mut Vec<String>,
) -> HashMap<VehicleId, Vec<CompiledOrder>> {
    let plates: HashMap<&str, VehicleId> = vehicles.iter().map(|v| (v.plate.as_str(), v.id)).collect();
    let mut by_vehicle: HashMap<VehicleId, Vec<CompiledOrder>> = HashMap::new();
    for o in orders {
        let Some(v) = plates.get(o.plate.trim()) else {
            warnings.push(format!(
                "order {}: plate {:?} is not in the registry",
                o.id, o.plate
            ));
            continue;
        };
        let corridor_m = o.corridor_m.unwrap_or(config.off_route.corridor_m);
        let route = match &o.route {
            Some(r) => match Route::new(&r.coordinates, corridor_m) {
                Ok(r) => Some(r),
                Err(e) => {
                    warnings.push(format!("order {}: route ignored: {e}", o.id));
                    None
                }
            },
            None => None,
        };
        by_vehicle.entry(*v).or_default().push(CompiledOrder {
            order: o.clone(),
            route,
            corridor_m,
        });
    }
    for list in by_vehicle.values_mut() {
        list.sort_by_key(|o| o.order.start);
    }
    by_vehicle
}

/// The exempt rules of each class, as bit sets.
fn exemption_bits(config: &RulesConfig) -> [u16; 5] {
    let mut exempt = [0u16; 5];
    for c in VehicleClass::ALL {
        exempt[class_index(c)] = config.exemptions.of(c).iter().fold(0, |m, r| m | rule_bit(*r));
    }
    exempt
}

/// The alarm bits that mean tampering, as a mask of the alarm word.
fn tamper_mask(config: &RulesConfig) -> Result<u32, ReferenceError> {
    let mut mask = 0u32;
    for name in &config.tamper.alarm_bits {
        let bit = AlarmBit::ALL
            .iter()
            .find(|b| b.name() == name.as_str())
            .ok_or_else(|| {
                ReferenceError::Config(format!("tamper.alarm_bits: unknown alarm bit {name:?}"))
            })?;
        mask |= 1 << (*bit as u8);
    }
    Ok(mask)
}

/// The night and its check times; every check must fall inside the night.
fn night_times(config: &RulesConfig) -> Result<NightTimes, ReferenceError> {
    let hhmm = |s: &str, what: &str| {
        parse_hhmm(s)
            .ok_or_else(|| ReferenceError::Config(format!("night_parking.{what}: {s:?} is not HH:MM")))
    };
    let night = NightTimes {
        start_secs: hhmm(&config.night_parking.night_start, "night_start")?,
        end_secs: hhmm(&config.night_parking.night_end, "night_end")?,
        checks_secs: config
            .night_parking
            .check_times
            .iter()
            .map(|s| hhmm(s, "check_times"))
            .collect::<Result<Vec<_>, _>>()?,
    };
    if let Some(c) = night.checks_secs.iter().find(|c| !night.contains(**c)) {
        return Err(ReferenceError::Config(format!(
            "night_parking.check_times: {} is not inside the night",
            crate::timetable::format_hhmm(*c)
        )));
    }
    Ok(night)
}

impl Reference {
    /// Compiles reference data. Names that do not resolve (an order for an unknown plate, a depot of an
    /// unknown unit, a configured unit path that does not exist) are skipped and listed in
    /// [`Reference::warnings`]; unusable configuration values are errors.
    pub fn build(
        config: RulesConfig,
        calendar: Calendar,
        units: &[Unit],
        vehicles: &[Vehicle],
        fences: &[Geofence],
        orders: &[Order],
    ) -> Result<Self, ReferenceError> {
        let mut warnings = Vec::new();
        let paths = unit_paths(units);
        let resolver = Resolver {
            by_path: paths.iter().map(|(id, p)| (p.as_str(), *id)).collect(),
        };
        let unit_tables = UnitTables::build(&config, units, &resolver, &mut warnings)?;
        let fence_tables = FenceTables::build(fences, &resolver, &mut warnings)?;
        let orders = compile_orders(&config, vehicles, orders, &mut warnings);
        let exempt = exemption_bits(&config);
        let tamper_mask = tamper_mask(&config)?;
        let night = night_times(&config)?;
        Ok(Reference {
            config,
            calendar,
            timetables: unit_tables.timetables,
            unit_timetable: unit_tables.unit_timetable,
            order_required: unit_tables.order_required,
            fences: fence_tables.infos,
            polygons: fence_tables.polygons,
            regions: fence_tables.regions,
            depots: fence_tables.depots,
            orders,
            exempt,
            tamper_mask,
            night,
            unit_paths: paths,
            warnings,
        })
    }

    /// Names that did not resolve while building.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The office hours of a unit.
    #[inline]
    pub fn timetable(&self, unit: UnitId) -> &Timetable {
        let i = self.unit_timetable.get(&unit).copied().unwrap_or(0);
        &self.timetables[i]
    }

    /// Whether a unit's cars need orders.
    #[inline]
    pub fn order_required(&self, unit: UnitId) -> bool {
        self.order_required.contains(&unit)
    }

    /// Whether a class is exempt from a rule.
    #[inline]
    pub fn exempt(&self, class: VehicleClass, rule: RuleId) -> bool {
        self.exempt[class_index(class)] & rule_bit(rule) != 0
    }

    /// A unit's path.
    pub fn unit_path(&self, unit: UnitId) -> Option<&str> {
        self.unit_paths.get(&unit).map(String::as_str)
    }

    /// The fences.
    pub fn fence(&self, id: u32) -> Option<&FenceInfo> {
        self.fences.get(id as usize)
    }

    pub(crate) fn polygons(&self) -> &PolygonSet {
        &self.polygons
    }

    /// Whether a permitted region is configured at all.
    pub fn has_region(&self) -> bool {
        !self.regions.is_empty()
    }

    /// Distance in metres from `p` to the nearest region boundary.
    pub(crate) fn region_boundary_distance_m(&self, p: LonLat) -> f64 {
        self.regions
            .iter()
            .filter_map(|i| self.polygons.get(*i))
            .map(|poly| poly.boundary_distance_m(p))
            .fold(f64::INFINITY, f64::min)
    }

    /// Whether a unit has a depot.
    pub fn has_depot(&self, unit: UnitId) -> bool {
        self.depots.get(&unit).is_some_and(|d| !d.is_empty())
    }

    /// Whether `p` is in one of the unit's depots or within `tolerance_m` of one.
    pub(crate) fn in_depot(&self, unit: UnitId, p: LonLat, tolerance_m: f64) -> bool {
        self.depots.get(&unit).is_some_and(|ids| {
            ids.iter()
                .filter_map(|i| self.polygons.get(*i))
                .any(|poly| poly.contains(p) || poly.boundary_distance_m(p) <= tolerance_m)
        })
    }

    /// The orders of a vehicle, by start.
    pub fn orders_of(&self, vehicle: VehicleId) -> &[CompiledOrder] {
        self.orders.get(&vehicle).map_or(&[], Vec::as_slice)
    }

    /// What covers a vehicle at `t`.
    #[inline]
    pub fn cover(&self, vehicle: VehicleId, t: Timestamp) -> Cover<'_> {
        let mut c = Cover::default();
        for o in self.orders_of(vehicle) {
            if o.order.start > t {
                break;
            }
            if !o.order.covers(t) {
                continue;
            }
            match o.order.kind {
                OrderKind::Order => c.order = true,
                OrderKind::Filing => c.filing = true,
            }
            c.region_exit_allowed |= o.order.allow_region_exit;
            if o.route.is_some() && c.routed.is_none() {
                c.routed = Some(o);
            }
        }
        c
    }

    /// The approved orders and filings of a vehicle that overlap `[from, to]`.
    pub fn covering_orders(&self, vehicle: VehicleId, from: Timestamp, to: Timestamp) -> Vec<&Order> {
        self.orders_of(vehicle)
            .iter()
            .map(|o| &o.order)
            .filter(|o| o.state.covers() && o.start <= to && o.end > from)
            .collect()
    }
}
