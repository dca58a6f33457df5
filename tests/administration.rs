//! Plugin administration, end to end: real plugins built from source, installed into a real
//! SQLite file, enabled per tenant, run through the hooks. Each test is one rule of the
//! registry, the enablement, or the safety net (breaker, audit, run log).

use crate::support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cs_host::model::{AccessScope, FieldValue};
use cs_host::{
    Capability, CompanyKey, EnableOptions, ErrorKind, ExtensionPoint, FailurePolicy, FieldType,
    Host, ImportOptions, InstallOutcome, Limits, ManualClock, NewCompany, Tenant, TenantLevel,
};
use serde_json::{Value, json};

use support::plugin_bytes;

const OPS: &str = "ops@platform.example";
const ADMIN: &str = "admin@acme.example";

/// A host on a database file in `dir`, with a manual clock, caching compiled plugins where the
/// other tests do.
fn host(dir: &Path) -> Host {
    let clock = Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
    ));
    let config = support::host_config().clock(clock);
    let host = Host::open(dir.join("cs.db"), config).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    host.create_tenant("globex", "Globex", TenantLevel::Both)
        .unwrap();
    host
}

fn install(host: &Host, crate_name: &str) {
    host.install_plugin(&plugin_bytes(crate_name), OPS)
        .unwrap_or_else(|e| panic!("installing {crate_name}: {e}"));
}

/// Tenant `tenant`, acting as its admin (added the first time).
fn admin<'h>(host: &'h Host, tenant: &str) -> Tenant<'h> {
    let handle = host.tenant(tenant).unwrap();
    if handle.users().by_email(ADMIN).unwrap().is_none() {
        handle.access().add_admin(ADMIN, "Ada").unwrap();
    }
    handle.acting_as(ADMIN)
}

/// Import rows as `cshost plugin run --input` takes them: a name and empty notes each.
fn rows(names: &[&str]) -> Value {
    let rows: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            json!({"number": i + 2, "source": [name], "fields": {"name": name, "notes": ""}})
        })
        .collect();
    json!({"columns": ["Name"], "rows": rows})
}

fn import(tenant: &Tenant<'_>, names: &[&str]) -> Vec<Value> {
    let out = tenant
        .hooks()
        .run(ExtensionPoint::FieldMapper, rows(names), None)
        .unwrap();
    out.as_array().unwrap().clone()
}

fn share(customer_id: &str) -> Value {
    json!({
        "event": {
            "plan_id": "7", "plan_name": "Onboarding", "customer_id": customer_id,
            "customer_name": "whoever", "audience": "users",
            "recipients": [{"email": "csm@acme.example", "name": "CSM"}],
            "subject": "Our plan", "shared_by": "csm@acme.example"
        },
        "planned": [{"channel": "email", "recipient": "csm@acme.example",
                     "subject": "Our plan", "body": "default"}]
    })
}

fn stats_of(tenant: &Tenant<'_>, plugin: &str) -> cs_host::RunStats {
    tenant
        .plugins()
        .stats()
        .unwrap()
        .into_iter()
        .find(|s| s.plugin == plugin)
        .unwrap_or_else(|| panic!("no run log for {plugin}"))
}

#[test]
fn config_is_checked_against_the_declared_keys() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path());
    install(&host, "tag-source");
    install(&host, "normalize-partner");
    let acme = admin(&host, "acme");

    let missing = acme
        .plugins()
        .enable("tag-source", EnableOptions::new())
        .unwrap_err();
    assert!(
        matches!(missing.kind(), ErrorKind::PluginConfig { plugin, key, .. }
            if plugin == "tag-source" && key == "tag"),
        "{missing}"
    );
    assert!(missing.to_string().contains("required"), "{missing}");

    let unknown = acme
        .plugins()
        .enable(
            "tag-source",
            EnableOptions::new()
                .config("tag", "web")
                .config("colour", "red"),
        )
        .unwrap_err();
    assert!(
        matches!(unknown.kind(), ErrorKind::PluginConfig { key, .. } if key == "colour"),
        "{unknown}"
    );
    assert!(unknown.to_string().contains("it declares tag"), "{unknown}");

    let greedy = acme
        .plugins()
        .enable(
            "tag-source",
            EnableOptions::new()
                .config("tag", "web")
                .limits(Limits::default().fuel(u64::MAX)),
        )
        .unwrap_err();
    assert!(
        matches!(greedy.kind(), ErrorKind::LimitsExceeded { limits, .. } if limits == &["fuel"]),
        "{greedy}"
    );

    let unrequested = acme
        .plugins()
        .enable(
            "normalize-partner",
            EnableOptions::new().grant(Capability::ReadCompanies),
        )
        .unwrap_err();
    assert!(
        unrequested.to_string().contains("does not request"),
        "{unrequested}"
    );

    // Nothing refused was saved.
    assert!(acme.plugins().list().unwrap().is_empty());

    let enabled = acme
        .plugins()
        .enable("tag-source", EnableOptions::new().config("tag", "web"))
        .unwrap();
    assert_eq!(enabled.config["tag"], "web");
    let refused = acme
        .plugins()
        .configure("tag-source", [("color".to_owned(), "x".to_owned())].into());
    assert!(refused.is_err());
    assert_eq!(
        acme.plugins().get("tag-source").unwrap().config["tag"],
        "web"
    );
}

#[test]
fn plugins_run_in_priority_order_each_seeing_the_previous_output() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path());
    install(&host, "tag-source");
    install(&host, "normalize-partner");
    let acme = admin(&host, "acme");
    acme.plugins()
        .enable("normalize-partner", EnableOptions::new().priority(1))
        .unwrap();
    acme.plugins()
        .enable(
            "tag-source",
            EnableOptions::new().config("tag", "web").priority(2),
        )
        .unwrap();
    // normalize-partner first: tag-source sees the title-cased name.
    let out = import(&acme, &["acme corp"]);
    assert_eq!(out[0]["verdict"], "keep");
    assert_eq!(out[0]["fields"]["name"], "Acme Corp");
    assert_eq!(out[0]["fields"]["notes"], "web: Acme Corp");

    // Swap them: tag-source now sees the name as imported.
    acme.plugins()
        .enable("tag-source", EnableOptions::new().priority(0))
        .unwrap();
    let out = import(&acme, &["acme corp"]);
    assert_eq!(out[0]["fields"]["name"], "Acme Corp");
    assert_eq!(out[0]["fields"]["notes"], "web: acme corp");
}

#[test]
fn a_capability_is_held_only_when_requested_and_granted() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path());
    install(&host, "lookup-probe");
    let acme = admin(&host, "acme");
    let id = acme
        .companies()
        .add(NewCompany::new("Acme Customer"))
        .unwrap();
    acme.plugins()
        .enable("lookup-probe", EnableOptions::new())
        .unwrap();

    // Not granted: the look-up is denied, the probe fails, and fail-closed holds the share.
    let out = acme
        .hooks()
        .run(ExtensionPoint::Notifier, share(&id.to_string()), None)
        .unwrap();
    assert_eq!(out["error"]["code"], "capability-not-granted", "{out}");
    assert_eq!(out["error"]["plugin"], "lookup-probe");
    assert_eq!(out["held"][0]["body"], "default");
    let stats = stats_of(&acme, "lookup-probe");
    assert_eq!(stats.failures_by_kind["capability-not-granted"], 1);
    assert_eq!(stats.denied, 1);

    acme.plugins()
        .grant("lookup-probe", Capability::ReadCompanies)
        .unwrap();
    let out = acme
        .hooks()
        .run(ExtensionPoint::Notifier, share(&id.to_string()), None)
        .unwrap();
    assert_eq!(out["send"][0]["subject"], "lookup", "{out}");
    assert_eq!(out["send"][0]["body"], "Acme Customer");

    acme.plugins()
        .revoke("lookup-probe", Capability::ReadCompanies)
        .unwrap();
    let out = acme
        .hooks()
        .run(ExtensionPoint::Notifier, share(&id.to_string()), None)
        .unwrap();
    assert_eq!(out["error"]["code"], "capability-not-granted", "{out}");
    assert_eq!(stats_of(&acme, "lookup-probe").denied, 2);
}

#[test]
fn fail_open_skips_the_plugin_and_fail_closed_fails_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path());
    install(&host, "panic");
    install(&host, "spin");
    install(&host, "tag-source");
    let acme = admin(&host, "acme");
    acme.plugins()
        .enable(
            "panic",
            EnableOptions::new()
                .priority(0)
                .failure_policy(FailurePolicy::FailOpen),
        )
        .unwrap();
    acme.plugins()
        .enable(
            "spin",
            EnableOptions::new()
                .priority(1)
                .failure_policy(FailurePolicy::FailOpen)
                .limits(
                    Limits::default()
                        .fuel(5_000_000)
                        .deadline(Duration::from_secs(5)),
                ),
        )
        .unwrap();
    acme.plugins()
        .enable(
            "tag-source",
            EnableOptions::new().priority(2).config("tag", "web"),
        )
        .unwrap();

    // Both hostile plugins fail and are skipped: tag-source still runs on the row.
    let out = import(&acme, &["acme corp"]);
    assert_eq!(out[0]["verdict"], "keep", "{out:?}");
    assert_eq!(out[0]["fields"]["notes"], "web: acme corp");
    assert_eq!(stats_of(&acme, "panic").failures_by_kind["trap"], 1);
    assert_eq!(
        stats_of(&acme, "spin").failures_by_kind["fuel-exhausted"],
        1
    );
    assert_eq!(stats_of(&acme, "tag-source").failures, 0);

    // The failure is kept with its input, which `cshost plugin run` replays as it was.
    let failures = acme.plugins().failures(Some("panic")).unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].hook, "csv-row-mapped");
    let input = dir.path().join("replay.json");
    std::fs::write(&input, failures[0].input.to_string()).unwrap();
    let replay = Command::new(env!("CARGO_BIN_EXE_cshost"))
        .arg("plugin")
        .arg("run")
        .arg(support::plugin_path("panic"))
        .args(["--hook", "csv-row-mapped", "--input"])
        .arg(&input)
        .env("CSHOST_CACHE_DIR", support::cache_dir())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&replay.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&replay.stderr)));
    assert_eq!(report["error"]["code"], "trap", "{report}");

    // Fail-closed: the row fails with the plugin's error, and later plugins do not run.
    acme.plugins()
        .enable(
            "panic",
            EnableOptions::new().failure_policy(FailurePolicy::FailClosed),
        )
        .unwrap();
    let out = import(&acme, &["acme corp"]);
    assert_eq!(out[0]["verdict"], "failed", "{out:?}");
    assert_eq!(out[0]["error"]["plugin"], "panic");
    assert_eq!(out[0]["error"]["code"], "trap");
    assert!(
        out[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("hostile plugin panicked on purpose")
    );
    assert_eq!(stats_of(&acme, "tag-source").calls, 1);
}

#[test]
fn the_breaker_disables_a_failing_plugin_and_it_stays_off() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path());
    install(&host, "panic");
    install(&host, "tag-source");
    let acme = admin(&host, "acme");
    acme.plugins()
        .enable(
            "panic",
            EnableOptions::new()
                .failure_policy(FailurePolicy::FailOpen)
                .breaker_threshold(3)
                .admin("plugins@acme.example"),
        )
        .unwrap();
    acme.plugins()
        .enable(
            "tag-source",
            EnableOptions::new().config("tag", "web").priority(1),
        )
        .unwrap();

    // Two failures in a row: still on. The count carries over to the next import.
    import(&acme, &["a", "b"]);
    let panic = acme.plugins().get("panic").unwrap();
    assert!(panic.enabled);
    assert_eq!(panic.consecutive_failures, 2);

    // The third trips it: the rest of this import no longer calls it.
    let out = import(&acme, &["c", "d", "e"]);
    assert!(out.iter().all(|row| row["verdict"] == "keep"), "{out:?}");
    assert_eq!(stats_of(&acme, "panic").calls, 3);
    let panic = acme.plugins().get("panic").unwrap();
    assert!(!panic.enabled);
    let reason = panic.disabled_reason.unwrap();
    assert!(reason.contains("3 consecutive failures"), "{reason}");
    assert!(reason.contains("hostile plugin panicked"), "{reason}");

    // It stays off.
    import(&acme, &["f", "g"]);
    assert_eq!(stats_of(&acme, "panic").calls, 3);
    assert_eq!(stats_of(&acme, "tag-source").calls, 7);

    let log = acme.audit().list().unwrap();
    let trip = log
        .iter()
        .find(|e| e.action == "plugin.auto-disable")
        .expect("the automatic disable is audited");
    assert_eq!(trip.actor, "system");
    assert_eq!(trip.before.as_ref().unwrap()["enabled"], true);
    assert_eq!(trip.after.as_ref().unwrap()["enabled"], false);

    // The admin is told through the outbox.
    drop(host);
    let db = rusqlite::Connection::open(dir.path().join("cs.db")).unwrap();
    let (recipient, kind, subject): (String, String, String) = db
        .query_row(
            "SELECT recipient, kind, subject FROM outbox WHERE tenant_id = 'acme'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(recipient, "plugins@acme.example");
    assert_eq!(kind, "plugin-disabled");
    assert!(subject.contains("panic"), "{subject}");
}

#[test]
fn an_upgrade_keeps_each_tenants_config_and_moves_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path());
    install(&host, "arr-tier");
    let tiers = "small=0..1000,big=1000..";
    let acme = admin(&host, "acme");
    acme.plugins()
        .enable("arr-tier", EnableOptions::new().config("tiers", tiers))
        .unwrap();
    let globex = admin(&host, "globex");
    globex
        .plugins()
        .enable(
            "arr-tier",
            EnableOptions::new()
                .config("tiers", tiers)
                .follow_latest(true),
        )
        .unwrap();

    let installed = host
        .install_plugin(&plugin_bytes("arr-tier-next"), OPS)
        .unwrap();
    assert_eq!(
        installed.outcome,
        InstallOutcome::Upgraded {
            from: "0.1.0".into()
        }
    );
    assert_eq!(installed.moved, ["globex"]);
    assert_eq!(acme.plugins().get("arr-tier").unwrap().version, "0.1.0");
    let moved = globex.plugins().get("arr-tier").unwrap();
    assert_eq!(
        (moved.version.as_str(), moved.config["tiers"].as_str()),
        ("0.2.0", tiers)
    );

    let listed = host.installed_plugins().unwrap();
    let versions: Vec<(&str, bool)> = listed
        .iter()
        .map(|p| (p.manifest.version.as_str(), p.latest))
        .collect();
    assert_eq!(versions, [("0.2.0", true), ("0.1.0", false)]);

    // The same bytes again: nothing changes.
    let again = host.install_plugin(&plugin_bytes("arr-tier"), OPS).unwrap();
    assert_eq!(again.outcome, InstallOutcome::AlreadyInstalled);

    let input = json!({
        "arguments": {"tier": "big"},
        "companies": [{"id": "1", "name": "Small", "fields": {"arr": 500}},
                      {"id": "2", "name": "Big", "fields": {"arr": 5000}}]
    });
    let matches = |tenant: &Tenant<'_>| {
        let out = tenant
            .hooks()
            .run(
                ExtensionPoint::CriteriaFilter,
                input.clone(),
                Some("arr-tier"),
            )
            .unwrap();
        out.as_array()
            .unwrap()
            .iter()
            .map(|c| c["matches"].as_bool().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(matches(&acme), [false, true]);

    let upgraded = acme.plugins().upgrade("arr-tier", None).unwrap();
    assert_eq!(upgraded.version, "0.2.0");
    assert_eq!(upgraded.config["tiers"], tiers);
    assert_eq!(matches(&acme), [false, true]);

    // Uninstall: refused while enabled, unless forced.
    host.uninstall_plugin("arr-tier", Some("0.1.0"), false, OPS)
        .unwrap();
    let refused = host
        .uninstall_plugin("arr-tier", None, false, OPS)
        .unwrap_err();
    assert!(
        matches!(refused.kind(), ErrorKind::PluginInUse { tenants, .. }
            if tenants == &["acme", "globex"]),
        "{refused}"
    );
    host.uninstall_plugin("arr-tier", None, true, OPS).unwrap();
    assert!(acme.plugins().list().unwrap().is_empty());
    assert!(host.installed_plugins().unwrap().is_empty());
}

#[test]
fn enable_disable_and_config_changes_apply_to_the_next_operation() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path());
    install(&host, "tag-source");
    let acme = admin(&host, "acme");
    acme.plugins()
        .enable("tag-source", EnableOptions::new().config("tag", "web"))
        .unwrap();
    assert_eq!(import(&acme, &["x"])[0]["fields"]["notes"], "web: x");

    acme.plugins().disable("tag-source").unwrap();
    assert_eq!(import(&acme, &["x"])[0]["fields"]["notes"], "");

    // Enabled again: the configuration was kept.
    acme.plugins()
        .enable("tag-source", EnableOptions::new())
        .unwrap();
    assert_eq!(import(&acme, &["x"])[0]["fields"]["notes"], "web: x");

    acme.plugins()
        .configure("tag-source", [("tag".to_owned(), "crm".to_owned())].into())
        .unwrap();
    assert_eq!(import(&acme, &["x"])[0]["fields"]["notes"], "crm: x");
}

#[test]
fn a_change_never_reaches_an_operation_already_running() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path());
    install(&host, "tag-source");
    let acme = admin(&host, "acme");
    acme.companies()
        .define_field("notes", FieldType::Text, false)
        .unwrap();
    acme.plugins()
        .enable("tag-source", EnableOptions::new().config("tag", "web"))
        .unwrap();
    let csv = dir.path().join("partners.csv");
    std::fs::write(&csv, "Name\nAda\nBea\nCy\n").unwrap();

    // One row per batch: after the first, the admin reconfigures and disables the plugin while
    // the import is still running.
    let options = ImportOptions::partners(Some(AccessScope::Both)).batch_rows(1);
    let mut changed = false;
    acme.imports()
        .file_with_progress(&csv, &options, &mut |_| {
            if !changed {
                let other = admin(&host, "acme");
                other
                    .plugins()
                    .configure("tag-source", [("tag".to_owned(), "crm".to_owned())].into())
                    .unwrap();
                other.plugins().disable("tag-source").unwrap();
                changed = true;
            }
        })
        .unwrap();
    assert!(changed, "the import reported progress between batches");
    for name in ["Ada", "Bea", "Cy"] {
        let company = acme
            .companies()
            .get(CompanyKey::Name(name))
            .unwrap()
            .unwrap();
        assert_eq!(
            company.fields.get("notes"),
            Some(&FieldValue::from(format!("web: {name}"))),
            "{name} was mapped with the enablement the import started with"
        );
    }

    // The next operation sees the change: the plugin is off.
    std::fs::write(&csv, "Name\nDee\n").unwrap();
    acme.imports().file(&csv, &options).unwrap();
    let dee = acme
        .companies()
        .get(CompanyKey::Name("Dee"))
        .unwrap()
        .unwrap();
    assert_eq!(dee.fields.get("notes"), None);
}

#[test]
fn lookup_rejects_other_tenants_ids_and_plugins_never_run_for_other_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path());
    install(&host, "lookup-probe");
    install(&host, "tag-source");
    let acme = admin(&host, "acme");
    let globex = admin(&host, "globex");
    let ours = acme
        .companies()
        .add(NewCompany::new("Acme Customer"))
        .unwrap();
    let theirs = globex
        .companies()
        .add(NewCompany::new("Globex Secret"))
        .unwrap();
    acme.plugins()
        .enable(
            "lookup-probe",
            EnableOptions::new().grant(Capability::ReadCompanies),
        )
        .unwrap();
    acme.plugins()
        .enable("tag-source", EnableOptions::new().config("tag", "web"))
        .unwrap();

    let body = |tenant: &Tenant<'_>, id: i64| {
        let out = tenant
            .hooks()
            .run(ExtensionPoint::Notifier, share(&id.to_string()), None)
            .unwrap();
        out["send"][0]["body"].as_str().unwrap().to_owned()
    };
    assert_eq!(body(&acme, ours), "Acme Customer");
    // Globex's id, asked for by Acme's plugin, finds nothing.
    assert_eq!(body(&acme, theirs), "not found");

    // Globex enabled nothing: its share goes out as planned, its import untouched, and its
    // run log stays empty.
    assert_eq!(body(&globex, theirs), "default");
    assert_eq!(import(&globex, &["x"])[0]["fields"]["notes"], "");
    assert!(globex.plugins().stats().unwrap().is_empty());
    assert_eq!(stats_of(&acme, "lookup-probe").calls, 2);
}

#[test]
fn the_audit_log_tells_the_whole_story() {
    let dir = tempfile::tempdir().unwrap();
    let host = host(dir.path());
    install(&host, "lookup-probe");
    let acme = admin(&host, "acme");
    acme.plugins()
        .enable("lookup-probe", EnableOptions::new().breaker_threshold(1))
        .unwrap();
    acme.plugins()
        .grant("lookup-probe", Capability::ReadCompanies)
        .unwrap();
    acme.plugins()
        .revoke("lookup-probe", Capability::ReadCompanies)
        .unwrap();
    acme.plugins().disable("lookup-probe").unwrap();
    acme.plugins()
        .enable("lookup-probe", EnableOptions::new().priority(5))
        .unwrap();
    // Denied look-up, fail-closed, threshold 1: the breaker trips on the first share.
    acme.hooks()
        .run(ExtensionPoint::Notifier, share("1"), None)
        .unwrap();
    host.install_plugin(&plugin_bytes("lookup-probe"), OPS)
        .unwrap();

    let story: Vec<(String, String, Option<String>)> = acme
        .audit()
        .list()
        .unwrap()
        .into_iter()
        .filter(|e| e.subject == "plugin:lookup-probe")
        .map(|e| (e.action, e.actor, e.tenant))
        .collect();
    let acme_id = Some("acme".to_owned());
    assert_eq!(
        story,
        [
            ("plugin.install".into(), OPS.into(), None),
            ("plugin.enable".into(), ADMIN.into(), acme_id.clone()),
            ("plugin.grant".into(), ADMIN.into(), acme_id.clone()),
            ("plugin.revoke".into(), ADMIN.into(), acme_id.clone()),
            ("plugin.disable".into(), ADMIN.into(), acme_id.clone()),
            ("plugin.enable".into(), ADMIN.into(), acme_id.clone()),
            (
                "plugin.auto-disable".into(),
                "system".into(),
                acme_id.clone()
            ),
        ]
    );
    let log = acme.audit().list().unwrap();
    let grant = log.iter().find(|e| e.action == "plugin.grant").unwrap();
    assert_eq!(grant.before.as_ref().unwrap()["grants"], json!([]));
    assert_eq!(
        grant.after.as_ref().unwrap()["grants"],
        json!(["read-companies"])
    );
    let reenable = log.iter().rfind(|e| e.action == "plugin.enable").unwrap();
    assert_eq!(reenable.before.as_ref().unwrap()["enabled"], false);
    assert_eq!(reenable.after.as_ref().unwrap()["priority"], 5);
    assert!(log.iter().all(|e| e.at == 1_800_000_000));
}

/// Runs `cshost` on the database in `dir`, returning its stdout; fails the test on a failure.
fn cshost(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cshost"))
        .args(args)
        .env("CSHOST_DB", dir.join("cs.db"))
        .env("CSHOST_CACHE_DIR", support::cache_dir())
        .env("CSHOST_ACTOR", ADMIN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cshost {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_command_line_administers_plugins_and_replays_a_recorded_failure() {
    let dir = tempfile::tempdir().unwrap();
    {
        // The commands act as the tenant's admin.
        let host = host(dir.path());
        admin(&host, "acme");
    }
    let panic_wasm = support::plugin_path("panic");
    let panic_wasm = panic_wasm.to_str().unwrap();
    cshost(dir.path(), &["plugin", "install", panic_wasm]);
    let again = cshost(dir.path(), &["plugin", "install", panic_wasm]);
    assert!(again.contains("nothing changed"), "{again}");
    let listed: Value =
        serde_json::from_str(&cshost(dir.path(), &["plugin", "list", "--json"])).unwrap();
    assert_eq!(listed[0]["manifest"]["name"], "panic");
    cshost(
        dir.path(),
        &[
            "tenant",
            "enable",
            "acme",
            "panic",
            "--policy",
            "fail-open",
            "--breaker",
            "10",
        ],
    );
    let table = cshost(dir.path(), &["tenant", "plugins", "acme"]);
    assert!(table.contains("fail-open"), "{table}");

    // The host runs the plugin in an import and records the failure.
    {
        let host = host_again(dir.path());
        import(&host.tenant("acme").unwrap(), &["acme corp"]);
    }
    let stats: Value =
        serde_json::from_str(&cshost(dir.path(), &["tenant", "stats", "acme", "--json"])).unwrap();
    assert_eq!(stats[0]["failures_by_kind"]["trap"], 1, "{stats}");
    let failures: Value = serde_json::from_str(&cshost(
        dir.path(),
        &["tenant", "stats", "acme", "--failures", "--json"],
    ))
    .unwrap();
    let id = failures[0]["id"].to_string();
    let out = dir.path().join("replay");
    let printed = cshost(
        dir.path(),
        &[
            "tenant",
            "stats",
            "acme",
            "--replay",
            &id,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let command = printed.lines().last().unwrap();
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    let replay = Command::new(env!("CARGO_BIN_EXE_cshost"))
        .args(&args)
        .env("CSHOST_CACHE_DIR", support::cache_dir())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(report["error"]["code"], "trap", "{report}");

    let audit = cshost(dir.path(), &["tenant", "audit", "acme", "--json"]);
    let audit: Value = serde_json::from_str(&audit).unwrap();
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "tenant.create",
            "user.add",
            "bundle.assign",
            "plugin.install",
            "plugin.enable"
        ]
    );
    let refused = Command::new(env!("CARGO_BIN_EXE_cshost"))
        .args(["plugin", "uninstall", "panic"])
        .env("CSHOST_DB", dir.path().join("cs.db"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("enabled for acme"));
    cshost(dir.path(), &["plugin", "uninstall", "panic", "--force"]);
}

/// The host of a test, opened again on its database file.
fn host_again(dir: &Path) -> Host {
    let config = support::host_config();
    Host::open(dir.join("cs.db"), config).unwrap()
}
