//! Relationship types: the templates of a tenant's relationships, each with its own fields. An
//! admin adds, renames and deletes them and defines their fields; a change of a field's type
//! converts the values the type's relationships hold, or is refused naming those that do not
//! fit.

use crate::access::Permission;
use crate::companies::{self, FieldDef, FieldType, RESERVED_NAMES, is_field_name};
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::host::Tenant;

use super::{
    EXTERNAL_ID, NAME, RelationshipType, STANDARD_FIELDS, invalid, not_found, object_of, schema_of,
    store,
};

/// The relationship type `key` names (its id, or its name ignoring case), or an error listing
/// the tenant's types.
pub(crate) fn require_type(op: &Op<'_>, key: &str) -> Result<(i64, String)> {
    if let Some(found) = store::find_type(op, key)? {
        return Ok(found);
    }
    let names: Vec<String> = store::types(op)?.into_iter().map(|(_, n)| n).collect();
    let known = if names.is_empty() {
        "the tenant has no relationship types yet: an admin adds them with `cshost \
         relationship-type add`"
            .to_owned()
    } else {
        format!("its types are {}", names.join(", "))
    };
    Err(Error::new(ErrorKind::Invalid(format!(
        "there is no relationship type `{}`; {known}",
        key.trim()
    ))))
}

impl Tenant<'_> {
    /// Adds a relationship type (an admin's template) and returns its id. Names are unique
    /// (ignoring case); there is no limit on how many types a tenant has.
    pub fn add_relationship_type(&self, name: &str) -> Result<i64> {
        let name = name.trim();
        if name.is_empty() {
            return Err(invalid("a relationship type needs a name".to_owned()));
        }
        self.write(|op| {
            op.require(Permission::ManageSchema)?;
            let id = store::insert_type(op, name)?;
            op.audit(
                "relationship_type.add",
                &format!("relationship_type:{id}"),
                None,
                Some(serde_json::json!({ "name": name })),
            )?;
            Ok(id)
        })
    }

    /// Renames relationship type `key` (its id or name).
    pub fn rename_relationship_type(&self, key: &str, name: &str) -> Result<()> {
        let name = name.trim();
        if name.is_empty() {
            return Err(invalid("a relationship type needs a name".to_owned()));
        }
        self.write(|op| {
            op.require(Permission::ManageSchema)?;
            let (id, before) = require_type(op, key)?;
            store::rename_type(op, id, name)?;
            op.audit(
                "relationship_type.rename",
                &format!("relationship_type:{id}"),
                Some(serde_json::json!({ "name": before })),
                Some(serde_json::json!({ "name": name })),
            )
        })
    }

    /// Deletes relationship type `key` and its fields. Refused while relationships of the type
    /// exist: the error says how many.
    pub fn delete_relationship_type(&self, key: &str) -> Result<()> {
        self.write(|op| {
            op.require(Permission::ManageSchema)?;
            let (id, name) = require_type(op, key)?;
            let count = store::count_of_type(op, id)?;
            if count > 0 {
                return Err(invalid(format!(
                    "relationship type `{name}` has {count} relationship(s); delete them first"
                )));
            }
            companies::remove_custom(op, &object_of(id))?;
            store::delete_type(op, id)?;
            op.audit(
                "relationship_type.delete",
                &format!("relationship_type:{id}"),
                Some(serde_json::json!({ "name": name })),
                None,
            )
        })
    }

    /// The tenant's relationship types with their own fields, by name.
    pub fn relationship_types(&self) -> Result<Vec<RelationshipType>> {
        self.read(|op| {
            store::types(op)?
                .into_iter()
                .map(|(id, name)| {
                    let mut record = store::type_record(id, name);
                    record.fields = companies::custom_fields(op, &object_of(id))?;
                    Ok(record)
                })
                .collect()
        })
    }

    /// One relationship type by id or name (ignoring case); `None` when there is none.
    pub fn relationship_type(&self, key: &str) -> Result<Option<RelationshipType>> {
        self.read(|op| {
            let Some((id, name)) = store::find_type(op, key)? else {
                return Ok(None);
            };
            let mut record = store::type_record(id, name);
            record.fields = companies::custom_fields(op, &object_of(id))?;
            Ok(Some(record))
        })
    }

    /// The fields of a relationship of type `key`: the standard ones, then the type's own.
    pub fn relationship_fields(&self, key: &str) -> Result<Vec<FieldDef>> {
        self.read(|op| {
            let (id, _) = require_type(op, key)?;
            Ok(schema_of(op, id)?.fields().to_vec())
        })
    }

    /// Adds (or changes) a field of relationship type `key`. A change of type converts the
    /// values the type's relationships hold, or is refused naming those that do not fit.
    pub fn define_relationship_field(
        &self,
        key: &str,
        name: &str,
        field_type: FieldType,
        required: bool,
    ) -> Result<()> {
        let name = name.trim();
        if !is_field_name(name) {
            return Err(invalid(format!(
                "field name `{name}`: use lower-case letters, digits and `_`"
            )));
        }
        if name == NAME || name == EXTERNAL_ID || STANDARD_FIELDS.iter().any(|(s, _)| *s == name) {
            return Err(invalid(format!(
                "`{name}` is a standard relationship field and cannot be redefined"
            )));
        }
        if RESERVED_NAMES.contains(&name) || name == "company" || name == "type" {
            return Err(invalid(format!(
                "`{name}` is reserved for the host (a record's id, company, type, partner or \
                 times); choose another name"
            )));
        }
        self.write(|op| {
            op.require(Permission::ManageSchema)?;
            let (type_id, type_name) = require_type(op, key)?;
            let object = object_of(type_id);
            let before = companies::custom_type(op, &object, name)?;
            if before.is_some_and(|b| b != field_type) {
                convert_values(op, type_id, name, field_type)?;
            }
            companies::define_custom(op, &object, name, field_type, required)?;
            op.audit(
                "field.define",
                &format!("field:relationship_type:{type_id}.{name}"),
                before.map(|b| serde_json::json!({ "type": b })),
                Some(serde_json::json!({
                    "relationship_type": type_name, "type": field_type, "required": required,
                })),
            )
        })
    }
}

/// Converts every value relationships of type `type_id` hold for field `name` to `field_type`,
/// or refuses naming (up to five of) those that do not fit.
fn convert_values(op: &Op<'_>, type_id: i64, name: &str, field_type: FieldType) -> Result<()> {
    let def = FieldDef {
        name: name.to_owned(),
        field_type,
        required: false,
        standard: false,
    };
    let mut converted = Vec::new();
    let mut misfits = Vec::new();
    for (id, relationship, value) in store::values_of(op, type_id, name)? {
        match companies::parse_text(&def, &value.to_string()) {
            Ok(value) => converted.push((id, value)),
            Err(_) => misfits.push(format!("{relationship} (relationship {id}): `{value}`")),
        }
    }
    if !misfits.is_empty() {
        let shown = misfits.len().min(5);
        return Err(Error::new(ErrorKind::InvalidField {
            field: name.to_owned(),
            message: format!(
                "cannot change it to {field_type}: {} relationship(s) hold values that are not \
                 {field_type}: {}; change or clear them first",
                misfits.len(),
                misfits[..shown].join(", ")
            ),
        }));
    }
    for (id, value) in converted {
        let mut relationship = store::find(op, id)?.ok_or_else(|| not_found("relationship", id))?;
        relationship.fields.insert(name.to_owned(), value);
        store::update(
            op,
            id,
            &store::Write {
                company: relationship.company_id,
                type_id: relationship.type_id,
                name: &relationship.name,
                managed_by: relationship.managed_by,
                fields: &relationship.fields,
            },
        )?;
    }
    Ok(())
}
