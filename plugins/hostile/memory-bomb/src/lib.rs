//! `memory-bomb`: a hostile field mapper that allocates memory until it is stopped.
//!
//! It simulates a plugin that exhausts memory, by a leak or on purpose, to starve the host and
//! the other tenants. It allocates 1 MiB chunks, fills each one so the pages are really used,
//! and keeps them all. The host must refuse to grow the instance's linear memory past its cap
//! and end the call with `memory-limit`, leaving the host's own memory untouched.

use std::hint::black_box;

use cs_plugin_sdk::{FieldMapper, Plugin, PluginInfo, Refusal, Row};

/// The size of each allocation.
const CHUNK: usize = 1 << 20;

struct MemoryBomb;

impl Plugin for MemoryBomb {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "memory-bomb",
            env!("CARGO_PKG_VERSION"),
            "Hostile: allocates memory until it is stopped",
        )
        .reads([])
    }
}

impl FieldMapper for MemoryBomb {
    fn map_row(_row: &mut Row) -> Result<(), Refusal> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            // A non-zero fill writes every byte: zeroed allocations could be satisfied by fresh
            // pages without touching them.
            hoard.push(vec![0xA5; CHUNK]);
            // Keeps the optimiser from proving the hoard is never read and dropping it.
            black_box(&hoard);
        }
    }
}

cs_plugin_sdk::export!(MemoryBomb: FieldMapper);
