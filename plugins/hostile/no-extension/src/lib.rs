//! `no-extension`: a hostile component that describes itself but serves no extension point.
//!
//! It simulates a component built against the wrong world, or made to slip past the host's
//! checks: it exports `cs:plugin/metadata` and nothing else. The SDK's `export!` macro cannot
//! build such a component, so this one uses `wit-bindgen` directly. The host must refuse it
//! when it is installed, with `incompatible-component` saying that it exports no extension
//! point, rather than accept a plugin that can never be called.

wit_bindgen::generate!({
    path: "../../../wit/v0.1.0",
    inline: "
        package cs:hostile;

        world metadata-only {
            import cs:plugin/host@0.1.0;
            export cs:plugin/metadata@0.1.0;
        }
    ",
    world: "metadata-only",
    generate_all,
});

use cs::plugin::types::PluginInfo;
use exports::cs::plugin::metadata::Guest;

struct NoExtension;

impl Guest for NoExtension {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "no-extension".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Hostile: exports metadata but no extension point".to_owned(),
            capabilities: Vec::new(),
            config: Vec::new(),
            reads: Vec::new(),
            reads_source: false,
        }
    }
}

export!(NoExtension);
