//! What a plugin call costs, against the same work done natively in the same run.
//!
//! - `map_row`: one 10-field partner row through `normalize-partner` on a warm instance, and the
//!   same normalisation compiled natively (the plugin's own `normalize.rs`); then the same row
//!   256 times in one batch through the plugin built for `cs:plugin@0.2.0` (the time is per
//!   batch: divide by 256 for a row).
//! - `fresh_instance`: a fresh store and instance, `begin` and the first row.
//! - `process_start`: `cshost plugin run` from process start to the first plugin call's output,
//!   with the compile cache warm, against `cshost --version` (the same process doing no plugin
//!   work).
//!
//! Run with `make bench` (or `cargo bench -p cs-host --bench plugin_calls`).

#[path = "../../tests/support/mod.rs"]
mod support;

// The plugin's own logic, compiled natively: the baseline. (Its unit tests run in tests/.)
#[allow(dead_code, unused_imports)]
#[path = "../../plugins/examples/normalize-partner/src/normalize.rs"]
mod normalize;

use std::hint::black_box;
use std::process::Command;
use std::rc::Rc;

use criterion::{Criterion, criterion_group, criterion_main};
use cs_host::BatchRow;
use cs_host::PluginContext;
use cs_host::model::FieldValue;

use support::{PARTNER_FIELDS as FIELDS, PARTNER_ROW as ROW};

/// The native baseline: the plugin's logic over a borrowed row, recording the changes.
struct NativeRow<'a> {
    names: &'a Rc<[String]>,
    values: &'a [FieldValue],
    changes: Vec<(String, String)>,
}

impl normalize::TextRow for NativeRow<'_> {
    fn field_names(&self) -> Rc<[String]> {
        self.names.clone()
    }

    fn text(&self, field: &str) -> Option<&str> {
        if let Some((_, text)) = self.changes.iter().rev().find(|(name, _)| name == field) {
            return Some(text);
        }
        let i = self.names.iter().position(|name| name == field)?;
        self.values[i].as_text()
    }

    fn set_text(&mut self, field: &str, text: String) {
        self.changes.push((field.to_owned(), text));
    }
}

fn map_row(c: &mut Criterion) {
    let names: Rc<[String]> = FIELDS.iter().map(|f| f.to_string()).collect();
    let values: Vec<FieldValue> = ROW.iter().map(|v| FieldValue::from(*v)).collect();
    let mut group = c.benchmark_group("map_row");

    group.bench_function("native", |b| {
        b.iter(|| {
            let mut row = NativeRow {
                names: &names,
                values: black_box(&values),
                changes: Vec::new(),
            };
            let outcome = normalize::normalize(&mut row, normalize::DEFAULT_REGIONS);
            black_box((outcome, row.changes))
        })
    });

    let plugin = support::load("normalize-partner");
    let mut instance = plugin.instantiate(&PluginContext::new("bench"));
    instance.begin_rows(&[], &names).unwrap();
    // The plugin's changes are applied to the row in place: each iteration starts again from
    // the untidy row (`clone_from` reuses the strings' buffers).
    let mut row = values.clone();
    let mut added = Vec::new();
    group.bench_function("wasm", |b| {
        b.iter(|| {
            row.clone_from(&values);
            added.clear();
            black_box(
                instance
                    .map_row_in_place(2, &[], &mut row, &mut added)
                    .unwrap(),
            )
        })
    });

    let plugin = support::runtime()
        .load(&support::plugin_bytes_v0_2("normalize-partner"))
        .unwrap();
    let mut instance = plugin.instantiate(&PluginContext::new("bench"));
    instance.begin_rows(&[], &names).unwrap();
    let batch: Vec<BatchRow> = (0..256)
        .map(|i| BatchRow {
            number: i + 2,
            values: values.clone(),
            ..BatchRow::default()
        })
        .collect();
    let mut rows = batch.clone();
    group.bench_function("wasm 0.2.0, batch of 256 rows", |b| {
        b.iter(|| {
            rows.clone_from(&batch);
            black_box(instance.map_rows(&mut rows))
        })
    });
    group.finish();
}

fn fresh_instance(c: &mut Criterion) {
    let names: Rc<[String]> = FIELDS.iter().map(|f| f.to_string()).collect();
    let values: Vec<FieldValue> = ROW.iter().map(|v| FieldValue::from(*v)).collect();
    let plugin = support::load("normalize-partner");
    let context = PluginContext::new("bench");
    let mut group = c.benchmark_group("fresh_instance");
    group.bench_function("native", |b| {
        b.iter(|| {
            let mut row = NativeRow {
                names: &names,
                values: black_box(&values),
                changes: Vec::new(),
            };
            black_box(normalize::normalize(&mut row, normalize::DEFAULT_REGIONS))
        })
    });
    group.bench_function("wasm", |b| {
        b.iter(|| {
            let mut instance = plugin.instantiate(&context);
            instance.begin_rows(&[], &names).unwrap();
            let mut row = values.clone();
            let mut added = Vec::new();
            black_box(
                instance
                    .map_row_in_place(2, &[], &mut row, &mut added)
                    .unwrap(),
            )
        })
    });
    group.finish();
}

fn process_start(c: &mut Criterion) {
    let cshost = env!("CARGO_BIN_EXE_cshost");
    let plugin = support::plugin_path("normalize-partner");
    let input = support::sample_input("normalize-partner.json");
    let cache = support::cache_dir();
    let run = |args: &[&std::ffi::OsStr]| {
        let output = Command::new(cshost)
            .args(args)
            .env("CSHOST_CACHE_DIR", &cache)
            .output()
            .expect("cshost runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let plugin_run: Vec<&std::ffi::OsStr> = vec![
        "plugin".as_ref(),
        "run".as_ref(),
        plugin.as_os_str(),
        "--hook".as_ref(),
        "csv-row-mapped".as_ref(),
        "--input".as_ref(),
        input.as_os_str(),
    ];
    run(&plugin_run); // warms the compile cache
    let mut group = c.benchmark_group("process_start");
    group.sample_size(30);
    group.bench_function("baseline: cshost --version", |b| {
        b.iter(|| run(&["--version".as_ref()]))
    });
    group.bench_function("cshost plugin run", |b| b.iter(|| run(&plugin_run)));
    group.finish();
}

criterion_group!(benches, map_row, fresh_instance, process_start);
criterion_main!(benches);
