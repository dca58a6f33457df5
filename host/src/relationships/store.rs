//! The relationships repository: the SQL of the `relationships` and `relationship_types`
//! tables. Other modules reach relationships through these typed functions.

use rusqlite::{OptionalExtension, params};

use crate::access::PartnerScope;
use crate::companies::{self, custom_from_json, custom_to_json};
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{FieldValue, Fields};
use crate::names::fold_case;

use super::{EXTERNAL_ID, Relationship, RelationshipType};

/// The columns [`read`] reads, in its order.
const COLUMNS: &str = "r.id, r.company_id, r.type_id, t.name, r.name, r.managed_by, \
                       r.external_id, r.custom";

/// The `FROM` of every relationship read: a relationship with its type's name.
const FROM: &str = "relationships r
     JOIN relationship_types t ON t.tenant_id = r.tenant_id AND t.id = r.type_id";

/// The company relationship `id` belongs to; `None` when the tenant has no such relationship.
pub(crate) fn company_of(op: &Op<'_>, id: i64) -> Result<Option<i64>> {
    let company = op
        .conn
        .prepare_cached("SELECT company_id FROM relationships WHERE tenant_id = ?1 AND id = ?2")?
        .query_row(params![op.tenant.as_str(), id], |row| row.get(0))
        .optional()?;
    Ok(company)
}

/// The condition on `r` (a `relationships` row) that confines the acting principal to the
/// relationships it may see: nothing for everyone but partner users; for a partner user, the
/// relationships its partner manages, or none when its partner's scope excludes relationships.
/// Part of the SQL, so a relationship outside it answers as if it did not exist.
fn scope_condition(op: &Op<'_>) -> String {
    match op.scope() {
        None => String::new(),
        // An id is an integer: it cannot carry SQL.
        Some(scope) => match scope.relationship_manager() {
            Some(partner) => format!(" AND r.managed_by = {partner}"),
            None => " AND 0".to_owned(),
        },
    }
}

/// The SQL condition that `column` (an expression holding a relationship id, or NULL) names a
/// relationship the partner scope reaches: one its partner manages. `None` when the scope
/// reaches no relationship record. Other modules put it in their own queries (plans, CTAs and
/// shares on a relationship), so the `relationships` table is named only here.
pub(crate) fn reach_sql(scope: &PartnerScope, column: &str) -> Option<String> {
    // An id is an integer: it cannot carry SQL.
    scope.relationship_manager().map(|partner| {
        format!("EXISTS (SELECT 1 FROM relationships sr WHERE sr.id = {column} AND sr.managed_by = {partner})")
    })
}

/// Whether the partner scope reaches any relationship of company `company` (so the company's
/// lists are not "not found" to it, though the company record is out of its reach).
pub(crate) fn any_reached_of(op: &Op<'_>, company: i64) -> Result<bool> {
    if op.scope().and_then(|s| s.relationship_manager()).is_none() {
        return Ok(false);
    }
    let condition = scope_condition(op);
    let found = op
        .conn
        .prepare_cached(&format!(
            "SELECT 1 FROM relationships r WHERE r.tenant_id = ?1 AND r.company_id = ?2{condition}"
        ))?
        .exists(params![op.tenant.as_str(), company])?;
    Ok(found)
}

/// Whether the acting principal may reach relationship `id` (see [`scope_condition`]).
pub(crate) fn visible(op: &Op<'_>, id: i64) -> Result<bool> {
    let scope = scope_condition(op);
    let found = op
        .conn
        .prepare_cached(&format!(
            "SELECT 1 FROM relationships r WHERE r.tenant_id = ?1 AND r.id = ?2{scope}"
        ))?
        .exists(params![op.tenant.as_str(), id])?;
    Ok(found)
}

fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Relationship> {
    let mut fields = Fields::new();
    if let Some(external_id) = row.get::<_, Option<String>>(6)? {
        fields.insert(EXTERNAL_ID.to_owned(), FieldValue::Text(external_id));
    }
    let custom: String = row.get(7)?;
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&custom) {
        for (name, value) in map {
            if let Some(value) = custom_from_json(None, value) {
                fields.insert(name, value);
            }
        }
    }
    Ok(Relationship {
        id: row.get(0)?,
        company_id: row.get(1)?,
        type_id: row.get(2)?,
        type_name: row.get(3)?,
        name: row.get(4)?,
        managed_by: row.get(5)?,
        fields,
    })
}

/// Relationship `id`, with its fields as stored (dates as text until [`super::typed`]).
pub(crate) fn find(op: &Op<'_>, id: i64) -> Result<Option<Relationship>> {
    let scope = scope_condition(op);
    let found = op
        .conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE r.tenant_id = ?1 AND r.id = ?2{scope}"
        ))?
        .query_row(params![op.tenant.as_str(), id], read)
        .optional()?;
    Ok(found)
}

/// The relationship with external id `external_id`, as stored.
pub(crate) fn find_by_external_id(op: &Op<'_>, external_id: &str) -> Result<Option<Relationship>> {
    let scope = scope_condition(op);
    let found = op
        .conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE r.tenant_id = ?1 AND r.external_id = ?2{scope}"
        ))?
        .query_row(params![op.tenant.as_str(), external_id], read)
        .optional()?;
    Ok(found)
}

/// The natural key of a relationship import: company, type, and the name folded
/// ([`fold_case`], every script), the oldest first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NaturalKey<'a> {
    pub company: i64,
    pub type_id: i64,
    pub name: &'a str,
    /// Only relationships without an external id (a row whose external id matched nothing is
    /// not about a relationship known by another external id).
    pub without_external_id: bool,
}

/// The relationship an import row without a matching external id is about: the oldest with
/// the row's natural key (see [`NaturalKey`]).
pub(crate) fn find_by_natural_key(
    op: &Op<'_>,
    key: NaturalKey<'_>,
) -> Result<Option<Relationship>> {
    Ok(natural_key_matches(op, key, Some(1))?.into_iter().next())
}

/// Every relationship with `key`, the oldest first, at most `limit`.
pub(crate) fn natural_key_matches(
    op: &Op<'_>,
    key: NaturalKey<'_>,
    limit: Option<usize>,
) -> Result<Vec<Relationship>> {
    let scope = scope_condition(op);
    // The limit and the external-id condition are spelled in the SQL, not bound: SQLite's
    // planner reads a bound LIMIT's value, so binding it again expired the statement and every
    // look-up parsed and planned it anew (most of a relationship import's time, by profile).
    let without_external_id = if key.without_external_id {
        " AND r.external_id IS NULL"
    } else {
        ""
    };
    let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let found = op
        .conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM {FROM}
             WHERE r.tenant_id = ?1 AND r.company_id = ?2 AND r.type_id = ?3
               AND r.name_folded = ?4{without_external_id}{scope}
             ORDER BY r.id LIMIT {limit}"
        ))?
        .query_map(
            params![
                op.tenant.as_str(),
                key.company,
                key.type_id,
                fold_case(key.name.trim()),
            ],
            read,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(found)
}

/// The id of the relationship with external id `external_id`, whoever may see it: the
/// external id is unique in the tenant.
pub(crate) fn holder_of_external_id(op: &Op<'_>, external_id: &str) -> Result<Option<i64>> {
    let found = op
        .conn
        .prepare_cached("SELECT id FROM relationships WHERE tenant_id = ?1 AND external_id = ?2")?
        .query_row(params![op.tenant.as_str(), external_id], |r| r.get(0))
        .optional()?;
    Ok(found)
}

/// The highest relationship id in use (0 when there is none): a new relationship would be
/// given the ids after it.
pub(crate) fn max_id(op: &Op<'_>) -> Result<i64> {
    let max = op
        .conn
        .prepare_cached("SELECT coalesce(max(id), 0) FROM relationships")?
        .query_row([], |r| r.get(0))?;
    Ok(max)
}

/// What to list: the relationships of one company, managed by one partner, of one type, whose
/// name contains a text; every condition that is `Some` applies.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Filter<'a> {
    pub company: Option<i64>,
    pub managed_by: Option<i64>,
    pub type_id: Option<i64>,
    pub name_contains: Option<&'a str>,
    pub limit: Option<usize>,
}

/// The relationships `filter` selects, by company, then name.
pub(crate) fn list(op: &Op<'_>, filter: Filter<'_>) -> Result<Vec<Relationship>> {
    let pattern = filter.name_contains.map(|text| {
        format!(
            "%{}%",
            text.trim()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let limit = filter
        .limit
        .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let scope = scope_condition(op);
    let rows = op
        .conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM {FROM}
             WHERE r.tenant_id = ?1
               AND (?2 IS NULL OR r.company_id = ?2)
               AND (?3 IS NULL OR r.managed_by = ?3)
               AND (?4 IS NULL OR r.type_id = ?4)
               AND (?5 IS NULL OR r.name LIKE ?5 ESCAPE '\\'){scope}
             ORDER BY r.company_id, r.name COLLATE NOCASE, r.id
             LIMIT ?6"
        ))?
        .query_map(
            params![
                op.tenant.as_str(),
                filter.company,
                filter.managed_by,
                filter.type_id,
                pattern,
                limit
            ],
            read,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The stored `custom` JSON of `fields` (the external id is a column of its own).
fn custom_json(fields: &Fields) -> String {
    let map: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .filter(|(name, value)| name.as_str() != EXTERNAL_ID && !value.is_null())
        .map(|(name, value)| (name.clone(), custom_to_json(value)))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// The external id among `fields`, if it has one.
pub(crate) fn external_id(fields: &Fields) -> Option<&str> {
    fields.get(EXTERNAL_ID).and_then(FieldValue::as_text)
}

/// What to write to a relationship row; the fields have been checked against its type.
pub(crate) struct Write<'a> {
    pub company: i64,
    pub type_id: i64,
    pub name: &'a str,
    pub managed_by: Option<i64>,
    /// Every field the relationship holds (a row is written whole).
    pub fields: &'a Fields,
}

/// Inserts a relationship; returns its id.
pub(crate) fn insert(op: &Op<'_>, write: &Write<'_>) -> Result<i64> {
    let id = op
        .conn
        .prepare_cached(
            "INSERT INTO relationships (tenant_id, company_id, type_id, name, name_folded,
                 managed_by, external_id, custom, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, cs_fold(?4), ?5, ?6, ?7, ?8, ?8) RETURNING id",
        )?
        .query_row(
            params![
                op.tenant.as_str(),
                write.company,
                write.type_id,
                write.name.trim(),
                write.managed_by,
                external_id(write.fields),
                custom_json(write.fields),
                op.now
            ],
            |r| r.get(0),
        )
        .map_err(|e| unique_error(e, write.fields))?;
    Ok(id)
}

/// The values of one queued row of a [`BulkInsert`] that change from row to row: company, type,
/// name, the name folded, Managed By, external id and `custom`.
const BULK_VALUES: usize = 7;

/// A relationship queued in a [`BulkInsert`].
struct Queued {
    company: i64,
    type_id: i64,
    name: String,
    folded: String,
    managed_by: Option<i64>,
    external_id: Option<String>,
    custom: String,
}

/// Inserts many relationships of one tenant, several rows to a statement, for imports: the
/// statement's fixed cost (its start, its statement journal, the insert trigger's program, the
/// cursors) is paid once for many rows, as the companies' bulk insert does. `RETURNING id` hands
/// the ids back.
///
/// Rows are queued with [`push`](Self::push) and written by [`flush`](Self::flush), which says
/// for each row whether it went in. A statement a row's constraint refuses is rolled back whole
/// by SQLite; its rows are then written one by one, so the refused row gets the error
/// [`insert`] gives (an external id another relationship has is
/// [`external_id_taken`]) and the others still go in.
pub(crate) struct BulkInsert<'c> {
    many: rusqlite::Statement<'c>,
    one: rusqlite::Statement<'c>,
    per_statement: usize,
    queued: Vec<Queued>,
    /// The ids a statement returned, reused from statement to statement.
    ids: Vec<i64>,
}

impl<'c> BulkInsert<'c> {
    /// Prepares the statements for the operation's rows (its tenant's, stamped with its time),
    /// `per_statement` rows to a statement.
    pub(crate) fn new(op: &Op<'c>, per_statement: usize) -> Result<BulkInsert<'c>> {
        let per_statement = per_statement.max(1);
        let sql = |rows: usize| {
            let mut sql = String::from(
                "INSERT INTO relationships (tenant_id, company_id, type_id, name, name_folded,
                     managed_by, external_id, custom, created_at, updated_at) VALUES ",
            );
            for row in 0..rows {
                if row > 0 {
                    sql.push(',');
                }
                // ?1 is the tenant and ?2 the time, shared by every row.
                sql.push_str("(?1");
                for i in 0..BULK_VALUES {
                    sql.push_str(&format!(",?{}", 3 + row * BULK_VALUES + i));
                }
                sql.push_str(",?2,?2)");
            }
            sql.push_str(" RETURNING id");
            sql
        };
        let prepare = |rows: usize| -> rusqlite::Result<rusqlite::Statement<'c>> {
            let mut statement = op.conn.prepare(&sql(rows))?;
            statement.raw_bind_parameter(1, op.tenant.as_str())?;
            statement.raw_bind_parameter(2, op.now)?;
            Ok(statement)
        };
        Ok(BulkInsert {
            many: prepare(per_statement)?,
            one: prepare(1)?,
            per_statement,
            queued: Vec::with_capacity(per_statement),
            ids: Vec::with_capacity(per_statement),
        })
    }

    /// How many rows are queued.
    pub(crate) fn len(&self) -> usize {
        self.queued.len()
    }

    /// Whether a statement's worth of rows is queued.
    pub(crate) fn is_full(&self) -> bool {
        self.len() >= self.per_statement
    }

    /// Queues a relationship, as [`insert`] would write it.
    pub(crate) fn push(&mut self, write: &Write<'_>) {
        let name = write.name.trim();
        self.queued.push(Queued {
            company: write.company,
            type_id: write.type_id,
            name: name.to_owned(),
            folded: fold_case(name),
            managed_by: write.managed_by,
            external_id: external_id(write.fields).map(str::to_owned),
            custom: custom_json(write.fields),
        });
    }

    /// Writes the queued rows. `written` gets one result per row, in the order queued: the
    /// new relationship's id, or the error inserting that row alone gave. An `Err` from this
    /// call is trouble that stops the import.
    pub(crate) fn flush(&mut self, written: &mut Vec<Result<i64>>) -> Result<()> {
        let queued = std::mem::take(&mut self.queued);
        let mut chunks = queued.chunks_exact(self.per_statement);
        for chunk in chunks.by_ref() {
            if self.per_statement > 1 {
                let result = execute(&mut self.many, chunk, &mut self.ids);
                if crate::store::settle_many(result, chunk.len(), &mut self.ids, written)? {
                    continue;
                }
            }
            for row in chunk {
                written.push(self.one_row(row));
            }
        }
        for row in chunks.remainder() {
            written.push(self.one_row(row));
        }
        // The buffer is kept for the next rows.
        self.queued = queued;
        self.queued.clear();
        Ok(())
    }

    /// Inserts one queued row on its own; its id, or why not.
    fn one_row(&mut self, row: &Queued) -> Result<i64> {
        execute(&mut self.one, std::slice::from_ref(row), &mut self.ids)
            .map_err(|e| unique_error_of(e, row.external_id.as_deref()))?;
        self.ids
            .pop()
            .ok_or_else(|| Error::from(rusqlite::Error::QueryReturnedNoRows))
    }
}

/// Binds `rows` from parameter 3 on (1 and 2 stay bound), runs the statement and puts the ids it
/// returns in `ids` (emptied first).
fn execute(
    statement: &mut rusqlite::Statement<'_>,
    rows: &[Queued],
    ids: &mut Vec<i64>,
) -> rusqlite::Result<()> {
    ids.clear();
    for (i, row) in rows.iter().enumerate() {
        let at = 3 + i * BULK_VALUES;
        statement.raw_bind_parameter(at, row.company)?;
        statement.raw_bind_parameter(at + 1, row.type_id)?;
        statement.raw_bind_parameter(at + 2, row.name.as_str())?;
        statement.raw_bind_parameter(at + 3, row.folded.as_str())?;
        statement.raw_bind_parameter(at + 4, row.managed_by)?;
        statement.raw_bind_parameter(at + 5, row.external_id.as_deref())?;
        statement.raw_bind_parameter(at + 6, row.custom.as_str())?;
    }
    let mut returned = statement.raw_query();
    while let Some(row) = returned.next()? {
        ids.push(row.get(0)?);
    }
    Ok(())
}

/// Rewrites relationship `id` whole, Managed By included.
pub(crate) fn update(op: &Op<'_>, id: i64, write: &Write<'_>) -> Result<()> {
    op.conn
        .prepare_cached(
            "UPDATE relationships SET company_id = ?3, type_id = ?4, name = ?5,
                 name_folded = cs_fold(?5), managed_by = ?6, external_id = ?7, custom = ?8,
                 updated_at = ?9
             WHERE tenant_id = ?1 AND id = ?2",
        )?
        .execute(params![
            op.tenant.as_str(),
            id,
            write.company,
            write.type_id,
            write.name.trim(),
            write.managed_by,
            external_id(write.fields),
            custom_json(write.fields),
            op.now
        ])
        .map_err(|e| one_partner_error(op, id, unique_error(e, write.fields)))?;
    Ok(())
}

/// Sets which partner manages relationship `id` (`None` clears it).
pub(crate) fn set_managed_by(op: &Op<'_>, id: i64, partner: Option<i64>) -> Result<()> {
    op.conn
        .prepare_cached(
            "UPDATE relationships SET managed_by = ?3, updated_at = ?4
             WHERE tenant_id = ?1 AND id = ?2",
        )?
        .execute(params![op.tenant.as_str(), id, partner, op.now])
        .map_err(|e| one_partner_error(op, id, Error::from(e)))?;
    Ok(())
}

/// How many relationships partner `partner` manages.
pub(crate) fn count_managed_by(op: &Op<'_>, partner: i64) -> Result<i64> {
    let count = op
        .conn
        .prepare_cached(
            "SELECT count(*) FROM relationships WHERE tenant_id = ?1 AND managed_by = ?2",
        )?
        .query_row(params![op.tenant.as_str(), partner], |r| r.get(0))?;
    Ok(count)
}

/// Deletes relationship `id`; false when there was none.
pub(crate) fn delete(op: &Op<'_>, id: i64) -> Result<bool> {
    let deleted = op
        .conn
        .prepare_cached("DELETE FROM relationships WHERE tenant_id = ?1 AND id = ?2")?
        .execute(params![op.tenant.as_str(), id])?;
    Ok(deleted > 0)
}

/// A unique-index refusal of the external id, as an error naming the field and value.
fn unique_error(error: rusqlite::Error, fields: &Fields) -> Error {
    unique_error_of(error, external_id(fields))
}

/// [`unique_error`] for a row with external id `key`.
fn unique_error_of(error: rusqlite::Error, key: Option<&str>) -> Error {
    crate::store::key_taken_or(error, "relationships.external_id", key, external_id_taken)
}

/// The refusal of external id `key`, which another relationship has.
pub(crate) fn external_id_taken(key: &str) -> Error {
    Error::new(ErrorKind::InvalidField {
        field: EXTERNAL_ID.to_owned(),
        message: format!("another relationship has the external id `{key}` already"),
    })
}

/// The one-partner trigger's refusal as an error naming the partner that manages relationship
/// `id` now.
fn one_partner_error(op: &Op<'_>, id: i64, error: Error) -> Error {
    let refused = matches!(error.kind(), ErrorKind::Database { source: rusqlite::Error::SqliteFailure(_, Some(m)), .. }
        if m.starts_with("one-partner rule: relationship is managed"));
    if !refused {
        return error;
    }
    let Ok(Some(relationship)) = find(op, id) else {
        return error;
    };
    let Some(partner_id) = relationship.managed_by else {
        return error;
    };
    already_managed(op, &relationship.name, id, partner_id)
}

/// The one-partner rule's refusal for relationship `id`, called `name`, which partner
/// `partner_id` manages.
pub(crate) fn already_managed(op: &Op<'_>, name: &str, id: i64, partner_id: i64) -> Error {
    let partner = companies::find(op, companies::CompanyKey::Id(partner_id))
        .ok()
        .flatten()
        .map_or_else(String::new, |c| c.name);
    Error::new(ErrorKind::AlreadyManaged {
        record: format!("{name} (relationship {id})"),
        partner_id,
        partner,
    })
}

/// The tenant's relationship types, by name.
pub(crate) fn types(op: &Op<'_>) -> Result<Vec<(i64, String)>> {
    let types = op
        .conn
        .prepare_cached(
            "SELECT id, name FROM relationship_types WHERE tenant_id = ?1
             ORDER BY name COLLATE NOCASE, id",
        )?
        .query_map([op.tenant.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(types)
}

/// The relationship type with id `id`, or else named `name` (ignoring case, in every script).
pub(crate) fn find_type(op: &Op<'_>, key: &str) -> Result<Option<(i64, String)>> {
    let key = key.trim();
    let found = op
        .conn
        .prepare_cached(
            "SELECT id, name FROM relationship_types
             WHERE tenant_id = ?1 AND (CAST(id AS TEXT) = ?2 OR name_folded = ?3)
             ORDER BY CAST(id AS TEXT) = ?2 DESC, id LIMIT 1",
        )?
        .query_row(params![op.tenant.as_str(), key, fold_case(key)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    Ok(found)
}

/// The type other than `except` named `name` (ignoring case, in every script), if any.
fn type_named(op: &Op<'_>, name: &str, except: Option<i64>) -> Result<bool> {
    let found = op
        .conn
        .prepare_cached(
            "SELECT 1 FROM relationship_types
             WHERE tenant_id = ?1 AND name_folded = ?2 AND id IS NOT ?3",
        )?
        .exists(params![op.tenant.as_str(), fold_case(name.trim()), except])?;
    Ok(found)
}

/// Inserts a relationship type; fails with a clear error when the name is taken.
pub(crate) fn insert_type(op: &Op<'_>, name: &str) -> Result<i64> {
    if type_named(op, name, None)? {
        return Err(taken(name));
    }
    let id = op
        .conn
        .prepare_cached(
            "INSERT INTO relationship_types (tenant_id, name, name_folded)
             VALUES (?1, ?2, cs_fold(?2)) RETURNING id",
        )?
        .query_row(params![op.tenant.as_str(), name], |r| r.get(0))?;
    Ok(id)
}

/// Renames relationship type `id`.
pub(crate) fn rename_type(op: &Op<'_>, id: i64, name: &str) -> Result<()> {
    if type_named(op, name, Some(id))? {
        return Err(taken(name));
    }
    op.conn
        .prepare_cached(
            "UPDATE relationship_types SET name = ?3, name_folded = cs_fold(?3)
             WHERE tenant_id = ?1 AND id = ?2",
        )?
        .execute(params![op.tenant.as_str(), id, name])?;
    Ok(())
}

/// Deletes relationship type `id`.
pub(crate) fn delete_type(op: &Op<'_>, id: i64) -> Result<()> {
    op.conn
        .prepare_cached("DELETE FROM relationship_types WHERE tenant_id = ?1 AND id = ?2")?
        .execute(params![op.tenant.as_str(), id])?;
    Ok(())
}

/// How many relationships are of type `id`.
pub(crate) fn count_of_type(op: &Op<'_>, id: i64) -> Result<i64> {
    let count = op
        .conn
        .prepare_cached("SELECT count(*) FROM relationships WHERE tenant_id = ?1 AND type_id = ?2")?
        .query_row(params![op.tenant.as_str(), id], |r| r.get(0))?;
    Ok(count)
}

/// The relationships of type `type_id` that hold a value for field `name`: id, name and the
/// value as stored.
pub(crate) fn values_of(
    op: &Op<'_>,
    type_id: i64,
    name: &str,
) -> Result<Vec<(i64, String, FieldValue)>> {
    let path = format!("$.\"{name}\"");
    let rows = op
        .conn
        .prepare_cached(
            "SELECT id, name, json_extract(custom, ?3) FROM relationships
             WHERE tenant_id = ?1 AND type_id = ?2 AND json_type(custom, ?3) IS NOT NULL
               AND json_type(custom, ?3) <> 'null'
             ORDER BY id",
        )?
        .query_map(params![op.tenant.as_str(), type_id, path], |r| {
            let value = match r.get_ref(2)? {
                rusqlite::types::ValueRef::Integer(n) => FieldValue::Integer(n),
                rusqlite::types::ValueRef::Real(n) => FieldValue::Number(n),
                rusqlite::types::ValueRef::Text(t) => {
                    FieldValue::Text(String::from_utf8_lossy(t).into_owned())
                }
                _ => FieldValue::Null,
            };
            Ok((r.get(0)?, r.get(1)?, value))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn taken(name: &str) -> Error {
    Error::new(ErrorKind::Invalid(format!(
        "relationship type `{name}` exists already; type names are unique (ignoring case)"
    )))
}

/// A type's record for the façade, its fields filled in by the caller.
pub(crate) fn type_record(id: i64, name: String) -> RelationshipType {
    RelationshipType {
        id,
        name,
        fields: Vec::new(),
    }
}
