//! The field mapper's row: read fields, change them, and the host gets only the changes.
//!
//! Rows arrive as one string holding all their text and one cell per field pointing into it
//! (see `cell` in the contract), so reading a field copies nothing. The fields' names come once,
//! in `begin`, where the SDK turns each into a small key: a look-up by name then compares a few
//! integers rather than strings. Changes are kept apart and sent back by field position.

use std::cell::{Cell as Hint, RefCell};
use std::ptr;
use std::rc::Rc;

use crate::{Cell, Date, Field, FieldMapper, FieldValue};

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

/// A new value for one of the fields a row carries, by position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Change {
    pub(crate) index: u32,
    pub(crate) value: FieldValue,
}

/// Where a row's source values are.
#[derive(Debug)]
enum Source {
    /// One string per column (`cs:plugin@0.1.0`).
    #[cfg_attr(feature = "contract-v0-2", allow(dead_code))]
    Owned(Vec<String>),
    /// Spans of the batch's text, row after row (`cs:plugin@0.2.0`).
    #[cfg_attr(not(feature = "contract-v0-2"), allow(dead_code))]
    Spans(Vec<crate::Span>),
}

/// One row of an import, after the admin's column mapping.
///
/// Read and set fields by name ([`get`](Row::get), [`text`](Row::text), [`set`](Row::set)); a
/// plugin that goes through the fields in order can use their positions instead
/// ([`position`](Row::position), [`get_at`](Row::get_at), [`set_at`](Row::set_at)).
#[derive(Debug)]
pub struct Row {
    number: u64,
    schema: Rc<Schema>,
    /// The text of the batch the row is in: the cells' and the source's spans point into it.
    text: String,
    /// The cells of the batch: this row's are `cells[base..base + fields]`.
    cells: Vec<Cell>,
    base: usize,
    source: Source,
    /// The row's position in its batch.
    at: usize,
    /// New values of the fields the row carries.
    changed: Vec<Change>,
    /// Bit `i` is set when the field at position `i` (below 64) has a value in `changed`: a
    /// read of a field the plugin has not set skips the search of `changed`.
    changed_mask: u64,
    /// Fields the row did not carry.
    added: Vec<Field>,
}

/// The names of the columns and fields of the rows of the current import, sent once in
/// `begin`. Shared by every row, so a row costs no copy of the names.
#[derive(Debug, Default)]
struct Schema {
    columns: Vec<String>,
    fields: Rc<[String]>,
    /// A key of each field's name (see [`name_key`]), in the fields' order.
    keys: Vec<u64>,
    /// What the rows are for (`company`, `partner` or `relationship`), when the host says.
    object: Option<&'static str>,
    /// Whether no two fields have the same name, so that a name found by its address is the
    /// first field of that name, as a look-up by its text would find.
    distinct: bool,
    /// The position the last look-up found: plugins tend to read a field and then set it, or
    /// go through the fields in order.
    last: Hint<usize>,
}

impl Schema {
    fn new(object: Option<&'static str>, columns: Vec<String>, fields: Vec<String>) -> Schema {
        let distinct = fields
            .iter()
            .enumerate()
            .all(|(i, f)| !fields[..i].contains(f));
        Schema {
            keys: fields.iter().map(|f| name_key(f)).collect(),
            columns,
            fields: fields.into(),
            object,
            distinct,
            last: Hint::new(0),
        }
    }

    /// The position of a field, by name.
    #[inline]
    fn position(&self, field: &str) -> Option<usize> {
        // Plugins tend to read a field and then set it, or go through the fields in order: the
        // field at the last position found, or the next one, is checked first. A plugin going
        // through `field_names` passes the schema's own strings back, recognised by their
        // address; a name written in the plugin (`row.text("email")`, then
        // `row.set("email", ..)`) by its few bytes. Either way no key is made and nothing is
        // scanned.
        if self.distinct {
            let last = self.last.get();
            for i in [last, last + 1] {
                if self
                    .fields
                    .get(i)
                    .is_some_and(|f| ptr::eq(f.as_str(), field) || same_name(f, field))
                {
                    self.last.set(i);
                    return Some(i);
                }
            }
        }
        self.find(field)
    }

    /// The position of a field, by its key: the look-up's slow path.
    #[inline(never)]
    fn find(&self, field: &str) -> Option<usize> {
        let key = name_key(field);
        // The key holds the length and the first seven bytes: for a short name, equal keys are
        // equal names; a longer one compares its remaining bytes only.
        let found = self.keys.iter().enumerate().find_map(|(i, &k)| {
            (k == key
                && (field.len() <= 7 || self.fields[i].as_bytes()[7..] == field.as_bytes()[7..]))
                .then_some(i)
        });
        if let Some(i) = found {
            self.last.set(i);
        }
        found
    }
}

/// Whether two names are the same, compared byte by byte: names are short, and a loop here
/// costs less than a call to the guest's `memcmp`.
#[inline]
fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// A name's length (up to 255) and its first seven bytes, packed in an integer.
fn name_key(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut key = bytes.len().min(255) as u64;
    for (i, &byte) in bytes.iter().take(7).enumerate() {
        key |= u64::from(byte) << (8 * (i + 1));
    }
    key
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

    /// What the import's rows are for: `company`, `partner` or `relationship`, when the host says
    /// (contract 0.2.0 says in `begin`; 0.1.0 passes it as the `cs.import.object`
    /// configuration key).
    pub fn object(&self) -> Option<&'static str> {
        self.schema.object
    }

    /// A field's position among the fields the row carries (those of
    /// [`field_names`](Row::field_names)), or `None` if it does not carry the field. The same
    /// for every row of an import.
    pub fn position(&self, field: &str) -> Option<usize> {
        self.schema.position(field)
    }

    /// A field's value; `None` if the row does not carry the field.
    #[inline]
    pub fn get(&self, field: &str) -> Option<Value<'_>> {
        match self.position(field) {
            Some(i) => self.get_at(i),
            None => self
                .added
                .iter()
                .find(|f| f.name == field)
                .map(|f| Value::from(&f.value)),
        }
    }

    /// The value of the field at position `i` (see [`position`](Row::position)); `None` past
    /// the last field.
    #[inline]
    pub fn get_at(&self, i: usize) -> Option<Value<'_>> {
        if let Some(value) = self.changed_value(i) {
            return Some(Value::from(value));
        }
        if i >= self.schema.fields.len() {
            return None;
        }
        Some(match *self.cells.get(self.base + i)? {
            Cell::Null => Value::Null,
            Cell::Text(span) => self.span(span).map_or(Value::Null, Value::Text),
            Cell::Integer(value) => Value::Integer(value),
            Cell::Number(value) => Value::Number(value),
            Cell::Boolean(value) => Value::Boolean(value),
            Cell::Date(date) => Value::Date(date),
        })
    }

    /// The new value of the field at position `i`, if the plugin set it.
    #[inline]
    fn changed_value(&self, i: usize) -> Option<&FieldValue> {
        if i < 64 && self.changed_mask & (1 << i) == 0 {
            return None;
        }
        self.changed
            .iter()
            .find(|c| c.index as usize == i)
            .map(|c| &c.value)
    }

    /// Forgets the changes of the previous row.
    #[cfg_attr(not(feature = "contract-v0-2"), allow(dead_code))]
    fn clear_changes(&mut self) {
        self.changed.clear();
        self.changed_mask = 0;
    }

    /// A span of the batch's text. The host always sends spans within the text; anything else
    /// reads as no value.
    fn span(&self, span: crate::Span) -> Option<&str> {
        let start = span.offset as usize;
        self.text.get(start..start.checked_add(span.len as usize)?)
    }

    /// A text field's value.
    #[inline]
    pub fn text(&self, field: &str) -> Option<&str> {
        self.get(field).and_then(Value::as_text)
    }

    /// Sets a field. Only fields that change are sent back to the host.
    pub fn set(&mut self, field: &str, value: impl Into<FieldValue>) {
        let value = value.into();
        match self.position(field) {
            Some(i) => self.set_at(i, value),
            None => match self.added.iter_mut().find(|f| f.name == field) {
                Some(existing) => existing.value = value,
                None => self.added.push(Field {
                    name: field.to_owned(),
                    value,
                }),
            },
        }
    }

    /// Sets the field at position `i` (see [`position`](Row::position)). Does nothing past the
    /// last field.
    pub fn set_at(&mut self, i: usize, value: impl Into<FieldValue>) {
        let value = value.into();
        if i >= self.schema.fields.len() || self.get_at(i) == Some(Value::from(&value)) {
            return;
        }
        match self.changed.iter_mut().find(|c| c.index as usize == i) {
            Some(change) => change.value = value,
            None => {
                if i < 64 {
                    self.changed_mask |= 1 << i;
                }
                if self.changed.capacity() == 0 {
                    // Room for a change to every field at once: a plugin that changes a row
                    // tends to change several fields, and growing the list copies it.
                    self.changed.reserve_exact(self.schema.fields.len());
                }
                self.changed.push(Change {
                    // `begin` cannot name more than `u32::MAX` fields.
                    index: i as u32,
                    value,
                })
            }
        }
    }

    /// A source column's value, if the plugin declared `reads_source`.
    pub fn source(&self, column: &str) -> Option<&str> {
        let i = self.schema.columns.iter().position(|c| c == column)?;
        match &self.source {
            Source::Owned(values) => values.get(i).map(String::as_str),
            Source::Spans(spans) => {
                let span = *spans.get(self.at * self.schema.columns.len() + i)?;
                self.span(span)
            }
        }
    }

    /// The names of the fields the row carries, in order. Cheap: the names are shared, not
    /// copied, and the list does not borrow the row, so the row can be changed while going
    /// through it.
    pub fn field_names(&self) -> Rc<[String]> {
        self.schema.fields.clone()
    }
}

/// What a plugin decided about one row.
#[doc(hidden)]
pub enum RowOutcome<K> {
    Keep(K),
    Skip(String),
    Reject { field: String, message: String },
}

fn outcome<K>(result: Result<(), Refusal>, keep: impl FnOnce() -> K) -> RowOutcome<K> {
    match result {
        Ok(()) => RowOutcome::Keep(keep()),
        Err(Refusal::Skip(reason)) => RowOutcome::Skip(reason),
        Err(Refusal::Reject { field, message }) => RowOutcome::Reject { field, message },
    }
}

#[doc(hidden)]
pub fn begin(object: Option<&'static str>, columns: Vec<String>, fields: Vec<String>) {
    crate::__private::panic_hook();
    let schema = Schema::new(object, columns, fields);
    SCHEMA.with_borrow_mut(|current| *current = Rc::new(schema));
}

/// `map-row` of `cs:plugin@0.1.0`: one row.
#[cfg(not(feature = "contract-v0-2"))]
#[doc(hidden)]
pub fn map_row<P: FieldMapper>(
    number: u64,
    source: Vec<String>,
    text: String,
    cells: Vec<Cell>,
) -> RowOutcome<crate::Changes> {
    let mut row = Row {
        number,
        schema: SCHEMA.with_borrow(Rc::clone),
        text,
        cells,
        base: 0,
        source: Source::Owned(source),
        at: 0,
        changed: Vec::new(),
        changed_mask: 0,
        added: Vec::new(),
    };
    let result = P::map_row(&mut row);
    outcome(result, || crate::Changes {
        changed: row
            .changed
            .into_iter()
            .map(|c| crate::bindings::cs::plugin::types::Change {
                index: c.index,
                value: c.value,
            })
            .collect(),
        added: row.added,
    })
}

#[cfg(feature = "contract-v0-2")]
/// What a plugin made of a batch (`cs:plugin@0.2.0`), before the export glue turns it into the
/// contract's types.
#[doc(hidden)]
#[derive(Default)]
pub struct Mapped {
    pub outcomes: Vec<RowOutcome<()>>,
    pub text: String,
    /// Row, field position, new value.
    pub changed: Vec<(u32, u32, Cell)>,
    /// Row, field.
    pub added: Vec<(u32, Field)>,
}

#[cfg(feature = "contract-v0-2")]
/// `map-rows` of `cs:plugin@0.2.0`: a batch of rows, one [`Row`] moving over them.
#[doc(hidden)]
pub fn map_rows<P: FieldMapper>(
    text: String,
    numbers: Vec<u64>,
    cells: Vec<Cell>,
    source: Vec<crate::Span>,
) -> Mapped {
    let schema = SCHEMA.with_borrow(Rc::clone);
    let width = schema.fields.len();
    let mut out = Mapped {
        outcomes: Vec::with_capacity(numbers.len()),
        ..Mapped::default()
    };
    let mut row = Row {
        number: 0,
        schema,
        text,
        cells,
        base: 0,
        source: Source::Spans(source),
        at: 0,
        changed: Vec::new(),
        changed_mask: 0,
        added: Vec::new(),
    };
    for (at, &number) in numbers.iter().enumerate() {
        row.number = number;
        row.at = at;
        row.base = at * width;
        row.clear_changes();
        row.added.clear();
        let result = P::map_row(&mut row);
        let kept = result.is_ok();
        out.outcomes.push(outcome(result, || ()));
        if !kept {
            continue;
        }
        // A batch cannot hold more than `u32::MAX` rows, nor its text more than 4 GiB: the
        // guest's memory is smaller.
        let at = at as u32;
        for change in row.changed.drain(..) {
            let cell = cell(&mut out.text, change.value);
            out.changed.push((at, change.index, cell));
        }
        out.added
            .extend(row.added.drain(..).map(|field| (at, field)));
    }
    out
}

#[cfg(feature = "contract-v0-2")]
/// A value as a cell: text goes into `text`, and the cell holds its span.
fn cell(text: &mut String, value: FieldValue) -> Cell {
    match value {
        FieldValue::Null => Cell::Null,
        FieldValue::Text(value) => {
            let offset = text.len() as u32;
            text.push_str(&value);
            Cell::Text(crate::Span {
                offset,
                len: value.len() as u32,
            })
        }
        FieldValue::Integer(value) => Cell::Integer(value),
        FieldValue::Number(value) => Cell::Number(value),
        FieldValue::Boolean(value) => Cell::Boolean(value),
        FieldValue::Date(date) => Cell::Date(date),
    }
}
