//! The hooks: where the host's operations call the plugins a tenant enabled, and how.
//!
//! Each hook reads the tenant's enablements once when its operation starts (so a change made
//! meanwhile applies to the next operation, never to one running), runs fresh instances of the
//! enabled plugins in priority order, applies each one's failure policy, and writes what
//! happened to the run log (which feeds the circuit breaker) when the operation ends.

mod mapping;
pub(crate) mod pending;
mod run;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access::Permission;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Company, Fields, LifecycleAction, Notification, Partner, ShareEvent};
use crate::plugins::egress::Egress;
use crate::plugins::enablement::{Active, FailurePolicy};
use crate::plugins::runlog::{CallLog, RunLogSink};
use crate::plugins::{BatchRow, ExtensionPoint, PluginError, PluginErrorKind, PluginInstance};
use crate::tenant::Tenant;

/// The configuration key under which a field mapper learns which object an import's rows are
/// for: `company`, `partner` or `relationship` (see
/// [`ImportTarget::object`](crate::ImportTarget::object)). The contract `cs:plugin@0.1.0` is
/// frozen, so the object comes through what it already carries: the plugin reads it with
/// `host.config("cs.import.object")`, like a configuration value of its own. A plugin that
/// never asks is unaffected; a plugin that declares a configuration key of that very name
/// keeps its own key's value (the host then does not set it), so no existing plugin can misread
/// it. Outside an import (`cshost plugin run` without an `object`), the key has no value.
/// Contract 0.2.0 also says it in the field mapper's `begin`; the key is set for both versions.
pub const IMPORT_OBJECT_KEY: &str = "cs.import.object";

/// The row objects [`IMPORT_OBJECT_KEY`] can hold.
pub const IMPORT_OBJECTS: [&str; 3] = ["company", "partner", "relationship"];

/// The *CSV row mapped* chain of one import: the tenant's enabled field mappers, each with its
/// instance for the whole import. The run log is written when the chain is dropped.
pub(crate) struct RowMappers {
    slots: Vec<Slot>,
    /// The object the rows are for, recorded with a failure so a replay tells the plugin too.
    object: Option<String>,
    columns: Vec<String>,
    fields: Vec<String>,
    /// Whether a plugin of the chain reads the rows' source values.
    reads_source: bool,
    /// A row's buffers, reused from row to row.
    spare: BatchRow,
    sink: Option<RunLogSink>,
}

/// One plugin of an operation: its instance, its policy, and the log of its calls.
struct Slot {
    instance: PluginInstance,
    policy: FailurePolicy,
    /// The addresses and domains the admin lets its notifications reach besides the defaults.
    egress: std::collections::BTreeSet<String>,
    log: CallLog,
    /// The last error, kept to fail the rows a tripped fail-closed plugin can no longer serve.
    last_error: Option<PluginError>,
    /// A fail-open field mapper that could not begin the import sits it out.
    benched: bool,
    /// The plugin used up its budget for the operation: it is not called again in it.
    spent: bool,
}

impl Slot {
    fn new(active: Active, hook: ExtensionPoint) -> Slot {
        Slot {
            instance: active.plugin.instantiate(&active.context),
            policy: active.enablement.failure_policy,
            egress: active.enablement.egress.clone(),
            log: CallLog::new(&active, hook.hook()),
            last_error: None,
            benched: false,
            spent: false,
        }
    }

    fn name(&self) -> &str {
        self.instance.plugin().name()
    }
}

/// What the *CSV row mapped* chain decided about a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RowVerdict {
    /// Keep the row, with the fields as the chain left them.
    Keep,
    /// Leave the row out: a plugin skipped it.
    Skip {
        /// The plugin that skipped it.
        plugin: String,
        /// Its reason.
        reason: String,
    },
    /// The row is refused: a plugin rejected it, naming the field at fault.
    Reject {
        /// The plugin that rejected it.
        plugin: String,
        /// The field at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A fail-closed plugin failed: the row fails with this error.
    Failed(PluginError),
}

/// What the *plan shared* hook decided.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NotifyOutcome {
    /// Send these (possibly none: an empty list from a plugin suppresses the default).
    Send(Vec<Notification>),
    /// A fail-closed notifier failed: record the share, but hold these notifications with the
    /// error.
    Held {
        /// The notifier's error.
        error: PluginError,
        /// The notifications planned before the failing notifier ran.
        planned: Vec<Notification>,
    },
}

/// The actions one lifecycle plugin asked for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PluginActions {
    /// The plugin.
    pub plugin: String,
    /// Its actions, for the host to validate and apply.
    pub actions: Vec<LifecycleAction>,
}

/// The tenant's hooks, from [`Tenant::hooks`]: running its enabled plugins on one hook as its
/// operations do, and the hooks committed changes still owe.
#[derive(Debug, Clone, Copy)]
pub struct Hooks<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

/// The input of the `csv-row-mapped` hook in JSON, as `cshost plugin run --input` takes it and
/// the run log records it: `{"object": "relationship", "columns": [..], "rows": [{"number": 2,
/// "source": [..], "fields": {..}}]}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RowsInput {
    /// Which object the rows are for: `company`, `partner` or `relationship`, as field mappers
    /// read it under [`IMPORT_OBJECT_KEY`]. Absent: the plugins are not told (as before
    /// relationship imports existed, when every row was a company's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// The file's column names, for plugins that read the source row.
    #[serde(default)]
    pub columns: Vec<String>,
    /// The rows.
    pub rows: Vec<RowInput>,
}

impl RowsInput {
    /// The names of the fields the rows carry, in the order they first appear.
    pub fn field_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for row in &self.rows {
            for name in row.fields.keys() {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        names
    }
}

/// One row of a [`RowsInput`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RowInput {
    /// Its data row number: 1 for the first row after the header, as import reports count rows
    /// (a quoted value may span lines, so this is not a line number). By default, its place in
    /// the list.
    #[serde(default)]
    pub number: Option<u64>,
    /// The source row, one value per column.
    #[serde(default)]
    pub source: Vec<String>,
    /// The mapped fields.
    pub fields: Fields,
}

/// The input of the `criteria` hook in JSON: `{"arguments": {..}, "companies": [..]}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CriteriaInput {
    /// The filter's arguments.
    #[serde(default)]
    pub arguments: Fields,
    /// The candidate companies.
    pub companies: Vec<Company>,
}

/// The input of the `plan-shared` hook in JSON: `{"event": {..}, "planned": [..]}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ShareInput {
    /// The share event.
    pub event: ShareEvent,
    /// The notifications the host plans to send.
    #[serde(default)]
    pub planned: Vec<Notification>,
}

/// The input of the `partner-created` hook in JSON: `{"partner": {..}}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PartnerInput {
    /// The new partner.
    pub partner: Partner,
}

/// Reads a hook's input from JSON: [`RowsInput`], [`CriteriaInput`], [`ShareInput`] or
/// [`PartnerInput`], by hook. The error names the hook and the shape it takes.
pub fn parse_hook_input<T: serde::de::DeserializeOwned>(
    hook: ExtensionPoint,
    input: serde_json::Value,
) -> Result<T> {
    let shape = match hook {
        ExtensionPoint::FieldMapper => {
            r#"{"object": "company" | "partner" | "relationship", "columns": [..], "rows": [{"number": 2, "source": [..], "fields": {"name": "..", ..}}]}"#
        }
        ExtensionPoint::CriteriaFilter => {
            r#"{"arguments": {"tier": ".."}, "companies": [{"id": "..", "name": "..", "fields": {..}}]}"#
        }
        ExtensionPoint::Notifier => r#"{"event": {..share event..}, "planned": [..]}"#,
        ExtensionPoint::Lifecycle => r#"{"partner": {"company": {..}, "scope": ".."}}"#,
    };
    serde_json::from_value(input).map_err(|e| {
        Error::new(ErrorKind::Invalid(format!(
            "the input does not fit the {} hook, which takes {shape}: {e}",
            hook.hook()
        )))
    })
}

/// A [`RowsInput`] in JSON, as the run log records a failing row for replay.
fn rows_json(
    object: Option<&str>,
    columns: &[String],
    rows: serde_json::Value,
) -> serde_json::Value {
    let mut input = json!({"columns": columns, "rows": rows});
    if let Some(object) = object {
        input["object"] = json!(object);
    }
    input
}

fn error_json(error: &PluginError) -> serde_json::Value {
    json!({"plugin": error.plugin(), "code": error.code(), "message": error.to_string()})
}

impl RowMappers {
    /// Whether no plugin is in the chain: the import can skip it entirely.
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether a plugin of the chain may look up the tenant's companies (it asks for the
    /// capability): what it finds then depends on which rows an import has committed.
    pub(crate) fn reads_companies(&self) -> bool {
        self.slots.iter().any(|slot| {
            !slot.benched
                && slot
                    .instance
                    .plugin()
                    .manifest()
                    .capabilities
                    .contains(&crate::plugins::Capability::ReadCompanies)
        })
    }

    /// The names of the plugins the chain calls, joined by `, `; `None` when it calls none.
    pub(crate) fn active_names(&self) -> Option<String> {
        let names: Vec<&str> = self
            .slots
            .iter()
            .filter(|slot| !slot.benched)
            .map(Slot::name)
            .collect();
        (!names.is_empty()).then(|| names.join(", "))
    }
}

impl Drop for RowMappers {
    fn drop(&mut self) {
        if let Some(sink) = &self.sink {
            sink.write_or_warn(self.slots.iter_mut().map(|s| &mut s.log));
        }
    }
}
