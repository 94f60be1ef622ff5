//! The OpenAPI document as a test reads it: an answer checked against the schema the document gives it.

use serde_json::Value;
use tianshu_api::{ROUTES, openapi};

/// Checks `v` against `schema` (the subset of JSON Schema the document uses), resolving `$ref`s in
/// `doc`; the paths of what does not fit.
pub fn check(doc: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or_default();
        let target = &doc["components"]["schemas"][name];
        assert!(target.is_object(), "{at}: no schema {name}");
        return check(doc, target, v, at, errors);
    }
    if let Some(any) = schema["anyOf"].as_array() {
        let fits = any.iter().any(|s| {
            let mut e = Vec::new();
            check(doc, s, v, at, &mut e);
            e.is_empty()
        });
        if !fits {
            errors.push(format!("{at}: {v} fits none of {}", schema["anyOf"]));
        }
        return;
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(v)
    {
        errors.push(format!("{at}: {v} not one of {values:?}"));
    }
    let fits = match schema["type"].as_str() {
        None => true,
        Some("string") => v.is_string(),
        Some("integer") => v.is_i64() || v.is_u64(),
        Some("number") => v.is_number(),
        Some("boolean") => v.is_boolean(),
        Some("null") => v.is_null(),
        Some("array") => v.is_array(),
        Some("object") => v.is_object(),
        Some(t) => panic!("{at}: type {t}"),
    };
    if !fits {
        errors.push(format!("{at}: {v} is not {}", schema["type"]));
        return;
    }
    if schema["format"] == "date-time"
        && let Some(s) = v.as_str()
        && chrono::DateTime::parse_from_rfc3339(s).is_err()
    {
        errors.push(format!("{at}: {s:?} is not RFC 3339"));
    }
    if let Some(items) = v.as_array() {
        for (i, item) in items.iter().enumerate() {
            check(doc, &schema["items"], item, &format!("{at}[{i}]"), errors);
        }
    }
    if let Some(o) = v.as_object() {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().expect("a name");
            if !o.contains_key(name) {
                errors.push(format!("{at}: no {name}"));
            }
        }
        for (k, field) in o {
            let declared = &schema["properties"][k];
            if declared.is_object() {
                check(doc, declared, field, &format!("{at}.{k}"), errors);
            } else if schema["additionalProperties"].is_object() {
                check(
                    doc,
                    &schema["additionalProperties"],
                    field,
                    &format!("{at}.{k}"),
                    errors,
                );
            } else if schema["properties"].is_object() && schema["additionalProperties"] != true {
                errors.push(format!("{at}: {k} is not documented"));
            }
        }
    }
}

/// What in `v`, answered with `status` by `method` `route`, does not fit the JSON schema the served
/// document gives that answer; a route or status the document does not give a JSON answer for is itself
/// a misfit.
pub fn misfits(method: &str, route: &str, status: u16, v: &Value) -> Vec<String> {
    let doc = openapi::document(ROUTES);
    let schema = &doc["paths"][route][method.to_ascii_lowercase()]["responses"][status.to_string()]["content"]
        ["application/json"]["schema"];
    if !schema.is_object() {
        return vec![format!(
            "{method} {route}: no JSON answer documented for {status}"
        )];
    }
    let mut errors = Vec::new();
    check(&doc, schema, v, "$", &mut errors);
    errors
}

/// The route of `ROUTES` that `method` `path` (a concrete path, query and all) is a call of: the one whose
/// segments match, a `{name}` segment matching any; a literal segment wins over a parameter.
pub fn route_of(method: &str, path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.split('/').collect();
    ROUTES
        .iter()
        .filter(|spec| spec.method == method)
        .filter_map(|spec| {
            let route: Vec<&str> = spec.path.split('/').collect();
            let fits = route.len() == parts.len()
                && route
                    .iter()
                    .zip(&parts)
                    .all(|(r, p)| r.starts_with('{') || r == p);
            fits.then(|| (route.iter().filter(|r| r.starts_with('{')).count(), spec.path))
        })
        .min_by_key(|(params, _)| *params)
        .map(|(_, route)| route)
}

/// Asserts that a JSON answer of `method` `path` with `status` fits what the document says of it.
#[track_caller]
pub fn assert_documented(method: &str, path: &str, status: u16, v: &Value) {
    let route = route_of(method, path).unwrap_or_else(|| panic!("{method} {path}: no such route"));
    let errors = misfits(method, route, status, v);
    assert!(
        errors.is_empty(),
        "{method} {path} ({status}) against the document: {errors:#?}\n{v}"
    );
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_call_finds_its_route_and_a_misfit_is_named() {
        assert_eq!(
            route_of("GET", "/api/carpool/requests/7/offers?x=1"),
            Some("/api/carpool/requests/{id}/offers")
        );
        assert_eq!(
            route_of("POST", "/api/carpool/maintenance"),
            Some("/api/carpool/maintenance")
        );
        assert_eq!(route_of("GET", "/api/nowhere"), None);
        let wrong = json!([{"id": "seven", "unit": 1, "requester": "r", "state": "open", "created": "then", "fields": {}, "extra": 1}]);
        let errors = misfits("GET", "/api/carpool/requests", 200, &wrong);
        for part in ["[0].id", "[0].created", "extra is not documented"] {
            assert!(errors.iter().any(|e| e.contains(part)), "{part} in {errors:#?}");
        }
        assert!(!misfits("GET", "/api/carpool/requests", 418, &json!([])).is_empty());
    }
}
