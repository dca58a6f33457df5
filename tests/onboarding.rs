//! The embedding example, run as an application would run it: its code, in this process (the
//! example is no binary of its own that the tests could start without building it first).

use crate::support;

/// `examples/embed.rs` itself, so that this test runs the code the example shows.
#[path = "../examples/embed.rs"]
// The example's `main` reads its command line; this test calls `run` with its own paths.
#[allow(dead_code)]
mod embed;

#[test]
fn the_embedding_example_imports_the_sample_partners() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("embed.db");
    let mut out = Vec::new();
    embed::run(
        &db,
        &support::root().join("examples/data/partners.csv"),
        &support::plugin_path("normalize-partner"),
        &mut out,
    )
    .unwrap();
    let stdout = String::from_utf8_lossy(&out);
    assert!(stdout.contains("installed normalize-partner"), "{stdout}");
    assert!(
        stdout.contains("6 rows, 5 created, 0 updated, 0 skipped, 1 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("partner 1: Bennett & Co."), "{stdout}");
    assert!(db.exists());
}
