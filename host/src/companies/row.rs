//! A company row: the columns it is read from and written to, and the custom-field codec.
//!
//! Standard fields are columns of the `companies` table; custom fields live in its `custom` JSON
//! object, written flat (a date as `"YYYY-MM-DD"`, a boolean as `true`/`false`) so SQL can
//! compare them.

use crate::model::{AccessScope, Company, Date, FieldValue, Fields, ManagedAs};

use super::schema::{EXTERNAL_ID, FieldDef, FieldType, NAME, STANDARD_FIELDS, Schema};

/// The database spelling of an access scope.
pub(crate) fn scope_str(scope: AccessScope) -> &'static str {
    match scope {
        AccessScope::CompanyRecords => "company",
        AccessScope::RelationshipRecords => "relationship",
        AccessScope::Both => "both",
    }
}

/// The access scope of its database spelling.
pub(crate) fn parse_scope(text: &str) -> Option<AccessScope> {
    match text {
        "company" => Some(AccessScope::CompanyRecords),
        "relationship" => Some(AccessScope::RelationshipRecords),
        "both" => Some(AccessScope::Both),
        _ => None,
    }
}

pub(super) fn managed_as_str(managed_as: ManagedAs) -> &'static str {
    match managed_as {
        ManagedAs::Customer => "customer",
        ManagedAs::Partner => "partner",
    }
}

/// The columns `read_row` reads, in its order.
pub(crate) const COLUMNS: &str = "id, name, managed_as, managed_by, external_id, industry, region, \
                                  country, website, email, arr, custom, access_scope";

/// Reads a row selected with [`COLUMNS`] into a company and its access scope (partners only).
pub(crate) fn read_row(
    row: &rusqlite::Row<'_>,
    schema: &Schema,
) -> rusqlite::Result<(Company, Option<AccessScope>)> {
    let id: i64 = row.get(0)?;
    let managed_as: String = row.get(2)?;
    let managed_by: Option<i64> = row.get(3)?;
    let mut fields = Fields::new();
    let external_id: Option<String> = row.get(4)?;
    if let Some(external_id) = external_id {
        fields.insert(EXTERNAL_ID.to_owned(), FieldValue::Text(external_id));
    }
    for (index, (name, field_type)) in STANDARD_FIELDS.iter().enumerate() {
        let column = index + 5;
        let value = match field_type {
            FieldType::Number => row.get::<_, Option<f64>>(column)?.map(FieldValue::Number),
            _ => row.get::<_, Option<String>>(column)?.map(FieldValue::Text),
        };
        if let Some(value) = value {
            fields.insert((*name).to_owned(), value);
        }
    }
    let custom: String = row.get(11)?;
    if custom != "{}"
        && let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&custom)
    {
        for (name, value) in map {
            if let Some(value) = custom_from_json(schema.get(&name), value) {
                fields.insert(name, value);
            }
        }
    }
    let scope: Option<String> = row.get(12)?;
    Ok((
        Company {
            id: id.to_string(),
            name: row.get(1)?,
            managed_as: if managed_as == "partner" {
                ManagedAs::Partner
            } else {
                ManagedAs::Customer
            },
            managed_by: managed_by.map(|id| id.to_string()),
            fields,
        },
        scope.as_deref().and_then(parse_scope),
    ))
}

/// A custom field's stored JSON as a typed value (a field no longer in the schema reads as
/// what its JSON holds).
pub(crate) fn custom_from_json(
    def: Option<&FieldDef>,
    value: serde_json::Value,
) -> Option<FieldValue> {
    use serde_json::Value;
    Some(match (def.map(|d| d.field_type), value) {
        (_, Value::Null) => return None,
        (Some(FieldType::Date), Value::String(s)) => match s.parse::<Date>() {
            Ok(date) => FieldValue::Date(date),
            Err(_) => FieldValue::Text(s),
        },
        (_, Value::String(s)) => FieldValue::Text(s),
        (_, Value::Bool(b)) => FieldValue::Boolean(b),
        (_, Value::Number(n)) => FieldValue::Number(n.as_f64()?),
        (_, other) => FieldValue::Text(other.to_string()),
    })
}

/// A value as stored in the `custom` JSON.
pub(crate) fn custom_to_json(value: &FieldValue) -> serde_json::Value {
    use serde_json::Value;
    match value {
        FieldValue::Null => Value::Null,
        FieldValue::Text(t) => Value::String(t.clone()),
        FieldValue::Integer(n) => Value::from(*n),
        FieldValue::Number(n) => {
            serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number)
        }
        FieldValue::Boolean(b) => Value::Bool(*b),
        FieldValue::Date(d) => Value::String(d.to_string()),
    }
}

/// What to write to a company row. The fields must have passed [`Schema::check_all`].
pub(crate) struct CompanyWrite<'a> {
    pub name: &'a str,
    pub managed_as: ManagedAs,
    pub managed_by: Option<i64>,
    pub scope: Option<AccessScope>,
    pub fields: &'a Fields,
}

/// The standard column values of `fields`, in [`STANDARD_FIELDS`] order, and the external id.
pub(super) fn standard_values(fields: &Fields) -> (Option<String>, [rusqlite::types::Value; 6]) {
    use rusqlite::types::Value;
    let external_id = fields
        .get(EXTERNAL_ID)
        .and_then(FieldValue::as_text)
        .map(str::to_owned);
    let values = STANDARD_FIELDS.map(|(name, _)| match fields.get(name) {
        Some(FieldValue::Text(t)) => Value::Text(t.clone()),
        Some(FieldValue::Number(n)) => Value::Real(*n),
        Some(FieldValue::Integer(n)) => Value::Real(*n as f64),
        _ => Value::Null,
    });
    (external_id, values)
}

/// The custom fields of `fields` as the JSON text of the `custom` column, merged over `base`.
pub(super) fn custom_json(fields: &Fields, base: Option<&str>) -> String {
    let is_custom = |name: &str| {
        name != NAME && name != EXTERNAL_ID && !STANDARD_FIELDS.iter().any(|(s, _)| *s == name)
    };
    // Most rows of most tenants set no custom field: no JSON to build for a new record.
    if base.is_none()
        && !fields
            .iter()
            .any(|(name, value)| is_custom(name) && !value.is_null())
    {
        return "{}".to_owned();
    }
    let mut map = match base.map(serde_json::from_str::<serde_json::Value>) {
        Some(Ok(serde_json::Value::Object(map))) => map,
        _ => serde_json::Map::new(),
    };
    for (name, value) in fields {
        if name == NAME || name == EXTERNAL_ID || STANDARD_FIELDS.iter().any(|(s, _)| s == name) {
            continue;
        }
        if value.is_null() {
            map.remove(name);
        } else {
            map.insert(name.clone(), custom_to_json(value));
        }
    }
    serde_json::Value::Object(map).to_string()
}
