//! The OpenAPI 3.1 document (`GET /api/openapi.json`), derived from a route table: each route's
//! path parameters, its query parameters (read from the handler's query type), its request body and
//! answer (the schemas of `schemas`), the roles it admits (`x-roles`), whether it needs the session
//! cookie or a personal API token, and the error contract every failure answers in.

use serde_json::{Map, Value, json};

use crate::auth::COOKIE_NAME;
use crate::schemas;
use crate::spec::RouteSpec;

/// The document of `routes`.
pub fn document(routes: &[RouteSpec]) -> Value {
    let error = json!({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let failure = |description: &str| {
        let mut r = error.clone();
        r["description"] = json!(description);
        r
    };
    let mut paths = Map::new();
    for spec in routes {
        let described = schemas::describe(spec.method, spec.path);
        let mut params: Vec<Value> = spec
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": schemas::path_parameter(name)}))
            .collect();
        params.extend(described.query);
        let (status, schema) = described.ok;
        let mut ok = json!({"description": if status == 204 { "Done, nothing to send" } else { "OK" }});
        if let Some(schema) = schema {
            ok["content"] = json!({"application/json": {"schema": schema}});
        }
        let roles: Vec<&str> = spec.roles.iter().map(|r| r.as_str()).collect();
        let mut op = json!({
            "summary": spec.summary,
            "parameters": params,
            "x-roles": roles,
            "responses": {
                status.to_string(): ok,
                "400": failure("Bad request: the message names the field"),
                "401": failure("Not logged in"),
                "403": failure("Role or scope does not allow it"),
                "404": failure("No such record"),
                "409": failure("Conflicts with what is stored")
            }
        });
        if described.may_create {
            op["responses"]["201"] = json!({"description": "Created"});
        }
        if let Some(body) = described.body {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": body}}});
        }
        if !spec.roles.is_empty() {
            op["security"] = json!([{"session": []}, {"token": []}]);
        }
        let entry = paths.entry(spec.path.to_string()).or_insert_with(|| json!({}));
        entry[spec.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Tianshu API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": COOKIE_NAME},
                "token": {"type": "http", "scheme": "bearer", "description": "A personal API token (POST /api/tokens)"}
            },
            "schemas": schemas::components()
        }
    })
}
