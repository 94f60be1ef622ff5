//! What the OpenAPI document says of each route beyond the route table: its query parameters, read
//! from the handler's own query type (the names serde's derive gives it, and which of them it cannot do
//! without), its request body and its answer, as JSON Schema next to the names of the types they
//! describe. The API tests check the answers of the reading routes against these schemas.

use serde::de::{self, DeserializeOwned, Visitor};
use serde_json::{Map, Value, json};

use crate::position::REPLAY_COLUMNS;
use crate::resources::{
    audit_log, carpool, cases, casework, commands, complaints, exports, fuel, intake, orders, reports,
    terminals, tracks, units, vehicles,
};

mod areas;

/// What one route takes and answers.
#[derive(Debug, Default)]
pub struct Described {
    /// Its query parameters (OpenAPI parameter objects).
    pub query: Vec<Value>,
    /// Its JSON request body's schema.
    pub body: Option<Value>,
    /// The media type of a request body that is not JSON (its schema in `body`).
    pub body_media: Option<&'static str>,
    /// Its success status and the schema of what it answers then in JSON (`None`: no body, or not
    /// JSON).
    pub ok: (u16, Option<Value>),
    /// The other media types the success answer comes in, with their schemas (a download's formats,
    /// a binary file).
    pub ok_media: Vec<(&'static str, Value)>,
    /// What the success answer is, when more than "OK" is to be said.
    pub ok_description: Option<String>,
    /// A `PUT` that answers 201 when it created the resource (200 when it replaced one).
    pub may_create: bool,
    /// Failures of this route beyond the common ones, or answered in another shape: status,
    /// description, schema.
    pub failures: Vec<(u16, &'static str, Value)>,
    /// The messages of a WebSocket route, after its `101 Switching Protocols`.
    pub messages: Option<Value>,
}

/// The description of a schema (a property, a parameter) the document lacks: a field a type has that
/// no one described. [`undescribed`] finds them.
pub const UNDESCRIBED: &str = "(undescribed)";

/// The description of a property described for a type that has no such field.
pub const NOT_A_FIELD: &str = "(not a field of the type)";

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

/// The field names of a struct `T` deserialises, or the variant names of an enum, as its derive lists
/// them (`None` for a type that is neither: a map, a flattened struct, a hand-written `Deserialize`).
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
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0 = Some(variants);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
            unit unit_struct newtype_struct seq tuple tuple_struct map identifier ignored_any
        }
    }
    let mut probe = Probe(None);
    let _ = T::deserialize(&mut probe);
    probe.0
}

/// The names of `T`'s fields (or variants), for a type [`field_names`] can read.
fn names<T: DeserializeOwned>() -> Vec<&'static str> {
    field_names::<T>().map(<[_]>::to_vec).unwrap_or_default()
}

/// The schema of a string one of the variant names of the unit-only enum `T`.
fn variants<T: DeserializeOwned>() -> Value {
    json!({ "type": "string", "enum": names::<T>() })
}

/// An object schema of a type's fields: `names` as its derive lists them ([`names`]), each described
/// in `described`. A field no one described, or a description of no field, is marked so that the
/// document's test finds it ([`undescribed`]): the schema follows the type.
fn fields_of(names: &[&str], required: &[&str], described: Value) -> Value {
    let mut described = match described {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut properties = Map::new();
    for name in names {
        let schema = described
            .remove(*name)
            .unwrap_or_else(|| json!({ "description": UNDESCRIBED }));
        properties.insert((*name).to_string(), schema);
    }
    let stray = described.keys().map(String::as_str);
    let stray: Vec<String> = stray
        .chain(required.iter().copied().filter(|r| !names.contains(r)))
        .map(str::to_string)
        .collect();
    for name in stray {
        properties.insert(name, json!({ "description": NOT_A_FIELD }));
    }
    json!({ "type": "object", "required": required, "properties": properties })
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
        "unit" => (
            json!({"type": "integer"}),
            "Only this unit and the units below it",
            "1",
        ),
        "channel" => (
            variants::<tianshu_model::complaint::Channel>(),
            "Only those that came in this way",
            "hotline",
        ),
        "unresolved" => (
            json!({"type": "boolean"}),
            "Only those naming a car not found (true) or only those whose cars were all found (false)",
            "true",
        ),
        "overdue" => (
            json!({"type": "boolean"}),
            "Only those past their deadline without an answer",
            "true",
        ),
        "q" => (
            json!({"type": "string"}),
            "Words in the text, place or plates",
            "x",
        ),
        "offset" => (
            json!({"type": "integer", "minimum": 0}),
            "Skip this many first",
            "0",
        ),
        "check" => (
            json!({"type": "string", "enum": tianshu_rules::fuel::Check::ALL.map(|c| c.as_str())}),
            "Only the findings of this fuel check",
            "over_tank",
        ),
        "name" => (
            json!({"type": "string"}),
            "The uploaded file's name (a name ending .xlsx is read as a workbook)",
            "statement.csv",
        ),
        "layout" => (
            json!({"type": "string", "enum": tianshu_model::fuel::STATEMENT_FORMATS.map(|f| f.id)}),
            "The issuer's column layout of a statement (detected from its header by default)",
            "sinopec",
        ),
        "encoding" => (
            json!({"type": "string", "enum": ["utf8", "gbk"]}),
            "The text encoding of a CSV statement (detected by default: UTF-8, else GBK)",
            "utf8",
        ),
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
            let (schema, description, _) =
                query_parameter(name).unwrap_or((json!({"type": "string"}), UNDESCRIBED, ""));
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
    let binary = || json!({"type": "string", "format": "binary"});
    let text = || json!({"type": "string"});
    let mut d = Described::default();
    match (method, path) {
        ("POST", "/api/session") => {
            d.body = Some(fields_of(
                &names::<crate::resources::sessions::LoginRequest>(),
                &["username", "password"],
                json!({"username": {"type": "string"}, "password": {"type": "string"}}),
            ));
            d.ok = ok(r("Me"));
        }
        ("DELETE", "/api/session") => {
            d.ok = none;
            d.ok_description = Some("No content: the session ended and its cookie is cleared".into());
        }
        ("GET", "/api/me") => d.ok = ok(r("Me")),
        ("GET", "/api/basemap.pmtiles") => {
            d.ok = (200, None);
            d.ok_media = vec![("application/vnd.pmtiles", binary())];
            d.ok_description = Some(
                "The PMTiles archive, whole or (with Range) a 206 part of it; 404 when none is configured"
                    .into(),
            );
        }
        ("GET", "/api/basemap/glyphs/{fontstack}/{range}") => {
            d.ok = (200, None);
            d.ok_media = vec![("application/x-protobuf", binary())];
            d.ok_description = Some(
                "The glyph range (Mapbox glyph PBF); 404 for a range the directory lacks: the map draws those characters with the browser's fonts".into(),
            );
        }
        ("GET", "/report") => {
            d.query = query_of::<intake::PageQuery>();
            d.ok = (200, None);
            d.ok_media = vec![("text/html", json!({"type": "string"}))];
            d.ok_description = Some(
                "The public complaint form (no script), when `[web.casework] report_form` is on; 404 otherwise".into(),
            );
        }
        ("POST", "/api/report") => {
            d.body = Some(fields_of(
                &names::<intake::PublicReport>(),
                &["text"],
                json!({"reporter_name": {"type": "string", "description": "Absent: anonymous"},
                       "reporter_phone": {"type": "string", "description": "Sealed at rest, never shown to the unit"},
                       "text": {"type": "string", "minLength": 1}, "place": {"type": "string"},
                       "plates": array(json!({"type": "string", "description": "A plate or marking number, whole or in part"})),
                       "window_from": time(), "window_to": time()}),
            ));
            d.ok = created(object(
                &["id", "received"],
                json!({"id": {"type": "integer"}, "received": time()}),
            ));
            d.ok_media = vec![(
                "text/html",
                json!({"type": "string", "description": "The answer page, when the form was posted (application/x-www-form-urlencoded)"}),
            )];
            d.ok_description = Some(
                "Filed: the complaint's number and when it was received (429 with Retry-After past the address's quota; 404 when the intake is off)".into(),
            );
        }
        ("GET", "/api/units") => d.ok = ok(array(r("Unit"))),
        ("POST", "/api/units") => {
            d.body = Some(fields_of(
                &names::<units::NewUnit>(),
                &["name"],
                json!({"name": {"type": "string"}, "parent": nullable(json!({"type": "integer"}))}),
            ));
            d.ok = created(r("Unit"));
        }
        ("PATCH", "/api/units/{id}") => {
            d.body = Some(fields_of(
                &names::<units::UnitPatch>(),
                &[],
                json!({"name": {"type": "string"},
                       "parent": nullable(json!({"type": "integer", "description": "The new parent; null: a top unit"})),
                       "reregistration_approval": {"type": "boolean", "description": "Re-registrations of its terminals without proof wait for an administrator"}}),
            ));
            d.ok = ok(r("Unit"));
        }
        ("GET", "/api/vehicles") => d.ok = ok(array(r("Vehicle"))),
        ("POST", "/api/vehicles") => {
            d.body = Some(fields_of(
                &names::<vehicles::NewVehicle>(),
                &["plate", "unit", "class"],
                json!({"plate": {"type": "string"}, "unit": {"type": "integer"}, "class": r("VehicleClass"),
                       "marking": {"type": "string", "description": "The marking number (标识号); empty clears it"}}),
            ));
            d.ok = created(r("Vehicle"));
        }
        ("PATCH", "/api/vehicles/{id}") => {
            d.body = Some(fields_of(
                &names::<vehicles::VehiclePatch>(),
                &[],
                json!({"plate": {"type": "string"}, "unit": {"type": "integer"}, "class": r("VehicleClass"),
                       "marking": {"type": "string", "description": "The marking number (标识号); empty clears it"}}),
            ));
            d.ok = ok(r("Vehicle"));
        }
        ("GET", "/api/vehicles/{id}") => d.ok = ok(r("VehicleDetail")),
        ("GET" | "PUT", "/api/units/{id}/settings") => {
            if method == "PUT" {
                d.body = Some(fields_of(
                    &names::<tianshu_rules::orders::UnitSettings>(),
                    &["second_person_approval"],
                    json!({"second_person_approval": {"type": "boolean"}}),
                ));
            }
            d.ok = ok(r("UnitSettings"));
        }
        ("GET", "/api/terminals") => d.ok = ok(array(r("Terminal"))),
        ("GET", "/api/config") => d.ok = ok(r("PageConfig")),
        ("POST", "/api/geofences") => {
            d.body = Some(r("FenceFeature"));
            d.ok = created(r("Feature"));
        }
        ("PUT", "/api/geofences/{id}") => {
            d.body = Some(r("FenceFeature"));
            d.ok = ok(r("Feature"));
        }
        ("POST", "/api/terminals") => {
            d.body = Some(fields_of(
                &names::<terminals::NewTerminalReq>(),
                &["phone", "terminal_id"],
                json!({"phone": {"type": "string", "pattern": "^[0-9]{1,20}$", "description": "The phone number of the JT/T 808 header"},
                       "terminal_id": {"type": "string", "description": "As the terminal sends it when it registers"},
                       "vehicle": {"type": "integer", "description": "The vehicle's id (or give plate)"},
                       "plate": {"type": "string", "description": "The vehicle's plate (or give vehicle)"},
                       "edition": variants::<tianshu_model::Edition>()}),
            ));
            d.ok = created(r("Terminal"));
        }
        ("PATCH", "/api/terminals/{phone}") => {
            d.body = Some(fields_of(
                &names::<terminals::TerminalPatch>(),
                &[],
                json!({"terminal_id": {"type": "string"},
                       "vehicle": nullable(json!({"type": "integer", "description": "Rebind to this vehicle; null unbinds"})),
                       "plate": {"type": "string", "description": "Rebind to the vehicle with this plate"},
                       "reset_auth_code": {"type": "boolean", "description": "Clear the auth code: the terminal must register again"},
                       "clock_offset_secs": {"type": "integer", "minimum": -50400, "maximum": 50400,
                           "description": "Seconds added to its fix times, whole or half hours; 0 ends a correction"}}),
            ));
            d.ok = ok(r("Terminal"));
        }
        ("POST", "/api/terminals/{phone}/reregistration") => {
            d.body = Some(fields_of(
                &names::<terminals::ReregistrationDecision>(),
                &["decision"],
                json!({"decision": variants::<terminals::Decision>()}),
            ));
            d.ok = ok(r("Terminal"));
        }
        ("POST", "/api/vehicles/{id}/commands") => {
            d.body = Some(r("TerminalCommand"));
            d.ok = ok(r("CommandOutcome"));
            d.failures = vec![
                (
                    409,
                    "The vehicle's terminal is not connected",
                    r("CommandFailure"),
                ),
                (503, "No gateway runs in this process", r("Error")),
                (504, "The terminal did not answer in time", r("CommandFailure")),
            ];
        }
        ("GET", "/api/drivers") => d.ok = ok(array(r("Driver"))),
        ("POST" | "PUT", "/api/drivers" | "/api/drivers/{id}") => {
            d.body = Some(r("DriverFields"));
            d.ok = (if method == "POST" { 201 } else { 200 }, Some(r("Driver")));
        }
        ("GET", "/api/channels") => d.ok = ok(r("ChannelList")),
        ("POST" | "PUT", "/api/channels" | "/api/channels/{id}") => {
            d.body = Some(r("ChannelFields"));
            d.ok = (if method == "POST" { 201 } else { 200 }, Some(r("Channel")));
        }
        ("PATCH", "/api/orders/{id}") => {
            d.body = Some(fields_of(
                &names::<orders::OrderPatch>(),
                &["state"],
                json!({"state": variants::<tianshu_rules::orders::OrderState>(),
                       "version": {"type": "integer", "description": "The version read; else If-Match"}}),
            ));
            d.ok = ok(r("Order"));
        }
        ("PUT", "/api/calendars/{year}") => {
            d.body = Some(
                json!({"type": "string", "description": "The year's calendar file, TOML, in the `calendar import` format: year, notice, [[holiday]] tables with name, name_en, first, last, working (dates YYYY-MM-DD)"}),
            );
            d.body_media = Some("application/toml");
            d.ok = ok(r("CalendarYear"));
            d.may_create = true;
        }
        ("PUT", "/api/units/{id}/timetable") => {
            d.body = Some(r("TimetableBody"));
            d.ok = ok(r("UnitTimetable"));
            d.may_create = true;
        }
        ("GET", "/api/geofences") => {
            d.ok = (200, None);
            d.ok_media = vec![("application/geo+json", r("FeatureCollection"))];
        }
        ("GET", "/api/units/{id}/timetable") => d.ok = ok(r("UnitTimetable")),
        ("GET", "/api/calendars") => d.ok = ok(array(r("CalendarYear"))),
        ("POST", "/api/orders") => {
            d.body = Some(r("OrderImport"));
            d.ok = created(r("Order"));
        }
        ("GET", "/api/vehicles/{id}/report" | "/api/units/{id}/report") => {
            d.query = query_of::<reports::ReportQuery>();
            let name = if path.starts_with("/api/units") {
                "UnitReport"
            } else {
                "MonthlyReport"
            };
            d.ok = ok(r(name));
            d.ok_media = vec![
                ("text/csv", text()),
                (
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    binary(),
                ),
            ];
        }
        ("GET", "/api/vehicles/{id}/trips") => {
            d.query = query_of::<tracks::RangeQuery>();
            d.ok = ok(r("TripsAndStops"));
        }
        ("GET", "/api/vehicles/{id}/replay") => {
            d.query = query_of::<tracks::ReplayQuery>();
            d.ok = ok(r("Replay"));
        }
        ("GET", "/api/vehicles/{id}/track") => {
            d.ok = (200, None);
            d.query = query_of::<exports::TrackQuery>();
            d.ok_media = exports::Format::ALL
                .iter()
                .map(|f| {
                    let essence = f.content_type().split(';').next().unwrap_or_default();
                    let schema = match f {
                        exports::Format::Geojson => json!({"type": "object", "description": "A FeatureCollection of one LineString, each point's time and speed in its properties"}),
                        _ => text(),
                    };
                    (essence, schema)
                })
                .collect();
        }
        ("GET", "/api/positions") => {
            d.query = query_of::<tracks::PositionsQuery>();
            d.ok = ok(array(r("Position")));
        }
        ("GET", "/api/positions/latest") => d.ok = ok(array(r("Position"))),
        ("GET", "/api/live") => {
            d.ok = (101, None);
            d.ok_description = Some(format!(
                "Switching Protocols: a WebSocket of JSON text frames, `x-messages` their shapes: first a snapshot of the vehicles in scope and their latest positions, then the positions committed and the alerts raised; a fresh snapshot when the scope changed or the client fell behind; closed with code {} when the session ends",
                crate::live::CLOSE_SESSION_ENDED
            ));
            d.messages = Some(r("LiveMessage"));
        }
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
        ("GET", "/api/cases/{id}/finding") => d.ok = ok(r("Finding")),
        ("PUT", "/api/cases/{id}/finding") => {
            d.body = Some(r("FindingBody"));
            d.ok = ok(r("Finding"));
        }
        ("POST", "/api/complaints") => {
            d.body = Some(r("NewComplaint"));
            d.ok = created(r("Complaint"));
        }
        ("GET", "/api/complaints") => {
            d.query = query_of::<complaints::ComplaintsQuery>();
            d.ok = ok(r("ComplaintPage"));
        }
        ("GET", "/api/complaints/{id}") => d.ok = ok(r("Complaint")),
        ("GET", "/api/complaints/{id}/evidence") => d.ok = ok(r("Evidence")),
        ("GET", "/api/complaints/{id}/reporter") => d.ok = ok(r("Reporter")),
        (
            "POST",
            "/api/complaints/{id}/forward"
            | "/api/complaints/{id}/answer"
            | "/api/complaints/{id}/review"
            | "/api/complaints/{id}/reply",
        ) => {
            d.body = Some(r("ComplaintStep"));
            d.ok = ok(r("Complaint"));
        }
        ("POST", "/api/complaints/{id}/cases") => {
            d.body = Some(fields_of(
                &names::<complaints::CaseLinkBody>(),
                &[],
                json!({"case": {"type": "integer", "description": "An existing case to link"},
                       "open": {"type": "integer", "description": "A car the complaint names: open a case of kind `complaint` for it"}}),
            ));
            d.ok = ok(r("Complaint"));
        }
        ("GET", "/api/casework/summary") => {
            d.query = query_of::<casework::SummaryQuery>();
            for p in &mut d.query {
                if p["name"] == "from" || p["name"] == "to" {
                    p["schema"] = json!({"type": "string", "description": "A local date YYYY-MM-DD (its midnight, China time) or an RFC 3339 instant"});
                }
                if p["name"] == "format" {
                    p["schema"] = json!({"type": "string", "enum": ["json", "csv"]});
                }
            }
            d.ok = ok(r("CaseworkSummary"));
            d.ok_media = vec![("text/csv", text())];
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
        ("GET", "/api/openapi.json") => {
            d.ok = ok(object(
                &["openapi", "info", "paths", "components"],
                json!({"openapi": {"type": "string", "description": "3.1.0"}, "info": {"type": "object"},
                       "paths": {"type": "object"}, "components": {"type": "object"}}),
            ));
        }
        ("GET", "/api/fuel/cards") => d.ok = ok(array(r("FuelCard"))),
        ("PATCH", "/api/fuel/cards/{number}") => {
            d.body = Some(json!({"type": "object", "properties": {
                "vehicle": nullable(json!({"type": "integer"})), "state": r("FuelCardState"),
                "state_date": nullable(json!({"type": "string", "format": "date"})), "state_reason": {"type": "string"},
                "limit_fill_fen": nullable(json!({"type": "integer", "minimum": 1})),
                "limit_month_fen": nullable(json!({"type": "integer", "minimum": 1}))},
                "additionalProperties": false}));
            d.ok = ok(r("FuelCard"));
        }
        ("GET", "/api/fuel/profiles") => d.ok = ok(array(r("FuelProfile"))),
        ("PUT", "/api/fuel/profiles/{vehicle}") => {
            d.body = Some(object(
                &["tank_litres", "rated_l_per_100km", "fuel"],
                json!({"tank_litres": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
                       "rated_l_per_100km": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                       "fuel": {"type": "string", "enum": ["petrol", "diesel"]}}),
            ));
            d.ok = ok(r("FuelProfile"));
        }
        ("GET", "/api/fuel/stations") => d.ok = ok(array(r("FuelStation"))),
        ("POST", "/api/fuel/statements") => {
            d.query = query_of::<fuel::UploadQuery>();
            d.body = Some(
                json!({"type": "string", "format": "binary", "description": "The statement file: CSV (UTF-8 or GBK) or XLSX"}),
            );
            d.body_media = Some("application/octet-stream");
            d.ok = ok(r("StatementReport"));
        }
        ("GET", "/api/fuel/findings") => {
            d.query = query_of::<fuel::FindingsQuery>();
            d.ok = ok(array(r("FuelFinding")));
        }
        ("GET", "/api/carpool/requests") => d.ok = ok(array(r("CarRequest"))),
        ("POST", "/api/carpool/requests") => {
            d.body = Some(r("RequestFields"));
            d.ok = created(r("CarRequest"));
        }
        ("GET", "/api/carpool/requests/{id}") => d.ok = ok(r("CarRequestDetail")),
        ("GET", "/api/carpool/requests/{id}/offers") => d.ok = ok(r("CarRequestOffers")),
        ("POST", "/api/carpool/requests/{id}/assign") => {
            d.body = Some(fields_of(
                &names::<carpool::AssignBody>(),
                &["vehicle", "driver"],
                json!({"vehicle": {"type": "integer", "description": "A car offered for the window"},
                       "driver": {"type": "integer", "description": "A driver offered for the window"}}),
            ));
            d.ok = ok(object(
                &["request", "order", "notices"],
                json!({
                "request": r("CarRequest"), "order": {"type": "string", "description": "The approved dispatch order written"},
                "notices": array(r("CarNotice"))}),
            ));
        }
        ("POST", "/api/carpool/requests/{id}/settle") => {
            d.body = Some(
                json!({"type": "object", "maxProperties": 0, "description": "Nothing: the trip is settled from its track"}),
            );
            d.ok = ok(object(
                &["request", "case"],
                json!({
                "request": r("CarRequest"),
                "case": nullable(json!({"type": "integer", "description": "The case the settlement's differences opened"}))}),
            ));
        }
        ("PUT", "/api/carpool/requests/{id}/settlement") => {
            d.body = Some(fields_of(
                &names::<tianshu_model::carpool::SettlementCorrection>(),
                &[],
                json!({"km": nullable(json!({"type": "number", "minimum": 0, "description": "Corrected km; a note is then required"})),
                       "note": nullable(json!({"type": "string"}))}),
            ));
            d.ok = ok(r("CarRequest"));
        }
        ("PUT", "/api/carpool/requests/{id}/rating") => {
            d.body = Some(r("Rating"));
            d.ok = ok(r("CarRequest"));
        }
        ("POST", "/api/carpool/maintenance") => {
            d.body = Some(fields_of(
                &names::<carpool::MaintenanceBody>(),
                &["vehicle", "start", "end"],
                json!({"vehicle": {"type": "integer"}, "start": time(), "end": time(), "note": {"type": "string"}}),
            ));
            d.ok = created(json!({"type": "object", "description": "The maintenance window recorded"}));
        }
        ("GET" | "PUT", "/api/vehicles/{id}/fleet") => {
            if method == "PUT" {
                d.body = Some(r("FleetFields"));
            }
            d.ok = ok(r("FleetFields"));
        }
        ("GET", "/api/report/yearly") => {
            d.ok = ok(
                json!({"type": "object", "description": "The year's figures, one table per heading: cars by unit and class, kept and disposed, terminals installed, marking, the pool's trips and km, violations by rule"}),
            );
            d.ok_media = vec![
                ("text/csv", json!({"type": "string"})),
                (
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    binary(),
                ),
            ];
        }
        ("DELETE", _) => d.ok = none,
        _ => d.ok = (200, None),
    }
    d
}

/// The schemas the routes refer to.
pub fn components() -> Value {
    merged([
        areas::base_components(),
        areas::fuel_components(),
        areas::carpool_components(),
    ])
}

/// Merges the objects `parts` into one.
fn merged(parts: impl IntoIterator<Item = Value>) -> Value {
    let mut all = Map::new();
    for part in parts {
        if let Value::Object(m) = part {
            all.extend(m);
        }
    }
    Value::Object(all)
}

/// The schema of one variant of an internally tagged enum: `tag` is `value`, with `properties`.
fn tagged(tag: &str, value: &str, required: &[&str], properties: Value) -> Value {
    let mut props = Map::new();
    props.insert(tag.to_string(), json!({"type": "string", "enum": [value]}));
    if let Value::Object(more) = properties {
        props.extend(more);
    }
    let mut all = vec![tag];
    all.extend_from_slice(required);
    object(&all, Value::Object(props))
}

/// Where `doc` has something its types have that no one described, or describes something they do
/// not have (the JSON pointers of [`UNDESCRIBED`] and [`NOT_A_FIELD`] descriptions): a handler took a
/// new query parameter, a type grew or lost a field.
pub fn undescribed(doc: &Value) -> Vec<String> {
    fn walk(v: &Value, at: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if m.get("description")
                    .is_some_and(|d| d == UNDESCRIBED || d == NOT_A_FIELD)
                {
                    let said = m["description"].as_str().unwrap_or_default();
                    match m.get("name").and_then(Value::as_str) {
                        Some(name) => out.push(format!("{at} ({name}): {said}")),
                        None => out.push(format!("{at}: {said}")),
                    }
                }
                if m.get("enum")
                    .is_some_and(|e| e.as_array().is_some_and(Vec::is_empty))
                {
                    out.push(format!(
                        "{at}: no values (a type whose variants could not be read)"
                    ));
                }
                for (k, v) in m {
                    walk(
                        v,
                        &format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                        out,
                    );
                }
            }
            Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    walk(v, &format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, "", &mut out);
    out.sort();
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

    #[test]
    fn an_enums_variants_as_it_names_them() {
        assert_eq!(
            variants::<tianshu_rules::Severity>(),
            json!({"type": "string", "enum": ["low", "medium", "high"]})
        );
    }

    #[test]
    fn a_field_no_one_described_or_a_description_of_no_field_is_found() {
        let s = fields_of(
            &["a", "b"],
            &["a", "c"],
            json!({"a": {"type": "string"}, "d": {}}),
        );
        let found = undescribed(&json!({"x": s}));
        assert_eq!(
            found,
            [
                "/x/properties/b: (undescribed)",
                "/x/properties/c: (not a field of the type)",
                "/x/properties/d: (not a field of the type)"
            ]
        );
    }

    #[test]
    fn the_document_describes_every_field_of_its_types() {
        let doc = crate::openapi::document(crate::ROUTES);
        assert_eq!(undescribed(&doc), Vec::<String>::new());
    }
}
