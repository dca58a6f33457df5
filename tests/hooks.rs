//! Durable after-commit hooks, tried as an operator would: the real `cshost`, killed in the
//! middle of its work (an import while its partners' hooks run, a share while its notifier
//! runs), then run again.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cs_host::EnableOptions;
use cs_host::model::Date;
use cs_host::{
    Host, Licence, ManualClock, NewCompany, NewPlan, TenantLevel, generate_partners_csv,
};

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
            .plugins()
            .enable("partner-welcome", EnableOptions::new())
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

/// The `cshost` binary on the database `db`.
fn cshost_on(db: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cshost"));
    command
        .arg("--db")
        .arg(db)
        .env("CSHOST_CACHE_DIR", support::cache_dir());
    command
}

const OWING: &str = "SELECT count(*) FROM shares WHERE notify_status = 'pending'";
const SHARE_MESSAGES: &str = "SELECT count(*) FROM outbox WHERE kind = 'share'";
const RECIPIENTS_NOTIFIED: &str =
    "SELECT count(DISTINCT recipient) FROM outbox WHERE kind = 'share'";

/// A database in `dir` where `cshost share create` shared plan 1 (without one-time codes) with
/// two users and was killed while `slow-notifier` (800 ms a share) ran: the share committed, its
/// notifications not queued.
fn share_killed_while_notifying(dir: &Path) -> PathBuf {
    let db = dir.join("cs.db");
    {
        let host = Host::open(&db, support::host_config()).unwrap();
        host.create_tenant("acme", "Acme", TenantLevel::Company)
            .unwrap();
        let tenant = host.tenant("acme").unwrap();
        tenant
            .access()
            .add_admin("csm@acme.example", "Cem")
            .unwrap();
        tenant
            .users()
            .add("vic@acme.example", "Vic Viewer", Licence::Viewer)
            .unwrap();
        tenant
            .users()
            .add("fay@acme.example", "Fay Full", Licence::Full)
            .unwrap();
        let company = tenant.companies().add(NewCompany::new("Globex")).unwrap();
        tenant
            .plans()
            .create(&NewPlan {
                company_id: company,
                name: "Onboarding".into(),
                due_date: Date::new(2026, 6, 30),
                ..NewPlan::default()
            })
            .unwrap();
        let mut settings = tenant.shares().settings().unwrap();
        settings.otp_required = false;
        tenant.shares().set_settings(&settings).unwrap();
        host.install_plugin(&support::plugin_bytes("slow-notifier"), "ops@acme.example")
            .unwrap();
        tenant
            .plugins()
            .enable("slow-notifier", EnableOptions::new().config("ms", "800"))
            .unwrap();
    }
    let mut child = cshost_on(&db)
        .env("CSHOST_ACTOR", "csm@acme.example")
        .args(["share", "create", "--tenant", "acme", "--plan", "1"])
        .args(["--users", "vic@acme.example,fay@acme.example"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while count(&db, "SELECT count(*) FROM shares") == 0 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the share ended before it could be killed: {status}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The crash hit where it hurts: the share and its links committed, no notification queued.
    assert_eq!(count(&db, OWING), 1, "killed too late to test anything");
    assert_eq!(count(&db, SHARE_MESSAGES), 0);
    db
}

/// Every recipient has exactly one notification, delivered, and the link in it opens the plan.
fn assert_each_recipient_notified_once_with_a_working_link(dir: &Path, db: &Path) {
    assert_eq!(count(db, OWING), 0);
    assert_eq!(count(db, SHARE_MESSAGES), 2);
    assert_eq!(count(db, RECIPIENTS_NOTIFIED), 2);
    // The notifications carry the links the share made (their tokens were kept sealed until
    // now, and are no longer kept with the share): none was re-issued.
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM audit_log WHERE action = 'share.reissue'"
        ),
        0
    );
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM share_recipients WHERE link_seal IS NOT NULL"
        ),
        0
    );
    let mailbox = dir.join("mailbox");
    let out = cshost_on(db)
        .args(["outbox", "deliver", "--mailbox", mailbox.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut recipients = Vec::new();
    for file in std::fs::read_dir(mailbox.join("acme")).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        let to = text
            .lines()
            .find_map(|l| l.strip_prefix("To: "))
            .expect("a recipient")
            .to_owned();
        let link = text
            .split_whitespace()
            .find(|w| w.starts_with("https://"))
            .unwrap_or_else(|| panic!("no link in {text}"));
        let opened = cshost_on(db)
            .args(["share", "open", "--tenant", "acme", link])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&opened.stdout);
        assert!(
            opened.status.success() && stdout.contains("Onboarding for Globex"),
            "{to}: {stdout}{}",
            String::from_utf8_lossy(&opened.stderr)
        );
        recipients.push(to);
    }
    recipients.sort();
    assert_eq!(recipients.len(), 2, "{recipients:?}");
    assert!(recipients[0].contains("fay@acme.example"), "{recipients:?}");
    assert!(recipients[1].contains("vic@acme.example"), "{recipients:?}");

    // Nothing is owed any more: running again queues nothing.
    let out = cshost_on(db)
        .args(["tenant", "hooks", "run", "--tenant", "acme"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("0 hooks done"), "{stdout}");
    assert_eq!(count(db, SHARE_MESSAGES), 2);
}

#[test]
fn killing_a_share_while_its_notifier_runs_leaves_the_command_to_notify_each_recipient_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = share_killed_while_notifying(dir.path());

    // Opening the database at once leaves the share to the process sharing it, which might be
    // alive and slow rather than dead.
    drop(Host::open(&db, support::host_config()).unwrap());
    assert_eq!(count(&db, OWING), 1);

    // The operator knows it died: the command queues its notifications now.
    let out = cshost_on(&db)
        .args(["tenant", "hooks", "run", "--tenant", "acme"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("done: plan shared, share 1: 2 notification(s) queued\n"),
        "{stdout}"
    );
    assert!(stdout.contains("1 hooks done"), "{stdout}");
    assert_each_recipient_notified_once_with_a_working_link(dir.path(), &db);
}

#[test]
fn killing_a_share_while_its_notifier_runs_leaves_a_later_open_to_notify_each_recipient_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = share_killed_while_notifying(dir.path());

    // Ten minutes on, the share is no longer in anyone's hands: opening the host queues its
    // notifications.
    let later = ManualClock::new(SystemTime::now() + Duration::from_secs(600));
    drop(Host::open(&db, support::host_config().clock(Arc::new(later))).unwrap());
    assert_each_recipient_notified_once_with_a_working_link(dir.path(), &db);
}
