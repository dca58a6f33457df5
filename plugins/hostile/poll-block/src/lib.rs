//! `poll-block`: a hostile field mapper that blocks for an hour on a raw WASI pollable.
//!
//! Unlike `sleeper`, which goes through the standard library's `thread::sleep`, this one calls
//! `wasi:clocks/monotonic-clock.subscribe-duration` and `pollable.block()` itself, through
//! bindings generated from the WASI interfaces: the wait the host serves is exactly the one a
//! hand-written component would ask for. The host must end the call at its deadline with
//! `deadline-exceeded`, and serve the next call normally.

use cs_plugin_sdk::{FieldMapper, Plugin, PluginInfo, Refusal, Row};

wit_bindgen::generate!({
    path: "../raw-wasi-wit",
    world: "cs:raw-wasi/raw",
    generate_all,
});

use wasi::clocks::monotonic_clock::subscribe_duration;

/// An hour, in nanoseconds.
const HOUR_NS: u64 = 3_600 * 1_000_000_000;

struct PollBlock;

impl Plugin for PollBlock {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "poll-block",
            env!("CARGO_PKG_VERSION"),
            "Hostile: blocks on a raw WASI pollable for an hour on every row",
        )
        .reads([])
    }
}

impl FieldMapper for PollBlock {
    fn map_row(_row: &mut Row) -> Result<(), Refusal> {
        subscribe_duration(HOUR_NS).block();
        Ok(())
    }
}

cs_plugin_sdk::export!(PollBlock: FieldMapper);
