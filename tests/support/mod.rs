//! Shared by the end-to-end tests: builds the guest plugins from source once per test binary and
//! loads them into a runtime whose compile cache lives in the target directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use cs_host::{HostConfig, Plugin, PluginRuntime, RuntimeConfig};

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

/// A path to a sample input under `examples/plugin-inputs/`.
pub fn sample_input(name: &str) -> PathBuf {
    root().join("examples").join("plugin-inputs").join(name)
}
