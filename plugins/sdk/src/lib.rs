//! Write plugins for cs-host in Rust.
//!
//! A plugin is a type that implements [`Plugin`] (what it is) and one trait per extension point
//! it serves: [`FieldMapper`], [`CriteriaFilter`], [`Notifier`], [`Lifecycle`]. One call to
//! [`export!`] turns it into a component that exports exactly those extension points.
//!
//! ```ignore
//! use cs_plugin_sdk::{FieldMapper, Plugin, PluginInfo, Refusal, Row};
//!
//! struct Shout;
//!
//! impl Plugin for Shout {
//!     fn info() -> PluginInfo {
//!         PluginInfo::new("shout", env!("CARGO_PKG_VERSION"), "Upper-cases company names")
//!             .reads(["name"])
//!     }
//! }
//!
//! impl FieldMapper for Shout {
//!     fn map_row(row: &mut Row) -> Result<(), Refusal> {
//!         if let Some(name) = row.text("name") {
//!             let loud = name.to_uppercase();
//!             row.set("name", loud);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! cs_plugin_sdk::export!(Shout: FieldMapper);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the `.wasm` file in
//! `target/wasm32-wasip2/release/` is the plugin.

#![deny(missing_docs)]

#[doc(hidden)]
#[allow(missing_docs)]
pub mod bindings {
    cs_plugin_sdk_macros::__sdk_bindings!();
}

pub mod alloc;
mod field_mapper;
mod types;

/// The SDK's allocator serves the plugin's small allocations (see [`alloc`]); turn the default
/// `allocator` feature off to bring your own.
#[cfg(all(
    feature = "allocator",
    target_family = "wasm",
    not(target_feature = "atomics")
))]
#[global_allocator]
static ALLOCATOR: alloc::SizeClasses = alloc::SizeClasses::new();

pub mod host;

#[cfg(not(feature = "contract-v0-2"))]
use bindings::cs::plugin::types::Changes;
pub use bindings::cs::plugin::types::{
    AccessScope, Audience, Capability, Channel, Company, ConfigKey, Cta, CtaType, Date, Field,
    FieldValue, LifecycleAction, ManagedAs, Notification, Objective, Partner, PluginError,
    PluginInfo, Priority, Recipient, ShareEvent,
};
use bindings::cs::plugin::types::{Cell, Span};
pub use cs_plugin_sdk_macros::export;
pub use field_mapper::{Refusal, Row, Value};
pub use types::Arguments;

/// What every plugin says about itself.
pub trait Plugin {
    /// The plugin's name, version, description, the capabilities it requests, the
    /// configuration keys it reads and the fields it reads.
    fn info() -> PluginInfo;
}

/// The *CSV row mapped* hook: transform, enrich, skip or reject each imported row.
pub trait FieldMapper: Plugin {
    /// Maps one row. Change fields with [`Row::set`]; return `Ok(())` to keep the row, or a
    /// [`Refusal`] to skip or reject it.
    fn map_row(row: &mut Row) -> Result<(), Refusal>;
}

/// A custom filter in criteria-based selection.
pub trait CriteriaFilter: Plugin {
    /// Whether the company matches the filter with these arguments.
    fn matches(company: &Company, arguments: &Arguments) -> Result<bool, PluginError>;
}

/// The *plan shared* hook: decide which notifications go out for a share.
pub trait Notifier: Plugin {
    /// Returns the notifications to send instead of `planned` (the default email to each
    /// recipient, or the previous notifier's output). Return `planned` to keep it, an empty
    /// list to send nothing. Write `{link}` where each recipient's own link goes.
    fn on_plan_shared(
        event: &ShareEvent,
        planned: Vec<Notification>,
    ) -> Result<Vec<Notification>, PluginError>;
}

/// The *partner created* hook: react to a new partner.
pub trait Lifecycle: Plugin {
    /// The actions the host should take for the new partner.
    fn on_partner_created(partner: &Partner) -> Result<Vec<LifecycleAction>, PluginError>;
}

/// What the [`export!`] macro expands to. Not part of the SDK's interface.
#[doc(hidden)]
pub mod __private {
    pub use super::bindings;
    #[cfg(not(feature = "contract-v0-2"))]
    pub use super::field_mapper::map_row;
    #[cfg(feature = "contract-v0-2")]
    pub use super::field_mapper::{Mapped, map_rows};
    pub use super::field_mapper::{RowOutcome, begin};
    pub use wit_bindgen;

    use super::*;

    /// Sends panic messages to the host before the plugin stops, so the host can say why.
    fn install_panic_hook() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            std::panic::set_hook(Box::new(|info| {
                host::log(host::LogLevel::Fatal, &info.to_string());
            }))
        });
    }

    pub fn describe<P: Plugin>() -> PluginInfo {
        install_panic_hook();
        P::info()
    }

    pub fn matches<P: CriteriaFilter>(
        arguments: Vec<Field>,
        candidates: Vec<Company>,
    ) -> Result<Vec<bool>, PluginError> {
        install_panic_hook();
        let arguments = Arguments::new(arguments);
        candidates
            .iter()
            .map(|company| P::matches(company, &arguments))
            .collect()
    }

    pub fn on_plan_shared<P: Notifier>(
        event: ShareEvent,
        planned: Vec<Notification>,
    ) -> Result<Vec<Notification>, PluginError> {
        install_panic_hook();
        P::on_plan_shared(&event, planned)
    }

    pub fn on_partner_created<P: Lifecycle>(
        partner: Partner,
    ) -> Result<Vec<LifecycleAction>, PluginError> {
        install_panic_hook();
        P::on_partner_created(&partner)
    }

    pub(crate) fn panic_hook() {
        install_panic_hook();
    }
}
