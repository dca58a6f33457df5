//! The field mapper's row: read fields, change them, and the host gets only the changes.
//!
//! A row arrives as one string holding all its text and one cell per field pointing into it
//! (see `cell` in the contract), so reading a field copies nothing. Changes are kept apart and
//! sent back by field position.

use std::cell::RefCell;
use std::rc::Rc;

use crate::{Cell, Change, Changes, Date, Field, FieldMapper, FieldValue};

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

/// A field's value as a row holds it: text is borrowed from the row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// No value.
    Null,
    /// Text.
    Text(&'a str),
    /// A whole number.
    Integer(i64),
    /// A number with a fractional part.
    Number(f64),
    /// True or false.
    Boolean(bool),
    /// A calendar date.
    Date(Date),
}

impl<'a> Value<'a> {
    /// The text, if this is text.
    pub fn as_text(self) -> Option<&'a str> {
        match self {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The number, if this is an integer or a number, or text that reads as one.
    pub fn as_f64(self) -> Option<f64> {
        self.to_field_value().as_f64()
    }

    /// The boolean, if this is one.
    pub fn as_bool(self) -> Option<bool> {
        match self {
            Value::Boolean(value) => Some(value),
            _ => None,
        }
    }

    /// The date, if this is one.
    pub fn as_date(self) -> Option<Date> {
        match self {
            Value::Date(date) => Some(date),
            _ => None,
        }
    }

    /// Whether the field holds no value.
    pub fn is_null(self) -> bool {
        matches!(self, Value::Null)
    }

    /// An owned copy of the value.
    pub fn to_field_value(self) -> FieldValue {
        match self {
            Value::Null => FieldValue::Null,
            Value::Text(text) => FieldValue::Text(text.to_owned()),
            Value::Integer(value) => FieldValue::Integer(value),
            Value::Number(value) => FieldValue::Number(value),
            Value::Boolean(value) => FieldValue::Boolean(value),
            Value::Date(date) => FieldValue::Date(date),
        }
    }
}

impl<'a> From<&'a FieldValue> for Value<'a> {
    fn from(value: &'a FieldValue) -> Value<'a> {
        match value {
            FieldValue::Null => Value::Null,
            FieldValue::Text(text) => Value::Text(text),
            FieldValue::Integer(value) => Value::Integer(*value),
            FieldValue::Number(value) => Value::Number(*value),
            FieldValue::Boolean(value) => Value::Boolean(*value),
            FieldValue::Date(date) => Value::Date(*date),
        }
    }
}

/// One row of an import, after the admin's column mapping.
#[derive(Debug)]
pub struct Row {
    number: u64,
    schema: Rc<Schema>,
    source: Vec<String>,
    /// The text of the row's text values; the cells point into it.
    text: String,
    cells: Vec<Cell>,
    /// New values of the fields the row carries, by position.
    changed: Vec<Change>,
    /// Fields the row did not carry.
    added: Vec<Field>,
}

/// The names of the columns and fields of the rows of the current import, sent once in
/// `begin`. Shared by every row, so a row costs no copy of the names.
#[derive(Debug, Default)]
struct Schema {
    columns: Vec<String>,
    fields: Rc<[String]>,
}

thread_local! {
    static SCHEMA: RefCell<Rc<Schema>> = RefCell::default();
}

impl Row {
    /// The row's data row number: 1 for the first row after the header, as the import's report
    /// counts rows.
    pub fn number(&self) -> u64 {
        self.number
    }

    fn index(&self, field: &str) -> Option<usize> {
        // Most names differ in length or first byte: checking those first skips the call to
        // `memcmp`, which in WebAssembly is a byte-by-byte loop.
        let first = field.as_bytes().first();
        self.schema
            .fields
            .iter()
            .position(|f| f.len() == field.len() && f.as_bytes().first() == first && f == field)
    }

    /// A field's value; `None` if the row does not carry the field.
    pub fn get(&self, field: &str) -> Option<Value<'_>> {
        let Some(i) = self.index(field) else {
            return self
                .added
                .iter()
                .find(|f| f.name == field)
                .map(|f| Value::from(&f.value));
        };
        if let Some(change) = self.changed.iter().find(|c| c.index as usize == i) {
            return Some(Value::from(&change.value));
        }
        Some(match *self.cells.get(i)? {
            Cell::Null => Value::Null,
            Cell::Text(span) => {
                let start = span.offset as usize;
                // The host always sends a span within the text; anything else reads as no value.
                self.text
                    .get(start..start + span.len as usize)
                    .map_or(Value::Null, Value::Text)
            }
            Cell::Integer(value) => Value::Integer(value),
            Cell::Number(value) => Value::Number(value),
            Cell::Boolean(value) => Value::Boolean(value),
            Cell::Date(date) => Value::Date(date),
        })
    }

    /// A text field's value.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.get(field).and_then(Value::as_text)
    }

    /// Sets a field. Only fields that change are sent back to the host.
    pub fn set(&mut self, field: &str, value: impl Into<FieldValue>) {
        let value = value.into();
        match self.index(field) {
            Some(i) => {
                if self.get(field) == Some(Value::from(&value)) {
                    return;
                }
                match self.changed.iter_mut().find(|c| c.index as usize == i) {
                    Some(change) => change.value = value,
                    None => self.changed.push(Change {
                        // `begin` cannot name more than `u32::MAX` fields.
                        index: i as u32,
                        value,
                    }),
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
        let i = self.schema.columns.iter().position(|c| c == column)?;
        self.source.get(i).map(String::as_str)
    }

    /// The names of the fields the row carries, in order. Cheap: the names are shared, not
    /// copied, and the list does not borrow the row, so the row can be changed while going
    /// through it.
    pub fn field_names(&self) -> Rc<[String]> {
        self.schema.fields.clone()
    }

    fn into_changes(self) -> Changes {
        Changes {
            changed: self.changed,
            added: self.added,
        }
    }
}

#[doc(hidden)]
pub enum RowOutcome {
    Keep(Changes),
    Skip(String),
    Reject { field: String, message: String },
}

#[doc(hidden)]
pub fn begin(columns: Vec<String>, fields: Vec<String>) {
    crate::__private::panic_hook();
    let schema = Schema {
        columns,
        fields: fields.into(),
    };
    SCHEMA.with_borrow_mut(|current| *current = Rc::new(schema));
}

#[doc(hidden)]
pub fn map_row<P: FieldMapper>(
    number: u64,
    source: Vec<String>,
    text: String,
    cells: Vec<Cell>,
) -> RowOutcome {
    let mut row = Row {
        number,
        schema: SCHEMA.with_borrow(Rc::clone),
        source,
        text,
        cells,
        changed: Vec::new(),
        added: Vec::new(),
    };
    match P::map_row(&mut row) {
        Ok(()) => RowOutcome::Keep(row.into_changes()),
        Err(Refusal::Skip(reason)) => RowOutcome::Skip(reason),
        Err(Refusal::Reject { field, message }) => RowOutcome::Reject { field, message },
    }
}
