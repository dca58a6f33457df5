//! JavaScript plugins against Rust ones doing the same work, in the same run: `normalize-partner`
//! (Rust) and `normalize-partner-js` (the same normalisation in JavaScript, componentized with
//! componentize-js).
//!
//! - `js_map_row`: one 10-field partner row on a warm instance.
//! - `js_map_rows`: the same row 256 times in one batch, through each plugin built for
//!   `cs:plugin@0.2.0` from the same source (the time is per batch: divide by 256 for a row).
//! - `js_fresh_instance`: a fresh store and instance, `begin` and the first row.
//! - `js_cached_load`: loading a plugin whose compiled artifact is in the compile cache.
//! - printed once before the groups: component size and compile time without a cache.
//!
//! Run with `make bench` (or `cargo bench -p cs-host --bench js_plugins`; `make js-plugins` first).

#[path = "../../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use cs_host::model::FieldValue;
use cs_host::{BatchRow, PluginContext, PluginRuntime, RuntimeConfig};

use support::{PARTNER_FIELDS as FIELDS, PARTNER_ROW as ROW};

/// The two components: (label, bytes).
fn components() -> [(&'static str, Vec<u8>); 2] {
    let js = support::js_plugin_path("normalize-partner-js");
    [
        ("rust", support::plugin_bytes("normalize-partner")),
        ("js", std::fs::read(js).expect("the JS plugin is built")),
    ]
}

/// Size and compile time without a cache, printed: a 12 MB compile is too slow for criterion's
/// sample counts.
fn report_compile() {
    for (label, bytes) in components() {
        let runtime = PluginRuntime::new(RuntimeConfig::default()).expect("runtime");
        let started = Instant::now();
        runtime.load(&bytes).expect("plugin loads");
        eprintln!(
            "{label}: component {} bytes, compiled (no cache) in {:.2} s",
            bytes.len(),
            started.elapsed().as_secs_f64()
        );
    }
}

fn map_row(c: &mut Criterion) {
    report_compile();
    let names: Vec<String> = FIELDS.iter().map(|f| f.to_string()).collect();
    let values: Vec<FieldValue> = ROW.iter().map(|v| FieldValue::from(*v)).collect();
    let mut group = c.benchmark_group("js_map_row");
    for (label, bytes) in components() {
        let plugin = support::runtime().load(&bytes).expect("plugin loads");
        let mut instance = plugin.instantiate(&PluginContext::new("bench"));
        instance.begin_rows(&[], &names).unwrap();
        group.bench_function(label, |b| {
            b.iter(|| black_box(instance.map_row(2, &[], black_box(&values)).unwrap()))
        });
    }
    group.finish();
}

/// The same mapping through each plugin built for `cs:plugin@0.2.0`: a batch of 256 rows.
fn map_rows(c: &mut Criterion) {
    let names: Vec<String> = FIELDS.iter().map(|f| f.to_string()).collect();
    let values: Vec<FieldValue> = ROW.iter().map(|v| FieldValue::from(*v)).collect();
    let batch: Vec<BatchRow> = (0..256)
        .map(|i| BatchRow {
            number: i + 2,
            values: values.clone(),
            ..BatchRow::default()
        })
        .collect();
    let js = support::js_plugin_path_v0_2("normalize-partner-js");
    let mut group = c.benchmark_group("js_map_rows");
    for (label, bytes) in [
        (
            "rust 0.2.0",
            support::plugin_bytes_v0_2("normalize-partner"),
        ),
        (
            "js 0.2.0",
            std::fs::read(js).expect("the JS plugin is built"),
        ),
    ] {
        let plugin = support::runtime().load(&bytes).expect("plugin loads");
        let mut instance = plugin.instantiate(&PluginContext::new("bench"));
        instance.begin_rows(&[], &names).unwrap();
        let mut rows = batch.clone();
        group.bench_function(label, |b| {
            b.iter(|| {
                rows.clone_from(&batch);
                black_box(instance.map_rows(&mut rows))
            })
        });
    }
    group.finish();
}

fn fresh_instance(c: &mut Criterion) {
    let names: Vec<String> = FIELDS.iter().map(|f| f.to_string()).collect();
    let values: Vec<FieldValue> = ROW.iter().map(|v| FieldValue::from(*v)).collect();
    let context = PluginContext::new("bench");
    let mut group = c.benchmark_group("js_fresh_instance");
    for (label, bytes) in components() {
        let plugin = support::runtime().load(&bytes).expect("plugin loads");
        group.bench_function(label, |b| {
            b.iter(|| {
                let mut instance = plugin.instantiate(&context);
                instance.begin_rows(&[], &names).unwrap();
                black_box(instance.map_row(2, &[], &values).unwrap())
            })
        });
    }
    group.finish();
}

fn cached_load(c: &mut Criterion) {
    let mut group = c.benchmark_group("js_cached_load");
    group.sample_size(20);
    for (label, bytes) in components() {
        let cache = tempfile::tempdir().unwrap();
        PluginRuntime::new(RuntimeConfig::default().cache_dir(cache.path()))
            .unwrap()
            .load(&bytes)
            .expect("warms the cache");
        // Each load hashes the bytes, checks them, reads the artifact from the cache and asks
        // the plugin to describe itself, as a process starting with a warm cache does.
        let runtime = PluginRuntime::new(RuntimeConfig::default().cache_dir(cache.path())).unwrap();
        group.bench_function(label, |b| {
            b.iter(|| black_box(runtime.load(&bytes).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, map_row, map_rows, fresh_instance, cached_load);
criterion_main!(benches);
