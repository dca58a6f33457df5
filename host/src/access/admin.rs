//! Administering access: bundles and their assignment, partners' data permissions, partner
//! seats, and API tokens, as operations of the [`Tenant`] and [`Host`] façades.
//!
//! This module owns the `access_settings` table.

use std::sync::Arc;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::permissions::{self, ADMIN_BUNDLE, Bundle, Permission, Permissions, builtin_bundle};
use super::tokens::{self, Authenticated, NewToken, TokenInfo};
use super::{BUILTIN_BUNDLES, Principal, Role};
use crate::companies;
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::host::Host;
use crate::store::TenantId;
use crate::tenant::Tenant;
use crate::users::{self, Licence, User};

/// A tenant's partner seats: how many partners and partner users it may have (`None`: no
/// limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct AccessSettings {
    /// Most partner companies.
    pub max_partners: Option<u32>,
    /// Most partner users, over all partners.
    pub max_partner_users: Option<u32>,
}

fn settings(op: &Op<'_>) -> Result<AccessSettings> {
    let found = op
        .conn
        .prepare_cached(
            "SELECT max_partners, max_partner_users FROM access_settings WHERE tenant_id = ?1",
        )?
        .query_row([op.tenant.as_str()], |r| {
            Ok(AccessSettings {
                max_partners: r.get(0)?,
                max_partner_users: r.get(1)?,
            })
        })
        .optional()?;
    Ok(found.unwrap_or_default())
}

/// Fails with [`ErrorKind::SeatsExhausted`] if adding `partners` partners and `users` partner
/// users would take the tenant beyond its partner seats. Runs in the adding transaction, so
/// two processes cannot both take the last seat.
pub(crate) fn check_partner_seats(op: &Op<'_>, partners: u64, users: u64) -> Result<()> {
    let limits = settings(op)?;
    if let Some(max) = limits.max_partners.filter(|_| partners > 0) {
        let now = companies::count_partners(op)?;
        if now + partners > u64::from(max) {
            return Err(seats_error(op, "partners", max, now));
        }
    }
    if let Some(max) = limits.max_partner_users.filter(|_| users > 0) {
        let now = users::count_partner_users(op)?;
        if now + users > u64::from(max) {
            return Err(seats_error(op, "partner users", max, now));
        }
    }
    Ok(())
}

fn seats_error(op: &Op<'_>, what: &'static str, limit: u32, used: u64) -> Error {
    Error::new(ErrorKind::SeatsExhausted {
        tenant: op.tenant.as_str().to_owned(),
        what,
        limit,
        used,
    })
}

fn check_bundle_name(name: &str) -> Result<&str> {
    let name = name.trim();
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c));
    if !valid {
        return Err(Error::new(ErrorKind::Invalid(format!(
            "bundle name `{name}`: use lower-case letters, digits, `-` and `_` (at most 64)"
        ))));
    }
    Ok(name)
}

fn user_named(op: &Op<'_>, email: &str) -> Result<User> {
    users::by_email(op, email)?.ok_or_else(|| {
        Error::new(ErrorKind::NotFound {
            object: "user",
            id: email.trim().to_owned(),
        })
    })
}

/// Fills in the users' emails of tokens, by id.
fn with_emails(op: &Op<'_>, mut list: Vec<TokenInfo>) -> Result<Vec<TokenInfo>> {
    for token in &mut list {
        if let Some(id) = token.user_id {
            token.user = users::by_id(op, id)?.map(|u| u.email);
        }
    }
    Ok(list)
}

/// The tenant's access control, from [`Tenant::access`]: permission bundles and who holds them, its admins, partners' data permissions, its access settings and API tokens.
#[derive(Debug, Clone, Copy)]
pub struct Access<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

impl Access<'_> {
    /// The built-in bundles and the tenant's named ones.
    pub fn bundles(&self) -> Result<Vec<Bundle>> {
        self.tenant.read(|op| {
            let mut all: Vec<Bundle> = BUILTIN_BUNDLES
                .iter()
                .map(|name| Bundle {
                    name: (*name).to_owned(),
                    builtin: true,
                    permissions: builtin_bundle(name).unwrap_or_default(),
                })
                .collect();
            all.extend(permissions::defined(op)?);
            Ok(all)
        })
    }

    /// Defines named bundle `name` (or changes its permissions). Built-in bundles cannot be
    /// changed. Needs `users.manage`.
    pub fn define_bundle(&self, name: &str, permissions: Permissions) -> Result<()> {
        let name = check_bundle_name(name)?;
        if builtin_bundle(name).is_some() {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "`{name}` is a built-in bundle and cannot be changed; define a bundle of \
                 another name"
            ))));
        }
        self.tenant.write(|op| {
            op.require(Permission::ManageUsers)?;
            let before = permissions::bundle(op, name)?;
            permissions::define(op, name, permissions)?;
            op.audit(
                "bundle.define",
                &format!("bundle:{name}"),
                before.map(|b| serde_json::json!({ "permissions": b })),
                Some(serde_json::json!({ "permissions": permissions })),
            )
        })
    }

    /// Assigns bundle `bundle` to user `email`. The `admin` bundle makes a Full user a tenant
    /// admin; partner users and other licences cannot hold it. A licence still caps what its
    /// user may do (a Viewer with a writing bundle still only reads). Needs `users.manage`.
    pub fn assign_bundle(&self, email: &str, bundle: &str) -> Result<()> {
        self.tenant.write(|op| {
            op.require(Permission::ManageUsers)?;
            let user = user_named(op, email)?;
            if permissions::bundle(op, bundle)?.is_none() {
                return Err(Error::new(ErrorKind::NotFound {
                    object: "permission bundle",
                    id: bundle.to_owned(),
                }));
            }
            if bundle == ADMIN_BUNDLE && (user.is_partner() || user.licence != Licence::Full) {
                return Err(Error::new(ErrorKind::Invalid(format!(
                    "{} cannot be a tenant admin: only internal users with a Full licence can",
                    user.email
                ))));
            }
            if permissions::assign(op, user.id, bundle, true)? {
                op.audit(
                    "bundle.assign",
                    &format!("user:{}", user.email),
                    None,
                    Some(serde_json::json!({ "bundle": bundle })),
                )?;
            }
            Ok(())
        })
    }

    /// Takes bundle `bundle` away from user `email`. Needs `users.manage`.
    pub fn unassign_bundle(&self, email: &str, bundle: &str) -> Result<()> {
        self.tenant.write(|op| {
            op.require(Permission::ManageUsers)?;
            let user = user_named(op, email)?;
            if permissions::assign(op, user.id, bundle, false)? {
                op.audit(
                    "bundle.unassign",
                    &format!("user:{}", user.email),
                    Some(serde_json::json!({ "bundle": bundle })),
                    None,
                )?;
            }
            Ok(())
        })
    }

    /// Adds a tenant admin: a user with a Full licence holding the built-in `admin` bundle.
    /// Needs `users.manage` (the platform operator has it).
    pub fn add_admin(&self, email: &str, name: &str) -> Result<User> {
        let user = self.tenant.users().add(email, name, Licence::Full)?;
        self.assign_bundle(&user.email, ADMIN_BUNDLE)?;
        Ok(user)
    }

    /// The bundles assigned to user `email` (besides its licence's or the partner bundle).
    pub fn bundles_of(&self, email: &str) -> Result<Vec<String>> {
        self.tenant
            .read(|op| permissions::assigned(op, user_named(op, email)?.id))
    }

    /// What user `email` may do: its principal, resolved now.
    pub fn principal_of(&self, email: &str) -> Result<Principal> {
        self.tenant
            .read(|op| super::resolve_user(&op.as_system(), email))
    }

    /// Narrows what partner `partner`'s users may do (its data permissions), such as read-only
    /// plans. Its users never get more than the partner bundle. Needs `partners.manage`.
    pub fn set_partner_permissions(&self, partner: i64, allowed: Permissions) -> Result<()> {
        self.tenant.write(|op| {
            op.require(Permission::ManagePartners)?;
            companies::check_is_partner(op, partner)?;
            let before = permissions::partner_permissions(op, partner)?;
            permissions::set_partner_permissions(op, partner, allowed)?;
            op.audit(
                "partner.permissions",
                &format!("company:{partner}"),
                Some(serde_json::json!({ "permissions": before })),
                Some(serde_json::json!({ "permissions": allowed })),
            )
        })
    }

    /// The data permissions of partner `partner`.
    pub fn partner_permissions(&self, partner: i64) -> Result<Permissions> {
        self.tenant.read(|op| {
            companies::check_is_partner(op, partner)?;
            permissions::partner_permissions(op, partner)
        })
    }

    /// The tenant's partner seats.
    pub fn settings(&self) -> Result<AccessSettings> {
        self.tenant.read(settings)
    }

    /// Sets the tenant's partner seats. Lowering them below what is in use is allowed: adding
    /// more is then refused. Needs `users.manage`.
    pub fn set_settings(&self, new: AccessSettings) -> Result<()> {
        self.tenant.write(|op| {
            op.require(Permission::ManageUsers)?;
            let before = settings(op)?;
            op.conn
                .prepare_cached(
                    "INSERT INTO access_settings (tenant_id, max_partners, max_partner_users)
                     VALUES (?1, ?2, ?3)
                     ON CONFLICT (tenant_id) DO UPDATE SET max_partners = excluded.max_partners,
                         max_partner_users = excluded.max_partner_users",
                )?
                .execute(params![
                    op.tenant.as_str(),
                    new.max_partners,
                    new.max_partner_users
                ])?;
            op.audit(
                "access.settings",
                &format!("tenant:{}", op.tenant),
                serde_json::to_value(before).ok(),
                serde_json::to_value(new).ok(),
            )
        })
    }

    /// Creates an API token acting as user `email`, living `days` days (1 to 3650). The token
    /// is in the result only: it is stored hashed. A user creates its own; creating one for
    /// someone else needs `users.manage`.
    pub fn create_token(&self, email: &str, label: &str, days: u32) -> Result<NewToken> {
        let lifetime = tokens::check_days(days)?;
        self.tenant.write(|op| {
            let user = user_named(op, email)?;
            if op.principal.user_id() != Some(user.id) {
                op.require(Permission::ManageUsers)?;
            }
            let (id, token) = tokens::create(
                op.conn,
                Some((op.tenant, user.id)),
                label,
                op.actor,
                op.now,
                lifetime,
            )?;
            let info = with_emails(op, vec![tokens::get(op.conn, Some(op.tenant), id)?])?.remove(0);
            op.audit(
                "token.create",
                &format!("token:{id}"),
                None,
                serde_json::to_value(&info).ok(),
            )?;
            Ok(NewToken { info, token })
        })
    }

    /// The tenant's API tokens (never the tokens themselves): all of them with `users.manage`,
    /// otherwise the acting user's own.
    pub fn tokens(&self) -> Result<Vec<TokenInfo>> {
        self.tenant.read(|op| {
            let only = if op.principal.may(Permission::ManageUsers) {
                None
            } else {
                Some(op.principal.user_id().unwrap_or(-1))
            };
            with_emails(op, tokens::list(op.conn, Some(op.tenant), only)?)
        })
    }

    /// Revokes API token `id` at once; returns whether it was live. A user revokes its own;
    /// revoking someone else's needs `users.manage`.
    pub fn revoke_token(&self, id: i64) -> Result<bool> {
        self.tenant.write(|op| {
            let token = tokens::get(op.conn, Some(op.tenant), id)?;
            if token.user_id != op.principal.user_id() {
                op.require(Permission::ManageUsers)?;
            }
            let revoked = tokens::revoke(op.conn, Some(op.tenant), id, op.now)?;
            if revoked {
                op.audit("token.revoke", &format!("token:{id}"), None, None)?;
            }
            Ok(revoked)
        })
    }
}

impl Host {
    /// Creates an API token of the platform operator, living `days` days (1 to 3650);
    /// `created_by` is recorded in the audit log. The token is in the result only.
    pub fn create_operator_token(
        &self,
        label: &str,
        days: u32,
        created_by: &str,
    ) -> Result<NewToken> {
        let lifetime = tokens::check_days(days)?;
        let now = self.now();
        self.store().write(|tx| {
            let (id, token) = tokens::create(tx, None, label, created_by, now, lifetime)?;
            let info = tokens::get(tx, None, id)?;
            crate::audit::record_as(
                tx,
                now,
                crate::audit::Change {
                    tenant: None,
                    actor: created_by,
                    action: "token.create",
                    subject: &format!("token:{id}"),
                    before: None,
                    after: serde_json::to_value(&info).ok(),
                },
                &Role::PlatformOperator.name(),
            )?;
            Ok(NewToken { info, token })
        })
    }

    /// The platform operator's API tokens (never the tokens themselves).
    pub fn operator_tokens(&self) -> Result<Vec<TokenInfo>> {
        self.store().with(|conn| tokens::list(conn, None, None))
    }

    /// Revokes the platform operator's API token `id` at once; returns whether it was live.
    pub fn revoke_operator_token(&self, id: i64, revoked_by: &str) -> Result<bool> {
        let now = self.now();
        self.store().write(|tx| {
            tokens::get(tx, None, id)?;
            let revoked = tokens::revoke(tx, None, id, now)?;
            if revoked {
                crate::audit::record_as(
                    tx,
                    now,
                    crate::audit::Change {
                        tenant: None,
                        actor: revoked_by,
                        action: "token.revoke",
                        subject: &format!("token:{id}"),
                        before: None,
                        after: None,
                    },
                    &Role::PlatformOperator.name(),
                )?;
            }
            Ok(revoked)
        })
    }

    /// Whom bearer token `token` (with or without a `Bearer ` prefix) authenticates, checked
    /// now: a revoked or expired token fails at once ([`ErrorKind::Unauthenticated`], the same
    /// for an unknown one). For the HTTP service; see [`Host::tenant_for`].
    pub fn authenticate(&self, token: &str) -> Result<Authenticated> {
        let now = self.now();
        // Reads only: every request authenticates, and a write transaction each would make
        // them all queue for the database's one write lock.
        let (who, live) = self.store().with(|conn| {
            let live = tokens::authenticate(conn, token, now)?;
            Ok((authenticated(conn, now, &live)?, live))
        })?;
        if live.unnoted {
            self.store()
                .write(|tx| tokens::note_use(tx, live.id, now))?;
        }
        Ok(who)
    }

    /// Opens a console session of `who` (authenticated by its token) on `tenant`, lasting
    /// `seconds`: the session's id is for the browser's cookie; the database keeps only its
    /// SHA-256, so sessions outlive a restart of the server. Fails unless `who` reaches
    /// `tenant`.
    pub fn open_session(
        &self,
        who: &Authenticated,
        tenant: &str,
        seconds: u64,
    ) -> Result<tokens::NewSession> {
        self.tenant_for(who, tenant)?;
        let token = match who {
            Authenticated::Operator { token } | Authenticated::User { token, .. } => *token,
        };
        let now = self.now();
        let tenant = TenantId::new(tenant.to_owned());
        let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
        self.store()
            .write(|tx| tokens::open_session(tx, token, &tenant, now, seconds))
    }

    /// Whom the live console session `id` acts as, authenticated again through its token (a
    /// revoked or expired token ends the session), and the tenant it works on. A session that
    /// ended, or that never was, is [`ErrorKind::Unauthenticated`].
    pub fn session(&self, id: &str) -> Result<(Authenticated, String)> {
        let now = self.now();
        let (who, live, tenant) = self.store().with(|conn| {
            let (live, tenant) = tokens::session(conn, id, now)?;
            Ok((authenticated(conn, now, &live)?, live, tenant))
        })?;
        if live.unnoted {
            self.store()
                .write(|tx| tokens::note_use(tx, live.id, now))?;
        }
        Ok((who, tenant.as_str().to_owned()))
    }

    /// Ends the console session `id` (signing out); the token stays valid.
    pub fn close_session(&self, id: &str) -> Result<()> {
        self.store().write(|tx| tokens::close_session(tx, id))
    }

    /// The handle on tenant `tenant` for whom a token authenticated: the platform operator
    /// reaches every tenant; a user only its own (any other answers as an unknown tenant).
    pub fn tenant_for(&self, who: &Authenticated, tenant: &str) -> Result<Tenant<'_>> {
        match who {
            Authenticated::Operator { .. } => self.tenant(tenant),
            Authenticated::User {
                tenant: own, email, ..
            } if own == tenant => self.tenant(tenant)?.as_user(email),
            Authenticated::User { .. } => {
                Err(Error::new(ErrorKind::UnknownTenant(tenant.to_owned())))
            }
        }
    }
}

/// Whom a live token found by [`tokens::authenticate`] or [`tokens::session`] stands for.
fn authenticated(
    conn: &rusqlite::Connection,
    now: i64,
    live: &tokens::Live,
) -> Result<Authenticated> {
    let Some((tenant, user)) = &live.owner else {
        return Ok(Authenticated::Operator { token: live.id });
    };
    let op = Op::system(conn, tenant, now);
    let email = users::by_id(&op, *user)?
        .ok_or_else(|| Error::new(ErrorKind::Unauthenticated))?
        .email;
    Ok(Authenticated::User {
        token: live.id,
        tenant: tenant.as_str().to_owned(),
        email,
    })
}

/// The principal of a handle that acts as user `email`, resolved in `conn`'s database.
pub(crate) fn resolve(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    now: i64,
    email: &str,
) -> Result<Arc<Principal>> {
    super::resolve_user(&Op::system(conn, tenant, now), email).map(Arc::new)
}
