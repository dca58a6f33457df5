//! Several `cshost` processes on one database file, as operators run them: deliverers side by
//! side, and a backlog of one tenant next to another tenant's mail.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cs_host::model::Audience;
use cs_host::{
    Host, HostConfig, Licence, NewCompany, NewPlan, OutboxStatus, ShareReceipt, ShareRequest,
    TenantLevel,
};

/// A `cshost` command on the database file, not yet started.
fn cshost(db: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cshost"));
    command
        .env("CSHOST_DB", db)
        .env("CSHOST_CACHE_DIR", support::cache_dir())
        .env_remove("RUST_LOG")
        .args(args);
    command
}

/// Standard output of a finished `cshost`, failing the test when it failed.
fn stdout(output: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Runs `cshost outbox deliver` into the mailbox and returns its summary line.
fn deliver(db: &Path, mailbox: &Path, max: usize) -> String {
    let max = max.to_string();
    let mailbox = mailbox.to_str().unwrap();
    let output = cshost(
        db,
        &["outbox", "deliver", "--mailbox", mailbox, "--max", &max],
    )
    .output()
    .unwrap();
    stdout(&output, "outbox deliver")
}

/// The number before `what` in a delivery summary (`3 sent, 0 already delivered, ...`).
fn count(summary: &str, what: &str) -> usize {
    summary
        .split(", ")
        .find_map(|part| part.trim().strip_suffix(what)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{what}` in {summary:?}"))
}

/// Creates a tenant with `users` viewers and a plan, limited to `per_hour` notifications, and
/// shares the plan with every user: one message each.
fn tenant_with_share(host: &Host, id: &str, users: usize, per_hour: u32) -> ShareReceipt {
    host.create_tenant(id, id, TenantLevel::Both).unwrap();
    let tenant = host.tenant(id).unwrap();
    let mut settings = tenant.sharing_settings().unwrap();
    settings.notifications_per_hour = per_hour;
    tenant.set_sharing_settings(&settings).unwrap();
    let emails: Vec<String> = (0..users).map(|i| format!("u{i}@{id}.example")).collect();
    for email in &emails {
        tenant.add_user(email, email, Licence::Viewer).unwrap();
    }
    let company = tenant.add_company(NewCompany::new("Customer")).unwrap();
    let plan = tenant
        .create_plan(&NewPlan {
            company_id: company,
            name: "Plan".into(),
            ..NewPlan::default()
        })
        .unwrap();
    tenant
        .share_plan(&ShareRequest::new(
            plan,
            Audience::Users,
            emails.iter().map(String::as_str),
        ))
        .unwrap()
}

fn files_in(dir: PathBuf) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| entries.count())
}

#[test]
fn one_tenants_backlog_never_holds_back_another_tenants_share_or_code() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let mailbox = dir.path().join("mailbox");
    let host = Host::open(&db, HostConfig::default()).unwrap();
    tenant_with_share(&host, "big", 300, 10);

    // The backlog's first hour goes out; the rest waits, and does not use up the run.
    let summary = deliver(&db, &mailbox, 50);
    assert_eq!(count(&summary, "sent"), 10, "{summary}");
    assert_eq!(
        count(&summary, "deferred by the rate limit"),
        290,
        "{summary}"
    );

    // Another tenant shares a plan and its recipient asks for a code.
    let receipt = tenant_with_share(&host, "small", 1, 10);
    let small = host.tenant("small").unwrap();
    small.request_otp(&receipt.links[0].link).unwrap();

    // The code goes first, though the share is older; the big tenant's backlog is skipped.
    let summary = deliver(&db, &mailbox, 1);
    assert_eq!(count(&summary, "sent"), 1, "{summary}");
    let sent = small.outbox(Some(OutboxStatus::Sent)).unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, "otp");

    let summary = deliver(&db, &mailbox, 5);
    assert_eq!(count(&summary, "sent"), 1, "{summary}");
    assert_eq!(
        count(&summary, "deferred by the rate limit"),
        290,
        "{summary}"
    );
    assert!(
        small
            .outbox(Some(OutboxStatus::Pending))
            .unwrap()
            .is_empty()
    );
    assert_eq!(files_in(mailbox.join("small")), 2);
    assert_eq!(files_in(mailbox.join("big")), 10);
}

#[test]
fn tenants_take_turns_so_a_run_shorter_than_the_queue_reaches_each_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let mailbox = dir.path().join("mailbox");
    let host = Host::open(&db, HostConfig::default()).unwrap();
    // The first tenant's 40 messages are all older than the others'.
    tenant_with_share(&host, "first", 40, 500);
    tenant_with_share(&host, "second", 5, 500);
    tenant_with_share(&host, "third", 5, 500);
    let summary = deliver(&db, &mailbox, 9);
    assert_eq!(count(&summary, "sent"), 9, "{summary}");
    for tenant in ["first", "second", "third"] {
        assert_eq!(files_in(mailbox.join(tenant)), 3, "{tenant}");
    }
    // The next run goes on where each tenant was, and finishes the short queues.
    let summary = deliver(&db, &mailbox, 1000);
    assert_eq!(count(&summary, "sent"), 41, "{summary}");
    assert_eq!(files_in(mailbox.join("first")), 40);
}

#[test]
fn concurrent_deliverers_never_send_more_than_the_hourly_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let mailbox = dir.path().join("mailbox");
    let host = Host::open(&db, HostConfig::default()).unwrap();
    tenant_with_share(&host, "acme", 40, 5);
    tenant_with_share(&host, "globex", 12, 7);
    drop(host);

    let mailbox_arg = mailbox.to_str().unwrap();
    let deliverers: Vec<_> = (0..4)
        .map(|_| {
            cshost(
                &db,
                &[
                    "outbox",
                    "deliver",
                    "--mailbox",
                    mailbox_arg,
                    "--max",
                    "100",
                ],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut sent = 0;
    for deliverer in deliverers {
        let output = deliverer.wait_with_output().unwrap();
        sent += count(&stdout(&output, "outbox deliver"), "sent");
    }
    assert_eq!(sent, 5 + 7);
    assert_eq!(files_in(mailbox.join("acme")), 5);
    assert_eq!(files_in(mailbox.join("globex")), 7);
    let host = Host::open(&db, HostConfig::default()).unwrap();
    let acme = host.tenant("acme").unwrap();
    assert_eq!(acme.outbox(Some(OutboxStatus::Sent)).unwrap().len(), 5);
    assert_eq!(acme.outbox(Some(OutboxStatus::Pending)).unwrap().len(), 35);
}
