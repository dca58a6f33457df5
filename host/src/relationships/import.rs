//! The relationships side of a CSV import: the tenant's relationship types with their field
//! schemas (read once, for the thread that maps and checks rows), the fit of one row to its
//! type, and the look-up and write of the relationship a row is about.
//!
//! A row is about an existing relationship when its external id is that relationship's, or
//! else when it names a relationship of the same company and type with the same name (ignoring
//! case) that has no other external id: the natural key `(company, type, name)`. Running a file
//! again therefore updates what it created instead of duplicating it.

use crate::companies::{self, FieldDef, FieldType, Schema, parse_text};
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{FieldValue, Fields};

use super::{EXTERNAL_ID, NAME, check_manager, schema_of, store};

/// The import's target field naming the company a relationship belongs to (by its name or
/// external id).
pub(crate) const COMPANY: &str = "company";
/// The import's target field naming a relationship's type (by its name or id).
pub(crate) const TYPE: &str = "type";

/// The tenant's relationship types and their schemas, as an import reads them when it starts.
#[derive(Debug, Clone)]
pub(crate) struct ImportTypes {
    types: Vec<(i64, String, Schema)>,
}

impl ImportTypes {
    /// Reads the tenant's types with their fields.
    pub(crate) fn load(op: &Op<'_>) -> Result<ImportTypes> {
        let types = store::types(op)?
            .into_iter()
            .map(|(id, name)| Ok((id, name, schema_of(op, id)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(ImportTypes { types })
    }

    /// The fields a relationship import can map: `name`, `company` and `type` (required),
    /// `external_id`, the standard fields, then every type's own fields, each once. A field two
    /// types define with different types is read as text, and converted for each row's type.
    pub(crate) fn mappable(&self) -> Schema {
        let text = |name: &str, required: bool| FieldDef {
            name: name.to_owned(),
            field_type: FieldType::Text,
            required,
            standard: true,
        };
        let mut fields = vec![text(NAME, true), text(COMPANY, true), text(TYPE, true)];
        let mut add = |def: &FieldDef| match fields.iter_mut().find(|f| f.name == def.name) {
            Some(known) if known.field_type != def.field_type => {
                known.field_type = FieldType::Text;
            }
            Some(_) => {}
            None => fields.push(FieldDef {
                required: false,
                ..def.clone()
            }),
        };
        for def in super::standard_fields() {
            add(&def);
        }
        for (_, _, schema) in &self.types {
            for def in schema.fields() {
                add(def);
            }
        }
        Schema::of("relationship", fields)
    }

    /// The types with their schemas, by name.
    pub(crate) fn all(&self) -> impl Iterator<Item = (&str, &Schema)> {
        self.types
            .iter()
            .map(|(_, name, schema)| (name.as_str(), schema))
    }

    /// The type a row's `type` cell names (its id, or its name ignoring case), with its name and
    /// schema; or the row's error, listing the tenant's types.
    pub(crate) fn find(&self, key: &str) -> std::result::Result<(i64, &str, &Schema), String> {
        let key = key.trim();
        let found = self
            .types
            .iter()
            .find(|(id, _, _)| id.to_string() == key)
            .or_else(|| {
                self.types
                    .iter()
                    .find(|(_, name, _)| name.eq_ignore_ascii_case(key))
            });
        match found {
            Some((id, name, schema)) => Ok((*id, name, schema)),
            None if self.types.is_empty() => Err(format!(
                "there is no relationship type `{key}`; the tenant has no relationship types \
                 yet: an admin adds them with `cshost relationship-type add`"
            )),
            None => {
                let names: Vec<&str> = self.types.iter().map(|(_, n, _)| n.as_str()).collect();
                Err(format!(
                    "there is no relationship type `{key}`; its types are {}",
                    names.join(", ")
                ))
            }
        }
    }
}

/// Fits a mapped row's fields to the schema of its type `type_name`, then checks the name and
/// the fields: the empty values of fields the type lacks (another type's fields) are dropped,
/// a value in one of them is refused, and text read for a field the type gives another type is
/// converted. Returns the first problem: the field and what is wrong.
pub(crate) fn fit(
    schema: &Schema,
    type_name: &str,
    name: &str,
    fields: &mut Fields,
) -> std::result::Result<(), (String, String)> {
    let mut foreign: Option<String> = None;
    fields.retain(|field, value| {
        if schema.get(field).is_some() {
            return true;
        }
        if !value.is_null() && foreign.is_none() {
            foreign = Some(field.clone());
        }
        false
    });
    if let Some(field) = foreign {
        let message = format!(
            "`{field}` is not a field of relationship type `{type_name}`; leave the cell empty \
             on rows of that type"
        );
        return Err((field, message));
    }
    for (field, value) in fields.iter_mut() {
        if let (Some(def), FieldValue::Text(text)) = (schema.get(field), &*value)
            && def.field_type != FieldType::Text
        {
            *value = parse_text(def, text).map_err(|m| (field.clone(), m))?;
        }
    }
    schema.check_all(name, fields)
}

/// One checked row of a relationship import.
pub(crate) struct ImportRow<'a> {
    /// The company it belongs to.
    pub company: i64,
    /// Its type, with the type's name.
    pub type_id: i64,
    pub type_name: &'a str,
    pub name: &'a str,
    /// The partner the row names as Managed By; `None` keeps an existing relationship's.
    pub managed_by: Option<i64>,
    /// The mapped fields: a value sets a field, `Null` clears it, unmapped fields stay.
    pub fields: &'a Fields,
}

/// What an import row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Imported {
    /// A new relationship, with its id.
    Created(i64),
    /// An existing relationship, with its id.
    Updated(i64),
}

/// A row's problem: the field at fault and what is wrong.
pub(crate) type RowProblem = (&'static str, String);

/// Creates the relationship `row` describes, or updates the one it is about (see the module
/// docs). The inner error is the row's problem, which the import reports and goes on: the
/// manager is not a partner (or is the company), the one-partner rule, the row's external id is
/// a relationship of another type or company, or another relationship's. The outer error is
/// fatal to the import (the database failed).
pub(crate) fn import_row(
    op: &Op<'_>,
    row: &ImportRow<'_>,
) -> Result<std::result::Result<Imported, RowProblem>> {
    const MANAGED_BY: &str = "managed_by";
    let row_problem = |field: &'static str, error: Error| -> Result<_> {
        match error.kind() {
            ErrorKind::Invalid(message) => Ok(Err((field, message.clone()))),
            ErrorKind::InvalidField { message, .. } => Ok(Err((field, message.clone()))),
            ErrorKind::NotFound { .. } | ErrorKind::AlreadyManaged { .. } => {
                Ok(Err((field, error.to_string())))
            }
            _ => Err(error),
        }
    };
    if let Some(partner) = row.managed_by
        && let Err(error) = check_manager(op, row.company, partner)
    {
        return row_problem(MANAGED_BY, error);
    }
    let external_id = row.fields.get(EXTERNAL_ID).and_then(FieldValue::as_text);
    let mut existing = match external_id {
        Some(key) => store::find_by_external_id(op, key)?,
        None => None,
    };
    if let (Some(found), Some(key)) = (&existing, external_id) {
        if found.type_id != row.type_id {
            return Ok(Err((
                EXTERNAL_ID,
                format!(
                    "the external id `{key}` is relationship {} `{}`, of type `{}`; the row \
                     says `{}`: a relationship's type cannot change",
                    found.id, found.name, found.type_name, row.type_name
                ),
            )));
        }
        if found.company_id != row.company {
            return Ok(Err((
                EXTERNAL_ID,
                format!(
                    "the external id `{key}` is relationship {} `{}` of company {}; the row \
                     names company {}: a relationship stays with its company",
                    found.id, found.name, found.company_id, row.company
                ),
            )));
        }
    }
    if existing.is_none() {
        existing = store::find_by_natural_key(
            op,
            row.company,
            row.type_id,
            row.name,
            external_id.is_some(),
        )?;
    }
    let Some(found) = existing else {
        let fields: Fields = row
            .fields
            .iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let write = store::Write {
            company: row.company,
            type_id: row.type_id,
            name: row.name,
            managed_by: row.managed_by,
            fields: &fields,
        };
        return match store::insert(op, &write) {
            Ok(id) => Ok(Ok(Imported::Created(id))),
            Err(error) => row_problem(EXTERNAL_ID, error),
        };
    };
    let id = found.id;
    let mut fields = super::load(op, id)?.fields;
    for (name, value) in row.fields {
        if value.is_null() {
            fields.remove(name);
        } else {
            fields.insert(name.clone(), value.clone());
        }
    }
    let write = store::Write {
        company: found.company_id,
        type_id: found.type_id,
        name: row.name,
        managed_by: row.managed_by.or(found.managed_by),
        fields: &fields,
    };
    match store::update(op, id, &write) {
        Ok(()) => Ok(Ok(Imported::Updated(id))),
        Err(error) if matches!(error.kind(), ErrorKind::AlreadyManaged { .. }) => {
            row_problem(MANAGED_BY, error)
        }
        Err(error) => row_problem(EXTERNAL_ID, error),
    }
}

/// The company an import row names, by external id or name; `None` when there is none.
pub(crate) fn company(op: &Op<'_>, key: &str) -> Result<Option<i64>> {
    companies::company_by_key(op, key.trim())
}
