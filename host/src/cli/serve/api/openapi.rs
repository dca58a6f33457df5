//! `/api/v1/openapi.json`: the OpenAPI 3.1 document of the API, generated from the route table
//! that mounts the handlers ([`super::ROUTES`]), so every route mounted is documented and every
//! route documented is mounted. It describes each operation's path parameters, the permission
//! the library checks, the error answers with their stable codes, and the JSON Schemas of its
//! request and response bodies.
//!
//! The schemas are not written by hand: the route table takes each route's body types from its
//! handler's signature ([`Documented`]: the `Body<T>` it extracts, the `Json<T>` it answers), and
//! schemars derives each type's schema from the same definition, `#[serde]` attributes included,
//! that serde reads and writes. A type whose serde code is written by hand (a date, a field's
//! value, a set of permissions) writes its schema by hand beside it. Requests are described as
//! serde reads them (a field with a default may be left out, an unknown field is refused where
//! the type says so) and answers as serde writes them (every field is there), each in
//! `components/schemas`; a type read and written differently has two: `Name` as written, and
//! `NameInput` as read.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::OnceLock;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use schemars::generate::{Contract, SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Value, json};

use super::{ApiError, Body, Caller, Params, QueryOf, Shared};

/// One route of the API, as the route table declares it.
pub struct Route {
    /// The method, in lower case (`get`, `post`, ...).
    pub method: &'static str,
    /// The path under `/api/v1`, with `{parameters}`.
    pub path: &'static str,
    /// What the body is: `json` (its type is the handler's `Body<T>`), `csv` or `wasm` (read
    /// raw), or empty for none.
    pub body: &'static str,
    /// The permission the library checks (`-` for none, `operator` for the platform operator).
    pub permission: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// The handler's request body, from its signature.
    pub request: fn(&mut SchemaGenerator) -> Part,
    /// The handler's query parameters (an object's schema), from its signature.
    pub query: fn(&mut SchemaGenerator) -> Option<Schema>,
    /// The handler's path parameters, in order, from its signature.
    pub path_types: fn(&mut SchemaGenerator) -> Vec<Schema>,
    /// The handler's answers, from its signature.
    pub responses: fn(&mut SchemaGenerator) -> Vec<Answer>,
}

/// What one argument of a handler reads of the request's body.
pub enum Part {
    /// Nothing.
    None,
    /// JSON of this schema.
    Json(Schema),
    /// The raw bytes (a CSV file, a component).
    Raw,
}

/// One successful answer of a handler.
pub struct Answer {
    /// Its status, such as `200`.
    pub status: &'static str,
    /// Its content type.
    pub media: &'static str,
    /// The schema of its body.
    pub schema: Schema,
    /// What it is.
    pub description: &'static str,
}

/// A handler argument, as the document sees it: whether it reads the request's body.
pub trait RequestPart {
    /// The body this argument reads, if any.
    fn part(generator: &mut SchemaGenerator) -> Part;

    /// The query parameters this argument reads, as the schema of an object, if any.
    fn query(_: &mut SchemaGenerator) -> Option<Schema> {
        None
    }

    /// The path parameters this argument reads, in order.
    fn path(_: &mut SchemaGenerator) -> Vec<Schema> {
        Vec::new()
    }
}

/// The type of a handler's path parameters: one value, or a tuple of them in the path's order.
pub trait PathParameters {
    /// Each parameter's schema, in order.
    fn schemas(generator: &mut SchemaGenerator) -> Vec<Schema>;
}

impl PathParameters for String {
    fn schemas(generator: &mut SchemaGenerator) -> Vec<Schema> {
        vec![generator.subschema_for::<String>()]
    }
}

impl PathParameters for i64 {
    fn schemas(generator: &mut SchemaGenerator) -> Vec<Schema> {
        vec![generator.subschema_for::<i64>()]
    }
}

impl<A: JsonSchema, B: JsonSchema> PathParameters for (A, B) {
    fn schemas(generator: &mut SchemaGenerator) -> Vec<Schema> {
        vec![
            generator.subschema_for::<A>(),
            generator.subschema_for::<B>(),
        ]
    }
}

impl<A: JsonSchema, B: JsonSchema, C: JsonSchema> PathParameters for (A, B, C) {
    fn schemas(generator: &mut SchemaGenerator) -> Vec<Schema> {
        vec![
            generator.subschema_for::<A>(),
            generator.subschema_for::<B>(),
            generator.subschema_for::<C>(),
        ]
    }
}

impl<T: JsonSchema> RequestPart for Body<T> {
    fn part(generator: &mut SchemaGenerator) -> Part {
        Part::Json(generator.subschema_for::<T>())
    }
}

impl RequestPart for axum::body::Body {
    fn part(_: &mut SchemaGenerator) -> Part {
        Part::Raw
    }
}

/// Arguments that read no body (the token, the path, the query, the headers, the state).
macro_rules! no_body {
    ($($type:ty),*) => {$(
        impl RequestPart for $type {
            fn part(_: &mut SchemaGenerator) -> Part {
                Part::None
            }
        }
    )*};
}

no_body!(Caller, State<Shared>, HeaderMap);

impl<T: PathParameters> RequestPart for Params<T> {
    fn part(_: &mut SchemaGenerator) -> Part {
        Part::None
    }

    fn path(generator: &mut SchemaGenerator) -> Vec<Schema> {
        T::schemas(generator)
    }
}

impl<T: JsonSchema> RequestPart for QueryOf<T> {
    fn part(_: &mut SchemaGenerator) -> Part {
        Part::None
    }

    fn query(generator: &mut SchemaGenerator) -> Option<Schema> {
        // The object itself rather than a `$ref`: its properties become parameters.
        Some(T::json_schema(generator))
    }
}

/// What a handler returns, as the document sees it: its successful answers (the errors are
/// [`ApiError`]s, described once for every route).
pub trait Answers {
    /// The successful answers.
    fn answers(generator: &mut SchemaGenerator) -> Vec<Answer>;
}

impl<T: JsonSchema> Answers for Json<T> {
    fn answers(generator: &mut SchemaGenerator) -> Vec<Answer> {
        vec![Answer {
            status: "200",
            media: "application/json",
            schema: generator.subschema_for::<T>(),
            description: "Done.",
        }]
    }
}

impl<T: Answers> Answers for Result<T, ApiError> {
    fn answers(generator: &mut SchemaGenerator) -> Vec<Answer> {
        T::answers(generator)
    }
}

impl<T: JsonSchema> Answers for super::New<T> {
    fn answers(generator: &mut SchemaGenerator) -> Vec<Answer> {
        vec![Answer {
            status: "201",
            media: "application/json",
            schema: generator.subschema_for::<T>(),
            description: "Created.",
        }]
    }
}

/// A handler, as the document sees it: the body its arguments read and the answers it returns.
/// Implemented for every handler function the route table mounts, so the document describes the
/// types the handler really takes and gives.
pub trait Documented<Arguments> {
    /// The request body.
    fn request(generator: &mut SchemaGenerator) -> Part;
    /// The query parameters, as the schema of an object.
    fn query(generator: &mut SchemaGenerator) -> Option<Schema>;
    /// The path parameters' schemas, in the order of the path.
    fn path(generator: &mut SchemaGenerator) -> Vec<Schema>;
    /// The successful answers.
    fn responses(generator: &mut SchemaGenerator) -> Vec<Answer>;
}

macro_rules! documented {
    ($($argument:ident),*) => {
        impl<F, Fut, $($argument,)*> Documented<($($argument,)*)> for F
        where
            F: FnOnce($($argument),*) -> Fut,
            Fut: Future,
            Fut::Output: Answers,
            $($argument: RequestPart,)*
        {
            #[allow(unused_mut, unused_variables)]
            fn request(generator: &mut SchemaGenerator) -> Part {
                let mut body = Part::None;
                $(
                    match $argument::part(generator) {
                        Part::None => {}
                        part => body = part,
                    }
                )*
                body
            }

            #[allow(unused_mut, unused_variables)]
            fn query(generator: &mut SchemaGenerator) -> Option<Schema> {
                let mut query = None;
                $(query = query.or_else(|| $argument::query(generator));)*
                query
            }

            #[allow(unused_mut, unused_variables)]
            fn path(generator: &mut SchemaGenerator) -> Vec<Schema> {
                let mut path = Vec::new();
                $(path.extend($argument::path(generator));)*
                path
            }

            fn responses(generator: &mut SchemaGenerator) -> Vec<Answer> {
                <Fut::Output as Answers>::answers(generator)
            }
        }
    };
}

documented!();
documented!(A);
documented!(A, B);
documented!(A, B, C);
documented!(A, B, C, D);
documented!(A, B, C, D, E);
documented!(A, B, C, D, E, G);

/// The request body `handler` reads (for the route table, which is a constant).
pub const fn request_of<H: Documented<M>, M>(_: &H) -> fn(&mut SchemaGenerator) -> Part {
    H::request
}

/// The query parameters `handler` reads (for the route table, which is a constant).
pub const fn query_of<H: Documented<M>, M>(_: &H) -> fn(&mut SchemaGenerator) -> Option<Schema> {
    H::query
}

/// The path parameters `handler` reads (for the route table, which is a constant).
pub const fn path_of<H: Documented<M>, M>(_: &H) -> fn(&mut SchemaGenerator) -> Vec<Schema> {
    H::path
}

/// The answers `handler` gives (for the route table, which is a constant).
pub const fn responses_of<H: Documented<M>, M>(_: &H) -> fn(&mut SchemaGenerator) -> Vec<Answer> {
    H::responses
}

/// `GET /api/v1/openapi.json` (needs no token).
pub async fn document() -> Json<Value> {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    Json(DOCUMENT.get_or_init(build).clone())
}

/// The settings of the schemas: JSON Schema 2020-12 (OpenAPI 3.1's), shared schemas under
/// `components/schemas`, as serde reads (`Deserialize`) or writes (`Serialize`) them.
fn generator(contract: Contract) -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|settings| {
            settings.definitions_path = "/components/schemas".into();
            settings.meta_schema = None;
            settings.contract = contract;
        })
        .into_generator()
}

/// The document.
///
/// # Panics
///
/// When the route table and a handler disagree about the body (the table says `json` and the
/// handler reads none, or raw bytes, or the reverse) or the path has another number of
/// parameters than the handler reads: the integration tests fetch the document, so such a table
/// does not pass them.
pub fn build() -> Value {
    let mut requests = generator(Contract::Deserialize);
    let mut answers = generator(Contract::Serialize);
    let mut paths: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
    for route in super::ROUTES {
        let names: Vec<&str> = route
            .path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let types = (route.path_types)(&mut requests);
        assert_eq!(
            names.len(),
            types.len(),
            "{} {}: the path has {} parameters, the handler reads {}",
            route.method,
            route.path,
            names.len(),
            types.len()
        );
        let mut parameters: Vec<Value> = names
            .into_iter()
            .zip(types)
            .map(|(name, schema)| {
                json!({
                    "name": name,
                    "in": "path",
                    "required": true,
                    "schema": schema,
                })
            })
            .collect();
        if let Some(query) = (route.query)(&mut requests) {
            parameters.extend(query_parameters(query.to_value()));
        }
        let mut operation = json!({
            "operationId": format!("{}{}", route.method, route.path.replace(['/', '{', '}', '-', '.'], "_")),
            "summary": route.summary,
            "description": match route.permission {
                "-" => "Needs no permission beyond a valid token.".to_owned(),
                "operator" => "The platform operator's token only.".to_owned(),
                permission => format!("Needs permission: {permission} (checked by the library)."),
            },
            "parameters": parameters,
            "responses": responses(&(route.responses)(&mut answers)),
        });
        if route.path == "/openapi.json" {
            operation["security"] = json!([]);
        }
        let body = match ((route.request)(&mut requests), route.body) {
            (Part::None, "") => None,
            (Part::Json(schema), "json") => Some(("application/json", schema.to_value())),
            (Part::Raw, "csv") => Some(("text/csv", json!({ "type": "string" }))),
            (Part::Raw, "wasm") => Some((
                "application/wasm",
                json!({ "type": "string", "format": "binary" }),
            )),
            (_, media) => panic!(
                "{} {}: the route table says the body is {media:?}, and the handler disagrees",
                route.method, route.path
            ),
        };
        if let Some((media, schema)) = body {
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
    let mut schemas = answers.take_definitions(true);
    // A type serde reads as it writes it has one schema; one read differently (fields with
    // defaults that may be left out) gets its own, `NameInput`, for requests.
    let read = requests.take_definitions(true);
    let renamed: BTreeSet<String> = read
        .iter()
        .filter(|(name, schema)| schemas.get(*name).is_some_and(|written| written != *schema))
        .map(|(name, _)| name.clone())
        .collect();
    for (name, mut schema) in read {
        rename_refs(&mut schema, &renamed);
        let name = if renamed.contains(&name) {
            format!("{name}Input")
        } else {
            name
        };
        schemas.insert(name, schema);
    }
    for operation in paths.values_mut().flat_map(|path| path.values_mut()) {
        for read in ["requestBody", "parameters"] {
            if let Some(part) = operation.get_mut(read) {
                rename_refs(part, &renamed);
            }
        }
    }
    for schema in schemas.values_mut() {
        without_examples(schema);
    }
    let mut codes: Vec<&str> = cs_host::Error::CODES
        .iter()
        .map(|(code, _)| *code)
        .chain(super::API_CODES.iter().map(|(code, _, _)| *code))
        .collect();
    codes.sort_unstable();
    codes.dedup();
    schemas.insert(
        "Error".to_owned(),
        json!({
            "description": "An error: a stable code and a message in the command line's words.",
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
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "cs-host",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The JSON API of `cshost serve`. Errors are `{\"error\": {\"code\", \"message\"}}` with a stable code and the command line's words.",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "servers": [{ "url": "/api/v1" }],
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
            },
            "schemas": schemas,
        },
    })
}

/// The query parameters of a query type's schema (an object's): one per property, required as
/// serde requires it. A parameter left out is serde's `None`, so `null` is no value of one.
fn query_parameters(query: Value) -> Vec<Value> {
    let required: Vec<Value> = query["required"].as_array().cloned().unwrap_or_default();
    let Some(Value::Object(properties)) = query.get("properties").cloned() else {
        return Vec::new();
    };
    properties
        .into_iter()
        .map(|(name, mut schema)| {
            let description = schema.as_object_mut().and_then(|s| s.remove("description"));
            if let Some(object) = schema.as_object_mut() {
                if object.get("default") == Some(&Value::Null) {
                    object.remove("default");
                }
                if let Some(Value::Array(types)) = object.get_mut("type") {
                    types.retain(|t| t != "null");
                    if let [only] = types.as_slice() {
                        let only = only.clone();
                        object.insert("type".to_owned(), only);
                    }
                }
                if let Some(Value::Array(options)) = object.get_mut("anyOf") {
                    options.retain(|o| o != &json!({ "type": "null" }));
                    if let [only] = options.as_slice() {
                        schema = only.clone();
                    }
                }
            }
            let mut parameter = json!({
                "name": name,
                "in": "query",
                "required": required.contains(&Value::String(name.clone())),
                "schema": schema,
            });
            if let Some(description) = description {
                parameter["description"] = description;
            }
            parameter
        })
        .collect()
}

/// Drops the Rust examples (fenced code) that doc comments carry from descriptions: a client
/// of the API has no use for them.
fn without_examples(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, inner) in object.iter_mut() {
                match (key.as_str(), inner) {
                    ("description", Value::String(text)) if text.contains("```") => {
                        let mut kept = String::new();
                        for (n, part) in text.split("```").enumerate() {
                            if n % 2 == 0 {
                                kept.push_str(part);
                            }
                        }
                        *text = kept.trim().to_owned();
                    }
                    (_, inner) => without_examples(inner),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(without_examples),
        _ => {}
    }
}

/// Points every `$ref` to a schema in `renamed` at its `Input` twin.
fn rename_refs(value: &mut Value, renamed: &BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            for (key, inner) in object.iter_mut() {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => {
                        if let Some(name) = target.strip_prefix("#/components/schemas/")
                            && renamed.contains(name)
                        {
                            *target = format!("#/components/schemas/{name}Input");
                        }
                    }
                    (_, inner) => rename_refs(inner, renamed),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rename_refs(item, renamed)),
        _ => {}
    }
}

/// The answers of a route: its successes, and the errors any route may give, each status with
/// the codes it answers.
fn responses(successes: &[Answer]) -> Value {
    let mut answers = serde_json::Map::new();
    for success in successes {
        answers.insert(
            success.status.to_owned(),
            json!({
                "description": success.description,
                "content": { success.media: { "schema": success.schema.as_value() } },
            }),
        );
    }
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
        answers.insert(
            status.to_string(),
            json!({
                "description": format!("An error: {}.", codes.join(", ")),
                "content": { "application/json": { "schema": {
                    "allOf": [{ "$ref": "#/components/schemas/Error" }],
                    "properties": {
                        "error": { "properties": { "code": { "enum": codes } } },
                    },
                } } },
            }),
        );
    }
    Value::Object(answers)
}
