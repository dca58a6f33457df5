//! Whom a token acts as, tenants (the platform operator's) and the users of a tenant.

use axum::Json;
use axum::extract::State;
use cs_host::access::Authenticated;
use cs_host::{Licence, TenantInfo, TenantLevel, User};
use serde::{Deserialize, Serialize};

use super::{
    ApiError, Body, Caller, New, Params, QueryOf, Shared, as_operator, blocking, on_tenant,
};

/// Whom a token acts as: the platform operator, or a user of a tenant.
#[derive(Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum WhoAmI {
    /// The platform operator.
    Operator {
        /// Always `platform_operator`.
        role: Role,
        /// The token's id.
        token: i64,
    },
    /// A user of a tenant.
    User {
        /// The tenant's id.
        tenant: String,
        /// The user's email.
        user: String,
        /// The token's id.
        token: i64,
    },
}

/// The platform operator's role, as `whoami` names it.
#[derive(Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The platform operator.
    PlatformOperator,
}

/// `GET /api/v1/whoami`: whom the token acts as.
pub async fn whoami(State(app): State<Shared>, caller: Caller) -> Result<Json<WhoAmI>, ApiError> {
    Ok(Json(match caller.check(&app).await? {
        Authenticated::Operator { token } => WhoAmI::Operator {
            role: Role::PlatformOperator,
            token,
        },
        Authenticated::User {
            token,
            tenant,
            email,
        } => WhoAmI::User {
            tenant,
            user: email,
            token,
        },
    }))
}

/// `GET /api/v1/tenants`: every tenant for the platform operator, a user's own tenant for a
/// user.
pub async fn list(
    State(app): State<Shared>,
    Caller(token): Caller,
) -> Result<Json<Vec<TenantInfo>>, ApiError> {
    let shared = app.clone();
    blocking(&app, move |host| {
        let who = token.check(&shared)?;
        let mut tenants = host.tenants().map_err(ApiError::from)?;
        if let Authenticated::User { tenant, .. } = &who {
            tenants.retain(|t| &t.id == tenant);
        }
        Ok(tenants)
    })
    .await
    .map(Json)
}

/// A tenant to create.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    id: String,
    name: String,
    level: TenantLevel,
}

/// `POST /api/v1/tenants`: creates a tenant (the platform operator only).
pub async fn create(
    State(app): State<Shared>,
    caller: Caller,
    Body(form): Body<NewTenant>,
) -> Result<New<TenantInfo>, ApiError> {
    let tenant = as_operator(&app, caller, move |host, _| {
        host.create_tenant(&form.id, &form.name, form.level)
    })
    .await?;
    Ok(New(tenant))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct UsersQuery {
    partner: Option<i64>,
}

/// `GET /api/v1/tenants/{tenant}/users?partner=`.
pub async fn users(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    QueryOf(query): QueryOf<UsersQuery>,
) -> Result<Json<Vec<User>>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.users().list(query.partner))
        .await
        .map(Json)
}

/// A user to add: a tenant admin (`"admin": true`), a partner's user (`"partner": ID`), or a
/// user with a licence.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    licence: Option<Licence>,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    partner: Option<i64>,
}

/// `POST /api/v1/tenants/{tenant}/users`.
pub async fn add_user(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    Body(form): Body<NewUser>,
) -> Result<New<User>, ApiError> {
    let kinds = usize::from(form.admin)
        + usize::from(form.partner.is_some())
        + usize::from(form.licence.is_some());
    if kinds != 1 {
        return Err(ApiError::invalid(
            "a user is one of: a tenant admin (\"admin\": true), a partner's user (\"partner\": \
             ID) or a user with a licence (\"licence\": \"full\", \"viewer\", ...)"
                .to_owned(),
        ));
    }
    let user = on_tenant(&app, who, tenant, move |t| {
        match (form.admin, form.partner, form.licence) {
            (true, _, _) => t.access().add_admin(&form.email, &form.name),
            (_, Some(partner), _) => t.users().add_partner(partner, &form.email, &form.name),
            (_, _, licence) => {
                t.users()
                    .add(&form.email, &form.name, licence.unwrap_or(Licence::Full))
            }
        }
    })
    .await?;
    Ok(New(user))
}
