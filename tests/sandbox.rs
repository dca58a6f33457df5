//! The sandbox, end to end: real plugins built from source, run by the real engine. Every way a
//! hostile plugin misbehaves ends in its typed error within its limit, and the host goes on
//! serving good plugins.

use crate::support;

// The logic of normalize-partner compiled natively, so its unit tests run here.
#[allow(dead_code)]
#[path = "../plugins/examples/normalize-partner/src/normalize.rs"]
mod normalize_partner_logic;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cs_host::model::{
    AccessScope, Audience, Channel, Company, CtaType, FieldValue, Fields, LifecycleAction,
    Objective, Partner, Recipient, ShareEvent,
};
use cs_host::{BatchRow, RowAction, RowOutcome, StaticDirectory};
use cs_host::{
    Capability, EnableOptions, ExtensionPoint, Host, Limits, PluginContext, PluginError,
    PluginErrorKind, PluginRuntime, RuntimeConfig, TenantLevel,
};
use serde_json::json;

use support::{load, plugin_bytes, runtime};

const FIELDS: [&str; 5] = ["name", "email", "website", "country", "region"];

fn context() -> PluginContext {
    PluginContext::new("tenant-a")
}

/// Runs a field mapper on one row of the five partner fields.
fn map_row(
    plugin: &str,
    context: &PluginContext,
    values: [&str; 5],
) -> Result<RowOutcome, PluginError> {
    let mut instance = load(plugin).instantiate(context);
    let fields: Vec<String> = FIELDS.iter().map(|f| f.to_string()).collect();
    instance.begin_rows(&[], &fields)?;
    let values: Vec<FieldValue> = values.iter().map(|v| FieldValue::from(*v)).collect();
    instance.map_row(2, &[], &values)
}

fn good_row() -> [&'static str; 5] {
    [
        "  bennett & co. ",
        "Partners@Bennett.CO",
        "https://WWW.Bennett.co/",
        "de",
        "",
    ]
}

/// After any failure, a good plugin must still serve its next call normally.
fn assert_host_still_serves() {
    let outcome =
        map_row("normalize-partner", &context(), good_row()).expect("the good plugin runs");
    let RowOutcome::Keep(fields) = outcome else {
        panic!("expected keep, got {outcome:?}")
    };
    assert_eq!(fields["name"], FieldValue::from("Bennett & Co."));
}

fn kind(result: Result<impl std::fmt::Debug, PluginError>) -> PluginErrorKind {
    result.expect_err("the call must fail").kind().clone()
}

#[test]
fn example_plugins_describe_themselves() {
    let expected = [
        ("normalize-partner", ExtensionPoint::FieldMapper),
        ("arr-tier", ExtensionPoint::CriteriaFilter),
        ("share-digest", ExtensionPoint::Notifier),
        ("partner-welcome", ExtensionPoint::Lifecycle),
    ];
    for (name, point) in expected {
        let plugin = load(name);
        let manifest = plugin.manifest();
        assert_eq!(manifest.name, name);
        assert_eq!(manifest.extension_points, vec![point], "{name}");
        assert_eq!(manifest.contract, "0.1.0");
        assert_eq!(manifest.hash.len(), 64);
        assert_eq!(manifest.size, plugin_bytes(name).len());
    }
    let regions = load("normalize-partner")
        .manifest()
        .config_key("regions")
        .cloned()
        .unwrap();
    assert!(regions.default_value.unwrap().contains("DE=EMEA"));
}

#[test]
fn normalize_partner_tidies_a_row() {
    let outcome = map_row("normalize-partner", &context(), good_row()).unwrap();
    let RowOutcome::Keep(fields) = outcome else {
        panic!("expected keep, got {outcome:?}")
    };
    assert_eq!(fields["name"], FieldValue::from("Bennett & Co."));
    assert_eq!(fields["email"], FieldValue::from("partners@bennett.co"));
    assert_eq!(
        fields["website"],
        FieldValue::from("https://www.bennett.co/")
    );
    assert_eq!(fields["region"], FieldValue::from("EMEA"));
}

#[test]
fn a_row_wider_than_64_fields_is_mapped_as_a_narrow_one() {
    // The SDK marks the fields a plugin set in a 64-bit mask; a hostile file can carry more
    // columns than that. Here the partner fields come after 70 others, so `name` is set (trimmed)
    // and read again (title-cased) past the mask, and the fillers straddle its last bit.
    let mut instance = load("normalize-partner").instantiate(&context());
    let mut fields: Vec<String> = (0..70).map(|i| format!("extra_{i:02}")).collect();
    fields.extend(FIELDS.iter().map(|f| f.to_string()));
    instance.begin_rows(&[], &fields).unwrap();
    let mut values: Vec<FieldValue> = (0..70)
        .map(|i| FieldValue::from(format!("  x{i} ")))
        .collect();
    values.extend(good_row().iter().map(|v| FieldValue::from(*v)));
    let outcome = instance.map_row(2, &[], &values).unwrap();
    let RowOutcome::Keep(changed) = outcome else {
        panic!("expected keep, got {outcome:?}")
    };
    for i in 0..70 {
        assert_eq!(
            changed[&format!("extra_{i:02}")],
            FieldValue::from(format!("x{i}")),
            "field {i}"
        );
    }
    assert_eq!(changed["name"], FieldValue::from("Bennett & Co."));
    assert_eq!(changed["email"], FieldValue::from("partners@bennett.co"));
    assert_eq!(changed["region"], FieldValue::from("EMEA"));
}

#[test]
fn normalize_partner_rejects_a_bad_email_naming_the_field() {
    let outcome = map_row(
        "normalize-partner",
        &context(),
        ["Acme", "acme at example", "", "", ""],
    );
    match outcome.unwrap() {
        RowOutcome::Reject { field, message } => {
            assert_eq!(field, "email");
            assert!(message.contains("acme at example"), "{message}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn config_overrides_the_declared_default() {
    let context = context().config("regions", "DE=Central Europe");
    let RowOutcome::Keep(fields) = map_row("normalize-partner", &context, good_row()).unwrap()
    else {
        panic!("expected keep")
    };
    assert_eq!(fields["region"], FieldValue::from("Central Europe"));
}

#[test]
fn a_plugin_is_never_called_on_a_hook_it_does_not_implement() {
    let mut instance = load("arr-tier").instantiate(&context());
    let err = instance.begin_rows(&[], &["arr".into()]).unwrap_err();
    assert!(
        matches!(err.kind(), PluginErrorKind::NotImplemented { .. }),
        "{err}"
    );
}

fn company(id: &str, name: &str, arr: Option<f64>) -> Company {
    let mut fields = Fields::new();
    fields.insert("industry".into(), FieldValue::from("Aerospace"));
    if let Some(arr) = arr {
        fields.insert("arr".into(), FieldValue::Number(arr));
    }
    Company {
        id: id.into(),
        name: name.into(),
        fields,
        ..Company::default()
    }
}

#[test]
fn arr_tier_matches_companies_in_the_named_tier() {
    let companies = vec![
        company("c1", "AAR Corp", Some(300_000.0)),
        company("c2", "Small Co", Some(10_000.0)),
        company("c3", "No ARR Inc", None),
        company("c4", "Big Co", Some(2_000_000.0)),
    ];
    let mut arguments = Fields::new();
    arguments.insert("tier".into(), FieldValue::from("gold"));
    let mut instance = load("arr-tier").instantiate(&context());
    assert_eq!(
        instance.matches(&arguments, &companies).unwrap(),
        [true, false, false, false]
    );

    arguments.insert("tier".into(), FieldValue::from("diamond"));
    let err = instance.matches(&arguments, &companies).unwrap_err();
    assert!(
        matches!(err.kind(), PluginErrorKind::Reported { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("diamond"), "{err}");
}

#[test]
fn criteria_filters_answer_across_batches() {
    let companies: Vec<Company> = (0..2500)
        .map(|i| {
            company(
                &format!("c{i}"),
                &format!("Company {i}"),
                Some((i * 1000) as f64),
            )
        })
        .collect();
    let mut arguments = Fields::new();
    arguments.insert("tier".into(), FieldValue::from("silver"));
    let answers = load("arr-tier")
        .instantiate(&context())
        .matches(&arguments, &companies)
        .unwrap();
    assert_eq!(answers.len(), 2500);
    let matched: Vec<usize> = (0..2500).filter(|&i| answers[i]).collect();
    assert_eq!(matched, (50..250).collect::<Vec<_>>());
}

fn share_event(objectives: usize) -> ShareEvent {
    ShareEvent {
        plan_id: "plan-1".into(),
        plan_name: "Onboarding".into(),
        customer_id: "c1".into(),
        customer_name: "AAR Corp".into(),
        audience: Audience::Contacts,
        recipients: vec![
            Recipient {
                email: "ana@aar.example".into(),
                name: "Ana".into(),
                external: true,
            },
            Recipient {
                email: "csm@tenant.example".into(),
                name: "Cem".into(),
                external: false,
            },
        ],
        visible_objectives: (0..objectives)
            .map(|i| Objective {
                id: format!("o{i}"),
                name: format!("Objective {i}"),
                status: "open".into(),
                due_date: None,
            })
            .collect(),
        include_tasks: true,
        subject: "Onboarding for AAR Corp".into(),
        note: Some("Looking forward to it".into()),
        shared_by: "csm@tenant.example".into(),
        link_expires_at: Some("2026-12-31T00:00:00Z".into()),
    }
}

#[test]
fn share_digest_routes_external_to_email_and_internal_to_in_app() {
    let mut instance = load("share-digest").instantiate(&context());
    let sent = instance.on_plan_shared(&share_event(2), &[]).unwrap();
    let channel_of = |email: &str| {
        sent.iter()
            .find(|n| n.recipient == email)
            .map(|n| n.channel)
    };
    assert_eq!(channel_of("ana@aar.example"), Some(Channel::Email));
    assert_eq!(channel_of("csm@tenant.example"), Some(Channel::InApp));
    assert!(
        sent.iter()
            .all(|n| n.body.contains("{link}") && n.body.contains("Objective 1"))
    );
    assert!(
        instance
            .on_plan_shared(&share_event(0), &[])
            .unwrap()
            .is_empty()
    );
}

#[test]
fn partner_welcome_opens_an_onboarding_cta() {
    let mut fields = Fields::new();
    fields.insert("email".into(), FieldValue::from("hello@bennett.example"));
    let partner = Partner {
        company: Company {
            id: "p1".into(),
            name: "Bennett & Co.".into(),
            fields,
            ..Company::default()
        },
        scope: AccessScope::Both,
    };
    let actions = load("partner-welcome")
        .instantiate(&context())
        .on_partner_created(&partner)
        .unwrap();
    assert!(actions.iter().any(|a| matches!(a,
        LifecycleAction::OpenCta(cta) if cta.kind == CtaType::Lifecycle && cta.name == "Partner onboarding")));
    assert!(actions.iter().any(|a| matches!(a,
        LifecycleAction::Notify(n) if n.recipient == "hello@bennett.example")));
}

#[test]
fn an_infinite_loop_stops_at_its_deadline() {
    let limits = Limits::default()
        .deadline(Duration::from_millis(50))
        .fuel(u64::MAX / 2);
    let started = Instant::now();
    let kind = kind(map_row("spin", &context().limits(limits), good_row()));
    assert_eq!(
        kind,
        PluginErrorKind::DeadlineExceeded {
            deadline: Duration::from_millis(50)
        }
    );
    // The ticker checks every millisecond; allow for a loaded machine, but not for a hang.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_host_still_serves();
}

#[test]
fn an_infinite_loop_stops_at_its_deadline_after_the_runtime_sat_idle() {
    // The epoch ticker parks once no call has run for ten ticks; the next call must wake it, or
    // a call that never returns runs on until its fuel is spent. A runtime of its own, so that
    // no other test's calls keep its ticker awake.
    let runtime = PluginRuntime::new(RuntimeConfig::default().cache_dir(support::cache_dir()))
        .expect("runtime starts");
    let plugin = runtime.load(&plugin_bytes("spin")).expect("spin loads");
    let limits = Limits::default()
        .deadline(Duration::from_millis(50))
        .fuel(20_000_000_000);
    let fields: Vec<String> = FIELDS.iter().map(|f| f.to_string()).collect();
    let values: Vec<FieldValue> = good_row().iter().map(|v| FieldValue::from(*v)).collect();
    for _ in 0..2 {
        let mut instance = plugin.instantiate(&context().limits(limits));
        instance.begin_rows(&[], &fields).expect("begin");
        // Long enough for the ticker to park (ten ticks of 1 ms).
        std::thread::sleep(Duration::from_millis(100));
        let error = instance
            .map_row(2, &[], &values)
            .expect_err("spin never returns");
        assert_eq!(
            error.kind(),
            &PluginErrorKind::DeadlineExceeded {
                deadline: Duration::from_millis(50)
            }
        );
    }
}

#[test]
fn an_infinite_loop_stops_when_its_fuel_runs_out() {
    let limits = Limits::default()
        .fuel(5_000_000)
        .deadline(Duration::from_secs(30));
    let kind = kind(map_row("spin", &context().limits(limits), good_row()));
    assert_eq!(kind, PluginErrorKind::FuelExhausted { budget: 5_000_000 });
    assert_host_still_serves();
}

#[test]
fn a_memory_bomb_hits_its_memory_limit() {
    let limits = Limits::default().memory(16 << 20);
    let kind = kind(map_row(
        "memory-bomb",
        &context().limits(limits),
        good_row(),
    ));
    assert_eq!(kind, PluginErrorKind::MemoryLimit { limit: 16 << 20 });
    assert_host_still_serves();
}

#[test]
fn unbounded_recursion_is_a_trap() {
    match kind(map_row("recursion", &context(), good_row())) {
        PluginErrorKind::Trap { reason, .. } => {
            assert!(reason.contains("stack overflow"), "{reason}")
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_host_still_serves();
}

#[test]
fn a_panic_is_a_trap_with_the_panic_message() {
    match kind(map_row("panic", &context(), good_row())) {
        PluginErrorKind::Trap {
            panic: Some(message),
            ..
        } => {
            assert!(
                message.contains("hostile plugin panicked on purpose"),
                "{message}"
            )
        }
        other => panic!("expected a trap with the panic message, got {other:?}"),
    }
    assert_host_still_serves();
}

#[test]
fn a_huge_return_value_is_refused_by_the_output_cap() {
    match kind(map_row("huge-output", &context(), good_row())) {
        PluginErrorKind::OutputTooLarge { size, limit } => {
            assert_eq!(limit, 1 << 20);
            // The host stops copying the value near the cap: it never holds all 8 MiB.
            assert!(size > limit, "{size}");
        }
        other => panic!("expected output-too-large, got {other:?}"),
    }
    // The same output within a raised cap goes through: the cap, not the plugin, refused it.
    let limits = Limits::default().output(16 << 20);
    assert!(map_row("huge-output", &context().limits(limits), good_row()).is_ok());
    assert_host_still_serves();
}

#[test]
fn a_component_importing_sockets_is_refused_naming_the_import() {
    let err = runtime().load(&plugin_bytes("sockets")).unwrap_err();
    match err.kind() {
        PluginErrorKind::ForbiddenImport { import } => {
            assert!(import.starts_with("wasi:sockets/"), "{import}")
        }
        other => panic!("expected forbidden-import, got {other:?}"),
    }
    assert!(err.to_string().contains("wasi:sockets/"), "{err}");
}

#[test]
fn a_component_without_an_extension_point_is_refused() {
    let err = runtime().load(&plugin_bytes("no-extension")).unwrap_err();
    assert!(
        matches!(err.kind(), PluginErrorKind::IncompatibleComponent { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("no extension point"), "{err}");
    assert!(
        err.to_string().contains("cs:plugin/field-mapper@0.1.0"),
        "{err}"
    );
}

#[test]
fn bytes_that_are_not_a_component_are_refused() {
    let err = runtime().load(b"\0asm\x01\0\0\0").unwrap_err();
    assert!(err.to_string().contains("core WebAssembly module"), "{err}");
    let err = runtime().load(b"GIF89a").unwrap_err();
    assert!(err.to_string().contains("not valid WebAssembly"), "{err}");
    let mut truncated = plugin_bytes("normalize-partner");
    truncated.truncate(truncated.len() / 2);
    assert!(runtime().load(&truncated).is_err());
}

fn directory() -> Arc<StaticDirectory> {
    Arc::new(StaticDirectory::new(vec![company(
        "c1",
        "AAR Corp",
        Some(1.0),
    )]))
}

#[test]
fn lookup_without_the_grant_is_a_capability_error() {
    let context = context().companies(directory());
    let kind = kind(
        load("lookup-probe")
            .instantiate(&context)
            .on_plan_shared(&share_event(1), &[]),
    );
    assert_eq!(
        kind,
        PluginErrorKind::CapabilityNotGranted {
            capability: "read-companies".into()
        }
    );
    assert_host_still_serves();
}

#[test]
fn lookup_with_the_grant_reads_the_tenants_company() {
    let context = context()
        .companies(directory())
        .grant(Capability::ReadCompanies);
    let mut instance = load("lookup-probe").instantiate(&context);
    let sent = instance.on_plan_shared(&share_event(1), &[]).unwrap();
    assert_eq!(sent[0].body, "AAR Corp");
    assert_eq!(instance.last_call().denied, None);
}

#[test]
fn a_grant_is_useless_to_a_plugin_that_did_not_request_it() {
    // lookup-unrequested calls the look-up without declaring read-companies; the tenant's
    // enablement grants it anyway. The directory stays closed: a capability needs both.
    assert!(
        load("lookup-unrequested")
            .manifest()
            .capabilities
            .is_empty()
    );
    let context = context()
        .companies(directory())
        .grant(Capability::ReadCompanies);
    let mut instance = load("lookup-unrequested").instantiate(&context);
    let kind = kind(instance.on_plan_shared(&share_event(1), &[]));
    assert_eq!(
        kind,
        PluginErrorKind::CapabilityNotGranted {
            capability: "read-companies".into()
        }
    );
    assert_eq!(instance.last_call().denied, Some(Capability::ReadCompanies));
    // The same grant serves the plugin that requested it.
    let mut probe = load("lookup-probe").instantiate(&context);
    assert_eq!(
        probe.on_plan_shared(&share_event(1), &[]).unwrap()[0].body,
        "AAR Corp"
    );
}

#[test]
fn one_instance_serves_rows_after_a_trap_on_an_earlier_row() {
    // One instance serves a whole import: a trap on one row fails that row alone, and the same
    // instance maps the rows after it, on a fresh guest (its call count starts again).
    let mut instance = load("trap-on-row").instantiate(&context());
    instance
        .begin_rows(&[], &["name".into(), "notes".into()])
        .unwrap();
    let mut notes = |number: u64, name: &str| {
        let outcome = instance.map_row(number, &[], &[FieldValue::from(name), FieldValue::Null]);
        match outcome {
            Ok(RowOutcome::Keep(fields)) => Ok(fields["notes"].clone()),
            Ok(other) => panic!("row {number}: expected keep, got {other:?}"),
            Err(error) => Err(error),
        }
    };
    assert_eq!(notes(2, "a").unwrap(), FieldValue::from("call 1"));
    assert_eq!(notes(3, "b").unwrap(), FieldValue::from("call 2"));
    let error = notes(4, "trap").unwrap_err();
    assert_eq!(error.code(), "trap", "{error}");
    assert_eq!(notes(5, "c").unwrap(), FieldValue::from("call 1"));
    assert_eq!(notes(6, "d").unwrap(), FieldValue::from("call 2"));
    let error = notes(7, "trap").unwrap_err();
    assert_eq!(error.code(), "trap", "{error}");
    assert_eq!(notes(8, "e").unwrap(), FieldValue::from("call 1"));
}

#[test]
fn a_trap_on_one_row_of_a_batch_fails_that_row_alone() {
    // The same plugin built for cs:plugin@0.2.0 maps rows in batches. The batch with a trapping
    // row fails as a whole; the host maps its rows again one at a time, so only that row fails.
    let plugin = runtime()
        .load(&support::plugin_bytes_v0_2("trap-on-row"))
        .unwrap();
    assert_eq!(plugin.manifest().contract, "0.2.0");
    let mut instance = plugin.instantiate(&context());
    instance
        .begin_rows(&[], &["name".into(), "notes".into()])
        .unwrap();
    let mut rows: Vec<BatchRow> = ["a", "b", "trap", "c"]
        .iter()
        .zip(2..)
        .map(|(name, number)| BatchRow {
            number,
            values: vec![FieldValue::from(*name), FieldValue::Null],
            ..BatchRow::default()
        })
        .collect();
    let results = instance.map_rows(&mut rows);
    let codes: Vec<Result<RowAction, String>> = results
        .into_iter()
        .map(|(result, _)| result.map_err(|e| e.code().to_owned()))
        .collect();
    assert_eq!(
        codes,
        [
            Ok(RowAction::Keep),
            Ok(RowAction::Keep),
            Err("trap".to_owned()),
            Ok(RowAction::Keep)
        ]
    );
    // Rows mapped again one at a time: a fresh guest for the batch of each after the trap.
    assert_eq!(rows[0].values[1], FieldValue::from("call 1"));
    assert_eq!(rows[2].values[1], FieldValue::Null);
    assert_eq!(rows[3].values[1], FieldValue::from("call 1"));
    // A batch without a trap is one call on one guest.
    let mut rows: Vec<BatchRow> = (0..3)
        .map(|i| BatchRow {
            number: 10 + i,
            values: vec![FieldValue::from("x"), FieldValue::Null],
            ..BatchRow::default()
        })
        .collect();
    let results = instance.map_rows(&mut rows);
    assert!(results.iter().all(|(r, _)| r == &Ok(RowAction::Keep)));
    let notes: Vec<&FieldValue> = rows.iter().map(|row| &row.values[1]).collect();
    assert_eq!(
        notes,
        ["call 2", "call 3", "call 4"]
            .map(FieldValue::from)
            .iter()
            .collect::<Vec<_>>()
    );
}

#[test]
fn an_instance_recovers_after_a_crash_with_a_fresh_store() {
    // A plugin that crashes on every row fails each row with its own error: the crash of one
    // row never turns into "cannot enter component instance" on the next.
    let limits = Limits::default().fuel(2_000_000);
    let plugin = load("spin");
    let mut instance = plugin.instantiate(&context().limits(limits));
    instance.begin_rows(&[], &["name".into()]).unwrap();
    for number in 2..5 {
        let err = instance
            .map_row(number, &[], &[FieldValue::from("x")])
            .unwrap_err();
        assert_eq!(err.code(), "fuel-exhausted", "row {number}: {err}");
    }
}

#[test]
fn logs_are_capped_per_call() {
    // An unknown country makes normalize-partner log a line; a 10-byte log cap drops it.
    let row = ["Acme", "", "", "ZZ", ""];
    let limits = Limits::default().log(10);
    let plugin = load("normalize-partner");
    let mut instance = plugin.instantiate(&context().limits(limits));
    instance.begin_rows(&[], &FIELDS.map(String::from)).unwrap();
    let values: Vec<FieldValue> = row.iter().map(|v| FieldValue::from(*v)).collect();
    instance.map_row(2, &[], &values).unwrap();
    let log = instance.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(log[0].message.contains("dropped"), "{log:?}");

    let mut instance = plugin.instantiate(&context());
    instance.begin_rows(&[], &FIELDS.map(String::from)).unwrap();
    instance.map_row(2, &[], &values).unwrap();
    assert!(
        instance.log().iter().any(|l| l.message.contains("ZZ")),
        "{:?}",
        instance.log()
    );
}

#[test]
fn calls_report_fuel_and_memory() {
    let mut instance = load("normalize-partner").instantiate(&context());
    instance.begin_rows(&[], &FIELDS.map(String::from)).unwrap();
    let values: Vec<FieldValue> = good_row().iter().map(|v| FieldValue::from(*v)).collect();
    // The first row also pays for the plugin's one-time set-up; compare the rows after it.
    instance.map_row(2, &[], &values).unwrap();
    instance.map_row(3, &[], &values).unwrap();
    let second = instance.last_call();
    instance.map_row(4, &[], &values).unwrap();
    // Fuel counts instructions: the same row costs the same fuel every time.
    assert_eq!(instance.last_call().fuel_used, second.fuel_used);
    assert!(second.fuel_used.unwrap() > 0);
    assert!(second.peak_memory >= 64 << 10);
}

#[test]
fn the_compile_cache_only_trusts_artifacts_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = plugin_bytes("arr-tier");
    let first = PluginRuntime::new(RuntimeConfig::default().cache_dir(dir.path())).unwrap();
    first.load(&bytes).unwrap();
    let artifacts: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cwasm"))
        .collect();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    let artifact = &artifacts[0];

    // Tamper with the cached artifact: the next runtime must not load it, but recompile.
    let mut tampered = std::fs::read(artifact).unwrap();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0xff;
    std::fs::write(artifact, &tampered).unwrap();
    let second = PluginRuntime::new(RuntimeConfig::default().cache_dir(dir.path())).unwrap();
    let plugin = second.load(&bytes).unwrap();
    assert_eq!(plugin.manifest().name, "arr-tier");
    assert_ne!(
        std::fs::read(artifact).unwrap(),
        tampered,
        "the artifact was rewritten"
    );
}

#[test]
fn a_cached_description_is_the_one_the_same_bytes_gave() {
    // With `cached_descriptions`, a plugin found in the compile cache is not asked again: a
    // plugin whose description changes from load to load keeps the answer it gave when its
    // bytes were first compiled, in every later process. The default asks again at each load,
    // which is how a host notices a plugin that disagrees with its recorded manifest.
    let dir = tempfile::tempdir().unwrap();
    let bytes = plugin_bytes("describe-switcher");
    let config = RuntimeConfig::default()
        .cache_dir(dir.path())
        .cached_descriptions(true);
    let first = PluginRuntime::new(config.clone())
        .unwrap()
        .load(&bytes)
        .unwrap()
        .manifest()
        .clone();
    for _ in 0..16 {
        let runtime = PluginRuntime::new(config.clone()).unwrap();
        assert_eq!(runtime.load(&bytes).unwrap().manifest(), &first);
    }
    let asking = PluginRuntime::new(RuntimeConfig::default().cache_dir(dir.path())).unwrap();
    let answers: std::collections::BTreeSet<Vec<String>> = (0..64)
        .map(|_| asking.load(&bytes).unwrap().manifest().reads.clone())
        .collect();
    assert_eq!(
        answers.len(),
        2,
        "asked again, it flips its coin: {answers:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_slow_plugin_does_not_block_the_async_executor() {
    let ticks = Arc::new(AtomicU64::new(0));
    let ticker = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(1)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let limits = Limits::default()
        .deadline(Duration::from_millis(200))
        .fuel(u64::MAX / 2);
    let mut instance = load("spin").instantiate(&context().limits(limits));
    instance.begin_rows(&[], &["name".into()]).unwrap();
    let (_, result) = instance
        .run_blocking(|instance| instance.map_row(2, &[], &[FieldValue::from("x")]))
        .await;
    assert_eq!(result.unwrap_err().code(), "deadline-exceeded");
    // On a single-threaded executor the ticker only advanced because the plugin ran elsewhere.
    assert!(ticks.load(Ordering::Relaxed) > 0);
    ticker.abort();
}

#[test]
fn tenants_get_separate_instances_and_configuration() {
    let plugin = load("normalize-partner");
    let a = PluginContext::new("tenant-a").config("regions", "DE=Region A");
    let b = PluginContext::new("tenant-b").config("regions", "DE=Region B");
    let region = |context: &PluginContext| {
        let mut instance = plugin.instantiate(context);
        instance.begin_rows(&[], &FIELDS.map(String::from)).unwrap();
        let values: Vec<FieldValue> = good_row().iter().map(|v| FieldValue::from(*v)).collect();
        match instance.map_row(2, &[], &values).unwrap() {
            RowOutcome::Keep(fields) => fields["region"].clone(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(region(&a), FieldValue::from("Region A"));
    assert_eq!(region(&b), FieldValue::from("Region B"));
}

/// A hostile component written by hand in the component model's text format, assembled.
fn hand_written(name: &str) -> Vec<u8> {
    let path = support::root()
        .join("plugins/hostile/wat")
        .join(format!("{name}.wat"));
    wat::parse_file(&path).unwrap_or_else(|e| panic!("assembling {}: {e}", path.display()))
}

#[test]
fn a_sleep_in_a_host_wait_ends_at_the_deadline() {
    // The plugin sleeps for an hour in `wasi:io/poll`, where epoch interruption cannot reach.
    let limits = Limits::default().deadline(Duration::from_millis(100));
    // Loaded before the clock starts: the plugins are built once per test process, by whichever
    // test asks first, which on a busy machine takes longer than the bound below.
    load("sleeper");
    let started = Instant::now();
    let kind = kind(map_row("sleeper", &context().limits(limits), good_row()));
    assert_eq!(
        kind,
        PluginErrorKind::DeadlineExceeded {
            deadline: Duration::from_millis(100)
        }
    );
    // A loose bound: the point is the deadline, not the hour.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_host_still_serves();
}

#[test]
fn sixteen_memories_of_31_mib_are_capped_together_under_32_mib() {
    let err = runtime().load(&hand_written("multi-memory")).unwrap_err();
    assert_eq!(
        err.kind(),
        &PluginErrorKind::MemoryLimit { limit: 32 << 20 },
        "{err}"
    );
    assert!(err.is_plugin_fault());
    assert_host_still_serves();
}

#[test]
fn a_300_mib_static_memory_is_the_plugins_fault() {
    let err = runtime().load(&hand_written("huge-static")).unwrap_err();
    assert!(
        matches!(err.kind(), PluginErrorKind::MemoryLimit { .. }),
        "{err}"
    );
    assert!(err.is_plugin_fault(), "{err}");
    assert_host_still_serves();
}

#[test]
fn millions_of_empty_log_lines_stay_within_the_log_cap() {
    let limits = Limits::default().deadline(Duration::from_secs(20));
    let mut instance = load("empty-lines").instantiate(&context().limits(limits));
    instance.begin_rows(&[], &["name".into()]).unwrap();
    instance.map_row(1, &[], &[FieldValue::from("x")]).unwrap();
    let log = instance.log();
    // Each line counts at least 32 bytes against the 64 KiB cap, plus the note of the rest.
    assert!(log.len() <= (64 << 10) / 32 + 1, "{} lines kept", log.len());
    let last = &log.last().unwrap().message;
    assert!(last.contains("more log lines dropped"), "{last}");
    let dropped: usize = last.split(' ').next().unwrap().parse().unwrap();
    assert!(dropped > 1_000_000, "{last}");
    assert_host_still_serves();
}

#[test]
fn a_field_mapper_whose_map_row_takes_a_string_is_refused_naming_the_function() {
    let err = runtime()
        .load(&plugin_bytes("wrong-signature"))
        .unwrap_err();
    assert!(
        matches!(err.kind(), PluginErrorKind::IncompatibleComponent { .. }),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains("`cs:plugin/field-mapper@0.1.0`"),
        "{message}"
    );
    assert!(message.contains("`map-row`"), "{message}");
}

#[test]
fn a_plugin_that_describes_itself_differently_after_install_is_refused() {
    const OPS: &str = "ops@platform.example";
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let pinned = {
        let host = Host::open(&db, support::host_config()).unwrap();
        host.create_tenant("acme", "Acme", TenantLevel::Both)
            .unwrap();
        host.tenant("acme")
            .unwrap()
            .access()
            .add_admin("admin@acme.example", "Ada")
            .unwrap();
        let installed = host
            .install_plugin(&plugin_bytes("describe-switcher"), OPS)
            .unwrap();
        host.tenant("acme")
            .unwrap()
            .acting_as("admin@acme.example")
            .plugins()
            .enable("describe-switcher", EnableOptions::new())
            .unwrap();
        installed.plugin.manifest
    };
    let input = json!({
        "columns": ["Name", "SSN"],
        "rows": [{"number": 1, "source": ["Acme", "123-45-6789"],
                  "fields": {"name": "Acme", "industry": "Aerospace"}}]
    });
    // Each process loads the component again, and it flips its coin again: sooner or later it
    // disagrees with what it said at install.
    for _ in 0..64 {
        let host = Host::open(&db, support::host_config()).unwrap();
        let acme = host.tenant("acme").unwrap().acting_as("admin@acme.example");
        match acme
            .hooks()
            .run(ExtensionPoint::FieldMapper, input.clone(), None)
        {
            Ok(out) => {
                // It agreed this time: it sees exactly what the recorded manifest allows.
                let seen = out[0]["fields"]["name"].as_str().unwrap().to_owned();
                if pinned.reads == ["name"] {
                    assert_eq!(seen, "fields 1, SSN none");
                } else {
                    assert_eq!(seen, "fields 2, SSN 123-45-6789");
                }
            }
            Err(error) => {
                let message = error.to_string();
                assert!(message.contains("describe-switcher"), "{message}");
                assert!(message.contains("the fields it reads"), "{message}");
                let failures = acme.plugins().failures(Some("describe-switcher")).unwrap();
                assert_eq!(failures[0].code, "manifest-changed");
                assert!(failures[0].message.contains("the fields it reads"));
                return;
            }
        }
    }
    panic!("the plugin described itself the same way 64 times in a row");
}

/// A host on a fresh database with the tenant `acme`, its CSM as a user, and `plugin`
/// installed and enabled with `options`.
fn host_with(dir: &std::path::Path, plugin: &str, options: EnableOptions) -> Host {
    let host = Host::open(dir.join("cs.db"), support::host_config()).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    host.tenant("acme")
        .unwrap()
        .access()
        .add_admin("admin@acme.example", "Ada")
        .unwrap();
    let acme = host.tenant("acme").unwrap().acting_as("admin@acme.example");
    acme.users()
        .add("csm@acme.example", "Cem", cs_host::Licence::Full)
        .unwrap();
    host.install_plugin(&plugin_bytes(plugin), "ops@platform.example")
        .unwrap();
    acme.plugins().enable(plugin, options).unwrap();
    host
}

fn share_input() -> serde_json::Value {
    json!({
        "event": {
            "plan_id": "7", "plan_name": "Renewal 2027", "customer_id": "3",
            "customer_name": "Globex", "audience": "contacts",
            "recipients": [{"email": "pat@globex.example", "name": "Pat", "external": true}],
            "visible_objectives": [{"id": "1", "name": "Cut churn", "status": "open"}],
            "subject": "Our plan", "note": "confidential pricing", "shared_by": "csm@acme.example"
        },
        "planned": [{"channel": "email", "recipient": "pat@globex.example",
                     "subject": "Our plan", "body": "default"}]
    })
}

fn partner_input() -> serde_json::Value {
    json!({"partner": {
        "company": {"id": "9", "name": "Bennett", "fields": {"email": "hello@bennett.example"}},
        "scope": "both"
    }})
}

#[test]
fn a_notifier_cannot_mail_a_shared_plan_to_an_outside_address() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), "exfiltrator", EnableOptions::new());
    let acme = host.tenant("acme").unwrap();
    let out = acme
        .hooks()
        .run(ExtensionPoint::Notifier, share_input(), None)
        .unwrap();
    assert_eq!(out["error"]["code"], "egress-denied", "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("attacker@evil.example")
    );
    // Fail-closed: the share's own notifications are held; nothing goes to the attacker.
    let held = out["held"].as_array().unwrap();
    assert!(
        held.iter().all(|n| n["recipient"] == "pat@globex.example"),
        "{out}"
    );

    // Fail-open: the plugin is skipped and the planned notifications go out as they were.
    let acme = acme.acting_as("admin@acme.example");
    acme.plugins()
        .enable(
            "exfiltrator",
            EnableOptions::new().failure_policy(cs_host::FailurePolicy::FailOpen),
        )
        .unwrap();
    let out = acme
        .hooks()
        .run(ExtensionPoint::Notifier, share_input(), None)
        .unwrap();
    let sent = out["send"].as_array().unwrap();
    assert_eq!(sent.len(), 1, "{out}");
    assert_eq!(sent[0]["recipient"], "pat@globex.example");
}

#[test]
fn a_notifier_cannot_flood_the_outbox_with_empty_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let options = EnableOptions::new()
        .config("mode", "flood")
        .limits(Limits::default().output(4 << 10));
    let host = host_with(dir.path(), "exfiltrator", options);
    let out = host
        .tenant("acme")
        .unwrap()
        .hooks()
        .run(ExtensionPoint::Notifier, share_input(), None)
        .unwrap();
    // Empty notifications are not free: each counts against the 4 KiB output cap.
    assert_eq!(out["error"]["code"], "output-too-large", "{out}");
    assert_eq!(out["held"].as_array().unwrap().len(), 1);
}

#[test]
fn a_notifier_cannot_write_headers_through_a_subject_or_an_address() {
    let dir = tempfile::tempdir().unwrap();
    let options = EnableOptions::new().config("mode", "headers");
    let host = host_with(dir.path(), "exfiltrator", options);
    let out = host
        .tenant("acme")
        .unwrap()
        .hooks()
        .run(ExtensionPoint::Notifier, share_input(), None)
        .unwrap();
    // The address ` \tPAT@GLOBEX.EXAMPLE\r\n` is the recipient's, normalised; the subject's
    // line break is made a space by every transport (tested with the outbox).
    let sent = out["send"].as_array().unwrap();
    assert_eq!(sent[0]["recipient"], "pat@globex.example", "{out}");
}

#[test]
fn a_lifecycle_plugin_cannot_notify_outside_the_partner_or_flood_it() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), "exfiltrator", EnableOptions::new());
    let acme = host.tenant("acme").unwrap();
    let err = acme
        .hooks()
        .run(ExtensionPoint::Lifecycle, partner_input(), None)
        .unwrap_err();
    let cs_host::ErrorKind::Plugin(error) = err.kind() else {
        panic!("expected a plugin error, got {err}")
    };
    assert_eq!(error.code(), "egress-denied", "{err}");

    let acme = acme.acting_as("admin@acme.example");
    acme.plugins()
        .enable("exfiltrator", EnableOptions::new().config("mode", "flood"))
        .unwrap();
    let err = acme
        .hooks()
        .run(ExtensionPoint::Lifecycle, partner_input(), None)
        .unwrap_err();
    let cs_host::ErrorKind::Plugin(error) = err.kind() else {
        panic!("expected a plugin error, got {err}")
    };
    assert_eq!(error.code(), "output-too-large", "{err}");
}

#[test]
fn notifications_aliasing_one_buffer_are_not_copied_past_the_output_cap() {
    // 4,096 bodies all point at the same megabyte of guest memory: 4 GiB to copy.
    let mut instance = load("aliasing-notifier").instantiate(&context());
    let err = instance.on_plan_shared(&share_event(1), &[]).unwrap_err();
    match err.kind() {
        PluginErrorKind::OutputTooLarge { size, limit } => {
            assert_eq!(*limit, 1 << 20);
            // The host stopped copying at about twice the cap.
            assert!(*size <= 3 << 20, "{size}");
        }
        other => panic!("expected output-too-large, got {other:?}"),
    }
    assert_host_still_serves();
}

#[test]
fn changed_values_whose_spans_all_cover_one_text_are_not_copied_past_the_output_cap() {
    // A 0.2.0 mapper answers a 256 KiB text and 3,000 changes that each name all of it: a small
    // answer to lift, 750 MiB if every span were copied out. Each span counts at its length.
    let plugin = load("span-amplifier");
    assert_eq!(plugin.manifest().contract, "0.2.0");
    let mut instance = plugin.instantiate(&context());
    instance.begin_rows(&[], &["name".into()]).unwrap();
    let mut rows: Vec<BatchRow> = (2..4)
        .map(|number| BatchRow {
            number,
            values: vec![FieldValue::from("Acme")],
            ..BatchRow::default()
        })
        .collect();
    for (result, _) in instance.map_rows(&mut rows) {
        let error = result.expect_err("over the output cap");
        assert_eq!(error.code(), "output-too-large", "{error}");
    }
    // Nothing of the answer reached the rows.
    assert!(
        rows.iter()
            .all(|row| row.values[0] == FieldValue::from("Acme"))
    );
    assert_host_still_serves();
}

#[test]
fn an_egress_grant_lets_a_notifier_reach_only_the_allowed_domain_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), "exfiltrator", EnableOptions::new());
    let acme = host.tenant("acme").unwrap().acting_as("admin@acme.example");
    assert!(
        acme.plugins()
            .allow_egress("exfiltrator", "not a domain")
            .is_err()
    );
    let enablement = acme
        .plugins()
        .allow_egress("exfiltrator", "Evil.Example")
        .unwrap();
    assert_eq!(enablement.egress, ["evil.example".to_owned()].into());
    let out = acme
        .hooks()
        .run(ExtensionPoint::Notifier, share_input(), None)
        .unwrap();
    let sent = out["send"].as_array().unwrap();
    assert!(
        sent.iter()
            .any(|n| n["recipient"] == "attacker@evil.example"),
        "{out}"
    );
    let audit = acme.audit().list().unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "plugin.egress.allow" && e.actor == "admin@acme.example"),
        "{audit:?}"
    );
    // Taken back, the outside address is refused again.
    acme.plugins()
        .deny_egress("exfiltrator", "evil.example")
        .unwrap();
    let out = acme
        .hooks()
        .run(ExtensionPoint::Notifier, share_input(), None)
        .unwrap();
    assert_eq!(out["error"]["code"], "egress-denied", "{out}");
}

#[test]
fn a_raw_pollable_block_ends_at_the_deadline() {
    // `subscribe-duration(1 h).block()` through bindings of `wasi:io/poll` itself, with no
    // standard library in between.
    let limits = Limits::default().deadline(Duration::from_millis(100));
    let started = Instant::now();
    let kind = kind(map_row("poll-block", &context().limits(limits), good_row()));
    assert_eq!(
        kind,
        PluginErrorKind::DeadlineExceeded {
            deadline: Duration::from_millis(100)
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_host_still_serves();
}

/// The resident memory of this process, in bytes.
fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib << 10
}

#[test]
fn a_plugin_hoarding_resource_handles_fails_cleanly_naming_itself() {
    let limits = Limits::default().deadline(Duration::from_secs(20));
    let context = context().limits(limits);
    let before = resident_bytes();
    let started = Instant::now();
    for _ in 0..3 {
        let error = map_row("handle-hoarder", &context, good_row()).unwrap_err();
        assert_eq!(error.plugin(), "handle-hoarder");
        // The plugin's crash, not its output's fault, and not a deadline.
        let PluginErrorKind::Trap { reason, .. } = error.kind() else {
            panic!("expected a trap, got {error}")
        };
        assert!(reason.contains("ran out of resource handles"), "{error}");
        assert!(
            error
                .to_string()
                .starts_with("plugin `handle-hoarder`: crashed"),
            "{error}"
        );
    }
    // The handles go with each instance: three runs hold no more than one would (a loose
    // bound, as other tests share the process).
    let grown = resident_bytes().saturating_sub(before);
    assert!(grown < 256 << 20, "the host grew by {} MiB", grown >> 20);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_host_still_serves();
}

#[test]
fn a_slow_mapper_stops_at_its_import_budget_naming_the_row() {
    // 20 ms a row, well within each call's deadline of a second; 300 ms for the whole import.
    let limits = Limits::default().operation_time(Duration::from_millis(300));
    let mut instance = load("slow-mapper").instantiate(&context().limits(limits));
    instance
        .begin_rows(&[], &["name".into(), "notes".into()])
        .unwrap();
    let started = Instant::now();
    let mut stopped = None;
    for number in 1..=200u64 {
        let values = [FieldValue::from("Globex"), FieldValue::Null];
        if let Err(error) = instance.map_row(number, &[], &values) {
            stopped = Some((number, error));
            break;
        }
    }
    let (row, error) = stopped.expect("the budget stops the plugin");
    assert!((5..=30).contains(&row), "stopped at row {row}");
    assert_eq!(
        error.kind(),
        &PluginErrorKind::BudgetSpent {
            operation: "import".into(),
            budget: cs_host::Budget::Time(Duration::from_millis(300)),
            row: Some(row),
        }
    );
    assert_eq!(error.code(), "budget-spent");
    assert_eq!(
        error.to_string(),
        format!("plugin `slow-mapper`: used its 0.300 s import budget at row {row}")
    );
    let (used, _) = instance.budget_used();
    assert!(used >= Duration::from_millis(300), "{used:?}");
    // Spent is spent: the next row is refused at once, without calling the plugin.
    let again = Instant::now();
    let next = instance.map_row(row + 1, &[], &[FieldValue::from("x"), FieldValue::Null]);
    assert!(matches!(
        kind(next),
        PluginErrorKind::BudgetSpent { row: Some(r), .. } if r == row + 1
    ));
    assert!(again.elapsed() < Duration::from_millis(50));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_fuel_budget_bounds_the_whole_operation() {
    let limits = Limits::default().operation_fuel(5_000_000);
    let context = context().config("ms-per-row", "1").limits(limits);
    let mut instance = load("slow-mapper").instantiate(&context);
    instance
        .begin_rows(&[], &["name".into(), "notes".into()])
        .unwrap();
    let error = (1..=2_000u64)
        .find_map(|n| {
            instance
                .map_row(n, &[], &[FieldValue::from("x"), FieldValue::Null])
                .err()
        })
        .expect("the fuel budget stops the plugin");
    assert!(
        matches!(
            error.kind(),
            PluginErrorKind::BudgetSpent {
                budget: cs_host::Budget::Fuel(5_000_000),
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("5,000,000-fuel import budget at row")
    );
    assert!(instance.budget_used().1 >= 5_000_000);
}

/// Imports `rows` partners named `P1`, `P2`, ... with `slow-mapper` enabled with `options`.
fn import_slowly(
    rows: u64,
    options: EnableOptions,
) -> (tempfile::TempDir, Host, cs_host::ImportJob) {
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), "slow-mapper", options);
    host.tenant("acme")
        .unwrap()
        .companies()
        .define_field("notes", cs_host::FieldType::Text, false)
        .unwrap();
    let mut csv = String::from("Name,Notes\n");
    for n in 1..=rows {
        csv.push_str(&format!("P{n},\n"));
    }
    let job = host
        .tenant("acme")
        .unwrap()
        .imports()
        .bytes(
            "slow.csv",
            csv.as_bytes(),
            &cs_host::ImportOptions::partners(Some(AccessScope::Both)).batch_rows(20),
        )
        .unwrap();
    (dir, host, job)
}

#[test]
fn a_spent_import_budget_fails_the_remaining_rows_of_a_fail_closed_plugin() {
    let limits = Limits::default().operation_time(Duration::from_millis(300));
    let (_dir, host, job) = import_slowly(100, EnableOptions::new().limits(limits));
    assert_eq!(job.status, cs_host::JobStatus::Completed);
    assert!(job.created >= 5 && job.created <= 30, "{job:?}");
    assert_eq!(job.created + job.failed, 100, "{job:?}");
    let first = &job.errors[0];
    assert_eq!(first.plugin.as_deref(), Some("slow-mapper"));
    assert!(
        first
            .reason
            .contains("used its 0.300 s import budget at row"),
        "{}",
        first.reason
    );
    // Every row left fails with the same error, and the run log records it once.
    assert!(job.errors.iter().all(|e| e.reason == first.reason));
    let stats = host.tenant("acme").unwrap().plugins().stats().unwrap();
    assert_eq!(stats[0].failures, 1, "{stats:?}");
    assert_eq!(stats[0].failures_by_kind["budget-spent"], 1);
    // The breaker does not count a spent budget as a run of failures.
    assert!(
        host.tenant("acme")
            .unwrap()
            .plugins()
            .get("slow-mapper")
            .unwrap()
            .enabled
    );
}

#[test]
fn a_spent_import_budget_lets_a_fail_open_plugin_sit_out_the_rest() {
    let limits = Limits::default().operation_time(Duration::from_millis(300));
    let options = EnableOptions::new()
        .limits(limits)
        .failure_policy(cs_host::FailurePolicy::FailOpen);
    let (_dir, host, job) = import_slowly(100, options);
    assert_eq!((job.created, job.failed), (100, 0), "{job:?}");
    let acme = host.tenant("acme").unwrap();
    let notes = |name: &str| {
        acme.companies()
            .get(cs_host::CompanyKey::Name(name))
            .unwrap()
            .unwrap()
            .fields
            .get("notes")
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(notes("P1"), FieldValue::from("slow 1"));
    assert_eq!(notes("P100"), FieldValue::Null);
}

#[test]
fn an_operation_budget_over_the_platform_maximum_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let host = host_with(dir.path(), "slow-mapper", EnableOptions::new());
    let acme = host.tenant("acme").unwrap().acting_as("admin@acme.example");
    let limits = Limits::default().operation_time(Duration::from_secs(7200));
    let err = acme
        .plugins()
        .enable("slow-mapper", EnableOptions::new().limits(limits))
        .unwrap_err();
    assert!(err.to_string().contains("operation time"), "{err}");
}
