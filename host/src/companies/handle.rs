//! The companies of one tenant as the library offers them: the form's new company, and the
//! [`Companies`] handle that adds, finds, searches and pages them and defines their fields.

use rusqlite::params;

use super::{
    COLUMNS, CompanyKey, CompanyWrite, EXTERNAL_ID, FieldDef, FieldType, NAME, STANDARD_FIELDS,
    Schema, check_is_partner, find, insert, is_field_name, one_partner_error, read_row, schema,
    scope_condition,
};
use crate::access::Permission;
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{AccessScope, Company, FieldValue, Fields, ManagedAs};
use crate::tenant::Tenant;

/// A company to add through the form-like API: Name is mandatory, the other fields are checked
/// against the tenant's field schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewCompany {
    /// The company's name (required).
    pub name: String,
    /// Customer (the default) or partner.
    pub managed_as: ManagedAs,
    /// The id of the partner company that manages it, if any.
    pub managed_by: Option<i64>,
    /// Standard and custom fields by name (`industry`, `arr`, `external_id`, custom ones).
    pub fields: Fields,
}

impl NewCompany {
    /// A customer company called `name`, with no other fields.
    pub fn new(name: impl Into<String>) -> NewCompany {
        NewCompany {
            name: name.into(),
            ..NewCompany::default()
        }
    }

    /// Sets a field.
    pub fn field(mut self, name: impl Into<String>, value: impl Into<FieldValue>) -> NewCompany {
        self.fields.insert(name.into(), value.into());
        self
    }

    /// Sets how the company is managed.
    pub fn managed_as(mut self, managed_as: ManagedAs) -> NewCompany {
        self.managed_as = managed_as;
        self
    }

    /// Sets the partner that manages it.
    pub fn managed_by(mut self, partner: i64) -> NewCompany {
        self.managed_by = Some(partner);
        self
    }
}

/// The tenant's companies, from [`Tenant::companies`]: adding, finding, searching and paging
/// them, their Managed By, and the field schema they are checked against.
#[derive(Debug, Clone, Copy)]
pub struct Companies<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

impl Companies<'_> {
    /// The tenant's company fields: the standard ones, then its custom ones.
    pub fn fields(&self) -> Result<Vec<FieldDef>> {
        self.tenant
            .read(|op| Ok(Schema::load(op)?.fields().to_vec()))
    }

    /// Adds (or changes) a custom company field. Standard fields cannot be redefined.
    pub fn define_field(&self, name: &str, field_type: FieldType, required: bool) -> Result<()> {
        let name = name.trim();
        if !is_field_name(name) {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "field name `{name}`: use lower-case letters, digits and `_`"
            ))));
        }
        if name == NAME || name == EXTERNAL_ID || STANDARD_FIELDS.iter().any(|(s, _)| *s == name) {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "`{name}` is a standard company field and cannot be redefined"
            ))));
        }
        if schema::RESERVED_NAMES.contains(&name) {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "`{name}` is reserved for the host (a record's id, tenant, partner or times); \
                 choose another name"
            ))));
        }
        self.tenant.write(|op| {
            op.require(Permission::ManageSchema)?;
            Schema::define(op, name, field_type, required)?;
            op.audit(
                "field.define",
                &format!("field:company.{name}"),
                None,
                Some(serde_json::json!({"type": field_type, "required": required})),
            )
        })
    }

    /// Adds a company; returns its id. Name is mandatory and every field is checked against
    /// the field schema; the error names the field at fault. A partner added this way gets
    /// access to company records; use [`Partners::add`](crate::Partners::add) to choose its scope.
    pub fn add(&self, company: NewCompany) -> Result<i64> {
        let scope = (company.managed_as == ManagedAs::Partner).then_some(AccessScope::default());
        self.insert(company, scope, "company.add", |_, _| Ok(()))
    }

    /// Inserts a checked company with its audit entry; shared by the manual-add paths.
    /// Adds a company in one transaction with what `then` does with its id (a partner's owed
    /// hook).
    pub(crate) fn insert(
        &self,
        company: NewCompany,
        scope: Option<AccessScope>,
        action: &str,
        then: impl FnOnce(&Op<'_>, i64) -> Result<()>,
    ) -> Result<i64> {
        let NewCompany {
            name,
            managed_as,
            managed_by,
            mut fields,
        } = company;
        self.tenant.write(|op| {
            if managed_as == ManagedAs::Partner {
                op.require(Permission::ManagePartners)?;
                crate::access::check_partner_seats(op, 1, 0)?;
            } else {
                op.require(Permission::EditCompanies)?;
            }
            let schema = Schema::load(op)?;
            schema
                .check_all(&name, &mut fields)
                .map_err(|(field, message)| {
                    Error::new(ErrorKind::InvalidField { field, message })
                })?;
            if let Some(partner) = managed_by {
                check_is_partner(op, partner)?;
            }
            let id = insert(
                op,
                &CompanyWrite {
                    name: &name,
                    managed_as,
                    managed_by,
                    scope,
                    fields: &fields,
                },
            )?;
            op.audit(
                action,
                &format!("company:{id}"),
                None,
                Some(serde_json::json!({
                    "name": name.trim(),
                    "managed_as": managed_as,
                    "managed_by": managed_by,
                    "scope": scope,
                    "fields": fields,
                })),
            )?;
            then(op, id)?;
            Ok(id)
        })
    }

    /// One company, by id or name; `None` when the tenant has no such company.
    pub fn get(&self, key: CompanyKey<'_>) -> Result<Option<Company>> {
        self.tenant.read(|op| find(op, key))
    }

    /// Companies whose name contains `text` (ignoring case), by name, at most `limit`: the
    /// search of manual selection.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<Company>> {
        self.tenant.read(|op| {
            let schema = Schema::load(op)?;
            let pattern = format!(
                "%{}%",
                text.trim()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            let scope = scope_condition(op, "");
            let mut query = op.conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM companies
                     WHERE tenant_id = ?1 AND name LIKE ?2 ESCAPE '\\'{scope}
                     ORDER BY name_folded, id LIMIT ?3"
            ))?;
            query
                .query_map(params![op.tenant.as_str(), pattern, limit as i64], |row| {
                    read_row(row, &schema).map(|(c, _)| c)
                })
                .and_then(|rows| rows.collect())
                .map_err(Error::from)
        })
    }

    /// Changes which partner manages company `id`: `None` clears it. Giving a company managed
    /// by one partner to another fails with [`ErrorKind::AlreadyManaged`], naming the partner
    /// that manages it now: clear it first.
    pub fn set_managed_by(&self, id: i64, partner: Option<i64>) -> Result<()> {
        let now = self.tenant.host.now();
        self.tenant.write(|op| {
            op.require(Permission::ManagePartners)?;
            if let Some(partner) = partner {
                check_is_partner(op, partner)?;
            }
            let before = find(op, CompanyKey::Id(id))?.ok_or_else(|| {
                Error::new(ErrorKind::NotFound {
                    object: "company",
                    id: id.to_string(),
                })
            })?;
            op.conn
                .prepare_cached(
                    "UPDATE companies SET managed_by = ?3, updated_at = ?4
                 WHERE tenant_id = ?1 AND id = ?2",
                )
                .and_then(|mut q| q.execute(params![op.tenant.as_str(), id, partner, now]))
                .map_err(|e| one_partner_error(op, id, e))?;
            op.audit(
                "company.managed_by",
                &format!("company:{id}"),
                Some(serde_json::json!({"managed_by": before.managed_by})),
                Some(serde_json::json!({"managed_by": partner})),
            )
        })
    }

    /// The tenant's companies, by id, at most `limit`, starting after id `after`.
    pub fn page(&self, after: i64, limit: usize) -> Result<Vec<Company>> {
        self.tenant.read(|op| {
            let schema = Schema::load(op)?;
            let scope = scope_condition(op, "");
            let mut query = op.conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM companies WHERE tenant_id = ?1 AND id > ?2{scope}
                     ORDER BY id LIMIT ?3"
            ))?;
            query
                .query_map(params![op.tenant.as_str(), after, limit as i64], |row| {
                    read_row(row, &schema).map(|(c, _)| c)
                })
                .and_then(|rows| rows.collect())
                .map_err(Error::from)
        })
    }
}
