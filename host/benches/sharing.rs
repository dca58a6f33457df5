//! What sharing a plan costs end to end: a plan shared with 10 internal users on a database
//! file (the share, ten hashed links, the audit entry, the *plan shared* hook, and ten outbox
//! messages, in their transactions), with the `share-digest` notifier enabled, against the same
//! share with no notifier enabled, in the same run. The difference is the plugin's share.
//!
//! Run with `make bench`, or
//! `env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE cargo bench -p cs-host --bench sharing`.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use criterion::Criterion;
use cs_host::model::Audience;
use cs_host::{EnableOptions, Host, Licence, NewCompany, NewPlan, ShareRequest, TenantLevel};

const RECIPIENTS: usize = 10;

/// A host on a database file with two tenants: `plain` (no plugin) and `digest` (share-digest
/// enabled), each with ten users and a plan of three objectives.
fn setup(dir: &std::path::Path) -> (Host, [i64; 2], Vec<String>) {
    let config = support::host_config();
    let host = Host::open(dir.join("bench.db"), config).unwrap();
    host.install_plugin(&support::plugin_bytes("share-digest"), "bench@example.com")
        .unwrap();
    let emails: Vec<String> = (0..RECIPIENTS)
        .map(|i| format!("user{i}@acme.example"))
        .collect();
    let mut plans = [0; 2];
    for (i, id) in ["plain", "digest"].into_iter().enumerate() {
        host.create_tenant(id, id, TenantLevel::Both).unwrap();
        let tenant = host.tenant(id).unwrap();
        tenant
            .users()
            .add("csm@acme.example", "Cem", Licence::Full)
            .unwrap();
        for email in &emails {
            tenant.users().add(email, email, Licence::Viewer).unwrap();
        }
        let company = tenant.companies().add(NewCompany::new("Globex")).unwrap();
        let plan = tenant
            .plans()
            .create(&NewPlan {
                company_id: company,
                name: "Onboarding".into(),
                ..NewPlan::default()
            })
            .unwrap();
        for objective in ["Go live", "Train admins", "First business review"] {
            tenant
                .plans()
                .add_objective(plan, objective, None, None)
                .unwrap();
        }
        plans[i] = plan;
    }
    host.tenant("digest")
        .unwrap()
        .plugins()
        .enable("share-digest", EnableOptions::new())
        .unwrap();
    (host, plans, emails)
}

fn share(host: &Host, tenant: &str, plan: i64, emails: &[String]) {
    let receipt = host
        .tenant(tenant)
        .unwrap()
        .acting_as("csm@acme.example")
        .shares()
        .share(&ShareRequest {
            note: Some("Kick-off on Monday".into()),
            ..ShareRequest::new(plan, Audience::Users, emails.iter().map(String::as_str))
        })
        .unwrap();
    assert_eq!(receipt.links.len(), RECIPIENTS);
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (host, [plain, digest], emails) = setup(dir.path());

    let mut criterion = Criterion::default()
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    let mut group = criterion.benchmark_group("share_plan_10_recipients");
    group.bench_function("no_plugin", |b| {
        b.iter(|| share(&host, "plain", plain, &emails))
    });
    group.bench_function("share_digest", |b| {
        b.iter(|| share(&host, "digest", digest, &emails))
    });
    group.finish();

    // The same two, interleaved, for a summary of the same run. Medians, so that a WAL
    // checkpoint landing in one share does not count against whichever happened to trigger it.
    let rounds = 400;
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = Instant::now();
        share(&host, "plain", plain, &emails);
        without.push(start.elapsed());
        let start = Instant::now();
        share(&host, "digest", digest, &emails);
        with.push(start.elapsed());
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2].as_secs_f64()
    };
    let (without, with) = (median(&mut without), median(&mut with));
    println!(
        "\nmedians of {rounds} interleaved rounds:\n  no plugin:    {:>8.1} µs per share, {:>6.0} shares/s\n  share-digest: {:>8.1} µs per share, {:>6.0} shares/s\n  plugin's share of the time: {:.0}%",
        without * 1e6,
        1.0 / without,
        with * 1e6,
        1.0 / with,
        (with - without) / with * 100.0
    );
    criterion.final_summary();
}
