//! `spin`: a hostile field mapper whose `map_row` never returns.
//!
//! It simulates a plugin stuck in an infinite loop, by a bug or on purpose, trying to hold a
//! host thread for ever. The host must stop the call when its fuel budget runs out
//! (`fuel-exhausted`) or its wall-clock deadline passes (`deadline-exceeded`), whichever comes
//! first, then discard the instance and go on serving other calls.

use std::hint::black_box;

use cs_plugin_sdk::{FieldMapper, Plugin, PluginInfo, Refusal, Row};

struct Spin;

impl Plugin for Spin {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "spin",
            env!("CARGO_PKG_VERSION"),
            "Hostile: loops forever on every row",
        )
        .reads([])
    }
}

impl FieldMapper for Spin {
    fn map_row(_row: &mut Row) -> Result<(), Refusal> {
        let mut turns: u64 = 0;
        loop {
            // `black_box` makes each turn real work the optimiser may not remove or collapse.
            turns = black_box(turns.wrapping_add(1));
        }
    }
}

cs_plugin_sdk::export!(Spin: FieldMapper);
