//! The JSON API under `/api/v1`: bearer tokens with a rate limit each, errors as JSON with a
//! stable code and the words the command line uses, and one handler per operation. Every handler
//! acts through the tenant handle its token resolves to ([`Host::tenant_for`]), so the library's
//! permission checks and partner scoping apply as they do on the command line.
//!
//! Every route is declared once, in [`routes!`]'s table below: the table mounts the handlers and
//! is the OpenAPI document's source (`openapi.rs`), so the two cannot drift apart.

mod imports;
mod openapi;
mod plans;
mod plugins;
mod records;
mod tenants;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use cs_host::access::Authenticated;
use cs_host::{Host, Tenant};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{App, Shared, blocking};

pub use imports::Imports;
pub use openapi::Route;

/// The largest JSON request body the API reads, in bytes.
pub const MAX_BODY: usize = 1024 * 1024;

/// The most records one page of a list returns.
const MAX_PAGE: usize = 1000;

/// Declares the API's routes once: `METHOD "path" => handler, "body", "permission", "summary";`
/// (the body: `json`, `csv`, `wasm` or none; a JSON body's type, and the answer's, are taken from
/// the handler's signature, and the document refuses a body kind the handler does not read). It
/// makes [`router`] (which mounts them) and [`ROUTES`] (which the OpenAPI document describes).
/// The permission is the one the library checks (`-` when none; `operator` for the platform
/// operator's routes).
macro_rules! routes {
    ($($method:ident $path:literal => $handler:path, $body:literal, $permission:literal, $summary:literal;)*) => {
        /// The API's routes, under `/api/v1`.
        pub fn router() -> Router<Shared> {
            let mut router = Router::new();
            $(router = router.route($path, axum::routing::$method($handler));)*
            router
                .method_not_allowed_fallback(method_not_allowed)
                .layer(DefaultBodyLimit::max(MAX_BODY))
        }

        /// Every route of the API, as the OpenAPI document describes it.
        pub const ROUTES: &[Route] = &[$(Route {
            method: stringify!($method),
            path: $path,
            body: $body,
            permission: $permission,
            summary: $summary,
            request: openapi::request_of(&$handler),
            query: openapi::query_of(&$handler),
            path_types: openapi::path_of(&$handler),
            responses: openapi::responses_of(&$handler),
        },)*];
    };
}

routes! {
    get "/openapi.json" => openapi::document, "", "-", "This document";
    get "/whoami" => tenants::whoami, "", "-", "Whom the token acts as";
    get "/tenants" => tenants::list, "", "-", "The tenants the token reaches";
    post "/tenants" => tenants::create, "json", "operator", "Create a tenant {id, name, level}";
    get "/tenants/{tenant}/users" => tenants::users, "", "read", "The tenant's users (?partner=ID)";
    post "/tenants/{tenant}/users" => tenants::add_user, "json", "users.manage", "Add a user {email, name, licence | admin | partner}";
    get "/plugins" => plugins::installed, "", "operator", "The installed plugins";
    post "/plugins" => plugins::install, "wasm", "operator", "Install a plugin: the body is the component (.wasm)";
    get "/plugins/{plugin}" => plugins::inspect, "", "operator", "One installed plugin (?version=)";
    delete "/plugins/{plugin}" => plugins::uninstall, "", "operator", "Uninstall a plugin (?version=&force=true)";
    get "/tenants/{tenant}/companies" => records::companies, "", "read", "Companies (?after=ID&limit=N, ?search=TEXT)";
    post "/tenants/{tenant}/companies" => records::add_company, "json", "companies.edit", "Add a company {name, fields, managed_by}";
    get "/tenants/{tenant}/companies/{company}" => records::company, "", "read", "One company";
    put "/tenants/{tenant}/companies/{company}/managed-by" => records::set_managed_by, "json", "partners.manage", "Set or clear the managing partner {partner}";
    get "/tenants/{tenant}/companies/{company}/plans" => plans::company_plans, "", "read", "A company's plans";
    get "/tenants/{tenant}/partners" => records::partners, "", "read", "Partners";
    post "/tenants/{tenant}/partners" => records::add_partner, "json", "partners.manage", "Add a partner {name, fields, scope}";
    post "/tenants/{tenant}/partners/tag" => records::tag_partners, "json", "partners.manage", "Tag companies as partners {ids, scope}";
    delete "/tenants/{tenant}/partners/{partner}" => records::untag_partner, "", "partners.manage", "Untag a partner";
    get "/tenants/{tenant}/partners/{partner}/portfolio" => records::portfolio, "", "read", "A partner's portfolio";
    post "/tenants/{tenant}/criteria/run" => records::run_criteria, "json", "criteria.run", "Run criteria {filters, logic}";
    post "/tenants/{tenant}/criteria/tag-partners" => records::tag_by_criteria, "json", "criteria.run, partners.manage", "Tag the companies criteria select {criteria, scope}";
    get "/tenants/{tenant}/relationship-types" => records::relationship_types, "", "read", "Relationship types";
    post "/tenants/{tenant}/relationship-types" => records::add_relationship_type, "json", "schema.manage", "Add a relationship type {name}";
    patch "/tenants/{tenant}/relationship-types/{key}" => records::rename_relationship_type, "json", "schema.manage", "Rename a relationship type {name}";
    delete "/tenants/{tenant}/relationship-types/{key}" => records::delete_relationship_type, "", "schema.manage", "Delete a relationship type";
    get "/tenants/{tenant}/relationships" => records::relationships, "", "read", "Relationships (?company=ID)";
    post "/tenants/{tenant}/relationships" => records::add_relationship, "json", "companies.edit", "Add a relationship";
    get "/tenants/{tenant}/relationships/{relationship}" => records::relationship, "", "read", "One relationship";
    patch "/tenants/{tenant}/relationships/{relationship}" => records::edit_relationship, "json", "companies.edit", "Edit a relationship";
    delete "/tenants/{tenant}/relationships/{relationship}" => records::delete_relationship, "", "companies.edit", "Delete a relationship";
    post "/tenants/{tenant}/plans" => plans::create_plan, "json", "plans.create", "Create a plan";
    get "/tenants/{tenant}/plans/{plan}" => plans::plan, "", "read", "A plan with its objectives, tasks and CTAs";
    post "/tenants/{tenant}/plans/{plan}/status" => plans::set_status, "json", "plans.activate", "Move a plan {status, reason}";
    post "/tenants/{tenant}/plans/{plan}/objectives" => plans::add_objective, "json", "plans.create", "Add an objective {name, due_date, shared_externally}";
    post "/tenants/{tenant}/objectives/{objective}/tasks" => plans::add_objective_task, "json", "plans.create", "Add a task to an objective";
    patch "/tenants/{tenant}/tasks/{task}" => plans::update_task, "json", "plans.create (due date), ctas.manage (done)", "Update a task {done, due_date}";
    get "/tenants/{tenant}/ctas" => plans::ctas, "", "read", "CTAs (?company=ID, or the cockpit's open CTAs)";
    post "/tenants/{tenant}/ctas" => plans::open_cta, "json", "ctas.manage", "Open a CTA";
    patch "/tenants/{tenant}/ctas/{cta}" => plans::update_cta, "json", "ctas.manage", "Update a CTA {due_date, owner}";
    post "/tenants/{tenant}/ctas/{cta}/close" => plans::close_cta, "json", "ctas.manage", "Close a CTA {reason}";
    post "/tenants/{tenant}/ctas/{cta}/reopen" => plans::reopen_cta, "", "ctas.manage", "Reopen a CTA";
    post "/tenants/{tenant}/ctas/{cta}/tasks" => plans::add_cta_task, "json", "ctas.manage", "Add a task to a CTA";
    get "/tenants/{tenant}/shares" => plans::shares, "", "read", "The manage-shares view (?plan=ID)";
    post "/tenants/{tenant}/shares" => plans::share, "json", "plans.share", "Share a plan";
    post "/tenants/{tenant}/shares/{recipient}/revoke" => plans::revoke_share, "", "shares.revoke", "Revoke one recipient's link";
    post "/tenants/{tenant}/shares/{recipient}/reissue" => plans::reissue_share, "", "plans.share", "Re-issue one recipient's link";
    get "/tenants/{tenant}/outbox" => plans::outbox, "", "outbox.deliver", "The outbox (?status=pending)";
    get "/tenants/{tenant}/audit" => plans::audit_log, "", "logs.read", "The audit log";
    get "/tenants/{tenant}/plugins" => plugins::enablements, "", "read", "The tenant's enablements";
    get "/tenants/{tenant}/available-plugins" => plugins::available, "", "plugins.manage", "The installed plugins the tenant may enable, with its enablement of each";
    get "/tenants/{tenant}/plugins/{plugin}" => plugins::enablement, "", "read", "One enablement";
    put "/tenants/{tenant}/plugins/{plugin}" => plugins::enable, "json", "plugins.manage", "Enable {version, config, priority, limits, policy, grants, follow_latest, breaker_threshold, admin}";
    post "/tenants/{tenant}/plugins/{plugin}/disable" => plugins::disable, "", "plugins.manage", "Disable";
    put "/tenants/{tenant}/plugins/{plugin}/config" => plugins::configure, "json", "plugins.manage", "Replace the configuration {key: value}";
    patch "/tenants/{tenant}/plugins/{plugin}" => plugins::tune, "json", "plugins.manage", "Change how it runs {limits, policy, priority, breaker_threshold}; stays enabled or disabled";
    put "/tenants/{tenant}/plugins/{plugin}/limits" => plugins::set_limits, "json", "plugins.manage", "Change some limits (within the platform maxima); stays enabled or disabled";
    put "/tenants/{tenant}/plugins/{plugin}/policy" => plugins::set_policy, "json", "plugins.manage", "Set the failure policy {policy}; stays enabled or disabled";
    put "/tenants/{tenant}/plugins/{plugin}/grants/{capability}" => plugins::grant, "", "plugins.manage", "Grant a capability";
    delete "/tenants/{tenant}/plugins/{plugin}/grants/{capability}" => plugins::revoke, "", "plugins.manage", "Revoke a capability";
    get "/tenants/{tenant}/runs/stats" => plugins::stats, "", "logs.read", "Plugin run statistics";
    get "/tenants/{tenant}/runs/failures" => plugins::failures, "", "logs.read", "Recorded failures with their replay inputs (?plugin=)";
    post "/tenants/{tenant}/imports" => imports::upload, "csv", "import", "Upload a CSV: an import job (?target=companies|partners|relationships&scope=&name=)";
    get "/tenants/{tenant}/imports" => imports::jobs, "", "import", "Import jobs";
    get "/tenants/{tenant}/imports/{job}" => imports::job, "", "import", "One job: progress, counts, first row errors";
    get "/tenants/{tenant}/imports/{job}/errors.csv" => imports::error_csv, "", "import", "A job's row errors as CSV";
    post "/tenants/{tenant}/imports/{job}/cancel" => imports::cancel, "", "import", "Cancel a running job";
}

/// An error as the API answers it: a status, a stable code and a message in the command line's
/// words, as `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable code, such as `forbidden`.
    pub code: &'static str,
    /// What went wrong, as the command line says it.
    pub message: String,
    /// Seconds to wait before trying again (a `Retry-After` header), for `rate_limited`.
    pub retry_after: Option<u64>,
}

/// The codes the API adds to the library's ([`cs_host::Error::CODES`]), each with its status.
pub const API_CODES: &[(&str, u16, &str)] = &[
    ("malformed_json", 400, "the body is not JSON"),
    (
        "malformed_json",
        422,
        "the body is JSON, but not the shape the route takes (a field missing, unknown or of \
         the wrong type)",
    ),
    ("invalid_path", 400, "a path parameter is malformed"),
    ("invalid_query", 400, "the query string is malformed"),
    ("no_such_route", 404, "there is no such API route"),
    (
        "unsupported_media_type",
        415,
        "the body's content type is not the one the route takes",
    ),
    (
        "method_not_allowed",
        405,
        "the route exists, but not with this method",
    ),
    ("too_large", 413, "a body over the route's limit"),
    (
        "rate_limited",
        429,
        "the token's rate limit; see Retry-After",
    ),
    (
        "unavailable",
        503,
        "the server is stopping and starts no new import",
    ),
];

/// A route that exists, asked with another method.
async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this API route does not take this method (`/api/v1/openapi.json` lists the routes)"
            .to_owned(),
    )
}

/// The HTTP status of each of the library's error codes.
pub fn status_of(code: &str) -> StatusCode {
    match code {
        "unauthenticated" => StatusCode::UNAUTHORIZED,
        "forbidden" => StatusCode::FORBIDDEN,
        "not_found" => StatusCode::NOT_FOUND,
        "invalid_input" | "limit_exceeded" | "plugin_failed" => StatusCode::UNPROCESSABLE_ENTITY,
        "conflict" => StatusCode::CONFLICT,
        "too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: String) -> ApiError {
        ApiError {
            status,
            code,
            message,
            retry_after: None,
        }
    }

    /// A failure inside the server; what it was is logged, not shown.
    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to complete the request; it is logged".to_owned(),
        )
    }

    /// Refused input the API finds before the library sees it.
    pub fn invalid(message: String) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message)
    }

    /// Refused unless the caller is the platform operator.
    pub fn operator_only(email: &str) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("{email} may not do this: only the platform operator may"),
        )
    }
}

impl From<cs_host::Error> for ApiError {
    fn from(error: cs_host::Error) -> ApiError {
        let code = error.code();
        if code == "internal" {
            // The database, files, the engine, the RNG: the server's trouble, not the caller's.
            // Their messages name files and internals, so they are logged rather than shown.
            tracing::error!(%error, "request failed");
            return ApiError::internal();
        }
        ApiError::new(status_of(code), code, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": { "code": self.code, "message": self.message }
        });
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The request's bearer token, read from its `Authorization` header (a request without one is
/// refused here, 401) but not checked yet: the check, the token's look-up and its rate limit,
/// runs on the blocking pool in the same call as the handler's work ([`on_tenant`],
/// [`Bearer::check`]), so a request hands off to the pool once. The token is checked on every
/// request: a revoked token stops at once.
pub struct Caller(pub Bearer);

/// A bearer token as the request sent it, unchecked.
pub struct Bearer(String);

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &Shared) -> Result<Caller, ApiError> {
        parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .map(|token| Caller(Bearer(token.to_owned())))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "a bearer token is required: send `Authorization: Bearer <token>` \
                     (`cshost token create` makes one)"
                        .to_owned(),
                )
            })
    }
}

impl Bearer {
    /// Whom the token authenticates, counted against the token's rate limit. It reads the
    /// database: call it on the blocking pool, in the call that does the request's work.
    pub fn check(&self, app: &App) -> Result<Authenticated, ApiError> {
        let who = app.host.authenticate(&self.0)?;
        let key = match &who {
            Authenticated::Operator { token } => (true, *token),
            Authenticated::User { token, .. } => (false, *token),
        };
        if let Err(wait) = app.rate.take(key) {
            let mut error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "this token made more requests than its limit allows ({}); try again in \
                     {wait} s",
                    app.rate.describe()
                ),
            );
            error.retry_after = Some(wait);
            return Err(error);
        }
        Ok(who)
    }
}

impl Caller {
    /// Checks the token ([`Bearer::check`]) in a call of its own on the blocking pool, for the
    /// handlers that need to know whom it authenticates before their work starts.
    pub async fn check(self, app: &Shared) -> Result<Authenticated, ApiError> {
        let shared = app.clone();
        blocking(app, move |_| self.0.check(&shared)).await
    }
}

/// Fails unless `who` is the platform operator.
pub(super) fn require_operator(who: &Authenticated) -> Result<(), ApiError> {
    match who {
        Authenticated::Operator { .. } => Ok(()),
        Authenticated::User { email, .. } => Err(ApiError::operator_only(email)),
    }
}

/// A JSON body; malformed JSON, a wrong content type and an oversize body answer as API errors.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Body<T>, ApiError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        _ => "malformed_json",
    };
    let message = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("the request body is over the limit of {MAX_BODY} bytes")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            "the request body must be JSON: send `Content-Type: application/json`".to_owned()
        }
        _ => format!(
            "the request body is not valid JSON: {}",
            rejection.body_text()
        ),
    };
    ApiError::new(status, code, message)
}

/// Path parameters; a malformed one (an id that is not a number) answers as an API error.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Params<T>, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Params(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_path",
        rejection.body_text(),
    )
}

/// The query string; a malformed one answers as an API error.
pub struct QueryOf<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryOf<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<QueryOf<T>, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(QueryOf(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        rejection.body_text(),
    )
}

/// The request's `Content-Length`, when it gives one: an upload over its limit is refused from
/// it before the body is read.
fn content_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Checks the token and runs `work` on the tenant handle it reaches, in one call on the blocking
/// pool.
async fn on_tenant<T: Send + 'static>(
    app: &Shared,
    token: Bearer,
    tenant: String,
    work: impl FnOnce(&Tenant<'_>) -> cs_host::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    with_tenant(app, token, tenant, move |t| work(t).map_err(ApiError::from)).await
}

/// As [`on_tenant`], for work that fails with API errors of its own.
async fn with_tenant<T: Send + 'static>(
    app: &Shared,
    token: Bearer,
    tenant: String,
    work: impl FnOnce(&Tenant<'_>) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let shared = app.clone();
    blocking(app, move |host: &Host| {
        let who = token.check(&shared)?;
        let handle = host.tenant_for(&who, &tenant)?;
        work(&handle)
    })
    .await
}

/// Checks the token and runs `work` on the host for the platform operator (whose name for the
/// audit log is `work`'s second argument), in one call on the blocking pool.
async fn as_operator<T: Send + 'static>(
    app: &Shared,
    caller: Caller,
    work: impl FnOnce(&Host, &Authenticated) -> cs_host::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let shared = app.clone();
    blocking(app, move |host: &Host| {
        let who = caller.0.check(&shared)?;
        require_operator(&who)?;
        work(host, &who).map_err(ApiError::from)
    })
    .await
}

/// The answer to a creation: the new record's id.
#[derive(Serialize, schemars::JsonSchema)]
struct Created {
    id: i64,
}

/// `201 Created` with the new id.
fn created(id: i64) -> New<Created> {
    New(Created { id })
}

/// An answer `201 Created` with the new record as JSON.
pub struct New<T>(pub T);

impl<T: Serialize> IntoResponse for New<T> {
    fn into_response(self) -> Response {
        (StatusCode::CREATED, Json(self.0)).into_response()
    }
}

/// The answer to a change that returns nothing.
#[derive(Serialize, schemars::JsonSchema)]
struct Done {
    done: bool,
}

fn done() -> Json<Done> {
    Json(Done { done: true })
}

/// Paging of a list: records after id `after`, at most `limit`.
#[derive(Deserialize, schemars::JsonSchema)]
struct Page {
    #[serde(default)]
    after: i64,
    limit: Option<usize>,
    search: Option<String>,
}
