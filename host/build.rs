//! Gives each build of the host a key of its own, with which it signs the compiled plugin
//! artifacts it caches on disk: an artifact is only loaded by a build of the same host.
//!
//! The key is derived from what the build is made of (the host's sources, the WIT contracts, the
//! locked dependencies, the compiler, the target, the profile and the features), not drawn at
//! random: the same sources build the same binary (a reproducible build, and compile caches
//! keyed by the compiler's environment stay valid), while any change to them gives a new key, so
//! an artifact written by another build is never trusted. A build that wants artifacts nobody
//! without its binary can forge (a cache directory others can write to) sets
//! `CS_HOST_BUILD_SECRET` when it builds, and the secret is mixed in.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// What the host is built from, relative to host/.
const INPUTS: [&str; 6] = [
    "build.rs",
    "Cargo.toml",
    "src",
    "../wit",
    "../Cargo.toml",
    "../Cargo.lock",
];

/// The settings of the build that change what is compiled.
const SETTINGS: [&str; 6] = [
    "TARGET",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
    "CARGO_ENCODED_RUSTFLAGS",
    "CS_HOST_BUILD_SECRET",
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut hash = Sha256::new();
    for input in INPUTS {
        println!("cargo:rerun-if-changed={input}");
        let mut files = Vec::new();
        collect(&manifest.join(input), &mut files);
        files.sort();
        for file in files {
            let contents = std::fs::read(&file)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
            let name = file.strip_prefix(&manifest).unwrap_or(&file);
            hash.update(name.to_string_lossy().as_bytes());
            hash.update((contents.len() as u64).to_le_bytes());
            hash.update(&contents);
        }
    }
    println!("cargo:rerun-if-env-changed=CS_HOST_BUILD_SECRET");
    for setting in SETTINGS {
        let value = std::env::var(setting).unwrap_or_default();
        hash.update(format!("{setting}={value}\n").as_bytes());
    }
    // The features, in cargo's order (sorted by name).
    let mut features: Vec<String> = std::env::vars()
        .map(|(name, _)| name)
        .filter(|name| name.starts_with("CARGO_FEATURE_"))
        .collect();
    features.sort();
    hash.update(features.join(",").as_bytes());
    // The compiler's version, commit and host.
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("-vV")
        .output()
        .map(|out| out.stdout)
        .unwrap_or_default();
    hash.update(&version);
    let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=CS_HOST_BUILD_KEY={hex}");
}

/// The files at `path`: the file itself, or every file under the directory.
fn collect(path: &Path, files: &mut Vec<PathBuf>) {
    match std::fs::read_dir(path) {
        Ok(entries) => {
            for entry in entries {
                collect(&entry.expect("a readable directory").path(), files);
            }
        }
        Err(_) if path.is_file() => files.push(path.to_owned()),
        // Cargo.lock is missing before the first resolution; nothing else is optional.
        Err(_) => {}
    }
}
