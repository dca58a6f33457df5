//! `sleeper`: a hostile field mapper that sleeps for an hour on every row.
//!
//! `std::thread::sleep` on `wasm32-wasip2` waits in the host, in `wasi:io/poll`, where epoch
//! interruption (which only stops guest code) cannot reach it. A host that did not bound its
//! waits by the call's deadline would hold the import's thread for the whole hour. The host must
//! end the call at its deadline with `deadline-exceeded`, and serve the next call normally.

use std::time::Duration;

use cs_plugin_sdk::{FieldMapper, Plugin, PluginInfo, Refusal, Row};

struct Sleeper;

impl Plugin for Sleeper {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "sleeper",
            env!("CARGO_PKG_VERSION"),
            "Hostile: sleeps for an hour on every row",
        )
        .reads([])
    }
}

impl FieldMapper for Sleeper {
    fn map_row(_row: &mut Row) -> Result<(), Refusal> {
        std::thread::sleep(Duration::from_secs(3600));
        Ok(())
    }
}

cs_plugin_sdk::export!(Sleeper: FieldMapper);
