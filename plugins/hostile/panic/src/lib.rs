//! `panic`: a hostile field mapper that panics on every row.
//!
//! It simulates a plugin that crashes, as an `unwrap` on bad input would. Plugins are built
//! with `panic = "abort"`, so the panic ends in a WebAssembly trap; the SDK first sends the panic
//! message to the host's log at `fatal` level. The host must report a `trap` that carries the
//! message "hostile plugin panicked on purpose", discard the instance, and go on serving other
//! calls.

use cs_plugin_sdk::{FieldMapper, Plugin, PluginInfo, Refusal, Row};

struct Panic;

impl Plugin for Panic {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "panic",
            env!("CARGO_PKG_VERSION"),
            "Hostile: panics on every row",
        )
        .reads([])
    }
}

impl FieldMapper for Panic {
    fn map_row(_row: &mut Row) -> Result<(), Refusal> {
        panic!("hostile plugin panicked on purpose");
    }
}

cs_plugin_sdk::export!(Panic: FieldMapper);
