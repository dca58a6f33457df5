//! Sharing success plans: licences, the contacts switch, what each recipient sees, links and
//! their expiry, one-time codes and their limits, revoking, the manage-shares view, and the
//! *plan shared* hook with real notifier plugins (share-digest, and one that traps).

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use cs_host::model::{Audience, Channel, Date};
use cs_host::{
    EnableOptions, ErrorKind, FailurePolicy, Host, HostConfig, Licence, LinkState, ManualClock,
    NewCompany, NewCta, NewPlan, NewTask, Notifications, Opened, OtpError, OutboxMessage,
    OutboxStatus, Sent, SharePermission, ShareRequest, ShareTo, TaskOf, TaskUpdate, Tenant,
    TenantLevel, Transport, TransportError,
};

/// 2026-03-01T00:00:00Z.
const START: u64 = 1_772_323_200;

struct Fixture {
    host: Host,
    clock: ManualClock,
    company: i64,
    plan: i64,
}

impl Fixture {
    fn tenant(&self) -> Tenant<'_> {
        self.host
            .tenant("acme")
            .unwrap()
            .acting_as("csm@acme.example")
    }
}

/// A tenant with users of every licence, a customer, and a plan with one internal and one
/// external objective (each with a task).
fn fixture() -> Fixture {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(START));
    let config = support::host_config().clock(Arc::new(clock.clone()));
    let host = Host::open_in_memory(config).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    let tenant = host.tenant("acme").unwrap();
    tenant
        .access()
        .add_admin("csm@acme.example", "Cem")
        .unwrap();
    tenant
        .users()
        .add("full@acme.example", "Fay Full", Licence::Full)
        .unwrap();
    tenant
        .users()
        .add("viewer@acme.example", "Vic Viewer", Licence::Viewer)
        .unwrap();
    tenant
        .users()
        .add(
            "analyst@acme.example",
            "Ana Lytics",
            Licence::ViewerAnalytics,
        )
        .unwrap();
    tenant
        .users()
        .add(
            "collab@acme.example",
            "Col Laborator",
            Licence::InternalCollaborator,
        )
        .unwrap();
    let company = tenant.companies().add(NewCompany::new("Globex")).unwrap();
    let plan = tenant
        .plans()
        .create(&NewPlan {
            company_id: company,
            name: "Onboarding".into(),
            due_date: Date::new(2026, 6, 30),
            ..NewPlan::default()
        })
        .unwrap();
    let internal = tenant
        .plans()
        .add_objective(plan, "Renewal pricing", None, Some(false))
        .unwrap();
    let external = tenant
        .plans()
        .add_objective(plan, "Go live", Date::new(2026, 4, 30), Some(true))
        .unwrap();
    for (objective, task) in [(internal, "Draft the quote"), (external, "Train admins")] {
        tenant
            .plans()
            .add_task(
                TaskOf::Objective(objective),
                &NewTask {
                    name: task.into(),
                    ..NewTask::default()
                },
            )
            .unwrap();
    }
    Fixture {
        host,
        clock,
        company,
        plan,
    }
}

fn without_otp(tenant: &Tenant<'_>) {
    let mut settings = tenant.shares().settings().unwrap();
    settings.otp_required = false;
    tenant.shares().set_settings(&settings).unwrap();
}

fn objective_names(opened: Opened) -> Vec<String> {
    match opened {
        Opened::Plan(plan) => plan.objectives.into_iter().map(|o| o.name).collect(),
        Opened::CodeRequired => panic!("a code was asked for"),
    }
}

#[test]
fn internal_users_need_a_viewer_or_full_licence() {
    let f = fixture();
    let tenant = f.tenant();
    let emails = [
        "full@acme.example",
        "viewer@acme.example",
        "analyst@acme.example",
    ];
    let receipt = tenant
        .shares()
        .share(&ShareRequest::new(f.plan, Audience::Users, emails))
        .unwrap();
    assert_eq!(receipt.links.len(), 3);

    let refused = tenant
        .shares()
        .share(&ShareRequest::new(
            f.plan,
            Audience::Users,
            ["viewer@acme.example", "collab@acme.example"],
        ))
        .unwrap_err();
    match refused.kind() {
        ErrorKind::ShareRefused { email, reason } => {
            assert_eq!(email, "collab@acme.example");
            assert!(reason.contains("Internal Collaborator"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let unknown = tenant
        .shares()
        .share(&ShareRequest::new(
            f.plan,
            Audience::Users,
            ["nobody@acme.example"],
        ))
        .unwrap_err();
    assert!(
        unknown.to_string().contains("nobody@acme.example"),
        "{unknown}"
    );
    // A refused share records nothing: not the share, not the other recipient's link.
    assert_eq!(tenant.shares().list(Some(f.plan)).unwrap().len(), 3);
}

#[test]
fn contacts_need_the_plan_switch_and_become_persons() {
    let f = fixture();
    let tenant = f.tenant();
    let request = ShareRequest {
        recipients: vec![ShareTo {
            email: "pat@globex.example".into(),
            first_name: "Pat".into(),
            last_name: "Buyer".into(),
            ..ShareTo::default()
        }],
        ..ShareRequest::new(f.plan, Audience::Contacts, [])
    };
    let off = tenant.shares().share(&request).unwrap_err();
    assert!(off.to_string().contains("sharing with contacts"), "{off}");
    assert!(
        tenant
            .persons()
            .by_email("pat@globex.example")
            .unwrap()
            .is_none()
    );

    tenant
        .plans()
        .set_sharing_with_contacts(f.plan, true)
        .unwrap();
    tenant.shares().share(&request).unwrap();
    let person = tenant
        .persons()
        .by_email("pat@globex.example")
        .unwrap()
        .unwrap();
    assert_eq!(
        (person.first_name.as_str(), person.last_name.as_str()),
        ("Pat", "Buyer")
    );
    assert_eq!(person.company_id, Some(f.company));
    // Sharing again finds the same person.
    tenant.shares().share(&request).unwrap();
    assert_eq!(tenant.persons().list(f.company).unwrap().len(), 1);
}

#[test]
fn external_recipients_see_only_objectives_shared_externally() {
    let f = fixture();
    let tenant = f.tenant();
    without_otp(&tenant);
    tenant
        .plans()
        .set_sharing_with_contacts(f.plan, true)
        .unwrap();
    // Turning the switch on shares every objective; mark one internal again.
    let plan = tenant.plans().get(f.plan).unwrap();
    tenant
        .plans()
        .set_objective_shared(plan.objectives[0].id, false)
        .unwrap();

    let external = tenant
        .shares()
        .share(&ShareRequest::new(
            f.plan,
            Audience::Contacts,
            ["pat@globex.example"],
        ))
        .unwrap();
    let internal = tenant
        .shares()
        .share(&ShareRequest::new(
            f.plan,
            Audience::Users,
            ["viewer@acme.example"],
        ))
        .unwrap();
    let seen = objective_names(tenant.links().open(&external.links[0].link).unwrap());
    assert_eq!(seen, ["Go live"]);
    let seen = objective_names(tenant.links().open(&internal.links[0].link).unwrap());
    assert_eq!(seen, ["Renewal pricing", "Go live"]);
}

#[test]
fn the_sharer_can_exclude_tasks_and_the_subject_defaults_to_plan_for_customer() {
    let f = fixture();
    let tenant = f.tenant();
    without_otp(&tenant);
    let with_tasks = tenant
        .shares()
        .share(&ShareRequest::new(
            f.plan,
            Audience::Users,
            ["full@acme.example"],
        ))
        .unwrap();
    let without = tenant
        .shares()
        .share(&ShareRequest {
            include_tasks: false,
            subject: Some("Our plan".into()),
            note: Some("See you Monday".into()),
            ..ShareRequest::new(f.plan, Audience::Users, ["viewer@acme.example"])
        })
        .unwrap();
    let Opened::Plan(full) = tenant.links().open(&with_tasks.links[0].link).unwrap() else {
        panic!()
    };
    assert_eq!(full.objectives[1].tasks[0].name, "Train admins");
    assert_eq!(full.customer, "Globex");
    let Opened::Plan(bare) = tenant.links().open(&without.links[0].link).unwrap() else {
        panic!()
    };
    assert!(bare.objectives.iter().all(|o| o.tasks.is_empty()));
    assert_eq!(bare.note.as_deref(), Some("See you Monday"));

    let outbox = tenant.outbox().list(None).unwrap();
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox[0].subject, "Onboarding for Globex");
    assert_eq!(outbox[1].subject, "Our plan");
    assert!(
        outbox[1].body.contains("See you Monday"),
        "{}",
        outbox[1].body
    );
    // Each email carries its recipient's own link, and nothing else's, once delivered.
    let sent = deliver(&f.host);
    assert!(sent[0].body.contains(&with_tasks.links[0].link));
    assert!(!sent[0].body.contains("{link}") && !sent[0].body.contains("{token}"));
    assert!(!sent[1].body.contains(&with_tasks.links[0].link));
}

#[test]
fn links_are_long_random_tokens_stored_only_as_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cs.db");
    let host = Host::open(&path, HostConfig::default()).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    let tenant = host.tenant("acme").unwrap();
    tenant
        .users()
        .add("full@acme.example", "Fay", Licence::Full)
        .unwrap();
    tenant
        .users()
        .add("viewer@acme.example", "Vic", Licence::Viewer)
        .unwrap();
    let company = tenant.companies().add(NewCompany::new("Globex")).unwrap();
    let plan = tenant
        .plans()
        .create(&NewPlan {
            company_id: company,
            name: "P".into(),
            ..NewPlan::default()
        })
        .unwrap();
    let receipt = tenant
        .shares()
        .share(&ShareRequest::new(
            plan,
            Audience::Users,
            ["full@acme.example", "viewer@acme.example"],
        ))
        .unwrap();
    let tokens: Vec<String> = receipt
        .links
        .iter()
        .map(|l| l.link.rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_ne!(tokens[0], tokens[1]);
    for token in &tokens {
        // 64 hex digits: 256 bits.
        assert_eq!(token.len(), 64, "{token}");
    }
    // The share tables hold 32-byte hashes, never the tokens. (The outbox holds each link
    // sealed: see `links_and_codes_are_not_readable_from_the_database_before_or_after_delivery`.)
    let db = rusqlite::Connection::open(&path).unwrap();
    let hashes: Vec<Vec<u8>> = db
        .prepare("SELECT token_hash FROM share_recipients ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(hashes.len(), 2);
    for (hash, token) in hashes.iter().zip(&tokens) {
        assert_eq!(hash.len(), 32);
        assert_ne!(hex::encode(hash), *token);
    }
    let dump: String = db
        .query_row(
            "SELECT group_concat(s.subject || coalesce(s.note, '') || r.email || hex(r.token_hash))
             FROM share_recipients r JOIN shares s ON s.id = r.share_id",
            [],
            |r| r.get(0),
        )
        .unwrap();
    for token in &tokens {
        assert!(!dump.to_lowercase().contains(token.as_str()));
    }
}

#[test]
fn unknown_expired_revoked_and_blocked_links_get_the_same_message() {
    let f = fixture();
    let tenant = f.tenant();
    without_otp(&tenant);
    let mut settings = tenant.shares().settings().unwrap();
    settings.link_expiry_days = 7;
    tenant.shares().set_settings(&settings).unwrap();
    let receipt = tenant
        .shares()
        .share(&ShareRequest::new(
            f.plan,
            Audience::Users,
            ["full@acme.example", "viewer@acme.example"],
        ))
        .unwrap();
    let (a, b) = (&receipt.links[0], &receipt.links[1]);
    assert_eq!(receipt.expires_at, START as i64 + 7 * 86_400);

    let message = |link: &str| tenant.links().open(link).unwrap_err().to_string();
    let unknown = message(&format!("https://x/{}", "ab".repeat(32)));
    assert!(
        unknown.contains("ask the person who shared it"),
        "{unknown}"
    );
    assert_eq!(message("not a token"), unknown);

    tenant.shares().revoke_recipient(b.recipient_id).unwrap();
    assert_eq!(message(&b.link), unknown);
    assert!(tenant.links().open(&a.link).is_ok());

    // Expiry at the boundary: valid one second before, gone at the instant.
    f.clock.advance(Duration::from_secs(7 * 86_400 - 1));
    assert!(tenant.links().open(&a.link).is_ok());
    f.clock.advance(Duration::from_secs(1));
    assert_eq!(message(&a.link), unknown);
    assert!(matches!(
        tenant.links().open(&a.link).unwrap_err().kind(),
        ErrorKind::LinkUnavailable
    ));
}

/// A transport that keeps each message as it was delivered (its link or code rendered).
#[derive(Default)]
struct Inbox(Mutex<Vec<OutboxMessage>>);

impl Transport for Inbox {
    fn send(&self, message: &OutboxMessage) -> Result<Sent, TransportError> {
        self.0.lock().unwrap().push(message.clone());
        Ok(Sent::Delivered)
    }
}

/// Delivers what is pending and returns the emails as their recipients got them.
fn deliver(host: &Host) -> Vec<OutboxMessage> {
    let inbox = Inbox::default();
    host.deliver_outbox(&inbox, 1000).unwrap();
    inbox.0.into_inner().unwrap()
}

/// The code in the newest one-time-code email to `email`, delivered now: the outbox never holds
/// it readable.
fn last_code(host: &Host, email: &str) -> String {
    let message = deliver(host)
        .into_iter()
        .rev()
        .find(|m| m.kind == "otp" && m.recipient == email)
        .expect("a code was sent");
    message
        .body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("six digits")
        .to_owned()
}

fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

#[test]
fn one_time_codes_open_the_plan_once_and_expire_after_five_minutes() {
    let f = fixture();
    let tenant = f.tenant();
    let receipt = tenant
        .shares()
        .share(&ShareRequest::new(
            f.plan,
            Audience::Users,
            ["viewer@acme.example"],
        ))
        .unwrap();
    let link = &receipt.links[0].link;
    assert_eq!(tenant.links().open(link).unwrap(), Opened::CodeRequired);
    let early = tenant.links().verify_otp(link, "123456").unwrap_err();
    assert!(matches!(
        early.kind(),
        ErrorKind::Otp(OtpError::NotRequested)
    ));

    tenant.links().request_otp(link).unwrap();
    let code = last_code(&f.host, "viewer@acme.example");
    f.clock.advance(Duration::from_secs(299));
    let plan = tenant.links().verify_otp(link, &code).unwrap();
    assert_eq!(plan.name, "Onboarding");
    // A code works once.
    assert!(matches!(
        tenant.links().verify_otp(link, &code).unwrap_err().kind(),
        ErrorKind::Otp(OtpError::NotRequested)
    ));

    tenant.links().request_otp(link).unwrap();
    let code = last_code(&f.host, "viewer@acme.example");
    f.clock.advance(Duration::from_secs(300));
    assert!(matches!(
        tenant.links().verify_otp(link, &code).unwrap_err().kind(),
        ErrorKind::Otp(OtpError::Expired)
    ));
    // The manage-shares view shows when the recipient last got in.
    let rows = tenant.shares().list(Some(f.plan)).unwrap();
    assert_eq!(rows[0].last_access_at, Some(START as i64 + 299));
}

#[test]
fn a_link_gets_at_most_five_codes() {
    let f = fixture();
    let tenant = f.tenant();
    let receipt = tenant
        .shares()
        .share(&ShareRequest::new(
            f.plan,
            Audience::Users,
            ["viewer@acme.example"],
        ))
        .unwrap();
    let link = &receipt.links[0].link;
    for _ in 0..5 {
        tenant.links().request_otp(link).unwrap();
    }
    let sixth = tenant.links().request_otp(link).unwrap_err();
    assert!(
        matches!(sixth.kind(), ErrorKind::Otp(OtpError::NoMoreCodes)),
        "{sixth}"
    );
    // The fifth code (the resend) still works.
    let code = last_code(&f.host, "viewer@acme.example");
    assert!(tenant.links().verify_otp(link, &code).is_ok());
    let sent = tenant
        .outbox()
        .list(None)
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == "otp")
        .count();
    assert_eq!(sent, 5);
}

#[test]
fn three_wrong_codes_block_the_link() {
    let f = fixture();
    let tenant = f.tenant();
    let receipt = tenant
        .shares()
        .share(&ShareRequest::new(
            f.plan,
            Audience::Users,
            ["viewer@acme.example", "full@acme.example"],
        ))
        .unwrap();
    let link = &receipt.links[0].link;
    tenant.links().request_otp(link).unwrap();
    let code = last_code(&f.host, "viewer@acme.example");
    let bad = wrong(&code);
    for left in [2, 1, 0] {
        let error = tenant.links().verify_otp(link, &bad).unwrap_err();
        assert!(
            matches!(error.kind(), ErrorKind::Otp(OtpError::Wrong { tries_left }) if *tries_left == left),
            "{error}"
        );
    }
    // Blocked: even the right code, and new codes, are refused with the common message.
    assert!(matches!(
        tenant.links().verify_otp(link, &code).unwrap_err().kind(),
        ErrorKind::LinkUnavailable
    ));
    assert!(matches!(
        tenant.links().request_otp(link).unwrap_err().kind(),
        ErrorKind::LinkUnavailable
    ));
    let rows = tenant.shares().list(Some(f.plan)).unwrap();
    let state = |email: &str| rows.iter().find(|r| r.email == email).unwrap().state;
    assert_eq!(state("viewer@acme.example"), LinkState::Blocked);
    assert_eq!(state("full@acme.example"), LinkState::Active);
}

#[test]
fn revoking_by_recipient_plan_and_customer_and_the_manage_shares_view() {
    let f = fixture();
    let tenant = f.tenant();
    without_otp(&tenant);
    let other_plan = tenant
        .plans()
        .create(&NewPlan {
            company_id: f.company,
            name: "Expansion".into(),
            ..NewPlan::default()
        })
        .unwrap();
    let other_company = tenant.companies().add(NewCompany::new("Initech")).unwrap();
    let third_plan = tenant
        .plans()
        .create(&NewPlan {
            company_id: other_company,
            name: "Renewal".into(),
            ..NewPlan::default()
        })
        .unwrap();
    let share = |plan| {
        tenant
            .shares()
            .share(&ShareRequest::new(
                plan,
                Audience::Users,
                ["full@acme.example", "viewer@acme.example"],
            ))
            .unwrap()
    };
    let first = share(f.plan);
    let second = share(other_plan);
    let third = share(third_plan);

    assert!(
        tenant
            .shares()
            .revoke_recipient(first.links[0].recipient_id)
            .unwrap()
    );
    assert!(
        !tenant
            .shares()
            .revoke_recipient(first.links[0].recipient_id)
            .unwrap()
    );
    let rows = tenant.shares().list(Some(f.plan)).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].state, LinkState::Revoked);
    assert_eq!(rows[1].state, LinkState::Active);
    assert_eq!(rows[0].shared_by, "csm@acme.example");
    assert_eq!(rows[0].shared_on, START as i64);
    assert_eq!(rows[0].expires_at, START as i64 + 30 * 86_400);

    assert_eq!(tenant.shares().revoke_plan(f.plan).unwrap(), 1);
    // Per customer: both of Globex's plans, not Initech's.
    assert_eq!(tenant.shares().revoke_company(f.company).unwrap(), 2);
    assert!(tenant.links().open(&second.links[1].link).is_err());
    assert!(tenant.links().open(&third.links[1].link).is_ok());
    let all = tenant.shares().list(None).unwrap();
    assert_eq!(
        all.iter().filter(|r| r.state == LinkState::Revoked).count(),
        4
    );
    let missing = tenant.shares().revoke_recipient(9_999).unwrap_err();
    assert!(missing.to_string().contains("9999"), "{missing}");
}

#[test]
fn a_link_of_one_tenant_does_not_open_in_another() {
    let f = fixture();
    let tenant = f.tenant();
    without_otp(&tenant);
    let receipt = tenant
        .shares()
        .share(&ShareRequest::new(
            f.plan,
            Audience::Users,
            ["full@acme.example"],
        ))
        .unwrap();
    f.host
        .create_tenant("globex", "Globex", TenantLevel::Both)
        .unwrap();
    let other = f.host.tenant("globex").unwrap();
    assert!(matches!(
        other
            .links()
            .open(&receipt.links[0].link)
            .unwrap_err()
            .kind(),
        ErrorKind::LinkUnavailable
    ));
}

fn install(f: &Fixture, plugin: &str, policy: FailurePolicy) {
    f.host
        .install_plugin(&support::plugin_bytes(plugin), "admin@platform.example")
        .unwrap();
    f.tenant()
        .plugins()
        .enable(plugin, EnableOptions::new().failure_policy(policy))
        .unwrap();
}

#[test]
fn share_digest_replaces_the_default_email_with_personal_links() {
    let f = fixture();
    install(&f, "share-digest", FailurePolicy::FailClosed);
    let tenant = f.tenant();
    tenant
        .plans()
        .set_sharing_with_contacts(f.plan, true)
        .unwrap();
    let users = tenant
        .shares()
        .share(&ShareRequest {
            note: Some("Kick-off is on Monday".into()),
            ..ShareRequest::new(
                f.plan,
                Audience::Users,
                ["full@acme.example", "viewer@acme.example"],
            )
        })
        .unwrap();
    assert_eq!(users.notifications, Notifications::Queued(2));
    assert_eq!(tenant.outbox().list(None).unwrap().len(), 2);
    deliver(&f.host);
    for link in &users.links {
        let message = &tenant.outbox().in_app(&link.email).unwrap()[0];
        // Internal users get the digest in the platform, with their own link filled in.
        assert_eq!(message.channel, Channel::InApp);
        assert_eq!(message.recipient, link.email);
        assert!(message.body.contains("Objectives:"), "{}", message.body);
        assert!(message.body.contains("- Go live (open, due 2026-04-30)"));
        assert!(message.body.contains("Kick-off is on Monday"));
        assert!(message.body.contains(&link.link), "{}", message.body);
    }
    let contacts = tenant
        .shares()
        .share(&ShareRequest::new(
            f.plan,
            Audience::Contacts,
            ["pat@globex.example"],
        ))
        .unwrap();
    let message = deliver(&f.host).pop().unwrap();
    assert_eq!(message.channel, Channel::Email);
    assert!(message.body.contains(&contacts.links[0].link));
}

#[test]
fn an_empty_list_from_a_notifier_suppresses_the_default() {
    let f = fixture();
    install(&f, "share-digest", FailurePolicy::FailClosed);
    let tenant = f.tenant();
    // share-digest sends nothing for a plan with no visible objective.
    let empty = tenant
        .plans()
        .create(&NewPlan {
            company_id: f.company,
            name: "Empty".into(),
            ..NewPlan::default()
        })
        .unwrap();
    let receipt = tenant
        .shares()
        .share(&ShareRequest::new(
            empty,
            Audience::Users,
            ["full@acme.example"],
        ))
        .unwrap();
    assert_eq!(receipt.notifications, Notifications::Queued(0));
    assert!(tenant.outbox().list(None).unwrap().is_empty());
    assert_eq!(tenant.shares().list(Some(empty)).unwrap().len(), 1);
}

#[test]
fn a_trapping_notifier_fail_open_still_sends_the_default_email() {
    let f = fixture();
    install(&f, "notifier-trap", FailurePolicy::FailOpen);
    let tenant = f.tenant();
    let receipt = tenant
        .shares()
        .share(&ShareRequest::new(
            f.plan,
            Audience::Users,
            ["full@acme.example"],
        ))
        .unwrap();
    assert_eq!(receipt.notifications, Notifications::Queued(1));
    let outbox = tenant.outbox().list(Some(OutboxStatus::Pending)).unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].subject, "Onboarding for Globex");
    assert!(deliver(&f.host)[0].body.contains(&receipt.links[0].link));
}

#[test]
fn a_trapping_notifier_fail_closed_records_the_share_and_holds_its_notifications() {
    let f = fixture();
    install(&f, "notifier-trap", FailurePolicy::FailClosed);
    let tenant = f.tenant();
    let receipt = tenant
        .shares()
        .share(&ShareRequest::new(
            f.plan,
            Audience::Users,
            ["full@acme.example", "viewer@acme.example"],
        ))
        .unwrap();
    let Notifications::Held { count, error } = &receipt.notifications else {
        panic!("{:?}", receipt.notifications)
    };
    assert_eq!(*count, 2);
    assert!(error.contains("notifier-trap"), "{error}");
    // The share stands, its links open, and the held messages carry the plugin's error.
    assert_eq!(tenant.shares().list(Some(f.plan)).unwrap().len(), 2);
    assert_eq!(
        tenant.links().open(&receipt.links[0].link).unwrap(),
        Opened::CodeRequired
    );
    let held = tenant.outbox().list(Some(OutboxStatus::Held)).unwrap();
    assert_eq!(held.len(), 2);
    assert!(held[0].error.as_deref().unwrap().contains("notifier-trap"));
    assert!(
        tenant
            .outbox()
            .list(Some(OutboxStatus::Pending))
            .unwrap()
            .is_empty()
    );
    // An admin can release them.
    tenant.outbox().release_held(held[0].id).unwrap();
    assert_eq!(
        tenant
            .outbox()
            .list(Some(OutboxStatus::Pending))
            .unwrap()
            .len(),
        1
    );
}

/// Runs `cshost` on a database file as the CSM; returns stdout, failing on a non-zero exit.
fn cshost(db: &std::path::Path, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cshost"))
        .env("CSHOST_DB", db)
        .env("CSHOST_ACTOR", "csm@acme.example")
        .env("CSHOST_CACHE_DIR", support::cache_dir())
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cshost {args:?}: {stdout}{stderr}");
    stdout
}

#[test]
fn the_command_line_creates_activates_shares_opens_revokes_and_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let run = |args: &[&str]| cshost(&db, args);
    run(&["tenant", "create", "acme"]);
    // The CSM is the tenant's admin: the platform operator adds it.
    Host::open(&db, support::host_config())
        .unwrap()
        .tenant("acme")
        .unwrap()
        .access()
        .add_admin("csm@acme.example", "Cem")
        .unwrap();
    run(&[
        "user",
        "add",
        "--tenant",
        "acme",
        "vic@acme.example",
        "--licence",
        "viewer",
    ]);
    run(&["company", "add", "--tenant", "acme", "Globex"]);
    let plan = run(&[
        "plan",
        "create",
        "--tenant",
        "acme",
        "--company",
        "1",
        "--name",
        "Onboarding",
    ]);
    let plan = plan.trim();
    let objective = run(&[
        "plan",
        "objective",
        "--tenant",
        "acme",
        "--plan",
        plan,
        "--name",
        "Go live",
    ]);
    let cta = run(&[
        "plan",
        "cta",
        "--tenant",
        "acme",
        "--company",
        "1",
        "--type",
        "risk",
        "--name",
        "Kickoff",
        "--due",
        "2026-03-10",
        "--plan",
        plan,
    ]);
    let task = run(&[
        "plan",
        "task",
        "--tenant",
        "acme",
        "--cta",
        cta.trim(),
        "--name",
        "Agenda",
        "--due",
        "2026-03-20",
    ]);
    run(&[
        "plan",
        "task",
        "--tenant",
        "acme",
        "--objective",
        objective.trim(),
        "--name",
        "Train",
    ]);

    // Activation fails and names the CTA, until the task's date is re-applied.
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_cshost"))
        .env("CSHOST_DB", &db)
        .args(["plan", "activate", "--tenant", "acme", plan])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("SUCCESS_PLAN_OBJECTIVES_UPDATED_FAILED"),
        "{stderr}"
    );
    run(&[
        "plan",
        "task-due",
        "--tenant",
        "acme",
        task.trim(),
        "2026-03-20",
    ]);
    assert!(run(&["plan", "activate", "--tenant", "acme", plan]).contains("active"));

    run(&["share", "settings", "--tenant", "acme", "--otp", "off"]);
    let shared = run(&[
        "share",
        "create",
        "--tenant",
        "acme",
        "--plan",
        plan,
        "--users",
        "vic@acme.example",
    ]);
    let link = shared
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .expect("a link")
        .to_owned();
    let opened = run(&["share", "open", "--tenant", "acme", &link]);
    assert!(opened.contains("Onboarding for Globex"), "{opened}");
    assert!(opened.contains("Train"), "{opened}");
    let list = run(&["share", "list", "--tenant", "acme", "--plan", plan]);
    assert!(
        list.contains("vic@acme.example") && list.contains("active"),
        "{list}"
    );

    let token = link.rsplit('/').next().unwrap();
    let pending = run(&["outbox", "list", "--tenant", "acme", "--bodies"]);
    assert!(
        !pending.contains(token) && pending.contains("/{token}"),
        "{pending}"
    );
    let mailbox = dir.path().join("mailbox");
    let delivered = run(&["outbox", "deliver", "--mailbox", mailbox.to_str().unwrap()]);
    assert!(delivered.starts_with("1 sent"), "{delivered}");
    let emails: Vec<_> = std::fs::read_dir(mailbox.join("acme")).unwrap().collect();
    assert_eq!(emails.len(), 1);
    let email = std::fs::read_to_string(emails[0].as_ref().unwrap().path()).unwrap();
    assert!(email.contains(&link), "{email}");
    let sent = run(&["outbox", "list", "--tenant", "acme", "--bodies"]);
    assert!(!sent.contains(token), "{sent}");
    assert!(
        run(&["outbox", "list", "--tenant", "acme"]).contains("sent Email to vic@acme.example")
    );

    assert!(run(&["share", "revoke", "--tenant", "acme", "--company", "1"]).starts_with("1 link"));
    let gone = std::process::Command::new(env!("CARGO_BIN_EXE_cshost"))
        .env("CSHOST_DB", &db)
        .args(["share", "open", "--tenant", "acme", &link])
        .output()
        .unwrap();
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("ask the person who shared it"));
}

#[test]
fn a_lost_link_is_reissued_and_the_old_one_stops_working() {
    let f = fixture();
    let tenant = f.tenant();
    without_otp(&tenant);
    let receipt = tenant
        .shares()
        .share(&ShareRequest::new(
            f.plan,
            Audience::Users,
            ["full@acme.example", "viewer@acme.example"],
        ))
        .unwrap();
    let (lost, other) = (&receipt.links[0], &receipt.links[1]);

    let new = tenant.shares().reissue_link(lost.recipient_id).unwrap();
    assert_eq!(new.email, lost.email);
    assert_ne!(new.link, lost.link);
    assert!(matches!(
        tenant.links().open(&lost.link).unwrap_err().kind(),
        ErrorKind::LinkUnavailable
    ));
    assert!(tenant.links().open(&new.link).is_ok());
    assert!(
        tenant.links().open(&other.link).is_ok(),
        "other links are untouched"
    );
    let audit = tenant.audit().list().unwrap();
    assert!(
        audit.iter().any(|e| e.action == "share.reissue"
            && e.subject == format!("share-recipient:{}", lost.recipient_id)
            && e.actor == "csm@acme.example"),
        "{audit:?}"
    );

    // A revoked link is not brought back this way.
    tenant
        .shares()
        .revoke_recipient(other.recipient_id)
        .unwrap();
    let error = tenant
        .shares()
        .reissue_link(other.recipient_id)
        .unwrap_err();
    assert!(error.to_string().contains("revoked"), "{error}");
    assert!(matches!(
        tenant.shares().reissue_link(9_999).unwrap_err().kind(),
        ErrorKind::NotFound { .. }
    ));
}

/// The plan of the fixture shared with contacts (its first objective internal again), with a
/// CTA on the external objective due 2026-04-10 and a task of it; returns (the external
/// objective, its task, the CTA's task).
fn shared_with_contacts(f: &Fixture) -> (i64, i64, i64) {
    let tenant = f.tenant();
    tenant
        .plans()
        .set_sharing_with_contacts(f.plan, true)
        .unwrap();
    let plan = tenant.plans().get(f.plan).unwrap();
    tenant
        .plans()
        .set_objective_shared(plan.objectives[0].id, false)
        .unwrap();
    let external = plan.objectives[1].id;
    let cta = tenant
        .ctas()
        .open(&NewCta {
            company_id: f.company,
            kind: cs_host::model::CtaType::Objective,
            name: "Kick-off".into(),
            priority: cs_host::model::Priority::High,
            due_date: Date::new(2026, 4, 10),
            plan_id: Some(f.plan),
            objective_id: Some(external),
        })
        .unwrap();
    let cta_task = tenant
        .plans()
        .add_task(
            TaskOf::Cta(cta),
            &NewTask {
                name: "Book the room".into(),
                due_date: Date::new(2026, 4, 1),
                ..NewTask::default()
            },
        )
        .unwrap();
    (external, plan.objectives[1].tasks[0].id, cta_task)
}

fn contact(email: &str, permission: SharePermission) -> ShareTo {
    ShareTo {
        permission,
        ..ShareTo::email(email)
    }
}

#[test]
fn a_recipient_updates_a_task_through_the_link_and_the_csm_sees_it() {
    let f = fixture();
    let tenant = f.tenant();
    let (objective, task, cta_task) = shared_with_contacts(&f);
    let internal_task = tenant.plans().get(f.plan).unwrap().objectives[0].tasks[0].id;
    let receipt = tenant
        .shares()
        .share(&ShareRequest {
            recipients: vec![
                contact("pat@globex.example", SharePermission::Update),
                contact("sam@globex.example", SharePermission::View),
            ],
            ..ShareRequest::new(f.plan, Audience::Contacts, [])
        })
        .unwrap();
    assert_eq!(receipt.links[0].permission, SharePermission::Update);
    let (pat, sam) = (&receipt.links[0].link, &receipt.links[1].link);

    // The code rule is on: without the session a verified code opens, nothing changes.
    let due = TaskUpdate {
        done: None,
        due_date: Date::new(2026, 4, 20),
    };
    let no_session = tenant
        .links()
        .update_task(pat, None, task, &due)
        .unwrap_err();
    assert!(
        matches!(no_session.kind(), ErrorKind::SessionRequired),
        "{no_session}"
    );
    tenant.links().request_otp(pat).unwrap();
    let session = tenant
        .links()
        .start_session(pat, &last_code(&f.host, "pat@globex.example"))
        .unwrap();
    let token = session.token.clone().expect("a session");
    assert_eq!(session.plan.permission, SharePermission::Update);
    // The link opens again within the session without another code.
    assert!(matches!(
        tenant.links().open_with(pat, Some(&token)).unwrap(),
        Opened::Plan(_)
    ));
    assert_eq!(
        tenant
            .links()
            .open_with(pat, Some(&"0".repeat(64)))
            .unwrap(),
        Opened::CodeRequired
    );

    // Pat sets the due date and marks the task done, and comments on the objective.
    let seen = tenant
        .links()
        .update_task(pat, Some(&token), task, &due)
        .unwrap();
    let updated = &seen.objectives[0].tasks[0];
    assert_eq!(updated.due_date, Date::new(2026, 4, 20));
    tenant
        .links()
        .update_task(
            pat,
            Some(&token),
            task,
            &TaskUpdate {
                done: Some(true),
                due_date: None,
            },
        )
        .unwrap();
    tenant
        .links()
        .comment_objective(pat, Some(&token), objective, "Training moved\nto Monday")
        .unwrap();

    // The CTA rule still holds: a CTA's task may not move past its CTA.
    let late = tenant
        .links()
        .update_task(
            pat,
            Some(&token),
            cta_task,
            &TaskUpdate {
                done: None,
                due_date: Date::new(2026, 4, 15),
            },
        )
        .unwrap_err();
    assert!(
        late.to_string().contains("after its CTA") && late.to_string().contains("Kick-off"),
        "{late}"
    );
    tenant
        .links()
        .update_task(
            pat,
            Some(&token),
            cta_task,
            &TaskUpdate {
                done: None,
                due_date: Date::new(2026, 4, 9),
            },
        )
        .unwrap();

    // A task of an internal objective is not theirs to change, nor is a view-only link.
    let hidden = tenant
        .links()
        .update_task(pat, Some(&token), internal_task, &due)
        .unwrap_err();
    assert!(
        matches!(hidden.kind(), ErrorKind::RecipientRefused { .. }),
        "{hidden}"
    );
    tenant.links().request_otp(sam).unwrap();
    let sam_session = tenant
        .links()
        .start_session(sam, &last_code(&f.host, "sam@globex.example"))
        .unwrap();
    let view_only = tenant
        .links()
        .update_task(sam, sam_session.token.as_deref(), task, &due)
        .unwrap_err();
    assert!(view_only.to_string().contains("view only"), "{view_only}");

    // The CSM sees it all: the plan, the audit log (as the external person), the events, and
    // the last access in the manage-shares view.
    let plan = tenant.plans().get(f.plan).unwrap();
    let changed = &plan.objectives[1].tasks[0];
    assert_eq!(
        (changed.status.as_str(), changed.due_date),
        ("done", Date::new(2026, 4, 20))
    );
    assert_eq!(plan.ctas[0].tasks[0].due_date, Date::new(2026, 4, 9));
    let comment = &plan.objectives[1].comments[0];
    assert_eq!(
        (
            comment.author.as_str(),
            comment.external,
            comment.body.as_str()
        ),
        ("pat@globex.example", true, "Training moved\nto Monday")
    );
    let audit = tenant.audit().list().unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "task.update" && e.actor == "recipient:pat@globex.example"),
        "{audit:?}"
    );
    let events = tenant.shares().events(Some(f.plan)).unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| (e.action.as_str(), e.subject.clone()))
            .collect::<Vec<_>>(),
        [
            ("task.update", format!("task:{task}")),
            ("task.update", format!("task:{task}")),
            ("objective.comment", format!("objective:{objective}")),
            ("task.update", format!("task:{cta_task}")),
        ]
    );
    assert!(events.iter().all(|e| e.email == "pat@globex.example"));
    assert_eq!(events[0].detail["after"]["due_date"], "2026-04-20");
    let rows = tenant.shares().list(Some(f.plan)).unwrap();
    let pat_row = rows
        .iter()
        .find(|r| r.email == "pat@globex.example")
        .unwrap();
    assert_eq!(pat_row.permission, SharePermission::Update);
    assert_eq!(pat_row.last_access_at, Some(START as i64));

    // Re-issuing the link ends the session with the old link.
    let new_link = tenant
        .shares()
        .reissue_link(receipt.links[0].recipient_id)
        .unwrap();
    let reissued = tenant
        .links()
        .update_task(&new_link.link, Some(&token), task, &due)
        .unwrap_err();
    assert!(
        matches!(reissued.kind(), ErrorKind::SessionRequired),
        "{reissued}"
    );

    // Sessions end: twelve hours later a code is needed again.
    tenant.links().request_otp(&new_link.link).unwrap();
    let session = tenant
        .links()
        .start_session(&new_link.link, &last_code(&f.host, "pat@globex.example"))
        .unwrap();
    let token = session.token.unwrap();
    tenant
        .links()
        .update_task(&new_link.link, Some(&token), task, &due)
        .unwrap();
    f.clock.advance(Duration::from_secs(12 * 3600));
    let ended = tenant
        .links()
        .update_task(&new_link.link, Some(&token), task, &due)
        .unwrap_err();
    assert!(
        matches!(ended.kind(), ErrorKind::SessionRequired),
        "{ended}"
    );
}

#[test]
fn a_viewer_licence_only_views_even_when_asked_to_update() {
    let f = fixture();
    let tenant = f.tenant();
    without_otp(&tenant);
    let receipt = tenant
        .shares()
        .share(&ShareRequest {
            recipients: vec![
                contact("viewer@acme.example", SharePermission::Update),
                contact("full@acme.example", SharePermission::Update),
            ],
            ..ShareRequest::new(f.plan, Audience::Users, [])
        })
        .unwrap();
    assert_eq!(
        receipt
            .links
            .iter()
            .map(|l| l.permission)
            .collect::<Vec<_>>(),
        [SharePermission::View, SharePermission::Update]
    );
    // Without the code rule, the link alone lets the Full user update, and see the internal
    // objective's task.
    let internal_task = tenant.plans().get(f.plan).unwrap().objectives[0].tasks[0].id;
    let done = TaskUpdate {
        done: Some(true),
        due_date: None,
    };
    tenant
        .links()
        .update_task(&receipt.links[1].link, None, internal_task, &done)
        .unwrap();
    let refused = tenant
        .links()
        .update_task(&receipt.links[0].link, None, internal_task, &done)
        .unwrap_err();
    assert!(refused.to_string().contains("view only"), "{refused}");
}

#[test]
fn a_preview_shows_each_recipient_their_plan_and_message_and_sends_nothing() {
    let f = fixture();
    let tenant = f.tenant();
    let _ = shared_with_contacts(&f);
    let request = ShareRequest {
        recipients: vec![
            ShareTo {
                first_name: "Pat".into(),
                last_name: "Buyer".into(),
                ..contact("pat@globex.example", SharePermission::Update)
            },
            contact("sam@globex.example", SharePermission::View),
        ],
        note: Some("Kick-off Monday".into()),
        include_tasks: false,
        ..ShareRequest::new(f.plan, Audience::Contacts, [])
    };
    let previews = tenant.shares().preview(&request).unwrap();
    assert_eq!(previews.len(), 2);
    let pat = &previews[0];
    assert_eq!(
        (pat.email.as_str(), pat.name.as_str(), pat.new_person),
        ("pat@globex.example", "Pat Buyer", true)
    );
    assert_eq!(pat.permission, SharePermission::Update);
    assert_eq!(previews[1].permission, SharePermission::View);
    // Only the external objective, no tasks (excluded), its CTA without tasks.
    let names: Vec<&str> = pat
        .plan
        .objectives
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(names, ["Go live"]);
    assert!(pat.plan.objectives[0].tasks.is_empty());
    assert_eq!(pat.plan.ctas.len(), 1);
    assert!(pat.plan.ctas[0].tasks.is_empty());
    assert_eq!(pat.messages.len(), 1);
    assert_eq!(pat.messages[0].subject, "Onboarding for Globex");
    assert!(
        pat.messages[0].body.contains("Kick-off Monday")
            && pat.messages[0].body.contains("[your link]"),
        "{}",
        pat.messages[0].body
    );
    // Nothing was recorded or sent, and nobody became a person.
    assert!(tenant.shares().list(None).unwrap().is_empty());
    assert!(tenant.outbox().list(None).unwrap().is_empty());
    assert!(
        tenant
            .persons()
            .by_email("pat@globex.example")
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_link_is_extended_and_an_expired_one_opens_again() {
    let f = fixture();
    let tenant = f.tenant();
    without_otp(&tenant);
    let receipt = tenant
        .shares()
        .share(&ShareRequest::new(
            f.plan,
            Audience::Users,
            ["full@acme.example", "viewer@acme.example"],
        ))
        .unwrap();
    let (one, other) = (&receipt.links[0], &receipt.links[1]);
    f.clock.advance(Duration::from_secs(31 * 86_400));
    assert!(matches!(
        tenant.links().open(&one.link).unwrap_err().kind(),
        ErrorKind::LinkUnavailable
    ));
    let shorter = tenant
        .shares()
        .extend_link(one.recipient_id, 0)
        .unwrap_err();
    assert!(shorter.to_string().contains("1 to 3650"), "{shorter}");
    let until = tenant.shares().extend_link(one.recipient_id, 7).unwrap();
    let now = START as i64 + 31 * 86_400;
    assert_eq!(until, now + 7 * 86_400);
    assert!(tenant.links().open(&one.link).is_ok());
    assert!(
        tenant.links().open(&other.link).is_err(),
        "the other recipient keeps the share's expiry"
    );
    let rows = tenant.shares().list(Some(f.plan)).unwrap();
    let row = rows
        .iter()
        .find(|r| r.recipient_id == one.recipient_id)
        .unwrap();
    assert_eq!((row.state, row.expires_at), (LinkState::Active, until));
    let cut = tenant
        .shares()
        .extend_link(one.recipient_id, 1)
        .unwrap_err();
    assert!(cut.to_string().contains("would shorten"), "{cut}");
    assert!(
        tenant
            .audit()
            .list()
            .unwrap()
            .iter()
            .any(|e| e.action == "share.extend" && e.actor == "csm@acme.example")
    );
    tenant.shares().revoke_recipient(one.recipient_id).unwrap();
    let revoked = tenant
        .shares()
        .extend_link(one.recipient_id, 30)
        .unwrap_err();
    assert!(revoked.to_string().contains("revoked"), "{revoked}");
}

#[test]
fn the_command_line_lets_a_recipient_update_a_task_and_the_csm_list_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let run = |args: &[&str]| cshost(&db, args);
    run(&["tenant", "create", "acme"]);
    // The CSM is the tenant's admin: the platform operator adds it.
    Host::open(&db, support::host_config())
        .unwrap()
        .tenant("acme")
        .unwrap()
        .access()
        .add_admin("csm@acme.example", "Cem")
        .unwrap();
    run(&["company", "add", "--tenant", "acme", "Globex"]);
    let plan = run(&[
        "plan",
        "create",
        "--tenant",
        "acme",
        "--company",
        "1",
        "--name",
        "Onboarding",
        "--contacts",
    ]);
    let plan = plan.trim();
    let objective = run(&[
        "plan",
        "objective",
        "--tenant",
        "acme",
        "--plan",
        plan,
        "--name",
        "Go live",
    ]);
    let task = run(&[
        "plan",
        "task",
        "--tenant",
        "acme",
        "--objective",
        objective.trim(),
        "--name",
        "Train",
    ]);
    let task = task.trim();
    run(&["share", "settings", "--tenant", "acme", "--otp", "off"]);
    let preview = run(&[
        "share",
        "preview",
        "--tenant",
        "acme",
        "--plan",
        plan,
        "--contacts",
        "pat@globex.example:Pat Buyer",
        "--can-update",
        "pat@globex.example",
    ]);
    assert!(
        preview.contains("nothing is sent")
            && preview.contains("update")
            && preview.contains("Train"),
        "{preview}"
    );
    assert!(run(&["share", "list", "--tenant", "acme"]).lines().count() == 1);
    let shared = run(&[
        "share",
        "create",
        "--tenant",
        "acme",
        "--plan",
        plan,
        "--contacts",
        "pat@globex.example:Pat Buyer",
        "--can-update",
        "pat@globex.example",
    ]);
    let link = shared
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .expect("a link")
        .to_owned();
    let updated = run(&[
        "share",
        "update",
        "--tenant",
        "acme",
        &link,
        "--task",
        task,
        "--done",
        "--due",
        "2026-05-01",
    ]);
    assert!(updated.contains("done, due 2026-05-01"), "{updated}");
    run(&[
        "share",
        "comment",
        "--tenant",
        "acme",
        &link,
        "--objective",
        objective.trim(),
        "Ready \u{1b}[31m soon",
    ]);
    let events = run(&["share", "events", "--tenant", "acme", "--plan", plan]);
    assert!(
        events.contains("pat@globex.example") && events.contains("task.update"),
        "{events}"
    );
    assert!(!events.contains('\u{1b}'), "escaped: {events}");
    let show = run(&["plan", "show", "--tenant", "acme", plan]);
    assert!(
        show.contains("(done, due 2026-05-01)")
            && show.contains("comment 1 by recipient pat@globex.example"),
        "{show}"
    );
    assert!(!show.contains('\u{1b}'), "escaped: {show}");
    let list = run(&["share", "list", "--tenant", "acme", "--plan", plan]);
    assert!(
        list.contains("LAST ACCESS") && list.contains("update") && !list.contains("never"),
        "{list}"
    );
}

/// Every file of the database (the file, its WAL), as text, for looking for secrets in it.
fn database_bytes(path: &std::path::Path) -> String {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-journal"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        if let Ok(bytes) = std::fs::read(&file) {
            all.extend(bytes);
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

/// The text of every message in the outbox table, as someone with the database file reads it.
fn outbox_text(path: &std::path::Path) -> String {
    let db = rusqlite::Connection::open(path).unwrap();
    db.query_row(
        "SELECT coalesce(group_concat(subject || ' ' || body || ' ' || coalesce(error, ''), ' '), '')
         FROM outbox",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

fn recipient_hash(recipient: i64, code: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    Sha256::new()
        .chain_update(recipient.to_le_bytes())
        .chain_update(code.as_bytes())
        .finalize()
        .to_vec()
}

/// A host on a database file with a tenant, a viewer and a plan shared with them (a code is
/// required): the host, the link and the recipient's id.
fn shared_on_file(path: &std::path::Path) -> (Host, String, i64) {
    let host = Host::open(path, support::host_config()).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    let tenant = host.tenant("acme").unwrap();
    tenant
        .access()
        .add_admin("csm@acme.example", "Cem")
        .unwrap();
    tenant
        .users()
        .add("viewer@acme.example", "Vic", Licence::Viewer)
        .unwrap();
    let tenant = tenant.acting_as("csm@acme.example");
    let company = tenant.companies().add(NewCompany::new("Globex")).unwrap();
    let plan = tenant
        .plans()
        .create(&NewPlan {
            company_id: company,
            name: "Onboarding".into(),
            ..NewPlan::default()
        })
        .unwrap();
    let receipt = tenant
        .shares()
        .share(&ShareRequest::new(
            plan,
            Audience::Users,
            ["viewer@acme.example"],
        ))
        .unwrap();
    let link = receipt.links[0].link.clone();
    let id = receipt.links[0].recipient_id;
    drop(tenant);
    (host, link, id)
}

#[test]
fn links_and_codes_are_not_readable_from_the_database_before_or_after_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cs.db");
    let (host, link, recipient) = shared_on_file(&path);
    let tenant = host.tenant("acme").unwrap();
    tenant.links().request_otp(&link).unwrap();
    let token = link.rsplit('/').next().unwrap().to_owned();

    // Pending: the messages hold markers, the database neither the token nor the code.
    let listed = tenant.outbox().list(None).unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed[0].body.contains("/{token}"), "{}", listed[0].body);
    assert!(
        listed[1].body.contains("code is {code}"),
        "{}",
        listed[1].body
    );
    assert!(!database_bytes(&path).contains(&token));

    // Delivered: the recipient gets the link and the code.
    let sent = deliver(&host);
    assert_eq!(sent.len(), 2);
    let share = sent.iter().find(|m| m.kind == "share").unwrap();
    assert!(share.body.contains(&link), "{}", share.body);
    let code = last_code_of(&sent);

    // The code's stored hash is keyed: trying every six-digit code with SHA-256 of the
    // recipient's id and the code (all the database offers) finds nothing.
    let db = rusqlite::Connection::open(&path).unwrap();
    let stored: Vec<u8> = db
        .query_row(
            "SELECT otp_hash FROM share_recipients WHERE id = ?1",
            [recipient],
            |r| r.get(0),
        )
        .unwrap();
    assert_ne!(stored, recipient_hash(recipient, &code));
    let found = (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|guess| recipient_hash(recipient, guess) == stored);
    assert_eq!(found, None);
    // The key lives beside the database, readable by its owner only.
    let key = dir.path().join("cs.db.key");
    assert!(key.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // After delivery, nothing readable remains either: not in the listing, not in the file.
    let text = outbox_text(&path);
    assert!(!text.contains(&token) && !text.contains(&code), "{text}");
    let secrets: i64 = db
        .query_row("SELECT count(secret) FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(secrets, 0);
    for m in tenant.outbox().list(None).unwrap() {
        assert!(
            !m.body.contains(&token) && !m.body.contains(&code),
            "{}",
            m.body
        );
    }
    drop(db);
    assert!(!database_bytes(&path).contains(&token));

    // And the code works, once.
    assert_eq!(
        tenant.links().verify_otp(&link, &code).unwrap().name,
        "Onboarding"
    );
}

fn last_code_of(sent: &[OutboxMessage]) -> String {
    let otp = sent.iter().rfind(|m| m.kind == "otp").expect("a code");
    otp.body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("six digits")
        .to_owned()
}

#[test]
fn messages_queued_before_secrets_were_sealed_are_cleaned_and_old_codes_withdrawn() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cs.db");
    let (host, link, recipient) = shared_on_file(&path);
    host.tenant("acme")
        .unwrap()
        .links()
        .request_otp(&link)
        .unwrap();
    drop(host);
    let token = link.rsplit('/').next().unwrap().to_owned();
    // The database as the release before sealed secrets left it: the link and the code in the
    // bodies, the code hashed with plain SHA-256, one share email delivered already.
    let db = rusqlite::Connection::open(&path).unwrap();
    // 0014_sealed_secrets; the steps after it are undone too, which the assertion makes
    // impossible to miss when a step is added.
    let sealed_step: i64 = 14;
    let step: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(step, 20, "undo the steps after {sealed_step} below");
    db.execute_batch(&format!(
        "UPDATE outbox SET body = replace(body, '{{token}}', '{token}');
         UPDATE outbox SET body = 'Your one-time code is 123456.' WHERE kind = 'otp';
         INSERT INTO outbox (tenant_id, idempotency_key, channel, recipient, subject, body, kind,
                             status, created_at, sent_at)
         SELECT tenant_id, idempotency_key || ':old', channel, recipient, subject, body, kind,
                'sent', created_at, created_at
         FROM outbox WHERE kind = 'share';
         {undo_later_steps}
         ALTER TABLE outbox DROP COLUMN secret;
         DROP INDEX shares_notify_pending;
         ALTER TABLE shares DROP COLUMN notify_attempts;
         ALTER TABLE share_recipients DROP COLUMN link_seal;
         PRAGMA user_version = {};",
        sealed_step - 1,
        undo_later_steps = support::UNDO_STEPS_20_TO_16,
    ))
    .unwrap();
    db.execute(
        "UPDATE share_recipients SET otp_hash = ?2 WHERE id = ?1",
        rusqlite::params![recipient, recipient_hash(recipient, "123456")],
    )
    .unwrap();
    drop(db);

    let host = Host::open(&path, support::host_config()).unwrap();
    let tenant = host.tenant("acme").unwrap();
    // The old code is withdrawn, clearly: ask for a new one.
    let withdrawn = tenant.links().verify_otp(&link, "123456").unwrap_err();
    assert!(
        matches!(withdrawn.kind(), ErrorKind::Otp(OtpError::NotRequested)),
        "{withdrawn}"
    );
    let held = tenant.outbox().list(Some(OutboxStatus::Held)).unwrap();
    assert_eq!(held.len(), 1);
    assert!(held[0].error.as_deref().unwrap().contains("withdrawn"));
    assert!(!held[0].body.contains("123456"));
    // The delivered copy lost its link; the waiting one still goes out with it, then loses it.
    assert!(!outbox_text(&path).contains("123456"));
    assert_eq!(outbox_text(&path).matches(token.as_str()).count(), 1);
    let sent = deliver(&host);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body.contains(&link), "{}", sent[0].body);
    assert!(!outbox_text(&path).contains(&token));
    // A new code works.
    tenant.links().request_otp(&link).unwrap();
    let code = last_code_of(&deliver(&host));
    assert!(tenant.links().verify_otp(&link, &code).is_ok());
}

#[test]
fn a_share_owed_without_its_sealed_links_is_notified_with_links_reissued_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cs.db");
    let (host, old_link, recipient) = shared_on_file(&path);
    drop(host);
    // A share whose process died before its notifications were queued, in a release that did
    // not keep the links' seals: owed, no message, no seal.
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "UPDATE shares SET notify_status = 'pending', otp_required = 0;
         DELETE FROM outbox WHERE kind = 'share';
         UPDATE share_recipients SET link_seal = NULL;",
    )
    .unwrap();
    drop(db);

    let host = Host::open(&path, support::host_config()).unwrap();
    let tenant = host.tenant("acme").unwrap();
    let run = tenant.hooks().run_pending().unwrap();
    assert_eq!(
        run.done,
        ["plan shared, share 1: 1 notification(s) queued, 1 link(s) re-issued"]
    );
    // The link the share made cannot be sent (its token was never stored): the recipient gets a
    // new one, which opens the plan, and the old one no longer opens.
    let sent = deliver(&host);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].recipient, "viewer@acme.example");
    let new_link = sent[0]
        .body
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .expect("a link")
        .to_owned();
    assert_ne!(new_link, old_link);
    assert!(matches!(
        tenant.links().open(&new_link),
        Ok(Opened::Plan(_))
    ));
    assert!(matches!(
        tenant.links().open(&old_link).unwrap_err().kind(),
        ErrorKind::LinkUnavailable
    ));
    let audit = tenant.audit().list().unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "share.reissue"
                && e.subject == format!("share-recipient:{recipient}")),
        "{audit:?}"
    );
    // Done once: nothing is owed any more.
    assert_eq!(tenant.hooks().run_pending().unwrap().done.len(), 0);
    assert_eq!(deliver(&host).len(), 0);
}
