//! The field mapper's calls: `begin`, then rows one at a time (`cs:plugin@0.1.0`) or in
//! batches (`cs:plugin@0.2.0`). Rows go in as one text buffer with a cell per field pointing
//! into it; changes come back by field position and are applied to the caller's values in
//! place, with no map of fields by name built per row.

use serde::{Deserialize, Serialize};

use super::bindings::{self, v0_1, v0_2};
use super::error::PluginError;
use super::instance::{CallStats, Live, PluginInstance};
use super::runtime::FieldMapperIndices;
use super::{ExtensionPoint, PluginErrorKind as Kind};
use crate::inert::inert;
use crate::model::{FieldValue, Fields};

use v0_1::t::{Cell, Span};

/// What a field mapper decided about a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RowOutcome {
    /// Keep the row with these fields set (the rest unchanged; `Null` clears a field).
    Keep(Fields),
    /// Leave the row out, for this reason.
    Skip(String),
    /// Refuse the row.
    Reject {
        /// The field at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// What a field mapper decided about a row whose changes were applied to its values in place
/// (see [`PluginInstance::map_row_in_place`]).
#[derive(Debug, Clone, PartialEq)]
pub enum RowAction {
    /// Keep the row, with its values as the plugin left them.
    Keep,
    /// Leave the row out, for this reason.
    Skip(String),
    /// Refuse the row.
    Reject {
        /// The field at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// One row of a batch for [`PluginInstance::map_rows`]: its number, its source values by
/// column, and its values by field in the order given to
/// [`begin_rows`](PluginInstance::begin_rows). A plugin's changes are applied to `values`, and
/// the fields it sets that the row does not carry are added to `added`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchRow {
    /// The row's data row number.
    pub number: u64,
    /// The row's source values, one per column.
    pub source: Vec<String>,
    /// The row's values, one per field.
    pub values: Vec<FieldValue>,
    /// Fields a plugin set that the row does not carry.
    pub added: Vec<(String, FieldValue)>,
}

/// What a field mapper was told at the start of an import, and which of the caller's values it
/// receives.
pub(crate) struct RowSchema {
    object: Option<v0_2::field_mapper::RecordKind>,
    columns: Vec<String>,
    fields: Vec<String>,
    /// For each field the plugin receives, its index in the caller's rows.
    picks: Vec<usize>,
    /// The rows' text and cells, as the contract passes them. Kept from call to call so that
    /// passing rows allocates nothing once the buffers have grown.
    text: String,
    cells: Vec<Cell>,
    numbers: Vec<u64>,
    source: Vec<Span>,
    /// A row's changes and added fields on their way to its values, kept like the buffers
    /// above.
    changed: Vec<(u32, v0_1::t::FieldValueResult)>,
    added: Vec<(String, v0_1::t::FieldValueResult)>,
}

impl RowSchema {
    /// Appends the picked values of a row as the contract passes them: its text to the text
    /// buffer, and a cell per field. `None` if the text does not fit the contract's 32-bit
    /// offsets.
    fn push(&mut self, values: &[FieldValue]) -> Option<()> {
        for &i in &self.picks {
            let cell = match values.get(i).unwrap_or(&FieldValue::Null) {
                FieldValue::Null => Cell::Null,
                FieldValue::Text(text) => Cell::Text(push_text(&mut self.text, text)?),
                FieldValue::Integer(v) => Cell::Integer(*v),
                FieldValue::Number(v) => Cell::Number(*v),
                FieldValue::Boolean(v) => Cell::Boolean(*v),
                FieldValue::Date(d) => Cell::Date(bindings::date_out(*d)),
            };
            self.cells.push(cell);
        }
        Some(())
    }

    fn clear(&mut self) {
        self.text.clear();
        self.cells.clear();
        self.numbers.clear();
        self.source.clear();
    }
}

fn push_text(buffer: &mut String, text: &str) -> Option<Span> {
    let offset = u32::try_from(buffer.len()).ok()?;
    let len = u32::try_from(text.len()).ok()?;
    offset.checked_add(len)?;
    buffer.push_str(text);
    Some(Span { offset, len })
}

/// The field mapper's export of a live instance.
#[derive(Clone)]
pub(crate) enum FieldMapperGuest {
    V0_1(v0_1::field_mapper::Guest),
    V0_2(v0_2::field_mapper::Guest),
}

impl FieldMapperIndices {
    pub(crate) fn load(&self, live: &mut Live) -> wasmtime::Result<FieldMapperGuest> {
        Ok(match self {
            FieldMapperIndices::V0_1(i) => {
                FieldMapperGuest::V0_1(i.load(&mut live.store, &live.instance)?)
            }
            FieldMapperIndices::V0_2(i) => {
                FieldMapperGuest::V0_2(i.load(&mut live.store, &live.instance)?)
            }
        })
    }
}

impl PluginInstance {
    /// Starts an import for a field mapper: the file's columns and the fields each row carries,
    /// in the order [`map_row`](Self::map_row) will pass their values.
    ///
    /// The plugin receives only the fields it declared it reads, and the columns only if it
    /// declared it reads the source.
    pub fn begin_rows(&mut self, columns: &[String], fields: &[String]) -> Result<(), PluginError> {
        self.begin_rows_for(None, columns, fields)
    }

    /// [`begin_rows`](Self::begin_rows), saying what the rows are for: `company`, `partner` or
    /// `relationship` (a plugin of contract 0.2.0 is told in `begin`).
    pub fn begin_rows_for(
        &mut self,
        object: Option<&str>,
        columns: &[String],
        fields: &[String],
    ) -> Result<(), PluginError> {
        use v0_2::field_mapper::RecordKind;
        self.require(ExtensionPoint::FieldMapper)?;
        self.operation = "import";
        self.row = None;
        let manifest = self.plugin.manifest();
        let picks: Vec<usize> = (0..fields.len())
            .filter(|&i| manifest.reads_field(&fields[i]))
            .collect();
        self.rows = Some(RowSchema {
            object: match object {
                Some("company") => Some(RecordKind::Company),
                Some("partner") => Some(RecordKind::Partner),
                Some("relationship") => Some(RecordKind::Relationship),
                _ => None,
            },
            columns: if manifest.reads_source {
                columns.to_vec()
            } else {
                Vec::new()
            },
            fields: picks.iter().map(|&i| fields[i].clone()).collect(),
            picks,
            text: String::new(),
            cells: Vec::new(),
            numbers: Vec::new(),
            source: Vec::new(),
            changed: Vec::new(),
            added: Vec::new(),
        });
        if let Some(live) = &mut self.live {
            live.rows_begun = false;
        }
        self.send_begin().map(drop)
    }

    fn field_mapper(&mut self) -> Result<FieldMapperGuest, PluginError> {
        self.require(ExtensionPoint::FieldMapper)?;
        let plugin = self.plugin.clone();
        let Some(indices) = &plugin.inner().exports.field_mapper else {
            return Err(self.error(Kind::NotImplemented {
                extension_point: ExtensionPoint::FieldMapper.interface().to_owned(),
            }));
        };
        let live = self.live()?;
        if let Some(guest) = &live.field_mapper {
            return Ok(guest.clone());
        }
        match indices.load(live) {
            Ok(guest) => {
                live.field_mapper = Some(guest.clone());
                Ok(guest)
            }
            Err(e) => Err(self.error(Kind::IncompatibleComponent {
                reason: format!("{e:#}"),
            })),
        }
    }

    /// Sends `begin` to the live instance if it has not had it yet.
    fn send_begin(&mut self) -> Result<FieldMapperGuest, PluginError> {
        let guest = self.field_mapper()?;
        if self.live.as_ref().is_some_and(|live| live.rows_begun) {
            return Ok(guest);
        }
        let Some(rows) = self.rows.take() else {
            return Err(self.error(Kind::Host {
                reason: "map_row was called before begin_rows".into(),
            }));
        };
        let result = self.call(|live| {
            let columns: Vec<&str> = rows.columns.iter().map(String::as_str).collect();
            let fields: Vec<&str> = rows.fields.iter().map(String::as_str).collect();
            match &guest {
                FieldMapperGuest::V0_1(g) => g.call_begin(&mut live.store, &columns, &fields)?,
                FieldMapperGuest::V0_2(g) => {
                    g.call_begin(&mut live.store, rows.object, &columns, &fields)?
                }
            }
            live.rows_begun = true;
            Ok(Vec::<bool>::new())
        });
        self.rows = Some(rows);
        result.map(|_| guest)
    }

    /// Maps one row: `source` holds the row's values by column, `values` its mapped values by
    /// field, in the order given to [`begin_rows`](Self::begin_rows). Returns the fields the
    /// plugin set, by name.
    pub fn map_row(
        &mut self,
        number: u64,
        source: &[String],
        values: &[FieldValue],
    ) -> Result<RowOutcome, PluginError> {
        let mut rows = [BatchRow {
            number,
            source: source.to_vec(),
            values: values.to_vec(),
            added: Vec::new(),
        }];
        let (result, _) = self.map_rows(&mut rows).pop().expect("one row in, one out");
        let [row] = rows;
        Ok(match result? {
            RowAction::Keep => {
                let schema = self.rows.as_ref().expect("begun to map the row");
                let mut changed: Fields = schema
                    .picks
                    .iter()
                    .zip(&schema.fields)
                    .filter(|&(&i, _)| row.values.get(i) != values.get(i))
                    .map(|(&i, name)| (name.clone(), row.values[i].clone()))
                    .collect();
                changed.extend(row.added);
                RowOutcome::Keep(changed)
            }
            RowAction::Skip(reason) => RowOutcome::Skip(reason),
            RowAction::Reject { field, message } => RowOutcome::Reject { field, message },
        })
    }

    /// Maps one row, applying the plugin's changes to `values` (in the order given to
    /// [`begin_rows`](Self::begin_rows)) and adding the fields it sets that the row does not
    /// carry to `added`. Nothing changes unless the plugin keeps the row.
    pub fn map_row_in_place(
        &mut self,
        number: u64,
        source: &[String],
        values: &mut [FieldValue],
        added: &mut Vec<(String, FieldValue)>,
    ) -> Result<RowAction, PluginError> {
        self.operation = "import";
        self.row = Some(number);
        let guest = self.send_begin()?;
        let FieldMapperGuest::V0_1(guest) = guest else {
            let mut rows = [BatchRow {
                number,
                source: source.to_vec(),
                values: values.to_vec(),
                added: Vec::new(),
            }];
            let (result, _) = self.map_rows(&mut rows).pop().expect("one row");
            let [row] = rows;
            values.clone_from_slice(&row.values);
            added.extend(row.added);
            return result;
        };
        let mut rows = self.rows.take().expect("begun above");
        rows.clear();
        if rows.push(values).is_none() {
            self.rows = Some(rows);
            return Err(self.error(Kind::Host {
                reason: "the row's text is over 4 GiB".into(),
            }));
        }
        let result = self.call(|live| {
            let source: Vec<&str> = if rows.columns.is_empty() {
                Vec::new()
            } else {
                source.iter().map(String::as_str).collect()
            };
            let row = v0_1::field_mapper::Row {
                number,
                source: &source,
                text: &rows.text,
                values: &rows.cells,
            };
            guest.call_map_row(&mut live.store, row)
        });
        use v0_1::field_mapper::RowOutcome as Wit;
        let outcome = match result {
            Ok(Wit::Keep(changes)) => {
                let mut changed = std::mem::take(&mut rows.changed);
                let mut added_fields = std::mem::take(&mut rows.added);
                changed.clear();
                added_fields.clear();
                changed.extend(changes.changed.into_iter().map(|c| (c.index, c.value)));
                added_fields.extend(changes.added.into_iter().map(|f| (f.name, f.value)));
                let applied = apply(&rows, &mut changed, &mut added_fields, values, added);
                rows.changed = changed;
                rows.added = added_fields;
                applied
                    .map(|()| RowAction::Keep)
                    .map_err(|reason| self.error(Kind::InvalidOutput { reason }))
            }
            Ok(Wit::Skip(reason)) => Ok(skip(&reason)),
            Ok(Wit::Reject(error)) => Ok(reject(&error.field, &error.message)),
            Err(error) => Err(error),
        };
        self.rows = Some(rows);
        outcome
    }

    /// Maps a batch of rows: one call for the whole batch with a plugin of contract 0.2.0, one
    /// call per row with 0.1.0. Returns each row's result and what mapping it cost.
    ///
    /// A batch runs under the limits of one call. If the call fails (a trap, a deadline, a
    /// spent budget, invalid output), the rows are mapped again one at a time in fresh calls,
    /// so that only the rows at fault fail; a plugin's outcome for a row must not depend on
    /// the other rows of its batch.
    pub fn map_rows(
        &mut self,
        rows: &mut [BatchRow],
    ) -> Vec<(Result<RowAction, PluginError>, CallStats)> {
        self.operation = "import";
        // A spent budget found while sending `begin` names the row it stopped.
        self.row = rows.first().map(|row| row.number);
        let guest = match self.send_begin() {
            Ok(guest) => guest,
            Err(error) => {
                let stats = self.stats;
                return rows.iter().map(|_| (Err(error.clone()), stats)).collect();
            }
        };
        let FieldMapperGuest::V0_2(guest) = guest else {
            return rows
                .iter_mut()
                .map(|row| {
                    let result = self.map_row_in_place(
                        row.number,
                        &row.source,
                        &mut row.values,
                        &mut row.added,
                    );
                    (result, self.stats)
                })
                .collect();
        };
        match self.call_batch(&guest, rows) {
            Ok(results) => {
                let stats = share(self.stats, rows.len());
                results.into_iter().map(|r| (r, stats)).collect()
            }
            Err(error) if rows.len() == 1 => vec![(Err(error), self.stats)],
            Err(_) => rows
                .chunks_mut(1)
                .flat_map(|row| self.map_rows(row))
                .collect(),
        }
    }

    /// One `map-rows` call: the batch's outcomes, or the error of the call.
    fn call_batch(
        &mut self,
        guest: &v0_2::field_mapper::Guest,
        rows: &mut [BatchRow],
    ) -> Result<Vec<Result<RowAction, PluginError>>, PluginError> {
        self.row = rows.first().map(|row| row.number);
        let mut schema = self.rows.take().expect("begun");
        schema.clear();
        let reads_source = !schema.columns.is_empty();
        for row in rows.iter() {
            schema.numbers.push(row.number);
            let mut fits = schema.push(&row.values);
            if reads_source {
                for i in 0..schema.columns.len() {
                    let text = row.source.get(i).map_or("", String::as_str);
                    match push_text(&mut schema.text, text) {
                        Some(span) => schema.source.push(span),
                        None => fits = None,
                    }
                }
            }
            if fits.is_none() {
                self.rows = Some(schema);
                return Err(self.error(Kind::Host {
                    reason: "the batch's text is over 4 GiB".into(),
                }));
            }
        }
        let result = self.call(|live| {
            let batch = v0_2::field_mapper::Rows {
                text: &schema.text,
                numbers: &schema.numbers,
                cells: &schema.cells,
                source: &schema.source,
            };
            guest.call_map_rows(&mut live.store, batch)
        });
        let outcome = result.and_then(|mapped| {
            self.apply_batch(&schema, mapped, rows)
                .map_err(|reason| self.error(Kind::InvalidOutput { reason }))
        });
        self.rows = Some(schema);
        outcome
    }

    /// Applies a batch's changes to its rows, checking them first: one bad change fails the
    /// row it is for.
    fn apply_batch(
        &self,
        schema: &RowSchema,
        mapped: v0_2::field_mapper::Mapped,
        rows: &mut [BatchRow],
    ) -> Result<Vec<Result<RowAction, PluginError>>, String> {
        use v0_2::field_mapper::RowOutcome as Wit;
        if mapped.outcomes.len() != rows.len() {
            return Err(format!(
                "it answered for {} rows out of {}",
                mapped.outcomes.len(),
                rows.len()
            ));
        }
        // Changes come row after row: each row takes its own off the front.
        let mut changes = mapped.changed.into_iter().peekable();
        let mut fields = mapped.added.into_iter().peekable();
        let (mut changed, mut added) = (Vec::new(), Vec::new());
        let mut out = Vec::with_capacity(rows.len());
        for (at, (row, outcome)) in rows.iter_mut().zip(mapped.outcomes).enumerate() {
            changed.clear();
            added.clear();
            while let Some(change) = changes.next_if(|c| c.row as usize == at) {
                if let Cell::Text(span) = change.value {
                    span_text(&mapped.text, span)
                        .ok_or_else(|| "a changed text lies outside its buffer".to_owned())?;
                }
                changed.push((change.index, change.value));
            }
            while let Some(field) = fields.next_if(|f| f.row as usize == at) {
                added.push((field.field.name, field.field.value));
            }
            out.push(match outcome {
                Wit::Keep => apply_cells(
                    schema,
                    &mapped.text,
                    &changed,
                    &mut added,
                    &mut row.values,
                    &mut row.added,
                )
                .map(|()| RowAction::Keep)
                .map_err(|reason| {
                    PluginError::new(self.plugin.name(), Kind::InvalidOutput { reason })
                }),
                Wit::Skip(reason) => Ok(skip(&reason)),
                Wit::Reject(error) => Ok(reject(&error.field, &error.message)),
            });
        }
        if changes.peek().is_some() || fields.peek().is_some() {
            return Err(format!(
                "its changes are not in row order, or name rows past the batch of {}",
                rows.len()
            ));
        }
        Ok(out)
    }
}

/// A skipped row. The plugin's words reach import reports and terminals: keep them inert.
fn skip(reason: &str) -> RowAction {
    RowAction::Skip(inert(reason).into_owned())
}

fn reject(field: &str, message: &str) -> RowAction {
    RowAction::Reject {
        field: inert(field).into_owned(),
        message: inert(message).into_owned(),
    }
}

/// A span of a batch's text buffer, if it lies within it on character boundaries.
fn span_text(text: &str, span: Span) -> Option<&str> {
    let start = span.offset as usize;
    text.get(start..start.checked_add(span.len as usize)?)
}

/// Applies a batch row's changes, given as cells of the batch's text (whose spans the caller
/// has checked), like [`apply`]. A changed text is copied into the buffer of the text it
/// replaces, so a row whose values are reused from row to row allocates nothing.
fn apply_cells(
    schema: &RowSchema,
    text: &str,
    changed: &[(u32, Cell)],
    added_fields: &mut Vec<(String, v0_1::t::FieldValueResult)>,
    values: &mut [FieldValue],
    added: &mut Vec<(String, FieldValue)>,
) -> Result<(), String> {
    for (index, cell) in changed {
        let Some(name) = schema.fields.get(*index as usize) else {
            return Err(format!(
                "it changed field {index} of a row of {} fields",
                schema.fields.len()
            ));
        };
        if let Cell::Date(date) = *cell {
            check(&v0_1::t::FieldValueResult::Date(date))
                .map_err(|e| format!("field `{name}`: {e}"))?;
        }
    }
    check_added(added_fields)?;
    for &(index, cell) in changed {
        let Some(slot) = values.get_mut(schema.picks[index as usize]) else {
            continue;
        };
        let value = match cell {
            Cell::Text(span) => {
                let Some(new) = span_text(text, span) else {
                    continue;
                };
                if let FieldValue::Text(old) = slot {
                    old.clear();
                    old.push_str(new);
                    continue;
                }
                FieldValue::Text(new.to_owned())
            }
            Cell::Null => FieldValue::Null,
            Cell::Integer(v) => FieldValue::Integer(v),
            Cell::Number(v) => FieldValue::Number(v),
            Cell::Boolean(v) => FieldValue::Boolean(v),
            Cell::Date(d) => match bindings::value_result(v0_1::t::FieldValueResult::Date(d)) {
                Ok(value) => value,
                Err(_) => continue,
            },
        };
        *slot = value;
    }
    apply_added(added_fields, added);
    Ok(())
}

/// Applies a row's changes to its values (by the plugin's field positions, mapped to the
/// caller's) and added fields, after checking them all: nothing changes if one is invalid. The
/// changes are drained from their buffers, which the caller reuses row after row.
fn apply(
    schema: &RowSchema,
    changed: &mut Vec<(u32, v0_1::t::FieldValueResult)>,
    added_fields: &mut Vec<(String, v0_1::t::FieldValueResult)>,
    values: &mut [FieldValue],
    added: &mut Vec<(String, FieldValue)>,
) -> Result<(), String> {
    for (index, value) in changed.iter() {
        let Some(name) = schema.fields.get(*index as usize) else {
            return Err(format!(
                "it changed field {index} of a row of {} fields",
                schema.fields.len()
            ));
        };
        check(value).map_err(|e| format!("field `{name}`: {e}"))?;
    }
    check_added(added_fields)?;
    for (index, value) in changed.drain(..) {
        if let (Some(slot), Ok(value)) = (
            values.get_mut(schema.picks[index as usize]),
            bindings::value_result(value),
        ) {
            *slot = value;
        }
    }
    apply_added(added_fields, added);
    Ok(())
}

/// Checks the fields a plugin added to a row.
fn check_added(added_fields: &[(String, v0_1::t::FieldValueResult)]) -> Result<(), String> {
    for (name, value) in added_fields {
        check(value).map_err(|e| format!("field `{name}`: {e}"))?;
    }
    Ok(())
}

/// Adds the fields a plugin added to a row (checked by [`check_added`]), draining them.
fn apply_added(
    added_fields: &mut Vec<(String, v0_1::t::FieldValueResult)>,
    added: &mut Vec<(String, FieldValue)>,
) {
    for (name, value) in added_fields.drain(..) {
        let Ok(value) = bindings::value_result(value) else {
            continue;
        };
        match added.iter_mut().find(|(n, _)| *n == name) {
            Some((_, slot)) => *slot = value,
            None => added.push((name, value)),
        }
    }
}

/// Whether a value a plugin returned is valid: only a date can be invalid.
fn check(value: &v0_1::t::FieldValueResult) -> Result<(), String> {
    match value {
        v0_1::t::FieldValueResult::Date(d) => {
            let date = v0_1::t::Date {
                year: d.year,
                month: d.month,
                day: d.day,
            };
            bindings::value_result(v0_1::t::FieldValueResult::Date(date)).map(drop)
        }
        _ => Ok(()),
    }
}

/// A batch call's cost, shared evenly among its rows.
fn share(stats: CallStats, rows: usize) -> CallStats {
    let rows = rows.max(1);
    CallStats {
        fuel_used: stats.fuel_used.map(|fuel| fuel / rows as u64),
        wall_time: stats.wall_time / rows as u32,
        ..stats
    }
}
