//! Who may do what: the principal every operation runs as, the permissions it holds, and the
//! partner scope that confines a partner user to what its partner manages.
//!
//! Every library operation runs as a [`Principal`] of its tenant:
//! - the **platform operator** ([`Host::tenant`](crate::Host::tenant) without a user: the
//!   embedding application, or on the local CLI whoever can write the database file), who
//!   stands above tenants and may do everything;
//! - a **tenant admin** (a Full user holding the built-in `admin` bundle);
//! - an **internal user**, with the permissions of its licence's built-in bundle and the bundles
//!   an admin assigned, capped by the licence (Viewer licences read only);
//! - a **partner user**, with the partner bundle narrowed by its partner's data permissions, and
//!   confined to the records its partner manages ([`PartnerScope`]);
//! - the **system** (hooks, resumers, the outbox);
//! - an **external recipient** holding a shared link (it reaches one shared plan, by its link).
//!
//! Permissions are checked where the operation starts, inside the library (`Op::require`);
//! the partner scope is part of the SQL of the repositories that read the scoped records, so a
//! record outside it answers as if it did not exist.

mod admin;
mod permissions;
mod tokens;

use std::fmt;
use std::sync::{Arc, LazyLock};

use serde::Serialize;

use crate::companies::{self, CompanyKey};
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::model::AccessScope;
use crate::users::{self, Licence};

pub use admin::{Access, AccessSettings};
pub use permissions::{
    ADMIN_BUNDLE, BUILTIN_BUNDLES, Bundle, PARTNER_BUNDLE, Permission, Permissions, builtin_bundle,
};
pub use tokens::{Authenticated, NewSession, NewToken, TokenInfo};

pub(crate) use admin::check_partner_seats;
pub(crate) use admin::resolve as resolve_in;

/// The role a principal acts in, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Installs plugins and creates tenants; stands above tenants.
    PlatformOperator,
    /// The host itself: hooks, resumers, the outbox.
    System,
    /// A tenant admin: a Full user holding the `admin` bundle.
    TenantAdmin,
    /// An internal user of the tenant, by licence.
    Internal(Licence),
    /// A partner user: works for a partner, on what the partner manages.
    PartnerUser,
    /// Someone outside the tenant holding a shared link.
    ExternalRecipient,
}

impl Role {
    /// The role's name: `platform_operator`, `system`, `tenant_admin`, `user:full` (by licence),
    /// `partner_user` or `external_recipient`.
    pub fn name(self) -> String {
        match self {
            Role::PlatformOperator => "platform_operator".to_owned(),
            Role::System => "system".to_owned(),
            Role::TenantAdmin => "tenant_admin".to_owned(),
            Role::Internal(licence) => format!("user:{licence}"),
            Role::PartnerUser => "partner_user".to_owned(),
            Role::ExternalRecipient => "external_recipient".to_owned(),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// What a partner user may reach: the records its partner manages, of the kinds the partner's
/// access scope includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct PartnerScope {
    /// The partner company the user works for.
    pub partner_id: i64,
    /// Whether the scope includes companies whose Managed By is the partner.
    pub companies: bool,
    /// Whether the scope includes relationships whose Managed By is the partner.
    pub relationships: bool,
}

impl PartnerScope {
    fn of(partner_id: i64, scope: Option<AccessScope>) -> PartnerScope {
        let (companies, relationships) = match scope {
            Some(AccessScope::CompanyRecords) => (true, false),
            Some(AccessScope::RelationshipRecords) => (false, true),
            Some(AccessScope::Both) => (true, true),
            // A company no longer tagged as a partner: its users reach nothing.
            None => (false, false),
        };
        PartnerScope {
            partner_id,
            companies,
            relationships,
        }
    }

    /// The partner whose companies this scope reaches, if it reaches companies. A scope without
    /// companies reaches none (`Some(None)` never occurs: `None` means no company at all).
    pub(crate) fn company_manager(&self) -> Option<i64> {
        self.companies.then_some(self.partner_id)
    }

    /// The partner whose relationships this scope reaches, if it reaches relationships.
    pub(crate) fn relationship_manager(&self) -> Option<i64> {
        self.relationships.then_some(self.partner_id)
    }
}

/// Who an operation runs as: its name (an email, `operator` or `system`), its role, its
/// permissions and, for a partner user, its partner scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Principal {
    name: String,
    role: Role,
    user_id: Option<i64>,
    permissions: Permissions,
    partner: Option<PartnerScope>,
}

/// The audit name of the platform operator.
pub const OPERATOR: &str = "operator";

static SYSTEM: LazyLock<Principal> = LazyLock::new(|| Principal {
    name: "system".to_owned(),
    role: Role::System,
    user_id: None,
    permissions: Permissions::all(),
    partner: None,
});

static OPERATOR_PRINCIPAL: LazyLock<Arc<Principal>> = LazyLock::new(|| {
    Arc::new(Principal {
        name: OPERATOR.to_owned(),
        role: Role::PlatformOperator,
        user_id: None,
        permissions: Permissions::all(),
        partner: None,
    })
});

impl Principal {
    /// The system principal: hooks, resumers and the outbox run as it.
    pub fn system() -> &'static Principal {
        &SYSTEM
    }

    /// The platform operator.
    pub(crate) fn operator() -> Arc<Principal> {
        OPERATOR_PRINCIPAL.clone()
    }

    /// An external recipient holding a link sent to `email`; it may do nothing through a
    /// tenant handle, only open what its link shows.
    pub fn recipient(email: &str) -> Principal {
        Principal {
            name: email.trim().to_owned(),
            role: Role::ExternalRecipient,
            user_id: None,
            permissions: Permissions::NONE,
            partner: None,
        }
    }

    /// A principal that may do nothing and see nothing (what a handle whose user cannot be
    /// resolved gives a plugin's look-ups).
    pub(crate) fn nobody() -> Principal {
        Principal {
            name: "nobody".to_owned(),
            role: Role::ExternalRecipient,
            user_id: None,
            permissions: Permissions::NONE,
            partner: Some(PartnerScope {
                partner_id: 0,
                companies: false,
                relationships: false,
            }),
        }
    }

    /// The name the audit log records: an email, `operator` or `system`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The role it acts in.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The user's id, for a tenant user.
    pub fn user_id(&self) -> Option<i64> {
        self.user_id
    }

    /// What it may do.
    pub fn permissions(&self) -> Permissions {
        self.permissions
    }

    /// Whether it may do `permission`.
    pub fn may(&self, permission: Permission) -> bool {
        self.permissions.contains(permission)
    }

    /// The records it is confined to, for a partner user; `None` for everyone else.
    pub fn partner_scope(&self) -> Option<PartnerScope> {
        self.partner
    }

    /// Fails with [`ErrorKind::PermissionDenied`] unless it may do `permission`.
    pub(crate) fn require(&self, permission: Permission) -> Result<()> {
        if self.may(permission) {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::PermissionDenied {
                actor: self.name.clone(),
                role: self.role.name(),
                permission: permission.as_str(),
            }))
        }
    }
}

/// The principal of the tenant's user `email`: its licence, bundles and partner. Fails with
/// [`ErrorKind::UnknownActor`] when the tenant has no such user.
pub(crate) fn resolve_user(op: &Op<'_>, email: &str) -> Result<Principal> {
    let user = users::by_email(op, email)?.ok_or_else(|| {
        Error::new(ErrorKind::UnknownActor {
            tenant: op.tenant.as_str().to_owned(),
            actor: email.trim().to_owned(),
        })
    })?;
    let assigned = permissions::assigned(op, user.id)?;
    let mut granted = Permissions::NONE;
    for name in &assigned {
        granted = granted.union(permissions::bundle(op, name)?.unwrap_or_default());
    }
    let (role, permissions, partner) = match user.partner_id {
        Some(partner) => {
            let scope = companies::find_with_scope(op, CompanyKey::Id(partner))?
                .and_then(|(_, scope)| scope);
            let bundle = builtin_bundle(PARTNER_BUNDLE).unwrap_or_default();
            let allowed = permissions::partner_permissions(op, partner)?;
            (
                Role::PartnerUser,
                bundle
                    .union(granted)
                    .intersection(permissions::partner_cap())
                    .intersection(allowed),
                Some(PartnerScope::of(partner, scope)),
            )
        }
        None => {
            let own = builtin_bundle(user.licence.as_str()).unwrap_or_default();
            let admin = user.licence == Licence::Full && assigned.iter().any(|b| b == ADMIN_BUNDLE);
            let role = if admin {
                Role::TenantAdmin
            } else {
                Role::Internal(user.licence)
            };
            let cap = permissions::licence_cap(user.licence);
            (role, own.union(granted).intersection(cap), None)
        }
    };
    Ok(Principal {
        name: user.email,
        role,
        user_id: Some(user.id),
        permissions,
        partner,
    })
}
