//! `handle-hoarder`: a hostile field mapper that creates resource handles without bound.
//!
//! On every row it subscribes to the clock again and again (each subscription is a new
//! `pollable` handle held by the host) and never drops one. A host without a bound would grow
//! its handle table, and its memory, until the process died. The host must stop the call when
//! the instance's handles run out, report it as the plugin's crash (`trap`, "ran out of resource
//! handles", not `invalid-output`), free them with the instance, and serve the next call.

use cs_plugin_sdk::{FieldMapper, Plugin, PluginInfo, Refusal, Row};

wit_bindgen::generate!({
    path: "../raw-wasi-wit",
    world: "cs:raw-wasi/raw",
    generate_all,
});

use wasi::clocks::monotonic_clock::subscribe_duration;

struct HandleHoarder;

impl Plugin for HandleHoarder {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "handle-hoarder",
            env!("CARGO_PKG_VERSION"),
            "Hostile: creates resource handles without bound and never drops them",
        )
        .reads([])
    }
}

impl FieldMapper for HandleHoarder {
    fn map_row(_row: &mut Row) -> Result<(), Refusal> {
        loop {
            std::mem::forget(subscribe_duration(u64::MAX));
        }
    }
}

cs_plugin_sdk::export!(HandleHoarder: FieldMapper);
