//! `recursion`: a hostile field mapper that recurses without end.
//!
//! It simulates a plugin with runaway recursion, such as a parser fed a cyclic structure. Each
//! level does work after its recursive call returns, so the compiler cannot turn the recursion
//! into a loop: the stack grows until it overflows. The host must catch the overflow as a
//! `trap` ("stack overflow") instead of crashing its own thread, and go on serving other calls.

use std::hint::black_box;

use cs_plugin_sdk::{FieldMapper, Plugin, PluginInfo, Refusal, Row};

struct Recursion;

impl Plugin for Recursion {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "recursion",
            env!("CARGO_PKG_VERSION"),
            "Hostile: recurses without end on every row",
        )
        .reads([])
    }
}

/// Descends one level deeper, for ever.
///
/// Adding this level's depth to the deeper result after the call returns makes it a non-tail
/// call, and `black_box` on that result stops the optimiser from rewriting the sum into a loop.
#[expect(
    unconditional_recursion,
    reason = "recursing until the stack overflows is the point"
)]
fn descend(depth: u64) -> u64 {
    black_box(descend(black_box(depth + 1))).wrapping_add(depth)
}

impl FieldMapper for Recursion {
    fn map_row(_row: &mut Row) -> Result<(), Refusal> {
        black_box(descend(0));
        Ok(())
    }
}

cs_plugin_sdk::export!(Recursion: FieldMapper);
