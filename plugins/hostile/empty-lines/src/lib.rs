//! `empty-lines`: a hostile field mapper that logs and prints millions of empty lines.
//!
//! An empty line has no bytes, so a log cap that counted bytes only would keep every one of
//! them, and the host would spend tens of bytes of its own memory on each: millions of lines in
//! one call are hundreds of megabytes. The host must count each line against the log cap, keep
//! the log within it and say how many lines it dropped.

use std::io::Write;

use cs_plugin_sdk::host::{self, LogLevel};
use cs_plugin_sdk::{FieldMapper, Plugin, PluginInfo, Refusal, Row};

/// Empty lines per channel and row: through the host's log, and through stdout and stderr.
const LINES: usize = 1_000_000;

struct EmptyLines;

impl Plugin for EmptyLines {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "empty-lines",
            env!("CARGO_PKG_VERSION"),
            "Hostile: logs and prints a million empty lines on every row",
        )
        .reads([])
    }
}

impl FieldMapper for EmptyLines {
    fn map_row(_row: &mut Row) -> Result<(), Refusal> {
        for _ in 0..LINES {
            host::log(LogLevel::Info, "");
        }
        // Many newlines per write, as a buffered writer would send them.
        let block = [b'\n'; 4096];
        for _ in 0..LINES / block.len() {
            let _ = std::io::stdout().write_all(&block);
            let _ = std::io::stderr().write_all(&block);
        }
        Ok(())
    }
}

cs_plugin_sdk::export!(EmptyLines: FieldMapper);
