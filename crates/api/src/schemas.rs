//! What the OpenAPI document says of each route beyond the route table: its query parameters, read
//! from the handler's own query type (the names serde's derive gives it, and which of them it cannot do
//! without), its request body and its answer, as JSON Schema next to the names of the types they
//! describe. The API tests check the answers of the reading routes against these schemas.

use serde::de::{self, DeserializeOwned, Visitor};
use serde_json::{Map, Value, json};

use crate::position::REPLAY_COLUMNS;
use crate::resources::{casework, commands, complaints};

mod areas;
mod jt809;
mod routes;

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
    range_parameter(name).or_else(|| filter_parameter(name))
}

/// The ranges', formats' and pages' query parameters, as [`query_parameter`] gives them.
fn range_parameter(name: &str) -> Option<(Value, &'static str, &'static str)> {
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
        "year" => (
            json!({"type": "integer", "minimum": 2000, "maximum": 2100}),
            "The year, China time",
            "2026",
        ),
        "last" => (
            json!({"type": "integer", "minimum": 0}),
            "The newest this many, oldest first",
            "1",
        ),
        _ => return None,
    })
}

/// The filters' and uploads' query parameters, as [`query_parameter`] gives them.
fn filter_parameter(name: &str) -> Option<(Value, &'static str, &'static str)> {
    Some(match name {
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
        "kind" => (
            json!({"type": "string", "enum": tianshu_store::jt809_requests::KINDS}),
            "Only platform checks or supervision requests",
            "check",
        ),
        "peer" => (
            json!({"type": "string"}),
            "Only this lower platform's (a [[jt809.lower]] name)",
            "huangshi",
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
    let mut d = Described::default();
    let areas = [
        routes::session,
        routes::registry,
        routes::terminals,
        routes::tracking,
        routes::casework,
        routes::access,
        routes::fuel,
        routes::carpool,
        jt809::jt809,
    ];
    if !areas.iter().any(|area| area(method, path, &mut d)) {
        // Any other route answers 200 with its JSON, or nothing to a DELETE.
        d.ok = if method == "DELETE" {
            routes::none()
        } else {
            (200, None)
        };
    }
    d
}

/// The schemas the routes refer to.
pub fn components() -> Value {
    merged([
        areas::base_components(),
        areas::reference_components(),
        areas::tracking_components(),
        areas::registry_components(),
        areas::command_components(),
        areas::casework_components(),
        areas::casework_summary_components(),
        areas::fuel_components(),
        areas::carpool_components(),
        jt809::components(),
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
        let q = query_of::<crate::resources::reports::ReportQuery>();
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
