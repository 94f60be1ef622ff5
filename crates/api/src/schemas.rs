//! What the OpenAPI document says of each route beyond the route table: its query parameters, read
//! from the handler's own query type (the names serde's derive gives it, and which of them it cannot do
//! without), its request body and its answer, as JSON Schema next to the names of the types they
//! describe. The API tests check the answers of the reading routes against these schemas.

use serde::de::{self, DeserializeOwned, Visitor};
use serde_json::{Value, json};

use crate::resources::{audit_log, cases, exports, orders, reports, tracks};

/// What one route takes and answers.
#[derive(Debug, Default)]
pub struct Described {
    /// Its query parameters (OpenAPI parameter objects).
    pub query: Vec<Value>,
    /// Its JSON request body's schema.
    pub body: Option<Value>,
    /// Its success status and the schema of what it answers then (`None`: no body, or not JSON).
    pub ok: (u16, Option<Value>),
    /// A `PUT` that answers 201 when it created the resource (200 when it replaced one).
    pub may_create: bool,
}

/// A reference to a schema of [`components`].
fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": properties })
}

const TIME: &str = "date-time";

/// The schema of a time in RFC 3339, UTC.
fn time() -> Value {
    json!({ "type": "string", "format": TIME })
}

/// `schema` or null.
fn nullable(schema: Value) -> Value {
    json!({ "anyOf": [schema, { "type": "null" }] })
}

/// The field names of a struct `T` deserialises, as its derive lists them (`None` for a type that is
/// not a plain struct).
pub fn field_names<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    struct Probe(Option<&'static [&'static str]>);
    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("probe")
        }
    }
    impl std::error::Error for Stop {}
    impl de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop
        }
    }
    impl<'de> de::Deserializer<'de> for &mut Probe {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0 = Some(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
            unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let mut probe = Probe(None);
    let _ = T::deserialize(&mut probe);
    probe.0
}

/// A query parameter's schema and meaning, by its name: one entry per name any handler takes.
pub fn query_parameter(name: &str) -> Option<(Value, &'static str, &'static str)> {
    // (schema, description, a valid example the required-ness probe sends)
    Some(match name {
        "month" => (
            json!({"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}),
            "The month, YYYY-MM, China time",
            "2026-01",
        ),
        "from" => (time(), "Start of the range (RFC 3339)", "2026-01-01T00:00:00Z"),
        "to" => (
            time(),
            "End of the range (RFC 3339), after `from`",
            "2026-01-02T00:00:00Z",
        ),
        "format" => (
            json!({"type": "string", "enum": ["json", "csv", "xlsx", "geojson", "gpx", "kml"]}),
            "What to send: a report takes json (default), csv or xlsx; a track export geojson (default), gpx, kml or csv",
            "csv",
        ),
        "lang" => (
            json!({"type": "string", "enum": ["zh", "en"]}),
            "The language of a download's titles (default zh)",
            "zh",
        ),
        "after" => (
            json!({"type": "integer"}),
            "Only records after this sequence number",
            "0",
        ),
        "limit" => (json!({"type": "integer", "minimum": 0}), "At most this many", "1"),
        "last" => (
            json!({"type": "integer", "minimum": 0}),
            "The newest this many, oldest first",
            "1",
        ),
        "state" => (json!({"type": "string"}), "Only those in this state", "open"),
        "vehicle" => (json!({"type": "integer"}), "The vehicle's id", "1"),
        "plate" => (json!({"type": "string"}), "The vehicle's plate", "x"),
        "tolerance_m" => (
            json!({"type": "number", "minimum": 0}),
            "How far the simplified track may stray from the points, metres",
            "1",
        ),
        _ => return None,
    })
}

/// The query parameters of a handler whose query type is `T`: every field `T` has, described by
/// [`query_parameter`], required when `T` cannot be read without it.
pub fn query_of<T: DeserializeOwned>() -> Vec<Value> {
    let names = field_names::<T>().unwrap_or_default();
    let sample = |skip: Option<&str>| {
        names
            .iter()
            .filter(|n| Some(**n) != skip)
            .filter_map(|n| query_parameter(n).map(|(_, _, e)| format!("{n}={e}")))
            .collect::<Vec<_>>()
            .join("&")
    };
    names
        .iter()
        .map(|name| {
            let (schema, description, _) = query_parameter(name).unwrap_or((
                json!({"type": "string"}),
                "(undescribed)",
                "",
            ));
            let required = serde_urlencoded::from_str::<T>(&sample(Some(name))).is_err();
            json!({"name": name, "in": "query", "required": required, "description": description, "schema": schema})
        })
        .collect()
}

/// A path parameter's schema by its name.
pub fn path_parameter(name: &str) -> Value {
    match name {
        "id" | "year" => json!({"type": "integer"}),
        _ => json!({"type": "string"}),
    }
}

/// What `method path` takes and answers.
pub fn describe(method: &str, path: &str) -> Described {
    let ok = |schema: Value| (200, Some(schema));
    let created = |schema: Value| (201, Some(schema));
    let none = (204, None);
    let mut d = Described::default();
    match (method, path) {
        ("POST", "/api/session") => {
            d.body = Some(object(
                &["username", "password"],
                json!({"username": {"type": "string"}, "password": {"type": "string"}}),
            ));
            d.ok = ok(r("Me"));
        }
        ("DELETE", "/api/session") => d.ok = none,
        ("GET", "/api/me") => d.ok = ok(r("Me")),
        ("GET", "/api/units") => d.ok = ok(array(r("Unit"))),
        ("POST", "/api/units") => {
            d.body = Some(object(
                &["name"],
                json!({"name": {"type": "string"}, "parent": nullable(json!({"type": "integer"}))}),
            ));
            d.ok = created(r("Unit"));
        }
        ("PATCH", "/api/units/{id}") => d.ok = ok(r("Unit")),
        ("GET", "/api/vehicles") => d.ok = ok(array(r("Vehicle"))),
        ("POST", "/api/vehicles") => {
            d.body = Some(object(
                &["plate", "unit"],
                json!({"plate": {"type": "string"}, "unit": {"type": "integer"}, "class": r("VehicleClass")}),
            ));
            d.ok = created(r("Vehicle"));
        }
        ("PATCH", "/api/vehicles/{id}") => d.ok = ok(r("Vehicle")),
        ("GET", "/api/vehicles/{id}") => d.ok = ok(r("VehicleDetail")),
        ("GET" | "PUT", "/api/units/{id}/settings") => {
            if method == "PUT" {
                d.body = Some(r("UnitSettings"));
            }
            d.ok = ok(r("UnitSettings"));
        }
        ("GET", "/api/terminals") => d.ok = ok(array(r("Terminal"))),
        ("GET", "/api/config") => d.ok = ok(r("PageConfig")),
        ("POST", "/api/geofences") => d.ok = created(r("Feature")),
        ("PUT", "/api/geofences/{id}") => d.ok = ok(r("Feature")),
        ("POST", "/api/terminals") => d.ok = created(r("Terminal")),
        ("PATCH", "/api/terminals/{phone}") => d.ok = ok(r("Terminal")),
        ("POST", "/api/terminals/{phone}/reregistration") => {
            d.body = Some(object(
                &["decision"],
                json!({"decision": {"type": "string", "enum": ["approve", "reject"]}}),
            ));
            d.ok = ok(r("Terminal"));
        }
        ("PATCH", "/api/orders/{id}") => {
            d.body = Some(object(
                &["state"],
                json!({"state": {"type": "string", "enum": ["requested", "approved", "cancelled", "completed"]},
                       "version": {"type": "integer", "description": "The version read; else If-Match"}}),
            ));
            d.ok = ok(r("Order"));
        }
        ("PUT", "/api/calendars/{year}" | "/api/units/{id}/timetable") => d.may_create = true,
        ("GET", "/api/geofences") => d.ok = ok(r("FeatureCollection")),
        ("GET", "/api/units/{id}/timetable") => d.ok = ok(r("UnitTimetable")),
        ("GET", "/api/calendars") => d.ok = ok(array(r("CalendarYear"))),
        ("POST", "/api/orders") => d.ok = created(r("Order")),
        ("GET", "/api/vehicles/{id}/report") => {
            d.query = query_of::<reports::ReportQuery>();
            d.ok = ok(r("MonthlyReport"));
        }
        ("GET", "/api/units/{id}/report") => {
            d.query = query_of::<reports::ReportQuery>();
            d.ok = ok(r("UnitReport"));
        }
        ("GET", "/api/vehicles/{id}/trips") => {
            d.query = query_of::<tracks::RangeQuery>();
            d.ok = ok(r("TripsAndStops"));
        }
        ("GET", "/api/vehicles/{id}/replay") => {
            d.query = query_of::<tracks::ReplayQuery>();
            d.ok = ok(r("Replay"));
        }
        ("GET", "/api/vehicles/{id}/track") => d.query = query_of::<exports::TrackQuery>(),
        ("GET", "/api/positions") => {
            d.query = query_of::<tracks::PositionsQuery>();
            d.ok = ok(array(r("Position")));
        }
        ("GET", "/api/positions/latest") => d.ok = ok(array(r("Position"))),
        ("GET", "/api/orders") => {
            d.query = query_of::<orders::OrdersQuery>();
            d.ok = ok(array(r("Order")));
        }
        ("GET", "/api/cases") => {
            d.query = query_of::<cases::CasesQuery>();
            d.ok = ok(array(r("Case")));
        }
        ("GET", "/api/cases/{id}") => d.ok = ok(r("Case")),
        ("POST", "/api/cases/{id}/actions") => {
            d.body = Some(object(
                &["action"],
                json!({"action": {"type": "string", "enum": ["acknowledge", "explain", "close", "escalate"]},
                       "text": {"type": "string", "description": "explain: the explanation"},
                       "note": {"type": "string", "description": "close, escalate: a note"}}),
            ));
            d.ok = ok(r("Case"));
        }
        ("GET", "/api/users") => d.ok = ok(array(r("User"))),
        ("POST", "/api/users") => {
            d.body = Some(object(
                &["username", "password", "role"],
                json!({"username": {"type": "string"}, "password": {"type": "string", "minLength": 8},
                       "role": r("Role"), "unit": nullable(json!({"type": "integer"}))}),
            ));
            d.ok = created(r("User"));
        }
        ("PATCH", "/api/users/{username}") => {
            d.body = Some(object(&["disabled"], json!({"disabled": {"type": "boolean"}})));
            d.ok = ok(r("User"));
        }
        ("DELETE", "/api/users/{username}") => d.ok = none,
        ("GET", "/api/audit") => {
            d.query = query_of::<audit_log::AuditQuery>();
            d.ok = ok(array(r("AuditRecord")));
        }
        ("GET", "/api/tokens") => d.ok = ok(array(r("ApiToken"))),
        ("POST", "/api/tokens") => {
            d.body = Some(object(
                &["name"],
                json!({"name": {"type": "string", "minLength": 1, "maxLength": 64}}),
            ));
            d.ok = created(r("CreatedToken"));
        }
        ("DELETE", "/api/tokens/{id}") => d.ok = ok(r("ApiToken")),
        ("POST" | "PUT", "/api/channels" | "/api/channels/{id}") => {
            d.body = Some(object(
                &["name", "kind"],
                json!({"name": {"type": "string", "minLength": 1, "maxLength": 60},
                       "kind": {"type": "string", "enum": ["webhook", "email"]},
                       "url": {"type": "string", "description": "webhook: an http:// or https:// URL"},
                       "format": {"type": "string", "enum": ["generic", "dingtalk", "wecom"]},
                       "address": {"type": "string", "description": "email: the address"},
                       "units": {"type": "array", "items": {"type": "integer"}, "description": "units served (with their sub-units); empty = every case"},
                       "min_severity": {"type": "string", "enum": ["low", "medium", "high"]},
                       "enabled": {"type": "boolean"}}),
            ));
            d.ok = (if method == "POST" { 201 } else { 200 }, None);
        }
        ("DELETE", _) => d.ok = none,
        _ => d.ok = (200, None),
    }
    d
}

/// The schemas the routes refer to.
pub fn components() -> Value {
    let figures = json!({
        "points": {"type": "integer"},
        "trips": {"type": "integer"},
        "distance_km": {"type": "number", "description": "From the fixes, to 0.1 km"},
        "odometer_km": nullable(json!({"type": "number"})),
        "hours_in_use": {"type": "number", "description": "The trips' durations, to 0.01 h"},
        "days_used": {"type": "integer"},
        "violations": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "Cases that started in the month, by rule"},
        "cases_by_state": {"type": "object", "additionalProperties": {"type": "integer"}},
        "per_day": array(r("Day")),
    });
    let figure_names = [
        "points",
        "trips",
        "distance_km",
        "odometer_km",
        "hours_in_use",
        "days_used",
        "violations",
        "cases_by_state",
        "per_day",
    ];
    let with_figures = |required: &[&str], extra: Value| {
        let mut props = figures.clone();
        if let (Some(p), Value::Object(e)) = (props.as_object_mut(), extra) {
            p.extend(e);
        }
        let mut all: Vec<&str> = figure_names.to_vec();
        all.extend_from_slice(required);
        object(&all, props)
    };
    let titles = json!({"type": "object", "additionalProperties": object(&["zh", "en"], json!({"zh": {"type": "string"}, "en": {"type": "string"}}))});
    json!({
        "Error": object(&["error"], json!({"error": {"type": "string", "description": "What went wrong; a bad field comes first"}})),
        "Role": {"type": "string", "enum": ["administrator", "dispatcher", "inspector", "supervisor", "requester"]},
        "VehicleClass": {"type": "string", "enum": ["general", "confidential", "emergency", "law_enforcement", "special"]},
        "Me": object(&["user_id", "username", "role", "unit"], json!({
            "user_id": {"type": "integer"}, "username": {"type": "string"}, "role": r("Role"),
            "unit": nullable(json!({"type": "integer"}))})),
        "Unit": object(&["id", "name", "parent"], json!({
            "id": {"type": "integer"}, "name": {"type": "string"}, "parent": nullable(json!({"type": "integer"})),
            "reregistration_approval": {"type": "boolean"}})),
        "Vehicle": object(&["id", "plate", "unit", "class"], json!({
            "id": {"type": "integer"}, "plate": {"type": "string"}, "unit": {"type": "integer"}, "class": r("VehicleClass")})),
        "Position": object(&["vehicle", "fix_time", "receive_time", "latitude", "longitude", "speed_kmh", "course_deg"], json!({
            "vehicle": {"type": "integer"},
            "phone": {"type": "string", "description": "The terminal's phone, masked but for administrators"},
            "fix_time": time(), "receive_time": time(),
            "latitude": {"type": "number", "description": "WGS-84 degrees"},
            "longitude": {"type": "number", "description": "WGS-84 degrees"},
            "speed_kmh": {"type": "number"}, "course_deg": {"type": "integer"}, "altitude_m": {"type": "integer"},
            "recv_time": {"type": "string", "deprecated": true}, "lat_deg": {"type": "number", "deprecated": true},
            "lon_deg": {"type": "number", "deprecated": true}})),
        "Case": {"type": "object", "required": ["id", "vehicle", "state"], "properties": {
            "id": {"type": "string"}, "vehicle": {"type": "integer"}, "state": {"type": "string"},
            "rule": {"type": "string"}, "severity": {"type": "string"}, "start": time()},
            "additionalProperties": true},
        "User": object(&["id", "username", "role", "unit", "created", "disabled"], json!({
            "id": {"type": "integer"}, "username": {"type": "string"}, "role": r("Role"),
            "unit": nullable(json!({"type": "integer"})), "created": time(), "disabled": {"type": "boolean"}})),
        "AuditRecord": object(&["seq", "time", "actor", "role", "action", "remote", "rows", "detail", "prev_hash", "hash"], json!({
            "seq": {"type": "integer"}, "time": time(), "actor": {"type": "string"}, "role": {"type": "string"},
            "action": {"type": "string"}, "vehicle": nullable(json!({"type": "integer"})),
            "from": nullable(time()), "to": nullable(time()), "remote": {"type": "string"},
            "rows": {"type": "integer"}, "detail": {"type": "string"}, "prev_hash": {"type": "string"},
            "hash": {"type": "string"}, "scheme": {"type": "string"}})),
        "ApiToken": object(&["id", "name", "created", "revoked"], json!({
            "id": {"type": "integer"}, "name": {"type": "string"}, "created": time(), "revoked": nullable(time())})),
        "CreatedToken": object(&["id", "name", "created", "revoked", "token"], json!({
            "id": {"type": "integer"}, "name": {"type": "string"}, "created": time(), "revoked": {"type": "null"},
            "token": {"type": "string", "description": "The secret, shown this once: send it as `Authorization: Bearer <token>`"}})),
        "VehicleDetail": object(&["id", "plate", "unit", "class", "latest", "driver", "order"], json!({
            "id": {"type": "integer"}, "plate": {"type": "string"}, "unit": {"type": "integer"}, "class": r("VehicleClass"),
            "latest": nullable(r("Position")), "driver": nullable(json!({"type": "string"})),
            "order": nullable(json!({"type": "object", "description": "The order or filing covering the latest fix, in the import format"}))})),
        "UnitSettings": object(&["second_person_approval"], json!({"second_person_approval": {"type": "boolean"}})),
        "Terminal": object(&["phone", "terminal_id", "registered", "vehicle", "clock_offset_secs", "reregistrations"], json!({
            "phone": {"type": "string", "description": "Masked but for administrators"},
            "terminal_id": {"type": "string", "description": "Masked but for administrators"},
            "edition": nullable(json!({"type": "string"})), "registered": {"type": "boolean"},
            "vehicle": nullable(json!({"type": "integer"})), "clock_offset_secs": {"type": "integer"},
            "clock_offset_found_secs": nullable(json!({"type": "integer"})), "clock_offset_found_at": nullable(time()),
            "reregistrations": {"type": "integer"}, "last_reregistered": nullable(time()),
            "pending_registration": nullable(json!({"type": "object"}))})),
        "TripsAndStops": object(&["vehicle", "from", "to", "points", "trips", "stops"], json!({
            "vehicle": r("Vehicle"), "from": time(), "to": time(), "points": {"type": "integer"},
            "trips": array(object(&["from", "to", "distance_m", "max_kmh"], json!({
                "from": time(), "to": time(), "distance_m": {"type": "number"}, "max_kmh": {"type": "number"}}))),
            "stops": array(object(&["from", "to", "lon_deg", "lat_deg", "idling"], json!({
                "from": time(), "to": time(), "lon_deg": {"type": "number"}, "lat_deg": {"type": "number"},
                "idling": {"type": "boolean"}})))})),
        "PageConfig": object(&["tile_url", "gcj02", "attribution", "center", "zoom"], json!({
            "tile_url": {"type": "string"}, "gcj02": {"type": "boolean"}, "attribution": {"type": "string"},
            "center": array(json!({"type": "number"})), "zoom": {"type": "number"}})),
        "FeatureCollection": object(&["type", "features"], json!({
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": array(r("Feature"))})),
        "Feature": object(&["type", "geometry", "properties"], json!({
            "type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "integer"},
            "geometry": {"type": "object"}, "properties": {"type": "object"}, "updated": time()})),
        "UnitTimetable": object(&["unit", "source", "timetable"], json!({
            "unit": {"type": "integer"}, "source": {"type": "string", "description": "stored, an ancestor's, or configuration"},
            "timetable": object(&["periods"], json!({"periods": array(json!({"type": "string"})), "seasons": {"type": "array"}}))})),
        "CalendarYear": object(&["year", "source", "holidays"], json!({
            "year": {"type": "integer"}, "source": {"type": "string"}, "updated": nullable(time()),
            "notice": {"type": "string"},
            "holidays": array(object(&["name", "first", "last", "working"], json!({
                "name": {"type": "string"}, "name_en": {"type": "string"},
                "first": {"type": "string", "format": "date"}, "last": {"type": "string", "format": "date"},
                "working": array(json!({"type": "string", "format": "date"}))})))})),
        "Order": {"type": "object", "required": ["id", "kind", "plate", "start", "end", "state", "version"], "properties": {
            "id": {"type": "string"}, "kind": {"type": "string", "enum": ["order", "filing"]}, "plate": {"type": "string"},
            "driver": nullable(json!({"type": "string"})), "purpose": nullable(json!({"type": "string"})),
            "filed_by": nullable(json!({"type": "string"})), "start": time(), "end": time(),
            "state": {"type": "string", "enum": ["requested", "approved", "cancelled", "completed"]},
            "version": {"type": "integer", "description": "Send it back (body or If-Match) with a change"},
            "updated": time()}, "additionalProperties": true},
        "Replay": object(&["vehicle", "from", "to", "total_points", "columns", "points", "stops", "trips", "cases"], json!({
            "vehicle": r("Vehicle"), "from": time(), "to": time(), "total_points": {"type": "integer"},
            "columns": array(json!({"type": "string"})),
            "points": array(json!({"type": "array", "description": "One point, its values in the order of `columns`"})),
            "stops": {"type": "array"}, "trips": {"type": "array"}, "cases": array(r("Case"))})),
        "Day": object(&["date", "trips", "distance_km", "hours_in_use"], json!({
            "date": {"type": "string", "format": "date"}, "trips": {"type": "integer"},
            "distance_km": {"type": "number"}, "hours_in_use": {"type": "number"}})),
        "MonthlyReport": with_figures(&["vehicle", "month", "from", "to", "rule_titles"], json!({
            "vehicle": r("Vehicle"), "month": {"type": "string"}, "from": time(), "to": time(), "rule_titles": titles})),
        "UnitReport": object(&["unit", "month", "from", "to", "vehicles", "totals", "cars", "rule_titles"], json!({
            "unit": r("Unit"), "month": {"type": "string"}, "from": time(), "to": time(),
            "vehicles": {"type": "integer"}, "totals": with_figures(&[], json!({})),
            "cars": array(with_figures(&["vehicle"], json!({"vehicle": r("Vehicle")}))),
            "rule_titles": titles})),
    })
}

/// The query parameters of `doc` that [`query_parameter`] does not describe (`method path name`): a
/// handler took a new one.
pub fn undescribed_query_parameters(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, ops) in paths {
            for (method, op) in ops.as_object().into_iter().flatten() {
                for p in op["parameters"].as_array().into_iter().flatten() {
                    if p["description"] == "(undescribed)" {
                        out.push(format!("{method} {path} {}", p["name"]));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Example {
        a: String,
        b: Option<u32>,
    }

    #[test]
    fn a_query_types_fields_and_which_it_needs() {
        assert_eq!(field_names::<Example>(), Some(&["a", "b"][..]));
        let q = query_of::<reports::ReportQuery>();
        let names: Vec<(&str, bool)> = q
            .iter()
            .map(|p| (p["name"].as_str().unwrap_or(""), p["required"] == true))
            .collect();
        assert_eq!(names, [("month", true), ("format", false), ("lang", false)]);
    }
}
