//! Helpers on the contract's types.

use crate::{
    Capability, Company, ConfigKey, Cta, CtaType, Date, Field, FieldValue, LifecycleAction,
    Notification, PluginError, PluginInfo, Priority,
};

impl PluginInfo {
    /// A plugin that reads every field, no source columns, requests no capability and reads no
    /// configuration. Narrow what it reads with [`reads`](Self::reads): the host then passes
    /// less data on each call, which makes calls cheaper.
    pub fn new(name: &str, version: &str, description: &str) -> PluginInfo {
        PluginInfo {
            name: name.to_owned(),
            version: version.to_owned(),
            description: description.to_owned(),
            capabilities: Vec::new(),
            config: Vec::new(),
            reads: vec!["*".to_owned()],
            reads_source: false,
        }
    }

    /// The fields the plugin reads; `["*"]` for all (the default).
    pub fn reads<'a>(mut self, fields: impl IntoIterator<Item = &'a str>) -> PluginInfo {
        self.reads = fields.into_iter().map(str::to_owned).collect();
        self
    }

    /// A field mapper that also reads the CSV row's source columns.
    pub fn reads_source(mut self) -> PluginInfo {
        self.reads_source = true;
        self
    }

    /// Requests a capability. The admin must grant it too.
    pub fn capability(mut self, capability: Capability) -> PluginInfo {
        self.capabilities.push(capability);
        self
    }

    /// Declares a configuration key.
    pub fn config(mut self, key: ConfigKey) -> PluginInfo {
        self.config.push(key);
        self
    }
}

impl ConfigKey {
    /// A key with a default value.
    pub fn optional(name: &str, description: &str, default_value: &str) -> ConfigKey {
        ConfigKey {
            name: name.to_owned(),
            description: description.to_owned(),
            default_value: Some(default_value.to_owned()),
            required: false,
        }
    }

    /// A key the admin must set.
    pub fn required(name: &str, description: &str) -> ConfigKey {
        ConfigKey {
            name: name.to_owned(),
            description: description.to_owned(),
            default_value: None,
            required: true,
        }
    }
}

impl PluginError {
    /// An error with a machine-readable code and a message for people.
    pub fn new(code: &str, message: impl Into<String>) -> PluginError {
        PluginError {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl FieldValue {
    /// The text, if this is a text value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The number, if this is an integer or a number, or text that reads as one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            FieldValue::Integer(value) => Some(*value as f64),
            FieldValue::Number(value) => Some(*value),
            FieldValue::Text(text) => text.trim().parse().ok(),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            FieldValue::Boolean(value) => Some(*value),
            _ => None,
        }
    }

    /// The date, if this is one.
    pub fn as_date(&self) -> Option<Date> {
        match self {
            FieldValue::Date(date) => Some(*date),
            _ => None,
        }
    }

    /// Whether the field holds no value.
    pub fn is_null(&self) -> bool {
        matches!(self, FieldValue::Null)
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

impl Field {
    /// A named field.
    pub fn new(name: &str, value: impl Into<FieldValue>) -> Field {
        Field {
            name: name.to_owned(),
            value: value.into(),
        }
    }
}

impl Company {
    /// The value of one of the company's fields, if the host passed it.
    pub fn field(&self, name: &str) -> Option<&FieldValue> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| &f.value)
    }
}

impl Notification {
    /// An email.
    pub fn email(
        recipient: &str,
        subject: impl Into<String>,
        body: impl Into<String>,
    ) -> Notification {
        Notification {
            channel: crate::Channel::Email,
            recipient: recipient.to_owned(),
            subject: subject.into(),
            body: body.into(),
        }
    }

    /// A message inside the platform.
    pub fn in_app(
        recipient: &str,
        subject: impl Into<String>,
        body: impl Into<String>,
    ) -> Notification {
        Notification {
            channel: crate::Channel::InApp,
            recipient: recipient.to_owned(),
            subject: subject.into(),
            body: body.into(),
        }
    }
}

impl LifecycleAction {
    /// Opens a CTA of this kind and name, at medium priority.
    pub fn open_cta(kind: CtaType, name: &str) -> LifecycleAction {
        LifecycleAction::OpenCta(Cta {
            kind,
            name: name.to_owned(),
            priority: Priority::Medium,
            due_in_days: None,
        })
    }
}

/// The arguments of a criteria filter, by name.
#[derive(Debug, Clone, Default)]
pub struct Arguments {
    fields: Vec<Field>,
}

impl Arguments {
    pub(crate) fn new(fields: Vec<Field>) -> Arguments {
        Arguments { fields }
    }

    /// An argument's value.
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| &f.value)
    }

    /// A text argument that must be present.
    pub fn require_text(&self, name: &str) -> Result<&str, PluginError> {
        self.get(name).and_then(FieldValue::as_text).ok_or_else(|| {
            PluginError::new(
                "bad-argument",
                format!("the text argument `{name}` is missing"),
            )
        })
    }
}
