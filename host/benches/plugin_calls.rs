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
//! Run with `make bench` (or `cargo bench -p cs-host --bench plugin_calls`). To compare another
//! build of `normalize-partner` on the same host binary, name its component files in
//! `CSHOST_BENCH_PLUGIN` (0.1.0) and `CSHOST_BENCH_PLUGIN_V0_2` (0.2.0); to compare two builds
//! in one process, block by block, see `compare_pairs`.

#[path = "../../tests/support/mod.rs"]
mod support;

// The plugin's own logic, compiled natively: the baseline. (Its unit tests run in tests/.)
#[allow(dead_code, unused_imports)]
#[path = "../../plugins/examples/normalize-partner/src/normalize.rs"]
mod normalize;

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

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

/// `normalize-partner` as built from this repository's source, or the component file the
/// environment variable names: another build of the same plugin (other flags, another SDK) then
/// runs against the same host binary, the two taking turns.
fn load_plugin(variable: &str, built: fn(&str) -> Vec<u8>) -> cs_host::Plugin {
    let bytes = match std::env::var_os(variable) {
        Some(path) => std::fs::read(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", Path::new(&path).display())),
        None => built("normalize-partner"),
    };
    support::runtime()
        .load(&bytes)
        .unwrap_or_else(|e| panic!("loading normalize-partner: {e}"))
}

/// Two builds of `normalize-partner` compared in one process, for changes too small to see
/// across runs on a busy machine: `CSHOST_BENCH_PAIR=a.wasm,b.wasm` (0.1.0, warm row) and
/// `CSHOST_BENCH_PAIR_V0_2=a.wasm,b.wasm` (0.2.0, batches of 256). Each round times a block of
/// rows through the native baseline and each build in turn, so all see the same load; prints
/// the median time per row of each and the median of the rounds' ratios.
fn compare_pairs(names: &Rc<[String]>, values: &[FieldValue]) {
    let pair = |variable: &str| -> Option<[cs_host::Plugin; 2]> {
        let files = std::env::var(variable).ok()?;
        let (a, b) = files
            .split_once(',')
            .expect("two files, separated by a comma");
        let load = |file: &str| {
            let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
            support::runtime().load(&bytes).expect("the plugin loads")
        };
        Some([load(a), load(b)])
    };
    let single = pair("CSHOST_BENCH_PAIR");
    let batched = pair("CSHOST_BENCH_PAIR_V0_2");
    const ROWS: u32 = 1024;
    let mut timings: Vec<(String, Box<dyn FnMut() -> Duration>)> = Vec::new();
    timings.push((
        "native".to_owned(),
        Box::new(|| {
            let start = std::time::Instant::now();
            for _ in 0..ROWS {
                let mut row = NativeRow {
                    names,
                    values: black_box(values),
                    changes: Vec::new(),
                };
                let outcome = normalize::normalize(&mut row, normalize::DEFAULT_REGIONS);
                black_box(&(outcome, row.changes));
            }
            start.elapsed()
        }),
    ));
    for (i, plugin) in single.into_iter().flatten().enumerate() {
        let mut instance = plugin.instantiate(&PluginContext::new("bench"));
        instance.begin_rows(&[], names).unwrap();
        let (mut row, mut added) = (values.to_vec(), Vec::new());
        timings.push((
            format!("0.1.0 {}", ["a", "b"][i]),
            Box::new(move || {
                let start = std::time::Instant::now();
                for _ in 0..ROWS {
                    row.clone_from_slice(values);
                    added.clear();
                    black_box(instance.map_row_in_place(2, &[], &mut row, &mut added)).unwrap();
                }
                start.elapsed()
            }),
        ));
    }
    for (i, plugin) in batched.into_iter().flatten().enumerate() {
        let mut instance = plugin.instantiate(&PluginContext::new("bench"));
        instance.begin_rows(&[], names).unwrap();
        let batch: Vec<BatchRow> = (0..256)
            .map(|i| BatchRow {
                number: i + 2,
                values: values.to_vec(),
                ..BatchRow::default()
            })
            .collect();
        let mut rows = batch.clone();
        timings.push((
            format!("0.2.0 {}", ["a", "b"][i]),
            Box::new(move || {
                let start = std::time::Instant::now();
                for _ in 0..ROWS / 256 {
                    rows.clone_from(&batch);
                    black_box(instance.map_rows(&mut rows));
                }
                start.elapsed()
            }),
        ));
    }
    let rounds = 80;
    let mut per_row: Vec<Vec<f64>> = vec![Vec::new(); timings.len()];
    for round in 0..=rounds {
        for (i, (_, time)) in timings.iter_mut().enumerate() {
            let nanos = time().as_nanos() as f64 / f64::from(ROWS);
            // The first round warms up.
            if round > 0 {
                per_row[i].push(nanos);
            }
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratio =
        |x: usize, y: usize| median((0..rounds).map(|r| per_row[x][r] / per_row[y][r]).collect());
    for (i, (name, _)) in timings.iter().enumerate() {
        println!(
            "{name}: {:.3} us a row, {:.2}x native",
            median(per_row[i].clone()) / 1000.0,
            ratio(i, 0)
        );
    }
    for (a, b) in [(1, 2), (3, 4)] {
        if b < timings.len() {
            println!("{} / {}: {:.3}", timings[b].0, timings[a].0, ratio(b, a));
        }
    }
}

fn map_row(c: &mut Criterion) {
    let names: Rc<[String]> = FIELDS.iter().map(|f| f.to_string()).collect();
    let values: Vec<FieldValue> = ROW.iter().map(|v| FieldValue::from(*v)).collect();
    if std::env::var_os("CSHOST_BENCH_PAIR").is_some()
        || std::env::var_os("CSHOST_BENCH_PAIR_V0_2").is_some()
    {
        return compare_pairs(&names, &values);
    }
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

    let plugin = load_plugin("CSHOST_BENCH_PLUGIN", support::plugin_bytes);
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

    let plugin = load_plugin("CSHOST_BENCH_PLUGIN_V0_2", support::plugin_bytes_v0_2);
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
    let plugin = load_plugin("CSHOST_BENCH_PLUGIN", support::plugin_bytes);
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
