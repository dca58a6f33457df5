//! What the host offers a plugin: logging, configuration and look-ups.

use crate::Company;
use crate::bindings::cs::plugin::host as wit;

pub use wit::{LogLevel, LookupError};

/// Writes a line to the plugin's log.
pub fn log(level: LogLevel, message: &str) {
    wit::log(level, message);
}

/// Logs at `info`.
pub fn info(message: &str) {
    wit::log(LogLevel::Info, message);
}

/// Logs at `warn`.
pub fn warn(message: &str) {
    wit::log(LogLevel::Warn, message);
}

/// Logs at `debug`.
pub fn debug(message: &str) {
    wit::log(LogLevel::Debug, message);
}

/// The tenant's value for a configuration key, or its declared default.
pub fn config(key: &str) -> Option<String> {
    wit::config(key)
}

/// The tenant's company with this id. Needs the `read-companies` capability.
pub fn company_by_id(id: &str) -> Result<Option<Company>, LookupError> {
    wit::company_by_id(id)
}

/// The tenant's company with exactly this name. Needs the `read-companies` capability.
pub fn company_by_name(name: &str) -> Result<Option<Company>, LookupError> {
    wit::company_by_name(name)
}
