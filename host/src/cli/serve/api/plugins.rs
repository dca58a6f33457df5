//! Plugins: installed on the platform (the platform operator's), enabled per tenant (its
//! admins'), and their run log.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use cs_host::access::Authenticated;
use cs_host::{
    AvailablePlugin, Capability, EnableOptions, Enablement, FailurePolicy, Installed,
    InstalledPlugin, Limits, RecordedFailure, RunStats, Tuning,
};
use serde::Deserialize;

use super::{ApiError, Bearer, Body, Caller, New, Params, QueryOf, Shared, as_operator, on_tenant};

/// The first bytes of every WebAssembly binary, a component's included.
const WASM_MAGIC: &[u8] = b"\0asm";

/// The name the audit log records for an operator's token.
fn operator(who: &Authenticated) -> String {
    match who {
        Authenticated::Operator { token } => {
            format!("{} (token {token})", cs_host::access::OPERATOR)
        }
        Authenticated::User { email, .. } => email.clone(),
    }
}

/// `GET /api/v1/plugins`: the plugins installed on the platform.
pub async fn installed(
    State(app): State<Shared>,
    caller: Caller,
) -> Result<Json<Vec<InstalledPlugin>>, ApiError> {
    as_operator(&app, caller, |host, _| host.installed_plugins())
        .await
        .map(Json)
}

/// `POST /api/v1/plugins`: installs the component the body holds (at most the platform's
/// `--max-plugin-size`), validated by the library as `cshost plugin install` does. Who is not
/// the operator, and a `Content-Length` over the maximum, are refused before the body is read.
pub async fn install(
    State(app): State<Shared>,
    caller: Caller,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<New<Installed>, ApiError> {
    let who = caller.check(&app).await?;
    super::require_operator(&who)?;
    let max = app.max_plugin_size;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the plugin is over the platform's maximum of {max} bytes"),
        )
    };
    if super::content_length(&headers).is_some_and(|length| length > max as u64) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, max)
        .await
        .map_err(|_| too_large())?;
    if !bytes.starts_with(WASM_MAGIC) {
        return Err(ApiError::invalid(
            "the body is not a WebAssembly component (a `.wasm` file starts with `\\0asm`): \
             send the component's bytes as `application/wasm`"
                .to_owned(),
        ));
    }
    // The token was checked before the body was read; it is not checked again.
    let installed = super::blocking(&app, move |host| {
        host.install_plugin(&bytes, &operator(&who))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(New(installed))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct VersionQuery {
    version: Option<String>,
    #[serde(default)]
    force: bool,
}

/// `GET /api/v1/plugins/{plugin}?version=`: one installed plugin, its manifest.
pub async fn inspect(
    State(app): State<Shared>,
    caller: Caller,
    Params(name): Params<String>,
    QueryOf(query): QueryOf<VersionQuery>,
) -> Result<Json<InstalledPlugin>, ApiError> {
    as_operator(&app, caller, move |host, _| {
        host.installed_plugin(&name, query.version.as_deref())
    })
    .await
    .map(Json)
}

/// `DELETE /api/v1/plugins/{plugin}?version=&force=true`: uninstalls; returns what was removed.
pub async fn uninstall(
    State(app): State<Shared>,
    caller: Caller,
    Params(name): Params<String>,
    QueryOf(query): QueryOf<VersionQuery>,
) -> Result<Json<Vec<InstalledPlugin>>, ApiError> {
    as_operator(&app, caller, move |host, who| {
        host.uninstall_plugin(&name, query.version.as_deref(), query.force, &operator(who))
    })
    .await
    .map(Json)
}

/// `GET /api/v1/tenants/{tenant}/plugins`: the tenant's enablements.
pub async fn enablements(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
) -> Result<Json<Vec<Enablement>>, ApiError> {
    on_tenant(&app, who, tenant, |t| t.plugins().list())
        .await
        .map(Json)
}

/// `GET /api/v1/tenants/{tenant}/plugins/{plugin}`.
pub async fn enablement(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, name)): Params<(String, String)>,
) -> Result<Json<Enablement>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.plugins().get(&name))
        .await
        .map(Json)
}

/// How to enable a plugin; what is left out keeps its value (or takes the default).
#[derive(Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableForm {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    config: Option<BTreeMap<String, String>>,
    #[serde(default)]
    priority: Option<i32>,
    /// Some limits, over the current ones (or the defaults).
    #[serde(default)]
    limits: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    policy: Option<FailurePolicy>,
    #[serde(default)]
    grants: Vec<Capability>,
    #[serde(default)]
    follow_latest: Option<bool>,
    #[serde(default)]
    breaker_threshold: Option<u32>,
    #[serde(default)]
    admin: Option<String>,
}

/// `limits` over `current`: the fields given replace theirs.
fn merged_limits(
    current: Limits,
    given: serde_json::Map<String, serde_json::Value>,
) -> Result<Limits, ApiError> {
    let mut value = serde_json::to_value(current).map_err(|_| ApiError::internal())?;
    if let Some(object) = value.as_object_mut() {
        for (key, v) in given {
            if !object.contains_key(&key) {
                return Err(ApiError::invalid(format!(
                    "unknown limit `{key}`: the limits are {}",
                    object.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            object.insert(key, v);
        }
    }
    serde_json::from_value(value).map_err(|e| ApiError::invalid(format!("limits: {e}")))
}

/// Enables with `form` on the blocking pool.
async fn enable_with(
    app: &Shared,
    token: Bearer,
    tenant: String,
    name: String,
    form: EnableForm,
) -> Result<Json<Enablement>, ApiError> {
    super::with_tenant(app, token, tenant, move |t| {
        let mut options = EnableOptions::new();
        if let Some(version) = form.version {
            options = options.version(version);
        }
        if let Some(config) = form.config {
            options = options.config_map(config);
        }
        if let Some(priority) = form.priority {
            options = options.priority(priority);
        }
        if let Some(given) = form.limits {
            let current = t.plugins().get(&name).map(|e| e.limits).unwrap_or_default();
            options = options.limits(merged_limits(current, given)?);
        }
        if let Some(policy) = form.policy {
            options = options.failure_policy(policy);
        }
        for grant in form.grants {
            options = options.grant(grant);
        }
        if let Some(follow) = form.follow_latest {
            options = options.follow_latest(follow);
        }
        if let Some(threshold) = form.breaker_threshold {
            options = options.breaker_threshold(threshold);
        }
        if let Some(admin) = form.admin {
            options = options.admin(admin);
        }
        t.plugins().enable(&name, options).map_err(ApiError::from)
    })
    .await
    .map(Json)
}

/// `PUT /api/v1/tenants/{tenant}/plugins/{plugin}`: enables (or changes an enablement).
pub async fn enable(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, name)): Params<(String, String)>,
    Body(form): Body<EnableForm>,
) -> Result<Json<Enablement>, ApiError> {
    enable_with(&app, who, tenant, name, form).await
}

/// How an enablement runs, changed without enabling or disabling it; what is left out keeps
/// its value.
#[derive(Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TuneForm {
    /// Some limits, over the current ones.
    #[serde(default)]
    limits: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    policy: Option<FailurePolicy>,
    #[serde(default)]
    priority: Option<i32>,
    #[serde(default)]
    breaker_threshold: Option<u32>,
}

/// Tunes with `form` on the blocking pool ([`cs_host::Plugins::tune`]).
async fn tune_with(
    app: &Shared,
    token: Bearer,
    tenant: String,
    name: String,
    form: TuneForm,
) -> Result<Json<Enablement>, ApiError> {
    super::with_tenant(app, token, tenant, move |t| {
        let limits = match form.limits {
            Some(given) => Some(merged_limits(t.plugins().get(&name)?.limits, given)?),
            None => None,
        };
        let tuning = Tuning {
            limits,
            policy: form.policy,
            priority: form.priority,
            breaker_threshold: form.breaker_threshold,
        };
        t.plugins().tune(&name, tuning).map_err(ApiError::from)
    })
    .await
    .map(Json)
}

/// `PATCH /api/v1/tenants/{tenant}/plugins/{plugin}`: limits, policy, priority and breaker
/// threshold of an enablement, which stays enabled or disabled as it is.
pub async fn tune(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, name)): Params<(String, String)>,
    Body(form): Body<TuneForm>,
) -> Result<Json<Enablement>, ApiError> {
    tune_with(&app, who, tenant, name, form).await
}

/// `PUT /api/v1/tenants/{tenant}/plugins/{plugin}/limits`: some limits, over the current ones.
pub async fn set_limits(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, name)): Params<(String, String)>,
    Body(limits): Body<serde_json::Map<String, serde_json::Value>>,
) -> Result<Json<Enablement>, ApiError> {
    let form = TuneForm {
        limits: Some(limits),
        ..TuneForm::default()
    };
    tune_with(&app, who, tenant, name, form).await
}

/// A failure policy.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyForm {
    policy: FailurePolicy,
}

/// `PUT /api/v1/tenants/{tenant}/plugins/{plugin}/policy`.
pub async fn set_policy(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, name)): Params<(String, String)>,
    Body(form): Body<PolicyForm>,
) -> Result<Json<Enablement>, ApiError> {
    let form = TuneForm {
        policy: Some(form.policy),
        ..TuneForm::default()
    };
    tune_with(&app, who, tenant, name, form).await
}

/// `GET /api/v1/tenants/{tenant}/available-plugins`: what the tenant's admins may enable, with
/// the tenant's enablement of each ([`cs_host::Plugins::available`]).
pub async fn available(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
) -> Result<Json<Vec<AvailablePlugin>>, ApiError> {
    on_tenant(&app, who, tenant, |t| t.plugins().available())
        .await
        .map(Json)
}

/// `POST /api/v1/tenants/{tenant}/plugins/{plugin}/disable`.
pub async fn disable(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, name)): Params<(String, String)>,
) -> Result<Json<Enablement>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.plugins().disable(&name))
        .await
        .map(Json)
}

/// `PUT /api/v1/tenants/{tenant}/plugins/{plugin}/config`: the body is the whole
/// configuration, `{"key": "value"}`.
pub async fn configure(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, name)): Params<(String, String)>,
    Body(config): Body<BTreeMap<String, String>>,
) -> Result<Json<Enablement>, ApiError> {
    on_tenant(&app, who, tenant, move |t| {
        t.plugins().configure(&name, config)
    })
    .await
    .map(Json)
}

fn capability(text: &str) -> Result<Capability, ApiError> {
    text.parse()
        .map_err(|e: cs_host::UnknownCapability| ApiError::invalid(e.to_string()))
}

/// `PUT /api/v1/tenants/{tenant}/plugins/{plugin}/grants/{capability}`.
pub async fn grant(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, name, granted)): Params<(String, String, String)>,
) -> Result<Json<Enablement>, ApiError> {
    let granted = capability(&granted)?;
    on_tenant(&app, who, tenant, move |t| {
        t.plugins().grant(&name, granted)
    })
    .await
    .map(Json)
}

/// `DELETE /api/v1/tenants/{tenant}/plugins/{plugin}/grants/{capability}`.
pub async fn revoke(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, name, revoked)): Params<(String, String, String)>,
) -> Result<Json<Enablement>, ApiError> {
    let revoked = capability(&revoked)?;
    on_tenant(&app, who, tenant, move |t| {
        t.plugins().revoke(&name, revoked)
    })
    .await
    .map(Json)
}

/// `GET /api/v1/tenants/{tenant}/runs/stats`: calls, failures and durations per plugin and hook.
pub async fn stats(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
) -> Result<Json<Vec<RunStats>>, ApiError> {
    on_tenant(&app, who, tenant, |t| t.plugins().stats())
        .await
        .map(Json)
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct FailuresQuery {
    plugin: Option<String>,
}

/// `GET /api/v1/tenants/{tenant}/runs/failures?plugin=`: recorded failures, newest first, each
/// with the input, configuration and grants that replay it (`cshost plugin run`, as
/// `cshost tenant stats --replay` writes them).
pub async fn failures(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    QueryOf(query): QueryOf<FailuresQuery>,
) -> Result<Json<Vec<RecordedFailure>>, ApiError> {
    on_tenant(&app, who, tenant, move |t| {
        t.plugins().failures(query.plugin.as_deref())
    })
    .await
    .map(Json)
}
