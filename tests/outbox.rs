//! The outbox: delivery through the file mailbox and through SMTP to a real sink on loopback,
//! idempotency across a crash between sending and recording, and the per-tenant rate limit.

use crate::support::smtp;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cs_host::model::Audience;
use cs_host::{
    FileMailbox, Host, HostConfig, Licence, ManualClock, NewCompany, NewPlan, OutboxMessage,
    OutboxStatus, Sent, ShareRequest, SmtpMailer, TenantLevel, Transport, TransportError,
};

const START: u64 = 1_772_323_200;

/// A host whose tenant `acme` has three users and a plan; codes are off unless asked for.
fn setup() -> (Host, ManualClock, i64) {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(START));
    let host = Host::open_in_memory(HostConfig::default().clock(Arc::new(clock.clone()))).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    let tenant = host.tenant("acme").unwrap();
    for who in ["ann", "bob", "cy"] {
        tenant
            .users()
            .add(&format!("{who}@acme.example"), who, Licence::Viewer)
            .unwrap();
    }
    tenant
        .users()
        .add("csm@acme.example", "Cem", Licence::Full)
        .unwrap();
    let company = tenant.companies().add(NewCompany::new("Globex")).unwrap();
    let plan = tenant
        .plans()
        .create(&NewPlan {
            company_id: company,
            name: "Onboarding".into(),
            ..NewPlan::default()
        })
        .unwrap();
    (host, clock, plan)
}

fn share(host: &Host, plan: i64, emails: &[&str]) -> cs_host::ShareReceipt {
    host.tenant("acme")
        .unwrap()
        .acting_as("csm@acme.example")
        .shares()
        .share(&ShareRequest::new(
            plan,
            Audience::Users,
            emails.iter().copied(),
        ))
        .unwrap()
}

/// Delivers through `inner`, then dies before the host can record the delivery.
struct CrashAfterSend<'a>(&'a dyn Transport);

impl Transport for CrashAfterSend<'_> {
    fn send(&self, message: &OutboxMessage) -> Result<Sent, TransportError> {
        self.0.send(message)?;
        panic!("simulated crash between send and mark-sent");
    }
}

fn crash_during_delivery(host: &Host, transport: &dyn Transport) {
    let crashed = std::panic::catch_unwind(AssertUnwindSafe(|| {
        host.deliver_outbox(&CrashAfterSend(transport), 10)
    }));
    assert!(crashed.is_err());
}

#[test]
fn a_retry_after_a_crash_between_send_and_mark_sent_does_not_send_twice() {
    let (host, clock, plan) = setup();
    let receipt = share(&host, plan, &["ann@acme.example"]);
    let dir = tempfile::tempdir().unwrap();
    let mailbox = FileMailbox::new(dir.path());

    crash_during_delivery(&host, &mailbox);
    let tenant = host.tenant("acme").unwrap();
    let pending = tenant.outbox().list(Some(OutboxStatus::Pending)).unwrap();
    assert_eq!(pending.len(), 1, "the delivery was never recorded");
    assert_eq!(pending[0].attempts, 1);

    // Within the claim's lease nobody touches it; after it, the retry finds it delivered.
    assert_eq!(host.deliver_outbox(&mailbox, 10).unwrap().sent, 0);
    clock.advance(Duration::from_secs(61));
    let report = host.deliver_outbox(&mailbox, 10).unwrap();
    assert_eq!((report.sent, report.already_delivered), (0, 1));
    let sent = tenant.outbox().list(Some(OutboxStatus::Sent)).unwrap();
    assert_eq!(sent.len(), 1);

    let files: Vec<_> = std::fs::read_dir(dir.path().join("acme"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(text.contains("To: ann@acme.example"), "{text}");
    assert!(text.contains(&receipt.links[0].link), "{text}");
    // A third run has nothing to do.
    assert_eq!(
        host.deliver_outbox(&mailbox, 10).unwrap(),
        Default::default()
    );
}

#[test]
fn smtp_delivers_to_a_real_server_with_a_stable_message_id() {
    let sink = smtp::SmtpSink::start();
    let (host, clock, plan) = setup();
    let tenant = host.tenant("acme").unwrap();
    let receipt = share(&host, plan, &["ann@acme.example", "bob@acme.example"]);
    tenant.links().request_otp(&receipt.links[0].link).unwrap();
    let mailer = SmtpMailer::new("127.0.0.1", sink.port, "cs-host <noreply@acme.example>").unwrap();

    let report = host.deliver_outbox(&mailer, 10).unwrap();
    assert_eq!(report.sent, 3, "{report:?}");
    let received = sink.received();
    assert_eq!(received.len(), 3);
    let to: Vec<&str> = received.iter().map(|r| r.to[0].as_str()).collect();
    // The code goes first, though it was queued last.
    assert_eq!(
        to,
        ["ann@acme.example", "ann@acme.example", "bob@acme.example"]
    );
    assert!(received[0].data.contains("Your one-time code is"));
    assert_eq!(received[1].from, "noreply@acme.example");
    // Bodies come quoted-printable: undo its soft line breaks to read them.
    let first = &received[1].data.replace("=\r\n", "");
    assert!(first.contains("Subject: Onboarding for Globex"), "{first}");
    assert!(first.contains(&receipt.links[0].link), "{first}");
    assert!(!first.contains(&receipt.links[1].link));
    assert!(
        first.contains("Content-Type: text/plain; charset=utf-8"),
        "{first}"
    );
    let sent = tenant.outbox().list(Some(OutboxStatus::Sent)).unwrap();
    assert!(first.contains(&sent[0].message_id()), "{first}");

    // SMTP cannot be asked what arrived, so a crash after sending makes the retry send again;
    // the copy carries the same Message-ID, by which receivers drop it.
    share(&host, plan, &["cy@acme.example"]);
    crash_during_delivery(&host, &mailer);
    clock.advance(Duration::from_secs(61));
    assert_eq!(host.deliver_outbox(&mailer, 10).unwrap().sent, 1);
    let received = sink.received();
    assert_eq!(received.len(), 5);
    let id = |data: &str| {
        data.lines()
            .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
            .map(str::to_owned)
    };
    assert_eq!(id(&received[3].data), id(&received[4].data));
    assert!(id(&received[3].data).is_some());
}

#[test]
fn a_failed_delivery_stays_pending_with_its_error() {
    let (host, _clock, plan) = setup();
    share(&host, plan, &["ann@acme.example"]);
    // Nothing listens on port 1.
    let mailer = SmtpMailer::new("127.0.0.1", 1, "noreply@acme.example").unwrap();
    let report = host.deliver_outbox(&mailer, 10).unwrap();
    assert_eq!(report.failed.len(), 1);
    assert!(
        report.failed[0].1.contains("127.0.0.1:1"),
        "{:?}",
        report.failed
    );
    let pending = host
        .tenant("acme")
        .unwrap()
        .outbox()
        .list(Some(OutboxStatus::Pending))
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert!(pending[0].error.as_deref().unwrap().contains("127.0.0.1:1"));
    // It goes out with the next run that can reach a server.
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        host.deliver_outbox(&FileMailbox::new(dir.path()), 10)
            .unwrap()
            .sent,
        1
    );
}

#[test]
fn the_rate_limit_holds_notifications_back_per_tenant_but_never_codes() {
    let (host, clock, plan) = setup();
    let tenant = host.tenant("acme").unwrap();
    let mut settings = tenant.shares().settings().unwrap();
    settings.notifications_per_hour = 2;
    tenant.shares().set_settings(&settings).unwrap();
    let receipt = share(
        &host,
        plan,
        &["ann@acme.example", "bob@acme.example", "cy@acme.example"],
    );
    tenant.links().request_otp(&receipt.links[2].link).unwrap();

    // A second tenant is not slowed by the first.
    host.create_tenant("globex", "Globex", TenantLevel::Both)
        .unwrap();
    let other = host.tenant("globex").unwrap();
    other
        .users()
        .add("dee@globex.example", "Dee", Licence::Full)
        .unwrap();
    let company = other.companies().add(NewCompany::new("Hooli")).unwrap();
    let other_plan = other
        .plans()
        .create(&NewPlan {
            company_id: company,
            name: "P".into(),
            ..NewPlan::default()
        })
        .unwrap();
    other
        .shares()
        .share(&ShareRequest::new(
            other_plan,
            Audience::Users,
            ["dee@globex.example"],
        ))
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mailbox = FileMailbox::new(dir.path());
    let report = host.deliver_outbox(&mailbox, 100).unwrap();
    assert_eq!((report.sent, report.deferred), (4, 1), "{report:?}");
    let pending = tenant.outbox().list(Some(OutboxStatus::Pending)).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].recipient, "cy@acme.example");
    assert_eq!(pending[0].kind, "share");

    clock.advance(Duration::from_secs(1800));
    assert_eq!(host.deliver_outbox(&mailbox, 100).unwrap().deferred, 1);
    clock.advance(Duration::from_secs(1801));
    assert_eq!(host.deliver_outbox(&mailbox, 100).unwrap().sent, 1);
}

#[test]
fn temporary_files_left_by_a_killed_delivery_are_cleaned_up() {
    let (host, _clock, plan) = setup();
    let dir = tempfile::tempdir().unwrap();
    let mailbox = FileMailbox::new(dir.path());
    let tenant_dir = dir.path().join("acme");
    std::fs::create_dir_all(&tenant_dir).unwrap();
    // One left by a delivery killed an hour ago, one being written by another deliverer now.
    let stale = tenant_dir.join(".cs-host-killed.tmp");
    let fresh = tenant_dir.join(".cs-host-writing.tmp");
    for file in [&stale, &fresh] {
        std::fs::write(file, "Message-ID: <half").unwrap();
    }
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();

    share(&host, plan, &["ann@acme.example"]);
    let report = host.deliver_outbox(&mailbox, 10).unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    assert!(!stale.exists());
    assert!(fresh.exists());
    let left: Vec<String> = std::fs::read_dir(&tenant_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert_eq!(left, [".cs-host-writing.tmp"]);
}
