//! The values of the CS data model that plugins see and return.
//!
//! These are the host's own types. The plugin engine converts them to and from each contract
//! version's types at the boundary, so nothing outside `plugins` depends on a WIT version.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar date, without a time of day or a time zone, in the years 1 to 9999 (the proleptic
/// Gregorian calendar).
///
/// Every date the host stores, reads back or takes from a plugin is one of these, so a date is
/// always written in the ten characters `YYYY-MM-DD` and text order is date order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(jiff::civil::Date);

impl Date {
    /// The years a date may have.
    pub const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

    /// The date `year-month-day`, or `None` if there is no such day or the year is outside
    /// [`Date::YEARS`].
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        if !Date::YEARS.contains(&year) {
            return None;
        }
        let year = i16::try_from(year).ok()?;
        let month = i8::try_from(month).ok()?;
        let day = i8::try_from(day).ok()?;
        jiff::civil::Date::new(year, month, day).ok().map(Date)
    }

    /// The date of a calendar date of `jiff`, if its year is within [`Date::YEARS`].
    pub(crate) fn from_civil(date: jiff::civil::Date) -> Option<Date> {
        Date::YEARS
            .contains(&i32::from(date.year()))
            .then_some(Date(date))
    }

    /// The date as a calendar date of `jiff`, for date arithmetic.
    pub(crate) fn civil(self) -> jiff::civil::Date {
        self.0
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.0.year().into()
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u8 {
        self.0.month().unsigned_abs()
    }

    /// The day of the month, 1 to 31.
    pub fn day(self) -> u8 {
        self.0.day().unsigned_abs()
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.year(),
            self.month(),
            self.day()
        )
    }
}

/// The text is not a date in the form `YYYY-MM-DD` in the years 1 to 9999.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a date in the form YYYY-MM-DD (years 0001 to 9999)")]
pub struct InvalidDate(pub String);

impl FromStr for Date {
    type Err = InvalidDate;

    fn from_str(s: &str) -> Result<Date, InvalidDate> {
        let invalid = || InvalidDate(s.to_owned());
        let mut parts = s.splitn(3, '-');
        let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        let digits = |t: &str, len: usize| t.len() == len && t.bytes().all(|b| b.is_ascii_digit());
        if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
            return Err(invalid());
        }
        let number = |t: &str| t.parse::<u16>().map_err(|_| invalid());
        let month = u8::try_from(number(m)?).map_err(|_| invalid())?;
        let day = u8::try_from(number(d)?).map_err(|_| invalid())?;
        Date::new(number(y)?.into(), month, day).ok_or_else(invalid)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A date is a `YYYY-MM-DD` string in JSON (its serde code writes it so).
#[cfg(feature = "cli")]
impl schemars::JsonSchema for Date {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Date".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A calendar date, YYYY-MM-DD (years 0001 to 9999).",
            "type": "string",
            "format": "date",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        })
    }
}

/// The value of one field of a record.
///
/// In JSON a value is written as itself: `null`, `"text"`, `42` (integer), `4.5` (number),
/// `true`, and a date as `{"date": "2026-01-31"}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum FieldValue {
    /// No value.
    #[default]
    Null,
    /// Text.
    Text(String),
    /// A whole number.
    Integer(i64),
    /// A number with a fractional part.
    Number(f64),
    /// True or false.
    Boolean(bool),
    /// A calendar date.
    Date(Date),
}

impl FieldValue {
    /// The text, if this is a text value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::Text(text) => Some(text),
            _ => None,
        }
    }

    /// Whether this is `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, FieldValue::Null)
    }

    /// The name of the value's type, as error messages and the field schema spell it.
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldValue::Null => "null",
            FieldValue::Text(_) => "text",
            FieldValue::Integer(_) => "integer",
            FieldValue::Number(_) => "number",
            FieldValue::Boolean(_) => "boolean",
            FieldValue::Date(_) => "date",
        }
    }
}

impl From<&str> for FieldValue {
    fn from(text: &str) -> FieldValue {
        FieldValue::Text(text.to_owned())
    }
}

impl From<String> for FieldValue {
    fn from(text: String) -> FieldValue {
        FieldValue::Text(text)
    }
}

impl From<i64> for FieldValue {
    fn from(value: i64) -> FieldValue {
        FieldValue::Integer(value)
    }
}

impl From<f64> for FieldValue {
    fn from(value: f64) -> FieldValue {
        FieldValue::Number(value)
    }
}

impl From<bool> for FieldValue {
    fn from(value: bool) -> FieldValue {
        FieldValue::Boolean(value)
    }
}

impl From<Date> for FieldValue {
    fn from(value: Date) -> FieldValue {
        FieldValue::Date(value)
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Null => Ok(()),
            FieldValue::Text(text) => f.write_str(text),
            FieldValue::Integer(value) => write!(f, "{value}"),
            FieldValue::Number(value) => write!(f, "{value}"),
            FieldValue::Boolean(value) => write!(f, "{value}"),
            FieldValue::Date(value) => write!(f, "{value}"),
        }
    }
}

impl Serialize for FieldValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            FieldValue::Null => serializer.serialize_unit(),
            FieldValue::Text(text) => serializer.serialize_str(text),
            FieldValue::Integer(value) => serializer.serialize_i64(*value),
            FieldValue::Number(value) => serializer.serialize_f64(*value),
            FieldValue::Boolean(value) => serializer.serialize_bool(*value),
            FieldValue::Date(date) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("date", date)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for FieldValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FieldValue, D::Error> {
        struct Visitor;

        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = FieldValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("null, a string, a number, a boolean or {\"date\": \"YYYY-MM-DD\"}")
            }

            fn visit_unit<E>(self) -> Result<FieldValue, E> {
                Ok(FieldValue::Null)
            }

            fn visit_none<E>(self) -> Result<FieldValue, E> {
                Ok(FieldValue::Null)
            }

            fn visit_str<E>(self, text: &str) -> Result<FieldValue, E> {
                Ok(FieldValue::Text(text.to_owned()))
            }

            fn visit_string<E>(self, text: String) -> Result<FieldValue, E> {
                Ok(FieldValue::Text(text))
            }

            fn visit_i64<E>(self, value: i64) -> Result<FieldValue, E> {
                Ok(FieldValue::Integer(value))
            }

            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<FieldValue, E> {
                i64::try_from(value)
                    .map(FieldValue::Integer)
                    .map_err(|_| E::custom(format!("integer {value} is too large")))
            }

            fn visit_f64<E>(self, value: f64) -> Result<FieldValue, E> {
                Ok(FieldValue::Number(value))
            }

            fn visit_bool<E>(self, value: bool) -> Result<FieldValue, E> {
                Ok(FieldValue::Boolean(value))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<FieldValue, A::Error> {
                use serde::de::Error;
                let Some(key) = map.next_key::<String>()? else {
                    return Err(A::Error::custom("expected {\"date\": \"YYYY-MM-DD\"}"));
                };
                if key != "date" {
                    return Err(A::Error::custom(format!(
                        "unknown value kind `{key}`: expected {{\"date\": \"YYYY-MM-DD\"}}"
                    )));
                }
                let date = map.next_value::<Date>()?;
                if map.next_key::<String>()?.is_some() {
                    return Err(A::Error::custom("a date value has exactly one key, `date`"));
                }
                Ok(FieldValue::Date(date))
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

/// A value is written as itself, a date as `{"date": "YYYY-MM-DD"}` (as its serde code does).
#[cfg(feature = "cli")]
impl schemars::JsonSchema for FieldValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FieldValue".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let date = generator.subschema_for::<Date>();
        schemars::json_schema!({
            "description": "A field's value: null, text, an integer, a number, true or false, or a date as {\"date\": \"YYYY-MM-DD\"}.",
            "anyOf": [
                { "type": "null" },
                { "type": "string" },
                { "type": "number" },
                { "type": "boolean" },
                {
                    "type": "object",
                    "properties": { "date": date },
                    "required": ["date"],
                    "additionalProperties": false,
                },
            ],
        })
    }
}

/// Named field values, ordered by name.
pub type Fields = BTreeMap<String, FieldValue>;

/// How the platform manages a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ManagedAs {
    /// A customer company.
    #[default]
    Customer,
    /// A partner company, which manages customers on the tenant's behalf.
    Partner,
}

/// A company record.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Company {
    /// The company's id, unique within its tenant.
    pub id: String,
    /// The company's name.
    pub name: String,
    /// Customer or partner.
    #[serde(default)]
    pub managed_as: ManagedAs,
    /// The id of the partner company that manages this one, if any.
    #[serde(default)]
    pub managed_by: Option<String>,
    /// Standard and custom fields.
    #[serde(default)]
    pub fields: Fields,
}

/// The records a partner's users may access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccessScope {
    /// Company records only.
    #[default]
    CompanyRecords,
    /// Relationship records only.
    RelationshipRecords,
    /// Both company and relationship records.
    Both,
}

/// A company tagged as a partner, with the records its users may access.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Partner {
    /// The partner's company record.
    pub company: Company,
    /// What the partner's users may access.
    #[serde(default)]
    pub scope: AccessScope,
}

/// Who a success plan was shared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Internal users of the tenant.
    Users,
    /// External contacts of the customer.
    Contacts,
}

/// One recipient of a shared plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Recipient {
    /// Email address.
    pub email: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// True for an external contact, false for an internal user.
    #[serde(default)]
    pub external: bool,
}

/// An objective of a success plan, as a share's recipients may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Objective {
    /// The objective's id.
    pub id: String,
    /// The objective's name.
    pub name: String,
    /// Its status, for example `open` or `done`.
    #[serde(default)]
    pub status: String,
    /// When it is due.
    #[serde(default)]
    pub due_date: Option<Date>,
}

/// The event of the *plan shared* hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct ShareEvent {
    /// The plan's id.
    pub plan_id: String,
    /// The plan's name.
    pub plan_name: String,
    /// The customer company's id.
    pub customer_id: String,
    /// The customer company's name.
    pub customer_name: String,
    /// Users or contacts.
    pub audience: Audience,
    /// Everyone the plan went to.
    pub recipients: Vec<Recipient>,
    /// The objectives the recipients may see.
    #[serde(default)]
    pub visible_objectives: Vec<Objective>,
    /// Whether the shared plan includes its tasks.
    #[serde(default)]
    pub include_tasks: bool,
    /// The subject line.
    pub subject: String,
    /// The sharer's note.
    #[serde(default)]
    pub note: Option<String>,
    /// The sharer's email address.
    pub shared_by: String,
    /// When the links expire (RFC 3339, UTC).
    #[serde(default)]
    pub link_expires_at: Option<String>,
}

/// Where a notification is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Email.
    Email,
    /// A message inside the platform.
    InApp,
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Notification {
    /// Delivery channel.
    pub channel: Channel,
    /// Recipient's email address.
    pub recipient: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// The kinds of call to action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CtaType {
    /// The customer may churn.
    Risk,
    /// A chance to sell more.
    Expansion,
    /// A lifecycle step such as onboarding.
    Lifecycle,
    /// A piece of work such as a hand-off.
    Activity,
    /// Work towards a success-plan objective.
    Objective,
}

/// How urgent a CTA is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Can wait.
    Low,
    /// The default.
    #[default]
    Medium,
    /// Do it first.
    High,
}

/// A CTA a lifecycle plugin asks the host to open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct CtaRequest {
    /// The kind of CTA.
    pub kind: CtaType,
    /// Its name.
    pub name: String,
    /// Its priority.
    #[serde(default)]
    pub priority: Priority,
    /// Days from now until it is due.
    #[serde(default)]
    pub due_in_days: Option<u32>,
}

/// An action a lifecycle plugin asks the host to take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum LifecycleAction {
    /// Set a field of the partner's company record.
    SetField {
        /// The field.
        name: String,
        /// Its new value.
        value: FieldValue,
    },
    /// Open a CTA on the partner's company.
    OpenCta(CtaRequest),
    /// Send a notification.
    Notify(Notification),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_and_reject_impossible_days() {
        assert_eq!(
            "2024-02-29".parse::<Date>().unwrap(),
            Date::new(2024, 2, 29).unwrap()
        );
        assert!("2023-02-29".parse::<Date>().is_err());
        assert!("2023-13-01".parse::<Date>().is_err());
        assert!("23-01-01".parse::<Date>().is_err());
        assert!("2023-1-01".parse::<Date>().is_err());
        assert_eq!(Date::new(2026, 1, 5).unwrap().to_string(), "2026-01-05");
    }

    #[test]
    fn dates_are_in_the_years_1_to_9999() {
        assert_eq!(Date::new(20000, 1, 1), None);
        assert_eq!(Date::new(0, 1, 1), None);
        assert_eq!(Date::new(-5, 1, 1), None);
        assert_eq!(Date::new(1, 1, 1).unwrap().to_string(), "0001-01-01");
        assert_eq!(Date::new(9999, 12, 31).unwrap().to_string(), "9999-12-31");
        assert!("0000-01-01".parse::<Date>().is_err());
        assert!("+999-01-01".parse::<Date>().is_err());
        let error = "20000-01-01".parse::<Date>().unwrap_err().to_string();
        assert!(error.contains("9999"), "{error}");
        // A date stored as JSON reads back only when it is one.
        let json = serde_json::json!({"date": "20000-01-01"});
        assert!(serde_json::from_value::<FieldValue>(json).is_err());
    }

    #[test]
    fn field_values_round_trip_through_json() {
        let values = vec![
            FieldValue::Null,
            FieldValue::Text("Acme".into()),
            FieldValue::Integer(42),
            FieldValue::Number(4.5),
            FieldValue::Boolean(true),
            FieldValue::Date(Date::new(2026, 3, 1).unwrap()),
        ];
        let json = serde_json::to_string(&values).unwrap();
        assert_eq!(json, r#"[null,"Acme",42,4.5,true,{"date":"2026-03-01"}]"#);
        let back: Vec<FieldValue> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, values);
    }

    #[test]
    fn field_value_json_errors_say_what_is_expected() {
        let err = serde_json::from_str::<FieldValue>(r#"{"when": "2026-01-01"}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown value kind `when`"),
            "{err}"
        );
        let err = serde_json::from_str::<FieldValue>(r#"{"date": "2026-02-30"}"#).unwrap_err();
        assert!(err.to_string().contains("2026-02-30"), "{err}");
    }
}
