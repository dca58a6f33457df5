//! One plugin instance serving one operation of one tenant: the store, the calls, and the
//! translation of everything that can go wrong into a typed [`PluginError`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wasmtime::component::{ComponentExportIndex, ComponentNamedList, Instance, Lift, Lower};
use wasmtime::{Store, Trap};

use super::bindings::{self, OutputSize, v0_1};
use super::error::{Budget, PluginError, PluginErrorKind};
use super::host_api::CallState;
use super::log::{LogBuffer, LogLine};
use super::rows::{FieldMapperGuest, RowSchema};
use super::runtime::{Exports, Plugin};
use super::store::{MemoryLimiter, StoreState, classify, hostcall_fuel};
use super::{Capability, ExtensionPoint, PluginContext};
use crate::model::{Company, Fields, LifecycleAction, Notification, Partner, ShareEvent};

/// What the last call of an instance cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct CallStats {
    /// Fuel burned, or `None` when the call was stopped at its deadline: the engine does not
    /// record the fuel of a call it interrupts.
    pub fuel_used: Option<u64>,
    /// The most linear memory the instance has held, in bytes.
    pub peak_memory: usize,
    /// Wall-clock time of the call.
    pub wall_time: Duration,
    /// A capability the plugin tried to use without having it, if it did.
    pub denied: Option<Capability>,
}

/// The number of companies passed to a criteria filter in one call.
const FILTER_BATCH: usize = 1024;

/// A live store and instance.
pub(crate) struct Live {
    pub(crate) store: Store<StoreState>,
    pub(crate) instance: Instance,
    pub(crate) field_mapper: Option<FieldMapperGuest>,
    /// Whether `begin` has been sent to this instance.
    pub(crate) rows_begun: bool,
}

/// An instance of a plugin serving one operation of one tenant.
///
/// Each call runs under the context's limits and ends in its result or a typed
/// [`PluginError`]. After a crash the instance is discarded and a fresh one serves the next call,
/// so one bad row does not take the rest of an import down with it.
pub struct PluginInstance {
    pub(super) plugin: Plugin,
    context: PluginContext,
    log: Arc<Mutex<LogBuffer>>,
    pub(super) live: Option<Live>,
    pub(super) rows: Option<RowSchema>,
    pub(super) stats: CallStats,
    /// What the calls so far have used of the operation's budget.
    spent: Spent,
    /// The operation the calls serve, named in a spent budget's error.
    pub(super) operation: &'static str,
    /// The import's data row being mapped, named in a spent budget's error.
    pub(super) row: Option<u64>,
}

/// What an instance's calls have used of their operation's budget.
#[derive(Debug, Clone, Copy, Default)]
struct Spent {
    time: Duration,
    fuel: u64,
}

/// What a call was armed with, and whether the operation's budget (rather than the call's own
/// limit) set each bound.
#[derive(Debug, Clone, Copy)]
struct Armed {
    fuel: u64,
    time_by_budget: bool,
    fuel_by_budget: bool,
    /// When the call was armed: its deadline counts from here, and so does its wall time (one
    /// clock read fewer per call).
    at: Instant,
}

impl PluginInstance {
    pub(crate) fn new(plugin: Plugin, context: PluginContext) -> PluginInstance {
        PluginInstance {
            plugin,
            context,
            log: Arc::default(),
            live: None,
            rows: None,
            stats: CallStats::default(),
            spent: Spent::default(),
            operation: "operation",
            row: None,
        }
    }

    /// The wall-clock time and fuel its calls have used so far, out of the operation's budget
    /// ([`Limits::operation_time`](super::Limits::operation_time)).
    pub fn budget_used(&self) -> (Duration, u64) {
        (self.spent.time, self.spent.fuel)
    }

    /// The error of a spent budget, if the operation's budget is spent.
    fn budget_spent(&self) -> Option<PluginError> {
        let limits = self.context.limits_value();
        let budget = if self.spent.time >= limits.operation_time_value() {
            Budget::Time(limits.operation_time_value())
        } else if self.spent.fuel >= limits.operation_fuel_value() {
            Budget::Fuel(limits.operation_fuel_value())
        } else {
            return None;
        };
        Some(self.spent_error(budget))
    }

    fn spent_error(&self, budget: Budget) -> PluginError {
        self.error(PluginErrorKind::BudgetSpent {
            operation: self.operation.to_owned(),
            budget,
            row: self.row,
        })
    }

    /// A call stopped at a bound the operation's budget set (not the call's own limit) spent
    /// the budget: says so.
    fn blame_budget(&self, kind: PluginErrorKind, armed: Armed) -> PluginErrorKind {
        let limits = self.context.limits_value();
        let budget = match kind {
            PluginErrorKind::DeadlineExceeded { .. } if armed.time_by_budget => {
                Budget::Time(limits.operation_time_value())
            }
            PluginErrorKind::FuelExhausted { .. } if armed.fuel_by_budget => {
                Budget::Fuel(limits.operation_fuel_value())
            }
            kind => return kind,
        };
        self.spent_error(budget).kind().clone()
    }

    /// The plugin.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// The limits its calls run under.
    pub fn limits(&self) -> &super::Limits {
        self.context.limits_value()
    }

    /// What the last call cost.
    pub fn last_call(&self) -> CallStats {
        self.stats
    }

    /// The log lines of the last call.
    pub fn log(&self) -> Vec<LogLine> {
        self.log
            .lock()
            .map(|log| log.lines().to_vec())
            .unwrap_or_default()
    }

    /// Runs `work` with this instance on tokio's blocking thread pool, so a plugin call never
    /// stalls the async executor it was started from. Returns the instance with the result.
    pub async fn run_blocking<R, F>(mut self, work: F) -> (PluginInstance, R)
    where
        R: Send + 'static,
        F: FnOnce(&mut PluginInstance) -> R + Send + 'static,
    {
        tokio::task::spawn_blocking(move || {
            let result = work(&mut self);
            (self, result)
        })
        .await
        .expect("a plugin call never panics the host")
    }

    pub(super) fn error(&self, kind: PluginErrorKind) -> PluginError {
        PluginError::new(self.plugin.name(), kind)
    }

    pub(super) fn require(&self, point: ExtensionPoint) -> Result<(), PluginError> {
        if self.plugin.manifest().implements(point) {
            Ok(())
        } else {
            Err(self.error(PluginErrorKind::NotImplemented {
                extension_point: point.interface().to_owned(),
            }))
        }
    }

    /// Makes sure a live instance exists, creating a fresh store and instance if needed.
    pub(super) fn live(&mut self) -> Result<&mut Live, PluginError> {
        if self.live.is_none() {
            let inner = self.plugin.inner();
            let state = StoreState {
                context: self.context.shared(),
                plugin: self.plugin.clone(),
                memory: MemoryLimiter::new(self.context.limits_value().memory_value()),
                log: self.log.clone(),
                call: CallState::default(),
                ends_at: Instant::now(),
                wasi: None,
            };
            let mut store = Store::new(inner.runtime.engine(), state);
            store.limiter(|state| &mut state.memory);
            // Instantiation runs guest start code: give it a budget too.
            self.arm(&mut store);
            let ticking = inner.runtime.ticking().map_err(|kind| self.error(kind))?;
            let instantiated = inner.pre.instantiate(&mut store);
            drop(ticking);
            let instance = match instantiated {
                Ok(instance) => instance,
                Err(error) => {
                    let kind = match classify(&error, &store, self.context.limits_value()) {
                        PluginErrorKind::InvalidOutput { reason } => {
                            PluginErrorKind::Host { reason }
                        }
                        kind => kind,
                    };
                    return Err(self.error(kind));
                }
            };
            self.live = Some(Live {
                store,
                instance,
                field_mapper: None,
                rows_begun: false,
            });
        }
        Ok(self.live.as_mut().expect("just created"))
    }

    /// Sets the call's fuel and deadline: the call's own limits, or what is left of the
    /// operation's budget when that is less.
    fn arm(&self, store: &mut Store<StoreState>) -> Armed {
        let limits = self.context.limits_value();
        let time_left = limits
            .operation_time_value()
            .saturating_sub(self.spent.time);
        let fuel_left = limits
            .operation_fuel_value()
            .saturating_sub(self.spent.fuel);
        let deadline = limits.deadline_value().min(time_left);
        let fuel = limits.fuel_value().min(fuel_left);
        store.set_fuel(fuel).expect("fuel is enabled on the engine");
        let tick = self.plugin.inner().runtime.epoch_tick().as_micros();
        let ticks = deadline.as_micros().div_ceil(tick);
        // One tick more, so a call is never stopped before its deadline.
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1));
        // What the host copies out of the guest in one call (lifting strings and lists, which
        // may all alias one buffer) stops near the output cap, not at wasmtime's 128 MiB.
        store.set_hostcall_fuel(hostcall_fuel(limits.output_value()));
        let now = Instant::now();
        store.data_mut().ends_at = now
            .checked_add(deadline)
            .unwrap_or(now + Duration::from_secs(365 * 24 * 3600));
        Armed {
            fuel,
            time_by_budget: time_left < limits.deadline_value(),
            fuel_by_budget: fuel_left < limits.fuel_value(),
            at: now,
        }
    }

    /// Runs one call into the guest under the context's limits.
    pub(super) fn call<R: OutputSize>(
        &mut self,
        run: impl FnOnce(&mut Live) -> wasmtime::Result<R>,
    ) -> Result<R, PluginError> {
        let limits = *self.context.limits_value();
        if let Some(spent) = self.budget_spent() {
            return Err(spent);
        }
        self.live()?;
        let mut live = self.live.take().expect("made live above");
        let armed = self.arm(&mut live.store);
        live.store.data_mut().call = CallState::default();
        live.store
            .data()
            .log_buffer()
            .start_call(limits.log_value());

        let ticking = match self.plugin.inner().runtime.ticking() {
            Ok(ticking) => ticking,
            Err(kind) => {
                self.live = Some(live);
                return Err(self.error(kind));
            }
        };
        let result = run(&mut live);
        let wall_time = armed.at.elapsed();
        drop(ticking);
        let fuel_left = live.store.get_fuel().unwrap_or(0);
        self.spent.time = self.spent.time.saturating_add(wall_time);
        self.spent.fuel = self
            .spent
            .fuel
            .saturating_add(armed.fuel.saturating_sub(fuel_left));

        let state = live.store.data();
        state.log_buffer().finish_call();
        let interrupted = matches!(
            &result,
            Err(error) if matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt))
        );
        self.stats = CallStats {
            fuel_used: (!interrupted).then(|| armed.fuel.saturating_sub(fuel_left)),
            peak_memory: state.memory.peak,
            wall_time,
            denied: state.call.denied,
        };
        match result {
            Ok(output) => {
                let size = output.output_size();
                // The instance stays usable whatever the verdict on this output.
                self.live = Some(live);
                if size > limits.output_value() {
                    return Err(self.error(PluginErrorKind::OutputTooLarge {
                        size,
                        limit: limits.output_value(),
                    }));
                }
                Ok(output)
            }
            // After a trap the instance is unusable: drop it, a fresh one serves the next call.
            Err(error) => {
                let kind = classify(&error, &live.store, &limits);
                Err(self.error(self.blame_budget(kind, armed)))
            }
        }
    }

    /// Runs a call whose result may be the plugin's own error; a denied capability followed by
    /// an error means the plugin failed for want of the capability.
    fn call_reporting<R: OutputSize>(
        &mut self,
        run: impl FnOnce(&mut Live) -> wasmtime::Result<Result<R, v0_1::t::PluginError>>,
    ) -> Result<R, PluginError> {
        match self.call(run)? {
            Ok(output) => Ok(output),
            Err(error) => Err(self.error(match self.stats.denied {
                Some(capability) => PluginErrorKind::CapabilityNotGranted {
                    capability: capability.name().to_owned(),
                },
                None => PluginErrorKind::Reported {
                    code: error.code,
                    message: error.message,
                },
            })),
        }
    }

    /// The function of an extension interface the plugin exports, if it implements it.
    fn export(
        &self,
        point: ExtensionPoint,
        select: fn(&Exports) -> Option<ComponentExportIndex>,
    ) -> Result<ComponentExportIndex, PluginError> {
        self.require(point)?;
        select(&self.plugin.inner().exports).ok_or_else(|| {
            self.error(PluginErrorKind::NotImplemented {
                extension_point: point.interface().to_owned(),
            })
        })
    }

    /// Type-checks the component's exports against the contract, in the live instance.
    pub(crate) fn check_exports(&mut self) -> Result<(), PluginError> {
        let points = self.plugin.manifest().extension_points.clone();
        let contract = self.plugin.inner().exports.contract;
        let live = self.live()?;
        super::contract::check(contract, &mut live.store, &live.instance, &points)
            .map_err(|reason| self.error(PluginErrorKind::IncompatibleComponent { reason }))
    }

    pub(crate) fn describe(&mut self) -> Result<v0_1::t::PluginInfo, PluginError> {
        let describe = self.plugin.inner().exports.describe;
        self.call(|live| typed_call::<(), (v0_1::t::PluginInfo,)>(live, describe, ()).map(|r| r.0))
    }

    /// Asks a criteria filter which of the candidates match, with the filter's arguments.
    /// Returns one answer per candidate, in order.
    pub fn matches(
        &mut self,
        arguments: &Fields,
        candidates: &[Company],
    ) -> Result<Vec<bool>, PluginError> {
        self.operation = "selection";
        self.row = None;
        let matches = self.export(ExtensionPoint::CriteriaFilter, |e| e.matches)?;
        let manifest = self.plugin.manifest().clone();
        let arguments = bindings::field_params(arguments);
        let mut answers = Vec::with_capacity(candidates.len());
        for batch in candidates.chunks(FILTER_BATCH) {
            let fields: Vec<Vec<v0_1::t::FieldParam<'_>>> = batch
                .iter()
                .map(|company| {
                    bindings::field_params(
                        company
                            .fields
                            .iter()
                            .filter(|(name, _)| manifest.reads_field(name)),
                    )
                })
                .collect();
            let companies: Vec<v0_1::t::CompanyParam<'_>> = batch
                .iter()
                .zip(&fields)
                .map(|(company, fields)| bindings::company_param(company, fields))
                .collect();
            let batch_answers = self.call_reporting(|live| {
                typed_call::<_, (Result<Vec<bool>, v0_1::t::PluginError>,)>(
                    live,
                    matches,
                    (&arguments[..], &companies[..]),
                )
                .map(|r| r.0)
            })?;
            if batch_answers.len() != batch.len() {
                return Err(self.error(PluginErrorKind::InvalidOutput {
                    reason: format!(
                        "it answered for {} companies out of {}",
                        batch_answers.len(),
                        batch.len()
                    ),
                }));
            }
            answers.extend(batch_answers);
        }
        Ok(answers)
    }

    /// Runs a notifier on a share: returns the notifications to send instead of `planned`.
    pub fn on_plan_shared(
        &mut self,
        event: &ShareEvent,
        planned: &[Notification],
    ) -> Result<Vec<Notification>, PluginError> {
        self.operation = "share";
        self.row = None;
        let on_plan_shared = self.export(ExtensionPoint::Notifier, |e| e.on_plan_shared)?;
        let recipients: Vec<_> = event.recipients.iter().map(bindings::recipient).collect();
        let objectives: Vec<_> = event
            .visible_objectives
            .iter()
            .map(bindings::objective)
            .collect();
        let planned: Vec<_> = planned.iter().map(bindings::notification_param).collect();
        let wit_event = v0_1::t::ShareEvent {
            plan_id: &event.plan_id,
            plan_name: &event.plan_name,
            customer_id: &event.customer_id,
            customer_name: &event.customer_name,
            audience: bindings::audience(event.audience),
            recipients: &recipients,
            visible_objectives: &objectives,
            include_tasks: event.include_tasks,
            subject: &event.subject,
            note: event.note.as_deref(),
            shared_by: &event.shared_by,
            link_expires_at: event.link_expires_at.as_deref(),
        };
        let notifications = self.call_reporting(|live| {
            typed_call::<_, (Result<Vec<v0_1::t::NotificationResult>, v0_1::t::PluginError>,)>(
                live,
                on_plan_shared,
                (wit_event, &planned[..]),
            )
            .map(|r| r.0)
        })?;
        Ok(notifications
            .into_iter()
            .map(bindings::notification_result)
            .collect())
    }

    /// Runs a lifecycle plugin on a new partner: returns the actions it asks for.
    pub fn on_partner_created(
        &mut self,
        partner: &Partner,
    ) -> Result<Vec<LifecycleAction>, PluginError> {
        self.operation = "partner creation";
        self.row = None;
        let on_partner_created =
            self.export(ExtensionPoint::Lifecycle, |e| e.on_partner_created)?;
        let manifest = self.plugin.manifest();
        let fields = bindings::field_params(
            partner
                .company
                .fields
                .iter()
                .filter(|(name, _)| manifest.reads_field(name)),
        );
        let wit_partner = v0_1::t::Partner {
            company: bindings::company_param(&partner.company, &fields),
            scope: bindings::access_scope(partner.scope),
        };
        let actions = self.call_reporting(|live| {
            typed_call::<_, (Result<Vec<v0_1::t::LifecycleAction>, v0_1::t::PluginError>,)>(
                live,
                on_partner_created,
                (wit_partner,),
            )
            .map(|r| r.0)
        })?;
        actions
            .into_iter()
            .map(bindings::lifecycle_action)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|reason| self.error(PluginErrorKind::InvalidOutput { reason }))
    }
}

/// Calls the export at `index` as a function from `P` to `R`. The types are checked at each
/// call, which costs little next to a hook called once or a few times per operation (the field
/// mapper, called per row, uses bindings checked once).
fn typed_call<P, R>(live: &mut Live, index: ComponentExportIndex, params: P) -> wasmtime::Result<R>
where
    P: ComponentNamedList + Lower,
    R: ComponentNamedList + Lift,
{
    let func = live
        .instance
        .get_func(&mut live.store, index)
        .ok_or_else(|| wasmtime::format_err!("the export is not a function"))?;
    func.typed::<P, R>(&live.store)?
        .call(&mut live.store, params)
}
