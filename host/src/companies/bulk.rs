//! New companies inserted many to a statement, for imports.

use crate::context::Op;
use crate::error::{Error, Result};
use crate::model::{AccessScope, FieldValue, Fields, ManagedAs};

use super::schema::{EXTERNAL_ID, STANDARD_FIELDS};

use super::row::{custom_json, managed_as_str, scope_str};

/// The values of one row of a [`BulkInsert`] that change from row to row: external id, name,
/// the name folded, managed-as, managed-by, access scope, the six standard columns and `custom`.
const BULK_VALUES: usize = 13;

/// One value of a queued row. The words the schema spells (`partner`, `both`, an empty
/// `custom`) are bound from static text, so queuing a row allocates only for its own texts.
#[derive(Debug)]
enum Cell {
    Null,
    /// NULL, keeping the buffer of a text an earlier row had here.
    Absent(String),
    Real(f64),
    Integer(i64),
    Text(String),
    Static(&'static str),
}

impl rusqlite::ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Cell::Null | Cell::Absent(_) => ValueRef::Null,
            Cell::Real(n) => ValueRef::Real(*n),
            Cell::Integer(n) => ValueRef::Integer(*n),
            Cell::Text(text) => ValueRef::Text(text.as_bytes()),
            Cell::Static(text) => ValueRef::Text(text.as_bytes()),
        }))
    }
}

/// Inserts many companies of one tenant, several rows to a statement: each statement's fixed
/// cost in SQLite (starting the statement, its journal, the check constraints' lookup tables,
/// closing the cursors) is then paid once for many rows instead of once per row. SQLite gives
/// each row its id, and `RETURNING id` hands the ids back.
///
/// Rows are queued with [`push`](Self::push) and written by [`flush`](Self::flush), which says
/// for each row whether it went in. A statement that a row's constraint refuses is rolled back
/// whole by SQLite; its rows are then written one by one, so a refused row is refused with the
/// same error as [`super::insert`] gives and the others still go in.
pub(crate) struct BulkInsert<'c> {
    many: rusqlite::Statement<'c>,
    one: rusqlite::Statement<'c>,
    per_statement: usize,
    /// The queued rows' values, [`BULK_VALUES`] per row. Kept from statement to statement
    /// with their texts' buffers, which the next rows' texts are copied into: a row queued
    /// allocates nothing once the buffers have grown to the texts' lengths.
    values: Vec<Cell>,
    /// How many rows are queued (the first of `values`).
    queued: usize,
    /// The ids a statement returned, reused from statement to statement.
    ids: Vec<i64>,
}

impl<'c> BulkInsert<'c> {
    /// Prepares the statements for the operation's rows (its tenant's, stamped with its time),
    /// `per_statement` rows to a statement.
    pub(crate) fn new(op: &Op<'c>, per_statement: usize) -> Result<BulkInsert<'c>> {
        let Op {
            conn, tenant, now, ..
        } = *op;
        let per_statement = per_statement.max(1);
        let sql = |rows: usize| {
            let mut sql = String::from(
                "INSERT INTO companies (tenant_id, external_id, name, name_folded, managed_as,
                     managed_by, access_scope, industry, region, country, website, email, arr,
                     custom, created_at, updated_at) VALUES ",
            );
            for row in 0..rows {
                if row > 0 {
                    sql.push(',');
                }
                // ?1 is the tenant and ?2 the time, shared by every row.
                let p = |i: usize| 3 + row * BULK_VALUES + i;
                sql.push_str("(?1");
                for i in 0..BULK_VALUES {
                    sql.push_str(&format!(",?{}", p(i)));
                }
                sql.push_str(",?2,?2)");
            }
            sql.push_str(" RETURNING id");
            sql
        };
        let prepare = |rows: usize| -> rusqlite::Result<rusqlite::Statement<'c>> {
            let mut statement = conn.prepare(&sql(rows))?;
            statement.raw_bind_parameter(1, tenant.as_str())?;
            statement.raw_bind_parameter(2, now)?;
            Ok(statement)
        };
        let many = prepare(per_statement)?;
        let one = prepare(1)?;
        Ok(BulkInsert {
            many,
            one,
            per_statement,
            values: Vec::with_capacity(per_statement * BULK_VALUES),
            queued: 0,
            ids: Vec::with_capacity(per_statement),
        })
    }

    /// How many rows are queued.
    pub(crate) fn len(&self) -> usize {
        self.queued
    }

    /// Whether a statement's worth of rows is queued.
    pub(crate) fn is_full(&self) -> bool {
        self.len() >= self.per_statement
    }

    /// Queues a company; `folded` is its trimmed name folded ([`fold_case`]), which the caller
    /// has computed already for its own look-ups. The fields must have passed
    /// [`Schema::check_all`]. The texts are copied into buffers kept for the purpose, so the
    /// caller keeps its own for the next row.
    ///
    /// [`Schema::check_all`]: super::Schema::check_all
    /// [`fold_case`]: crate::names::fold_case
    pub(crate) fn push(
        &mut self,
        name: &str,
        folded: &str,
        managed_as: ManagedAs,
        managed_by: Option<i64>,
        scope: Option<AccessScope>,
        fields: &Fields,
    ) {
        let start = self.queued * BULK_VALUES;
        if self.values.len() < start + BULK_VALUES {
            self.values.resize_with(start + BULK_VALUES, || Cell::Null);
        }
        let row = &mut self.values[start..start + BULK_VALUES];
        put_text(
            &mut row[0],
            fields.get(EXTERNAL_ID).and_then(FieldValue::as_text),
        );
        put_text(&mut row[1], Some(name.trim()));
        put_text(&mut row[2], Some(folded));
        row[3] = Cell::Static(managed_as_str(managed_as));
        row[4] = managed_by.map_or(Cell::Null, Cell::Integer);
        row[5] = scope.map_or(Cell::Null, |s| Cell::Static(scope_str(s)));
        for (cell, (field, _)) in row[6..12].iter_mut().zip(STANDARD_FIELDS) {
            match fields.get(field) {
                Some(FieldValue::Text(t)) => put_text(cell, Some(t)),
                Some(FieldValue::Number(n)) => *cell = Cell::Real(*n),
                Some(FieldValue::Integer(n)) => *cell = Cell::Real(*n as f64),
                _ => put_text(cell, None),
            }
        }
        let custom = custom_json(fields, None);
        row[12] = if custom == "{}" {
            Cell::Static("{}")
        } else {
            Cell::Text(custom)
        };
        self.queued += 1;
    }

    /// Writes the queued rows. `written` gets one result per row, in the order queued: the id
    /// SQLite gave the new company, or the error inserting that row alone gave (a refused row,
    /// or database trouble). An `Err` from this call is trouble that stops the import.
    pub(crate) fn flush(&mut self, written: &mut Vec<Result<i64>>) -> Result<()> {
        let rows = self.len();
        let mut row = 0;
        while row < rows {
            let start = row * BULK_VALUES;
            if rows - row >= self.per_statement && self.per_statement > 1 {
                let end = start + self.per_statement * BULK_VALUES;
                let result = execute(&mut self.many, &self.values[start..end], &mut self.ids);
                if crate::store::settle_many(result, self.per_statement, &mut self.ids, written)? {
                    row += self.per_statement;
                    continue;
                }
                for one in 0..self.per_statement {
                    let at = start + one * BULK_VALUES;
                    written.push(self.one_row(at));
                }
                row += self.per_statement;
            } else {
                written.push(self.one_row(start));
                row += 1;
            }
        }
        self.queued = 0;
        Ok(())
    }

    /// Inserts the queued row whose values start at `at` on its own; its id, or why not.
    fn one_row(&mut self, at: usize) -> Result<i64> {
        let values = &self.values[at..at + BULK_VALUES];
        execute(&mut self.one, values, &mut self.ids).map_err(|e| {
            // The row's first value is its external id.
            let external_id = match &values[0] {
                Cell::Text(text) => Some(text.as_str()),
                _ => None,
            };
            super::unique_error_of(e, external_id)
        })?;
        self.ids
            .pop()
            .ok_or_else(|| Error::from(rusqlite::Error::QueryReturnedNoRows))
    }
}

/// Puts a text (or NULL) in `cell`, into the buffer it holds when it has one.
fn put_text(cell: &mut Cell, value: Option<&str>) {
    let buffer = match std::mem::replace(cell, Cell::Null) {
        Cell::Text(buffer) | Cell::Absent(buffer) => Some(buffer),
        _ => None,
    };
    *cell = match (buffer, value) {
        (Some(mut buffer), Some(value)) => {
            buffer.clear();
            buffer.push_str(value);
            Cell::Text(buffer)
        }
        (None, Some(value)) => Cell::Text(value.to_owned()),
        (Some(buffer), None) => Cell::Absent(buffer),
        (None, None) => Cell::Null,
    };
}

/// Binds `values` from parameter 3 on (1 and 2 stay bound), runs the statement and puts the ids
/// it returns in `ids` (emptied first).
fn execute(
    statement: &mut rusqlite::Statement<'_>,
    values: &[Cell],
    ids: &mut Vec<i64>,
) -> rusqlite::Result<()> {
    ids.clear();
    for (i, value) in values.iter().enumerate() {
        statement.raw_bind_parameter(3 + i, value)?;
    }
    let mut rows = statement.raw_query();
    while let Some(row) = rows.next()? {
        ids.push(row.get(0)?);
    }
    Ok(())
}
