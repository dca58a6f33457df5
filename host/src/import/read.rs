//! Stage three: read and map rows, on a thread of its own. Each row is read, mapped by the plan,
//! passed through the *CSV row mapped* hook (the tenant's field mappers) and checked against the
//! field schema, then sent to the writing thread in messages of many rows.

use super::cancel::{PROGRESS_EVERY, Shared};
use super::quotes::Unclosed;
use super::*;
use crate::plugins::BatchRow;

/// A row read, mapped and checked, on its way to be written.
pub(super) enum Prepared {
    /// Refused or skipped before any look-up.
    Refused(RowError),
    /// Ready to match against the tenant's records and write.
    Row {
        number: u64,
        name: String,
        fields: Fields,
        /// The text of the `managed_by` cell, if any.
        managed_by: Option<String>,
        /// For a relationship: the `company` cell's text and the type it names.
        relationship: Option<(String, i64, String)>,
    },
}

impl Prepared {
    pub(super) fn number(&self) -> u64 {
        match self {
            Prepared::Refused(error) => error.row,
            Prepared::Row { number, .. } => *number,
        }
    }
}

/// What the reading thread sends the writing one.
pub(super) enum Message {
    /// The next rows, in order.
    Rows(Vec<Prepared>),
    /// The file cannot be read on: fatal to the import.
    Failed(Error),
    /// Every row was sent.
    Done,
}

/// Rows per message between the two threads: few enough to keep both busy, enough that the
/// hand-over costs little per row.
pub(super) const ROWS_PER_MESSAGE: usize = 256;

/// Messages in flight: with [`ROWS_PER_MESSAGE`], bounds the rows read ahead of the writer
/// (and so the memory an import takes) whatever the file's size.
pub(super) const MESSAGES_IN_FLIGHT: usize = 8;

/// The reading thread of an import: reads, maps and checks rows and sends them on, in order.
/// With a field mapper that may look companies up, it maps no row of a batch before the
/// previous batch is committed (a signal on `committed`), so the mapper sees what it would see
/// if the rows were handled one at a time. A row whose quote never closed (noted in `unclosed`
/// by the [`QuoteGuard`](super::quotes::QuoteGuard) under `csv`; for `first`, given with it)
/// fails by name. Returns when every row is sent, the file fails, or the writing side has gone.
#[allow(clippy::too_many_arguments)]
pub(super) fn read_rows<R: Read>(
    csv: &mut csv::Reader<R>,
    unclosed: &Unclosed,
    source: &str,
    mut first: Option<(csv::ByteRecord, Option<usize>)>,
    mapper: &mut Mapper<'_>,
    mappers: &mut RowMappers,
    batch_rows: usize,
    committed: Option<&mpsc::Receiver<()>>,
    spares: &mpsc::Receiver<Vec<Fields>>,
    out: &mpsc::SyncSender<Message>,
    shared: &Shared,
) {
    let mut record = csv::ByteRecord::new();
    let mut number = 0u64;
    let mut rows = Vec::with_capacity(ROWS_PER_MESSAGE);
    // With a plugin that maps rows in batches, rows wait here for a batch's worth (a message's),
    // and go through the chain together.
    let mut staged = mappers.batches().then(Staged::default);
    loop {
        // Cancelled: the writing side takes no more rows.
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let (read, never_closed) = match first.take() {
            Some((first, never_closed)) => {
                record = first;
                (Ok(true), never_closed)
            }
            None => {
                let read = csv.read_byte_record(&mut record);
                let never_closed = match read {
                    Ok(true) => unclosed.within(
                        record.position().map_or(0, |p| p.byte()),
                        csv.position().byte(),
                    ),
                    _ => None,
                };
                (read, never_closed)
            }
        };
        match read {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => {
                if let Some(staged) = &mut staged {
                    staged.flush(mapper, mappers, &mut rows);
                }
                if !rows.is_empty() {
                    let _ = out.send(Message::Rows(rows));
                }
                let _ = out.send(Message::Failed(csv_error(source, Some(number + 1), error)));
                return;
            }
        }
        number += 1;
        if let Some(committed) = committed
            && number > 1
            && (number - 1).is_multiple_of(batch_rows as u64)
        {
            if let Some(staged) = &mut staged {
                staged.flush(mapper, mappers, &mut rows);
            }
            let batch = std::mem::replace(&mut rows, Vec::with_capacity(ROWS_PER_MESSAGE));
            if (!batch.is_empty() && out.send(Message::Rows(batch)).is_err())
                || committed.recv().is_err()
            {
                return;
            }
        }
        if mapper.stock.is_empty()
            && let Ok(spare) = spares.try_recv()
        {
            mapper.stock = spare;
        }
        match &mut staged {
            Some(staged) => {
                staged.push(mapper, mappers, number, &record, never_closed);
                if rows.len() + staged.len() == ROWS_PER_MESSAGE {
                    staged.flush(mapper, mappers, &mut rows);
                }
            }
            None => rows.push(mapper.prepare(mappers, number, &record, never_closed)),
        }
        shared.read.store(number, Ordering::Relaxed);
        if rows.len() == ROWS_PER_MESSAGE {
            let full = std::mem::replace(&mut rows, Vec::with_capacity(ROWS_PER_MESSAGE));
            if out.send(Message::Rows(full)).is_err() {
                return;
            }
        }
    }
    if let Some(staged) = &mut staged {
        staged.flush(mapper, mappers, &mut rows);
    }
    if !rows.is_empty() && out.send(Message::Rows(rows)).is_err() {
        return;
    }
    let _ = out.send(Message::Done);
}

/// The writing side's end of the rows from the reading thread.
pub(super) struct Incoming {
    pub(super) from: mpsc::Receiver<Message>,
    pub(super) rows: std::vec::IntoIter<Prepared>,
}

impl Incoming {
    /// The next row; `None` after the last, or once `tick` (called before each row and
    /// while waiting for one, at least every [`PROGRESS_EVERY`]) says the import is
    /// cancelled.
    pub(super) fn next(&mut self, tick: &mut dyn FnMut() -> bool) -> Result<Option<Prepared>> {
        if tick() {
            return Ok(None);
        }
        loop {
            if let Some(row) = self.rows.next() {
                return Ok(Some(row));
            }
            match self.from.recv_timeout(PROGRESS_EVERY / 5) {
                Ok(Message::Rows(rows)) => self.rows = rows.into_iter(),
                Ok(Message::Failed(error)) => return Err(error),
                Ok(Message::Done) => return Ok(None),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if tick() {
                        return Ok(None);
                    }
                }
                // The reading thread stopped without saying it was done: it panicked, and
                // the scope it runs in passes the panic on.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(Error::new(ErrorKind::Invalid(
                        "the import's reading thread stopped".to_owned(),
                    )));
                }
            }
        }
    }
}

/// A row read and mapped by the plan, on its way through the chain.
struct Parsed {
    number: u64,
    fields: Fields,
    managed_by: Option<String>,
}

/// Rows read and waiting for a batch of the chain (when a plugin of the chain takes batches):
/// refused rows keep their place among them.
#[derive(Default)]
struct Staged {
    rows: Vec<std::result::Result<Parsed, Box<Prepared>>>,
    /// The values of the parsed rows, in order, as the chain takes them.
    batch: Vec<BatchRow>,
    /// Buffers of earlier batches, for the next.
    spare: Vec<BatchRow>,
}

impl Staged {
    fn len(&self) -> usize {
        self.rows.len()
    }

    /// Reads a row into the batch.
    fn push(
        &mut self,
        mapper: &mut Mapper<'_>,
        mappers: &RowMappers,
        number: u64,
        record: &csv::ByteRecord,
        never_closed: Option<usize>,
    ) {
        let mut parsed = mapper.parse(mappers, number, record, never_closed);
        if let Ok(parsed) = &mut parsed {
            let mut row = self.spare.pop().unwrap_or_default();
            mappers.take_row(&mut row, number, &mapper.source, &mut parsed.fields);
            self.batch.push(row);
        }
        self.rows.push(parsed);
    }

    /// Runs the batch through the chain and checks its rows, onto `out`.
    fn flush(
        &mut self,
        mapper: &mut Mapper<'_>,
        mappers: &mut RowMappers,
        out: &mut Vec<Prepared>,
    ) {
        if self.rows.is_empty() {
            return;
        }
        let verdicts = mappers.map_rows(&mut self.batch);
        let mut mapped = self.batch.iter_mut().zip(verdicts);
        for staged in self.rows.drain(..) {
            out.push(match staged {
                Err(refused) => *refused,
                Ok(mut parsed) => {
                    let (row, verdict) = mapped.next().expect("a verdict per parsed row");
                    mappers.put_row(row, &mut parsed.fields);
                    mapper.finish(mappers, parsed, verdict)
                }
            });
        }
        self.spare.append(&mut self.batch);
    }
}

/// The reading side of an import: turns CSV records into checked rows.
pub(super) struct Mapper<'a> {
    pub(super) schema: &'a Schema,
    pub(super) plan: &'a [Planned],
    pub(super) columns: &'a [String],
    pub(super) source: Vec<String>,
    /// Field maps the writing side is done with, to fill again: their keys stay, so a row
    /// allocates no field names (and the writing thread frees none).
    pub(super) stock: Vec<Fields>,
    /// The tenant's relationship types, in a relationship import: each row is checked against
    /// the schema of the type it names rather than `schema`.
    pub(super) types: Option<&'a ImportTypes>,
}

impl Mapper<'_> {
    /// Reads, maps (through the *CSV row mapped* chain) and checks one row; `never_closed` is
    /// the field where a quote of the row opened and never closed, if one did.
    pub(super) fn prepare(
        &mut self,
        mappers: &mut RowMappers,
        number: u64,
        record: &csv::ByteRecord,
        never_closed: Option<usize>,
    ) -> Prepared {
        match self.parse(mappers, number, record, never_closed) {
            Ok(mut parsed) => {
                let verdict = if mappers.is_empty() {
                    RowVerdict::Keep
                } else {
                    mappers.map_row(number, &self.source, &mut parsed.fields)
                };
                self.finish(mappers, parsed, verdict)
            }
            Err(refused) => *refused,
        }
    }

    /// Reads one row and maps it by the plan; its source values (for the chain's plugins that
    /// read them) are left in `self.source`.
    fn parse(
        &mut self,
        mappers: &RowMappers,
        number: u64,
        record: &csv::ByteRecord,
        never_closed: Option<usize>,
    ) -> std::result::Result<Parsed, Box<Prepared>> {
        let mut fields = self.stock.pop().unwrap_or_default();
        let plan = self.plan;
        let planned = |field: &str| plan.iter().any(|p| p.def.is_some() && p.field == field);
        if fields.len() != plan.iter().filter(|p| p.def.is_some()).count() {
            // A plugin added fields to the row this map held: only the mapped ones stay, and
            // every one of those gets this row's value below.
            fields.retain(|field, _| planned(field));
        }
        if let Some(field) = never_closed {
            let column = self.columns.get(field).map(String::as_str);
            let named = column.map_or_else(
                || format!("column {}", field + 1),
                |c| format!("column `{c}`"),
            );
            return Err(refuse(refused(
                number,
                column,
                None,
                format!(
                    "a quote opened in {named} is never closed: the row ends at that quote, and \
                     the lines after this row's are read as rows of their own"
                ),
            )));
        }
        if record.len() != self.columns.len() {
            return Err(refuse(refused(
                number,
                None,
                None,
                format!(
                    "the row has {} fields; the header has {}",
                    record.len(),
                    self.columns.len()
                ),
            )));
        }
        if let Some(index) = record
            .iter()
            .position(|cell| cell.len() > csvfile::MAX_FIELD_BYTES)
        {
            return Err(refuse(refused(
                number,
                Some(&self.columns[index]),
                None,
                format!(
                    "the field is {} bytes long; at most {} bytes are read",
                    record[index].len(),
                    csvfile::MAX_FIELD_BYTES
                ),
            )));
        }
        let mut managed_by: Option<String> = None;
        for planned in self.plan {
            let cell = &record[planned.index];
            let Ok(text) = std::str::from_utf8(cell) else {
                return Err(refuse(refused(
                    number,
                    Some(&planned.column),
                    Some(&planned.field),
                    "not valid UTF-8 text: is the file's encoding right? (try windows-1252)"
                        .to_owned(),
                )));
            };
            // A text goes into the string its field had in the map's last row, when there is
            // one: a row then allocates nothing for its texts (see `Run::decide`).
            if let Some(def) = &planned.def
                && def.field_type == FieldType::Text
                && !text.trim().is_empty()
                && let Some(FieldValue::Text(slot)) = fields.get_mut(&planned.field)
            {
                slot.clear();
                slot.push_str(text.trim());
                continue;
            }
            match &planned.def {
                Some(def) => match companies::parse_text(def, text) {
                    Ok(value) => match fields.get_mut(&planned.field) {
                        Some(slot) => *slot = value,
                        None => {
                            fields.insert(planned.field.clone(), value);
                        }
                    },
                    Err(reason) => {
                        return Err(refuse(refused(
                            number,
                            Some(&planned.column),
                            Some(&planned.field),
                            reason,
                        )));
                    }
                },
                None => {
                    let text = text.trim();
                    if !text.is_empty() {
                        managed_by = Some(text.to_owned());
                    }
                }
            }
        }
        self.source.clear();
        if mappers.reads_source() {
            self.source.extend(
                record
                    .iter()
                    .map(|cell| String::from_utf8_lossy(cell).into_owned()),
            );
        }
        Ok(Parsed {
            number,
            fields,
            managed_by,
        })
    }

    /// Checks a row the chain has mapped (`verdict`), against the field schema.
    fn finish(&mut self, mappers: &RowMappers, parsed: Parsed, verdict: RowVerdict) -> Prepared {
        let Parsed {
            number,
            mut fields,
            managed_by,
        } = parsed;
        let plan = self.plan;
        {
            match verdict {
                RowVerdict::Keep => {}
                RowVerdict::Skip { plugin, reason } => {
                    return Prepared::Refused(RowError {
                        row: number,
                        outcome: RowErrorKind::Skipped,
                        column: None,
                        field: None,
                        plugin: Some(plugin),
                        reason,
                    });
                }
                RowVerdict::Reject {
                    plugin,
                    field,
                    message,
                } => {
                    return Prepared::Refused(RowError {
                        row: number,
                        outcome: RowErrorKind::Failed,
                        column: column_of(self.plan, &field).map(str::to_owned),
                        field: Some(field),
                        plugin: Some(plugin),
                        reason: message,
                    });
                }
                RowVerdict::Failed(error) => {
                    return Prepared::Refused(RowError {
                        row: number,
                        outcome: RowErrorKind::Failed,
                        column: None,
                        field: None,
                        plugin: Some(error.plugin().to_owned()),
                        reason: error.to_string(),
                    });
                }
            }
        }
        // The name is taken out, its key left holding null (which no check or write minds), so
        // the map keeps its keys for the next row.
        let name = match fields.get_mut(NAME).map(std::mem::take) {
            Some(FieldValue::Text(name)) => name,
            Some(FieldValue::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        // Fields a field mapper set that the file does not map: the plugin answers for them.
        let unplanned: Vec<String> = if self.types.is_some() && !mappers.is_empty() {
            fields
                .iter()
                .filter(|(field, value)| !value.is_null() && column_of(plan, field).is_none())
                .map(|(field, _)| field.clone())
                .collect()
        } else {
            Vec::new()
        };
        let mut relationship = None;
        let checked = match self.types {
            None => self.schema.check_all(&name, &mut fields),
            Some(types) => match relationship_fit(types, &name, &mut fields) {
                Ok(fitted) => {
                    relationship = Some(fitted);
                    Ok(())
                }
                Err(problem) => Err(problem),
            },
        };
        if let Err((field, message)) = checked {
            let column = column_of(self.plan, &field).map(str::to_owned);
            // The mapping names only fields of the schema, so a field the schema lacks was set
            // by a field mapper: blame it and say how to add the field.
            if (self.schema.get(&field).is_none() || unplanned.contains(&field))
                && let Some(plugins) = mappers.active_names()
            {
                let reason = unknown_field_reason(&plugins, &field, self.types.is_some());
                return Prepared::Refused(RowError {
                    plugin: Some(plugins),
                    ..refused(number, None, Some(&field), reason)
                });
            }
            return Prepared::Refused(refused(number, column.as_deref(), Some(&field), message));
        }
        Prepared::Row {
            number,
            name,
            fields,
            managed_by,
            relationship,
        }
    }
}

/// Takes a relationship row's `company` and `type` out of its fields, finds the type, and fits
/// the fields to it: the company's text, the type's id and name, or the field at fault and why.
fn relationship_fit(
    types: &ImportTypes,
    name: &str,
    fields: &mut Fields,
) -> std::result::Result<(String, i64, String), (String, String)> {
    let mut take = |field: &str| match fields.remove(field) {
        Some(FieldValue::Null) | None => None,
        Some(FieldValue::Text(text)) => Some(text),
        Some(other) => Some(other.to_string()),
    };
    let company = take(relationship_import::COMPANY);
    let type_key = take(relationship_import::TYPE);
    let Some(type_key) = type_key else {
        let field = relationship_import::TYPE.to_owned();
        return Err((field, "Type is required".to_owned()));
    };
    let (type_id, type_name, schema) = types
        .find(&type_key)
        .map_err(|message| (relationship_import::TYPE.to_owned(), message))?;
    let Some(company) = company else {
        let field = relationship_import::COMPANY.to_owned();
        return Err((field, "Company is required".to_owned()));
    };
    relationship_import::fit(schema, type_name, name, fields)?;
    Ok((company, type_id, type_name.to_owned()))
}

/// Why a row whose field mapper set a field the schema lacks fails, with the command that adds
/// the field when the plugin's name for it can be a field name (and so is safe to paste into a
/// shell).
fn unknown_field_reason(plugins: &str, field: &str, relationship: bool) -> String {
    let fix = if relationship && companies::is_field_name(field) {
        format!(
            "add it to the type (`cshost relationship-type field --tenant TENANT --type TYPE \
             {field} text`, or the type it holds) or stop the plugin setting it"
        )
    } else if companies::is_field_name(field) {
        format!(
            "add it (`cshost company field --tenant TENANT {field} text`, or the type it holds) \
             or stop the plugin setting it"
        )
    } else {
        "no field can have that name (lower-case letters, digits and `_`): the plugin must not \
         set it"
            .to_owned()
    };
    let object = if relationship {
        "a field of the row's relationship type"
    } else {
        "a company field of this tenant"
    };
    format!("field mapper `{plugins}` set `{field}`, which is not {object}: {fix}")
}

/// A row refused before the chain: boxed, as the rare case beside a parsed row.
fn refuse(error: RowError) -> Box<Prepared> {
    Box::new(Prepared::Refused(error))
}

/// A failed row's error, without a plugin.
pub(super) fn refused(
    row: u64,
    column: Option<&str>,
    field: Option<&str>,
    reason: String,
) -> RowError {
    RowError {
        row,
        outcome: RowErrorKind::Failed,
        column: column.map(str::to_owned),
        field: field.map(str::to_owned),
        plugin: None,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::unknown_field_reason;

    #[test]
    fn a_hostile_field_name_is_never_offered_as_a_command_to_paste() {
        let reason = unknown_field_reason("evil", "x; touch pwned #", false);
        assert!(!reason.contains("cshost company field"), "{reason}");
        assert!(reason.contains("no field can have that name"), "{reason}");
        let reason = unknown_field_reason("row-object", "notes", true);
        assert!(
            reason.contains("`cshost relationship-type field --tenant TENANT --type TYPE notes"),
            "{reason}"
        );
        let reason = unknown_field_reason("tag-source", "notes", false);
        assert!(
            reason.contains("`cshost company field --tenant TENANT notes text`"),
            "{reason}"
        );
    }
}
