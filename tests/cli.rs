//! `cshost plugin inspect` and `cshost plugin run`, driven as a plugin author would drive them.

use crate::support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn cshost(args: &[&str]) -> Output {
    support::cshost(args)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Runs a plugin on a sample input and returns the JSON report and whether the call succeeded.
fn run(plugin: &str, hook: &str, input: &str, extra: &[&str]) -> (Value, bool) {
    let wasm = support::plugin_path(plugin);
    let input = support::sample_input(input);
    let mut args = vec![
        "plugin",
        "run",
        path(&wasm),
        "--hook",
        hook,
        "--input",
        path(&input),
    ];
    args.extend(extra);
    let output = cshost(&args);
    let report = serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| {
        panic!(
            "{plugin}: the report is not JSON ({e}):\n{}\n{}",
            stdout(&output),
            stderr(&output)
        )
    });
    (report, output.status.success())
}

#[test]
fn inspect_shows_every_example_plugin() {
    for (plugin, point) in [
        ("normalize-partner", "field-mapper"),
        ("arr-tier", "criteria-filter"),
        ("share-digest", "notifier"),
        ("partner-welcome", "lifecycle"),
    ] {
        let wasm = support::plugin_path(plugin);
        let output = cshost(&["plugin", "inspect", path(&wasm)]);
        assert!(output.status.success(), "{plugin}: {}", stderr(&output));
        let text = stdout(&output);
        assert!(
            text.contains(&format!("name:             {plugin}")),
            "{text}"
        );
        assert!(
            text.contains(point),
            "{plugin} shows its extension point:\n{text}"
        );
        assert!(text.contains("sha256:"), "{text}");

        let output = cshost(&["plugin", "inspect", path(&wasm), "--json"]);
        let manifest: Value = serde_json::from_slice(&output.stdout).expect("JSON manifest");
        assert_eq!(manifest["name"], plugin);
        let bytes = std::fs::metadata(&wasm).unwrap().len();
        assert_eq!(manifest["size"], bytes, "{plugin}: the size is the file's");
        assert_eq!(manifest["hash"].as_str().map(str::len), Some(64));
    }
}

#[test]
fn run_normalize_partner_reports_outcomes_cost_and_log() {
    let (report, ok) = run(
        "normalize-partner",
        "csv-row-mapped",
        "normalize-partner.json",
        &["--config", "regions=DE=DACH,US=North America"],
    );
    assert!(ok, "{report:#}");
    let rows = report["output"].as_array().expect("one outcome per row");
    assert_eq!(rows[0]["row"], 2);
    let kept = &rows[0]["outcome"]["keep"];
    assert_eq!(kept["name"], "Bennett & Co.", "{report:#}");
    assert_eq!(kept["email"], "partners@bennett.co");
    assert_eq!(
        kept["region"], "DACH",
        "config overrides the default region"
    );
    let rejected = rows
        .iter()
        .find(|r| r["outcome"].get("reject").is_some())
        .expect("the bad email is rejected");
    assert_eq!(rejected["outcome"]["reject"]["field"], "email");
    assert!(report["fuel_used"].as_u64().unwrap() > 0);
    assert!(report["peak_memory_bytes"].as_u64().unwrap() > 0);
    assert!(report["wall_time_us"].is_u64());
    assert!(report["log"].is_array());
}

#[test]
fn run_serves_every_hook_of_the_examples() {
    let (report, ok) = run(
        "arr-tier",
        "criteria",
        "arr-tier.json",
        &["--config", "tiers=gold=400000.."],
    );
    assert!(ok, "{report:#}");
    let matched: Vec<&str> = report["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["matches"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(matched.contains(&"AAR Corp"), "{report:#}");
    assert!(!matched.contains(&"Halcyon Freight"), "{report:#}");
    assert!(
        !matched.contains(&"Meridian Health Partners"),
        "250,000 is below the configured gold tier: {report:#}"
    );

    let (report, ok) = run("share-digest", "plan-shared", "share-digest.json", &[]);
    assert!(ok, "{report:#}");
    let sent = report["output"].as_array().unwrap();
    assert_eq!(sent.len(), 3, "{report:#}");
    assert!(sent.iter().any(|n| n["channel"] == "in_app"), "{report:#}");

    let (report, ok) = run(
        "share-digest",
        "plan-shared",
        "share-digest-no-objectives.json",
        &[],
    );
    assert!(ok, "{report:#}");
    assert_eq!(
        report["output"],
        serde_json::json!([]),
        "nothing visible, nothing sent"
    );

    let (report, ok) = run(
        "partner-welcome",
        "partner-created",
        "partner-welcome.json",
        &[],
    );
    assert!(ok, "{report:#}");
    let text = report["output"].to_string();
    assert!(text.contains("Partner onboarding"), "{report:#}");
}

#[test]
fn a_failing_plugin_prints_its_typed_error_and_exits_nonzero() {
    // Each limit set far from the other, so which one stops the loop never depends on the
    // machine's speed: 50 ms is spent long before 50 G fuel, 1 M fuel long before 10 s.
    let (report, ok) = run(
        "spin",
        "csv-row-mapped",
        "normalize-partner.json",
        &["--deadline-ms", "50", "--fuel", "50000000000"],
    );
    assert!(!ok);
    assert_eq!(report["error"]["code"], "deadline-exceeded", "{report:#}");

    let (report, ok) = run(
        "spin",
        "csv-row-mapped",
        "normalize-partner.json",
        &["--deadline-ms", "10000", "--fuel", "1000000"],
    );
    assert!(!ok);
    assert_eq!(report["error"]["code"], "fuel-exhausted", "{report:#}");

    let (report, ok) = run("panic", "csv-row-mapped", "normalize-partner.json", &[]);
    assert!(!ok);
    assert_eq!(report["error"]["code"], "trap", "{report:#}");
}

#[test]
fn a_local_run_keeps_every_limit_without_the_instance_pool() {
    // `plugin run` maps each instance's memory when it is made instead of reserving a pool: the
    // memory cap and the bound on the stack hold all the same.
    let (report, ok) = run(
        "memory-bomb",
        "csv-row-mapped",
        "normalize-partner.json",
        &["--memory-mb", "16"],
    );
    assert!(!ok);
    assert_eq!(report["error"]["code"], "memory-limit", "{report:#}");
    assert!(
        report["error"]["message"].to_string().contains("16"),
        "{report:#}"
    );

    let (report, ok) = run("recursion", "csv-row-mapped", "normalize-partner.json", &[]);
    assert!(!ok);
    assert_eq!(report["error"]["code"], "trap", "{report:#}");
    assert!(
        report["error"]["message"]
            .to_string()
            .contains("stack overflow"),
        "{report:#}"
    );

    // The same plugin run twice gives the same answer: the second run loads the compiled
    // component from the cache the first one wrote.
    let (first, ok) = run(
        "normalize-partner",
        "csv-row-mapped",
        "normalize-partner.json",
        &[],
    );
    assert!(ok, "{first:#}");
    let (second, ok) = run(
        "normalize-partner",
        "csv-row-mapped",
        "normalize-partner.json",
        &[],
    );
    assert!(ok, "{second:#}");
    assert_eq!(first["output"], second["output"]);
    assert_eq!(first["fuel_used"], second["fuel_used"]);
}

#[test]
fn a_plugin_file_replaced_between_runs_is_described_and_run_from_its_new_bytes() {
    // `plugin run` takes a cached plugin's description from the compile cache, with the compiled
    // code, instead of instantiating the plugin once more to ask it. What the cache keeps is
    // found by the file's bytes, not its name: a file replaced between two runs is described
    // and run as what it now is.
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let wasm = dir.path().join("plugin.wasm");
    let cshost = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cshost"))
            .args(args)
            .env("CSHOST_CACHE_DIR", &cache)
            .env_remove("RUST_LOG")
            .output()
            .expect("cshost starts")
    };
    let inspect = || -> Value {
        let output = cshost(&["plugin", "inspect", path(&wasm), "--json"]);
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_str(&stdout(&output)).unwrap()
    };
    let run = |hook: &str, input: &str| {
        let input = support::sample_input(input);
        cshost(&[
            "plugin",
            "run",
            path(&wasm),
            "--hook",
            hook,
            "--input",
            path(&input),
        ])
    };
    let mapped = |output: &Output| -> Value {
        assert!(output.status.success(), "{}", stderr(output));
        serde_json::from_str::<Value>(&stdout(output)).unwrap()["output"].clone()
    };

    std::fs::copy(support::plugin_path("normalize-partner"), &wasm).unwrap();
    let cold = inspect();
    assert_eq!(cold["name"], "normalize-partner");
    // Warm: the same description, from the cache.
    assert_eq!(inspect(), cold);
    let normalized = mapped(&run("csv-row-mapped", "normalize-partner.json"));

    std::fs::copy(support::plugin_path("arr-tier"), &wasm).unwrap();
    for _ in 0..2 {
        let now = inspect();
        assert_eq!(now["name"], "arr-tier");
        assert_eq!(
            now["extension_points"],
            serde_json::json!(["criteria-filter"])
        );
        let output = run("csv-row-mapped", "normalize-partner.json");
        assert!(!output.status.success());
        assert!(
            stderr(&output).contains("`arr-tier` does not implement the csv-row-mapped hook"),
            "{}",
            stderr(&output)
        );
        mapped(&run("criteria", "arr-tier.json"));
    }

    // Back to the first bytes: their cache entry, description and all.
    std::fs::copy(support::plugin_path("normalize-partner"), &wasm).unwrap();
    assert_eq!(inspect(), cold);
    assert_eq!(
        mapped(&run("csv-row-mapped", "normalize-partner.json")),
        normalized
    );
}

#[test]
fn bad_files_and_bad_input_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("missing.wasm");
    let output = cshost(&["plugin", "inspect", path(&missing)]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("missing.wasm"),
        "{}",
        stderr(&output)
    );

    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not a component").unwrap();
    let output = cshost(&["plugin", "inspect", path(&junk)]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("junk.wasm") || err.contains("component"),
        "{err}"
    );

    let wasm = support::plugin_path("normalize-partner");
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, "{\"rows\": [").unwrap();
    let output = cshost(&[
        "plugin",
        "run",
        path(&wasm),
        "--hook",
        "csv-row-mapped",
        "--input",
        path(&bad_json),
    ]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("bad.json") && err.contains("invalid JSON"),
        "{err}"
    );

    let wrong_shape = dir.path().join("shape.json");
    std::fs::write(&wrong_shape, "{\"partner\": {}}").unwrap();
    let output = cshost(&[
        "plugin",
        "run",
        path(&wasm),
        "--hook",
        "csv-row-mapped",
        "--input",
        path(&wrong_shape),
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("csv-row-mapped"),
        "{}",
        stderr(&output)
    );

    let input = support::sample_input("share-digest.json");
    let output = cshost(&[
        "plugin",
        "run",
        path(&wasm),
        "--hook",
        "plan-shared",
        "--input",
        path(&input),
    ]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("does not implement the plan-shared hook") && err.contains("csv-row-mapped"),
        "{err}"
    );

    let output = cshost(&[
        "plugin",
        "run",
        path(&wasm),
        "--hook",
        "no-such-hook",
        "--input",
        path(&input),
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no-such-hook"),
        "{}",
        stderr(&output)
    );
}

/// Runs `cshost --db DB ARGS…`.
fn cshost_on(db: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--db", path(db)];
    all.extend(args);
    cshost(&all)
}

#[test]
fn errors_print_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    assert!(
        cshost_on(&db, &["tenant", "create", "acme"])
            .status
            .success()
    );
    let once = |output: &Output, cause: &str, names: &str| {
        assert!(!output.status.success());
        let err = stderr(output);
        assert_eq!(err.matches(cause).count(), 1, "{err}");
        assert!(err.contains(names), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    };

    // A file that is not there: the operating system's words, once, after the file's name.
    let missing = dir.path().join("missing.csv");
    let output = cshost_on(
        &db,
        &["company", "import", "--tenant", "acme", path(&missing)],
    );
    once(&output, "No such file or directory", "missing.csv");

    // A database file that is not one: SQLite's words, once, after the database's name.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
    let output = cshost_on(&junk, &["tenant", "list"]);
    once(&output, "not a database", "junk.db");
}

#[test]
fn processes_creating_tenants_on_a_new_file_at_once_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.db");
    let children: Vec<_> = (0..6)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_cshost"))
                .args(["--db", path(&db), "tenant", "create", &format!("t{i}")])
                .env_remove("RUST_LOG")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("cshost starts")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let list = cshost_on(&db, &["tenant", "list", "--json"]);
    let tenants: Value = serde_json::from_str(&stdout(&list)).unwrap();
    assert_eq!(tenants.as_array().map(Vec::len), Some(6), "{tenants}");
}

#[test]
fn a_database_from_a_newer_cshost_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    assert!(
        cshost_on(&db, &["tenant", "create", "acme"])
            .status
            .success()
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let output = cshost_on(&db, &["tenant", "list"]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("schema version 99 is newer"), "{err}");
}

/// Runs `cshost --db DB ARGS…` with standard output going to `stdout`.
fn cshost_to(db: &Path, args: &[&str], stdout: std::process::Stdio) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_cshost"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("CSHOST_CACHE_DIR", support::cache_dir())
        .env_remove("RUST_LOG")
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cshost starts")
}

#[test]
fn a_closed_pipe_ends_output_quietly_and_a_full_disk_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    assert!(
        cshost_on(&db, &["tenant", "create", "acme"])
            .status
            .success()
    );
    for i in 0..5 {
        let name = format!("Company {i}");
        assert!(
            cshost_on(&db, &["company", "add", "--tenant", "acme", &name])
                .status
                .success()
        );
    }
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "Name,ARR\nA,lots\n").unwrap();
    let output = cshost_on(&db, &["company", "import", "--tenant", "acme", path(&bad)]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let commands: [&[&str]; 5] = [
        &["company", "list", "--tenant", "acme"],
        &["tenant", "list"],
        &["partner", "sample-csv", "--tenant", "acme"],
        &["import", "show", "--tenant", "acme", "1"],
        &["import", "errors", "--tenant", "acme", "1"],
    ];
    for args in commands {
        // The reader has gone before the first line is written, as after `| head -0`.
        let mut child = cshost_to(&db, args, std::process::Stdio::piped());
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let err = stderr(&output);
        assert!(output.status.success(), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");

        // A full disk: /dev/full fails every write with ENOSPC.
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let output = cshost_to(&db, args, full.into())
            .wait_with_output()
            .unwrap();
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("No space left on device"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_closed_pipe_ends_the_relationship_and_cta_listings_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    assert!(
        cshost_on(&db, &["tenant", "create", "acme"])
            .status
            .success()
    );
    let commands: [&[&str]; 3] = [
        &["relationship", "list", "--tenant", "acme"],
        &["relationship-type", "list", "--tenant", "acme"],
        &["cta", "list", "--tenant", "acme"],
    ];
    for args in commands {
        let mut child = cshost_to(&db, args, std::process::Stdio::piped());
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let err = stderr(&output);
        assert!(output.status.success(), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn the_database_name_is_taken_literally_not_as_a_uri() {
    // As a URI this would be a private in-memory database, gone when the command ends.
    let dir = tempfile::tempdir().unwrap();
    let name = "file:x.db?mode=memory";
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cshost"))
            .current_dir(dir.path())
            .args(["--db", name])
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    assert!(run(&["tenant", "create", "acme"]).status.success());
    let list = run(&["tenant", "list"]);
    assert!(stdout(&list).contains("acme"), "{}", stdout(&list));
    assert!(dir.path().join(name).is_file());
}

#[test]
fn a_tenant_id_is_at_most_64_characters() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let long = "t".repeat(10_000);
    let output = cshost_on(&db, &["tenant", "create", &long]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("10000 characters long; at most 64"), "{err}");
    assert!(err.len() < 200, "{err}");
    assert!(
        cshost_on(&db, &["tenant", "create", &"t".repeat(64)])
            .status
            .success()
    );
}
