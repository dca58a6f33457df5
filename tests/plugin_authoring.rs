//! Writing plugins outside this repository: the self-contained SDK, `cshost plugin new` in both
//! languages, `cshost plugin test`, and JavaScript plugins run through the same host as Rust ones.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cs_host::model::FieldValue;
use cs_host::{ExtensionPoint, PluginContext, RowsInput, ShareInput, parse_hook_input};

fn cshost(args: &[&std::ffi::OsStr]) -> Output {
    support::cshost(args)
}

fn os(text: &str) -> &std::ffi::OsStr {
    text.as_ref()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// One target directory for every guest crate built outside the plugins workspace, kept between
/// runs: the SDK and wit-bindgen compile once, not once per crate.
fn standalone_target() -> PathBuf {
    support::js_plugin_dir()
        .parent()
        .expect("target")
        .join("standalone-plugins")
}

/// Builds a plugin crate that lives outside the repository, with the plugins workspace's lock
/// file so it resolves the same dependency versions without the network.
fn cargo_build_release(dir: &Path) {
    let lock = std::fs::read(support::root().join("plugins").join("Cargo.lock")).unwrap();
    if std::fs::read(dir.join("Cargo.lock")).ok() != Some(lock.clone()) {
        std::fs::write(dir.join("Cargo.lock"), lock).unwrap();
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(dir)
        .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", standalone_target())
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "building {} failed:\n{}",
        dir.display(),
        text(&output)
    );
}

fn standalone_wasm(crate_name: &str) -> PathBuf {
    standalone_target()
        .join("wasm32-wasip2")
        .join("release")
        .join(format!("{}.wasm", crate_name.replace('-', "_")))
}

fn files_of(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn vendored_wit_copies_are_identical_to_the_contract() {
    for (version, copies) in [
        (
            "v0.1.0",
            &["plugins/sdk-macros/wit/v0.1.0", "plugins/js/wit/v0.1.0"][..],
        ),
        (
            "v0.2.0",
            &["plugins/sdk-macros/wit/v0.2.0", "plugins/js/wit/v0.2.0"][..],
        ),
    ] {
        let contract = files_of(&support::root().join("wit").join(version));
        for copy in copies {
            let vendored = files_of(&support::root().join(copy));
            assert_eq!(
                vendored, contract,
                "{copy} differs from wit/{version}: copy the contract there again"
            );
        }
    }
}

#[test]
fn typescript_types_are_generated_from_the_wit() {
    support::js_toolchain();
    let out = tempfile::tempdir().unwrap();
    let status = Command::new("node")
        .arg(support::js_sdk().join("scripts").join("generate-types.mjs"))
        .arg(out.path())
        .status()
        .expect("node runs");
    assert!(status.success());
    let committed = support::js_sdk().join("types");
    for sub in ["", "interfaces"] {
        let generated: Vec<_> = files_of(&out.path().join(sub))
            .into_iter()
            .filter(|(name, _)| name.ends_with(".d.ts"))
            .collect();
        let kept: Vec<_> = files_of(&committed.join(sub))
            .into_iter()
            .filter(|(name, _)| name.ends_with(".d.ts"))
            .collect();
        assert_eq!(
            generated, kept,
            "plugins/js/types is stale: run `node plugins/js/scripts/generate-types.mjs`"
        );
    }
}

#[test]
fn each_example_builds_when_copied_out_of_the_repository() {
    let sdk = support::root().join("plugins").join("sdk");
    let outside = tempfile::tempdir().unwrap();
    for example in [
        "normalize-partner",
        "arr-tier",
        "share-digest",
        "partner-welcome",
    ] {
        let from = support::root()
            .join("plugins")
            .join("examples")
            .join(example);
        let copied = outside.path().join(example);
        sync_dir(&from, &copied);
        // What an author does after copying: point the SDK path at their checkout.
        let manifest = copied.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        assert!(text.contains("path = \"../../sdk\""), "{example}: {text}");
        let text = text.replace("../../sdk", &sdk.display().to_string());
        std::fs::write(&manifest, text).unwrap();
        let to = kept_dir(example);
        sync_dir(&copied, &to);
        cargo_build_release(&to);
        let plugin = support::runtime()
            .load_file(standalone_wasm(example))
            .unwrap_or_else(|e| panic!("{example}: {e}"));
        assert_eq!(plugin.name(), example);
    }
}

/// Copies a directory's files, writing only those whose content differs, so that cargo and the
/// JS build cache see an unchanged crate as unchanged from one test run to the next.
fn sync_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            sync_dir(&entry.path(), &target);
        } else {
            let content = std::fs::read(entry.path()).unwrap();
            if std::fs::read(&target).ok() != Some(content.clone()) {
                std::fs::write(&target, content).unwrap();
            }
        }
    }
}

/// A directory outside the repository (no workspace above it) where a crate or project made by a
/// test is kept between runs, so it builds incrementally; one per checkout.
fn kept_dir(name: &str) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    support::root().hash(&mut hasher);
    std::env::temp_dir()
        .join(format!("cs-host-plugin-projects-{:016x}", hasher.finish()))
        .join(name)
}

/// Scaffolds a project, builds it as its README says (Rust) or with the SDK's build script
/// (JavaScript), then runs its sample input and its test cases.
#[test]
fn plugin_new_scaffolds_every_kind_in_both_languages_and_they_pass_their_tests() {
    let work = tempfile::tempdir().unwrap();
    for lang in ["rust", "js"] {
        for kind in ExtensionPoint::ALL {
            let name = format!("new-{kind}-{lang}");
            let made = work.path().join(&name);
            let output = cshost(&[
                os("plugin"),
                os("new"),
                os(&name),
                os("--kind"),
                os(kind.interface()),
                os("--lang"),
                os(lang),
                os("--dir"),
                made.as_os_str(),
            ]);
            assert!(output.status.success(), "{name}: {}", text(&output));
            let dir = kept_dir(&name);
            sync_dir(&made, &dir);
            let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
            assert!(readme.contains("cshost plugin test"), "{readme}");
            let wasm = if lang == "rust" {
                let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
                assert!(manifest.contains("[profile.release]"), "{manifest}");
                let config = std::fs::read_to_string(dir.join(".cargo/config.toml")).unwrap();
                assert!(config.contains("wasm32-wasip2"), "{config}");
                cargo_build_release(&dir);
                standalone_wasm(&name)
            } else {
                let wasm = dir.join(format!("{name}.wasm"));
                support::build_js(&dir.join("src").join("plugin.js"), &wasm, "0.1.0");
                wasm
            };
            let output = cshost(&[
                os("plugin"),
                os("run"),
                wasm.as_os_str(),
                os("--hook"),
                os(kind.hook()),
                os("--input"),
                dir.join("samples").join("input.json").as_os_str(),
            ]);
            assert!(output.status.success(), "{name}: {}", text(&output));
            let output = cshost(&[
                os("plugin"),
                os("test"),
                wasm.as_os_str(),
                dir.join("tests.json").as_os_str(),
            ]);
            let report = text(&output);
            assert!(output.status.success(), "{name}: {report}");
            assert!(report.contains("PASS"), "{name}: {report}");
            assert!(report.contains(" 0 failed"), "{name}: {report}");
        }
    }
}

#[test]
fn plugin_test_fails_a_case_with_a_diff_and_exits_non_zero() {
    let cases = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        cases.path(),
        r#"{"cases": [
            {"name": "gold", "input": {"arguments": {"tier": "gold"}, "companies": [
                {"id": "c-1", "name": "AAR Corp", "fields": {"arr": 420000}}]},
             "expect": {"output": [{"id": "c-1", "name": "AAR Corp", "matches": true}]}},
            {"name": "wrong on purpose", "input": {"arguments": {"tier": "gold"}, "companies": [
                {"id": "c-1", "name": "AAR Corp", "fields": {"arr": 420000}}]},
             "expect": {"output": [{"id": "c-1", "name": "AAR Corp", "matches": false}]}},
            {"name": "unknown tier", "input": {"arguments": {"tier": "mithril"}, "companies": [
                {"id": "c-1", "name": "AAR Corp", "fields": {"arr": 420000}}]},
             "expect": {"error": "bad-argument"}}
        ]}"#,
    )
    .unwrap();
    let wasm = support::plugin_path("arr-tier");
    let output = cshost(&[
        os("plugin"),
        os("test"),
        wasm.as_os_str(),
        cases.path().as_os_str(),
    ]);
    let report = text(&output);
    assert!(!output.status.success(), "{report}");
    assert!(report.contains("PASS  gold  (fuel "), "{report}");
    assert!(report.contains("FAIL  wrong on purpose"), "{report}");
    assert!(
        report.contains("output[0].matches: expected false, got true"),
        "{report}"
    );
    assert!(report.contains("PASS  unknown tier"), "{report}");
    assert!(report.contains("2 passed, 1 failed"), "{report}");
}

#[test]
fn install_and_enable_errors_name_the_file_and_suggest_the_plugin_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let bad = dir.path().join("not-a-plugin.wasm");
    std::fs::write(&bad, "nope").unwrap();
    let output = cshost(&[
        os("--db"),
        db.as_os_str(),
        os("plugin"),
        os("install"),
        bad.as_os_str(),
    ]);
    let message = text(&output);
    assert!(!output.status.success());
    assert!(message.contains("not-a-plugin.wasm is not"), "{message}");
    assert!(!message.contains("<component>"), "{message}");

    let wasm = support::plugin_path("arr-tier");
    for args in [
        vec![os("plugin"), os("install"), wasm.as_os_str()],
        vec![os("tenant"), os("create"), os("acme")],
    ] {
        let mut all = vec![os("--db"), db.as_os_str()];
        all.extend(args);
        assert!(cshost(&all).status.success());
    }
    let output = cshost(&[
        os("--db"),
        db.as_os_str(),
        os("tenant"),
        os("enable"),
        os("acme"),
        os("arr_tier.wasm"),
    ]);
    let message = text(&output);
    assert!(!output.status.success());
    assert!(message.contains("did you mean `arr-tier`?"), "{message}");
    assert!(message.contains("cshost plugin inspect"), "{message}");
}

#[test]
fn plugin_run_refuses_a_configuration_key_the_plugin_does_not_declare() {
    let wasm = support::plugin_path("normalize-partner");
    let input = support::sample_input("normalize-partner.json");
    let output = cshost(&[
        os("plugin"),
        os("run"),
        wasm.as_os_str(),
        os("--hook"),
        os("csv-row-mapped"),
        os("--input"),
        input.as_os_str(),
        os("--config"),
        os("region=DE=DACH"),
    ]);
    let report = text(&output);
    assert!(!output.status.success(), "{report}");
    assert!(report.contains("normalize-partner"), "{report}");
    assert!(report.contains("did you mean `regions`?"), "{report}");
}

/// Runs a field mapper on a sample input through the library and returns each row's outcome.
fn map_rows(plugin: &cs_host::Plugin, input: &Path) -> Vec<String> {
    let input: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(input).unwrap()).unwrap();
    let rows: RowsInput = parse_hook_input(ExtensionPoint::FieldMapper, input).unwrap();
    let fields: Vec<String> = rows.rows[0].fields.keys().cloned().collect();
    let mut instance = plugin.instantiate(&PluginContext::new("acme"));
    instance.begin_rows(&rows.columns, &fields).unwrap();
    rows.rows
        .iter()
        .map(|row| {
            let values: Vec<FieldValue> = fields
                .iter()
                .map(|f| row.fields.get(f).cloned().unwrap_or_default())
                .collect();
            let outcome = instance.map_row(row.number.unwrap(), &row.source, &values);
            format!("{:?}", outcome.map_err(|e| e.to_string()))
        })
        .collect()
}

#[test]
fn javascript_field_mapper_does_what_the_rust_one_does() {
    let js = support::runtime()
        .load_file(support::js_plugin_path("normalize-partner-js"))
        .unwrap();
    let rust = support::load("normalize-partner");
    let input = support::sample_input("normalize-partner.json");
    let from_js = map_rows(&js, &input);
    assert_eq!(from_js, map_rows(&rust, &input));
    assert!(from_js.iter().any(|o| o.contains("Reject")), "{from_js:?}");
}

#[test]
fn javascript_plugins_import_no_wasi() {
    for name in ["normalize-partner-js", "share-digest-ts"] {
        let plugin = support::runtime()
            .load_file(support::js_plugin_path(name))
            .unwrap();
        let imports = &plugin.manifest().imports;
        assert!(
            imports.iter().all(|i| i.starts_with("cs:plugin/")),
            "{name} imports {imports:?}"
        );
    }
}

#[test]
fn typescript_notifier_does_what_the_rust_one_does() {
    let ts = support::runtime()
        .load_file(support::js_plugin_path("share-digest-ts"))
        .unwrap();
    let rust = support::load("share-digest");
    for sample in ["share-digest.json", "share-digest-no-objectives.json"] {
        let input: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(support::sample_input(sample)).unwrap())
                .unwrap();
        let input: ShareInput = parse_hook_input(ExtensionPoint::Notifier, input).unwrap();
        let send = |plugin: &cs_host::Plugin| {
            plugin
                .instantiate(&PluginContext::new("acme"))
                .on_plan_shared(&input.event, &input.planned)
                .unwrap()
        };
        assert_eq!(send(&ts), send(&rust), "{sample}");
    }
}

#[test]
fn javascript_plugins_run_under_the_same_limits() {
    let js = support::runtime()
        .load_file(support::js_plugin_path("normalize-partner-js"))
        .unwrap();
    let context = PluginContext::new("acme").limits(cs_host::Limits::default().fuel(1_000));
    let mut instance = js.instantiate(&context);
    let error = instance
        .begin_rows(&[], &["name".into()])
        .and_then(|()| instance.map_row(2, &[], &["  acme corp ".into()]))
        .unwrap_err();
    assert_eq!(error.code(), "fuel-exhausted", "{error}");
}
