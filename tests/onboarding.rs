//! The embedding example, built and run as an application would run it.

use crate::support;

use std::process::Command;

#[test]
fn the_embedding_example_imports_the_sample_partners() {
    support::build_plugins();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("embed.db");
    let out = Command::new(cargo)
        .current_dir(support::root())
        .args([
            "run",
            "--quiet",
            "-p",
            "cs-host",
            "--example",
            "embed",
            "--",
        ])
        .arg(&db)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("installed normalize-partner"), "{stdout}");
    assert!(
        stdout.contains("6 rows, 5 created, 0 updated, 0 skipped, 1 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("partner 1: Bennett & Co."), "{stdout}");
    assert!(db.exists());
}
