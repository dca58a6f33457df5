//! People: the external contacts of the tenant's customers. Sharing a plan with a contact whose
//! email is not yet a person adds them.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::access::Permission;
use crate::companies;
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::tenant::Tenant;

/// An external contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Person {
    /// The person's id.
    pub id: i64,
    /// The company they work for, if known.
    pub company_id: Option<i64>,
    /// Email address, unique in the tenant (compared ignoring case).
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
}

impl Person {
    /// "First Last", or the email when both names are empty.
    pub fn display_name(&self) -> String {
        let name = format!("{} {}", self.first_name, self.last_name);
        match name.trim() {
            "" => self.email.clone(),
            name => name.to_owned(),
        }
    }
}

/// The tenant's people (external contacts), from [`Tenant::persons`].
#[derive(Debug, Clone, Copy)]
pub struct Persons<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

impl Persons<'_> {
    /// Adds a person (or returns the one with this email, unchanged).
    pub fn add(
        &self,
        company_id: Option<i64>,
        email: &str,
        first_name: &str,
        last_name: &str,
    ) -> Result<Person> {
        self.tenant.write(|op| {
            op.require(Permission::EditCompanies)?;
            if op.scope().is_some() {
                // A partner user adds people to the companies it may reach only.
                match company_id {
                    Some(company) => companies::require(op, company)?,
                    None => {
                        return Err(Error::new(ErrorKind::Invalid(
                            "a partner user adds people to a company: give its id".to_owned(),
                        )));
                    }
                }
            }
            let (person, _) = ensure(op, company_id, email, first_name, last_name)?;
            Ok(person)
        })
    }

    /// The person with this email, if there is one (and the acting principal may see its
    /// company).
    pub fn by_email(&self, email: &str) -> Result<Option<Person>> {
        self.tenant.read(|op| {
            Ok(by_email(op, email)?.filter(|person| {
                op.scope().is_none()
                    || person
                        .company_id
                        .is_some_and(|company| companies::require(op, company).is_ok())
            }))
        })
    }

    /// The people of a company, by email (none for a company the acting principal may not see).
    pub fn list(&self, company_id: i64) -> Result<Vec<Person>> {
        self.tenant.read(|op| {
            if op.scope().is_some() && companies::require(op, company_id).is_err() {
                return Ok(Vec::new());
            }
            op.conn
                .prepare_cached(
                    "SELECT id, company_id, email, first_name, last_name FROM persons
                 WHERE tenant_id = ?1 AND company_id = ?2 ORDER BY email",
                )
                .and_then(|mut q| {
                    q.query_map(params![op.tenant.as_str(), company_id], read_person)?
                        .collect()
                })
                .map_err(Error::from)
        })
    }
}

fn read_person(row: &rusqlite::Row<'_>) -> rusqlite::Result<Person> {
    Ok(Person {
        id: row.get(0)?,
        company_id: row.get(1)?,
        email: row.get(2)?,
        first_name: row.get(3)?,
        last_name: row.get(4)?,
    })
}

pub(crate) fn by_email(op: &Op<'_>, email: &str) -> Result<Option<Person>> {
    let Op { conn, tenant, .. } = *op;
    conn.prepare_cached(
        "SELECT id, company_id, email, first_name, last_name FROM persons
         WHERE tenant_id = ?1 AND email = ?2",
    )
    .and_then(|mut q| {
        q.query_row(params![tenant.as_str(), email.trim()], read_person)
            .optional()
    })
    .map_err(Error::from)
}

/// The person with this email, added (with these names, at this company) if there is none, in
/// the caller's transaction. The flag is true when the person was added.
#[allow(clippy::too_many_arguments)]
pub(crate) fn ensure(
    op: &Op<'_>,
    company_id: Option<i64>,
    email: &str,
    first_name: &str,
    last_name: &str,
) -> Result<(Person, bool)> {
    let Op {
        conn, tenant, now, ..
    } = *op;
    let email = crate::users::check_email(email)?;
    if let Some(person) = by_email(op, email)? {
        return Ok((person, false));
    }
    conn.prepare_cached(
        "INSERT INTO persons (tenant_id, company_id, email, first_name, last_name, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut insert| {
        insert.execute(params![
            tenant.as_str(),
            company_id,
            email,
            first_name.trim(),
            last_name.trim(),
            now
        ])
    })?;
    let person = Person {
        id: conn.last_insert_rowid(),
        company_id,
        email: email.to_owned(),
        first_name: first_name.trim().to_owned(),
        last_name: last_name.trim().to_owned(),
    };
    op.audit(
        "person.add",
        &format!("person:{}", person.id),
        None,
        serde_json::to_value(&person).ok(),
    )?;
    Ok((person, true))
}
