//! Who may do what, tried as a partner user and as an outsider would: each test is named for the
//! attack it makes, over a tenant with two partners (Bennett & Co. and Tui Partners) and their
//! customers, through the library and the `cshost` command line.

use crate::support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cs_host::access::{AccessSettings, Authenticated, Permission, Permissions, Role};
use cs_host::model::{AccessScope, Audience, CtaType, FieldValue, Priority};
use cs_host::{
    Capability, CompanyKey, Criteria, CtaFilter, EnableOptions, ErrorKind, FieldType, Filter, Host,
    HostConfig, ImportOptions, Licence, ManualClock, NewCompany, NewCta, NewPlan, NewRelationship,
    Operator, PartnerId, ShareRequest, Tenant, TenantLevel,
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
            .plans()
            .create(&NewPlan {
                company_id: company,
                name: name.into(),
                ..NewPlan::default()
            })
            .unwrap()
    }
}

fn world() -> World {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let host = Host::open_in_memory(support::host_config().clock(Arc::new(clock.clone()))).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    let operator = host.tenant("acme").unwrap();
    operator.access().add_admin(ADMIN, "Ada").unwrap();
    let admin = operator.as_user(ADMIN).unwrap();
    admin.users().add(VIC, "Vic", Licence::Viewer).unwrap();
    let (bennett, _) = admin
        .partners()
        .add(NewCompany::new("Bennett & Co."), Some(AccessScope::Both))
        .unwrap();
    let (tui, _) = admin
        .partners()
        .add(
            NewCompany::new("Tui Partners"),
            Some(AccessScope::CompanyRecords),
        )
        .unwrap();
    let bennett_customer = admin
        .companies()
        .add(NewCompany::new("Customer of Bennett").managed_by(bennett))
        .unwrap();
    let tui_customer = admin
        .companies()
        .add(NewCompany::new("Customer of Tui").managed_by(tui))
        .unwrap();
    let direct_customer = admin
        .companies()
        .add(NewCompany::new("Customer of Acme"))
        .unwrap();
    admin.users().add_partner(bennett, PAT, "Pat").unwrap();
    admin.users().add_partner(tui, TIA, "Tia").unwrap();
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
        .shares()
        .share(&ShareRequest::new(plan, Audience::Users, [VIC]))
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::UnknownActor { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("not a user of tenant `acme`"));
    assert!(w.as_user(ADMIN).shares().list(None).unwrap().is_empty());
}

#[test]
fn a_partner_user_cannot_read_list_or_search_another_partners_customer() {
    let w = world();
    let pat = w.as_user(PAT);
    assert!(
        pat.companies()
            .get(CompanyKey::Id(w.bennett_customer))
            .unwrap()
            .is_some()
    );
    for hidden in [w.tui_customer, w.direct_customer, w.tui] {
        assert_eq!(pat.companies().get(CompanyKey::Id(hidden)).unwrap(), None);
    }
    assert_eq!(
        pat.companies()
            .get(CompanyKey::Name("Customer of Tui"))
            .unwrap(),
        None
    );
    assert_eq!(
        names(&pat.companies().page(0, 100).unwrap()),
        ["Customer of Bennett"]
    );
    assert_eq!(
        names(&pat.companies().search("customer", 100).unwrap()),
        ["Customer of Bennett"]
    );
    // Its partner list is its own partner; users, its partner's users.
    let partners = pat.partners().list().unwrap();
    assert_eq!(partners.len(), 1);
    assert_eq!(partners[0].company.name, "Bennett & Co.");
    let users: Vec<String> = pat
        .users()
        .list(None)
        .unwrap()
        .into_iter()
        .map(|u| u.email)
        .collect();
    assert_eq!(users, [PAT]);
    assert!(pat.users().list(Some(w.tui)).unwrap().is_empty());
    // The admin sees all three customers.
    assert_eq!(
        w.as_user(ADMIN)
            .companies()
            .search("customer", 100)
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
    let selection = w.as_user(PAT).criteria().run(&criteria).unwrap();
    assert_eq!(selection.count, 1);
    assert_eq!(names(&selection.companies), ["Customer of Bennett"]);
    let selection = w.as_user(TIA).criteria().run(&criteria).unwrap();
    assert_eq!(names(&selection.companies), ["Customer of Tui"]);
    assert_eq!(w.as_user(ADMIN).criteria().run(&criteria).unwrap().count, 3);
}

#[test]
fn a_partner_user_cannot_plan_on_open_a_cta_on_or_share_another_partners_customer() {
    let w = world();
    let pat = w.as_user(PAT);
    // Planning on its own customer works.
    let own = pat
        .plans()
        .create(&NewPlan {
            company_id: w.bennett_customer,
            name: "Adoption".into(),
            ..NewPlan::default()
        })
        .unwrap();
    assert_eq!(pat.plans().get(own).unwrap().name, "Adoption");

    assert_not_found(pat.plans().create(&NewPlan {
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
    assert_not_found(pat.ctas().open(&cta));
    assert_not_found(pat.ctas().list(w.tui_customer));

    // A plan of Tui's customer, made by the admin, is out of Pat's reach in every way.
    let theirs = w.plan_on(w.tui_customer, "Tui's plan");
    assert_not_found(pat.plans().get(theirs));
    assert!(pat.plans().list(w.tui_customer).unwrap().is_empty());
    assert_not_found(pat.plans().add_objective(theirs, "Steal", None, None));
    assert_not_found(
        pat.plans()
            .set_status(theirs, cs_host::PlanStatus::Complete),
    );
    assert_not_found(
        pat.shares()
            .share(&ShareRequest::new(theirs, Audience::Users, [PAT])),
    );
    assert_not_found(pat.shares().revoke_plan(theirs));

    // Shares of Tui's plans are not listed to Pat, nor can Pat revoke or re-issue their links.
    let receipt = w
        .as_user(ADMIN)
        .shares()
        .share(&ShareRequest::new(theirs, Audience::Users, [VIC]))
        .unwrap();
    let recipient = receipt.links[0].recipient_id;
    assert!(pat.shares().list(None).unwrap().is_empty());
    assert_not_found(pat.shares().revoke_recipient(recipient));
    assert_not_found(pat.shares().reissue_link(recipient));
    assert_eq!(w.as_user(ADMIN).shares().list(None).unwrap().len(), 1);
}

#[test]
fn a_viewer_cannot_share_or_change_anything() {
    let w = world();
    let plan = w.plan_on(w.direct_customer, "Onboarding");
    let vic = w.as_user(VIC);
    // It reads.
    assert_eq!(vic.plans().get(plan).unwrap().name, "Onboarding");
    let error = vic
        .shares()
        .share(&ShareRequest::new(plan, Audience::Users, [ADMIN]))
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
    assert!(vic.companies().add(NewCompany::new("Sneaky")).is_err());
    assert!(vic.audit().list().is_err());
    // A writing bundle does not lift a Viewer licence's cap.
    let admin = w.as_user(ADMIN);
    admin
        .access()
        .define_bundle("sharers", Permissions::of(&[Permission::SharePlans]))
        .unwrap();
    admin.access().assign_bundle(VIC, "sharers").unwrap();
    assert!(
        w.as_user(VIC)
            .shares()
            .share(&ShareRequest::new(plan, Audience::Users, [ADMIN]))
            .is_err()
    );
    // Nor can a Viewer be made a tenant admin.
    assert!(admin.access().assign_bundle(VIC, "admin").is_err());
}

#[test]
fn a_partner_narrowed_to_read_only_plans_cannot_create_or_share_them() {
    let w = world();
    let admin = w.as_user(ADMIN);
    admin
        .access()
        .set_partner_permissions(
            w.bennett,
            Permissions::of(&[Permission::Read, Permission::ManageCtas]),
        )
        .unwrap();
    let pat = w.as_user(PAT);
    let error = pat
        .plans()
        .create(&NewPlan {
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
    assert_eq!(pat.plans().get(plan).unwrap().name, "Adoption");
    assert!(
        w.as_user(TIA)
            .principal()
            .unwrap()
            .may(Permission::CreatePlans)
    );
    // A partner user never gains administration, whatever it is assigned.
    admin
        .access()
        .define_bundle("everything", Permissions::all())
        .unwrap();
    admin.access().assign_bundle(PAT, "everything").unwrap();
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
        .access()
        .set_settings(AccessSettings {
            max_partners: Some(2),
            max_partner_users: Some(3),
        })
        .unwrap();
    let error = admin
        .partners()
        .add(NewCompany::new("Third Partner"), Some(AccessScope::Both))
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
            .companies()
            .get(CompanyKey::Name("Third Partner"))
            .unwrap()
            .is_none()
    );
    // Tagging a customer as a partner takes a seat too.
    assert!(admin.partners().tag(&[w.direct_customer], None).is_err());
    admin
        .users()
        .add_partner(w.bennett, "pam@bennett.example", "Pam")
        .unwrap();
    let error = admin
        .users()
        .add_partner(w.tui, "tom@tui.example", "Tom")
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
    let created = pat.access().create_token(PAT, "portal", 30).unwrap();
    assert!(created.token.starts_with("csh_"));
    // Listed without the token; stored only as a hash.
    let listed = pat.access().tokens().unwrap();
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
        remote
            .companies()
            .get(CompanyKey::Id(w.tui_customer))
            .unwrap(),
        None
    );
    assert!(matches!(
        w.host.tenant_for(&who, "globex").unwrap_err().kind(),
        ErrorKind::UnknownTenant(_)
    ));
    // Pat cannot make a token for someone else.
    assert!(pat.access().create_token(ADMIN, "escalate", 30).is_err());

    assert!(pat.access().revoke_token(created.info.id).unwrap());
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
        .plans()
        .create(&NewPlan {
            company_id: w.bennett_customer,
            name: "Adoption".into(),
            ..NewPlan::default()
        })
        .unwrap();
    let token = pat.access().create_token(PAT, "portal", 7).unwrap();
    pat.access().revoke_token(token.info.id).unwrap();
    let log = w.as_user(ADMIN).audit().list().unwrap();
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
    let bennett = {
        let host = Host::open(&db, HostConfig::default()).unwrap();
        let acme = host.tenant("acme").unwrap();
        acme.access().add_admin(ADMIN, "Ada").unwrap();
        let (bennett, _) = acme
            .partners()
            .add(NewCompany::new("Bennett & Co."), Some(AccessScope::Both))
            .unwrap();
        let (tui, _) = acme
            .partners()
            .add(NewCompany::new("Tui Partners"), Some(AccessScope::Both))
            .unwrap();
        acme.companies()
            .add(NewCompany::new("Customer of Bennett").managed_by(bennett))
            .unwrap();
        acme.companies()
            .add(NewCompany::new("Customer of Tui").managed_by(tui))
            .unwrap();
        acme.users().add_partner(bennett, PAT, "Pat").unwrap();
        bennett.to_string()
    };
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

    // A partner's portfolio, and criteria on Managed By and Managed As.
    let portfolio = ok(&[
        "partner",
        "portfolio",
        "--tenant",
        "acme",
        &bennett,
        "--as",
        PAT,
    ]);
    assert!(
        portfolio.contains("1 customer(s)") && portfolio.contains("Customer of Bennett"),
        "{portfolio}"
    );
    let selected = ok(&[
        "criteria",
        "run",
        "--tenant",
        "acme",
        "--filter",
        "managed_by EQ Bennett & Co.",
        "--filter",
        "managed_as EQ customer",
    ]);
    assert!(
        selected.contains("1 companies match") && selected.contains("Customer of Bennett"),
        "{selected}"
    );

    let who = ok(&["access", "whoami", "--tenant", "acme", "--as", PAT]);
    assert!(
        who.contains("partner_user") && who.contains("companies and relationships"),
        "{who}"
    );
}

/// A relationship type and, on `company`, a relationship managed by `partner`.
fn relationship_on(w: &World, company: i64, partner: Option<i64>, name: &str) -> i64 {
    let admin = w.as_user(ADMIN);
    let kind = match admin.relationship_types().get("Subscription").unwrap() {
        Some(kind) => kind.id,
        None => admin.relationship_types().add("Subscription").unwrap(),
    };
    let mut new = NewRelationship::new(company, kind, name);
    if let Some(partner) = partner {
        new = new.managed_by(partner);
    }
    admin.relationships().add(new).unwrap()
}

fn cta_on(company: i64, name: &str) -> NewCta {
    NewCta {
        company_id: company,
        kind: CtaType::Risk,
        name: name.into(),
        priority: Priority::High,
        due_date: None,
        plan_id: None,
        objective_id: None,
    }
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> i64) -> Vec<i64> {
    items.iter().map(id).collect()
}

#[test]
fn a_partner_with_company_scope_cannot_reach_relationship_records_or_what_hangs_off_them() {
    let w = world();
    // Tui's scope is company records. Its customer has a relationship Tui manages too.
    let relationship = relationship_on(&w, w.tui_customer, Some(w.tui), "Tui EU");
    let admin = w.as_user(ADMIN);
    let company_plan = w.plan_on(w.tui_customer, "Company plan");
    let relationship_plan = admin
        .plans()
        .create(&NewPlan {
            company_id: w.tui_customer,
            relationship_id: Some(relationship),
            name: "Relationship plan".into(),
            ..NewPlan::default()
        })
        .unwrap();
    let company_cta = admin
        .ctas()
        .open(&cta_on(w.tui_customer, "On company"))
        .unwrap();
    let relationship_cta = admin
        .ctas()
        .open_on_relationship(relationship, &cta_on(w.tui_customer, "On relationship"))
        .unwrap();
    for plan in [company_plan, relationship_plan] {
        admin
            .shares()
            .share(&ShareRequest::new(plan, Audience::Users, [VIC]))
            .unwrap();
    }

    let tia = w.as_user(TIA);
    // The relationship record: not shown, listed, searched, nor in Tui's own list.
    assert_eq!(tia.relationships().get(relationship).unwrap(), None);
    assert!(tia.relationships().list(None).unwrap().is_empty());
    assert!(
        tia.relationships()
            .list(Some(w.tui_customer))
            .unwrap()
            .is_empty()
    );
    assert!(tia.relationships().search("Tui", 10).unwrap().is_empty());
    assert!(tia.relationships().managed_by(w.tui).unwrap().is_empty());
    // What hangs off it: plans, CTAs and shares answer "not found" or are not listed.
    assert_not_found(tia.plans().of_relationship(relationship));
    assert_not_found(tia.ctas().of_relationship(relationship));
    assert_not_found(tia.shares().of_relationship(relationship));
    assert_not_found(tia.shares().revoke_relationship(relationship));
    assert_not_found(tia.plans().get(relationship_plan));
    assert_not_found(
        tia.plans()
            .add_objective(relationship_plan, "Steal", None, None),
    );
    assert_not_found(tia.shares().share(&ShareRequest::new(
        relationship_plan,
        Audience::Users,
        [TIA],
    )));
    assert_not_found(tia.ctas().close(relationship_cta, "mine now"));
    assert_not_found(
        tia.ctas()
            .open_on_relationship(relationship, &cta_on(w.tui_customer, "Poach")),
    );
    assert_not_found(tia.plans().create(&NewPlan {
        company_id: w.tui_customer,
        relationship_id: Some(relationship),
        name: "Takeover".into(),
        ..NewPlan::default()
    }));
    // The company record's plans, CTAs and shares stay within reach.
    assert_eq!(
        ids(&tia.plans().list(w.tui_customer).unwrap(), |p| p.id),
        [company_plan]
    );
    assert_eq!(
        ids(&tia.ctas().list(w.tui_customer).unwrap(), |c| c.id),
        [company_cta]
    );
    let listed = tia.ctas().cockpit(&CtaFilter::default()).unwrap();
    assert_eq!(ids(&listed, |c| c.id), [company_cta]);
    let shares = tia.shares().list(None).unwrap();
    assert_eq!(ids(&shares, |s| s.plan_id), [company_plan]);
    // The admin sees both.
    assert_eq!(admin.plans().list(w.tui_customer).unwrap().len(), 2);
    assert_eq!(admin.shares().list(None).unwrap().len(), 2);
}

#[test]
fn a_partner_with_relationship_scope_cannot_reach_the_companies_it_manages_as_company_records() {
    let w = world();
    let admin = w.as_user(ADMIN);
    let (rel_partner, _) = admin
        .partners()
        .add(
            NewCompany::new("Rel Partners"),
            Some(AccessScope::RelationshipRecords),
        )
        .unwrap();
    // A company record Managed By the partner, and a relationship it manages of another one.
    let managed_company = admin
        .companies()
        .add(NewCompany::new("Managed as company").managed_by(rel_partner))
        .unwrap();
    let relationship = relationship_on(&w, w.direct_customer, Some(rel_partner), "Acme EU");
    admin
        .users()
        .add_partner(rel_partner, "ria@rel.example", "Ria")
        .unwrap();
    let company_plan = w.plan_on(managed_company, "Company plan");
    admin
        .shares()
        .share(&ShareRequest::new(company_plan, Audience::Users, [VIC]))
        .unwrap();

    let ria = w.as_user("ria@rel.example");
    // The company record is out of reach everywhere.
    assert_eq!(
        ria.companies()
            .get(CompanyKey::Id(managed_company))
            .unwrap(),
        None
    );
    assert!(ria.companies().page(0, 100).unwrap().is_empty());
    assert!(ria.companies().search("Managed", 10).unwrap().is_empty());
    let criteria = Criteria::new(vec![Filter::field(
        "name",
        Operator::Contains,
        [FieldValue::Text("a".into())],
    )]);
    assert_eq!(ria.criteria().run(&criteria).unwrap().count, 0);
    assert_not_found(ria.plans().get(company_plan));
    assert!(ria.plans().list(managed_company).unwrap().is_empty());
    assert_not_found(ria.ctas().list(managed_company));
    assert_not_found(ria.ctas().open(&cta_on(managed_company, "Poach")));
    assert_not_found(ria.plans().create(&NewPlan {
        company_id: managed_company,
        name: "Takeover".into(),
        ..NewPlan::default()
    }));
    assert!(ria.shares().list(None).unwrap().is_empty());
    assert_not_found(ria.shares().revoke_plan(company_plan));

    // The relationship it manages is within reach, with what hangs off it, though its
    // company is not.
    assert_eq!(
        ria.relationships().get(relationship).unwrap().unwrap().name,
        "Acme EU"
    );
    assert_eq!(
        ids(&ria.relationships().list(None).unwrap(), |r| r.id),
        [relationship]
    );
    assert_eq!(
        ids(
            &ria.relationships().list(Some(w.direct_customer)).unwrap(),
            |r| r.id
        ),
        [relationship]
    );
    assert_eq!(
        ria.companies()
            .get(CompanyKey::Id(w.direct_customer))
            .unwrap(),
        None
    );
    let plan = ria
        .plans()
        .create(&NewPlan {
            company_id: w.direct_customer,
            relationship_id: Some(relationship),
            name: "EU rollout".into(),
            ..NewPlan::default()
        })
        .unwrap();
    let cta = ria
        .ctas()
        .open_on_relationship(relationship, &cta_on(w.direct_customer, "Kick-off"))
        .unwrap();
    assert_eq!(
        ids(&ria.plans().of_relationship(relationship).unwrap(), |p| p
            .id),
        [plan]
    );
    assert_eq!(
        ids(&ria.ctas().of_relationship(relationship).unwrap(), |c| c.id),
        [cta]
    );
    assert_eq!(
        ids(&ria.ctas().list(w.direct_customer).unwrap(), |c| c.id),
        [cta]
    );
    assert_eq!(
        ids(&ria.plans().list(w.direct_customer).unwrap(), |p| p.id),
        [plan]
    );
    // The tenant's own plan on that company is not the partner's.
    let direct_plan = w.plan_on(w.direct_customer, "Acme's own");
    assert_not_found(ria.plans().get(direct_plan));
}

#[test]
fn a_partner_users_partner_id_may_be_a_relationship_of_its_partner() {
    let w = world();
    let admin = w.as_user(ADMIN);
    // The tenant's relationship record with Bennett: its reseller agreement.
    let agreement = relationship_on(&w, w.bennett, None, "Bennett reseller agreement");
    let pia = admin
        .users()
        .add_partner_for(
            PartnerId::Relationship(agreement),
            "pia@bennett.example",
            "Pia",
        )
        .unwrap();
    assert_eq!(pia.partner_id, Some(w.bennett));
    assert_eq!(pia.partner_relationship_id, Some(agreement));
    assert!(pia.is_partner());
    let stored = admin
        .users()
        .by_email("pia@bennett.example")
        .unwrap()
        .unwrap();
    assert_eq!(stored, pia);

    // Pia works for Bennett: it sees Bennett's customer and nothing else.
    let as_pia = w.as_user("pia@bennett.example");
    let scope = as_pia.principal().unwrap().partner_scope().unwrap();
    assert_eq!(scope.partner_id, w.bennett);
    assert_eq!(
        names(&as_pia.companies().page(0, 100).unwrap()),
        ["Customer of Bennett"]
    );
    assert_eq!(
        as_pia
            .companies()
            .get(CompanyKey::Id(w.tui_customer))
            .unwrap(),
        None
    );
    assert!(
        as_pia
            .users()
            .list(None)
            .unwrap()
            .iter()
            .any(|u| u.email == "pia@bennett.example")
    );

    // A relationship of a customer is not a partner's; an unknown one is not found; the
    // agreement cannot be deleted while it is Pia's Partner ID.
    let customer_relationship = relationship_on(&w, w.direct_customer, None, "Plain");
    let error = admin
        .users()
        .add_partner_for(
            PartnerId::Relationship(customer_relationship),
            "x@acme.example",
            "X",
        )
        .unwrap_err();
    assert!(error.to_string().contains("not a partner"), "{error}");
    assert_not_found(admin.users().add_partner_for(
        PartnerId::Relationship(999_999),
        "y@acme.example",
        "Y",
    ));
    let error = admin.relationships().delete(agreement).unwrap_err();
    assert!(error.to_string().contains("Partner ID"), "{error}");
    // Untagging Bennett is refused: it has partner users, Pia among them.
    assert!(admin.partners().untag(w.bennett).is_err());
}

#[test]
fn a_partners_portfolio_lists_what_it_manages_and_a_partner_user_asks_only_about_its_own() {
    let w = world();
    let relationship = relationship_on(&w, w.direct_customer, Some(w.bennett), "Acme EU");
    let admin = w.as_user(ADMIN);
    let portfolio = admin.partners().portfolio(w.bennett).unwrap();
    assert_eq!(portfolio.partner.company.name, "Bennett & Co.");
    assert_eq!(portfolio.partner.scope, AccessScope::Both);
    assert_eq!(names(&portfolio.customers), ["Customer of Bennett"]);
    assert_eq!(ids(&portfolio.relationships, |r| r.id), [relationship]);

    // Pat sees the same of Bennett; Tui's is "not found" to it.
    let pat = w.as_user(PAT);
    assert_eq!(pat.partners().portfolio(w.bennett).unwrap(), portfolio);
    assert_not_found(pat.partners().portfolio(w.tui));
    // Tia (company records) gets Tui's customers and no relationship.
    let tui = w.as_user(TIA).partners().portfolio(w.tui).unwrap();
    assert_eq!(names(&tui.customers), ["Customer of Tui"]);
    assert!(tui.relationships.is_empty());
    // A customer has no portfolio.
    let error = admin.partners().portfolio(w.direct_customer).unwrap_err();
    assert!(error.to_string().contains("not a partner"), "{error}");
}

#[test]
fn criteria_select_by_managed_as_and_managed_by_and_a_partner_user_cannot_name_another_partner() {
    let w = world();
    let admin = w.as_user(ADMIN);
    let run = |tenant: &Tenant<'_>, filters: Vec<Filter>| {
        let mut found: Vec<String> = tenant
            .criteria()
            .run(&Criteria::new(filters))
            .unwrap()
            .companies
            .into_iter()
            .map(|c| c.name)
            .collect();
        found.sort();
        found
    };
    let managed_by = |value: FieldValue| Filter::field("managed_by", Operator::Eq, [value]);
    assert_eq!(
        run(&admin, vec![managed_by(FieldValue::Integer(w.bennett))]),
        ["Customer of Bennett"]
    );
    assert_eq!(
        run(
            &admin,
            vec![managed_by(FieldValue::Text("tui partners".into()))]
        ),
        ["Customer of Tui"]
    );
    assert_eq!(
        run(
            &admin,
            vec![Filter::field(
                "managed_as",
                Operator::Eq,
                [FieldValue::Text("Partner".into())]
            )]
        ),
        ["Bennett & Co.", "Tui Partners"]
    );
    assert_eq!(
        run(
            &admin,
            vec![
                Filter::field(
                    "managed_as",
                    Operator::Eq,
                    [FieldValue::Text("customer".into())]
                ),
                Filter::field("managed_by", Operator::IsNull, []),
            ]
        ),
        ["Customer of Acme"]
    );
    assert_eq!(
        run(
            &admin,
            vec![Filter::field(
                "managed_by",
                Operator::In,
                [FieldValue::Integer(w.bennett), FieldValue::Integer(w.tui)]
            )]
        ),
        ["Customer of Bennett", "Customer of Tui"]
    );
    // Bad input names the filter and the field.
    let error = admin
        .criteria()
        .run(&Criteria::new(vec![Filter::field(
            "managed_by",
            Operator::Gt,
            [FieldValue::Integer(1)],
        )]))
        .unwrap_err();
    assert!(
        error.to_string().contains("filter 1") && error.to_string().contains("managed_by"),
        "{error}"
    );
    let error = admin
        .criteria()
        .run(&Criteria::new(vec![managed_by(FieldValue::Text(
            "Nobody Ltd".into(),
        ))]))
        .unwrap_err();
    assert!(error.to_string().contains("Nobody Ltd"), "{error}");

    // Pat selects its own partner's customers; another partner, by id, selects nothing, and by
    // name is no partner it knows.
    let pat = w.as_user(PAT);
    assert_eq!(
        run(
            &pat,
            vec![managed_by(FieldValue::Text("Bennett & Co.".into()))]
        ),
        ["Customer of Bennett"]
    );
    assert!(run(&pat, vec![managed_by(FieldValue::Integer(w.tui))]).is_empty());
    assert!(
        pat.criteria()
            .run(&Criteria::new(vec![managed_by(FieldValue::Text(
                "Tui Partners".into()
            ))]))
            .is_err()
    );
}

/// The README's "Access" section, up to the next section.
fn readme_access_section() -> String {
    let readme = std::fs::read_to_string(support::root().join("README.md")).unwrap();
    let start = readme
        .find("\n## Access\n")
        .expect("README has an Access section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_owned()
}

#[test]
fn every_permission_and_built_in_bundle_is_in_the_readmes_access_table() {
    let section = readme_access_section();
    // The permission is the second cell of a row of the operations table.
    let documented: Vec<String> = section
        .lines()
        .filter(|line| line.starts_with("| "))
        .filter_map(|line| line.split('|').nth(2))
        .map(|cell| cell.trim().trim_matches('`').to_owned())
        .collect();
    for permission in Permission::ALL {
        assert!(
            documented.iter().any(|p| p == permission.as_str()),
            "the README's Access table does not list `{permission}`"
        );
    }
    for bundle in cs_host::access::BUILTIN_BUNDLES {
        assert!(
            section.contains(&format!("`{bundle}`")),
            "the README's Access section does not name bundle `{bundle}`"
        );
    }
}

#[test]
fn a_plugin_in_a_partner_users_import_criteria_run_or_share_cannot_look_up_a_company_outside_its_portfolio()
 {
    let w = world();
    w.host
        .install_plugin(
            &support::plugin_bytes("lookup-probe"),
            "ops@platform.example",
        )
        .unwrap();
    let admin = w.as_user(ADMIN);
    admin
        .companies()
        .define_field("notes", FieldType::Text, false)
        .unwrap();
    // The probe looks up Tui's customer in every hook it serves.
    admin
        .plugins()
        .enable(
            "lookup-probe",
            EnableOptions::new()
                .grant(Capability::ReadCompanies)
                .config("look-up", "Customer of Tui"),
        )
        .unwrap();
    let pat = w.as_user(PAT);
    let notes = |tenant: &Tenant<'_>, name: &str| {
        tenant
            .companies()
            .get(CompanyKey::Name(name))
            .unwrap()
            .unwrap_or_else(|| panic!("{name} was not imported"))
            .fields
            .get("notes")
            .cloned()
    };

    // An import: the mapper writes what it found into the row's notes.
    pat.imports()
        .bytes(
            "pat.csv",
            b"Name\nPat's new customer\n",
            &ImportOptions::companies(),
        )
        .unwrap();
    assert_eq!(
        notes(&pat, "Pat's new customer"),
        Some(FieldValue::Text("not found".into()))
    );
    admin
        .imports()
        .bytes(
            "ada.csv",
            b"Name\nAda's new customer\n",
            &ImportOptions::companies(),
        )
        .unwrap();
    assert_eq!(
        notes(&admin, "Ada's new customer"),
        Some(FieldValue::Text("Customer of Tui".into()))
    );

    // A criteria run: a company matches when the look-up finds something.
    let probe = Criteria::new(vec![Filter::plugin("lookup-probe", Default::default())]);
    assert_eq!(pat.criteria().run(&probe).unwrap().count, 0);
    assert!(admin.criteria().run(&probe).unwrap().count > 0);

    // A share: the notifier tells the sharer what it found.
    let plan = pat
        .plans()
        .create(&NewPlan {
            company_id: w.bennett_customer,
            name: "Adoption".into(),
            ..NewPlan::default()
        })
        .unwrap();
    pat.shares()
        .share(&ShareRequest::new(plan, Audience::Users, [ADMIN]))
        .unwrap();
    // What the probe told the sharer, as queued in the outbox.
    let told = |sharer: &str| -> Vec<String> {
        admin
            .outbox()
            .list(None)
            .unwrap()
            .into_iter()
            .filter(|m| m.subject == "lookup" && m.recipient == sharer)
            .map(|m| m.body)
            .collect()
    };
    assert_eq!(told(PAT), ["not found"]);
    let theirs = w.plan_on(w.tui_customer, "Tui's plan");
    admin
        .shares()
        .share(&ShareRequest::new(theirs, Audience::Users, [VIC]))
        .unwrap();
    assert_eq!(told(ADMIN), ["Customer of Tui"]);
}

#[test]
fn a_partner_users_import_cannot_update_another_partners_customer_and_adds_its_own() {
    let w = world();
    let pat = w.as_user(PAT);
    let csv = b"Name,Industry\nCustomer of Tui,Stolen\nCustomer of Bennett,Aerospace\n";
    pat.imports()
        .bytes("pat.csv", csv, &ImportOptions::companies())
        .unwrap();
    // Tui's customer is untouched; Pat's row made a company of Bennett's of that name.
    let admin = w.as_user(ADMIN);
    let tuis = admin
        .companies()
        .get(CompanyKey::Id(w.tui_customer))
        .unwrap()
        .unwrap();
    assert_eq!(tuis.fields.get("industry"), None);
    assert_eq!(tuis.managed_by, Some(w.tui.to_string()));
    let own = pat
        .companies()
        .get(CompanyKey::Id(w.bennett_customer))
        .unwrap()
        .unwrap();
    assert_eq!(
        own.fields.get("industry"),
        Some(&FieldValue::Text("Aerospace".into()))
    );
    let pats: Vec<_> = pat.companies().page(0, 100).unwrap();
    assert_eq!(pats.len(), 2, "{pats:?}");
    assert!(
        pats.iter()
            .all(|c| c.managed_by == Some(w.bennett.to_string()))
    );
    // Naming another partner in Managed By is refused: Pat knows no such partner.
    let job = pat
        .imports()
        .bytes(
            "pat2.csv",
            b"Name,Managed By\nPoached,Tui Partners\n",
            &ImportOptions::companies(),
        )
        .unwrap();
    assert_eq!(job.failed, 1);
}

#[test]
fn a_partner_user_imports_only_the_records_its_partners_scope_reaches() {
    let w = world();
    let admin = w.as_user(ADMIN);
    let (rel_partner, _) = admin
        .partners()
        .add(
            NewCompany::new("Rel Partners"),
            Some(AccessScope::RelationshipRecords),
        )
        .unwrap();
    admin
        .users()
        .add_partner(rel_partner, "ria@rel.example", "Ria")
        .unwrap();
    let before = admin.companies().page(0, 1000).unwrap().len();

    // Ria's partner manages relationship records: a company import would create companies she
    // could never see, so it is refused before any row is read.
    let ria = w.as_user("ria@rel.example");
    let error = ria
        .imports()
        .bytes(
            "ria.csv",
            b"Name\nShadow company\n",
            &ImportOptions::companies(),
        )
        .expect_err("out of scope");
    assert!(
        matches!(
            error.kind(),
            ErrorKind::OutOfScope {
                records: "companies",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("ria@rel.example"), "{error}");
    assert_eq!(admin.companies().page(0, 1000).unwrap().len(), before);

    // Tia's partner manages company records only: no relationship import.
    let error = w
        .as_user(TIA)
        .imports()
        .bytes(
            "tia.csv",
            b"Name,Company,Type\nEU,Customer of Tui,Subsidiary\n",
            &ImportOptions::relationships(),
        )
        .expect_err("out of scope");
    assert!(
        matches!(
            error.kind(),
            ErrorKind::OutOfScope {
                records: "relationships",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_partner_users_relationship_dry_run_decides_every_row_as_the_real_run_does() {
    let w = world();
    // Out of Pat's reach: relationships on its partner's own customer that no partner, or Tui,
    // manages. A row of Pat's with the same name is not about them: it creates one of Bennett's.
    relationship_on(&w, w.bennett_customer, None, "Hidden");
    relationship_on(&w, w.bennett_customer, Some(w.tui), "Tui's");
    let pat = w.as_user(PAT);
    // Each key twice: the second row is about the relationship the first created (in the dry
    // run, the one its overlay imagined), which Pat's partner manages.
    let csv = b"External ID,Name,Company,Type\n\
        ,Renewal EU,Customer of Bennett,Subscription\n\
        ,renewal eu,Customer of Bennett,Subscription\n\
        R-1,Renewal US,Customer of Bennett,Subscription\n\
        R-1,Renewal US,Customer of Bennett,Subscription\n\
        ,Hidden,Customer of Bennett,Subscription\n\
        ,hidden,Customer of Bennett,Subscription\n\
        ,Tui's,Customer of Bennett,Subscription\n";
    let options = ImportOptions::relationships();
    let dry = pat
        .imports()
        .bytes("pat.csv", csv, &options.clone().dry_run(true))
        .unwrap();
    let real = pat.imports().bytes("pat.csv", csv, &options).unwrap();
    let outcome = |job: &cs_host::ImportJob| {
        let errors: Vec<(u64, String)> = job
            .errors
            .iter()
            .map(|e| (e.row, e.reason.clone()))
            .collect();
        (job.rows, job.created, job.updated, job.failed, errors)
    };
    assert_eq!(outcome(&dry), outcome(&real), "dry {dry:?}\nreal {real:?}");
    assert_eq!(
        (real.created, real.updated, real.failed),
        (4, 3, 0),
        "{real:?}"
    );
    // What the real run created is Bennett's, as the dry run assumed.
    let admin = w.as_user(ADMIN);
    let bennetts = admin.relationships().managed_by(w.bennett).unwrap();
    assert_eq!(bennetts.len(), 4, "{bennetts:?}");
}

#[test]
fn relationships_written_many_to_a_statement_fail_alone_and_are_found_by_later_rows() {
    let w = world();
    // Another partner's relationship, with an external id Pat's rows cannot see.
    relationship_on(&w, w.bennett_customer, Some(w.tui), "Tui's");
    let admin = w.as_user(ADMIN);
    let seeded = admin
        .imports()
        .bytes(
            "tui.csv",
            b"External ID,Name,Company,Type,Managed By\n\
              TUI-1,Tui's,Customer of Bennett,Subscription,Tui Partners\n",
            &ImportOptions::relationships(),
        )
        .unwrap();
    assert_eq!(seeded.updated, 1, "{seeded:?}");
    // New relationships go to the database many to a statement. Row 40 takes the hidden
    // external id: its statement is refused whole and replayed row by row, so only row 40
    // fails. Rows 70 and 80 are about relationships rows 66 and 75 created, still waiting to be
    // written when they are read (by natural key, then by external id).
    let mut csv = String::from("External ID,Name,Company,Type\n");
    for i in 1..=150 {
        let row = match i {
            40 => "TUI-1,Stolen,Customer of Bennett,Subscription".to_owned(),
            70 => ",deal 66,Customer of Bennett,Subscription".to_owned(),
            80 => "P-75,Deal 75 renamed,Customer of Bennett,Subscription".to_owned(),
            _ => format!("P-{i},Deal {i},Customer of Bennett,Subscription"),
        };
        csv.push_str(&row);
        csv.push('\n');
    }
    let pat = w.as_user(PAT);
    let options = ImportOptions::relationships();
    let dry = pat
        .imports()
        .bytes("pat.csv", csv.as_bytes(), &options.clone().dry_run(true))
        .unwrap();
    let real = pat
        .imports()
        .bytes("pat.csv", csv.as_bytes(), &options)
        .unwrap();
    let outcome = |job: &cs_host::ImportJob| {
        let errors: Vec<_> = job
            .errors
            .iter()
            .map(|e| (e.row, e.column.clone(), e.field.clone(), e.reason.clone()))
            .collect();
        (job.rows, job.created, job.updated, job.failed, errors)
    };
    assert_eq!(outcome(&dry), outcome(&real), "dry {dry:?}\nreal {real:?}");
    let (rows, created, updated, failed, errors) = outcome(&real);
    assert_eq!((rows, created, updated, failed), (150, 147, 2, 1));
    assert_eq!(
        errors,
        [(
            40,
            Some("External ID".to_owned()),
            Some("external_id".to_owned()),
            "another relationship has the external id `TUI-1` already".to_owned()
        )]
    );
    let bennetts = admin.relationships().managed_by(w.bennett).unwrap();
    assert_eq!(bennetts.len(), 147, "one relationship per new row");
    let names: Vec<&str> = bennetts.iter().map(|r| r.name.as_str()).collect();
    for name in [
        "deal 66",
        "Deal 75 renamed",
        "Deal 39",
        "Deal 41",
        "Deal 150",
    ] {
        assert!(names.contains(&name), "{name}: {names:?}");
    }
    assert!(!names.contains(&"Stolen"), "{names:?}");
}

#[test]
fn a_partner_users_dry_run_neither_matches_nor_reveals_another_partners_customer() {
    let w = world();
    let pat = w.as_user(PAT);
    // Its own customer (updated), another partner's customer of the same name (out of reach:
    // a new record of Pat's partner), a new one, and a Managed By naming another partner.
    let csv = b"Name,Industry,Managed By\n\
        Customer of Bennett,Aerospace,\n\
        Customer of Tui,Stolen,\n\
        Brand new,Retail,\n\
        Poached,Retail,Tui Partners\n";
    let dry = pat
        .imports()
        .bytes("pat.csv", csv, &ImportOptions::companies().dry_run(true))
        .unwrap();
    let real = pat
        .imports()
        .bytes("pat.csv", csv, &ImportOptions::companies())
        .unwrap();
    assert_eq!(
        (dry.rows, dry.created, dry.updated, dry.failed),
        (real.rows, real.created, real.updated, real.failed),
        "dry {dry:?}\nreal {real:?}"
    );
    assert_eq!(
        (real.created, real.updated, real.failed),
        (2, 1, 1),
        "{real:?}"
    );
    // Nothing in the dry run's report speaks of Tui's customer or its partner.
    assert!(
        dry.errors
            .iter()
            .all(|e| !e.reason.contains("managed by partner")),
        "{:?}",
        dry.errors
    );
    // What the real run created is the partner's, as the dry run assumed.
    let brand_new = pat
        .companies()
        .get(CompanyKey::Name("Brand new"))
        .unwrap()
        .unwrap();
    assert_eq!(brand_new.managed_by, Some(w.bennett.to_string()));
}

/// What an import's row errors say: row, column, field and reason.
fn row_errors(job: &cs_host::ImportJob) -> Vec<(u64, Option<String>, Option<String>, String)> {
    job.errors
        .iter()
        .map(|e| (e.row, e.column.clone(), e.field.clone(), e.reason.clone()))
        .collect()
}

#[test]
fn a_partner_users_company_row_taking_another_partners_external_id_fails_alone_as_on_its_own() {
    let w = world();
    let admin = w.as_user(ADMIN);
    let tuis = admin
        .companies()
        .add(
            NewCompany::new("Second of Tui")
                .managed_by(w.tui)
                .field("external_id", "TUI-C")
                .field("industry", "Shipping"),
        )
        .unwrap();
    let before = admin.companies().get(CompanyKey::Id(tuis)).unwrap();
    let pat = w.as_user(PAT);
    let options = ImportOptions::companies();
    // On its own: the external id is taken by a company Pat cannot see.
    let alone = pat
        .imports()
        .bytes(
            "one.csv",
            b"External ID,Name,Industry\nTUI-C,Poached,Stolen\n",
            &options,
        )
        .unwrap();
    assert_eq!(
        row_errors(&alone),
        [(
            1,
            Some("External ID".to_owned()),
            Some("external_id".to_owned()),
            "another company has the external id `TUI-C` already".to_owned()
        )]
    );
    // Among 100 new rows: its statement of 64 is refused whole and replayed row by row, and
    // the same row fails with the same error; every other row goes in.
    let mut csv = String::from("External ID,Name,Industry\n");
    for i in 1..=100 {
        csv.push_str(&match i {
            30 => "TUI-C,Poached,Stolen\n".to_owned(),
            _ => format!("P-{i},Pat Co {i},Retail\n"),
        });
    }
    for dry_run in [true, false] {
        let job = pat
            .imports()
            .bytes(
                "many.csv",
                csv.as_bytes(),
                &options.clone().dry_run(dry_run),
            )
            .unwrap();
        assert_eq!(
            (job.rows, job.created, job.updated, job.failed),
            (100, 99, 0, 1),
            "dry run {dry_run}: {job:?}"
        );
        let mut expected = row_errors(&alone);
        expected[0].0 = 30;
        assert_eq!(row_errors(&job), expected, "dry run {dry_run}");
    }
    assert_eq!(admin.companies().get(CompanyKey::Id(tuis)).unwrap(), before);
    let pats = pat.companies().page(0, 1000).unwrap();
    assert_eq!(pats.len(), 1 + 99, "{pats:?}");
    assert!(pats.iter().all(|c| c.name != "Poached"));
}

#[test]
fn a_partner_users_relationship_row_naming_another_partners_company_is_refused_in_a_replayed_statement_as_on_its_own()
 {
    let w = world();
    relationship_on(&w, w.tui_customer, Some(w.tui), "Tui's deal");
    let admin = w.as_user(ADMIN);
    // A relationship of Tui's on Bennett's customer, with an external id Pat cannot see.
    admin
        .imports()
        .bytes(
            "tui.csv",
            b"External ID,Name,Company,Type,Managed By\n\
              TUI-1,Tui's,Customer of Bennett,Subscription,Tui Partners\n",
            &ImportOptions::relationships(),
        )
        .unwrap();
    let tuis_before = admin.relationships().managed_by(w.tui).unwrap();
    let on_tuis_customer = admin.relationships().list(Some(w.tui_customer)).unwrap();
    let pat = w.as_user(PAT);
    let options = ImportOptions::relationships();
    let header = "External ID,Name,Company,Type\n";
    let poaching = "P-X,Poached,Customer of Tui,Subscription\n";
    let alone = pat
        .imports()
        .bytes(
            "one.csv",
            format!("{header}{poaching}").as_bytes(),
            &options,
        )
        .unwrap();
    assert_eq!(alone.failed, 1, "{alone:?}");
    assert_eq!(alone.errors[0].column.as_deref(), Some("Company"));
    // Row 20 takes the hidden external id, so the first statement is refused and replayed row
    // by row; row 21 names Tui's customer. Imported twice, the second time over the first.
    let mut csv = String::from(header);
    for i in 1..=100 {
        csv.push_str(&match i {
            20 => "TUI-1,Stolen,Customer of Bennett,Subscription\n".to_owned(),
            21 => poaching.to_owned(),
            _ => format!("P-{i},Deal {i},Customer of Bennett,Subscription\n"),
        });
    }
    for (dry_run, created, updated) in [(true, 98, 0), (false, 98, 0), (false, 0, 98)] {
        let job = pat
            .imports()
            .bytes(
                "many.csv",
                csv.as_bytes(),
                &options.clone().dry_run(dry_run),
            )
            .unwrap();
        assert_eq!(
            (job.rows, job.created, job.updated, job.failed),
            (100, created, updated, 2),
            "dry run {dry_run}: {job:?}"
        );
        let errors = row_errors(&job);
        assert_eq!(errors[0].0, 20, "{errors:?}");
        let mut expected = row_errors(&alone);
        expected[0].0 = 21;
        assert_eq!(errors[1..], expected, "dry run {dry_run}");
    }
    assert_eq!(
        admin.relationships().managed_by(w.tui).unwrap(),
        tuis_before
    );
    assert_eq!(
        admin.relationships().list(Some(w.tui_customer)).unwrap(),
        on_tuis_customer
    );
}
