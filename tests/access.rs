//! Who may do what, tried as a partner user and as an outsider would: each test is named for the
//! attack it makes, over a tenant with two partners (Bennett & Co. and Tui Partners) and their
//! customers, through the library and the `cshost` command line.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cs_host::access::{AccessSettings, Authenticated, Permission, Permissions, Role};
use cs_host::model::{AccessScope, Audience, CtaType, FieldValue, Priority};
use cs_host::{
    CompanyKey, Criteria, ErrorKind, Filter, Host, HostConfig, Licence, ManualClock, NewCompany,
    NewCta, NewPlan, Operator, ShareRequest, Tenant, TenantLevel,
};

const ADMIN: &str = "admin@acme.example";
const PAT: &str = "pat@bennett.example";
const TIA: &str = "tia@tui.example";
const VIC: &str = "vic@acme.example";

/// The tenant `acme` with its admin, a viewer, two partners and a customer of each (plus one
/// the tenant manages itself), and a partner user of each partner.
struct World {
    host: Host,
    clock: ManualClock,
    bennett: i64,
    tui: i64,
    bennett_customer: i64,
    tui_customer: i64,
    direct_customer: i64,
}

impl World {
    fn as_user(&self, email: &str) -> Tenant<'_> {
        self.host.tenant("acme").unwrap().as_user(email).unwrap()
    }

    fn plan_on(&self, company: i64, name: &str) -> i64 {
        self.as_user(ADMIN)
            .create_plan(&NewPlan {
                company_id: company,
                name: name.into(),
                ..NewPlan::default()
            })
            .unwrap()
    }
}

fn world() -> World {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let host = Host::open_in_memory(HostConfig::default().clock(Arc::new(clock.clone()))).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    let operator = host.tenant("acme").unwrap();
    operator.add_admin(ADMIN, "Ada").unwrap();
    let admin = operator.as_user(ADMIN).unwrap();
    admin.add_user(VIC, "Vic", Licence::Viewer).unwrap();
    let (bennett, _) = admin
        .add_partner(NewCompany::new("Bennett & Co."), Some(AccessScope::Both))
        .unwrap();
    let (tui, _) = admin
        .add_partner(
            NewCompany::new("Tui Partners"),
            Some(AccessScope::CompanyRecords),
        )
        .unwrap();
    let bennett_customer = admin
        .add_company(NewCompany::new("Customer of Bennett").managed_by(bennett))
        .unwrap();
    let tui_customer = admin
        .add_company(NewCompany::new("Customer of Tui").managed_by(tui))
        .unwrap();
    let direct_customer = admin
        .add_company(NewCompany::new("Customer of Acme"))
        .unwrap();
    admin.add_partner_user(bennett, PAT, "Pat").unwrap();
    admin.add_partner_user(tui, TIA, "Tia").unwrap();
    World {
        host,
        clock,
        bennett,
        tui,
        bennett_customer,
        tui_customer,
        direct_customer,
    }
}

fn assert_not_found(result: cs_host::Result<impl std::fmt::Debug>) {
    let error = result.expect_err("out of scope");
    assert!(
        matches!(error.kind(), ErrorKind::NotFound { .. }),
        "expected `not found`, got {error}"
    );
}

fn names(companies: &[cs_host::model::Company]) -> Vec<&str> {
    companies.iter().map(|c| c.name.as_str()).collect()
}

#[test]
fn an_unknown_actor_is_refused_and_changes_nothing() {
    let w = world();
    let acme = w.host.tenant("acme").unwrap();
    let error = acme
        .clone()
        .as_user("nobody-at-all@evil.example")
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::UnknownActor { actor, .. } if actor == "nobody-at-all@evil.example"),
        "{error}"
    );
    let plan = w.plan_on(w.direct_customer, "Onboarding");
    // The handle that names its actor without checking it fails at its first operation.
    let outsider = acme.acting_as("nobody-at-all@evil.example");
    let error = outsider
        .share_plan(&ShareRequest::new(plan, Audience::Users, [VIC]))
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::UnknownActor { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("not a user of tenant `acme`"));
    assert!(w.as_user(ADMIN).shares(None).unwrap().is_empty());
}

#[test]
fn a_partner_user_cannot_read_list_or_search_another_partners_customer() {
    let w = world();
    let pat = w.as_user(PAT);
    assert!(
        pat.company(CompanyKey::Id(w.bennett_customer))
            .unwrap()
            .is_some()
    );
    for hidden in [w.tui_customer, w.direct_customer, w.tui] {
        assert_eq!(pat.company(CompanyKey::Id(hidden)).unwrap(), None);
    }
    assert_eq!(
        pat.company(CompanyKey::Name("Customer of Tui")).unwrap(),
        None
    );
    assert_eq!(
        names(&pat.companies(0, 100).unwrap()),
        ["Customer of Bennett"]
    );
    assert_eq!(
        names(&pat.search_companies("customer", 100).unwrap()),
        ["Customer of Bennett"]
    );
    // Its partner list is its own partner; users, its partner's users.
    let partners = pat.partners().unwrap();
    assert_eq!(partners.len(), 1);
    assert_eq!(partners[0].company.name, "Bennett & Co.");
    let users: Vec<String> = pat
        .users(None)
        .unwrap()
        .into_iter()
        .map(|u| u.email)
        .collect();
    assert_eq!(users, [PAT]);
    assert!(pat.users(Some(w.tui)).unwrap().is_empty());
    // The admin sees all three customers.
    assert_eq!(
        w.as_user(ADMIN)
            .search_companies("customer", 100)
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn a_partner_user_cannot_select_another_partners_customer_by_criteria() {
    let w = world();
    let criteria = Criteria::new(vec![Filter::field(
        "name",
        Operator::Contains,
        [FieldValue::Text("Customer".into())],
    )]);
    let selection = w.as_user(PAT).run_criteria(&criteria).unwrap();
    assert_eq!(selection.count, 1);
    assert_eq!(names(&selection.companies), ["Customer of Bennett"]);
    let selection = w.as_user(TIA).run_criteria(&criteria).unwrap();
    assert_eq!(names(&selection.companies), ["Customer of Tui"]);
    assert_eq!(w.as_user(ADMIN).run_criteria(&criteria).unwrap().count, 3);
}

#[test]
fn a_partner_user_cannot_plan_on_open_a_cta_on_or_share_another_partners_customer() {
    let w = world();
    let pat = w.as_user(PAT);
    // Planning on its own customer works.
    let own = pat
        .create_plan(&NewPlan {
            company_id: w.bennett_customer,
            name: "Adoption".into(),
            ..NewPlan::default()
        })
        .unwrap();
    assert_eq!(pat.plan(own).unwrap().name, "Adoption");

    assert_not_found(pat.create_plan(&NewPlan {
        company_id: w.tui_customer,
        name: "Takeover".into(),
        ..NewPlan::default()
    }));
    let cta = NewCta {
        company_id: w.tui_customer,
        kind: CtaType::Risk,
        name: "Poach".into(),
        priority: Priority::High,
        due_date: None,
        plan_id: None,
        objective_id: None,
    };
    assert_not_found(pat.open_cta(&cta));
    assert_not_found(pat.ctas(w.tui_customer));

    // A plan of Tui's customer, made by the admin, is out of Pat's reach in every way.
    let theirs = w.plan_on(w.tui_customer, "Tui's plan");
    assert_not_found(pat.plan(theirs));
    assert!(pat.plans(w.tui_customer).unwrap().is_empty());
    assert_not_found(pat.add_objective(theirs, "Steal", None, None));
    assert_not_found(pat.set_plan_status(theirs, cs_host::PlanStatus::Complete));
    assert_not_found(pat.share_plan(&ShareRequest::new(theirs, Audience::Users, [PAT])));
    assert_not_found(pat.revoke_plan(theirs));

    // Shares of Tui's plans are not listed to Pat, nor can Pat revoke or re-issue their links.
    let receipt = w
        .as_user(ADMIN)
        .share_plan(&ShareRequest::new(theirs, Audience::Users, [VIC]))
        .unwrap();
    let recipient = receipt.links[0].recipient_id;
    assert!(pat.shares(None).unwrap().is_empty());
    assert_not_found(pat.revoke_recipient(recipient));
    assert_not_found(pat.reissue_link(recipient));
    assert_eq!(w.as_user(ADMIN).shares(None).unwrap().len(), 1);
}

#[test]
fn a_viewer_cannot_share_or_change_anything() {
    let w = world();
    let plan = w.plan_on(w.direct_customer, "Onboarding");
    let vic = w.as_user(VIC);
    // It reads.
    assert_eq!(vic.plan(plan).unwrap().name, "Onboarding");
    let error = vic
        .share_plan(&ShareRequest::new(plan, Audience::Users, [ADMIN]))
        .unwrap_err();
    assert!(
        matches!(
            error.kind(),
            ErrorKind::PermissionDenied {
                permission: "plans.share",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("user:viewer"), "{error}");
    assert!(vic.add_company(NewCompany::new("Sneaky")).is_err());
    assert!(vic.audit_log().is_err());
    // A writing bundle does not lift a Viewer licence's cap.
    let admin = w.as_user(ADMIN);
    admin
        .define_bundle("sharers", Permissions::of(&[Permission::SharePlans]))
        .unwrap();
    admin.assign_bundle(VIC, "sharers").unwrap();
    assert!(
        w.as_user(VIC)
            .share_plan(&ShareRequest::new(plan, Audience::Users, [ADMIN]))
            .is_err()
    );
    // Nor can a Viewer be made a tenant admin.
    assert!(admin.assign_bundle(VIC, "admin").is_err());
}

#[test]
fn a_partner_narrowed_to_read_only_plans_cannot_create_or_share_them() {
    let w = world();
    let admin = w.as_user(ADMIN);
    admin
        .set_partner_permissions(
            w.bennett,
            Permissions::of(&[Permission::Read, Permission::ManageCtas]),
        )
        .unwrap();
    let pat = w.as_user(PAT);
    let error = pat
        .create_plan(&NewPlan {
            company_id: w.bennett_customer,
            name: "Adoption".into(),
            ..NewPlan::default()
        })
        .unwrap_err();
    assert!(
        matches!(
            error.kind(),
            ErrorKind::PermissionDenied {
                permission: "plans.create",
                ..
            }
        ),
        "{error}"
    );
    // Reading its plans still works; Tui's users are not narrowed.
    let plan = w.plan_on(w.bennett_customer, "Adoption");
    assert_eq!(pat.plan(plan).unwrap().name, "Adoption");
    assert!(
        w.as_user(TIA)
            .principal()
            .unwrap()
            .may(Permission::CreatePlans)
    );
    // A partner user never gains administration, whatever it is assigned.
    admin
        .define_bundle("everything", Permissions::all())
        .unwrap();
    admin.assign_bundle(PAT, "everything").unwrap();
    let pat = w.as_user(PAT).principal().unwrap();
    assert!(!pat.may(Permission::ManageUsers));
    assert!(!pat.may(Permission::CreatePlans));
    assert_eq!(pat.role(), Role::PartnerUser);
}

#[test]
fn partner_seats_are_refused_clearly_beyond_the_limit() {
    let w = world();
    let admin = w.as_user(ADMIN);
    admin
        .set_access_settings(AccessSettings {
            max_partners: Some(2),
            max_partner_users: Some(3),
        })
        .unwrap();
    let error = admin
        .add_partner(NewCompany::new("Third Partner"), Some(AccessScope::Both))
        .unwrap_err();
    assert!(
        matches!(
            error.kind(),
            ErrorKind::SeatsExhausted {
                what: "partners",
                limit: 2,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("2 partners of the 2"), "{error}");
    assert!(
        admin
            .company(CompanyKey::Name("Third Partner"))
            .unwrap()
            .is_none()
    );
    // Tagging a customer as a partner takes a seat too.
    assert!(admin.tag_partners(&[w.direct_customer], None).is_err());
    admin
        .add_partner_user(w.bennett, "pam@bennett.example", "Pam")
        .unwrap();
    let error = admin
        .add_partner_user(w.tui, "tom@tui.example", "Tom")
        .unwrap_err();
    assert!(
        matches!(
            error.kind(),
            ErrorKind::SeatsExhausted {
                what: "partner users",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn revoking_a_token_stops_it_at_once_and_an_expired_one_fails_alike() {
    let w = world();
    let pat = w.as_user(PAT);
    let created = pat.create_token(PAT, "portal", 30).unwrap();
    assert!(created.token.starts_with("csh_"));
    // Listed without the token; stored only as a hash.
    let listed = pat.tokens().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].user.as_deref(), Some(PAT));
    assert!(!format!("{listed:?}").contains(&created.token));

    let who = w
        .host
        .authenticate(&format!("Bearer {}", created.token))
        .unwrap();
    assert!(matches!(&who, Authenticated::User { email, .. } if email == PAT));
    let remote = w.host.tenant_for(&who, "acme").unwrap();
    // The token acts with Pat's rights: Tui's customer does not exist for it.
    assert_eq!(
        remote.company(CompanyKey::Id(w.tui_customer)).unwrap(),
        None
    );
    assert!(matches!(
        w.host.tenant_for(&who, "globex").unwrap_err().kind(),
        ErrorKind::UnknownTenant(_)
    ));
    // Pat cannot make a token for someone else.
    assert!(pat.create_token(ADMIN, "escalate", 30).is_err());

    assert!(pat.revoke_token(created.info.id).unwrap());
    let error = w.host.authenticate(&created.token).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::Unauthenticated),
        "{error}"
    );

    // An operator token; and expiry.
    let operator = w
        .host
        .create_operator_token("ci", 1, "ops@platform.example")
        .unwrap();
    assert!(matches!(
        w.host.authenticate(&operator.token).unwrap(),
        Authenticated::Operator { .. }
    ));
    w.clock.advance(Duration::from_secs(86_401));
    let error = w.host.authenticate(&operator.token).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::Unauthenticated),
        "{error}"
    );
    assert!(w.host.authenticate("csh_made-up").is_err());
    assert!(
        w.host
            .create_operator_token("forever", 100_000, "ops")
            .is_err()
    );
}

#[test]
fn the_audit_log_names_the_principal_and_role_of_each_change() {
    let w = world();
    let pat = w.as_user(PAT);
    let plan = pat
        .create_plan(&NewPlan {
            company_id: w.bennett_customer,
            name: "Adoption".into(),
            ..NewPlan::default()
        })
        .unwrap();
    let token = pat.create_token(PAT, "portal", 7).unwrap();
    pat.revoke_token(token.info.id).unwrap();
    let log = w.as_user(ADMIN).audit_log().unwrap();
    let who = |action: &str, subject: &str| {
        log.iter()
            .find(|e| e.action == action && e.subject == subject)
            .map(|e| (e.actor.clone(), e.role.clone().unwrap_or_default()))
            .unwrap_or_else(|| panic!("no {action} of {subject} in {log:#?}"))
    };
    assert_eq!(
        who("plan.create", &format!("plan:{plan}")),
        (PAT.to_owned(), "partner_user".to_owned())
    );
    assert_eq!(
        who("company.add", &format!("company:{}", w.direct_customer)),
        (ADMIN.to_owned(), "tenant_admin".to_owned())
    );
    assert_eq!(
        who("user.add", &format!("user:{ADMIN}")),
        ("operator".to_owned(), "platform_operator".to_owned())
    );
    let subject = format!("token:{}", token.info.id);
    assert_eq!(who("token.create", &subject).1, "partner_user");
    assert_eq!(who("token.revoke", &subject).0, PAT);
    // The token itself is never in the log.
    assert!(!format!("{log:?}").contains(&token.token));
}

fn cshost_on(db: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--db", db.to_str().unwrap()];
    all.extend(args);
    support::cshost(&all)
}

#[test]
fn the_command_line_checks_as_and_shows_a_partner_user_only_its_customers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let ok = |args: &[&str]| {
        let out = cshost_on(&db, args);
        assert!(
            out.status.success(),
            "cshost {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok(&["tenant", "create", "acme"]);
    {
        let host = Host::open(&db, HostConfig::default()).unwrap();
        let acme = host.tenant("acme").unwrap();
        acme.add_admin(ADMIN, "Ada").unwrap();
        let (bennett, _) = acme
            .add_partner(NewCompany::new("Bennett & Co."), Some(AccessScope::Both))
            .unwrap();
        let (tui, _) = acme
            .add_partner(NewCompany::new("Tui Partners"), Some(AccessScope::Both))
            .unwrap();
        acme.add_company(NewCompany::new("Customer of Bennett").managed_by(bennett))
            .unwrap();
        acme.add_company(NewCompany::new("Customer of Tui").managed_by(tui))
            .unwrap();
        acme.add_partner_user(bennett, PAT, "Pat").unwrap();
    }
    let all = ok(&["company", "list", "--tenant", "acme", "--as", ADMIN]);
    assert!(all.contains("Customer of Tui") && all.contains("Customer of Bennett"));
    let pats = ok(&["company", "list", "--tenant", "acme", "--as", PAT]);
    assert!(pats.contains("Customer of Bennett"), "{pats}");
    assert!(!pats.contains("Customer of Tui"), "{pats}");

    let out = cshost_on(
        &db,
        &[
            "company",
            "list",
            "--tenant",
            "acme",
            "--as",
            "nobody-at-all@evil.example",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`nobody-at-all@evil.example` is not a user of tenant `acme`"),
        "{err}"
    );

    // A token: printed once, listed without it, revoked.
    let token = ok(&[
        "token", "create", "--tenant", "acme", "--user", PAT, "--label", "portal",
    ]);
    let token = token.trim();
    assert!(token.starts_with("csh_"), "{token}");
    let listed = ok(&["token", "list", "--tenant", "acme"]);
    assert!(listed.contains(PAT) && listed.contains("live") && !listed.contains(token));
    ok(&["token", "revoke", "1", "--tenant", "acme"]);
    assert!(ok(&["token", "list", "--tenant", "acme"]).contains("revoked"));

    let who = ok(&["access", "whoami", "--tenant", "acme", "--as", PAT]);
    assert!(
        who.contains("partner_user") && who.contains("companies and relationships"),
        "{who}"
    );
}
