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
    let mut all = base_components();
    for part in [fuel_components(), carpool_components()] {
        if let (Some(a), Value::Object(f)) = (all.as_object_mut(), part) {
            a.extend(f);
        }
    }
    all
}

/// The schemas of the car pool's routes.
fn carpool_components() -> Value {
    use tianshu_model::carpool::{
        DisposalHow, LicenceClass, MarkingStatus, Ownership, RequestState, ServiceKind, TerminalStatus,
    };
    let place = object(
        &["name", "lon", "lat"],
        json!({
        "name": {"type": "string"}, "lon": {"type": "number", "description": "WGS-84 degrees"},
        "lat": {"type": "number", "description": "WGS-84 degrees"}}),
    );
    let request_fields = fields_of(
        &names::<tianshu_model::carpool::RequestFields>(),
        &[
            "start",
            "end",
            "from",
            "destinations",
            "passengers",
            "purpose",
            "kind",
        ],
        json!({"unit": nullable(json!({"type": "integer", "description": "The unit asking (a requester's own by default)"})),
               "start": time(), "end": time(), "from": place.clone(), "destinations": array(place.clone()),
               "passengers": {"type": "integer", "minimum": 1}, "purpose": {"type": "string"},
               "kind": variants::<ServiceKind>(),
               "class": nullable(variants::<tianshu_model::VehicleClass>())}),
    );
    let request = json!({
        "id": {"type": "integer"}, "unit": {"type": "integer"}, "requester": {"type": "string"},
        "state": variants::<RequestState>(), "created": time(), "fields": r("RequestFields"),
        "assignment": nullable(object(&["vehicle", "plate", "driver", "order", "by", "at"], json!({
            "vehicle": {"type": "integer"}, "plate": {"type": "string"}, "driver": {"type": "integer"},
            "order": {"type": "string"}, "by": {"type": "string"}, "at": time()}))),
        "settlement": nullable(object(&["km", "route_km", "destinations", "outside_corridor_s", "idle_s", "differences"], json!({
            "departure": nullable(time()), "returned": nullable(time()),
            "km": {"type": "number", "description": "Driven, from the track"}, "route_km": {"type": "number"},
            "destinations": array(object(&["name"], json!({"name": {"type": "string"}, "at": nullable(time())}))),
            "outside_corridor_s": {"type": "integer"}, "idle_s": {"type": "integer"},
            "differences": array(json!({"type": "string"})),
            "confirmed_by": nullable(json!({"type": "string"})), "note": nullable(json!({"type": "string"}))})))});
    let required = ["id", "unit", "requester", "state", "created", "fields"];
    let mut detail = request.clone();
    detail["notices"] = array(r("CarNotice"));
    let mut offers = request.clone();
    offers["cars"] = array(
        json!({"type": "object", "description": "A car free for the whole window: vehicle, plate, unit, class, licence_needed, position, distance_m to the pickup"}),
    );
    offers["drivers"] = array(json!({"type": "object", "description": "A driver free for the whole window"}));
    offers["suggested"] =
        nullable(json!({"type": "object", "description": "The nearest suitable car and a driver for it"}));
    json!({
        "RequestFields": request_fields,
        "CarRequest": object(&required, request),
        "CarRequestDetail": object(&required, detail),
        "CarRequestOffers": json!({"type": "object", "description": "The request and what is free for its window",
            "properties": {"request": r("CarRequest"), "cars": offers["cars"], "drivers": offers["drivers"], "suggested": offers["suggested"]}}),
        "CarNotice": object(&["to", "text"], json!({"to": {"type": "string"}, "text": {"type": "string"}})),
        "FleetFields": fields_of(
            &names::<tianshu_model::carpool::FleetFields>(),
            &[],
            json!({"licence_needed": variants::<LicenceClass>(), "ownership": variants::<Ownership>(),
                   "disposed_on": nullable(json!({"type": "string", "format": "date"})),
                   "disposal": nullable(variants::<DisposalHow>()),
                   "marking_status": variants::<MarkingStatus>(),
                   "marking_exempt_reason": nullable(json!({"type": "string"})),
                   "terminal_status": variants::<TerminalStatus>(),
                   "terminal_exempt_reason": nullable(json!({"type": "string"}))}),
        ),
    })
}

/// The schemas of the fuel-card routes.
fn fuel_components() -> Value {
    json!({
        "FuelCardState": {"type": "string", "enum": ["active", "suspended", "cancelled"]},
        "FuelCard": object(&["number", "issuer", "unit", "vehicle", "state", "state_date", "state_reason", "limit_fill_fen", "limit_month_fen"], json!({
            "number": {"type": "string"}, "issuer": {"type": "string", "enum": tianshu_model::fuel::Issuer::ALL.iter().map(|i| i.as_str()).collect::<Vec<_>>()},
            "unit": {"type": "integer"}, "vehicle": nullable(json!({"type": "integer", "description": "null: a pool card"})),
            "state": r("FuelCardState"), "state_date": nullable(json!({"type": "string", "format": "date"})),
            "state_reason": {"type": "string"},
            "limit_fill_fen": nullable(json!({"type": "integer", "description": "Fen (0.01 yuan)"})),
            "limit_month_fen": nullable(json!({"type": "integer", "description": "Fen (0.01 yuan)"}))})),
        "FuelProfile": object(&["tank_litres", "rated_l_per_100km", "fuel"], json!({
            "vehicle": {"type": "integer"}, "tank_litres": {"type": "number"}, "rated_l_per_100km": {"type": "number"},
            "fuel": {"type": "string", "enum": ["petrol", "diesel"]}})),
        "FuelStation": object(&["code", "name", "brand", "position"], json!({
            "code": {"type": "string"}, "name": {"type": "string"}, "brand": {"type": "string"},
            "position": object(&["lon", "lat"], json!({"lon": {"type": "number", "description": "WGS-84 degrees"}, "lat": {"type": "number", "description": "WGS-84 degrees"}}))})),
        "RowError": object(&["line", "column", "reason"], json!({
            "line": {"type": "integer"}, "column": nullable(json!({"type": "string", "description": "The header as written, with its 1-based position"})),
            "reason": {"type": "string"}})),
        "StatementReport": object(&["format", "encoding", "stored", "duplicates", "errors", "findings", "cases_opened"], json!({
            "format": {"type": "string"}, "encoding": nullable(json!({"type": "string", "enum": ["utf8", "gbk"]})),
            "stored": {"type": "integer"}, "duplicates": {"type": "integer"}, "errors": array(r("RowError")),
            "findings": {"type": "integer"}, "cases_opened": {"type": "integer"}})),
        "FuelFinding": object(&["transaction_id", "check", "severity", "at_stake_fen", "reason", "reason_zh", "evidence", "unit", "time", "case_id"], json!({
            "transaction_id": {"type": "integer"},
            "check": {"type": "string", "enum": tianshu_rules::fuel::Check::ALL.map(|c| c.as_str())},
            "severity": {"type": "string", "enum": ["low", "medium", "high"]}, "at_stake_fen": {"type": "integer"},
            "reason": {"type": "string"}, "reason_zh": {"type": "string"},
            "evidence": {"type": "object", "description": "Distances, the car's positions around the fill (WGS-84), figures"},
            "unit": {"type": "integer"}, "time": time(), "case_id": nullable(json!({"type": "integer"}))})),
    })
}

fn base_components() -> Value {
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
    let base = json!({
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
            "id": {"type": "integer"}, "plate": {"type": "string"}, "unit": {"type": "integer"}, "class": r("VehicleClass"),
            "marking": {"type": "string", "description": "The marking number (标识号), absent when the car has none"}})),
        "Position": object(&["vehicle", "phone", "fix_time", "receive_time", "latitude", "longitude", "altitude_m", "speed_kmh", "course_deg", "acc_on", "alarm", "alarms", "status", "status_flags", "source"], json!({
            "vehicle": {"type": "integer"},
            "phone": {"type": "string", "description": "The terminal's phone, masked but for administrators"},
            "fix_time": time(), "receive_time": time(),
            "latitude": {"type": "number", "description": "WGS-84 degrees"},
            "longitude": {"type": "number", "description": "WGS-84 degrees"},
            "speed_kmh": {"type": "number"}, "course_deg": {"type": "integer"}, "altitude_m": {"type": "integer"},
            "acc_on": {"type": "boolean", "description": "The ignition is on"},
            "alarm": {"type": "integer", "description": "The alarm word as the terminal sent it"},
            "alarms": array(json!({"type": "string", "description": "The name of an alarm bit set, e.g. power_lost"})),
            "status": {"type": "integer", "description": "The status word as the terminal sent it"},
            "status_flags": array(json!({"type": "string", "description": "The name of a status bit set, e.g. acc_on, fixed, beidou"})),
            "mileage_km": {"type": "number", "description": "The odometer, when the terminal reports it"},
            "fuel_l": {"type": "number", "description": "Fuel, litres, when the terminal reports it"},
            "satellites": {"type": "integer", "description": "Satellites in view, when the terminal reports it"},
            "rssi": {"type": "integer", "description": "Mobile signal strength, when the terminal reports it"},
            "source": variants::<tianshu_model::PositionSource>(),
            "recv_time": {"type": "string", "deprecated": true, "description": "Deprecated: receive_time"},
            "lat_deg": {"type": "number", "deprecated": true, "description": "Deprecated: latitude"},
            "lon_deg": {"type": "number", "deprecated": true, "description": "Deprecated: longitude"}})),
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
        "UnitSettings": object(&["unit", "second_person_approval"], json!({"unit": {"type": "integer"},
            "second_person_approval": {"type": "boolean", "description": "Approving a backdated or one's own order of its cars needs a second person"}})),
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
            "trips": array(r("Trip")),
            "stops": array(r("Stop"))})),
        "Stop": object(&["from", "to", "latitude", "longitude", "idling"], json!({
            "from": time(), "to": time(), "latitude": {"type": "number"}, "longitude": {"type": "number"},
            "idling": {"type": "boolean", "description": "The ignition stayed on throughout"},
            "lon_deg": {"type": "number", "deprecated": true}, "lat_deg": {"type": "number", "deprecated": true}})),
        "Trip": object(&["from", "to", "distance_m", "max_kmh"], json!({
            "from": time(), "to": time(), "distance_m": {"type": "number"}, "max_kmh": {"type": "number"}})),
        "PageConfig": object(&["pmtiles_url", "glyphs_url", "tile_url", "gcj02", "attribution", "center", "zoom", "casework"], json!({
            "pmtiles_url": nullable(json!({"type": "string", "description": "The vector tiles' PMTiles archive, when one is configured"})),
            "glyphs_url": nullable(json!({"type": "string", "description": "The glyph ranges' URL template, when a glyphs directory is configured"})),
            "tile_url": {"type": "string", "description": "The raster tile URL template, or empty"}, "gcj02": {"type": "boolean"}, "attribution": {"type": "string"},
            "center": array(json!({"type": "number"})), "zoom": {"type": "number"},
            "casework": object(&["answer_days", "violation_types", "unmask_roles", "measures"], json!({
                "answer_days": {"type": "integer"}, "violation_types": array(json!({"type": "string"})),
                "unmask_roles": array(json!({"type": "string"})), "measures": array(json!({"type": "string"}))}))})),
        "FeatureCollection": object(&["type", "features"], json!({
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": array(r("Feature"))})),
        "Feature": object(&["type", "geometry", "properties"], json!({
            "type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "integer"},
            "geometry": {"type": "object"}, "properties": {"type": "object"}, "updated": time()})),
        "UnitTimetable": object(&["unit", "source", "timetable"], json!({
            "unit": {"type": "integer"},
            "source": {"type": "string", "enum": ["own", "inherited", "configuration"],
                "description": "Stored for this unit, stored for the nearest ancestor that has one, or the server's configuration"},
            "from_unit": {"type": "integer", "description": "The unit whose timetable applies (absent for the city default)"},
            "from_path": {"type": "string"},
            "timetable": r("TimetableBody"), "updated": time()})),
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
            "columns": array(json!({"type": "string", "enum": REPLAY_COLUMNS,
                "description": "The names of the points' values, units in the names"})),
            "points": array(json!({"type": "array", "description": "One point, its values in the order of `columns`"})),
            "stops": array(r("Stop")), "trips": array(r("Trip")), "cases": array(r("Case"))})),
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
    });
    merged([base, registry_components(), casework_components()])
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

/// The schemas of the drivers, alert channels, commands, orders, geofences, timetables and the live
/// feed.
fn registry_components() -> Value {
    use tianshu_model::driver::{Driver, DriverFields};
    use tianshu_rules::channels::{ChannelFields, ChannelKind, ConfiguredChannel, WebhookFormat};
    let driver = json!({
        "name": {"type": "string", "minLength": 1, "maxLength": 50},
        "certificate": {"type": "string", "pattern": "^[0-9A-Za-z-]{1,40}$",
            "description": "The qualification certificate's number, the number a card sign-in reports; unique"},
        "phone": nullable(json!({"type": "string", "description": "5 to 20 digits, optionally after a +"})),
        "unit": {"type": "integer", "description": "The unit whose cars they drive"},
        "licence": nullable(variants::<tianshu_model::carpool::LicenceClass>()),
        "active": {"type": "boolean", "description": "Offered for the car pool's trips (default true)"}});
    let with_id = |fields: &[&'static str]| {
        let mut all = vec!["id"];
        all.extend_from_slice(fields);
        all
    };
    let driver_fields = names::<DriverFields>();
    let mut driver_answer = driver.clone();
    driver_answer["id"] = json!({"type": "integer"});
    debug_assert!(field_names::<Driver>().is_none(), "Driver flattens its fields");
    let channel = json!({
        "name": {"type": "string", "minLength": 1, "maxLength": 60, "description": "Unique among channels, the configured webhooks' names included"},
        "kind": variants::<ChannelKind>(),
        "url": nullable(json!({"type": "string", "description": "webhook: an http:// or https:// URL (a robot's carries its token)"})),
        "format": variants::<WebhookFormat>(),
        "address": nullable(json!({"type": "string", "description": "email: the address"})),
        "units": {"type": "array", "items": {"type": "integer"}, "description": "The units whose cases it is sent (with their sub-units); empty = every case"},
        "min_severity": variants::<tianshu_rules::Severity>(),
        "enabled": {"type": "boolean"}});
    let channel_fields = names::<ChannelFields>();
    let mut channel_answer = channel.clone();
    channel_answer["id"] = json!({"type": "integer"});
    let position = r("Position");
    let parameter = fields_of(
        &names::<commands::ParameterEntry>(),
        &["id"],
        json!({"id": {"type": "integer", "description": "The parameter id (0x0001 heartbeat interval, 0x0013 main server, 0x0055 maximum speed...)"},
               "value": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}],
                   "description": "A number for a BYTE, WORD or DWORD parameter, a string for a STRING one"},
               "hex": {"type": "string", "description": "The value's bytes in hex: always in an answer; in a request, instead of value"}}),
    );
    let command =
        |kind: &str, required: &[&str], properties: Value| tagged("kind", kind, required, properties);
    let outcome =
        |name: &str, required: &[&str], properties: Value| tagged("outcome", name, required, properties);
    let period = json!({"type": "string", "pattern": "^[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}$", "description": "Office hours, local HH:MM-HH:MM, end exclusive"});
    let month_day = json!({"type": "string", "pattern": "^[0-9]{2}-[0-9]{2}$"});
    let timetable = fields_of(
        &names::<tianshu_rules::timetable::UnitTimetableBody>(),
        &["periods"],
        json!({"periods": array(period.clone()),
               "seasons": array(fields_of(
                   &names::<tianshu_rules::timetable::Season>(),
                   &["name", "from", "to", "periods"],
                   json!({"name": {"type": "string"}, "from": month_day, "to": month_day, "periods": array(period)})))}),
    );
    let order = fields_of(
        &names::<tianshu_rules::orders::Order>(),
        &["id", "kind", "plate", "start", "end", "state"],
        json!({"id": {"type": "string"}, "kind": variants::<tianshu_rules::orders::OrderKind>(), "plate": {"type": "string"},
               "driver": nullable(json!({"type": "string"})), "purpose": nullable(json!({"type": "string"})),
               "start": time(), "end": time(),
               "destinations": array(fields_of(
                   &names::<tianshu_rules::orders::Destination>(),
                   &["name", "lon", "lat"],
                   json!({"name": {"type": "string"}, "lon": {"type": "number"}, "lat": {"type": "number"}}))),
               "route": nullable(fields_of(
                   &names::<tianshu_rules::orders::LineString>(),
                   &["type", "coordinates"],
                   json!({"type": {"type": "string", "enum": ["LineString"]},
                          "coordinates": array(array(json!({"type": "number"})))}))),
               "corridor_m": nullable(json!({"type": "number", "description": "How far from the route the car may be, metres"})),
               "state": variants::<tianshu_rules::orders::OrderState>(),
               "allow_region_exit": {"type": "boolean"},
               "filed_by": nullable(json!({"type": "string"})), "approved_by": nullable(json!({"type": "string"}))}),
    );
    json!({
        "DriverFields": fields_of(&driver_fields, &["name", "certificate", "unit"], driver),
        "Driver": fields_of(&with_id(&driver_fields), &with_id(&driver_fields), driver_answer),
        "ChannelFields": fields_of(&channel_fields, &["name", "kind"], channel),
        "Channel": fields_of(&with_id(&channel_fields), &with_id(&channel_fields), channel_answer),
        "ConfiguredChannel": fields_of(&names::<ConfiguredChannel>(), &names::<ConfiguredChannel>(), json!({
            "name": {"type": "string", "description": "The webhook's name, or the e-mail address"},
            "kind": variants::<ChannelKind>(),
            "url": nullable(json!({"type": "string"})),
            "url_env": nullable(json!({"type": "string", "description": "The environment variable the URL is read from (the URL is not shown)"})),
            "format": variants::<WebhookFormat>(),
            "address": nullable(json!({"type": "string"})),
            "units": array(json!({"type": "string", "description": "A unit path"})),
            "min_severity": variants::<tianshu_rules::Severity>()})),
        "ChannelList": object(&["stored", "configured"], json!({
            "stored": array(r("Channel")),
            "configured": array(r("ConfiguredChannel"))})),
        "ParameterEntry": parameter,
        "TerminalCommand": {"anyOf": [
            command("query_position", &[], json!({})),
            command("temporary_tracking", &["interval_secs", "duration_secs"], json!({
                "interval_secs": {"type": "integer", "minimum": 0, "maximum": 65535},
                "duration_secs": {"type": "integer", "minimum": 0}})),
            command("text", &["text"], json!({"text": {"type": "string", "minLength": 1, "description": "Shown and spoken to the driver (sent as GBK)"}})),
            command("query_parameters", &[], json!({"ids": {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 255,
                "description": "The parameters to ask for; absent asks for all"}})),
            command("set_parameters", &["parameters"], json!({"parameters": {"type": "array", "items": r("ParameterEntry"), "minItems": 1, "maxItems": 255,
                "description": "Administrators only"}})),
            command("query_attributes", &[], json!({}))],
            "description": "A downlink command, by `kind`"},
        "CommandOutcome": {"anyOf": [
            outcome("answered", &[], json!({
                "position": position, "parameters": array(r("ParameterEntry")),
                "attributes": {"type": "object", "description": "The terminal's attributes: terminal_type, maker_id, model, terminal_id, iccid, hardware_version, firmware_version, gnss, network"}})),
            outcome("refused", &["result"], json!({"result": {"type": "integer", "description": "The terminal's result code: 1 failed, 2 wrong message, 3 not supported"}}))],
            "description": "What the terminal answered"},
        "CommandFailure": object(&["error", "outcome"], json!({
            "error": {"type": "string"},
            "outcome": {"type": "string", "enum": ["not_connected", "timed_out"]}})),
        "TimetableBody": timetable,
        "OrderImport": order,
        "FenceFeature": object(&["type", "geometry", "properties"], json!({
            "type": {"type": "string", "enum": ["Feature"]},
            "geometry": object(&["type", "coordinates"], json!({
                "type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]},
                "coordinates": {"type": "array", "description": "[lon, lat] rings, WGS-84"}})),
            "properties": object(&["name", "kind"], json!({
                "name": {"type": "string"}, "kind": variants::<tianshu_rules::fences::FenceKind>(),
                "unit": {"type": "string", "description": "depot: the unit path"},
                "category": {"type": "string"},
                "speed_limit_kmh": {"type": "number", "exclusiveMinimum": 0, "maximum": 300, "description": "speed_zone: its limit"},
                "description": {"type": "string", "description": "Free text, kept by editors, ignored"}}))})),
        "LiveMessage": {"anyOf": [
            object(&["type", "vehicles", "positions"], json!({
                "type": {"type": "string", "enum": ["snapshot"]},
                "vehicles": array(r("Vehicle")), "positions": array(r("Position"))})),
            object(&["type", "points"], json!({
                "type": {"type": "string", "enum": ["positions"]}, "points": array(r("Position"))})),
            object(&["type", "alert"], json!({
                "type": {"type": "string", "enum": ["alert"]},
                "alert": {"type": "object", "required": ["vehicle", "severity"], "properties": {
                    "vehicle": {"type": "integer"}, "severity": {"type": "string"}},
                    "additionalProperties": true, "description": "The vehicle, severity, and the rule, case id, time and text"}}))],
            "description": "One message of the live feed, by `type`"},
    })
}

/// The schemas of the office's casework: complaints, their steps and evidence, findings, the figures.
fn casework_components() -> Value {
    use tianshu_model::complaint::{
        Accountable, Channel, Complaint, ComplaintEvent, ComplaintState, Finding, FindingOutcome, Measure,
        NamedCar,
    };
    let maybe = |t: &str| nullable(json!({ "type": t }));
    let complaint = names::<Complaint>();
    let mut view = complaint.clone();
    view.extend(["overdue", "history"]);
    let mut shown = complaint.clone();
    shown.push("overdue");
    let accountable = fields_of(
        &names::<Accountable>(),
        &["name", "measure"],
        json!({"name": {"type": "string"}, "post": {"type": "string"}, "unit": {"type": "string"},
               "measure": variants::<Measure>()}),
    );
    let figures = json!({
        "received": {"type": "integer"}, "forwarded": {"type": "integer"},
        "answered_in_time": {"type": "integer"}, "overdue": {"type": "integer"}, "replied": {"type": "integer"},
        "findings": {"type": "integer"}, "confirmed": {"type": "integer"},
        "confirmed_by_type": {"type": "object", "additionalProperties": {"type": "integer"}},
        "people": {"type": "integer", "description": "People held to account"},
        "sanctioned": {"type": "integer", "description": "Party or administrative sanctions"},
        "judiciary": {"type": "integer", "description": "Referred to the judiciary"},
        "recovered_fen": {"type": "integer", "description": "Amount recovered, fen"}});
    let figure_names: Vec<String> = figures
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let figure_names: Vec<&str> = figure_names.iter().map(String::as_str).collect();
    let mut row = figures.clone();
    row["unit"] = maybe("integer");
    row["unit_name"] = maybe("string");
    row["month"] = json!({"type": "string", "description": "YYYY-MM"});
    let mut row_names = figure_names.clone();
    row_names.extend(["unit", "unit_name", "month"]);
    json!({
        "Complaint": fields_of(&view, &shown, json!({
            "id": {"type": "integer"}, "received": time(), "channel": variants::<Channel>(),
            "reporter_name": maybe("string"),
            "reporter_phone": nullable(json!({"type": "string", "description": "Masked (GET /api/complaints/{id}/reporter gives it in clear); absent for a unit's supervisor"})),
            "text": {"type": "string"}, "place": {"type": "string"},
            "window_from": nullable(time()), "window_to": nullable(time()),
            "cars": array(fields_of(&names::<NamedCar>(), &["text", "vehicle", "plate", "unit"], json!({
                "text": {"type": "string", "description": "As written"}, "vehicle": maybe("integer"),
                "plate": maybe("string"), "unit": maybe("integer"),
                "candidates": {"type": "array", "items": {"type": "string"}, "description": "Plates it could be, when more than one"}}))),
            "unresolved": {"type": "boolean", "description": "A named car was not found"},
            "state": variants::<ComplaintState>(), "unit": maybe("integer"),
            "deadline": nullable(time()), "forwarded": nullable(time()), "answered": nullable(time()),
            "answered_in_time": maybe("boolean"), "replied": nullable(time()), "escalated": nullable(time()),
            "cases": array(json!({"type": "integer"})), "entered_by": {"type": "string"}, "updated": time(),
            "overdue": {"type": "boolean", "description": "Its deadline passed without an answer"},
            "history": array(fields_of(&names::<ComplaintEvent>(), &names::<ComplaintEvent>(), json!({
                "time": time(), "actor": {"type": "string"}, "action": {"type": "string"}, "note": {"type": "string"}})))})),
        "ComplaintPage": object(&["total", "items"], json!({"total": {"type": "integer"}, "items": array(r("Complaint"))})),
        "NewComplaint": fields_of(&names::<complaints::NewComplaintBody>(), &["channel", "text"], json!({
            "received": {"type": "string", "format": TIME, "description": "Default: now"},
            "channel": variants::<Channel>(),
            "reporter_name": {"type": "string", "description": "Absent: anonymous"},
            "reporter_phone": {"type": "string", "description": "Stored sealed, shown masked"},
            "text": {"type": "string", "minLength": 1}, "place": {"type": "string"},
            "plates": {"type": "array", "items": {"type": "string"}, "description": "Whole or partial plates, resolved fuzzily"},
            "window_from": time(), "window_to": time()})),
        "ComplaintStep": fields_of(&names::<complaints::StepBody>(), &[], json!({
            "text": {"type": "string", "description": "answer, reply, send back: what was said"},
            "unit": {"type": "integer", "description": "forward: the unit (default: the first named car's)"},
            "days": {"type": "integer", "minimum": 0, "description": "forward: working days to answer"},
            "deadline": {"type": "string", "format": TIME, "description": "forward, send back: an explicit deadline"},
            "how": {"type": "string", "description": "reply: how the reporter was answered"},
            "decision": {"type": "string", "enum": ["accept", "send_back"], "description": "review"}})),
        "Reporter": object(&["name", "phone"], json!({"name": maybe("string"), "phone": maybe("string")})),
        "Evidence": object(&["complaint", "from", "to", "cars", "unresolved"], json!({
            "complaint": {"type": "integer"}, "from": nullable(time()), "to": nullable(time()),
            "cars": array(object(&["vehicle", "plate", "at_time", "points", "line", "replay", "orders", "cases"], json!({
                "vehicle": {"type": "integer"}, "plate": {"type": "string"},
                "at_time": nullable(r("Position")),
                "points": {"type": "integer", "description": "Stored points in the window"},
                "line": array(array(json!({"type": "number"}))),
                "replay": {"type": "string", "description": "The replay's address for the window"},
                "orders": array(json!({"type": "object", "description": "An order or filing covering the window, as GET /api/orders lists it"})),
                "cases": array(json!({"type": "object", "required": ["id", "vehicle", "state"], "description": "An alert case raised in the window"}))}))),
            "unresolved": array(json!({"type": "string", "description": "A named car not found, as written"}))})),
        "Accountable": accountable,
        "FindingBody": fields_of(&names::<casework::FindingBody>(), &["outcome"], json!({
            "outcome": variants::<FindingOutcome>(),
            "violation": {"type": "string", "description": "confirmed: the violation type, one of [web.casework] violation_types"},
            "people": {"type": "array", "items": r("Accountable"), "description": "confirmed: the people held to account"},
            "recovered_yuan": {"type": "number", "minimum": 0, "description": "Amount recovered, yuan, two decimals at most"},
            "decided": {"type": "string", "format": "date", "description": "YYYY-MM-DD, default today"},
            "note": {"type": "string"}})),
        "Finding": fields_of(&names::<Finding>(), &names::<Finding>(), json!({
            "case_id": {"type": "integer"}, "outcome": variants::<FindingOutcome>(), "violation": maybe("string"),
            "people": array(r("Accountable")), "recovered_fen": {"type": "integer", "description": "Amount recovered, fen"},
            "decided": {"type": "string", "format": "date"}, "note": {"type": "string"},
            "unit": {"type": "integer", "description": "The car's unit"}, "recorded_by": {"type": "string"},
            "recorded": time()})),
        "CaseworkSummary": object(&["total", "rows"], json!({
            "total": object(&figure_names, figures),
            "rows": array(object(&row_names, row))})),
    })
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
