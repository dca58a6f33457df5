//! Gives each build of the host a secret of its own, with which it signs the compiled plugin
//! artifacts it caches on disk: an artifact is only loaded by the build that wrote it.

use std::io::Read;

fn main() {
    let mut key = [0u8; 32];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut key));
    if random.is_err() {
        // No /dev/urandom: fall back to the time and process id, unique enough per build.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
            ^ u128::from(std::process::id());
        key[..16].copy_from_slice(&seed.to_le_bytes());
    }
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=CS_HOST_BUILD_KEY={hex}");
}
