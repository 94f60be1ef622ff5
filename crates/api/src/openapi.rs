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
        let said = if status == 204 { "No content" } else { "OK" };
        let mut ok = json!({"description": described.ok_description.as_deref().unwrap_or(said)});
        let mut content = Map::new();
        if let Some(schema) = schema {
            content.insert("application/json".into(), json!({"schema": schema}));
        }
        for (media, schema) in described.ok_media {
            content.insert(media.into(), json!({"schema": schema}));
        }
        if !content.is_empty() {
            ok["content"] = Value::Object(content);
        }
        let roles: Vec<&str> = spec.roles.iter().map(|r| r.as_str()).collect();
        let mut op = json!({
            "summary": spec.summary,
            "parameters": params,
            "x-roles": roles,
            "responses": {
                "400": failure("Bad request: the message names the field"),
                "401": failure("Not logged in"),
                "403": failure("Role or scope does not allow it"),
                "404": failure("No such record"),
                "409": failure("Conflicts with what is stored")
            }
        });
        if described.may_create {
            let mut created = ok.clone();
            created["description"] = json!("Created");
            op["responses"]["201"] = created;
        }
        op["responses"][status.to_string()] = ok;
        for (status, description, schema) in described.failures {
            op["responses"][status.to_string()] =
                json!({"description": description, "content": {"application/json": {"schema": schema}}});
        }
        if let Some(messages) = described.messages {
            op["x-messages"] = messages;
        }
        if let Some(body) = described.body {
            let media = described.body_media.unwrap_or("application/json");
            op["requestBody"] = json!({"required": true, "content": {media: {"schema": body}}});
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
