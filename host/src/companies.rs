//! Companies: the tenant's company records with their standard and custom fields, and the field
//! schema that says which fields exist and what they hold.
//!
//! Standard fields are columns of the `companies` table; custom fields live in its `custom` JSON
//! object, written flat (a date as `"YYYY-MM-DD"`, a boolean as `true`/`false`) so SQL can
//! compare them. The field schema gives every field its type, so reading a record gives back
//! typed [`FieldValue`]s.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::host::Tenant;
use crate::model::{AccessScope, Company, Date, FieldValue, Fields, ManagedAs};
use crate::names::named_enum;
use crate::store::{Store, TenantId};

/// How to find one company of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompanyKey<'a> {
    /// By its database id.
    Id(i64),
    /// By its name, ignoring case; the oldest company of that name when there are several.
    Name(&'a str),
}

/// The type of a field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// The company fields of one tenant: the standard ones, then the custom ones by name.
#[derive(Debug, Clone)]
pub(crate) struct Schema {
    fields: Vec<FieldDef>,
}

impl Schema {
    /// The tenant's company schema.
    pub(crate) fn load(conn: &Connection, store: &Store, tenant: &TenantId) -> Result<Schema> {
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
        let mut query = conn
            .prepare_cached(
                "SELECT name, type, required FROM field_schema
                 WHERE tenant_id = ?1 AND object = 'company' ORDER BY name",
            )
            .map_err(|e| store.error(e))?;
        let custom = query
            .query_map([tenant.as_str()], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, bool>(2)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| store.error(e))?;
        for (name, field_type, required) in custom {
            fields.push(FieldDef {
                name,
                field_type: field_type.parse()?,
                required,
                standard: false,
            });
        }
        Ok(Schema { fields })
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
            return Err(format!("there is no company field `{name}`"));
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

/// Checks one value against a field definition.
fn check_value(def: &FieldDef, value: FieldValue) -> Result<FieldValue, String> {
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

fn managed_as_str(managed_as: ManagedAs) -> &'static str {
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
fn custom_from_json(def: Option<&FieldDef>, value: serde_json::Value) -> Option<FieldValue> {
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
fn convert_values(
    tx: &Connection,
    store: &Store,
    tenant: &TenantId,
    name: &str,
    before: &str,
    field_type: FieldType,
) -> Result<()> {
    let path = format!("$.\"{name}\"");
    let def = FieldDef {
        name: name.to_owned(),
        field_type,
        required: false,
        standard: false,
    };
    // Each stored value as the text it would have in a CSV cell.
    let values: Vec<(i64, String, String)> = tx
        .prepare(
            "SELECT id, name, json_type(custom, ?2), json_extract(custom, ?2) FROM companies
             WHERE tenant_id = ?1 AND json_type(custom, ?2) NOT IN ('null')
             ORDER BY id",
        )
        .and_then(|mut statement| {
            statement
                .query_map(params![tenant.as_str(), path], |r| {
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
        })
        .map_err(|e| store.error(e))?;
    let mut converted = Vec::with_capacity(values.len());
    let mut misfits = Vec::new();
    for (id, company, text) in values {
        match parse_text(&def, &text) {
            Ok(value) => converted.push((id, custom_to_json(&value))),
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
    let mut update = tx
        .prepare(
            "UPDATE companies SET custom = json_set(custom, ?3, json(?4))
             WHERE tenant_id = ?1 AND id = ?2",
        )
        .map_err(|e| store.error(e))?;
    for (id, value) in converted {
        update
            .execute(params![tenant.as_str(), id, path, value.to_string()])
            .map_err(|e| store.error(e))?;
    }
    Ok(())
}

/// A value as stored in the `custom` JSON.
fn custom_to_json(value: &FieldValue) -> serde_json::Value {
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

/// Finds one company of the tenant. `Ok(None)` when there is none.
pub(crate) fn find(
    conn: &Connection,
    store: &Store,
    tenant: &TenantId,
    key: CompanyKey<'_>,
) -> Result<Option<Company>> {
    Ok(find_with_scope(conn, store, tenant, key)?.map(|(company, _)| company))
}

/// Like [`find`], with the partner's access scope.
pub(crate) fn find_with_scope(
    conn: &Connection,
    store: &Store,
    tenant: &TenantId,
    key: CompanyKey<'_>,
) -> Result<Option<(Company, Option<AccessScope>)>> {
    let schema = Schema::load(conn, store, tenant)?;
    let found = match key {
        CompanyKey::Id(id) => conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM companies WHERE tenant_id = ?1 AND id = ?2"
            ))
            .and_then(|mut q| {
                q.query_row(params![tenant.as_str(), id], |row| read_row(row, &schema))
                    .optional()
            }),
        CompanyKey::Name(name) => conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM companies
                 WHERE tenant_id = ?1 AND name = ?2 COLLATE NOCASE ORDER BY id LIMIT 1"
            ))
            .and_then(|mut q| {
                q.query_row(params![tenant.as_str(), name.trim()], |row| {
                    read_row(row, &schema)
                })
                .optional()
            }),
    };
    found.map_err(|e| store.error(e))
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
fn standard_values(fields: &Fields) -> (Option<String>, [rusqlite::types::Value; 6]) {
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
fn custom_json(fields: &Fields, base: Option<&str>) -> String {
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

/// Inserts a company; returns its id.
pub(crate) fn insert(
    conn: &Connection,
    store: &Store,
    tenant: &TenantId,
    write: &CompanyWrite<'_>,
    now: i64,
) -> Result<i64> {
    let (external_id, [industry, region, country, website, email, arr]) =
        standard_values(write.fields);
    conn.prepare_cached(
        "INSERT INTO companies (tenant_id, external_id, name, managed_as, managed_by,
             access_scope, industry, region, country, website, email, arr, custom,
             created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
    )
    .and_then(|mut insert| {
        insert.execute(params![
            tenant.as_str(),
            external_id,
            write.name.trim(),
            managed_as_str(write.managed_as),
            write.managed_by,
            write.scope.map(scope_str),
            industry,
            region,
            country,
            website,
            email,
            arr,
            custom_json(write.fields, None),
            now
        ])
    })
    .map_err(|e| store.error(e))?;
    Ok(conn.last_insert_rowid())
}

/// The values of one row of a [`BulkInsert`] that change from row to row: id, external id,
/// name, managed-as, managed-by, access scope, the six standard columns and `custom`.
const BULK_VALUES: usize = 13;

/// Inserts many companies of one tenant, several rows to a statement: each statement's fixed
/// cost in SQLite (starting the statement, its journal, the check constraints' lookup tables,
/// closing the cursors) is then paid once for many rows instead of once per row. The caller
/// gives each row its id (the next free one), so it knows the ids before they are written.
///
/// Rows are queued with [`push`](Self::push) and written by [`flush`](Self::flush), which says
/// for each row whether it went in. A statement that a row's constraint refuses is rolled back
/// whole by SQLite; its rows are then written one by one, so a refused row is refused with the
/// same error as [`insert`] gives and the others still go in.
pub(crate) struct BulkInsert<'c> {
    store: &'c Store,
    many: rusqlite::Statement<'c>,
    one: rusqlite::Statement<'c>,
    per_statement: usize,
    /// The queued rows' values, [`BULK_VALUES`] per row.
    values: Vec<rusqlite::types::Value>,
}

impl<'c> BulkInsert<'c> {
    /// Prepares the statements for `tenant`'s rows written at `now`, `per_statement` rows to a
    /// statement.
    pub(crate) fn new(
        conn: &'c Connection,
        store: &'c Store,
        tenant: &TenantId,
        now: i64,
        per_statement: usize,
    ) -> Result<BulkInsert<'c>> {
        let per_statement = per_statement.max(1);
        let sql = |rows: usize| {
            let mut sql = String::from(
                "INSERT INTO companies (id, tenant_id, external_id, name, managed_as, managed_by,
                     access_scope, industry, region, country, website, email, arr, custom,
                     created_at, updated_at) VALUES ",
            );
            for row in 0..rows {
                if row > 0 {
                    sql.push(',');
                }
                // ?1 is the tenant and ?2 the time, shared by every row.
                let p = |i: usize| 3 + row * BULK_VALUES + i;
                sql.push_str(&format!(
                    "(?{},?1,?{},?{},?{},?{},?{},?{},?{},?{},?{},?{},?{},?{},?2,?2)",
                    p(0),
                    p(1),
                    p(2),
                    p(3),
                    p(4),
                    p(5),
                    p(6),
                    p(7),
                    p(8),
                    p(9),
                    p(10),
                    p(11),
                    p(12)
                ));
            }
            sql
        };
        let prepare = |rows: usize| -> rusqlite::Result<rusqlite::Statement<'c>> {
            let mut statement = conn.prepare(&sql(rows))?;
            statement.raw_bind_parameter(1, tenant.as_str())?;
            statement.raw_bind_parameter(2, now)?;
            Ok(statement)
        };
        let many = prepare(per_statement).map_err(|e| store.error(e))?;
        let one = prepare(1).map_err(|e| store.error(e))?;
        Ok(BulkInsert {
            store,
            many,
            one,
            per_statement,
            values: Vec::with_capacity(per_statement * BULK_VALUES),
        })
    }

    /// How many rows are queued.
    pub(crate) fn len(&self) -> usize {
        self.values.len() / BULK_VALUES
    }

    /// Whether a statement's worth of rows is queued.
    pub(crate) fn is_full(&self) -> bool {
        self.len() >= self.per_statement
    }

    /// Queues company `id`. The fields must have passed [`Schema::check_all`]; their values are
    /// moved out of `fields` (which is left to be cleared), so queuing copies no text.
    pub(crate) fn push(
        &mut self,
        id: i64,
        name: String,
        managed_as: ManagedAs,
        managed_by: Option<i64>,
        scope: Option<AccessScope>,
        fields: &mut Fields,
    ) {
        use rusqlite::types::Value;
        let text = |value: Option<String>| value.map_or(Value::Null, Value::Text);
        let custom = custom_json(fields, None);
        let name = match name.trim() {
            trimmed if trimmed.len() == name.len() => name,
            trimmed => trimmed.to_owned(),
        };
        let external_id = match fields.get_mut(EXTERNAL_ID) {
            Some(FieldValue::Text(t)) => Some(std::mem::take(t)),
            _ => None,
        };
        self.values.extend([
            Value::Integer(id),
            text(external_id),
            Value::Text(name),
            Value::Text(managed_as_str(managed_as).to_owned()),
            managed_by.map_or(Value::Null, Value::Integer),
            text(scope.map(|s| scope_str(s).to_owned())),
        ]);
        for (field, _) in STANDARD_FIELDS {
            self.values.push(match fields.get_mut(field) {
                Some(FieldValue::Text(t)) => Value::Text(std::mem::take(t)),
                Some(FieldValue::Number(n)) => Value::Real(*n),
                Some(FieldValue::Integer(n)) => Value::Real(*n as f64),
                _ => Value::Null,
            });
        }
        self.values.push(Value::Text(custom));
    }

    /// Writes the queued rows. `written` gets one result per row, in the order queued: `Ok`,
    /// or the error inserting that row alone gave (a refused row, or database trouble). An
    /// `Err` from this call is trouble that stops the import.
    pub(crate) fn flush(&mut self, written: &mut Vec<Result<()>>) -> Result<()> {
        let rows = self.len();
        let mut row = 0;
        while row < rows {
            let start = row * BULK_VALUES;
            if rows - row >= self.per_statement && self.per_statement > 1 {
                let end = start + self.per_statement * BULK_VALUES;
                match execute(&mut self.many, &self.values[start..end]) {
                    Ok(()) => {
                        written.extend((0..self.per_statement).map(|_| Ok(())));
                        row += self.per_statement;
                        continue;
                    }
                    // A row broke a rule and SQLite rolled the statement back: find which by
                    // writing the rows one by one.
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if e.code == rusqlite::ErrorCode::ConstraintViolation => {}
                    Err(e) => return Err(self.store.error(e)),
                }
                for one in 0..self.per_statement {
                    let at = start + one * BULK_VALUES;
                    let result = execute(&mut self.one, &self.values[at..at + BULK_VALUES]);
                    written.push(result.map_err(|e| self.store.error(e)));
                }
                row += self.per_statement;
            } else {
                let result = execute(&mut self.one, &self.values[start..start + BULK_VALUES]);
                written.push(result.map_err(|e| self.store.error(e)));
                row += 1;
            }
        }
        self.values.clear();
        Ok(())
    }
}

/// Binds `values` from parameter 3 on (1 and 2 stay bound) and runs the statement.
fn execute(
    statement: &mut rusqlite::Statement<'_>,
    values: &[rusqlite::types::Value],
) -> rusqlite::Result<()> {
    for (i, value) in values.iter().enumerate() {
        statement.raw_bind_parameter(3 + i, value)?;
    }
    statement.raw_execute().map(drop)
}

/// Updates company `id` with the fields set in `write.fields` (the others keep their values);
/// the name, managed-as and scope are replaced, `managed_by` only when `Some`.
pub(crate) fn update(
    conn: &Connection,
    store: &Store,
    tenant: &TenantId,
    id: i64,
    write: &CompanyWrite<'_>,
    now: i64,
) -> Result<()> {
    use rusqlite::types::Value;
    let (external_id, standard) = standard_values(write.fields);
    let custom: String = conn
        .prepare_cached("SELECT custom FROM companies WHERE tenant_id = ?1 AND id = ?2")
        .and_then(|mut q| q.query_row(params![tenant.as_str(), id], |r| r.get(0)))
        .map_err(|e| store.error(e))?;
    // A field absent from `fields` keeps its value: COALESCE with a flag per column.
    let present = |name: &str| write.fields.contains_key(name);
    let [industry, region, country, website, email, arr] = standard;
    let keep = |name: &str, value: Value| -> (bool, Value) { (present(name), value) };
    let cols = [
        keep("industry", industry),
        keep("region", region),
        keep("country", country),
        keep("website", website),
        keep("email", email),
        keep("arr", arr),
    ];
    conn.prepare_cached(
        "UPDATE companies SET
             name = ?3, managed_as = ?4, managed_by = COALESCE(?5, managed_by),
             access_scope = ?6,
             external_id = CASE WHEN ?7 THEN ?8 ELSE external_id END,
             industry = CASE WHEN ?9 THEN ?10 ELSE industry END,
             region = CASE WHEN ?11 THEN ?12 ELSE region END,
             country = CASE WHEN ?13 THEN ?14 ELSE country END,
             website = CASE WHEN ?15 THEN ?16 ELSE website END,
             email = CASE WHEN ?17 THEN ?18 ELSE email END,
             arr = CASE WHEN ?19 THEN ?20 ELSE arr END,
             custom = ?21, updated_at = ?22
         WHERE tenant_id = ?1 AND id = ?2",
    )
    .and_then(|mut update| {
        update.execute(params![
            tenant.as_str(),
            id,
            write.name.trim(),
            managed_as_str(write.managed_as),
            write.managed_by,
            write.scope.map(scope_str),
            present(EXTERNAL_ID),
            external_id,
            cols[0].0,
            cols[0].1,
            cols[1].0,
            cols[1].1,
            cols[2].0,
            cols[2].1,
            cols[3].0,
            cols[3].1,
            cols[4].0,
            cols[4].1,
            cols[5].0,
            cols[5].1,
            custom_json(write.fields, Some(&custom)),
            now
        ])
    })
    .map_err(|e| one_partner_error(conn, store, tenant, id, e))?;
    Ok(())
}

/// Turns the one-partner trigger's refusal into an error naming the partner that manages the
/// record now; other database errors pass through.
pub(crate) fn one_partner_error(
    conn: &Connection,
    store: &Store,
    tenant: &TenantId,
    company: i64,
    error: rusqlite::Error,
) -> Error {
    let refused = matches!(&error, rusqlite::Error::SqliteFailure(_, Some(m))
        if m.starts_with("one-partner rule: company is managed"));
    if !refused {
        return store.error(error);
    }
    match managed_by(conn, store, tenant, company) {
        Ok(Some((record, partner_id, partner))) => Error::new(ErrorKind::AlreadyManaged {
            record,
            partner_id,
            partner,
        }),
        _ => store.error(error),
    }
}

/// The name of company `id` and the id and name of the partner managing it, if any.
pub(crate) fn managed_by(
    conn: &Connection,
    store: &Store,
    tenant: &TenantId,
    id: i64,
) -> Result<Option<(String, i64, String)>> {
    conn.prepare_cached(
        "SELECT c.name, p.id, p.name FROM companies c
         JOIN companies p ON p.tenant_id = c.tenant_id AND p.id = c.managed_by
         WHERE c.tenant_id = ?1 AND c.id = ?2",
    )
    .and_then(|mut q| {
        q.query_row(params![tenant.as_str(), id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
    })
    .map_err(|e| store.error(e))
}

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

impl Tenant<'_> {
    /// The tenant's company fields: the standard ones, then its custom ones.
    pub fn company_fields(&self) -> Result<Vec<FieldDef>> {
        let store = self.store();
        store.with(|conn| Ok(Schema::load(conn, store, &self.id)?.fields))
    }

    /// Adds (or changes) a custom company field. Standard fields cannot be redefined.
    pub fn define_company_field(
        &self,
        name: &str,
        field_type: FieldType,
        required: bool,
    ) -> Result<()> {
        let name = name.trim();
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "field name `{name}`: use lower-case letters, digits and `_`"
            ))));
        }
        if name == NAME || name == EXTERNAL_ID || STANDARD_FIELDS.iter().any(|(s, _)| *s == name) {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "`{name}` is a standard company field and cannot be redefined"
            ))));
        }
        if RESERVED_NAMES.contains(&name) {
            return Err(Error::new(ErrorKind::Invalid(format!(
                "`{name}` is reserved for the host (a record's id, tenant, partner or times); \
                 choose another name"
            ))));
        }
        let store = self.store();
        let now = self.host.now();
        store.write(|tx| {
            let before: Option<String> = tx
                .query_row(
                    "SELECT type FROM field_schema
                     WHERE tenant_id = ?1 AND object = 'company' AND name = ?2",
                    params![self.id.as_str(), name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| store.error(e))?;
            if let Some(before) = before
                && before != field_type.as_str()
            {
                convert_values(tx, store, &self.id, name, &before, field_type)?;
            }
            tx.execute(
                "INSERT INTO field_schema (tenant_id, object, name, type, required)
                 VALUES (?1, 'company', ?2, ?3, ?4)
                 ON CONFLICT (tenant_id, object, name)
                 DO UPDATE SET type = excluded.type, required = excluded.required",
                params![self.id.as_str(), name, field_type.as_str(), required],
            )
            .map_err(|e| store.error(e))?;
            self.audit(
                tx,
                now,
                "field.define",
                &format!("field:company.{name}"),
                None,
                Some(serde_json::json!({"type": field_type, "required": required})),
            )
        })
    }

    /// Adds a company; returns its id. Name is mandatory and every field is checked against
    /// the field schema; the error names the field at fault. A partner added this way gets
    /// access to company records; use [`Tenant::add_partner`] to choose its scope.
    pub fn add_company(&self, company: NewCompany) -> Result<i64> {
        let scope = (company.managed_as == ManagedAs::Partner).then_some(AccessScope::default());
        self.insert_company(company, scope, "company.add")
    }

    /// Inserts a checked company with its audit entry; shared by the manual-add paths.
    pub(crate) fn insert_company(
        &self,
        company: NewCompany,
        scope: Option<AccessScope>,
        action: &str,
    ) -> Result<i64> {
        let store = self.store();
        let now = self.host.now();
        let NewCompany {
            name,
            managed_as,
            managed_by,
            mut fields,
        } = company;
        store.write(|tx| {
            let schema = Schema::load(tx, store, &self.id)?;
            schema
                .check_all(&name, &mut fields)
                .map_err(|(field, message)| {
                    Error::new(ErrorKind::InvalidField { field, message })
                })?;
            if let Some(partner) = managed_by {
                check_is_partner(tx, store, &self.id, partner)?;
            }
            let id = insert(
                tx,
                store,
                &self.id,
                &CompanyWrite {
                    name: &name,
                    managed_as,
                    managed_by,
                    scope,
                    fields: &fields,
                },
                now,
            )?;
            self.audit(
                tx,
                now,
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
            Ok(id)
        })
    }

    /// One company, by id or name; `None` when the tenant has no such company.
    pub fn company(&self, key: CompanyKey<'_>) -> Result<Option<Company>> {
        let store = self.store();
        store.with(|conn| find(conn, store, &self.id, key))
    }

    /// Companies whose name contains `text` (ignoring case), by name, at most `limit`: the
    /// search of manual selection.
    pub fn search_companies(&self, text: &str, limit: usize) -> Result<Vec<Company>> {
        let store = self.store();
        store.with(|conn| {
            let schema = Schema::load(conn, store, &self.id)?;
            let pattern = format!(
                "%{}%",
                text.trim()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            let mut query = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM companies
                     WHERE tenant_id = ?1 AND name LIKE ?2 ESCAPE '\\'
                     ORDER BY name COLLATE NOCASE, id LIMIT ?3"
                ))
                .map_err(|e| store.error(e))?;
            query
                .query_map(params![self.id.as_str(), pattern, limit as i64], |row| {
                    read_row(row, &schema).map(|(c, _)| c)
                })
                .and_then(|rows| rows.collect())
                .map_err(|e| store.error(e))
        })
    }

    /// Changes which partner manages company `id`: `None` clears it. Giving a company managed
    /// by one partner to another fails with [`ErrorKind::AlreadyManaged`], naming the partner
    /// that manages it now: clear it first.
    pub fn set_managed_by(&self, id: i64, partner: Option<i64>) -> Result<()> {
        let store = self.store();
        let now = self.host.now();
        store.write(|tx| {
            if let Some(partner) = partner {
                check_is_partner(tx, store, &self.id, partner)?;
            }
            let before = find(tx, store, &self.id, CompanyKey::Id(id))?.ok_or_else(|| {
                Error::new(ErrorKind::NotFound {
                    object: "company",
                    id: id.to_string(),
                })
            })?;
            tx.prepare_cached(
                "UPDATE companies SET managed_by = ?3, updated_at = ?4
                 WHERE tenant_id = ?1 AND id = ?2",
            )
            .and_then(|mut q| q.execute(params![self.id.as_str(), id, partner, now]))
            .map_err(|e| one_partner_error(tx, store, &self.id, id, e))?;
            self.audit(
                tx,
                now,
                "company.managed_by",
                &format!("company:{id}"),
                Some(serde_json::json!({"managed_by": before.managed_by})),
                Some(serde_json::json!({"managed_by": partner})),
            )
        })
    }

    /// The tenant's companies, by id, at most `limit`, starting after id `after`.
    pub fn companies(&self, after: i64, limit: usize) -> Result<Vec<Company>> {
        let store = self.store();
        store.with(|conn| {
            let schema = Schema::load(conn, store, &self.id)?;
            let mut query = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM companies WHERE tenant_id = ?1 AND id > ?2
                     ORDER BY id LIMIT ?3"
                ))
                .map_err(|e| store.error(e))?;
            query
                .query_map(params![self.id.as_str(), after, limit as i64], |row| {
                    read_row(row, &schema).map(|(c, _)| c)
                })
                .and_then(|rows| rows.collect())
                .map_err(|e| store.error(e))
        })
    }
}

/// Fails unless company `id` of the tenant is a partner.
pub(crate) fn check_is_partner(
    conn: &Connection,
    store: &Store,
    tenant: &TenantId,
    id: i64,
) -> Result<()> {
    let managed_as: Option<String> = conn
        .prepare_cached("SELECT managed_as FROM companies WHERE tenant_id = ?1 AND id = ?2")
        .and_then(|mut q| {
            q.query_row(params![tenant.as_str(), id], |r| r.get(0))
                .optional()
        })
        .map_err(|e| store.error(e))?;
    match managed_as.as_deref() {
        Some("partner") => Ok(()),
        Some(_) => Err(Error::new(ErrorKind::Invalid(format!(
            "company {id} is not a partner; tag it as a partner first"
        )))),
        None => Err(Error::new(ErrorKind::NotFound {
            object: "partner",
            id: id.to_string(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Host, HostConfig, TenantLevel};

    fn host() -> Host {
        let host = Host::open_in_memory(HostConfig::default()).unwrap();
        host.create_tenant("acme", "Acme", TenantLevel::Both)
            .unwrap();
        host.create_tenant("globex", "Globex", TenantLevel::Company)
            .unwrap();
        host
    }

    #[test]
    fn bulk_insert_writes_rows_many_to_a_statement_and_refuses_only_the_row_at_fault() {
        let host = host();
        let acme = host.tenant("acme").unwrap();
        let store = acme.store();
        let tenant = acme.id.clone();
        let rows = store
            .write(|tx| {
                let mut bulk = BulkInsert::new(tx, store, &tenant, 7, 4)?;
                let first: i64 = tx
                    .query_row("SELECT coalesce(max(id), 0) + 1 FROM companies", [], |r| {
                        r.get(0)
                    })
                    .unwrap();
                // Ten rows, four to a statement; row 6 repeats row 2's external id, which the
                // unique index refuses, so its statement falls back to one row at a time.
                for i in 0..10i64 {
                    let mut fields = Fields::new();
                    let external = if i == 5 { 1 } else { i };
                    fields.insert(
                        EXTERNAL_ID.into(),
                        FieldValue::from(format!("X-{external}")),
                    );
                    fields.insert("industry".into(), FieldValue::from("Retail"));
                    fields.insert("arr".into(), FieldValue::Number(i as f64));
                    let name = format!(" Company {i} ");
                    bulk.push(
                        first + i,
                        name,
                        ManagedAs::Customer,
                        None,
                        None,
                        &mut fields,
                    );
                }
                assert_eq!(bulk.len(), 10);
                let mut written = Vec::new();
                bulk.flush(&mut written)?;
                assert_eq!(bulk.len(), 0);
                Ok((first, written))
            })
            .unwrap();
        let (first, written) = rows;
        assert_eq!(written.len(), 10);
        for (i, result) in written.iter().enumerate() {
            match result {
                Ok(()) => assert_ne!(i, 5),
                Err(error) => {
                    assert_eq!(i, 5, "{error}");
                    assert!(error.to_string().contains("UNIQUE"), "{error}");
                }
            }
        }
        let company = acme.company(CompanyKey::Id(first + 9)).unwrap().unwrap();
        assert_eq!(company.name, "Company 9");
        assert_eq!(company.fields["arr"], FieldValue::Number(9.0));
        assert_eq!(company.fields["industry"], FieldValue::from("Retail"));
        assert!(acme.company(CompanyKey::Id(first + 5)).unwrap().is_none());
        assert_eq!(acme.companies(0, 100).unwrap().len(), 9);
    }

    #[test]
    fn added_companies_are_found_by_id_and_name_with_typed_fields() {
        let host = host();
        let acme = host.tenant("acme").unwrap();
        acme.define_company_field("renewal", FieldType::Date, false)
            .unwrap();
        acme.define_company_field("strategic", FieldType::Boolean, false)
            .unwrap();
        let id = acme
            .add_company(
                NewCompany::new("Bennett & Co.")
                    .field("industry", "Logistics")
                    .field("arr", 120_000i64)
                    .field("renewal", "2026-09-30")
                    .field("strategic", true),
            )
            .unwrap();
        let by_id = acme.company(CompanyKey::Id(id)).unwrap().unwrap();
        assert_eq!(by_id.id, id.to_string());
        assert_eq!(by_id.name, "Bennett & Co.");
        assert_eq!(by_id.fields["arr"], FieldValue::Number(120_000.0));
        assert_eq!(
            by_id.fields["renewal"],
            FieldValue::Date(Date::new(2026, 9, 30).unwrap())
        );
        assert_eq!(by_id.fields["strategic"], FieldValue::Boolean(true));
        assert!(
            !by_id.fields.contains_key("region"),
            "unset fields are absent"
        );
        let by_name = acme
            .company(CompanyKey::Name("bennett & co."))
            .unwrap()
            .unwrap();
        assert_eq!(by_name, by_id);
    }

    #[test]
    fn lookup_rejects_other_tenants_ids() {
        let host = host();
        let id = host
            .tenant("acme")
            .unwrap()
            .add_company(NewCompany::new("Secret Corp"))
            .unwrap();
        let globex = host.tenant("globex").unwrap();
        assert_eq!(globex.company(CompanyKey::Id(id)).unwrap(), None);
        assert_eq!(
            globex.company(CompanyKey::Name("Secret Corp")).unwrap(),
            None
        );
    }

    #[test]
    fn the_form_refuses_a_missing_name_unknown_fields_and_wrong_types() {
        let host = host();
        let acme = host.tenant("acme").unwrap();
        acme.define_company_field("tier", FieldType::Text, true)
            .unwrap();
        let err = acme.add_company(NewCompany::new("  ")).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidField { field, .. } if field == "name"));
        let err = acme
            .add_company(
                NewCompany::new("A")
                    .field("tier", "gold")
                    .field("colour", "red"),
            )
            .unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        let err = acme
            .add_company(
                NewCompany::new("A")
                    .field("tier", "gold")
                    .field("arr", "lots"),
            )
            .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidField { field, .. } if field == "arr"));
        let err = acme.add_company(NewCompany::new("A")).unwrap_err();
        assert!(err.to_string().contains("`tier` is required"), "{err}");
    }

    #[test]
    fn a_company_cannot_get_a_second_partner_and_the_error_names_the_first() {
        let host = host();
        let acme = host.tenant("acme").unwrap();
        let bennett = acme
            .add_company(NewCompany::new("Bennett & Co.").managed_as(ManagedAs::Partner))
            .unwrap();
        let other = acme
            .add_company(NewCompany::new("Other Partner").managed_as(ManagedAs::Partner))
            .unwrap();
        let customer = acme
            .add_company(NewCompany::new("Customer").managed_by(bennett))
            .unwrap();
        let err = acme.set_managed_by(customer, Some(other)).unwrap_err();
        match err.kind() {
            ErrorKind::AlreadyManaged {
                partner_id,
                partner,
                ..
            } => {
                assert_eq!(*partner_id, bennett);
                assert_eq!(partner, "Bennett & Co.");
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("Bennett & Co."), "{err}");
        // Clearing first, then giving it to the other partner, works.
        acme.set_managed_by(customer, None).unwrap();
        acme.set_managed_by(customer, Some(other)).unwrap();
        let company = acme.company(CompanyKey::Id(customer)).unwrap().unwrap();
        assert_eq!(company.managed_by, Some(other.to_string()));
        // The database itself refuses the swap, whatever the code above it does.
        let store = host.store();
        let raw = store.write(|tx| {
            tx.execute(
                "UPDATE companies SET managed_by = ?1 WHERE id = ?2",
                params![bennett, customer],
            )
            .map_err(|e| store.error(e))
        });
        assert!(raw.unwrap_err().to_string().contains("one-partner rule"));
        // And a customer cannot be made the manager.
        let err = acme.set_managed_by(bennett, Some(customer)).unwrap_err();
        assert!(err.to_string().contains("not a partner"), "{err}");
    }
}
