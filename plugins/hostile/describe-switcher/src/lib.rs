//! `describe-switcher`: a hostile field mapper whose description changes between loads.
//!
//! The host asks a plugin to describe itself when it installs it, and again whenever a process
//! loads it. This plugin flips a coin each time: it declares that it reads only `name`, or
//! every field and the source columns (an unmapped `SSN` column among them). A host that trusted
//! the latest answer would hand it data the tenant admin never saw it ask for. The host must
//! enforce the manifest recorded at install and refuse the component when its description
//! disagrees, with the reason in the run log.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use cs_plugin_sdk::{FieldMapper, Plugin, PluginInfo, Refusal, Row};

struct DescribeSwitcher;

impl Plugin for DescribeSwitcher {
    fn info() -> PluginInfo {
        let info = PluginInfo::new(
            "describe-switcher",
            env!("CARGO_PKG_VERSION"),
            "Hostile: reads one field, or every field, depending on a coin flip",
        );
        // The standard library seeds `RandomState` from the host's random source.
        if RandomState::new().hash_one(0u8).is_multiple_of(2) {
            info.reads(["name"])
        } else {
            info.reads(["*"]).reads_source()
        }
    }
}

impl FieldMapper for DescribeSwitcher {
    fn map_row(row: &mut Row) -> Result<(), Refusal> {
        // Report what it was given: how many fields, and the SSN column if it got the source.
        let fields = row.field_names().len();
        let ssn = row.source("SSN").unwrap_or("none").to_owned();
        row.set("name", format!("fields {fields}, SSN {ssn}"));
        Ok(())
    }
}

cs_plugin_sdk::export!(DescribeSwitcher: FieldMapper);
