//! cs-host: an embeddable, multi-tenant plugin runtime for a customer-success platform.
#![deny(missing_docs)]

mod error;
pub mod model;
pub mod plugins;

pub use error::{Error, ErrorKind, Result};
pub use plugins::{
    Capability, ExtensionPoint, Limits, Manifest, Plugin, PluginContext, PluginError,
    PluginErrorKind, PluginInstance, PluginRuntime, RuntimeConfig,
};
