//! `wrong-signature`: a hostile component whose `map-row` takes a `string`.
//!
//! It speaks `cs:plugin@0.1.0` by name: it exports `cs:plugin/metadata@0.1.0` and
//! `cs:plugin/field-mapper@0.1.0`, but its `map-row` takes a string, not a row. Its names pass
//! every check on names; only its types give it away. The SDK cannot build it, so this one is
//! written against a WIT of its own. The host must type-check every function of the interfaces
//! it exports when it inspects or installs it, and refuse it naming `map-row`, rather than
//! install a field mapper that fails (or, failing open, is silently skipped) on every row.

wit_bindgen::generate!({
    inline: "
        package cs:plugin@0.1.0;

        interface types {
            enum capability { read-companies }

            record config-key {
                name: string,
                description: string,
                default-value: option<string>,
                required: bool,
            }

            record plugin-info {
                name: string,
                version: string,
                description: string,
                capabilities: list<capability>,
                config: list<config-key>,
                reads: list<string>,
                reads-source: bool,
            }
        }

        interface metadata {
            use types.{plugin-info};

            describe: func() -> plugin-info;
        }

        interface field-mapper {
            begin: func(columns: list<string>, fields: list<string>);
            map-row: func(row: string) -> bool;
        }

        world wrong-signature {
            export metadata;
            export field-mapper;
        }
    ",
    world: "wrong-signature",
});

use cs::plugin::types::PluginInfo;
use exports::cs::plugin::{field_mapper, metadata};

struct WrongSignature;

impl metadata::Guest for WrongSignature {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "wrong-signature".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Hostile: a field mapper whose map-row takes a string".to_owned(),
            capabilities: Vec::new(),
            config: Vec::new(),
            reads: vec!["*".to_owned()],
            reads_source: false,
        }
    }
}

impl field_mapper::Guest for WrongSignature {
    fn begin(_columns: Vec<String>, _fields: Vec<String>) {}

    fn map_row(row: String) -> bool {
        !row.is_empty()
    }
}

export!(WrongSignature);
