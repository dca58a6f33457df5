//! The field schema: which company fields a tenant has and what they hold. This module owns
//! the `field_schema` table.

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Date, FieldValue, Fields};
use crate::names::named_enum;

/// The type of a field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Text.
    Text,
    /// A number (whole or not).
    Number,
    /// True or false.
    Boolean,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
}

named_enum!(FieldType, "field type", {
    Text => "text",
    Number => "number",
    Boolean => "boolean",
    Date => "date",
});

/// One field of the company object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct FieldDef {
    /// The field's name, such as `industry` or `partner_tier`.
    pub name: String,
    /// The type of its values.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Whether every record must have a value.
    pub required: bool,
    /// True for the standard fields every tenant has; false for the tenant's custom fields.
    pub standard: bool,
}

/// The standard fields, each a column of `companies`. `name` is required and handled apart.
pub(crate) const STANDARD_FIELDS: [(&str, FieldType); 6] = [
    ("industry", FieldType::Text),
    ("region", FieldType::Text),
    ("country", FieldType::Text),
    ("website", FieldType::Text),
    ("email", FieldType::Text),
    ("arr", FieldType::Number),
];

/// The field that names a company.
pub(crate) const NAME: &str = "name";
/// The field that holds a company's id in the system it came from: the import key.
pub(crate) const EXTERNAL_ID: &str = "external_id";

/// The fields of one tenant's object (its companies, or one relationship type's
/// relationships): the standard ones, then the custom ones by name.
#[derive(Debug, Clone)]
pub(crate) struct Schema {
    fields: Vec<FieldDef>,
    /// What the fields are of, as messages name it: `company`, `relationship`.
    object: &'static str,
}

impl Schema {
    /// The tenant's company schema.
    pub(crate) fn load(op: &Op<'_>) -> Result<Schema> {
        let mut fields = vec![
            FieldDef {
                name: NAME.to_owned(),
                field_type: FieldType::Text,
                required: true,
                standard: true,
            },
            FieldDef {
                name: EXTERNAL_ID.to_owned(),
                field_type: FieldType::Text,
                required: false,
                standard: true,
            },
        ];
        fields.extend(STANDARD_FIELDS.iter().map(|&(name, field_type)| FieldDef {
            name: name.to_owned(),
            field_type,
            required: false,
            standard: true,
        }));
        fields.extend(custom_fields(op, "company")?);
        Ok(Schema {
            fields,
            object: "company",
        })
    }

    /// A schema of `fields`, which are the fields of an `object` (`relationship`).
    pub(crate) fn of(object: &'static str, fields: Vec<FieldDef>) -> Schema {
        Schema { fields, object }
    }

    /// Adds (or changes) the tenant's custom company field `name`. A change of type converts
    /// the values the companies hold, or is refused when one does not fit (see
    /// [`convert_values`]).
    pub(crate) fn define(
        op: &Op<'_>,
        name: &str,
        field_type: FieldType,
        required: bool,
    ) -> Result<()> {
        let before: Option<String> = op
            .conn
            .query_row(
                "SELECT type FROM field_schema
                 WHERE tenant_id = ?1 AND object = 'company' AND name = ?2",
                params![op.tenant.as_str(), name],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(before) = before
            && before != field_type.as_str()
        {
            convert_values(op, name, &before, field_type)?;
        }
        op.conn.execute(
            "INSERT INTO field_schema (tenant_id, object, name, type, required)
             VALUES (?1, 'company', ?2, ?3, ?4)
             ON CONFLICT (tenant_id, object, name)
             DO UPDATE SET type = excluded.type, required = excluded.required",
            params![op.tenant.as_str(), name, field_type.as_str(), required],
        )?;
        Ok(())
    }

    /// Every field.
    pub(crate) fn fields(&self) -> &[FieldDef] {
        &self.fields
    }

    /// A field by name.
    pub(crate) fn get(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks `value` against field `name`, converting where the type allows (a whole number
    /// for a number field, a `YYYY-MM-DD` text for a date field). Returns the problem as a
    /// message naming the field.
    pub(crate) fn check(&self, name: &str, value: FieldValue) -> Result<FieldValue, String> {
        let Some(def) = self.get(name) else {
            return Err(format!("there is no {} field `{name}`", self.object));
        };
        check_value(def, value)
    }

    /// Checks every field of `fields` and that the required ones are set (`name` included,
    /// passed apart). Returns the first problem: the field and what is wrong.
    pub(crate) fn check_all(
        &self,
        name: &str,
        fields: &mut Fields,
    ) -> Result<(), (String, String)> {
        if name.trim().is_empty() {
            return Err((NAME.to_owned(), "Name is required".to_owned()));
        }
        for (field, value) in fields.iter_mut() {
            let taken = std::mem::take(value);
            *value = self.check(field, taken).map_err(|m| (field.clone(), m))?;
        }
        for def in &self.fields {
            if def.required
                && def.name != NAME
                && fields.get(&def.name).is_none_or(FieldValue::is_null)
            {
                return Err((def.name.clone(), format!("`{}` is required", def.name)));
            }
        }
        Ok(())
    }
}

/// The custom fields a tenant defined for `object` (`company`, or `relationship_type:<id>` for
/// the fields of one relationship type), by name.
pub(crate) fn custom_fields(op: &Op<'_>, object: &str) -> Result<Vec<FieldDef>> {
    let custom = op
        .conn
        .prepare_cached(
            "SELECT name, type, required FROM field_schema
             WHERE tenant_id = ?1 AND object = ?2 ORDER BY name",
        )?
        .query_map(params![op.tenant.as_str(), object], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, bool>(2)?,
            ))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())?;
    custom
        .into_iter()
        .map(|(name, field_type, required)| {
            Ok(FieldDef {
                name,
                field_type: field_type.parse()?,
                required,
                standard: false,
            })
        })
        .collect()
}

/// The type custom field `name` of `object` has now, if it is defined.
pub(crate) fn custom_type(op: &Op<'_>, object: &str, name: &str) -> Result<Option<FieldType>> {
    let found: Option<String> = op
        .conn
        .prepare_cached(
            "SELECT type FROM field_schema WHERE tenant_id = ?1 AND object = ?2 AND name = ?3",
        )?
        .query_row(params![op.tenant.as_str(), object, name], |r| r.get(0))
        .optional()?;
    found.map(|t| t.parse()).transpose()
}

/// Adds (or changes) custom field `name` of `object` other than `company` (whose values
/// [`Schema::define`] converts); the caller checks the values its records hold.
pub(crate) fn define_custom(
    op: &Op<'_>,
    object: &str,
    name: &str,
    field_type: FieldType,
    required: bool,
) -> Result<()> {
    op.conn.execute(
        "INSERT INTO field_schema (tenant_id, object, name, type, required)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tenant_id, object, name)
         DO UPDATE SET type = excluded.type, required = excluded.required",
        params![
            op.tenant.as_str(),
            object,
            name,
            field_type.as_str(),
            required
        ],
    )?;
    Ok(())
}

/// Removes every custom field of `object` (a relationship type that is deleted).
pub(crate) fn remove_custom(op: &Op<'_>, object: &str) -> Result<()> {
    op.conn.execute(
        "DELETE FROM field_schema WHERE tenant_id = ?1 AND object = ?2",
        params![op.tenant.as_str(), object],
    )?;
    Ok(())
}

/// Checks one value against a field definition.
pub(crate) fn check_value(def: &FieldDef, value: FieldValue) -> Result<FieldValue, String> {
    let mismatch = |v: &FieldValue| {
        format!(
            "`{}` is a {} field; got a {} value `{v}`",
            def.name,
            def.field_type,
            v.type_name()
        )
    };
    Ok(match (def.field_type, value) {
        (_, FieldValue::Null) => FieldValue::Null,
        (FieldType::Text, FieldValue::Text(t)) => FieldValue::Text(t),
        (FieldType::Number, FieldValue::Number(n)) if n.is_finite() => FieldValue::Number(n),
        (FieldType::Number, FieldValue::Integer(n)) => FieldValue::Number(n as f64),
        (FieldType::Boolean, FieldValue::Boolean(b)) => FieldValue::Boolean(b),
        (FieldType::Date, FieldValue::Date(d)) => FieldValue::Date(d),
        (FieldType::Date, FieldValue::Text(t)) => FieldValue::Date(
            t.parse::<Date>()
                .map_err(|e| format!("`{}`: {e}", def.name))?,
        ),
        (_, other) => return Err(mismatch(&other)),
    })
}

/// Converts the text of a CSV cell to a value of the field's type. Empty text is `Null`.
pub(crate) fn parse_text(def: &FieldDef, text: &str) -> Result<FieldValue, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(FieldValue::Null);
    }
    match def.field_type {
        FieldType::Text => Ok(FieldValue::Text(text.to_owned())),
        FieldType::Number => text
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(FieldValue::Number)
            .ok_or_else(|| format!("`{text}` is not a number (field `{}`)", def.name)),
        FieldType::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => Ok(FieldValue::Boolean(true)),
            "false" | "no" | "n" | "0" => Ok(FieldValue::Boolean(false)),
            _ => Err(format!(
                "`{text}` is not a boolean (field `{}`): use true or false",
                def.name
            )),
        },
        FieldType::Date => text
            .parse::<Date>()
            .map(FieldValue::Date)
            .map_err(|e| format!("{e} (field `{}`)", def.name)),
    }
}

/// Names no custom field may take: the host's own columns and the import's built-in targets
/// (a custom `managed_by` would take over the "Managed By" column of an import).
pub(crate) const RESERVED_NAMES: [&str; 10] = [
    "id",
    "tenant_id",
    "managed_by",
    "managed_as",
    "access_scope",
    "scope",
    "custom",
    "created_at",
    "updated_at",
    "tenant",
];

/// Converts every stored value of custom field `name` to its new type, inside the caller's
/// transaction; when some value does not fit, refuses the change and names the records (at most
/// five, and how many in all), so no record keeps a value of the old type under the new one.
fn convert_values(op: &Op<'_>, name: &str, before: &str, field_type: FieldType) -> Result<()> {
    let path = format!("$.\"{name}\"");
    let def = FieldDef {
        name: name.to_owned(),
        field_type,
        required: false,
        standard: false,
    };
    // Each stored value as the text it would have in a CSV cell.
    let values: Vec<(i64, String, String)> = op
        .conn
        .prepare(
            "SELECT id, name, json_type(custom, ?2), json_extract(custom, ?2) FROM companies
             WHERE tenant_id = ?1 AND json_type(custom, ?2) NOT IN ('null')
             ORDER BY id",
        )
        .and_then(|mut statement| {
            statement
                .query_map(params![op.tenant.as_str(), path], |r| {
                    let kind: String = r.get(2)?;
                    let text = match kind.as_str() {
                        "true" | "false" => kind.clone(),
                        "integer" => r.get::<_, i64>(3)?.to_string(),
                        "real" => r.get::<_, f64>(3)?.to_string(),
                        _ => r.get::<_, String>(3)?,
                    };
                    Ok((r.get(0)?, r.get(1)?, text))
                })?
                .collect()
        })?;
    let mut converted = Vec::with_capacity(values.len());
    let mut misfits = Vec::new();
    for (id, company, text) in values {
        match parse_text(&def, &text) {
            Ok(value) => converted.push((id, super::row::custom_to_json(&value))),
            Err(_) => misfits.push(format!("{company} (company {id}): `{text}`")),
        }
    }
    if !misfits.is_empty() {
        let shown = misfits.len().min(5);
        let more = if misfits.len() > shown {
            format!(" and {} more", misfits.len() - shown)
        } else {
            String::new()
        };
        return Err(Error::new(ErrorKind::InvalidField {
            field: name.to_owned(),
            message: format!(
                "cannot change it from {before} to {field_type}: {} not {field_type}: {}{more}; \
                 change or clear them first",
                if misfits.len() == 1 {
                    "1 company holds a value that is".to_owned()
                } else {
                    format!("{} companies hold values that are", misfits.len())
                },
                misfits[..shown].join(", ")
            ),
        }));
    }
    let mut update = op.conn.prepare(
        "UPDATE companies SET custom = json_set(custom, ?3, json(?4))
         WHERE tenant_id = ?1 AND id = ?2",
    )?;
    for (id, value) in converted {
        update.execute(params![op.tenant.as_str(), id, path, value.to_string()])?;
    }
    Ok(())
}
