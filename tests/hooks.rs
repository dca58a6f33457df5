//! Durable after-commit hooks, tried as an operator would: the real `cshost`, killed in the
//! middle of its work, then run again.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cs_host::plugins::EnableOptions;
use cs_host::{Host, TenantLevel, generate_partners_csv};

/// One count from the database file, read with plain SQLite so that looking does not run the
/// hooks (opening a `Host` would).
fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

const PARTNERS: &str = "SELECT count(*) FROM companies WHERE managed_as = 'partner'";
const WITHOUT_CTA: &str = "SELECT count(*) FROM companies c WHERE managed_as = 'partner'
     AND NOT EXISTS (SELECT 1 FROM ctas t WHERE t.company_id = c.id)";
const NOT_EXACTLY_ONE_CTA: &str = "SELECT count(*) FROM companies c WHERE managed_as = 'partner'
     AND (SELECT count(*) FROM ctas t WHERE t.company_id = c.id) <> 1";
const WELCOMES: &str = "SELECT count(*) FROM outbox WHERE kind = 'lifecycle'";
const WITH_EMAIL: &str = "SELECT count(*) FROM companies
     WHERE managed_as = 'partner' AND trim(coalesce(email, '')) <> ''";

#[test]
fn killing_an_import_with_partner_welcome_leaves_every_partner_its_cta_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let csv = dir.path().join("partners.csv");
    // Batches of 100 rows: the first commits, and the process dies while its partners' hooks
    // run.
    let rows = 1_000;
    generate_partners_csv(&mut std::fs::File::create(&csv).unwrap(), rows).unwrap();
    {
        let host = Host::open(&db, support::host_config()).unwrap();
        host.create_tenant("acme", "Acme", TenantLevel::Company)
            .unwrap();
        host.install_plugin(
            &support::plugin_bytes("partner-welcome"),
            "ops@acme.example",
        )
        .unwrap();
        host.tenant("acme")
            .unwrap()
            .enable_plugin("partner-welcome", EnableOptions::new())
            .unwrap();
    }
    let cshost = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cshost"));
        command
            .arg("--db")
            .arg(&db)
            .env("CSHOST_CACHE_DIR", support::cache_dir());
        command
    };
    let import = [
        "partner",
        "import",
        "--tenant",
        "acme",
        "--batch-rows",
        "100",
        csv.to_str().unwrap(),
    ];

    let mut child = cshost()
        .args(import)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while count(&db, PARTNERS) == 0 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the import ended before it could be killed: {status}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    eprintln!(
        "DIAG1 partners={} ctas={} pending={}",
        count(&db, PARTNERS),
        count(&db, "SELECT count(*) FROM ctas"),
        count(&db, "SELECT count(*) FROM pending_hooks")
    );
    // The crash hit where it hurts: partners committed, their hooks not (all) run.
    assert!(count(&db, PARTNERS) > 0);
    assert!(
        count(&db, WITHOUT_CTA) > 0,
        "killed too late to test anything"
    );

    // The operator runs the import again; the new run counts the committed partners as
    // updated, so only their owed hooks can give them their CTAs.
    let out = cshost().args(import).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "DIAG ctas={} pending={} without={} out={}",
        count(&db, "SELECT count(*) FROM ctas"),
        count(&db, "SELECT count(*) FROM pending_hooks"),
        count(&db, WITHOUT_CTA),
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(count(&db, PARTNERS), rows as i64);
    assert_eq!(
        count(&db, NOT_EXACTLY_ONE_CTA),
        0,
        "every partner has one CTA"
    );
    assert_eq!(
        count(&db, WELCOMES),
        count(&db, WITH_EMAIL),
        "one welcome per partner with an email"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM pending_hooks"), 0);

    // Nothing is owed any more: the command finds nothing to do.
    let out = cshost()
        .args(["tenant", "hooks", "run", "--tenant", "acme"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("0 hooks done"), "{stdout}");
}
