//! Permissions and permission bundles: what each operation needs, the built-in bundle of each
//! role, the named bundles a tenant admin defines and assigns, and the data permissions that
//! narrow what a partner's users may do.
//!
//! This module owns the `permission_bundles`, `user_bundles` and `partner_permissions` tables.

use std::fmt;
use std::str::FromStr;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::users::Licence;

/// One thing a principal may be allowed to do. Every operation of the library needs one (see
/// the README's "Access" section for the table of operations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// See companies, persons, users, plans, CTAs, shares and import jobs.
    Read,
    /// Add companies and persons, set a company's Managed By.
    EditCompanies,
    /// Import CSV files.
    Import,
    /// Add and tag partners, add partner users, set partners' data permissions.
    ManagePartners,
    /// Run criteria-based selections.
    RunCriteria,
    /// Define the field schema; set the import size limit.
    ManageSchema,
    /// Enable, disable, configure, grant, upgrade and run plugins.
    ManagePlugins,
    /// Read the plugins' run log and the audit log.
    ReadLogs,
    /// Add users, define and assign bundles, set partner seats, manage others' API tokens.
    ManageUsers,
    /// Create plans and add objectives and tasks.
    CreatePlans,
    /// Move a plan to another status (activate, complete).
    ActivatePlans,
    /// Share plans, re-issue links, turn sharing with contacts on and off.
    SharePlans,
    /// Revoke shared links.
    Revoke,
    /// Open and close CTAs and complete tasks.
    ManageCtas,
    /// List and deliver the outbox; release held messages.
    DeliverOutbox,
    /// Change the tenant's sharing settings.
    ManageSettings,
}

impl Permission {
    /// Every permission, in the order of the documented table.
    pub const ALL: [Permission; 16] = [
        Permission::Read,
        Permission::EditCompanies,
        Permission::Import,
        Permission::ManagePartners,
        Permission::RunCriteria,
        Permission::ManageSchema,
        Permission::ManagePlugins,
        Permission::ReadLogs,
        Permission::ManageUsers,
        Permission::CreatePlans,
        Permission::ActivatePlans,
        Permission::SharePlans,
        Permission::Revoke,
        Permission::ManageCtas,
        Permission::DeliverOutbox,
        Permission::ManageSettings,
    ];

    /// The permission's name, such as `plans.share`.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::EditCompanies => "companies.edit",
            Permission::Import => "import",
            Permission::ManagePartners => "partners.manage",
            Permission::RunCriteria => "criteria.run",
            Permission::ManageSchema => "schema.manage",
            Permission::ManagePlugins => "plugins.manage",
            Permission::ReadLogs => "logs.read",
            Permission::ManageUsers => "users.manage",
            Permission::CreatePlans => "plans.create",
            Permission::ActivatePlans => "plans.activate",
            Permission::SharePlans => "plans.share",
            Permission::Revoke => "shares.revoke",
            Permission::ManageCtas => "ctas.manage",
            Permission::DeliverOutbox => "outbox.deliver",
            Permission::ManageSettings => "settings.manage",
        }
    }

    /// Whether the permission only reads.
    pub fn reads_only(self) -> bool {
        matches!(
            self,
            Permission::Read | Permission::RunCriteria | Permission::ReadLogs
        )
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = Error;

    fn from_str(s: &str) -> Result<Permission> {
        let s = s.trim();
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
                Error::new(ErrorKind::Invalid(format!(
                    "permission `{s}`: expected one of {}",
                    names.join(", ")
                )))
            })
    }
}

/// A set of permissions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Permissions(u32);

impl Permissions {
    /// No permission.
    pub const NONE: Permissions = Permissions(0);

    /// Every permission.
    pub fn all() -> Permissions {
        Permissions::of(&Permission::ALL)
    }

    /// The set of these permissions.
    pub fn of(permissions: &[Permission]) -> Permissions {
        Permissions(permissions.iter().fold(0, |bits, p| bits | p.bit()))
    }

    /// Whether the set holds `permission`.
    pub fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    /// The permissions of both sets.
    pub fn union(self, other: Permissions) -> Permissions {
        Permissions(self.0 | other.0)
    }

    /// The permissions in both sets.
    pub fn intersection(self, other: Permissions) -> Permissions {
        Permissions(self.0 & other.0)
    }

    /// The permissions of the set, in the order of [`Permission::ALL`].
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }

    /// Parses a list of names separated by commas or spaces.
    pub fn parse_list(text: &str) -> Result<Permissions> {
        let names = text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|n| !n.is_empty());
        let mut set = Permissions::NONE;
        for name in names {
            set = set.union(Permissions::of(&[name.parse()?]));
        }
        Ok(set)
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(|p| p.as_str()))
            .finish()
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(|p| p.as_str()).collect();
        f.write_str(&names.join(", "))
    }
}

impl Serialize for Permissions {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(|p| p.as_str()))
    }
}

impl<'de> Deserialize<'de> for Permissions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        let mut set = Permissions::NONE;
        for name in names {
            let permission: Permission = name.parse().map_err(serde::de::Error::custom)?;
            set = set.union(Permissions::of(&[permission]));
        }
        Ok(set)
    }
}

/// A set of permissions is a list of their names in JSON (as its serde code writes it).
#[cfg(feature = "cli")]
impl schemars::JsonSchema for Permissions {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Permissions".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
        schemars::json_schema!({
            "description": "A set of permissions, by name.",
            "type": "array",
            "items": { "type": "string", "enum": names },
            "uniqueItems": true,
        })
    }
}

/// The built-in bundle of the tenant admin: every permission.
pub const ADMIN_BUNDLE: &str = "admin";

/// The built-in bundle of partner users.
pub const PARTNER_BUNDLE: &str = "partner";

/// The built-in bundles, by name: `admin`, one per licence, and `partner`.
pub fn builtin_bundle(name: &str) -> Option<Permissions> {
    use Permission::*;
    let set = match name {
        ADMIN_BUNDLE => Permissions::all(),
        "full" => Permissions::of(&[
            Read,
            EditCompanies,
            Import,
            RunCriteria,
            CreatePlans,
            ActivatePlans,
            SharePlans,
            Revoke,
            ManageCtas,
        ]),
        "viewer" => Permissions::of(&[Read]),
        "viewer_analytics" => Permissions::of(&[Read, RunCriteria]),
        "internal_collaborator" => Permissions::of(&[Read, ManageCtas]),
        PARTNER_BUNDLE => Permissions::of(&[
            Read,
            Import,
            RunCriteria,
            CreatePlans,
            ActivatePlans,
            SharePlans,
            Revoke,
            ManageCtas,
        ]),
        _ => return None,
    };
    Some(set)
}

/// The names of the built-in bundles.
pub const BUILTIN_BUNDLES: [&str; 6] = [
    ADMIN_BUNDLE,
    "full",
    "viewer",
    "viewer_analytics",
    "internal_collaborator",
    PARTNER_BUNDLE,
];

/// The most a licence allows, whatever bundles are assigned: Viewer licences read only; an
/// Internal Collaborator reads and works on CTAs.
pub(crate) fn licence_cap(licence: Licence) -> Permissions {
    use Permission::*;
    match licence {
        Licence::Full => Permissions::all(),
        Licence::Viewer => Permissions::of(&[Read]),
        Licence::ViewerAnalytics => Permissions::of(&[Read, RunCriteria, ReadLogs]),
        Licence::InternalCollaborator => Permissions::of(&[Read, ManageCtas]),
    }
}

/// The most a partner user may ever do: the partner bundle and editing its own customers;
/// never administration.
pub(crate) fn partner_cap() -> Permissions {
    builtin_bundle(PARTNER_BUNDLE)
        .unwrap_or_default()
        .union(Permissions::of(&[Permission::EditCompanies]))
}

/// A named bundle of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Bundle {
    /// Its name.
    pub name: String,
    /// Whether it is built in (and cannot be changed).
    pub builtin: bool,
    /// Its permissions.
    pub permissions: Permissions,
}

/// The permissions of bundle `name`: built in, or defined by the tenant.
pub(crate) fn bundle(op: &Op<'_>, name: &str) -> Result<Option<Permissions>> {
    if let Some(set) = builtin_bundle(name) {
        return Ok(Some(set));
    }
    let json: Option<String> = op
        .conn
        .prepare_cached(
            "SELECT permissions FROM permission_bundles WHERE tenant_id = ?1 AND name = ?2",
        )?
        .query_row(params![op.tenant.as_str(), name], |r| r.get(0))
        .optional()?;
    json.map(|json| parse_json(&json)).transpose()
}

fn parse_json(json: &str) -> Result<Permissions> {
    serde_json::from_str(json).map_err(|e| {
        Error::new(ErrorKind::Invalid(format!(
            "stored permissions `{json}`: {e}"
        )))
    })
}

/// Defines (or redefines) named bundle `name`.
pub(crate) fn define(op: &Op<'_>, name: &str, permissions: Permissions) -> Result<()> {
    op.conn
        .prepare_cached(
            "INSERT INTO permission_bundles (tenant_id, name, permissions, created_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (tenant_id, name) DO UPDATE SET permissions = excluded.permissions",
        )?
        .execute(params![
            op.tenant.as_str(),
            name,
            serde_json::to_string(&permissions).unwrap_or_else(|_| "[]".to_owned()),
            op.now
        ])?;
    Ok(())
}

/// The tenant's named bundles, by name.
pub(crate) fn defined(op: &Op<'_>) -> Result<Vec<Bundle>> {
    let rows: Vec<(String, String)> = op
        .conn
        .prepare_cached(
            "SELECT name, permissions FROM permission_bundles WHERE tenant_id = ?1 ORDER BY name",
        )?
        .query_map([op.tenant.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|(name, json)| {
            Ok(Bundle {
                name,
                builtin: false,
                permissions: parse_json(&json)?,
            })
        })
        .collect()
}

/// The bundles assigned to user `user`, by name.
pub(crate) fn assigned(op: &Op<'_>, user: i64) -> Result<Vec<String>> {
    let names = op
        .conn
        .prepare_cached(
            "SELECT bundle FROM user_bundles WHERE tenant_id = ?1 AND user_id = ?2 ORDER BY bundle",
        )?
        .query_map(params![op.tenant.as_str(), user], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(names)
}

/// Assigns bundle `name` to user `user` (`true`), or takes it away (`false`). Returns whether
/// anything changed.
pub(crate) fn assign(op: &Op<'_>, user: i64, name: &str, on: bool) -> Result<bool> {
    let changed = if on {
        op.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO user_bundles (tenant_id, user_id, bundle)
                 VALUES (?1, ?2, ?3)",
            )?
            .execute(params![op.tenant.as_str(), user, name])?
    } else {
        op.conn
            .prepare_cached(
                "DELETE FROM user_bundles WHERE tenant_id = ?1 AND user_id = ?2 AND bundle = ?3",
            )?
            .execute(params![op.tenant.as_str(), user, name])?
    };
    Ok(changed > 0)
}

/// The data permissions of partner `partner`: what its users may do at most.
pub(crate) fn partner_permissions(op: &Op<'_>, partner: i64) -> Result<Permissions> {
    let json: Option<String> = op
        .conn
        .prepare_cached(
            "SELECT permissions FROM partner_permissions WHERE tenant_id = ?1 AND partner_id = ?2",
        )?
        .query_row(params![op.tenant.as_str(), partner], |r| r.get(0))
        .optional()?;
    match json {
        Some(json) => parse_json(&json),
        None => Ok(builtin_bundle(PARTNER_BUNDLE).unwrap_or_default()),
    }
}

/// Sets the data permissions of partner `partner`.
pub(crate) fn set_partner_permissions(
    op: &Op<'_>,
    partner: i64,
    permissions: Permissions,
) -> Result<()> {
    op.conn
        .prepare_cached(
            "INSERT INTO partner_permissions (tenant_id, partner_id, permissions)
             VALUES (?1, ?2, ?3)
             ON CONFLICT (tenant_id, partner_id) DO UPDATE SET permissions = excluded.permissions",
        )?
        .execute(params![
            op.tenant.as_str(),
            partner,
            serde_json::to_string(&permissions).unwrap_or_else(|_| "[]".to_owned())
        ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_parse_print_and_round_trip_as_json() {
        let set = Permissions::parse_list("read, plans.share criteria.run").unwrap();
        assert!(set.contains(Permission::SharePlans));
        assert!(!set.contains(Permission::Import));
        assert_eq!(set.to_string(), "read, criteria.run, plans.share");
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(serde_json::from_str::<Permissions>(&json).unwrap(), set);
        let err = Permissions::parse_list("read, plans.delete").unwrap_err();
        assert!(err.to_string().contains("plans.delete"), "{err}");
    }

    #[test]
    fn viewer_licences_are_capped_to_reading() {
        for licence in [Licence::Viewer, Licence::ViewerAnalytics] {
            assert!(licence_cap(licence).iter().all(Permission::reads_only));
        }
        assert!(!partner_cap().contains(Permission::ManageUsers));
        assert!(!partner_cap().contains(Permission::ManagePlugins));
    }
}
