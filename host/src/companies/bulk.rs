//! New companies inserted many to a statement, for imports.

use crate::context::Op;
use crate::error::{Error, Result};
use crate::model::{AccessScope, FieldValue, Fields, ManagedAs};

use super::schema::{EXTERNAL_ID, STANDARD_FIELDS};

use super::row::{custom_json, managed_as_str, scope_str};

/// The values of one row of a [`BulkInsert`] that change from row to row: external id, name,
/// managed-as, managed-by, access scope, the six standard columns and `custom`.
const BULK_VALUES: usize = 12;

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
    /// The queued rows' values, [`BULK_VALUES`] per row.
    values: Vec<rusqlite::types::Value>,
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
                sql.push_str(&format!(
                    "(?1,?{},?{},cs_fold(?{}),?{},?{},?{},?{},?{},?{},?{},?{},?{},?{},?2,?2)",
                    p(0),
                    p(1),
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
                    p(11)
                ));
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
            ids: Vec::with_capacity(per_statement),
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

    /// Queues a company. The fields must have passed [`Schema::check_all`]; their values are
    /// moved out of `fields` (which is left to be cleared), so queuing copies no text.
    pub(crate) fn push(
        &mut self,
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
                match execute(&mut self.many, &self.values[start..end], &mut self.ids) {
                    Ok(()) if self.ids.len() == self.per_statement => {
                        // The rows went in in the order of the statement's values, each with the
                        // next id, while RETURNING may give the ids in any order: sorted, they
                        // are the rows' ids in order.
                        self.ids.sort_unstable();
                        written.extend(self.ids.drain(..).map(Ok));
                        row += self.per_statement;
                        continue;
                    }
                    Ok(()) => {
                        return Err(Error::from(rusqlite::Error::StatementChangedRows(
                            self.ids.len(),
                        )));
                    }
                    // A row broke a rule and SQLite rolled the statement back: find which by
                    // writing the rows one by one.
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if e.code == rusqlite::ErrorCode::ConstraintViolation => {}
                    Err(e) => return Err(e.into()),
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
        self.values.clear();
        Ok(())
    }

    /// Inserts the queued row whose values start at `at` on its own; its id, or why not.
    fn one_row(&mut self, at: usize) -> Result<i64> {
        execute(
            &mut self.one,
            &self.values[at..at + BULK_VALUES],
            &mut self.ids,
        )?;
        self.ids
            .pop()
            .ok_or_else(|| Error::from(rusqlite::Error::QueryReturnedNoRows))
    }
}

/// Binds `values` from parameter 3 on (1 and 2 stay bound), runs the statement and puts the ids
/// it returns in `ids` (emptied first).
fn execute(
    statement: &mut rusqlite::Statement<'_>,
    values: &[rusqlite::types::Value],
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
