//! The generated bindings of each contract version the host serves, and the conversions between
//! them and the host's model. Nothing outside this module sees a generated type.

use crate::model::{self, Date, FieldValue};

use super::manifest::{Capability, ConfigKey};

/// `cs:plugin@0.1.0`.
pub(crate) mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.0",
        inline: "
            package cs:host-bindings;

            world plugin-v0-1 {
                include cs:plugin/field-mapper-plugin@0.1.0;
                include cs:plugin/criteria-filter-plugin@0.1.0;
                include cs:plugin/notifier-plugin@0.1.0;
                include cs:plugin/lifecycle-plugin@0.1.0;
            }
        ",
        // Arguments are lowered straight from the host's borrowed data, without copies.
        ownership: Borrowing { duplicate_if_necessary: true },
        imports: {
            "cs:plugin/host.company-by-id": trappable,
            "cs:plugin/host.company-by-name": trappable,
        },
    });

    pub(crate) use cs::plugin::host::{Host, LogLevel, LookupError};
    pub(crate) use cs::plugin::types as t;
    pub(crate) use exports::cs::plugin::field_mapper;
}

/// `cs:plugin@0.2.0`. Its types are 0.1.0's (less the field mapper's, which moved into its
/// interface): the host uses 0.1.0's bindings of them for both versions.
pub(crate) mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.2.0",
        inline: "
            package cs:host-bindings-v0-2;

            world plugin-v0-2 {
                include cs:plugin/field-mapper-plugin@0.2.0;
                include cs:plugin/criteria-filter-plugin@0.2.0;
                include cs:plugin/notifier-plugin@0.2.0;
                include cs:plugin/lifecycle-plugin@0.2.0;
            }
        ",
        ownership: Borrowing { duplicate_if_necessary: true },
        imports: {
            "cs:plugin/host.company-by-id": trappable,
            "cs:plugin/host.company-by-name": trappable,
        },
        with: {
            "cs:plugin/types@0.2.0": crate::plugins::bindings::v0_1::cs::plugin::types,
        },
    });

    pub(crate) use cs::plugin::host::{Host, LogLevel, LookupError};
    pub(crate) use exports::cs::plugin::field_mapper;
}

use v0_1::t;

impl From<v0_1::LogLevel> for super::LogLevel {
    fn from(level: v0_1::LogLevel) -> super::LogLevel {
        use super::LogLevel as L;
        match level {
            v0_1::LogLevel::Trace => L::Trace,
            v0_1::LogLevel::Debug => L::Debug,
            v0_1::LogLevel::Info => L::Info,
            v0_1::LogLevel::Warn => L::Warn,
            v0_1::LogLevel::Error => L::Error,
            v0_1::LogLevel::Fatal => L::Fatal,
        }
    }
}

pub(crate) fn value_param(value: &FieldValue) -> t::FieldValueParam<'_> {
    match value {
        FieldValue::Null => t::FieldValueParam::Null,
        FieldValue::Text(text) => t::FieldValueParam::Text(text),
        FieldValue::Integer(v) => t::FieldValueParam::Integer(*v),
        FieldValue::Number(v) => t::FieldValueParam::Number(*v),
        FieldValue::Boolean(v) => t::FieldValueParam::Boolean(*v),
        FieldValue::Date(d) => t::FieldValueParam::Date(date_out(*d)),
    }
}

pub(crate) fn date_out(date: Date) -> t::Date {
    t::Date {
        year: date.year(),
        month: date.month(),
        day: date.day(),
    }
}

/// Converts a value a plugin returned; a date that does not exist is invalid output.
pub(crate) fn value_result(value: t::FieldValueResult) -> Result<FieldValue, String> {
    Ok(match value {
        t::FieldValueResult::Null => FieldValue::Null,
        t::FieldValueResult::Text(text) => FieldValue::Text(text),
        t::FieldValueResult::Integer(v) => FieldValue::Integer(v),
        t::FieldValueResult::Number(v) => FieldValue::Number(v),
        t::FieldValueResult::Boolean(v) => FieldValue::Boolean(v),
        t::FieldValueResult::Date(d) => {
            FieldValue::Date(Date::new(d.year, d.month, d.day).ok_or_else(|| {
                let (y, m, day) = (d.year, d.month, d.day);
                format!("{y}-{m}-{day} is not a date in the years 1 to 9999")
            })?)
        }
    })
}

pub(crate) fn field_result(field: t::FieldResult) -> Result<(String, FieldValue), String> {
    let value = value_result(field.value).map_err(|e| format!("field `{}`: {e}", field.name))?;
    Ok((field.name, value))
}

fn managed_as(value: model::ManagedAs) -> t::ManagedAs {
    match value {
        model::ManagedAs::Customer => t::ManagedAs::Customer,
        model::ManagedAs::Partner => t::ManagedAs::Partner,
    }
}

/// The fields of a company, in the form a plugin sees them. Kept apart from the company so the
/// borrowed record can point at it.
pub(crate) fn field_params<'a>(
    fields: impl IntoIterator<Item = (&'a String, &'a FieldValue)>,
) -> Vec<t::FieldParam<'a>> {
    fields
        .into_iter()
        .map(|(name, value)| t::FieldParam {
            name,
            value: value_param(value),
        })
        .collect()
}

pub(crate) fn company_param<'a>(
    company: &'a model::Company,
    fields: &'a [t::FieldParam<'a>],
) -> t::CompanyParam<'a> {
    t::CompanyParam {
        id: &company.id,
        name: &company.name,
        managed_as: managed_as(company.managed_as),
        managed_by: company.managed_by.as_deref(),
        fields,
    }
}

/// A company returned by a look-up, with all its fields.
pub(crate) fn company_result(company: model::Company) -> t::CompanyResult {
    t::CompanyResult {
        id: company.id,
        name: company.name,
        managed_as: managed_as(company.managed_as),
        managed_by: company.managed_by,
        fields: company
            .fields
            .into_iter()
            .map(|(name, value)| t::FieldResult {
                name,
                value: match value {
                    FieldValue::Null => t::FieldValueResult::Null,
                    FieldValue::Text(text) => t::FieldValueResult::Text(text),
                    FieldValue::Integer(v) => t::FieldValueResult::Integer(v),
                    FieldValue::Number(v) => t::FieldValueResult::Number(v),
                    FieldValue::Boolean(v) => t::FieldValueResult::Boolean(v),
                    FieldValue::Date(d) => t::FieldValueResult::Date(date_out(d)),
                },
            })
            .collect(),
    }
}

pub(crate) fn access_scope(scope: model::AccessScope) -> t::AccessScope {
    match scope {
        model::AccessScope::CompanyRecords => t::AccessScope::CompanyRecords,
        model::AccessScope::RelationshipRecords => t::AccessScope::RelationshipRecords,
        model::AccessScope::Both => t::AccessScope::Both,
    }
}

pub(crate) fn recipient(r: &model::Recipient) -> t::Recipient<'_> {
    t::Recipient {
        email: &r.email,
        name: &r.name,
        external: r.external,
    }
}

pub(crate) fn objective(o: &model::Objective) -> t::Objective<'_> {
    t::Objective {
        id: &o.id,
        name: &o.name,
        status: &o.status,
        due_date: o.due_date.map(date_out),
    }
}

pub(crate) fn audience(audience: model::Audience) -> t::Audience {
    match audience {
        model::Audience::Users => t::Audience::Users,
        model::Audience::Contacts => t::Audience::Contacts,
    }
}

fn channel_out(channel: model::Channel) -> t::Channel {
    match channel {
        model::Channel::Email => t::Channel::Email,
        model::Channel::InApp => t::Channel::InApp,
    }
}

fn channel_in(channel: t::Channel) -> model::Channel {
    match channel {
        t::Channel::Email => model::Channel::Email,
        t::Channel::InApp => model::Channel::InApp,
    }
}

pub(crate) fn notification_param(n: &model::Notification) -> t::NotificationParam<'_> {
    t::NotificationParam {
        channel: channel_out(n.channel),
        recipient: &n.recipient,
        subject: &n.subject,
        body: &n.body,
    }
}

pub(crate) fn notification_result(n: t::NotificationResult) -> model::Notification {
    model::Notification {
        channel: channel_in(n.channel),
        recipient: n.recipient,
        subject: n.subject,
        body: n.body,
    }
}

pub(crate) fn lifecycle_action(
    action: t::LifecycleAction,
) -> Result<model::LifecycleAction, String> {
    Ok(match action {
        t::LifecycleAction::SetField(field) => {
            let (name, value) = field_result(field)?;
            model::LifecycleAction::SetField { name, value }
        }
        t::LifecycleAction::OpenCta(cta) => model::LifecycleAction::OpenCta(model::CtaRequest {
            kind: match cta.kind {
                t::CtaType::Risk => model::CtaType::Risk,
                t::CtaType::Expansion => model::CtaType::Expansion,
                t::CtaType::Lifecycle => model::CtaType::Lifecycle,
                t::CtaType::Activity => model::CtaType::Activity,
                t::CtaType::Objective => model::CtaType::Objective,
            },
            name: cta.name,
            priority: match cta.priority {
                t::Priority::Low => model::Priority::Low,
                t::Priority::Medium => model::Priority::Medium,
                t::Priority::High => model::Priority::High,
            },
            due_in_days: cta.due_in_days,
        }),
        t::LifecycleAction::Notify(n) => model::LifecycleAction::Notify(notification_result(n)),
    })
}

pub(crate) fn capability(capability: t::Capability) -> Capability {
    match capability {
        t::Capability::ReadCompanies => Capability::ReadCompanies,
    }
}

pub(crate) fn config_key(key: t::ConfigKey) -> ConfigKey {
    ConfigKey {
        name: key.name,
        description: key.description,
        default_value: key.default_value,
        required: key.required,
    }
}

/// The number of bytes a returned value occupies, to hold it to the output cap.
pub(crate) trait OutputSize {
    fn output_size(&self) -> usize;
}

impl OutputSize for String {
    fn output_size(&self) -> usize {
        self.len()
    }
}

impl OutputSize for bool {
    fn output_size(&self) -> usize {
        1
    }
}

impl<T: OutputSize> OutputSize for Vec<T> {
    fn output_size(&self) -> usize {
        self.iter().map(OutputSize::output_size).sum()
    }
}

impl<T: OutputSize> OutputSize for Option<T> {
    fn output_size(&self) -> usize {
        self.as_ref().map_or(0, OutputSize::output_size)
    }
}

impl<T: OutputSize, E: OutputSize> OutputSize for Result<T, E> {
    fn output_size(&self) -> usize {
        match self {
            Ok(ok) => ok.output_size(),
            Err(err) => err.output_size(),
        }
    }
}

impl OutputSize for t::FieldValueResult {
    fn output_size(&self) -> usize {
        match self {
            t::FieldValueResult::Text(text) => text.len(),
            _ => 8,
        }
    }
}

impl OutputSize for t::FieldResult {
    fn output_size(&self) -> usize {
        self.name.len() + self.value.output_size()
    }
}

/// What each notification counts against the output cap besides its text: a queued message
/// costs the host a row and a delivery, even when empty.
pub(crate) const NOTIFICATION_COST: usize = 256;

impl OutputSize for t::NotificationResult {
    fn output_size(&self) -> usize {
        NOTIFICATION_COST + self.recipient.len() + self.subject.len() + self.body.len()
    }
}

impl OutputSize for t::PluginError {
    fn output_size(&self) -> usize {
        self.code.len() + self.message.len()
    }
}

impl OutputSize for t::LifecycleAction {
    fn output_size(&self) -> usize {
        match self {
            t::LifecycleAction::SetField(field) => field.output_size(),
            t::LifecycleAction::OpenCta(cta) => cta.name.len() + 8,
            t::LifecycleAction::Notify(n) => n.output_size(),
        }
    }
}

impl OutputSize for v0_1::field_mapper::RowOutcome {
    fn output_size(&self) -> usize {
        use v0_1::field_mapper::RowOutcome;
        match self {
            RowOutcome::Keep(changes) => {
                let changed: usize = changes
                    .changed
                    .iter()
                    .map(|change| 4 + change.value.output_size())
                    .sum();
                changed + changes.added.output_size()
            }
            RowOutcome::Skip(reason) => reason.len(),
            RowOutcome::Reject(error) => error.field.len() + error.message.len(),
        }
    }
}

impl OutputSize for v0_2::field_mapper::Mapped {
    fn output_size(&self) -> usize {
        let outcomes: usize = self
            .outcomes
            .iter()
            .map(|outcome| {
                use v0_2::field_mapper::RowOutcome;
                match outcome {
                    RowOutcome::Keep => 1,
                    RowOutcome::Skip(reason) => reason.len(),
                    RowOutcome::Reject(error) => error.field.len() + error.message.len(),
                }
            })
            .sum();
        let added: usize = self.added.iter().map(|a| 4 + a.field.output_size()).sum();
        // A changed text is counted at its span's length, not once for the shared buffer: spans
        // may all alias one region, and the host copies each out, so a plugin cannot make it
        // copy the buffer once per change beyond the cap.
        let changed = self.changed.iter().fold(0usize, |sum, change| {
            let text = match change.value {
                t::Cell::Text(span) => span.len as usize,
                _ => 0,
            };
            sum.saturating_add(16).saturating_add(text)
        });
        outcomes
            .saturating_add(self.text.len())
            .saturating_add(changed)
            .saturating_add(added)
    }
}

impl OutputSize for t::PluginInfo {
    fn output_size(&self) -> usize {
        let config: usize = self
            .config
            .iter()
            .map(|k| k.name.len() + k.description.len() + k.default_value.output_size())
            .sum();
        self.name.len()
            + self.version.len()
            + self.description.len()
            + self.capabilities.len()
            + config
            + self.reads.output_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugin_date_past_the_year_9999_is_invalid_output() {
        let date = |year| {
            t::FieldValueResult::Date(t::Date {
                year,
                month: 1,
                day: 1,
            })
        };
        let error = value_result(date(20000)).unwrap_err();
        assert!(
            error.contains("20000-1-1") && error.contains("9999"),
            "{error}"
        );
        assert!(value_result(date(0)).is_err());
        assert_eq!(
            value_result(date(2026)).unwrap(),
            FieldValue::Date(Date::new(2026, 1, 1).unwrap())
        );
    }
}
