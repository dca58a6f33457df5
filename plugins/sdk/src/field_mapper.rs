//! The field mapper's row: read fields, change them, and the host gets only the changes.

use std::cell::RefCell;

use crate::{Field, FieldMapper, FieldValue};

/// Why a row does not go in.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Leave the row out; it is reported as skipped.
    Skip(String),
    /// Refuse the row; it is reported as failed, naming the field.
    Reject {
        /// The field at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
}

impl Refusal {
    /// Skips the row for this reason.
    pub fn skip(reason: impl Into<String>) -> Refusal {
        Refusal::Skip(reason.into())
    }

    /// Rejects the row because of this field.
    pub fn reject(field: &str, message: impl Into<String>) -> Refusal {
        Refusal::Reject {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// One row of an import, after the admin's column mapping.
#[derive(Debug)]
pub struct Row {
    number: u64,
    source: Vec<String>,
    values: Vec<FieldValue>,
    changed: Vec<bool>,
    added: Vec<Field>,
}

/// The names of the columns and fields of the rows of the current import.
#[derive(Default)]
struct Schema {
    columns: Vec<String>,
    fields: Vec<String>,
}

thread_local! {
    static SCHEMA: RefCell<Schema> = RefCell::default();
}

impl Row {
    /// The row's line number in the file (the header is line 1).
    pub fn number(&self) -> u64 {
        self.number
    }

    fn index(&self, field: &str) -> Option<usize> {
        SCHEMA.with_borrow(|schema| schema.fields.iter().position(|f| f == field))
    }

    /// A field's value; `None` if the row does not carry the field.
    pub fn get(&self, field: &str) -> Option<&FieldValue> {
        match self.index(field) {
            Some(i) => self.values.get(i),
            None => self
                .added
                .iter()
                .find(|f| f.name == field)
                .map(|f| &f.value),
        }
    }

    /// A text field's value.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.get(field).and_then(FieldValue::as_text)
    }

    /// Sets a field. Only fields that change are sent back to the host.
    pub fn set(&mut self, field: &str, value: impl Into<FieldValue>) {
        let value = value.into();
        match self.index(field) {
            Some(i) => {
                if self.values[i] != value {
                    self.values[i] = value;
                    self.changed[i] = true;
                }
            }
            None => match self.added.iter_mut().find(|f| f.name == field) {
                Some(existing) => existing.value = value,
                None => self.added.push(Field {
                    name: field.to_owned(),
                    value,
                }),
            },
        }
    }

    /// A source column's value, if the plugin declared `reads_source`.
    pub fn source(&self, column: &str) -> Option<&str> {
        let i = SCHEMA.with_borrow(|schema| schema.columns.iter().position(|c| c == column))?;
        self.source.get(i).map(String::as_str)
    }

    /// The names of the fields the row carries, in order.
    pub fn field_names(&self) -> Vec<String> {
        SCHEMA.with_borrow(|schema| schema.fields.clone())
    }

    fn into_changes(self) -> Vec<Field> {
        let mut changes = SCHEMA.with_borrow(|schema| {
            self.values
                .into_iter()
                .zip(self.changed)
                .zip(&schema.fields)
                .filter(|((_, changed), _)| *changed)
                .map(|((value, _), name)| Field {
                    name: name.clone(),
                    value,
                })
                .collect::<Vec<_>>()
        });
        changes.extend(self.added);
        changes
    }
}

#[doc(hidden)]
pub enum RowOutcome {
    Keep(Vec<Field>),
    Skip(String),
    Reject { field: String, message: String },
}

#[doc(hidden)]
pub fn begin(columns: Vec<String>, fields: Vec<String>) {
    crate::__private::panic_hook();
    SCHEMA.with_borrow_mut(|schema| *schema = Schema { columns, fields });
}

#[doc(hidden)]
pub fn map_row<P: FieldMapper>(
    number: u64,
    source: Vec<String>,
    values: Vec<FieldValue>,
) -> RowOutcome {
    let changed = vec![false; values.len()];
    let mut row = Row {
        number,
        source,
        values,
        changed,
        added: Vec::new(),
    };
    match P::map_row(&mut row) {
        Ok(()) => RowOutcome::Keep(row.into_changes()),
        Err(Refusal::Skip(reason)) => RowOutcome::Skip(reason),
        Err(Refusal::Reject { field, message }) => RowOutcome::Reject { field, message },
    }
}
