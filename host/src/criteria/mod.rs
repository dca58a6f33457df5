//! Criteria-based selection of companies: numbered filters (a field, an operator and values,
//! or a criteria-filter plugin with arguments), combined by an advanced-logic expression over
//! the filter numbers (all filters ANDed by default).
//!
//! The built-in filters run in SQL. When plugin filters are present, the SQL keeps every
//! company the expression could still accept whatever the plugins answer (a plugin filter
//! counts as true where it is not negated and false where it is), and only those candidates
//! are sent to the plugins; the expression then decides exactly.

mod logic;
mod run;

use std::fmt;
use std::str::FromStr;

use rusqlite::types::Value;
use serde::{Deserialize, Serialize};

use crate::companies::{self, EXTERNAL_ID, FieldDef, FieldType, NAME, STANDARD_FIELDS, Schema};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Company, FieldValue, Fields};
use logic::Expr;

pub use run::Selections;

/// A filter's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operator {
    /// Equal (text ignores case). Text, number, boolean, date.
    Eq,
    /// Not equal. Text, number, boolean, date.
    Ne,
    /// Less than. Number, date.
    Lt,
    /// Less than or equal. Number, date.
    Lte,
    /// Greater than. Number, date.
    Gt,
    /// Greater than or equal. Number, date.
    Gte,
    /// Between two values, both included. Number, date.
    Between,
    /// One of the values. Text, number, date.
    In,
    /// Contains the text (ignoring case). Text.
    Contains,
    /// Starts with the text. Text.
    StartsWith,
    /// Ends with the text. Text.
    EndsWith,
    /// Has no value. Any type.
    IsNull,
    /// Has a value. Any type.
    IsNotNull,
}

impl Operator {
    /// The operator's name, such as `STARTS_WITH`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "EQ",
            Operator::Ne => "NE",
            Operator::Lt => "LT",
            Operator::Lte => "LTE",
            Operator::Gt => "GT",
            Operator::Gte => "GTE",
            Operator::Between => "BETWEEN",
            Operator::In => "IN",
            Operator::Contains => "CONTAINS",
            Operator::StartsWith => "STARTS_WITH",
            Operator::EndsWith => "ENDS_WITH",
            Operator::IsNull => "IS_NULL",
            Operator::IsNotNull => "IS_NOT_NULL",
        }
    }

    /// Whether the operator applies to fields of this type.
    pub fn fits(self, field_type: FieldType) -> bool {
        use FieldType::*;
        use Operator::*;
        match self {
            Eq | Ne | IsNull | IsNotNull => true,
            Lt | Lte | Gt | Gte | Between => matches!(field_type, Number | Date),
            In => matches!(field_type, Text | Number | Date),
            Contains | StartsWith | EndsWith => field_type == Text,
        }
    }

    /// How many values the operator takes: `(at least, at most)`.
    fn arity(self) -> (usize, usize) {
        match self {
            Operator::IsNull | Operator::IsNotNull => (0, 0),
            Operator::Between => (2, 2),
            Operator::In => (1, usize::MAX),
            _ => (1, 1),
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Operator {
    type Err = Error;

    fn from_str(s: &str) -> Result<Operator> {
        let all = [
            Operator::Eq,
            Operator::Ne,
            Operator::Lt,
            Operator::Lte,
            Operator::Gt,
            Operator::Gte,
            Operator::Between,
            Operator::In,
            Operator::Contains,
            Operator::StartsWith,
            Operator::EndsWith,
            Operator::IsNull,
            Operator::IsNotNull,
        ];
        let wanted = s.trim().to_ascii_uppercase().replace(['-', ' '], "_");
        all.into_iter()
            .find(|op| op.as_str() == wanted)
            .ok_or_else(|| {
                Error::new(ErrorKind::Criteria {
                    position: None,
                    message: format!(
                        "unknown operator `{s}`: expected one of {}",
                        all.map(Operator::as_str).join(", ")
                    ),
                })
            })
    }
}

/// One numbered filter of criteria.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// A built-in filter on a company field.
    Field {
        /// The field, such as `region` or a custom field.
        field: String,
        /// The operator.
        operator: Operator,
        /// Its values (none for IS_NULL / IS_NOT_NULL, two for BETWEEN). Text values are
        /// converted to the field's type.
        #[serde(default)]
        values: Vec<FieldValue>,
        /// Also match companies where the field has no value.
        #[serde(default)]
        include_nulls: bool,
    },
    /// A criteria-filter plugin the tenant enabled, with its arguments.
    Plugin {
        /// The plugin's name.
        plugin: String,
        /// Its arguments.
        #[serde(default)]
        arguments: Fields,
    },
}

impl Filter {
    /// A built-in filter.
    pub fn field(
        field: impl Into<String>,
        operator: Operator,
        values: impl IntoIterator<Item = FieldValue>,
    ) -> Filter {
        Filter::Field {
            field: field.into(),
            operator,
            values: values.into_iter().collect(),
            include_nulls: false,
        }
    }

    /// The same built-in filter, also matching companies without a value.
    pub fn include_nulls(mut self) -> Filter {
        if let Filter::Field { include_nulls, .. } = &mut self {
            *include_nulls = true;
        }
        self
    }

    /// A plugin filter.
    pub fn plugin(plugin: impl Into<String>, arguments: Fields) -> Filter {
        Filter::Plugin {
            plugin: plugin.into(),
            arguments,
        }
    }
}

/// Filters, numbered from 1 in order, and the logic that combines them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Criteria {
    /// The filters.
    pub filters: Vec<Filter>,
    /// The advanced logic, such as `(1 AND 2) OR NOT 3`. By default, every filter ANDed.
    #[serde(default)]
    pub logic: Option<String>,
}

impl Criteria {
    /// Criteria with these filters, ANDed.
    pub fn new(filters: Vec<Filter>) -> Criteria {
        Criteria {
            filters,
            logic: None,
        }
    }

    /// Sets the advanced logic.
    pub fn logic(mut self, logic: impl Into<String>) -> Criteria {
        self.logic = Some(logic.into());
        self
    }
}

/// What criteria matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Selection {
    /// How many companies matched.
    pub count: usize,
    /// The companies, by id.
    pub companies: Vec<Company>,
}

fn invalid(filter: usize, message: String) -> Error {
    Error::new(ErrorKind::Criteria {
        position: None,
        message: format!("filter {filter}: {message}"),
    })
}

/// A built-in filter turned into SQL over `companies`, with its parameters numbered from
/// `first_param`.
fn field_sql(
    number: usize,
    schema: &Schema,
    field: &str,
    operator: Operator,
    values: &[FieldValue],
    include_nulls: bool,
    params: &mut Vec<Value>,
) -> Result<String> {
    let def: &FieldDef = schema.get(field).ok_or_else(|| {
        let known: Vec<&str> = schema.fields().iter().map(|f| f.name.as_str()).collect();
        invalid(
            number,
            format!(
                "there is no company field `{field}`; the fields are {}, {MANAGED_AS} and \
                 {MANAGED_BY}",
                known.join(", ")
            ),
        )
    })?;
    if !operator.fits(def.field_type) {
        return Err(invalid(
            number,
            format!(
                "{operator} does not apply to `{field}`, a {} field",
                def.field_type
            ),
        ));
    }
    let (least, most) = operator.arity();
    if values.len() < least || values.len() > most {
        let wanted = match (least, most) {
            (0, 0) => "no value".to_owned(),
            (1, 1) => "one value".to_owned(),
            (2, 2) => "two values".to_owned(),
            _ => "at least one value".to_owned(),
        };
        return Err(invalid(
            number,
            format!("{operator} takes {wanted}; got {}", values.len()),
        ));
    }
    let mut typed = Vec::with_capacity(values.len());
    for value in values {
        let value = match value {
            FieldValue::Text(text) if def.field_type != FieldType::Text => {
                companies::parse_text(def, text).map_err(|m| invalid(number, m))?
            }
            other => schema
                .check(field, other.clone())
                .map_err(|m| invalid(number, m))?,
        };
        if value.is_null() {
            return Err(invalid(
                number,
                format!("{operator} needs a value; use IS_NULL to find empty fields"),
            ));
        }
        typed.push(value);
    }
    let column = if field == NAME
        || field == EXTERNAL_ID
        || STANDARD_FIELDS.iter().any(|(s, _)| *s == field)
    {
        field.to_owned()
    } else {
        // The name is a schema field (lower-case letters, digits, `_`), never raw input.
        format!("json_extract(custom, '$.\"{field}\"')")
    };
    let mut param = |value: Value| {
        params.push(value);
        format!("?{}", params.len())
    };
    let mut bind = |value: &FieldValue| match value {
        FieldValue::Text(t) => param(Value::Text(t.clone())),
        FieldValue::Number(n) => param(Value::Real(*n)),
        FieldValue::Integer(n) => param(Value::Real(*n as f64)),
        FieldValue::Boolean(b) => param(Value::Integer(i64::from(*b))),
        FieldValue::Date(d) => param(Value::Text(d.to_string())),
        FieldValue::Null => "NULL".to_owned(),
    };
    let text = def.field_type == FieldType::Text;
    let collate = if text { " COLLATE NOCASE" } else { "" };
    let like = |pattern: String, bind: &mut dyn FnMut(&FieldValue) -> String| {
        format!(
            "{column} LIKE {} ESCAPE '\\'",
            bind(&FieldValue::Text(pattern))
        )
    };
    let escape = |v: &FieldValue| {
        v.to_string()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    };
    let condition = match operator {
        Operator::Eq => format!("{column} = {}{collate}", bind(&typed[0])),
        Operator::Ne => format!("{column} <> {}{collate}", bind(&typed[0])),
        Operator::Lt => format!("{column} < {}", bind(&typed[0])),
        Operator::Lte => format!("{column} <= {}", bind(&typed[0])),
        Operator::Gt => format!("{column} > {}", bind(&typed[0])),
        Operator::Gte => format!("{column} >= {}", bind(&typed[0])),
        Operator::Between => {
            let low = bind(&typed[0]);
            let high = bind(&typed[1]);
            format!("{column} BETWEEN {low} AND {high}")
        }
        Operator::In => {
            let list: Vec<String> = typed.iter().map(&mut bind).collect();
            format!("{column}{collate} IN ({})", list.join(", "))
        }
        Operator::Contains => like(format!("%{}%", escape(&typed[0])), &mut bind),
        Operator::StartsWith => like(format!("{}%", escape(&typed[0])), &mut bind),
        Operator::EndsWith => like(format!("%{}", escape(&typed[0])), &mut bind),
        Operator::IsNull => format!("{column} IS NULL"),
        Operator::IsNotNull => format!("{column} IS NOT NULL"),
    };
    Ok(
        if include_nulls && !matches!(operator, Operator::IsNull | Operator::IsNotNull) {
            format!("({condition} OR {column} IS NULL)")
        } else {
            condition
        },
    )
}

/// The Managed As field of criteria: `customer` or `partner`.
pub const MANAGED_AS: &str = "managed_as";
/// The Managed By field of criteria: the partner that manages a company, by id, external id
/// or name.
pub const MANAGED_BY: &str = "managed_by";

/// A filter on Managed As or Managed By (standard fields of the partner program, not in the
/// field schema) turned into SQL over `companies`, its parameters pushed on `params`.
/// `partner` finds a partner by external id or name for Managed By.
fn managed_sql(
    number: usize,
    field: &str,
    operator: Operator,
    values: &[FieldValue],
    include_nulls: bool,
    params: &mut Vec<Value>,
    partner: &dyn Fn(&str) -> Result<Option<i64>>,
) -> Result<String> {
    let allowed = matches!(
        operator,
        Operator::Eq | Operator::Ne | Operator::In | Operator::IsNull | Operator::IsNotNull
    );
    if !allowed
        || (field == MANAGED_AS && matches!(operator, Operator::IsNull | Operator::IsNotNull))
    {
        let what = if field == MANAGED_AS {
            "`managed_as` takes EQ, NE or IN (customer, partner)"
        } else {
            "`managed_by` takes EQ, NE, IN (partners, by id or name), IS_NULL or IS_NOT_NULL"
        };
        return Err(invalid(
            number,
            format!("{operator} does not apply: {what}"),
        ));
    }
    let (least, most) = operator.arity();
    if values.len() < least || values.len() > most {
        return Err(invalid(
            number,
            format!(
                "{operator} takes {}; got {}",
                match least {
                    0 => "no value",
                    _ if most == 1 => "one value",
                    _ => "at least one value",
                },
                values.len()
            ),
        ));
    }
    let mut bound = Vec::with_capacity(values.len());
    for value in values {
        let value = if field == MANAGED_AS {
            let text = value.to_string().trim().to_ascii_lowercase();
            if text != "customer" && text != "partner" {
                return Err(invalid(
                    number,
                    format!("`managed_as` is customer or partner, not `{value}`"),
                ));
            }
            Value::Text(text)
        } else {
            let id = match value {
                FieldValue::Integer(id) => Some(*id),
                FieldValue::Number(n) if n.fract() == 0.0 => Some(*n as i64),
                FieldValue::Text(text) => match text.trim().parse::<i64>() {
                    Ok(id) => Some(id),
                    Err(_) => partner(text.trim())?,
                },
                _ => None,
            };
            let Some(id) = id else {
                return Err(invalid(
                    number,
                    format!(
                        "`managed_by` names a partner by id or name; there is no partner `{value}`"
                    ),
                ));
            };
            Value::Integer(id)
        };
        params.push(value);
        bound.push(format!("?{}", params.len()));
    }
    let condition = match operator {
        Operator::Eq => format!("{field} = {}", bound[0]),
        Operator::Ne => format!("{field} <> {}", bound[0]),
        Operator::In => format!("{field} IN ({})", bound.join(", ")),
        Operator::IsNull => format!("{field} IS NULL"),
        _ => format!("{field} IS NOT NULL"),
    };
    Ok(
        if include_nulls && !matches!(operator, Operator::IsNull | Operator::IsNotNull) {
            format!("({condition} OR {field} IS NULL)")
        } else {
            condition
        },
    )
}

/// The expression as SQL, with each plugin filter replaced by the constant that keeps every
/// company the full expression could accept.
///
/// A built-in filter under a `NOT` is wrapped in `COALESCE(.., 0)`: SQL compares a missing
/// value as unknown, and `NOT unknown` is unknown, which would drop a company without a region
/// from `NOT region = 'EMEA'`. A company that does not match a filter fails it, so the negation
/// holds. Elsewhere unknown already acts as false, and the bare comparison keeps indexes usable
/// (such as the one on `name`).
fn superset_sql(expr: &Expr, leaves: &[Option<String>], positive: bool, under_not: bool) -> String {
    match expr {
        Expr::Filter(n) => match &leaves[n - 1] {
            Some(sql) if under_not => format!("COALESCE(({sql}), 0)"),
            Some(sql) => format!("({sql})"),
            None => if positive { "1" } else { "0" }.to_owned(),
        },
        Expr::Not(e) => format!("NOT {}", superset_sql(e, leaves, !positive, true)),
        Expr::And(a, b) => format!(
            "({} AND {})",
            superset_sql(a, leaves, positive, under_not),
            superset_sql(b, leaves, positive, under_not)
        ),
        Expr::Or(a, b) => format!(
            "({} OR {})",
            superset_sql(a, leaves, positive, under_not),
            superset_sql(b, leaves, positive, under_not)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_filters_under_not_treat_a_missing_value_as_false() {
        let leaves = vec![
            Some("name = ?2".to_owned()),
            Some("region = ?3".to_owned()),
            None,
        ];
        let expr = logic::parse("1 AND NOT (2 OR 3)", 3).unwrap();
        // Filter 1 stays a bare comparison (the name index serves it); filter 2 under NOT is
        // made false when unknown; plugin filter 3 under NOT keeps every candidate.
        assert_eq!(
            superset_sql(&expr, &leaves, true, false),
            "((name = ?2) AND NOT (COALESCE((region = ?3), 0) OR 0))"
        );
    }
}
