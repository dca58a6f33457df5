//! The hooks: where the host's operations call the plugins a tenant enabled, and how.
//!
//! Each hook reads the tenant's enablements once when its operation starts (so a change made
//! meanwhile applies to the next operation, never to one running), runs fresh instances of the
//! enabled plugins in priority order, applies each one's failure policy, and writes what
//! happened to the run log (which feeds the circuit breaker) when the operation ends.

mod mapping;
pub(crate) mod pending;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access::Permission;
use crate::error::{Error, ErrorKind, Result};
use crate::host::Tenant;
use crate::model::{Company, Fields, LifecycleAction, Notification, Partner, ShareEvent};
use crate::plugins::egress::Egress;
use crate::plugins::enablement::{Active, FailurePolicy};
use crate::plugins::runlog::{CallLog, RunLogSink};
use crate::plugins::{BatchRow, ExtensionPoint, PluginError, PluginErrorKind, PluginInstance};

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

impl<'h> Tenant<'h> {
    /// Whether a normalised address is one of the tenant's users: the egress policy lets
    /// plugins notify them.
    fn is_user_address(&self, address: &str) -> bool {
        // A failed look-up denies: the policy never opens on an error.
        matches!(self.user_by_email(address), Ok(Some(_)))
    }

    /// The *CSV row mapped* chain for one import: fresh instances of the tenant's enabled
    /// field-mapper plugins, in priority order, each begun with these columns and fields, and
    /// told the rows' `object` under [`IMPORT_OBJECT_KEY`] (`None`: not told).
    /// The enablement is read once here: changes apply to the next operation, never this one.
    pub(crate) fn row_mappers(
        &self,
        object: Option<&str>,
        columns: &[String],
        fields: &[String],
    ) -> Result<RowMappers> {
        let mut active = self.active_plugins(ExtensionPoint::FieldMapper)?;
        if let Some(object) = object {
            for active in &mut active {
                // A plugin's own key of that name keeps its meaning.
                if active
                    .plugin
                    .manifest()
                    .config_key(IMPORT_OBJECT_KEY)
                    .is_none()
                {
                    active.context = active.context.clone().config(IMPORT_OBJECT_KEY, object);
                }
            }
        }
        let mut mappers = RowMappers {
            slots: Vec::with_capacity(active.len()),
            object: object.map(str::to_owned),
            columns: columns.to_vec(),
            fields: fields.to_vec(),
            reads_source: false,
            spare: BatchRow::default(),
            sink: None,
        };
        if active.is_empty() {
            return Ok(mappers);
        }
        mappers.sink = Some(RunLogSink::for_tenant(self));
        let clock = self.host.shared_clock();
        for active in active {
            let mut slot = Slot::new(active, ExtensionPoint::FieldMapper);
            mappers.reads_source |= slot.instance.plugin().manifest().reads_source;
            match slot.instance.begin_rows_for(object, columns, fields) {
                // A successful `begin` is not counted: the run log and the breaker count rows.
                Ok(()) => mappers.slots.push(slot),
                Err(error) => {
                    let stats = slot.instance.last_call();
                    slot.log.failure(&stats, &error, &*clock, || {
                        rows_json(object, columns, json!([]))
                    });
                    let policy = slot.policy;
                    // Keep the slot so its log is written with the others', but never call it.
                    slot.benched = true;
                    mappers.slots.push(slot);
                    if policy == FailurePolicy::FailClosed {
                        // Dropping the chain writes the run log.
                        drop(mappers);
                        return Err(Error::from(error));
                    }
                }
            }
        }
        if mappers.slots.iter().all(|slot| slot.benched) {
            // Nothing will run: write the log now and give the import an empty chain.
            if let Some(sink) = mappers.sink.take() {
                sink.write_or_warn(mappers.slots.iter_mut().map(|s| &mut s.log));
            }
            mappers.slots.clear();
        }
        Ok(mappers)
    }

    /// Runs the criteria-filter plugin `plugin` (by name; must be enabled for this tenant).
    ///
    /// A fail-closed filter's failure is an error naming the plugin; a fail-open filter that
    /// fails matches no company, so a broken filter never selects records.
    pub(crate) fn criteria_filter(
        &self,
        plugin: &str,
        arguments: &Fields,
        candidates: &[Company],
    ) -> Result<Vec<bool>> {
        let active = self.active_plugin(plugin)?;
        if !active
            .plugin
            .manifest()
            .implements(ExtensionPoint::CriteriaFilter)
        {
            return Err(Error::from(PluginError::new(
                plugin,
                PluginErrorKind::NotImplemented {
                    extension_point: ExtensionPoint::CriteriaFilter.interface().to_owned(),
                },
            )));
        }
        let sink = RunLogSink::for_tenant(self);
        let mut slot = Slot::new(active, ExtensionPoint::CriteriaFilter);
        let result = slot.instance.matches(arguments, candidates);
        let stats = slot.instance.last_call();
        let outcome = match result {
            Ok(answers) => {
                slot.log.success(&stats);
                Ok(answers)
            }
            Err(error) => {
                slot.log.failure(
                    &stats,
                    &error,
                    &*sink.clock,
                    || json!({"arguments": arguments, "companies": candidates}),
                );
                match slot.policy {
                    FailurePolicy::FailClosed => Err(Error::from(error)),
                    FailurePolicy::FailOpen => Ok(vec![false; candidates.len()]),
                }
            }
        };
        sink.write_or_warn([&mut slot.log]);
        outcome
    }

    /// The *plan shared* hook: the tenant's enabled notifiers in priority order, each seeing the
    /// previous one's output as `planned` (the first sees the host's default notifications).
    pub(crate) fn plan_shared(
        &self,
        event: &ShareEvent,
        planned: Vec<Notification>,
    ) -> Result<NotifyOutcome> {
        let active = self.active_plugins(ExtensionPoint::Notifier)?;
        if active.is_empty() {
            return Ok(NotifyOutcome::Send(planned));
        }
        let sink = RunLogSink::for_tenant(self);
        let mut slots: Vec<Slot> = active
            .into_iter()
            .map(|a| Slot::new(a, ExtensionPoint::Notifier))
            .collect();
        let mut planned = planned;
        let mut held = None;
        let is_user = |to: &str| self.is_user_address(to);
        for slot in &mut slots {
            let egress = Egress::for_share(event, slot.instance.limits().notifications_value());
            let result = slot
                .instance
                .on_plan_shared(event, &planned)
                .and_then(|mut sent| {
                    egress.check(slot.name(), sent.iter_mut(), &slot.egress, &is_user)?;
                    Ok(sent)
                });
            let stats = slot.instance.last_call();
            match result {
                Ok(notifications) => {
                    slot.log.success(&stats);
                    planned = notifications;
                }
                Err(error) => {
                    slot.log.failure(
                        &stats,
                        &error,
                        &*sink.clock,
                        || json!({"event": event, "planned": &planned}),
                    );
                    if slot.policy == FailurePolicy::FailClosed {
                        held = Some(error);
                        break;
                    }
                }
            }
        }
        sink.write_or_warn(slots.iter_mut().map(|s| &mut s.log));
        Ok(match held {
            Some(error) => NotifyOutcome::Held { error, planned },
            None => NotifyOutcome::Send(planned),
        })
    }

    /// The *partner created* hook: each enabled lifecycle plugin's actions, in priority order.
    ///
    /// A fail-closed plugin's failure is an error naming the plugin (the partner should not be
    /// created); a fail-open plugin that fails contributes no actions.
    pub(crate) fn partner_created(&self, partner: &Partner) -> Result<Vec<PluginActions>> {
        let active = self.active_plugins(ExtensionPoint::Lifecycle)?;
        if active.is_empty() {
            return Ok(Vec::new());
        }
        let sink = RunLogSink::for_tenant(self);
        let mut slots: Vec<Slot> = active
            .into_iter()
            .map(|a| Slot::new(a, ExtensionPoint::Lifecycle))
            .collect();
        let mut all = Vec::with_capacity(slots.len());
        let mut failed = None;
        let is_user = |to: &str| self.is_user_address(to);
        for slot in &mut slots {
            let egress = Egress::for_partner(partner, slot.instance.limits().notifications_value());
            let result = slot
                .instance
                .on_partner_created(partner)
                .and_then(|mut actions| {
                    let notes = actions.iter_mut().filter_map(|action| match action {
                        LifecycleAction::Notify(notification) => Some(notification),
                        _ => None,
                    });
                    let notes: Vec<&mut Notification> = notes.collect();
                    egress.check(slot.name(), notes.into_iter(), &slot.egress, &is_user)?;
                    Ok(actions)
                });
            let stats = slot.instance.last_call();
            match result {
                Ok(actions) => {
                    slot.log.success(&stats);
                    all.push(PluginActions {
                        plugin: slot.name().to_owned(),
                        actions,
                    });
                }
                Err(error) => {
                    slot.log
                        .failure(&stats, &error, &*sink.clock, || json!({"partner": partner}));
                    if slot.policy == FailurePolicy::FailClosed {
                        failed = Some(error);
                        break;
                    }
                }
            }
        }
        sink.write_or_warn(slots.iter_mut().map(|s| &mut s.log));
        match failed {
            Some(error) => Err(Error::from(error)),
            None => Ok(all),
        }
    }
}

/// The input of the `csv-row-mapped` hook in JSON, as `cshost plugin run --input` takes it and
/// the run log records it: `{"object": "relationship", "columns": [..], "rows": [{"number": 2,
/// "source": [..], "fields": {..}}]}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
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

impl Tenant<'_> {
    /// Runs the tenant's enabled plugins on one hook, on input in the JSON shape `cshost plugin
    /// run --input` takes, exactly as the host's own operations run them: priority order,
    /// failure policies, run log and circuit breaker included. For embedders that raise the
    /// hooks' events themselves, and for admins replaying a recorded failure against the
    /// tenant's current set-up. `criteria` needs the filter plugin's name in `filter`.
    ///
    /// The output is JSON:
    /// - `csv-row-mapped`: one `{"row", "verdict", ...}` per row, the verdict `keep` (with
    ///   `fields`), `skip` (`plugin`, `reason`), `reject` (`plugin`, `field`, `message`) or
    ///   `failed` (`error`);
    /// - `criteria`: one `{"id", "name", "matches"}` per company;
    /// - `plan-shared`: `{"send": [..]}`, or `{"held": [..], "error": {..}}`;
    /// - `partner-created`: one `{"plugin", "actions"}` per plugin.
    pub fn run_hook(
        &self,
        hook: ExtensionPoint,
        input: serde_json::Value,
        filter: Option<&str>,
    ) -> Result<serde_json::Value> {
        self.require(Permission::ManagePlugins)?;
        match hook {
            ExtensionPoint::FieldMapper => {
                let input: RowsInput = parse_hook_input(hook, input)?;
                if let Some(object) = &input.object
                    && !IMPORT_OBJECTS.contains(&object.as_str())
                {
                    return Err(Error::new(ErrorKind::Invalid(format!(
                        "the input's object `{}` is none of {}",
                        crate::inert(object),
                        IMPORT_OBJECTS.join(", ")
                    ))));
                }
                let fields = input.field_names();
                let mut chain =
                    self.row_mappers(input.object.as_deref(), &input.columns, &fields)?;
                let mut out = Vec::with_capacity(input.rows.len());
                for (i, row) in input.rows.into_iter().enumerate() {
                    let number = row.number.unwrap_or(i as u64 + 1);
                    let mut values = row.fields;
                    let verdict = if chain.is_empty() {
                        RowVerdict::Keep
                    } else {
                        chain.map_row(number, &row.source, &mut values)
                    };
                    let verdict = match verdict {
                        RowVerdict::Keep => json!({"verdict": "keep", "fields": values}),
                        RowVerdict::Skip { plugin, reason } => {
                            json!({"verdict": "skip", "plugin": plugin, "reason": reason})
                        }
                        RowVerdict::Reject {
                            plugin,
                            field,
                            message,
                        } => json!({
                            "verdict": "reject", "plugin": plugin, "field": field,
                            "message": message
                        }),
                        RowVerdict::Failed(error) => {
                            json!({"verdict": "failed", "error": error_json(&error)})
                        }
                    };
                    let mut verdict = verdict;
                    verdict["row"] = json!(number);
                    out.push(verdict);
                }
                Ok(json!(out))
            }
            ExtensionPoint::CriteriaFilter => {
                let input: CriteriaInput = parse_hook_input(hook, input)?;
                let Some(filter) = filter else {
                    return Err(Error::new(ErrorKind::Invalid(
                        "the criteria hook runs one filter plugin: name it".into(),
                    )));
                };
                let answers = self.criteria_filter(filter, &input.arguments, &input.companies)?;
                Ok(json!(
                    input
                        .companies
                        .iter()
                        .zip(answers)
                        .map(|(c, m)| json!({"id": c.id, "name": c.name, "matches": m}))
                        .collect::<Vec<_>>()
                ))
            }
            ExtensionPoint::Notifier => {
                let input: ShareInput = parse_hook_input(hook, input)?;
                Ok(match self.plan_shared(&input.event, input.planned)? {
                    NotifyOutcome::Send(sent) => json!({"send": sent}),
                    NotifyOutcome::Held { error, planned } => {
                        json!({"held": planned, "error": error_json(&error)})
                    }
                })
            }
            ExtensionPoint::Lifecycle => {
                let input: PartnerInput = parse_hook_input(hook, input)?;
                let actions = self.partner_created(&input.partner)?;
                Ok(json!(
                    actions
                        .into_iter()
                        .map(|a| json!({"plugin": a.plugin, "actions": a.actions}))
                        .collect::<Vec<_>>()
                ))
            }
        }
    }
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
