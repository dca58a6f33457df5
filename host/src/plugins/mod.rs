//! The plugin engine: loading components, checking them, and running them sandboxed.
//!
//! A [`PluginRuntime`] owns one wasmtime engine for the process. [`PluginRuntime::load`] turns a
//! component's bytes into a [`Plugin`]: it checks the component's imports and exports against the
//! contract, compiles it (or takes it from the on-disk compile cache) and reads its
//! [`Manifest`]. [`Plugin::instantiate`] gives a [`PluginInstance`] for one operation of one
//! tenant, whose calls run under [`Limits`] and end in a result or a typed [`PluginError`].

mod bindings;
mod cache;
mod context;
mod contract;
pub(crate) mod egress;
pub(crate) mod enablement;
mod error;
mod host_api;
mod instance;
mod limits;
mod log;
mod manifest;
mod registry;
mod rows;
pub(crate) mod runlog;
mod runtime;
mod store;
mod ticker;
mod validate;
mod wasi;

pub use context::{CompanyDirectory, PluginContext, StaticDirectory};
pub use enablement::{
    AvailablePlugin, DEFAULT_BREAKER_THRESHOLD, EnableOptions, Enablement, FailurePolicy, Plugins,
    Tuning,
};
#[cfg(feature = "cli")]
pub use error::grouped;
pub use error::{Budget, PluginError, PluginErrorKind};
pub use instance::{CallStats, PluginInstance};
pub use limits::Limits;
pub use log::{LogLevel, LogLine};
pub use manifest::{
    Capability, ConfigKey, ExtensionPoint, Manifest, UnknownCapability, UnknownExtensionPoint,
};
pub(crate) use registry::LoadedPlugins;
pub use registry::{InstallOutcome, Installed, InstalledPlugin};
pub use rows::{BatchRow, RowAction, RowOutcome};
pub use runlog::{KEPT_FAILURES, RecordedFailure, RunStats};
pub use runtime::{Plugin, PluginRuntime, RuntimeConfig};

/// The contract versions this host serves, such as `0.1.0`.
pub fn supported_contracts() -> &'static [&'static str] {
    validate::SUPPORTED_VERSIONS
}
