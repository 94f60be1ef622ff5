//! `GET /api/openapi.json`, generated from the route table.

use axum::Json;
use serde_json::{Map, Value, json};

use crate::routes::ROUTES;

/// The OpenAPI 3.1 document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for spec in ROUTES {
        let params: Vec<Value> = spec
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let roles: Vec<&str> = spec.roles.iter().map(|r| r.as_str()).collect();
        let mut op = json!({
            "summary": spec.summary,
            "parameters": params,
            "x-roles": roles,
            "responses": {
                "200": {"description": "OK"},
                "400": {"description": "Bad request"},
                "401": {"description": "Not logged in"},
                "403": {"description": "Role or scope does not allow it"},
                "404": {"description": "No such record"},
                "409": {"description": "Conflicts with what is stored"}
            }
        });
        if !spec.roles.is_empty() {
            op["security"] = json!([{"session": []}]);
        }
        let entry = paths.entry(spec.path.to_string()).or_insert_with(|| json!({}));
        entry[spec.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Tianshu API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {"securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": crate::auth::COOKIE_NAME}}}
    })
}

/// The handler.
pub async fn openapi() -> Json<Value> {
    Json(document())
}
