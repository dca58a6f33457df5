//! The relationships side of a CSV import: the tenant's relationship types with their field
//! schemas (read once, for the thread that maps and checks rows), the fit of one row to its
//! type, and the look-up and write of the relationship a row is about.
//!
//! A row is about an existing relationship when its external id is that relationship's, or
//! else when it names a relationship of the same company and type with the same name (ignoring
//! case, in every script) that has no other external id: the natural key `(company, type,
//! name)`. Running a file again therefore updates what it created instead of duplicating it.
//!
//! A row is decided once, whatever it is decided against ([`Records`]): the database in a real
//! run, or in a dry run the database's snapshot with the earlier rows' writes kept in memory
//! ([`Imagined`]), which writes and locks nothing.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::companies::{self, FieldDef, FieldType, Schema, parse_text};
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{FieldValue, Fields};
use crate::names::fold_case;

use super::{EXTERNAL_ID, NAME, Relationship, check_manager, schema_of, store};

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
                let folded = fold_case(key);
                self.types
                    .iter()
                    .find(|(_, name, _)| fold_case(name) == folded)
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
    /// A new relationship, queued: the queue's write gives its id, or its row's problem (see
    /// [`insert_problem`]).
    Queued,
}

/// A row's problem: the field at fault and what is wrong.
pub(crate) type RowProblem = (&'static str, String);

/// The relationships an import row is looked up in and written to: the database in a real run
/// ([`Stored`]), the run's imagination in a dry run ([`Imagined`]). A refusal is the error a
/// real write gets from the database: [`store::external_id_taken`] for an external id another
/// relationship has, [`ErrorKind::AlreadyManaged`] for the one-partner rule.
pub(crate) trait Records {
    /// The relationship with external id `key`, as the acting principal may see it.
    fn by_external_id(&mut self, op: &Op<'_>, key: &str) -> Result<Option<Relationship>>;
    /// The oldest relationship with natural key `key`.
    fn by_natural_key(
        &mut self,
        op: &Op<'_>,
        key: store::NaturalKey<'_>,
    ) -> Result<Option<Relationship>>;
    /// The typed fields of relationship `found` (one of those the look-ups returned).
    fn fields_of(&mut self, op: &Op<'_>, found: &Relationship) -> Result<Fields>;
    /// Creates a relationship of type `type_name`; returns its id, or `None` when it is queued
    /// to be written with others (the look-ups write the queue first when a queued row may be
    /// the one they look for).
    fn insert(
        &mut self,
        op: &Op<'_>,
        write: &store::Write<'_>,
        type_name: &str,
    ) -> Result<Option<i64>>;
    /// Rewrites relationship `found` whole.
    fn update(&mut self, op: &Op<'_>, found: &Relationship, write: &store::Write<'_>)
    -> Result<()>;
}

/// New relationships per INSERT statement, as for companies: enough to spread a statement's
/// fixed cost thin, few enough that the statement stays small (9 values a row).
const ROWS_PER_INSERT: usize = 64;

/// A real run's relationships: the database, with new relationships queued and written many to
/// a statement. A look-up that a queued row may answer (the same external id, or the same
/// natural key) and an update giving a relationship a queued row's external id write the queue
/// first, so every row meets the database as it would if the rows were written one by one: a
/// later row finds and updates a relationship an earlier row created, and the database's rules
/// (an external id belongs to one relationship) refuse the same rows with the same errors.
pub(crate) struct Stored<'c> {
    bulk: store::BulkInsert<'c>,
    /// The external ids of the queued rows.
    queued_external_ids: HashSet<String>,
    /// The natural keys (company, type, folded name) of the queued rows.
    queued_keys: HashSet<(i64, i64, String)>,
    /// The results of queued rows written before a look-up, not yet handed to
    /// [`flush`](Self::flush)'s caller.
    written: Vec<Result<i64>>,
}

impl<'c> Stored<'c> {
    /// Prepares the inserts for the operation's tenant (stamped with its time).
    pub(crate) fn new(op: &Op<'c>) -> Result<Stored<'c>> {
        Ok(Stored {
            bulk: store::BulkInsert::new(op, ROWS_PER_INSERT)?,
            queued_external_ids: HashSet::new(),
            queued_keys: HashSet::new(),
            written: Vec::new(),
        })
    }

    /// Whether a statement's worth of rows is queued.
    pub(crate) fn is_full(&self) -> bool {
        self.bulk.is_full()
    }

    /// Whether no queued row waits to be written or to have its result handed over.
    pub(crate) fn is_empty(&self) -> bool {
        self.bulk.len() == 0 && self.written.is_empty()
    }

    /// Writes the queue; `written` gets one result per row queued since the last call, in
    /// order: the new relationship's id, or the error its insert gave (see
    /// [`insert_problem`]). An `Err` is trouble that stops the import.
    pub(crate) fn flush(&mut self, written: &mut Vec<Result<i64>>) -> Result<()> {
        self.write_queue()?;
        written.append(&mut self.written);
        Ok(())
    }

    fn write_queue(&mut self) -> Result<()> {
        if self.bulk.len() > 0 {
            self.queued_external_ids.clear();
            self.queued_keys.clear();
            self.bulk.flush(&mut self.written)?;
        }
        Ok(())
    }
}

impl Records for Stored<'_> {
    fn by_external_id(&mut self, op: &Op<'_>, key: &str) -> Result<Option<Relationship>> {
        if self.queued_external_ids.contains(key) {
            self.write_queue()?;
        }
        store::find_by_external_id(op, key)
    }

    fn by_natural_key(
        &mut self,
        op: &Op<'_>,
        key: store::NaturalKey<'_>,
    ) -> Result<Option<Relationship>> {
        if !self.queued_keys.is_empty()
            && self
                .queued_keys
                .contains(&(key.company, key.type_id, fold_case(key.name.trim())))
        {
            self.write_queue()?;
        }
        store::find_by_natural_key(op, key)
    }

    fn fields_of(&mut self, op: &Op<'_>, found: &Relationship) -> Result<Fields> {
        Ok(super::load(op, found.id)?.fields)
    }

    fn insert(
        &mut self,
        _op: &Op<'_>,
        write: &store::Write<'_>,
        _type_name: &str,
    ) -> Result<Option<i64>> {
        if let Some(key) = store::external_id(write.fields) {
            self.queued_external_ids.insert(key.to_owned());
        }
        self.queued_keys
            .insert((write.company, write.type_id, fold_case(write.name.trim())));
        self.bulk.push(write);
        Ok(None)
    }

    fn update(
        &mut self,
        op: &Op<'_>,
        found: &Relationship,
        write: &store::Write<'_>,
    ) -> Result<()> {
        // A queued row holding this external id goes in first, and the update is refused.
        if let Some(key) = store::external_id(write.fields)
            && self.queued_external_ids.contains(key)
        {
            self.write_queue()?;
        }
        store::update(op, found.id, write)
    }
}

/// A dry run's relationships: the database, read on the run's snapshot, and every relationship
/// the earlier rows would have created or changed, as it would be now, kept here. A
/// relationship kept here is no longer looked up in the database. The database's rules on
/// writes are applied as it applies them: an external id belongs to one relationship in the
/// tenant, and a relationship managed by one partner is not given to another.
#[derive(Default)]
pub(crate) struct Imagined {
    records: HashMap<i64, Relationship>,
    /// The external ids of `records`.
    by_external_id: HashMap<String, i64>,
    /// The natural keys (company, type, folded name) of `records`, each with their ids.
    by_key: HashMap<(i64, i64, String), BTreeSet<i64>>,
    /// The id the next new relationship would get, once one is created.
    next_id: Option<i64>,
}

impl Imagined {
    fn key_of(record: &Relationship) -> (i64, i64, String) {
        (
            record.company_id,
            record.type_id,
            fold_case(record.name.trim()),
        )
    }

    /// The relationship that has external id `key` now, whoever may see it.
    fn holder(&self, op: &Op<'_>, key: &str) -> Result<Option<i64>> {
        if let Some(id) = self.by_external_id.get(key) {
            return Ok(Some(*id));
        }
        // A relationship kept here has its external id in `by_external_id`, or none any more.
        Ok(store::holder_of_external_id(op, key)?.filter(|id| !self.records.contains_key(id)))
    }

    /// Keeps `record` as it would be now, in place of what was known of it.
    fn keep(&mut self, record: Relationship) {
        if let Some(before) = self.records.remove(&record.id) {
            if let Some(key) = store::external_id(&before.fields) {
                self.by_external_id.remove(key);
            }
            let key = Self::key_of(&before);
            if let Some(ids) = self.by_key.get_mut(&key) {
                ids.remove(&before.id);
                if ids.is_empty() {
                    self.by_key.remove(&key);
                }
            }
        }
        if let Some(key) = store::external_id(&record.fields) {
            self.by_external_id.insert(key.to_owned(), record.id);
        }
        self.by_key
            .entry(Self::key_of(&record))
            .or_default()
            .insert(record.id);
        self.records.insert(record.id, record);
    }

    fn record(write: &store::Write<'_>, id: i64, type_name: String) -> Relationship {
        Relationship {
            id,
            company_id: write.company,
            type_id: write.type_id,
            type_name,
            name: write.name.trim().to_owned(),
            managed_by: write.managed_by,
            fields: write
                .fields
                .iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        }
    }
}

impl Records for Imagined {
    fn by_external_id(&mut self, op: &Op<'_>, key: &str) -> Result<Option<Relationship>> {
        if let Some(id) = self.by_external_id.get(key) {
            return Ok(self.records.get(id).cloned());
        }
        Ok(store::find_by_external_id(op, key)?
            .filter(|found| !self.records.contains_key(&found.id)))
    }

    fn by_natural_key(
        &mut self,
        op: &Op<'_>,
        key: store::NaturalKey<'_>,
    ) -> Result<Option<Relationship>> {
        let fits = |record: &Relationship| {
            !key.without_external_id || store::external_id(&record.fields).is_none()
        };
        let mine = self
            .by_key
            .get(&(key.company, key.type_id, fold_case(key.name.trim())))
            .and_then(|ids| {
                ids.iter()
                    .filter_map(|id| self.records.get(id))
                    .find(|record| fits(record))
            });
        let theirs = store::natural_key_matches(op, key, None)?
            .into_iter()
            .find(|found| !self.records.contains_key(&found.id));
        Ok(match (mine, theirs) {
            (Some(mine), Some(theirs)) if theirs.id < mine.id => Some(theirs),
            (Some(mine), _) => Some(mine.clone()),
            (None, theirs) => theirs,
        })
    }

    fn fields_of(&mut self, op: &Op<'_>, found: &Relationship) -> Result<Fields> {
        match self.records.get(&found.id) {
            Some(record) => Ok(record.fields.clone()),
            None => Ok(super::load(op, found.id)?.fields),
        }
    }

    fn insert(
        &mut self,
        op: &Op<'_>,
        write: &store::Write<'_>,
        type_name: &str,
    ) -> Result<Option<i64>> {
        if let Some(key) = store::external_id(write.fields)
            && self.holder(op, key)?.is_some()
        {
            return Err(store::external_id_taken(key));
        }
        let id = match self.next_id {
            Some(id) => id,
            None => store::max_id(op)? + 1,
        };
        self.next_id = Some(id + 1);
        self.keep(Self::record(write, id, type_name.to_owned()));
        Ok(Some(id))
    }

    fn update(
        &mut self,
        op: &Op<'_>,
        found: &Relationship,
        write: &store::Write<'_>,
    ) -> Result<()> {
        // The one-partner trigger runs before the unique index is checked.
        if let (Some(now), Some(asked)) = (found.managed_by, write.managed_by)
            && now != asked
        {
            return Err(store::already_managed(op, &found.name, found.id, now));
        }
        if let Some(key) = store::external_id(write.fields)
            && self
                .holder(op, key)?
                .is_some_and(|holder| holder != found.id)
        {
            return Err(store::external_id_taken(key));
        }
        self.keep(Self::record(write, found.id, found.type_name.clone()));
        Ok(())
    }
}

/// Creates the relationship `row` describes, or updates the one it is about (see the module
/// docs), in `records`. The inner error is the row's problem, which the import reports and goes
/// on: the manager is not a partner (or is the company), the one-partner rule, the row's
/// external id is a relationship of another type or company, or another relationship's. The
/// outer error is fatal to the import (the database failed).
pub(crate) fn import_row(
    op: &Op<'_>,
    records: &mut dyn Records,
    row: &ImportRow<'_>,
) -> Result<std::result::Result<Imported, RowProblem>> {
    const MANAGED_BY: &str = "managed_by";
    let row_problem = |field: &'static str, error: Error| row_problem(field, error).map(Err);
    if let Some(partner) = row.managed_by
        && let Err(error) = check_manager(op, row.company, partner)
    {
        return row_problem(MANAGED_BY, error);
    }
    let external_id = row.fields.get(EXTERNAL_ID).and_then(FieldValue::as_text);
    let mut existing = match external_id {
        Some(key) => records.by_external_id(op, key)?,
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
        let key = store::NaturalKey {
            company: row.company,
            type_id: row.type_id,
            name: row.name,
            without_external_id: external_id.is_some(),
        };
        existing = records.by_natural_key(op, key)?;
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
        return match records.insert(op, &write, row.type_name) {
            Ok(Some(id)) => Ok(Ok(Imported::Created(id))),
            Ok(None) => Ok(Ok(Imported::Queued)),
            Err(error) => insert_problem(error).map(Err),
        };
    };
    let id = found.id;
    let mut fields = records.fields_of(op, &found)?;
    for (name, value) in row.fields {
        // An empty External ID cell on a row found by its natural key keeps the relationship's
        // external id: the import key is never cleared by a cell left empty.
        match value {
            FieldValue::Null if name == EXTERNAL_ID => {}
            FieldValue::Null => {
                fields.remove(name);
            }
            value => {
                fields.insert(name.clone(), value.clone());
            }
        }
    }
    let write = store::Write {
        company: found.company_id,
        type_id: found.type_id,
        name: row.name,
        managed_by: row.managed_by.or(found.managed_by),
        fields: &fields,
    };
    match records.update(op, &found, &write) {
        Ok(()) => Ok(Ok(Imported::Updated(id))),
        Err(error) if matches!(error.kind(), ErrorKind::AlreadyManaged { .. }) => {
            row_problem(MANAGED_BY, error)
        }
        Err(error) => row_problem(EXTERNAL_ID, error),
    }
}

/// The row's problem when writing it on `field` failed with `error`: the field and what is
/// wrong; `Err` holds the error when it is not a row's problem.
fn row_problem(field: &'static str, error: Error) -> Result<RowProblem> {
    match error.kind() {
        ErrorKind::Invalid(message) => Ok((field, message.clone())),
        ErrorKind::InvalidField { message, .. } => Ok((field, message.clone())),
        ErrorKind::NotFound { .. } | ErrorKind::AlreadyManaged { .. } => {
            Ok((field, error.to_string()))
        }
        _ => Err(error),
    }
}

/// The problem of a row whose new relationship was refused with `error` (written at once, or
/// from the queue): an external id another relationship has. `Err` holds the error when it is
/// not a row's problem.
pub(crate) fn insert_problem(error: Error) -> Result<RowProblem> {
    row_problem(EXTERNAL_ID, error)
}

/// The company an import row names, by external id or name; `None` when there is none.
pub(crate) fn company(op: &Op<'_>, key: &str) -> Result<Option<i64>> {
    companies::company_by_key(op, key.trim())
}
