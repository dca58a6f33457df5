//! One plugin instance serving one operation of one tenant: the store, the calls, and the
//! translation of everything that can go wrong into a typed [`PluginError`].

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wasmtime::component::Instance;
use wasmtime::{ResourceLimiter, Store, Trap};

use super::bindings::{self, OutputSize, v0_1};
use super::context::ContextInner;
use super::error::{Budget, PluginError, PluginErrorKind};
use super::host_api::{self, CallState, HostView, LookupFailed};
use super::log::{LogBuffer, LogLine};
use super::runtime::{Exports, Plugin};
use super::wasi::{DeadlineWaits, PluginWasi, WaitPastDeadline, WasiState};
use super::{Capability, ExtensionPoint, PluginContext};
use crate::inert::inert;
use crate::model::{
    Company, FieldValue, Fields, LifecycleAction, Notification, Partner, ShareEvent,
};

/// What a field mapper decided about a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowOutcome {
    /// Keep the row with these fields set (the rest unchanged; `Null` clears a field).
    Keep(Fields),
    /// Leave the row out, for this reason.
    Skip(String),
    /// Refuse the row.
    Reject {
        /// The field at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// What the last call of an instance cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// The most bytes the host copies out of a guest in one call or host-function call, for an
/// output cap of `output` bytes: twice the cap, since the host's copy of a value is larger than
/// its size as the output cap counts it, and 64 KiB more for small caps.
fn hostcall_fuel(output: usize) -> usize {
    output.saturating_mul(2).saturating_add(64 << 10)
}

/// What wasmtime says when a guest made the host copy more than its hostcall fuel allows.
const HOSTCALL_FUEL_EXHAUSTED: &str =
    "too much data is being copied between the host and the guest";

/// The data of a store: everything host functions may touch while a plugin runs.
pub(crate) struct StoreState {
    context: Arc<ContextInner>,
    plugin: Plugin,
    memory: MemoryLimiter,
    log: Arc<Mutex<LogBuffer>>,
    /// What the current call did that the host reads afterwards.
    call: CallState,
    /// When the current call must end: host waits end here.
    ends_at: Instant,
    wasi: Option<WasiState>,
}

impl StoreState {
    fn log_buffer(&self) -> MutexGuard<'_, LogBuffer> {
        host_api::lock(&self.log)
    }

    /// The view the host interface is served on.
    pub(crate) fn host_view(&mut self) -> HostView<'_> {
        HostView {
            context: &self.context,
            manifest: self.plugin.manifest(),
            log: &self.log,
            call: &mut self.call,
        }
    }
}

impl wasmtime_wasi::WasiView for StoreState {
    fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
        let log = &self.log;
        self.wasi.get_or_insert_with(|| WasiState::new(log)).view()
    }
}

impl PluginWasi for StoreState {
    fn waits(&mut self) -> DeadlineWaits<'_> {
        let log = &self.log;
        let ends_at = self.ends_at;
        self.wasi
            .get_or_insert_with(|| WasiState::new(log))
            .waits(ends_at)
    }
}

/// The bytes a table element counts for against the memory cap: the host keeps a pointer for
/// each.
const TABLE_ELEMENT_BYTES: usize = 8;

/// Caps the memory of a whole instance, and remembers the peak.
///
/// A component may hold many core instances, each with linear memories and tables of its own:
/// the cap bounds their sum, not each one. The limiter belongs to the store, and a store holds
/// exactly one component instance.
struct MemoryLimiter {
    limit: usize,
    /// Bytes held now, across every memory and table of the instance.
    used: usize,
    peak: usize,
}

/// A plugin tried to grow its memory past its cap.
#[derive(Debug)]
struct MemoryLimitHit;

impl std::fmt::Display for MemoryLimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("memory limit reached")
    }
}

impl std::error::Error for MemoryLimitHit {}

impl MemoryLimiter {
    /// Accounts for one memory or table going from `current` to `desired` bytes.
    fn grow(&mut self, current: usize, desired: usize) -> wasmtime::Result<bool> {
        let used = self.used.saturating_sub(current).saturating_add(desired);
        if used > self.limit {
            // An error, not `Ok(false)`: a refused growth would surface as an opaque
            // `unreachable` in the guest, while an error comes back to the host as itself.
            return Err(MemoryLimitHit.into());
        }
        self.used = used;
        self.peak = self.peak.max(used);
        Ok(true)
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Called for each memory as it is created (from 0 to its initial size) and as it grows.
        self.grow(current, desired)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(
            current.saturating_mul(TABLE_ELEMENT_BYTES),
            desired.saturating_mul(TABLE_ELEMENT_BYTES),
        )
    }
}

/// A live store and instance.
struct Live {
    store: Store<StoreState>,
    instance: Instance,
    field_mapper: Option<v0_1::field_mapper::Guest>,
    criteria_filter: Option<v0_1::criteria_filter::Guest>,
    notifier: Option<v0_1::notifier::Guest>,
    lifecycle: Option<v0_1::lifecycle::Guest>,
    /// Whether `begin` has been sent to this instance.
    rows_begun: bool,
}

/// What a field mapper was told at the start of an import, and which of the caller's values it
/// receives.
struct RowSchema {
    columns: Vec<String>,
    fields: Vec<String>,
    /// For each field the plugin receives, its index in the caller's rows.
    picks: Vec<usize>,
    /// The current row's text and cells, as the contract passes them. Kept from row to row so
    /// that passing a row allocates nothing once the buffers have grown.
    text: String,
    cells: Vec<v0_1::t::Cell>,
}

impl RowSchema {
    /// Lays out the picked values of a row as the contract passes them: all the text in one
    /// string, and a cell per field. `None` if the text does not fit the contract's 32-bit
    /// offsets.
    fn fill(&mut self, values: &[FieldValue]) -> Option<()> {
        use v0_1::t::Cell;
        self.text.clear();
        self.cells.clear();
        for &i in &self.picks {
            let cell = match values.get(i).unwrap_or(&FieldValue::Null) {
                FieldValue::Null => Cell::Null,
                FieldValue::Text(text) => {
                    let offset = u32::try_from(self.text.len()).ok()?;
                    let len = u32::try_from(text.len()).ok()?;
                    offset.checked_add(len)?;
                    self.text.push_str(text);
                    Cell::Text(v0_1::t::Span { offset, len })
                }
                FieldValue::Integer(v) => Cell::Integer(*v),
                FieldValue::Number(v) => Cell::Number(*v),
                FieldValue::Boolean(v) => Cell::Boolean(*v),
                FieldValue::Date(d) => Cell::Date(bindings::date_out(*d)),
            };
            self.cells.push(cell);
        }
        Some(())
    }
}

/// An instance of a plugin serving one operation of one tenant.
///
/// Each call runs under the context's limits and ends in its result or a typed
/// [`PluginError`]. After a crash the instance is discarded and a fresh one serves the next call,
/// so one bad row does not take the rest of an import down with it.
pub struct PluginInstance {
    plugin: Plugin,
    context: PluginContext,
    log: Arc<Mutex<LogBuffer>>,
    live: Option<Live>,
    rows: Option<RowSchema>,
    stats: CallStats,
    /// What the calls so far have used of the operation's budget.
    spent: Spent,
    /// The operation the calls serve, named in a spent budget's error.
    operation: &'static str,
    /// The import's data row being mapped, named in a spent budget's error.
    row: Option<u64>,
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

    fn error(&self, kind: PluginErrorKind) -> PluginError {
        PluginError::new(self.plugin.name(), kind)
    }

    fn require(&self, point: ExtensionPoint) -> Result<(), PluginError> {
        if self.plugin.manifest().implements(point) {
            Ok(())
        } else {
            Err(self.error(PluginErrorKind::NotImplemented {
                extension_point: point.interface().to_owned(),
            }))
        }
    }

    /// Makes sure a live instance exists, creating a fresh store and instance if needed.
    fn live(&mut self) -> Result<&mut Live, PluginError> {
        if self.live.is_none() {
            let inner = self.plugin.inner();
            let state = StoreState {
                context: self.context.shared(),
                plugin: self.plugin.clone(),
                memory: MemoryLimiter {
                    limit: self.context.limits_value().memory_value(),
                    used: 0,
                    peak: 0,
                },
                log: self.log.clone(),
                call: CallState::default(),
                ends_at: Instant::now(),
                wasi: None,
            };
            let mut store = Store::new(inner.runtime.engine(), state);
            store.limiter(|state| &mut state.memory);
            // Instantiation runs guest start code: give it a budget too.
            self.arm(&mut store);
            let instance = match inner.pre.instantiate(&mut store) {
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
                criteria_filter: None,
                notifier: None,
                lifecycle: None,
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
        }
    }

    /// Runs one call into the guest under the context's limits.
    fn call<R: OutputSize>(
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

        let started = Instant::now();
        let result = run(&mut live);
        let wall_time = started.elapsed();
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

    fn exports(&self) -> &Exports {
        &self.plugin.inner().exports
    }

    /// Type-checks the component's exports against the contract, in the live instance.
    pub(crate) fn check_exports(&mut self) -> Result<(), PluginError> {
        let points = self.plugin.manifest().extension_points.clone();
        let live = self.live()?;
        super::contract::check_v0_1(&mut live.store, &live.instance, &points)
            .map_err(|reason| self.error(PluginErrorKind::IncompatibleComponent { reason }))
    }

    pub(crate) fn describe(&mut self) -> Result<v0_1::t::PluginInfo, PluginError> {
        let Exports::V0_1 { metadata, .. } = self.exports();
        let indices = metadata.clone();
        self.call(|live| {
            let guest = indices.load(&mut live.store, &live.instance)?;
            guest.call_describe(&mut live.store)
        })
    }

    /// Starts an import for a field mapper: the file's columns and the fields each row carries,
    /// in the order [`map_row`](Self::map_row) will pass their values.
    ///
    /// The plugin receives only the fields it declared it reads, and the columns only if it
    /// declared it reads the source.
    pub fn begin_rows(&mut self, columns: &[String], fields: &[String]) -> Result<(), PluginError> {
        self.require(ExtensionPoint::FieldMapper)?;
        self.operation = "import";
        self.row = None;
        let manifest = self.plugin.manifest();
        let picks: Vec<usize> = (0..fields.len())
            .filter(|&i| manifest.reads_field(&fields[i]))
            .collect();
        self.rows = Some(RowSchema {
            columns: if manifest.reads_source {
                columns.to_vec()
            } else {
                Vec::new()
            },
            fields: picks.iter().map(|&i| fields[i].clone()).collect(),
            picks,
            text: String::new(),
            cells: Vec::new(),
        });
        if let Some(live) = &mut self.live {
            live.rows_begun = false;
        }
        self.send_begin()
    }

    fn field_mapper(&mut self) -> Result<v0_1::field_mapper::Guest, PluginError> {
        self.guest(
            ExtensionPoint::FieldMapper,
            |Exports::V0_1 { field_mapper, .. }| field_mapper.as_ref().map(|i| i as _),
            |live| &mut live.field_mapper,
        )
    }

    /// Sends `begin` to the live instance if it has not had it yet.
    fn send_begin(&mut self) -> Result<(), PluginError> {
        let guest = self.field_mapper()?;
        if self.live.as_ref().is_some_and(|live| live.rows_begun) {
            return Ok(());
        }
        let Some(rows) = self.rows.take() else {
            return Err(self.error(PluginErrorKind::Host {
                reason: "map_row was called before begin_rows".into(),
            }));
        };
        let result = self.call(|live| {
            let columns: Vec<&str> = rows.columns.iter().map(String::as_str).collect();
            let fields: Vec<&str> = rows.fields.iter().map(String::as_str).collect();
            guest.call_begin(&mut live.store, &columns, &fields)?;
            live.rows_begun = true;
            Ok(Vec::<bool>::new())
        });
        self.rows = Some(rows);
        result.map(drop)
    }

    /// Maps one row: `source` holds the row's values by column, `values` its mapped values by
    /// field, in the order given to [`begin_rows`](Self::begin_rows).
    pub fn map_row(
        &mut self,
        number: u64,
        source: &[String],
        values: &[FieldValue],
    ) -> Result<RowOutcome, PluginError> {
        self.operation = "import";
        self.row = Some(number);
        self.send_begin()?;
        let guest = self.field_mapper()?;
        let mut rows = self.rows.take().expect("begun above");
        if rows.fill(values).is_none() {
            self.rows = Some(rows);
            return Err(self.error(PluginErrorKind::Host {
                reason: "the row's text is over 4 GiB".into(),
            }));
        }
        let result = self.call(|live| {
            let source: Vec<&str> = if rows.columns.is_empty() {
                Vec::new()
            } else {
                source.iter().map(String::as_str).collect()
            };
            let row = v0_1::field_mapper::Row {
                number,
                source: &source,
                text: &rows.text,
                values: &rows.cells,
            };
            guest.call_map_row(&mut live.store, row)
        });
        use v0_1::field_mapper::RowOutcome as Wit;
        let outcome = match result {
            Ok(Wit::Keep(changes)) => bindings::changes(changes, &rows.fields)
                .map(RowOutcome::Keep)
                .map_err(|reason| self.error(PluginErrorKind::InvalidOutput { reason })),
            // The plugin's words reach import reports and terminals: keep them inert.
            Ok(Wit::Skip(reason)) => Ok(RowOutcome::Skip(inert(&reason).into_owned())),
            Ok(Wit::Reject(error)) => Ok(RowOutcome::Reject {
                field: inert(&error.field).into_owned(),
                message: inert(&error.message).into_owned(),
            }),
            Err(error) => Err(error),
        };
        self.rows = Some(rows);
        outcome
    }

    /// The bindings of one extension interface in the live instance, loaded on first use.
    fn guest<G: Clone>(
        &mut self,
        point: ExtensionPoint,
        select: impl FnOnce(&Exports) -> Option<&dyn LoadGuest<G>>,
        slot: fn(&mut Live) -> &mut Option<G>,
    ) -> Result<G, PluginError> {
        self.require(point)?;
        let plugin = self.plugin.clone();
        let Some(indices) = select(&plugin.inner().exports) else {
            return Err(self.error(PluginErrorKind::NotImplemented {
                extension_point: point.interface().to_owned(),
            }));
        };
        let live = self.live()?;
        if let Some(guest) = slot(live) {
            return Ok(guest.clone());
        }
        match indices.load_guest(&mut live.store, &live.instance) {
            Ok(guest) => {
                *slot(live) = Some(guest.clone());
                Ok(guest)
            }
            Err(e) => Err(self.error(PluginErrorKind::IncompatibleComponent {
                reason: format!("{e:#}"),
            })),
        }
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
        let guest = self.guest(
            ExtensionPoint::CriteriaFilter,
            |Exports::V0_1 {
                 criteria_filter, ..
             }| criteria_filter.as_ref().map(|i| i as _),
            |live| &mut live.criteria_filter,
        )?;
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
                guest.call_matches(&mut live.store, &arguments, &companies)
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
        let guest = self.guest(
            ExtensionPoint::Notifier,
            |Exports::V0_1 { notifier, .. }| notifier.as_ref().map(|i| i as _),
            |live| &mut live.notifier,
        )?;
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
            guest.call_on_plan_shared(&mut live.store, wit_event, &planned)
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
        let guest = self.guest(
            ExtensionPoint::Lifecycle,
            |Exports::V0_1 { lifecycle, .. }| lifecycle.as_ref().map(|i| i as _),
            |live| &mut live.lifecycle,
        )?;
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
        let actions = self
            .call_reporting(|live| guest.call_on_partner_created(&mut live.store, wit_partner))?;
        actions
            .into_iter()
            .map(bindings::lifecycle_action)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|reason| self.error(PluginErrorKind::InvalidOutput { reason }))
    }
}

/// The generated `GuestIndices` of each extension interface, behind one face.
trait LoadGuest<G> {
    fn load_guest(&self, store: &mut Store<StoreState>, instance: &Instance)
    -> wasmtime::Result<G>;
}

macro_rules! load_guest {
    ($($module:ident),*) => {$(
        impl LoadGuest<v0_1::$module::Guest> for v0_1::$module::GuestIndices {
            fn load_guest(
                &self,
                store: &mut Store<StoreState>,
                instance: &Instance,
            ) -> wasmtime::Result<v0_1::$module::Guest> {
                self.load(store, instance)
            }
        }
    )*};
}

load_guest!(field_mapper, criteria_filter, notifier, lifecycle);

/// Turns whatever a failed call returned into the typed error it stands for.
fn classify(
    error: &wasmtime::Error,
    store: &Store<StoreState>,
    limits: &super::Limits,
) -> PluginErrorKind {
    let state = store.data();
    if let Some(capability) = state.call.denied {
        return PluginErrorKind::CapabilityNotGranted {
            capability: capability.name().to_owned(),
        };
    }
    if error.downcast_ref::<WaitPastDeadline>().is_some() {
        return PluginErrorKind::DeadlineExceeded {
            deadline: limits.deadline_value(),
        };
    }
    if error.downcast_ref::<MemoryLimitHit>().is_some() {
        return PluginErrorKind::MemoryLimit {
            limit: limits.memory_value(),
        };
    }
    if let Some(failure) = error.downcast_ref::<LookupFailed>() {
        return PluginErrorKind::Host {
            reason: failure.to_string(),
        };
    }
    let panic = || {
        state
            .call
            .fatal
            .clone()
            .or_else(|| state.log_buffer().printed_panic())
    };
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => PluginErrorKind::FuelExhausted {
            budget: limits.fuel_value(),
        },
        Some(Trap::Interrupt) => PluginErrorKind::DeadlineExceeded {
            deadline: limits.deadline_value(),
        },
        Some(Trap::StackOverflow) => PluginErrorKind::Trap {
            reason: "stack overflow: the plugin recursed too deeply".into(),
            panic: None,
        },
        Some(trap) => PluginErrorKind::Trap {
            reason: trap.to_string(),
            panic: panic(),
        },
        None => match error.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(exit) => PluginErrorKind::Trap {
                reason: format!("the plugin called exit({})", exit.0),
                panic: panic(),
            },
            // The guest holds more resource handles than a store allows (100,000 live), for
            // example pollables it never dropped: its fault, not a fault of its output.
            None if error
                .downcast_ref::<wasmtime::component::ResourceTableError>()
                .is_some()
                || format!("{error:#}").contains("cannot allocate another handle") =>
            {
                PluginErrorKind::Trap {
                    reason: format!("it ran out of resource handles: {error:#}"),
                    panic: panic(),
                }
            }
            // The output (or a host function's argument) was more than the host copies for
            // this output cap: the type of this wasmtime error is private, its message is not.
            None if format!("{error:#}").contains(HOSTCALL_FUEL_EXHAUSTED) => {
                PluginErrorKind::OutputTooLarge {
                    size: hostcall_fuel(limits.output_value()),
                    limit: limits.output_value(),
                }
            }
            // Lifting what the plugin returned failed: a bad pointer, invalid UTF-8, an unknown
            // case.
            None => PluginErrorKind::InvalidOutput {
                reason: format!("{error:#}"),
            },
        },
    }
}
