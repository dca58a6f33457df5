//! Import benchmark: 1,000,000 generated partner rows into a fresh SQLite file, without a
//! plugin and with `normalize-partner`, against a native baseline in the same run (reading
//! the same file with the csv crate and nothing else). Also criteria selection over the
//! imported companies with two built-in filters and one plugin filter (`arr-tier`), then the
//! same criteria as a tenant admin and as a partner user once a tenth as many customers,
//! managed by one partner, are added.
//!
//! Run with `env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE cargo bench -p cs-host --bench import`
//! (`CSHOST_BENCH_ROWS` changes the row count). Peak memory is the process's peak RSS, read
//! from /proc after each phase. Beside wall time, each import shows the CPU time of the calling
//! thread (the one that writes; a second thread reads and maps), which other work on the
//! machine stretches less than wall time.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use cs_host::EnableOptions;
use cs_host::model::{AccessScope, FieldValue, Fields};
use cs_host::{
    CompanyKey, Criteria, Filter, Host, HostConfig, ImportOptions, Operator, RuntimeConfig,
    TenantLevel,
};

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time of the calling thread so far, in seconds (from /proc; 0 where there is none). Shown
/// beside wall time because this machine's other work can stretch wall time.
fn thread_cpu_secs() -> f64 {
    schedstat(0)
}

/// Time the calling thread has spent ready to run but waiting for a CPU that other work held,
/// in seconds: the part of wall time that is the machine's load, not the import's own waits.
fn thread_runnable_wait_secs() -> f64 {
    schedstat(1)
}

/// Field `index` of the calling thread's `/proc/thread-self/schedstat` (nanoseconds), in
/// seconds; 0 where there is none.
fn schedstat(index: usize) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().nth(index)?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

/// A relationship import of `rows` generated rows (every second one with an external id, the
/// others found by their natural key) for the partners imported before, run twice: the first
/// run creates every relationship, the second finds and updates each one.
fn relationship_imports(acme: &cs_host::Tenant<'_>, dir: &Path, partners: u64) {
    let rows: u64 = std::env::var("CSHOST_BENCH_RELATIONSHIPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(100_000);
    if rows == 0 {
        return;
    }
    acme.relationship_types().add("SaaS").unwrap();
    acme.relationship_types()
        .define_field("SaaS", "seats", cs_host::FieldType::Number, false)
        .unwrap();
    let csv_path = dir.join("relationships.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv_path).unwrap());
    writeln!(out, "ID,Name,Company,Type,Seats").unwrap();
    for i in 1..=rows {
        let company = (i - 1) % partners + 1;
        let seats = 1 + i % 500;
        if i % 2 == 0 {
            writeln!(out, "R-{i:07},Subscription {i},P-{company:07},SaaS,{seats}").unwrap();
        } else {
            writeln!(out, ",Subscription {i},P-{company:07},SaaS,{seats}").unwrap();
        }
    }
    drop(out);
    for (run, expected) in [("created", (rows, 0)), ("updated", (0, rows))] {
        let start = Instant::now();
        let cpu_start = thread_cpu_secs();
        let job = acme
            .imports()
            .file(&csv_path, &ImportOptions::relationships())
            .unwrap();
        let secs = start.elapsed().as_secs_f64();
        let cpu = thread_cpu_secs() - cpu_start;
        assert_eq!((job.created, job.updated), expected, "{job:?}");
        println!(
            "relationship import, {rows} rows {run}: {secs:.2} s  {:.0} rows/s  (CPU {cpu:.2} s, {:.0} rows/s)",
            rows as f64 / secs,
            rows as f64 / cpu
        );
    }
}

/// The same criteria for a tenant admin and for a partner user, over the imported partners
/// plus one customer for every ten of them, all managed by one partner: the partner user's
/// scope is part of the SQL, so its run costs what the admin's does (or less).
fn partner_and_admin_criteria(
    acme: &cs_host::Tenant<'_>,
    dir: &Path,
    rows: u64,
    criteria: &Criteria,
) {
    let customers = (rows / 10).max(1);
    let csv_path = dir.join("customers.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv_path).unwrap());
    writeln!(out, "External ID,Name,Country,ARR,Managed By").unwrap();
    const COUNTRIES: [&str; 8] = ["DE", "US", "GB", "FR", "NZ", "JP", "BR", "IN"];
    for i in 1..=customers {
        let country = COUNTRIES[(i / 8 % 8) as usize];
        let arr = 10_000 + (i * 7_919) % 490_000;
        writeln!(out, "C-{i:07},Customer {i},{country},{arr},P-0000001").unwrap();
    }
    drop(out);
    let job = acme
        .imports()
        .file(&csv_path, &ImportOptions::companies())
        .unwrap();
    assert_eq!(job.created, customers);
    let partner = acme
        .companies()
        .get(CompanyKey::Name("Channel Partner 1 Inc"))
        .unwrap()
        .expect("the first generated partner")
        .id
        .parse()
        .unwrap();
    acme.access().add_admin("ada@acme.example", "Ada").unwrap();
    acme.users()
        .add_partner(partner, "pat@partner.example", "Pat")
        .unwrap();
    let total = rows + customers;
    let mut secs = Vec::new();
    for (who, email) in [
        ("admin", "ada@acme.example"),
        ("partner user", "pat@partner.example"),
    ] {
        let tenant = acme.clone().as_user(email).unwrap();
        let start = Instant::now();
        let selection = tenant.criteria().run(criteria).unwrap();
        let elapsed = start.elapsed().as_secs_f64();
        println!(
            "criteria as {who:<13} over {total} companies ({customers} the partner's): {elapsed:.3} s, {} match",
            selection.count
        );
        secs.push(elapsed);
    }
    println!("criteria: partner user / admin = {:.2}x", secs[1] / secs[0]);
}

fn main() {
    let rows: u64 = std::env::var("CSHOST_BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("partners.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv_path).unwrap());
    cs_host::generate_partners_csv(&mut out, rows).unwrap();
    drop(out);
    let size = std::fs::metadata(&csv_path).unwrap().len();
    println!("{rows} rows, {:.1} MB", size as f64 / 1e6);

    // Native baseline: read every record of the same file.
    let start = Instant::now();
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let mut record = csv::ByteRecord::new();
    let mut n = 0u64;
    while reader.read_byte_record(&mut record).unwrap() {
        n += record.len() as u64;
    }
    let native = start.elapsed().as_secs_f64();
    assert!(n > 0);
    println!(
        "native csv read:        {:>8.2} s  {:>9.0} rows/s",
        native,
        rows as f64 / native
    );

    let mut runs = Vec::new();
    // No plugin; normalize-partner built for cs:plugin@0.1.0 (a call per row); the same
    // source built for 0.2.0 (a call per batch of 256 rows).
    for contract in [None, Some("0.1.0"), Some("0.2.0")] {
        let with_plugin = contract.is_some();
        let config = HostConfig::default()
            .runtime(RuntimeConfig::default().cache_dir(dir.path().join("cache")));
        let db = format!("bench-{}.db", contract.unwrap_or("none"));
        let host = Host::open(dir.path().join(db), config).unwrap();
        host.create_tenant("acme", "Acme", TenantLevel::Both)
            .unwrap();
        let acme = host.tenant("acme").unwrap();
        acme.imports().set_size_limit(size + 1).unwrap();
        if let Some(contract) = contract {
            let bytes = match contract {
                "0.1.0" => support::plugin_bytes("normalize-partner"),
                _ => support::plugin_bytes_v0_2("normalize-partner"),
            };
            host.install_plugin(&bytes, "bench").unwrap();
            acme.plugins()
                .enable("normalize-partner", EnableOptions::default())
                .unwrap();
        }
        let start = Instant::now();
        let cpu_start = thread_cpu_secs();
        let wait_start = thread_runnable_wait_secs();
        let job = acme
            .imports()
            .file(&csv_path, &ImportOptions::partners(Some(AccessScope::Both)))
            .unwrap();
        let secs = start.elapsed().as_secs_f64();
        let cpu = thread_cpu_secs() - cpu_start;
        let waited = thread_runnable_wait_secs() - wait_start;
        assert_eq!(job.rows, rows);
        let label = match contract {
            Some("0.1.0") => "import, normalize 0.1.0",
            Some(_) => "import, normalize 0.2.0",
            None => "import, no plugin",
        };
        println!(
            "{label:<24}{:>8.2} s  {:>9.0} rows/s  (CPU {:.2} s, {:.0} rows/s; waited for a CPU {:.2} s)  {:>5.1}x native  peak RSS {:.0} MB  ({} created, {} failed)",
            secs,
            rows as f64 / secs,
            cpu,
            rows as f64 / cpu,
            waited,
            secs / native,
            peak_rss_mb(),
            job.created,
            job.failed
        );
        runs.push((secs, cpu));

        if !with_plugin {
            host.install_plugin(&support::plugin_bytes("arr-tier"), "bench")
                .unwrap();
            acme.plugins()
                .enable("arr-tier", EnableOptions::default())
                .unwrap();
            let mut arguments = Fields::new();
            arguments.insert("tier".into(), FieldValue::from("gold"));
            let criteria = Criteria::new(vec![
                Filter::field("country", Operator::Eq, [FieldValue::from("DE")]),
                Filter::field("arr", Operator::Gte, [FieldValue::Number(400_000.0)]),
                Filter::plugin("arr-tier", arguments),
            ]);
            let start = Instant::now();
            let selection = acme.criteria().run(&criteria).unwrap();
            println!(
                "criteria (2 built-in + arr-tier) over {rows} companies: {:.3} s, {} match",
                start.elapsed().as_secs_f64(),
                selection.count
            );
            partner_and_admin_criteria(&acme, dir.path(), rows, &criteria);
            relationship_imports(&acme, dir.path(), rows);
        }
    }
    for (run, contract) in runs[1..].iter().zip(["0.1.0", "0.2.0"]) {
        println!(
            "plugin cost ({contract}): {:.2}x the import without a plugin (CPU time: {:.2}x)",
            run.0 / runs[0].0,
            run.1 / runs[0].1
        );
    }
}
