//! `/api/v1/openapi.json`: the OpenAPI 3.1 document of the API, generated from the route table
//! that mounts the handlers ([`super::ROUTES`]), so every route mounted is documented and every
//! route documented is mounted. It describes each operation's path parameters, body, the
//! permission the library checks, and the error answers with their stable codes.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::Json;
use serde_json::{Value, json};

/// One route of the API, as the route table declares it.
pub struct Route {
    /// The method, in lower case (`get`, `post`, ...).
    pub method: &'static str,
    /// The path under `/api/v1`, with `{parameters}`.
    pub path: &'static str,
    /// What the body is: `json`, `csv`, `wasm`, or empty for none.
    pub body: &'static str,
    /// The permission the library checks (`-` for none, `operator` for the platform operator).
    pub permission: &'static str,
    /// What it does.
    pub summary: &'static str,
}

/// `GET /api/v1/openapi.json` (needs no token).
pub async fn document() -> Json<Value> {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    Json(DOCUMENT.get_or_init(build).clone())
}

/// The document.
pub fn build() -> Value {
    let mut paths: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    for route in super::ROUTES {
        let parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                let numeric = !matches!(name, "tenant" | "plugin" | "key" | "capability");
                json!({
                    "name": name,
                    "in": "path",
                    "required": true,
                    "schema": { "type": if numeric { "integer" } else { "string" } },
                })
            })
            .collect();
        let mut operation = json!({
            "operationId": format!("{}{}", route.method, route.path.replace(['/', '{', '}', '-', '.'], "_")),
            "summary": route.summary,
            "description": match route.permission {
                "-" => "Needs no permission beyond a valid token.".to_owned(),
                "operator" => "The platform operator's token only.".to_owned(),
                permission => format!("Needs permission: {permission} (checked by the library)."),
            },
            "parameters": parameters,
            "responses": responses(),
        });
        if route.path == "/openapi.json" {
            operation["security"] = json!([]);
        }
        let media = match route.body {
            "json" => Some("application/json"),
            "csv" => Some("text/csv"),
            "wasm" => Some("application/wasm"),
            _ => None,
        };
        if let Some(media) = media {
            let schema = if media == "application/json" {
                json!({ "type": "object" })
            } else {
                json!({ "type": "string", "format": "binary" })
            };
            operation["requestBody"] = json!({
                "required": true,
                "content": { media: { "schema": schema } },
            });
        }
        paths
            .entry(route.path.to_owned())
            .or_default()
            .insert(route.method.to_owned(), operation);
    }
    let mut codes: Vec<&str> = cs_host::Error::CODES
        .iter()
        .map(|(code, _)| *code)
        .chain(super::API_CODES.iter().map(|(code, _, _)| *code))
        .collect();
    codes.sort_unstable();
    codes.dedup();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "cs-host",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The JSON API of `cshost serve`. Errors are `{\"error\": {\"code\", \"message\"}}` with a stable code and the command line's words.",
        },
        "servers": [{ "url": "/api/v1" }],
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": { "type": "string", "enum": codes },
                                "message": { "type": "string" },
                            },
                        },
                    },
                },
            },
        },
    })
}

/// The answers of a route: its success, and the errors any route may give.
fn responses() -> Value {
    let error = json!({
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
    });
    let mut answers = serde_json::Map::new();
    answers.insert(
        "2XX".to_owned(),
        json!({ "description": "Done: 200, or 201 with a created record's id, or 202 with an import job to poll." }),
    );
    let mut statuses: Vec<(u16, &str)> = cs_host::Error::CODES
        .iter()
        .map(|(code, _)| (super::status_of(code).as_u16(), *code))
        .chain(
            super::API_CODES
                .iter()
                .map(|(code, status, _)| (*status, *code)),
        )
        .collect();
    statuses.sort_unstable();
    statuses.dedup();
    let mut by_status: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
    for (status, code) in statuses {
        by_status.entry(status).or_default().push(code);
    }
    for (status, codes) in by_status {
        let mut answer = error.clone();
        answer["description"] = json!(format!("An error: {}.", codes.join(", ")));
        answers.insert(status.to_string(), answer);
    }
    Value::Object(answers)
}
