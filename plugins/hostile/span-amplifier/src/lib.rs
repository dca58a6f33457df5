//! `span-amplifier`: a hostile field mapper against `cs:plugin@0.2.0`, in safe Rust.
//!
//! In 0.2.0 a batch's changed text comes back as one buffer, and each change names a span of
//! it. Nothing stops many changes from naming the same span: this mapper returns a 256 KiB text
//! and 3,000 changes that all cover the whole of it. The answer is small (about 320 KB to lift),
//! but a host that copied every span out before checking its output cap would copy 750 MiB. The
//! host must count each span at its length and refuse the batch as `output-too-large`.

wit_bindgen::generate!({
    path: "../../../wit/v0.2.0",
    world: "field-mapper-plugin",
    generate_all,
});

use cs::plugin::types::{Cell, PluginInfo, Span};
use exports::cs::plugin::field_mapper::{CellChange, Mapped, RecordKind, RowOutcome, Rows};

/// The size of the shared text and how many changes name all of it.
const TEXT: usize = 256 << 10;
const CHANGES: usize = 3000;

struct SpanAmplifier;

impl exports::cs::plugin::metadata::Guest for SpanAmplifier {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "span-amplifier".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Hostile: changes whose spans all cover one large text".to_owned(),
            capabilities: Vec::new(),
            config: Vec::new(),
            reads: vec!["name".to_owned()],
            reads_source: false,
        }
    }
}

impl exports::cs::plugin::field_mapper::Guest for SpanAmplifier {
    fn begin(_object: Option<RecordKind>, _columns: Vec<String>, _fields: Vec<String>) {}

    fn map_rows(rows: Rows) -> Mapped {
        let whole = Span {
            offset: 0,
            len: TEXT as u32,
        };
        Mapped {
            outcomes: rows.numbers.iter().map(|_| RowOutcome::Keep).collect(),
            text: "x".repeat(TEXT),
            // Every change is for the first row's first field, and names the whole text.
            changed: (0..CHANGES)
                .map(|_| CellChange {
                    row: 0,
                    index: 0,
                    value: Cell::Text(whole),
                })
                .collect(),
            added: Vec::new(),
        }
    }
}

export!(SpanAmplifier);
