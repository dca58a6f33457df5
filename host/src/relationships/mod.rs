//! Relationships: the tenant's relationships with its customers (a company's product lines,
//! divisions, subscriptions), each of a relationship type. This module owns the `relationships`
//! and `relationship_types` tables (their SQL is in `store.rs`).
//!
//! A relationship type is a template the tenant's admin defines, as many as they like; each has
//! its own custom fields (the same types and required flag as company fields). Every
//! relationship belongs to one company, has one type (picked when it is created; it cannot
//! change), a name, the standard fields every relationship has ([`STANDARD_FIELDS`], and
//! `external_id`, the import key), its type's fields, and Managed By: at most one partner,
//! which must be a partner company (the one-partner rule; clear it before giving the
//! relationship to another partner).

pub(crate) mod import;
pub(crate) mod store;
mod types;

use serde::{Deserialize, Serialize};

use crate::access::Permission;
use crate::companies::{self, FieldDef, FieldType, Schema, check_value};
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{FieldValue, Fields};
use crate::tenant::Tenant;

pub(crate) use store::{any_reached_of, company_of, count_managed_by, reach_sql, visible};
pub(crate) use types::require_type;

/// The field that names a relationship.
pub(crate) const NAME: &str = "name";
/// The field that holds a relationship's id in the system it came from: the import key.
pub(crate) const EXTERNAL_ID: &str = "external_id";

/// The standard fields every relationship has, whatever its type (besides `name` and
/// `external_id`).
pub const STANDARD_FIELDS: [(&str, FieldType); 3] = [
    ("status", FieldType::Text),
    ("arr", FieldType::Number),
    ("renewal_date", FieldType::Date),
];

/// A relationship type: the template of its relationships' data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct RelationshipType {
    /// The type's id.
    pub id: i64,
    /// Its name, unique in the tenant (ignoring case), such as `SaaS subscription`.
    pub name: String,
    /// Its own fields, by name (the standard fields every relationship has are not listed).
    pub fields: Vec<FieldDef>,
}

/// A relationship of a company.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Relationship {
    /// The relationship's id.
    pub id: i64,
    /// The company it belongs to.
    pub company_id: i64,
    /// Its type's id.
    pub type_id: i64,
    /// Its type's name.
    pub type_name: String,
    /// Its name.
    pub name: String,
    /// The partner company that manages it, if any.
    pub managed_by: Option<i64>,
    /// Its standard and type-specific fields (`external_id` among them when set).
    pub fields: Fields,
}

/// A relationship to add, for [`Relationships::add`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct NewRelationship {
    /// The company it belongs to.
    pub company_id: i64,
    /// Its type (picked at creation; it cannot change afterwards).
    pub type_id: i64,
    /// Its name (required).
    pub name: String,
    /// The partner that manages it, if any.
    #[serde(default)]
    pub managed_by: Option<i64>,
    /// Standard and type-specific fields by name.
    #[serde(default)]
    pub fields: Fields,
}

impl NewRelationship {
    /// A relationship of company `company_id`, of type `type_id`, called `name`.
    pub fn new(company_id: i64, type_id: i64, name: impl Into<String>) -> NewRelationship {
        NewRelationship {
            company_id,
            type_id,
            name: name.into(),
            ..NewRelationship::default()
        }
    }

    /// Sets a field.
    pub fn field(
        mut self,
        name: impl Into<String>,
        value: impl Into<FieldValue>,
    ) -> NewRelationship {
        self.fields.insert(name.into(), value.into());
        self
    }

    /// Sets the partner that manages it.
    pub fn managed_by(mut self, partner: i64) -> NewRelationship {
        self.managed_by = Some(partner);
        self
    }
}

/// A change to a relationship, for [`Relationships::edit`]: a new name, and fields to set
/// (a [`FieldValue::Null`] clears one). Fields not named keep their values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct RelationshipEdit {
    /// The new name, if it changes.
    #[serde(default)]
    pub name: Option<String>,
    /// Fields to set or (with `Null`) clear.
    #[serde(default)]
    pub fields: Fields,
}

/// The field schema key of relationship type `id`'s own fields.
fn object_of(type_id: i64) -> String {
    format!("relationship_type:{type_id}")
}

/// The fields of a relationship of type `type_id`: name, external id, the standard fields,
/// then the type's own.
pub(crate) fn schema_of(op: &Op<'_>, type_id: i64) -> Result<Schema> {
    let mut fields = standard_fields();
    fields.extend(companies::custom_fields(op, &object_of(type_id))?);
    Ok(Schema::of("relationship", fields))
}

/// The fields every relationship has, whatever its type: name, external id, then
/// [`STANDARD_FIELDS`].
pub(crate) fn standard_fields() -> Vec<FieldDef> {
    let standard = |name: &str, field_type, required| FieldDef {
        name: name.to_owned(),
        field_type,
        required,
        standard: true,
    };
    let mut fields = vec![
        standard(NAME, FieldType::Text, true),
        standard(EXTERNAL_ID, FieldType::Text, false),
    ];
    fields.extend(
        STANDARD_FIELDS
            .iter()
            .map(|&(name, field_type)| standard(name, field_type, false)),
    );
    fields
}

/// Gives a relationship's stored values their schema's types (dates are stored as text).
fn typed(schema: &Schema, mut relationship: Relationship) -> Relationship {
    for (name, value) in relationship.fields.iter_mut() {
        if let Some(def) = schema.get(name) {
            let stored = std::mem::take(value);
            *value = check_value(def, stored.clone()).unwrap_or(stored);
        }
    }
    relationship
}

/// Relationship `id` with typed fields, or [`ErrorKind::NotFound`].
pub(crate) fn load(op: &Op<'_>, id: i64) -> Result<Relationship> {
    let found = store::find(op, id)?.ok_or_else(|| not_found("relationship", id))?;
    let schema = schema_of(op, found.type_id)?;
    Ok(typed(&schema, found))
}

/// The relationships `filter` selects, with typed fields.
pub(crate) fn list(op: &Op<'_>, filter: store::Filter<'_>) -> Result<Vec<Relationship>> {
    let mut schemas = std::collections::HashMap::new();
    store::list(op, filter)?
        .into_iter()
        .map(|r| {
            let schema = match schemas.entry(r.type_id) {
                std::collections::hash_map::Entry::Occupied(s) => s.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(schema_of(op, r.type_id)?)
                }
            };
            Ok(typed(schema, r))
        })
        .collect()
}

/// The relationships partner `partner` manages, by company then name: the records a partner
/// user with the relationship access scope may see.
pub(crate) fn managed_by_partner(op: &Op<'_>, partner: i64) -> Result<Vec<Relationship>> {
    list(
        op,
        store::Filter {
            managed_by: Some(partner),
            ..store::Filter::default()
        },
    )
}

/// Checks that `partner` may manage a relationship of company `company`: it is a partner, and
/// not the company itself.
pub(crate) fn check_manager(op: &Op<'_>, company: i64, partner: i64) -> Result<()> {
    companies::check_is_partner(op, partner)?;
    if partner == company {
        return Err(Error::new(ErrorKind::Invalid(format!(
            "company {company} cannot manage its own relationships: Managed By names another \
             company, a partner"
        ))));
    }
    Ok(())
}

/// Checks a relationship's name and fields against its type's schema.
pub(crate) fn check(schema: &Schema, name: &str, fields: &mut Fields) -> Result<()> {
    schema
        .check_all(name, fields)
        .map_err(|(field, message)| Error::new(ErrorKind::InvalidField { field, message }))
}

fn not_found(object: &'static str, id: impl ToString) -> Error {
    Error::new(ErrorKind::NotFound {
        object,
        id: id.to_string(),
    })
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::Invalid(message))
}

/// The tenant's relationship types, from [`Tenant::relationship_types`]: adding, renaming and
/// deleting them, and each type's custom fields.
#[derive(Debug, Clone, Copy)]
pub struct RelationshipTypes<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

/// The tenant's relationships, from [`Tenant::relationships`]: adding, editing, deleting, finding
/// and searching them, and their Managed By.
#[derive(Debug, Clone, Copy)]
pub struct Relationships<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

impl Relationships<'_> {
    /// Adds a relationship to a company and returns its id. Name and the type are mandatory;
    /// fields are checked against the type's schema (the error names the field); Managed By, if
    /// given, must be a partner other than the company.
    pub fn add(&self, relationship: NewRelationship) -> Result<i64> {
        let NewRelationship {
            company_id,
            type_id,
            name,
            managed_by,
            mut fields,
        } = relationship;
        self.tenant.write(|op| {
            op.require(Permission::EditCompanies)?;
            companies::require(op, company_id)?;
            require_type(op, &type_id.to_string())?;
            let schema = schema_of(op, type_id)?;
            check(&schema, &name, &mut fields)?;
            if let Some(partner) = managed_by {
                check_manager(op, company_id, partner)?;
            }
            let id = store::insert(
                op,
                &store::Write {
                    company: company_id,
                    type_id,
                    name: &name,
                    managed_by,
                    fields: &fields,
                },
            )?;
            op.audit(
                "relationship.add",
                &format!("relationship:{id}"),
                None,
                Some(serde_json::json!({
                    "company": company_id, "type": type_id, "name": name.trim(),
                    "managed_by": managed_by, "fields": fields,
                })),
            )?;
            Ok(id)
        })
    }

    /// One relationship; `None` when the tenant has no such relationship.
    pub fn get(&self, id: i64) -> Result<Option<Relationship>> {
        self.tenant.read(|op| match load(op, id) {
            Ok(found) => Ok(Some(found)),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        })
    }

    /// Changes a relationship's name and fields (its company and type stay), checked against
    /// its type's schema.
    pub fn edit(&self, id: i64, edit: RelationshipEdit) -> Result<()> {
        self.tenant.write(|op| {
            op.require(Permission::EditCompanies)?;
            let before = load(op, id)?;
            let name = edit.name.clone().unwrap_or_else(|| before.name.clone());
            let mut fields = before.fields.clone();
            for (field, value) in &edit.fields {
                if value.is_null() {
                    fields.remove(field);
                } else {
                    fields.insert(field.clone(), value.clone());
                }
            }
            let schema = schema_of(op, before.type_id)?;
            check(&schema, &name, &mut fields)?;
            store::update(
                op,
                id,
                &store::Write {
                    company: before.company_id,
                    type_id: before.type_id,
                    name: &name,
                    managed_by: before.managed_by,
                    fields: &fields,
                },
            )?;
            op.audit(
                "relationship.edit",
                &format!("relationship:{id}"),
                Some(serde_json::json!({ "name": before.name, "fields": before.fields })),
                Some(serde_json::json!({ "name": name.trim(), "fields": fields })),
            )
        })
    }

    /// Deletes a relationship. Refused while plans or CTAs are on it, or while it is the
    /// Partner ID of partner users.
    pub fn delete(&self, id: i64) -> Result<()> {
        self.tenant.write(|op| {
            op.require(Permission::EditCompanies)?;
            let before = load(op, id)?;
            let (plans, ctas) = crate::plans::count_on_relationship(op, id)?;
            if plans + ctas > 0 {
                return Err(invalid(format!(
                    "relationship {id} `{}` has {plans} success plan(s) and {ctas} CTA(s); \
                     delete them first",
                    before.name
                )));
            }
            let users = crate::users::count_of_partner_relationship(op, id)?;
            if users > 0 {
                return Err(invalid(format!(
                    "relationship {id} `{}` is the Partner ID of {users} partner user(s); \
                     remove them first",
                    before.name
                )));
            }
            store::delete(op, id)?;
            op.audit(
                "relationship.delete",
                &format!("relationship:{id}"),
                serde_json::to_value(&before).ok(),
                None,
            )
        })
    }

    /// The relationships of company `company_id` (every relationship with `None`), by company
    /// then name.
    pub fn list(&self, company_id: Option<i64>) -> Result<Vec<Relationship>> {
        self.tenant.read(|op| {
            if let Some(company) = company_id {
                // A partner whose scope is relationship records lists the relationships it
                // manages of a company it does not reach as a company record.
                if let Err(error) = companies::require(op, company)
                    && !store::any_reached_of(op, company)?
                {
                    return Err(error);
                }
            }
            list(
                op,
                store::Filter {
                    company: company_id,
                    ..store::Filter::default()
                },
            )
        })
    }

    /// Relationships whose name contains `text` (ignoring case), at most `limit`.
    pub fn search(&self, text: &str, limit: usize) -> Result<Vec<Relationship>> {
        self.tenant.read(|op| {
            list(
                op,
                store::Filter {
                    name_contains: Some(text),
                    limit: Some(limit),
                    ..store::Filter::default()
                },
            )
        })
    }

    /// The relationships partner `partner_id` manages: the records a partner user with the
    /// relationship access scope may see.
    pub fn managed_by(&self, partner_id: i64) -> Result<Vec<Relationship>> {
        self.tenant.read(|op| {
            companies::check_is_partner(op, partner_id)?;
            managed_by_partner(op, partner_id)
        })
    }

    /// Changes which partner manages relationship `id`: `None` clears it. Giving a relationship
    /// managed by one partner to another fails with [`ErrorKind::AlreadyManaged`] naming the
    /// partner that manages it now: clear it first.
    pub fn set_managed_by(&self, id: i64, partner: Option<i64>) -> Result<()> {
        self.tenant.write(|op| {
            op.require(Permission::ManagePartners)?;
            let before = load(op, id)?;
            if let Some(partner) = partner {
                check_manager(op, before.company_id, partner)?;
            }
            store::set_managed_by(op, id, partner)?;
            op.audit(
                "relationship.managed_by",
                &format!("relationship:{id}"),
                Some(serde_json::json!({ "managed_by": before.managed_by })),
                Some(serde_json::json!({ "managed_by": partner })),
            )
        })
    }
}
