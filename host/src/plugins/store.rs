//! The data of a plugin's store: what host functions may touch while a plugin runs, the memory
//! cap, and the translation of a failed call into the typed error it stands for.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use wasmtime::{ResourceLimiter, Store, Trap};

use super::context::ContextInner;
use super::error::PluginErrorKind;
use super::host_api::{self, CallState, HostView, LookupFailed};
use super::log::LogBuffer;
use super::runtime::Plugin;
use super::wasi::{DeadlineWaits, PluginWasi, WaitPastDeadline, WasiState};

/// The most bytes the host copies out of a guest in one call or host-function call, for an
/// output cap of `output` bytes: twice the cap, since the host's copy of a value is larger than
/// its size as the output cap counts it, and 64 KiB more for small caps.
pub(crate) fn hostcall_fuel(output: usize) -> usize {
    output.saturating_mul(2).saturating_add(64 << 10)
}

/// What wasmtime says when a guest made the host copy more than its hostcall fuel allows.
const HOSTCALL_FUEL_EXHAUSTED: &str =
    "too much data is being copied between the host and the guest";

/// The data of a store: everything host functions may touch while a plugin runs.
pub(crate) struct StoreState {
    pub(crate) context: Arc<ContextInner>,
    pub(crate) plugin: Plugin,
    pub(crate) memory: MemoryLimiter,
    pub(crate) log: Arc<Mutex<LogBuffer>>,
    /// What the current call did that the host reads afterwards.
    pub(crate) call: CallState,
    /// When the current call must end: host waits end here.
    pub(crate) ends_at: Instant,
    pub(crate) wasi: Option<WasiState>,
}

impl StoreState {
    pub(crate) fn log_buffer(&self) -> MutexGuard<'_, LogBuffer> {
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
pub(crate) struct MemoryLimiter {
    limit: usize,
    /// Bytes held now, across every memory and table of the instance.
    used: usize,
    pub(crate) peak: usize,
}

impl MemoryLimiter {
    /// A limiter holding an instance to `limit` bytes.
    pub(crate) fn new(limit: usize) -> MemoryLimiter {
        MemoryLimiter {
            limit,
            used: 0,
            peak: 0,
        }
    }
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

/// Turns whatever a failed call returned into the typed error it stands for.
pub(crate) fn classify(
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
