//! Shared by the end-to-end tests: builds the guest plugins from source once per test process and
//! loads them into a runtime whose compile cache lives in the target directory.

#![allow(dead_code)]

pub mod server;
pub mod smtp;
pub mod webdriver;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use cs_host::{HostConfig, Plugin, PluginRuntime, RuntimeConfig};

/// Undoes schema steps 20 down to 16 on a database a current host made, for the tests that
/// rebuild a database of an older release; each undoes its own earlier steps after this. A new
/// step is undone here too: those tests assert the database's step first.
pub const UNDO_STEPS_20_TO_16: &str = "
    DROP TRIGGER companies_manager_is_partner_insert;
    CREATE TRIGGER companies_manager_is_partner_insert BEFORE INSERT ON companies
    WHEN NEW.managed_by IS NOT NULL AND EXISTS (
        SELECT 1 FROM companies p
        WHERE p.tenant_id = NEW.tenant_id AND p.id = NEW.managed_by
          AND p.managed_as <> 'partner')
    BEGIN
        SELECT RAISE(ABORT, 'one-partner rule: managed_by must name a partner company');
    END;
    CREATE INDEX companies_name ON companies (tenant_id, name COLLATE NOCASE);
    DROP TABLE console_sessions;
    DROP INDEX relationship_types_name_folded;
    ALTER TABLE relationship_types DROP COLUMN name_folded;
    DROP INDEX relationships_natural_key;
    ALTER TABLE relationships DROP COLUMN name_folded;
    ALTER TABLE users DROP COLUMN partner_relationship_id;
    DROP INDEX companies_name_folded;
    ALTER TABLE companies DROP COLUMN name_folded;
";

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_owned()
}

/// The directory the built plugins land in.
pub fn plugin_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    target.join("wasm32-wasip2").join("release")
}

/// Builds every guest plugin (examples and hostile ones) for wasm32-wasip2, once per process.
/// Cargo makes this a no-op when nothing changed.
pub fn build_plugins() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let plugins = root().join("plugins");
        // Installing the target is idempotent, and makes `cargo test` enough on a fresh machine.
        let _ = Command::new("rustup")
            .args(["target", "add", "wasm32-wasip2"])
            .status();
        let status = Command::new(cargo)
            .current_dir(&plugins)
            .args(["build", "--release", "--quiet"])
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "building the plugins in {} failed",
            plugins.display()
        );
    });
}

/// The path of a built plugin, by crate name (`normalize-partner`).
pub fn plugin_path(name: &str) -> PathBuf {
    build_plugins();
    plugin_dir().join(format!("{}.wasm", name.replace('-', "_")))
}

/// The path of a plugin built for `cs:plugin@0.2.0` from the same source (the SDK's
/// `contract-v0-2` feature), in a target directory of its own so that it does not replace the
/// 0.1.0 build. Built once per process and name.
///
/// The build shares the plugins' build directory (cargo's `build.build-dir`) and only places its
/// output in the target directory of its own: the dependencies the two builds have in common
/// (wit-bindgen and the wasm-tools crates its macro compiles with, nine tenths of the work)
/// compile once, not twice. A plugin built in both versions writes the same intermediate file,
/// so the next `make plugins` rebuilds it.
pub fn plugin_path_v0_2(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    build_plugins();
    let shared = plugin_dir()
        .parent()
        .and_then(Path::parent)
        .expect("target")
        .to_owned();
    let target = shared.join("contract-v0.2");
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(root().join("plugins"))
            .args(["build", "--release", "--quiet", "-p", name])
            .args(["--features", "cs-plugin-sdk/contract-v0-2", "--target-dir"])
            .arg(&target)
            .env("CARGO_BUILD_BUILD_DIR", &shared)
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "building {name} for contract 0.2.0 failed"
        );
        built.push(name.to_owned());
    }
    target
        .join("wasm32-wasip2")
        .join("release")
        .join(format!("{}.wasm", name.replace('-', "_")))
}

/// The component bytes of a plugin built for `cs:plugin@0.2.0` (see [`plugin_path_v0_2`]).
pub fn plugin_bytes_v0_2(name: &str) -> Vec<u8> {
    let path = plugin_path_v0_2(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The component bytes of a built plugin.
pub fn plugin_bytes(name: &str) -> Vec<u8> {
    let path = plugin_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The directory the tests cache compiled components in, shared by all test binaries.
pub fn cache_dir() -> PathBuf {
    plugin_dir()
        .parent()
        .expect("target dir")
        .parent()
        .expect("target")
        .join("test-compile-cache")
}

/// The configuration of a test's host: compiled plugins are cached where every test binary
/// finds them, so each plugin compiles once per build.
pub fn host_config() -> HostConfig {
    HostConfig::default().runtime(RuntimeConfig::default().cache_dir(cache_dir()))
}

/// A runtime shared by the tests of one binary, caching compiled components on disk.
pub fn runtime() -> &'static PluginRuntime {
    static RUNTIME: OnceLock<PluginRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        PluginRuntime::new(RuntimeConfig::default().cache_dir(cache_dir())).expect("runtime starts")
    })
}

/// Loads a built plugin into the shared runtime.
pub fn load(name: &str) -> Plugin {
    runtime()
        .load(&plugin_bytes(name))
        .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// One 10-field partner row, as the plugin benchmarks map it: the field names.
pub const PARTNER_FIELDS: [&str; 10] = [
    "name", "email", "website", "country", "region", "industry", "city", "phone", "arr", "tier",
];

/// The values of that row: untidy, as a partner file has them.
pub const PARTNER_ROW: [&str; 10] = [
    "  bennett & co. ",
    "Partners@Bennett.CO",
    "https://WWW.Bennett.co/partners",
    "de",
    "",
    "Aerospace ",
    " Berlin",
    "+49 30 1234567",
    "250000",
    "gold",
];

/// Runs `cshost` (the binary of the test or bench being built) with the shared compile cache.
pub fn cshost<I: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = I>,
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cshost"))
        .args(args)
        .env("CSHOST_CACHE_DIR", cache_dir())
        .env_remove("RUST_LOG")
        .output()
        .expect("cshost starts")
}

/// A path to a sample input under `examples/plugin-inputs/`.
pub fn sample_input(name: &str) -> PathBuf {
    root().join("examples").join("plugin-inputs").join(name)
}

/// The JavaScript SDK's directory (`plugins/js`).
pub fn js_sdk() -> PathBuf {
    root().join("plugins").join("js")
}

/// Installs the JavaScript SDK's toolchain from its lock file when it is missing, once per
/// process (`make js-plugins` does the same before the tests).
pub fn js_toolchain() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let sdk = js_sdk();
        if sdk.join("node_modules").join(".package-lock.json").exists() {
            return;
        }
        let status = Command::new("npm")
            .current_dir(&sdk)
            .args(["ci", "--no-audit", "--no-fund"])
            .status()
            .expect("npm runs");
        assert!(status.success(), "npm ci in {} failed", sdk.display());
    });
}

/// Where built JavaScript plugins and their build cache live.
pub fn js_plugin_dir() -> PathBuf {
    plugin_dir()
        .parent()
        .expect("target dir")
        .parent()
        .expect("target")
        .join("js-plugins")
}

/// Builds a JavaScript or TypeScript plugin with the SDK's `cs-plugin-build` into `out`, for
/// a contract version (`0.1.0`, `0.2.0`). An unchanged bundle is taken from the cache that
/// `make js-plugins` fills, so it is componentized once per change, not once per test.
pub fn build_js(source: &Path, out: &Path, contract: &str) {
    js_toolchain();
    // Tests of one binary run in parallel: one build at a time, so none reads a half-copied file.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let output = Command::new("node")
        .arg(js_sdk().join("bin").join("cs-plugin-build.mjs"))
        .arg(source)
        .arg("-o")
        .arg(out)
        .arg("--cache")
        .arg(js_plugin_dir().join("cache"))
        .args(["--contract", contract])
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "building {} failed: {}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The path of a built JavaScript example plugin, by directory name (`normalize-partner-js`).
pub fn js_plugin_path(name: &str) -> PathBuf {
    let out = js_plugin_dir().join(format!("{}.wasm", name.replace('-', "_")));
    build_js(&js_example_source(name), &out, "0.1.0");
    out
}

/// The path of a JavaScript example plugin built for `cs:plugin@0.2.0` from the same source
/// (`cs-plugin-build --contract 0.2.0`).
pub fn js_plugin_path_v0_2(name: &str) -> PathBuf {
    let out = js_plugin_dir().join(format!("{}_v0_2.wasm", name.replace('-', "_")));
    build_js(&js_example_source(name), &out, "0.2.0");
    out
}

/// The source file of a JavaScript example plugin.
fn js_example_source(name: &str) -> PathBuf {
    let examples = js_sdk().join("examples").join(name);
    ["plugin.js", "plugin.ts"]
        .into_iter()
        .map(|file| examples.join(file))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("no plugin.js or plugin.ts in {}", examples.display()))
}
