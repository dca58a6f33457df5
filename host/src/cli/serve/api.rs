//! The JSON API under `/api/v1`: bearer tokens, errors as JSON with a stable code and the words
//! the command line uses, and one handler per resource. Every handler acts through the tenant
//! handle its token resolves to ([`Host::tenant_for`]), so the library's permission checks and
//! partner scoping apply as they do on the command line.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cs_host::access::Authenticated;
use cs_host::model::{AccessScope, Fields};
use cs_host::{ErrorKind, Host, NewCompany, OutboxStatus, Tenant};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Shared, blocking};

/// The largest request body the API reads, in bytes.
pub const MAX_BODY: usize = 1024 * 1024;

/// The most records one page of a list returns.
const MAX_PAGE: usize = 1000;

/// The API's routes, under `/api/v1`.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/whoami", get(whoami))
        .route("/plugins", get(installed_plugins))
        .route(
            "/tenants/{tenant}/companies",
            get(companies).post(add_company),
        )
        .route("/tenants/{tenant}/companies/{company}/plans", get(plans))
        .route(
            "/tenants/{tenant}/partners",
            get(partners).post(add_partner),
        )
        .route("/tenants/{tenant}/shares", get(shares))
        .route(
            "/tenants/{tenant}/shares/{recipient}/revoke",
            post(revoke_share),
        )
        .route("/tenants/{tenant}/outbox", get(outbox))
        .route("/tenants/{tenant}/plugins", get(tenant_plugins))
        .route("/tenants/{tenant}/audit", get(audit_log))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// An error as the API answers it: a status, a stable code and a message in the command line's
/// words, as `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable code, such as `permission_denied`.
    pub code: &'static str,
    /// What went wrong, as the command line says it.
    pub message: String,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: String) -> ApiError {
        ApiError {
            status,
            code,
            message,
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
}

impl From<cs_host::Error> for ApiError {
    fn from(error: cs_host::Error) -> ApiError {
        use StatusCode as S;
        let (status, code) = match error.kind() {
            ErrorKind::Unauthenticated => (S::UNAUTHORIZED, "unauthenticated"),
            ErrorKind::PermissionDenied { .. } => (S::FORBIDDEN, "permission_denied"),
            ErrorKind::OutOfScope { .. } => (S::FORBIDDEN, "out_of_scope"),
            ErrorKind::UnknownActor { .. } => (S::FORBIDDEN, "unknown_actor"),
            ErrorKind::UnknownTenant(_) => (S::NOT_FOUND, "unknown_tenant"),
            ErrorKind::NotFound { .. } => (S::NOT_FOUND, "not_found"),
            ErrorKind::UnknownPlugin { .. } => (S::NOT_FOUND, "unknown_plugin"),
            ErrorKind::PluginNotEnabled { .. } => (S::NOT_FOUND, "plugin_not_enabled"),
            ErrorKind::LinkUnavailable => (S::NOT_FOUND, "link_unavailable"),
            ErrorKind::Invalid(_) => (S::UNPROCESSABLE_ENTITY, "invalid"),
            ErrorKind::InvalidField { .. } => (S::UNPROCESSABLE_ENTITY, "invalid_field"),
            ErrorKind::Csv { .. } => (S::UNPROCESSABLE_ENTITY, "invalid_csv"),
            ErrorKind::Criteria { .. } => (S::UNPROCESSABLE_ENTITY, "invalid_criteria"),
            ErrorKind::PluginConfig { .. } => (S::UNPROCESSABLE_ENTITY, "invalid_plugin_config"),
            ErrorKind::LimitsExceeded { .. } => (S::UNPROCESSABLE_ENTITY, "limits_exceeded"),
            ErrorKind::FileTooLarge { .. } => (S::PAYLOAD_TOO_LARGE, "file_too_large"),
            ErrorKind::TenantExists(_) => (S::CONFLICT, "tenant_exists"),
            ErrorKind::AlreadyManaged { .. } => (S::CONFLICT, "already_managed"),
            ErrorKind::PluginInUse { .. } => (S::CONFLICT, "plugin_in_use"),
            ErrorKind::CtaDueBeforeTask { .. } => (S::CONFLICT, "cta_due_before_task"),
            ErrorKind::PlanTransitionRefused { .. } => (S::CONFLICT, "plan_transition_refused"),
            ErrorKind::ShareRefused { .. } => (S::UNPROCESSABLE_ENTITY, "share_refused"),
            ErrorKind::SeatsExhausted { .. } => (S::CONFLICT, "seats_exhausted"),
            ErrorKind::Otp(_) => (S::UNPROCESSABLE_ENTITY, "otp_refused"),
            ErrorKind::SessionRequired => (S::UNAUTHORIZED, "session_required"),
            ErrorKind::RecipientRefused { .. } => (S::FORBIDDEN, "recipient_refused"),
            ErrorKind::Plugin(_) => (S::UNPROCESSABLE_ENTITY, "plugin_failed"),
            // The database, files, the engine, the RNG: the server's trouble, not the caller's.
            // Their messages name files and internals, so they are logged rather than shown.
            _ => {
                tracing::error!(%error, "request failed");
                return ApiError::internal();
            }
        };
        ApiError::new(status, code, error.to_string())
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
        response
    }
}

/// Whom the request's bearer token authenticates, checked on every request (a revoked token
/// stops at once).
pub struct Caller(pub Authenticated);

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Caller, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(|token| token.trim().to_owned())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "a bearer token is required: send `Authorization: Bearer <token>` \
                     (`cshost token create` makes one)"
                        .to_owned(),
                )
            })?;
        let who = blocking(app, move |host| {
            host.authenticate(&token).map_err(ApiError::from)
        })
        .await?;
        Ok(Caller(who))
    }
}

impl Caller {
    /// Fails unless the token is the platform operator's.
    pub(super) fn require_operator(&self) -> Result<(), ApiError> {
        match &self.0 {
            Authenticated::Operator { .. } => Ok(()),
            Authenticated::User { email, .. } => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "permission_denied",
                format!("{email} may not do this: only the platform operator may"),
            )),
        }
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
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
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

/// Runs `work` on the tenant handle `who` reaches as, on the blocking pool.
async fn on_tenant<T: Send + 'static>(
    app: &Shared,
    who: Authenticated,
    tenant: String,
    work: impl FnOnce(&Tenant<'_>) -> cs_host::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    blocking(app, move |host: &Host| {
        let handle = host.tenant_for(&who, &tenant)?;
        work(&handle).map_err(ApiError::from)
    })
    .await
}

/// `GET /api/v1/whoami`: whom the token acts as.
async fn whoami(Caller(who): Caller) -> Json<serde_json::Value> {
    Json(match who {
        Authenticated::Operator { token } => {
            serde_json::json!({ "role": "platform_operator", "token": token })
        }
        Authenticated::User {
            token,
            tenant,
            email,
        } => serde_json::json!({ "tenant": tenant, "user": email, "token": token }),
    })
}

/// `GET /api/v1/plugins`: the plugins installed on the platform (the platform operator's).
async fn installed_plugins(
    State(app): State<Shared>,
    caller: Caller,
) -> Result<Json<Vec<cs_host::InstalledPlugin>>, ApiError> {
    caller.require_operator()?;
    blocking(&app, |host| {
        host.installed_plugins().map_err(ApiError::from)
    })
    .await
    .map(Json)
}

/// Paging of a list: records after id `after`, at most `limit`.
#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    after: i64,
    limit: Option<usize>,
}

/// `GET /api/v1/tenants/{tenant}/companies?after=&limit=`.
async fn companies(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    QueryOf(page): QueryOf<Page>,
) -> Result<Json<Vec<cs_host::model::Company>>, ApiError> {
    let limit = page.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    on_tenant(&app, who, tenant, move |t| {
        t.companies().page(page.after, limit)
    })
    .await
    .map(Json)
}

/// A company to add: its name, fields by name, and the partner that manages it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompanyForm {
    name: String,
    #[serde(default)]
    fields: Fields,
    #[serde(default)]
    managed_by: Option<i64>,
}

impl CompanyForm {
    fn into_new(self) -> NewCompany {
        NewCompany {
            name: self.name,
            managed_by: self.managed_by,
            fields: self.fields,
            ..NewCompany::default()
        }
    }
}

#[derive(Serialize)]
struct Created {
    id: i64,
}

/// `POST /api/v1/tenants/{tenant}/companies`: adds a customer company.
async fn add_company(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    Body(form): Body<CompanyForm>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let id = on_tenant(&app, who, tenant, move |t| {
        t.companies().add(form.into_new())
    })
    .await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// `GET /api/v1/tenants/{tenant}/companies/{company}/plans`.
async fn plans(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, company)): Params<(String, i64)>,
) -> Result<Json<Vec<cs_host::Plan>>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.plans().list(company))
        .await
        .map(Json)
}

/// `GET /api/v1/tenants/{tenant}/partners`.
async fn partners(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
) -> Result<Json<Vec<cs_host::model::Partner>>, ApiError> {
    on_tenant(&app, who, tenant, |t| t.partners().list())
        .await
        .map(Json)
}

/// A partner to add: a company, and the records its users may reach (at both levels only).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartnerForm {
    name: String,
    #[serde(default)]
    fields: Fields,
    #[serde(default)]
    scope: Option<AccessScope>,
}

#[derive(Serialize)]
struct PartnerAdded {
    id: i64,
    hooks: cs_host::HookReport,
}

/// `POST /api/v1/tenants/{tenant}/partners`: adds a partner (running the *partner created*
/// hook, as the command line does).
async fn add_partner(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    Body(form): Body<PartnerForm>,
) -> Result<(StatusCode, Json<PartnerAdded>), ApiError> {
    let (id, hooks) = on_tenant(&app, who, tenant, move |t| {
        let company = NewCompany {
            name: form.name,
            fields: form.fields,
            ..NewCompany::default()
        };
        t.partners().add(company, form.scope)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(PartnerAdded { id, hooks })))
}

#[derive(Deserialize)]
struct SharesQuery {
    plan: Option<i64>,
}

/// `GET /api/v1/tenants/{tenant}/shares?plan=`: the manage-shares view.
async fn shares(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    QueryOf(query): QueryOf<SharesQuery>,
) -> Result<Json<Vec<cs_host::ShareRow>>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.shares().list(query.plan))
        .await
        .map(Json)
}

#[derive(Serialize)]
struct Revoked {
    revoked: bool,
}

/// `POST /api/v1/tenants/{tenant}/shares/{recipient}/revoke`: revokes one recipient's link.
async fn revoke_share(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, recipient)): Params<(String, i64)>,
) -> Result<Json<Revoked>, ApiError> {
    on_tenant(&app, who, tenant, move |t| {
        t.shares().revoke_recipient(recipient)
    })
    .await
    .map(|revoked| Json(Revoked { revoked }))
}

#[derive(Deserialize)]
struct OutboxQuery {
    status: Option<String>,
}

/// `GET /api/v1/tenants/{tenant}/outbox?status=pending`: the outbox (its backlog with
/// `status=pending`).
async fn outbox(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    QueryOf(query): QueryOf<OutboxQuery>,
) -> Result<Json<Vec<cs_host::OutboxMessage>>, ApiError> {
    let status = query
        .status
        .map(|s| s.parse::<OutboxStatus>())
        .transpose()
        .map_err(ApiError::from)?;
    on_tenant(&app, who, tenant, move |t| t.outbox().list(status))
        .await
        .map(Json)
}

/// `GET /api/v1/tenants/{tenant}/plugins`: the tenant's enablements.
async fn tenant_plugins(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
) -> Result<Json<Vec<cs_host::Enablement>>, ApiError> {
    on_tenant(&app, who, tenant, |t| t.plugins().list())
        .await
        .map(Json)
}

/// `GET /api/v1/tenants/{tenant}/audit`: the tenant's audit log, oldest first.
async fn audit_log(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
) -> Result<Json<Vec<cs_host::AuditEntry>>, ApiError> {
    on_tenant(&app, who, tenant, |t| t.audit().list())
        .await
        .map(Json)
}
