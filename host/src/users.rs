//! Users of a tenant: their licence, and the partner users who work for a partner company.
//! Partner users always hold a Full licence (the database checks it too).

use std::fmt;
use std::str::FromStr;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::access::Permission;
use crate::companies;
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::tenant::Tenant;

/// What a user may do on the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Licence {
    /// Everything; partner users always hold this one.
    Full,
    /// Read-only.
    Viewer,
    /// Read-only, with analytics.
    ViewerAnalytics,
    /// Collaborates on items shared with them; cannot receive shared success plans.
    InternalCollaborator,
}

impl Licence {
    /// The licence's name: `full`, `viewer`, `viewer_analytics` or `internal_collaborator`.
    pub fn as_str(self) -> &'static str {
        match self {
            Licence::Full => "full",
            Licence::Viewer => "viewer",
            Licence::ViewerAnalytics => "viewer_analytics",
            Licence::InternalCollaborator => "internal_collaborator",
        }
    }
}

impl fmt::Display for Licence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Licence {
    type Err = Error;

    fn from_str(s: &str) -> Result<Licence> {
        let words: Vec<String> = s
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        match words.join("_").as_str() {
            "full" => Ok(Licence::Full),
            "viewer" => Ok(Licence::Viewer),
            "viewer_analytics" => Ok(Licence::ViewerAnalytics),
            "internal_collaborator" => Ok(Licence::InternalCollaborator),
            _ => Err(Error::new(ErrorKind::Invalid(format!(
                "licence `{s}`: expected full, viewer, viewer_analytics or internal_collaborator"
            )))),
        }
    }
}

/// A user of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct User {
    /// The user's id.
    pub id: i64,
    /// Email address, unique in the tenant (compared ignoring case).
    pub email: String,
    /// Display name.
    pub name: String,
    /// What the user may do.
    pub licence: Licence,
    /// The partner company the user works for; `None` for the tenant's own users.
    pub partner_id: Option<i64>,
    /// When the user's Partner ID references a relationship of the partner rather than the
    /// partner company itself: that relationship (its company is `partner_id`).
    #[serde(default)]
    pub partner_relationship_id: Option<i64>,
}

/// What a partner user's Partner ID references: the partner company, or a relationship of it
/// (the tenant's relationship record with the partner). Either way the user works for that
/// partner and reaches what it manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PartnerId {
    /// A partner company, by id.
    Company(i64),
    /// A relationship of a partner company, by id.
    Relationship(i64),
}

impl User {
    /// Whether the user is a partner user ("Is Partner").
    pub fn is_partner(&self) -> bool {
        self.partner_id.is_some()
    }
}

const USER_COLUMNS: &str = "id, email, name, licence, partner_id, partner_relationship_id";

fn read_user(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let licence: String = row.get(3)?;
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        name: row.get(2)?,
        licence: licence.parse().map_err(|e: Error| {
            rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, e.into())
        })?,
        partner_id: row.get(4)?,
        partner_relationship_id: row.get(5)?,
    })
}

/// A user by email, in the caller's connection.
pub(crate) fn by_email(op: &Op<'_>, email: &str) -> Result<Option<User>> {
    let Op { conn, tenant, .. } = *op;
    conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = ?1 AND email = ?2"
    ))
    .and_then(|mut q| {
        q.query_row(params![tenant.as_str(), email.trim()], read_user)
            .optional()
    })
    .map_err(Error::from)
}

/// A user by id, in the caller's connection.
pub(crate) fn by_id(op: &Op<'_>, id: i64) -> Result<Option<User>> {
    let Op { conn, tenant, .. } = *op;
    conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = ?1 AND id = ?2"
    ))
    .and_then(|mut q| {
        q.query_row(params![tenant.as_str(), id], read_user)
            .optional()
    })
    .map_err(Error::from)
}

/// How many partner users the tenant has.
pub(crate) fn count_partner_users(op: &Op<'_>) -> Result<u64> {
    let count: i64 = op
        .conn
        .prepare_cached("SELECT count(*) FROM users WHERE tenant_id = ?1 AND is_partner = 1")?
        .query_row([op.tenant.as_str()], |r| r.get(0))?;
    Ok(count as u64)
}

/// How many partner users' Partner ID references relationship `relationship`.
pub(crate) fn count_of_partner_relationship(op: &Op<'_>, relationship: i64) -> Result<u64> {
    let count: i64 = op
        .conn
        .prepare_cached(
            "SELECT count(*) FROM users WHERE tenant_id = ?1 AND partner_relationship_id = ?2",
        )?
        .query_row(params![op.tenant.as_str(), relationship], |r| r.get(0))?;
    Ok(count as u64)
}

/// Checks that `email` looks like an address (trimmed); the error names the `email` field.
pub(crate) fn check_email(email: &str) -> Result<&str> {
    let email = email.trim();
    let valid = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.contains(char::is_whitespace);
    if valid {
        Ok(email)
    } else {
        Err(Error::new(ErrorKind::InvalidField {
            field: "email".to_owned(),
            message: format!("`{email}` is not an email address"),
        }))
    }
}

/// The tenant's users, from [`Users::list`]: adding them (partner users among them) and finding
/// them.
#[derive(Debug, Clone, Copy)]
pub struct Users<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

impl Users<'_> {
    /// Adds a user of the tenant; returns it. Fails if a user has this email already.
    pub fn add(&self, email: &str, name: &str, licence: Licence) -> Result<User> {
        self.insert_user(email, name, licence, None)
    }

    /// Adds a partner user: a user who works for partner company `partner`. Partner users
    /// always hold a Full licence.
    pub fn add_partner(&self, partner: i64, email: &str, name: &str) -> Result<User> {
        self.insert_user(
            email,
            name,
            Licence::Full,
            Some(PartnerId::Company(partner)),
        )
    }

    /// Adds a partner user whose Partner ID references a partner company or a relationship of
    /// one (see [`PartnerId`]). A relationship whose company is not a partner is refused, naming
    /// it.
    pub fn add_partner_for(&self, partner: PartnerId, email: &str, name: &str) -> Result<User> {
        self.insert_user(email, name, Licence::Full, Some(partner))
    }

    fn insert_user(
        &self,
        email: &str,
        name: &str,
        licence: Licence,
        partner_id: Option<PartnerId>,
    ) -> Result<User> {
        let email = check_email(email)?;
        let now = self.tenant.host.now();
        self.tenant.write(|op| {
            let (partner, relationship) = match partner_id {
                Some(PartnerId::Company(partner)) => (Some(partner), None),
                Some(PartnerId::Relationship(id)) => {
                    let company = crate::relationships::company_of(&op.as_system(), id)?
                        .ok_or_else(|| {
                            Error::new(ErrorKind::NotFound {
                                object: "relationship",
                                id: id.to_string(),
                            })
                        })?;
                    (Some(company), Some(id))
                }
                None => (None, None),
            };
            if let Some(partner) = partner {
                op.require(Permission::ManagePartners)?;
                companies::check_is_partner(op, partner).map_err(|error| match relationship {
                    Some(id) => Error::new(ErrorKind::Invalid(format!(
                        "Partner ID: relationship {id} belongs to company {partner}, which is \
                         not a partner; a partner user's Partner ID names a partner or a \
                         relationship of one"
                    ))),
                    None => error,
                })?;
                crate::access::check_partner_seats(op, 0, 1)?;
            } else {
                op.require(Permission::ManageUsers)?;
            }
            if by_email(op, email)?.is_some() {
                return Err(Error::new(ErrorKind::Invalid(format!(
                    "a user {email} exists already in tenant {}",
                    self.tenant.id
                ))));
            }
            op.conn
                .prepare_cached(
                    "INSERT INTO users (tenant_id, email, name, licence, is_partner, partner_id,
                                    partner_relationship_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .and_then(|mut q| {
                    q.execute(params![
                        op.tenant.as_str(),
                        email,
                        name.trim(),
                        licence.as_str(),
                        partner.is_some(),
                        partner,
                        relationship,
                        now
                    ])
                })?;
            let user = User {
                id: op.conn.last_insert_rowid(),
                email: email.to_owned(),
                name: name.trim().to_owned(),
                licence,
                partner_id: partner,
                partner_relationship_id: relationship,
            };
            op.audit(
                if partner.is_some() {
                    "partner_user.add"
                } else {
                    "user.add"
                },
                &format!("user:{email}"),
                None,
                serde_json::to_value(&user).ok(),
            )?;
            Ok(user)
        })
    }

    /// The user with this email (ignoring case), if any.
    pub fn by_email(&self, email: &str) -> Result<Option<User>> {
        self.tenant.read(|op| by_email(op, email))
    }

    /// The tenant's users, by email; only partner `partner`'s users when `Some`.
    pub fn list(&self, partner: Option<i64>) -> Result<Vec<User>> {
        self.tenant.read(|op| {
            // A partner user sees its own partner's users only.
            let partner = match op.scope() {
                Some(scope) if partner.is_some_and(|p| p != scope.partner_id) => return Ok(vec![]),
                Some(scope) => Some(scope.partner_id),
                None => partner,
            };
            let mut query = op.conn.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users
                     WHERE tenant_id = ?1 AND (?2 IS NULL OR partner_id = ?2) ORDER BY email"
            ))?;
            query
                .query_map(params![op.tenant.as_str(), partner], read_user)
                .and_then(|rows| rows.collect())
                .map_err(Error::from)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::companies::NewCompany;
    use crate::host::{Host, HostConfig, TenantLevel};
    use crate::model::ManagedAs;

    #[test]
    fn users_are_found_by_email_and_partner_users_are_full() {
        let host = Host::open_in_memory(HostConfig::default()).unwrap();
        host.create_tenant("acme", "Acme", TenantLevel::Both)
            .unwrap();
        let acme = host.tenant("acme").unwrap();
        let viewer = acme
            .users()
            .add("Vic@acme.example", "Vic", Licence::Viewer)
            .unwrap();
        assert_eq!(
            acme.users().by_email("vic@ACME.example").unwrap(),
            Some(viewer)
        );
        let again = acme.users().add("vic@acme.example", "Vic 2", Licence::Full);
        assert!(again.unwrap_err().to_string().contains("exists already"));
        assert!(
            acme.users()
                .add("not-an-email", "X", Licence::Full)
                .is_err()
        );

        let partner = acme
            .companies()
            .add(NewCompany::new("Bennett & Co.").managed_as(ManagedAs::Partner))
            .unwrap();
        let customer = acme.companies().add(NewCompany::new("Customer")).unwrap();
        let pu = acme
            .users()
            .add_partner(partner, "pat@bennett.example", "Pat")
            .unwrap();
        assert_eq!(pu.licence, Licence::Full);
        assert!(pu.is_partner());
        let err = acme
            .users()
            .add_partner(customer, "x@customer.example", "X")
            .unwrap_err();
        assert!(err.to_string().contains("not a partner"), "{err}");
        assert_eq!(acme.users().list(Some(partner)).unwrap(), vec![pu]);
        assert_eq!(
            "Viewer + Analytics".parse::<Licence>().unwrap(),
            Licence::ViewerAnalytics
        );
    }
}
