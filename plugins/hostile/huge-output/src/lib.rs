//! `huge-output`: a hostile field mapper that returns an 8 MiB value for every row.
//!
//! It simulates a plugin that floods the host with output, to exhaust its memory or its
//! database. The value fits in the plugin's default 32 MiB memory cap, so only the output cap
//! can stop it: the host must refuse the row with `output-too-large` (the default cap is 1 MiB)
//! and keep nothing of the value.

use cs_plugin_sdk::{FieldMapper, Plugin, PluginInfo, Refusal, Row};

/// The size of the value, in bytes.
const SIZE: usize = 8 << 20;

struct HugeOutput;

impl Plugin for HugeOutput {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "huge-output",
            env!("CARGO_PKG_VERSION"),
            "Hostile: sets an 8 MiB field on every row",
        )
        .reads([])
    }
}

impl FieldMapper for HugeOutput {
    fn map_row(row: &mut Row) -> Result<(), Refusal> {
        // The string goes back to the host as it is: there is nothing to optimise away.
        row.set("notes", "x".repeat(SIZE));
        Ok(())
    }
}

cs_plugin_sdk::export!(HugeOutput: FieldMapper);
