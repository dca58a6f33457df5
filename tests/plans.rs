//! Success plans and CTAs: the Draft-to-Active rule (a CTA may not be due before its tasks),
//! objectives' sharing flags, CTAs on their own, and the CTAs a lifecycle plugin opens.

use crate::support;

use cs_host::model::{CtaType, Date, Priority};
use cs_host::{
    CtaFilter, CtaStatus, EnableOptions, ErrorKind, Host, HostConfig, Licence, ManualClock,
    NewCompany, NewCta, NewPlan, NewTask, PlanStatus, Playbook, PlaybookTask, TaskOf, TenantLevel,
};

fn date(y: i32, m: u8, d: u8) -> Option<Date> {
    Date::new(y, m, d)
}

fn host() -> (Host, i64) {
    let host = Host::open_in_memory(HostConfig::default()).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    let acme = host.tenant("acme").unwrap();
    acme.access().add_admin("csm@acme.example", "Cem").unwrap();
    let company = acme.companies().add(NewCompany::new("Globex")).unwrap();
    (host, company)
}

#[test]
fn a_plan_stays_draft_while_a_cta_is_due_before_its_task() {
    let (host, company) = host();
    let tenant = host.tenant("acme").unwrap().acting_as("csm@acme.example");
    let plan = tenant
        .plans()
        .create(&NewPlan {
            company_id: company,
            name: "Onboarding".into(),
            plan_type: "Onboarding".into(),
            ..NewPlan::default()
        })
        .unwrap();
    let objective = tenant
        .plans()
        .add_objective(plan, "Go live", date(2026, 4, 30), None)
        .unwrap();
    let cta = tenant
        .ctas()
        .open(&NewCta {
            company_id: company,
            kind: CtaType::Objective,
            name: "Kick-off".into(),
            priority: Priority::High,
            due_date: date(2026, 3, 10),
            plan_id: Some(plan),
            objective_id: Some(objective),
        })
        .unwrap();
    tenant
        .plans()
        .add_task(
            TaskOf::Cta(cta),
            &NewTask {
                name: "Book the room".into(),
                owner: Some("csm@acme.example".into()),
                due_date: date(2026, 3, 5),
            },
        )
        .unwrap();
    let late = tenant
        .plans()
        .add_task(
            TaskOf::Cta(cta),
            &NewTask {
                name: "Send the agenda".into(),
                owner: None,
                due_date: date(2026, 3, 20),
            },
        )
        .unwrap();

    let error = tenant
        .plans()
        .set_status(plan, PlanStatus::Active)
        .unwrap_err();
    match error.kind() {
        ErrorKind::CtaDueBeforeTask { from, broken, .. } => {
            assert_eq!(*from, PlanStatus::Draft);
            assert_eq!(broken.len(), 1);
            assert_eq!((broken[0].cta, broken[0].task), (cta, late));
            assert_eq!(
                (broken[0].cta_due.as_str(), broken[0].task_due.as_str()),
                ("2026-03-10", "2026-03-20")
            );
        }
        other => panic!("{other:?}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("SUCCESS_PLAN_OBJECTIVES_UPDATED_FAILED"),
        "{message}"
    );
    assert!(message.contains("`Kick-off`") && message.contains("`Send the agenda`"));
    assert_eq!(tenant.plans().get(plan).unwrap().status, PlanStatus::Draft);

    // The handbook's fix: re-apply the task's due date, which moves the CTA's.
    tenant
        .plans()
        .set_task_due(late, date(2026, 3, 20))
        .unwrap();
    let loaded = tenant.plans().get(plan).unwrap();
    assert_eq!(loaded.ctas[0].due_date, date(2026, 3, 20));
    tenant.plans().set_status(plan, PlanStatus::Active).unwrap();
    assert_eq!(tenant.plans().get(plan).unwrap().status, PlanStatus::Active);

    // On an active plan, a task may not be added past its CTA's date.
    let refused = tenant
        .plans()
        .add_task(
            TaskOf::Cta(cta),
            &NewTask {
                name: "Follow up".into(),
                owner: None,
                due_date: date(2026, 4, 1),
            },
        )
        .unwrap_err();
    assert!(refused.to_string().contains("Follow up"), "{refused}");

    let log = tenant.audit().list().unwrap();
    let status = log.iter().rfind(|e| e.action == "plan.status").unwrap();
    assert_eq!(status.actor, "csm@acme.example");
}

#[test]
fn the_contacts_switch_marks_objectives_external_and_each_can_go_back() {
    let (host, company) = host();
    let tenant = host.tenant("acme").unwrap();
    let plan = tenant
        .plans()
        .create(&NewPlan {
            company_id: company,
            name: "Adoption".into(),
            ..NewPlan::default()
        })
        .unwrap();
    let a = tenant.plans().add_objective(plan, "A", None, None).unwrap();
    let b = tenant.plans().add_objective(plan, "B", None, None).unwrap();
    let loaded = tenant.plans().get(plan).unwrap();
    assert!(!loaded.share_with_contacts);
    assert!(loaded.objectives.iter().all(|o| !o.shared_externally));

    tenant
        .plans()
        .set_sharing_with_contacts(plan, true)
        .unwrap();
    tenant.plans().set_objective_shared(b, false).unwrap();
    let c = tenant.plans().add_objective(plan, "C", None, None).unwrap();
    let loaded = tenant.plans().get(plan).unwrap();
    let shared: Vec<(i64, bool)> = loaded
        .objectives
        .iter()
        .map(|o| (o.id, o.shared_externally))
        .collect();
    assert_eq!(shared, [(a, true), (b, false), (c, true)]);
}

#[test]
fn plans_and_ctas_check_what_they_point_at() {
    let (host, company) = host();
    let tenant = host.tenant("acme").unwrap();
    let missing = tenant
        .plans()
        .create(&NewPlan {
            company_id: company + 100,
            name: "X".into(),
            ..NewPlan::default()
        })
        .unwrap_err();
    assert!(
        matches!(
            missing.kind(),
            ErrorKind::NotFound {
                object: "company",
                ..
            }
        ),
        "{missing}"
    );
    let blank = tenant
        .plans()
        .create(&NewPlan {
            company_id: company,
            name: "  ".into(),
            ..NewPlan::default()
        })
        .unwrap_err();
    assert!(blank.to_string().contains("plan name"), "{blank}");

    let other = tenant.companies().add(NewCompany::new("Initech")).unwrap();
    let plan = tenant
        .plans()
        .create(&NewPlan {
            company_id: company,
            name: "P".into(),
            ..NewPlan::default()
        })
        .unwrap();
    let wrong_company = tenant
        .ctas()
        .open(&NewCta {
            company_id: other,
            kind: CtaType::Risk,
            name: "Churn".into(),
            priority: Priority::Medium,
            due_date: None,
            plan_id: Some(plan),
            objective_id: None,
        })
        .unwrap_err();
    assert!(
        wrong_company.to_string().contains("not of company"),
        "{wrong_company}"
    );

    // A CTA outside any plan, for each type.
    for kind in [
        CtaType::Risk,
        CtaType::Expansion,
        CtaType::Lifecycle,
        CtaType::Activity,
    ] {
        tenant
            .ctas()
            .open(&NewCta {
                company_id: other,
                kind,
                name: format!("{kind:?}"),
                priority: Priority::Low,
                due_date: date(2026, 5, 1),
                plan_id: None,
                objective_id: None,
            })
            .unwrap();
    }
    let ctas = tenant.ctas().list(other).unwrap();
    assert_eq!(ctas.len(), 4);
    assert!(
        ctas.iter()
            .all(|c| c.source == "operator" && c.status == "open")
    );
    tenant.ctas().close(ctas[0].id, "Handled by phone").unwrap();
    assert_eq!(tenant.ctas().list(other).unwrap()[0].status, "closed");
    let task = tenant
        .plans()
        .add_task(
            TaskOf::Cta(ctas[1].id),
            &NewTask {
                name: "Call".into(),
                ..NewTask::default()
            },
        )
        .unwrap();
    tenant.plans().complete_task(task, true).unwrap();
    assert_eq!(
        tenant.ctas().list(other).unwrap()[1].tasks[0].status,
        "done"
    );
    assert!(tenant.ctas().close(9_999, "gone").is_err());
    // Another tenant sees none of it.
    host.create_tenant("umbrella", "Umbrella", TenantLevel::Both)
        .unwrap();
    let umbrella = host.tenant("umbrella").unwrap();
    assert!(umbrella.ctas().list(other).unwrap().is_empty());
    assert!(matches!(
        umbrella.plans().get(plan).unwrap_err().kind(),
        ErrorKind::NotFound { .. }
    ));
}

#[test]
fn a_lifecycle_plugin_cannot_open_a_cta_due_past_the_year_9999() {
    // partner-welcome opens its CTA `due-days` days from now; u32::MAX days is some eleven
    // million years away.
    let dir = tempfile::tempdir().unwrap();
    let host = Host::open(dir.path().join("cs.db"), support::host_config()).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Company)
        .unwrap();
    let admin = "admin@acme.example";
    host.tenant("acme")
        .unwrap()
        .access()
        .add_admin(admin, "Ada")
        .unwrap();
    let acme = host.tenant("acme").unwrap().acting_as(admin);
    host.install_plugin(&support::plugin_bytes("partner-welcome"), admin)
        .unwrap();
    acme.plugins()
        .enable(
            "partner-welcome",
            EnableOptions::new().config("due-days", u32::MAX.to_string()),
        )
        .unwrap();

    let (partner, report) = acme
        .partners()
        .add(NewCompany::new("Bennett & Co."), None)
        .unwrap();
    assert!(report.applied.is_empty(), "{report:?}");
    let refused = report.refused.join("\n");
    assert!(
        refused.starts_with("partner-welcome: ") && refused.contains("4294967295 days"),
        "{refused}"
    );
    // The company's CTAs still list: nothing unreadable was stored.
    assert!(acme.ctas().list(partner).unwrap().is_empty());

    // A sane count opens the CTA, due that many days after today.
    acme.plugins()
        .configure(
            "partner-welcome",
            [("due-days".to_owned(), "14".to_owned())].into(),
        )
        .unwrap();
    let (partner, report) = acme
        .partners()
        .add(NewCompany::new("Contoso"), None)
        .unwrap();
    assert!(report.refused.is_empty(), "{report:?}");
    let ctas = acme.ctas().list(partner).unwrap();
    assert_eq!(ctas.len(), 1);
    assert!(ctas[0].due_date.is_some());
}

/// A draft plan with `ctas` CTAs due 2026-03-10, each with a task due after it (2026-03-20).
fn plan_with_late_ctas(
    tenant: &cs_host::Tenant<'_>,
    company: i64,
    ctas: usize,
) -> (i64, Vec<(i64, i64)>) {
    let plan = tenant
        .plans()
        .create(&NewPlan {
            company_id: company,
            name: "Onboarding".into(),
            ..NewPlan::default()
        })
        .unwrap();
    let late = (0..ctas)
        .map(|n| {
            let cta = tenant
                .ctas()
                .open(&NewCta {
                    company_id: company,
                    kind: CtaType::Activity,
                    name: format!("CTA {n}"),
                    priority: Priority::Medium,
                    due_date: date(2026, 3, 10),
                    plan_id: Some(plan),
                    objective_id: None,
                })
                .unwrap();
            let task = tenant
                .plans()
                .add_task(
                    TaskOf::Cta(cta),
                    &NewTask {
                        name: format!("Task {n}"),
                        owner: None,
                        due_date: date(2026, 3, 20),
                    },
                )
                .unwrap();
            (cta, task)
        })
        .collect();
    (plan, late)
}

#[test]
fn every_plan_transition_is_allowed_or_refused_by_name_and_audited() {
    let (host, company) = host();
    let tenant = host.tenant("acme").unwrap().acting_as("csm@acme.example");
    let (plan, late) = plan_with_late_ctas(&tenant, company, 3);
    let status = |t: &cs_host::Tenant<'_>| t.plans().get(plan).unwrap().status;
    let refused = |to: PlanStatus, from: PlanStatus, reason: &str| {
        let error = tenant.plans().set_status(plan, to).unwrap_err();
        match error.kind() {
            ErrorKind::PlanTransitionRefused { from: f, to: t, .. } => {
                assert_eq!((*f, *t), (from, to), "{error}")
            }
            other => panic!("{other:?}"),
        }
        let message = error.to_string();
        assert!(
            message.contains(&format!("{from} → {to} is refused")) && message.contains(reason),
            "{message}"
        );
        assert_eq!(tenant.plans().get(plan).unwrap().status, from);
    };

    // Draft: not to itself, not straight to complete; to active only with the CTA rule.
    refused(PlanStatus::Draft, PlanStatus::Draft, "already draft");
    refused(PlanStatus::Complete, PlanStatus::Draft, "activated");
    let error = tenant
        .plans()
        .set_status(plan, PlanStatus::Active)
        .unwrap_err();
    let ErrorKind::CtaDueBeforeTask { broken, .. } = error.kind() else {
        panic!("{error:?}")
    };
    // Every CTA breaking the rule is listed, not only the first.
    assert_eq!(
        broken.iter().map(|b| (b.cta, b.task)).collect::<Vec<_>>(),
        late
    );
    let message = error.to_string();
    assert!(
        message.contains("stays draft (draft → active refused)")
            && (0..3).all(|n| message.contains(&format!("`CTA {n}`"))),
        "{message}"
    );
    assert_eq!(status(&tenant), PlanStatus::Draft);
    for (_, task) in &late {
        tenant
            .plans()
            .set_task_due(*task, date(2026, 3, 20))
            .unwrap();
    }
    tenant.plans().set_status(plan, PlanStatus::Active).unwrap();
    assert_eq!(status(&tenant), PlanStatus::Active);

    // Active: not back to draft, not to itself; to complete.
    refused(
        PlanStatus::Draft,
        PlanStatus::Active,
        "does not go back to draft",
    );
    refused(PlanStatus::Active, PlanStatus::Active, "already active");
    tenant
        .plans()
        .set_status(plan, PlanStatus::Complete)
        .unwrap();
    assert_eq!(status(&tenant), PlanStatus::Complete);

    // Complete: not to draft, not to itself, not to active by a status change; reopening is
    // explicit, needs a reason, and is audited with it.
    refused(PlanStatus::Draft, PlanStatus::Complete, "only reopened");
    refused(
        PlanStatus::Complete,
        PlanStatus::Complete,
        "already complete",
    );
    refused(
        PlanStatus::Active,
        PlanStatus::Complete,
        "reopen it with a reason",
    );
    let no_reason = tenant.plans().reopen(plan, "  ").unwrap_err();
    assert!(
        no_reason.to_string().contains("needs a reason"),
        "{no_reason}"
    );
    tenant
        .plans()
        .reopen(plan, "The customer added a second site")
        .unwrap();
    assert_eq!(status(&tenant), PlanStatus::Active);
    let again = tenant.plans().reopen(plan, "twice").unwrap_err();
    assert!(
        again
            .to_string()
            .contains("active → active is refused: only a complete plan is reopened"),
        "{again}"
    );

    let log = tenant.audit().list().unwrap();
    let moves: Vec<(String, String)> = log
        .iter()
        .filter(|e| {
            e.subject == format!("plan:{plan}")
                && e.action.starts_with("plan.")
                && e.action != "plan.create"
        })
        .map(|e| {
            (
                e.action.clone(),
                e.after.as_ref().unwrap()["status"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        [
            ("plan.status".to_owned(), "\"active\"".to_owned()),
            ("plan.status".to_owned(), "\"complete\"".to_owned()),
            ("plan.reopen".to_owned(), "\"active\"".to_owned()),
        ]
    );
    let reopen = log.iter().rfind(|e| e.action == "plan.reopen").unwrap();
    assert_eq!(reopen.actor, "csm@acme.example");
    assert_eq!(
        reopen.after.as_ref().unwrap()["reason"],
        "The customer added a second site"
    );
}

#[test]
fn reopening_checks_the_cta_rule_like_activating() {
    let (host, company) = host();
    let tenant = host.tenant("acme").unwrap();
    let (plan, late) = plan_with_late_ctas(&tenant, company, 1);
    tenant
        .plans()
        .set_task_due(late[0].1, date(2026, 3, 20))
        .unwrap();
    tenant.plans().set_status(plan, PlanStatus::Active).unwrap();
    tenant
        .plans()
        .set_status(plan, PlanStatus::Complete)
        .unwrap();
    // While complete, a CTA task moves past its CTA (only an active plan refuses that).
    tenant
        .plans()
        .add_task(
            TaskOf::Cta(late[0].0),
            &NewTask {
                name: "Late review".into(),
                owner: None,
                due_date: date(2026, 5, 1),
            },
        )
        .unwrap();
    let error = tenant.plans().reopen(plan, "more work").unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("stays complete (complete → active refused)")
            && message.contains("`Late review`")
            && message.contains("reopen again"),
        "{message}"
    );
    assert_eq!(
        tenant.plans().get(plan).unwrap().status,
        PlanStatus::Complete
    );
}

#[test]
fn the_command_line_walks_a_plan_through_its_states() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_cshost"))
            .env("CSHOST_DB", &db)
            .env("CSHOST_ACTOR", "csm@acme.example")
            .env("CSHOST_CACHE_DIR", support::cache_dir())
            .args(args)
            .output()
            .unwrap();
        (
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    };
    let ok = |args: &[&str]| {
        let (success, text) = run(args);
        assert!(success, "{args:?}: {text}");
        text
    };
    ok(&["tenant", "create", "acme"]);
    // The CSM is the tenant's admin: the platform operator adds it.
    Host::open(&db, support::host_config())
        .unwrap()
        .tenant("acme")
        .unwrap()
        .access()
        .add_admin("csm@acme.example", "Cem")
        .unwrap();
    ok(&["company", "add", "--tenant", "acme", "Globex"]);
    let plan = ok(&[
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
    let (success, text) = run(&["plan", "status", "--tenant", "acme", plan, "complete"]);
    assert!(
        !success && text.contains("draft → complete is refused"),
        "{text}"
    );
    assert!(ok(&["plan", "status", "--tenant", "acme", plan, "active"]).contains("active"));
    let (success, text) = run(&["plan", "status", "--tenant", "acme", plan, "draft"]);
    assert!(
        !success && text.contains("active → draft is refused"),
        "{text}"
    );
    ok(&["plan", "status", "--tenant", "acme", plan, "complete"]);
    let (success, text) = run(&["plan", "status", "--tenant", "acme", plan, "active"]);
    assert!(
        !success && text.contains("complete → active is refused") && text.contains("plan reopen"),
        "{text}"
    );
    let reopened = ok(&[
        "plan",
        "reopen",
        "--tenant",
        "acme",
        plan,
        "--reason",
        "Second site",
    ]);
    assert!(reopened.contains("active again"), "{reopened}");
    assert!(ok(&["plan", "show", "--tenant", "acme", plan]).contains("(active"));
}

fn cta(company: i64, kind: CtaType, name: &str, priority: Priority, due: Option<Date>) -> NewCta {
    NewCta {
        company_id: company,
        kind,
        name: name.into(),
        priority,
        due_date: due,
        plan_id: None,
        objective_id: None,
    }
}

#[test]
fn the_cockpit_lists_ctas_by_owner_company_and_status_soonest_and_highest_first() {
    let (host, globex) = host();
    let admin = host.tenant("acme").unwrap();
    // The CSM is the fixture's admin already.
    admin
        .users()
        .add("amy@acme.example", "amy@acme.example", Licence::Full)
        .unwrap();
    let initech = admin.companies().add(NewCompany::new("Initech")).unwrap();
    let csm = host.tenant("acme").unwrap().acting_as("csm@acme.example");
    let amy = host.tenant("acme").unwrap().acting_as("amy@acme.example");
    let late_low = csm
        .ctas()
        .open(&cta(
            globex,
            CtaType::Risk,
            "Late low",
            Priority::Low,
            date(2026, 5, 1),
        ))
        .unwrap();
    let soon_low = csm
        .ctas()
        .open(&cta(
            globex,
            CtaType::Activity,
            "Soon low",
            Priority::Low,
            date(2026, 4, 1),
        ))
        .unwrap();
    let soon_high = csm
        .ctas()
        .open(&cta(
            initech,
            CtaType::Expansion,
            "Soon high",
            Priority::High,
            date(2026, 4, 1),
        ))
        .unwrap();
    let undated = csm
        .ctas()
        .open(&cta(globex, CtaType::Risk, "Undated", Priority::High, None))
        .unwrap();
    let amys = amy
        .ctas()
        .open(&cta(
            globex,
            CtaType::Risk,
            "Amy's",
            Priority::Medium,
            date(2026, 3, 1),
        ))
        .unwrap();
    let ids = |filter: &CtaFilter| -> Vec<i64> {
        csm.ctas()
            .cockpit(filter)
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect()
    };

    // Whoever opens a CTA owns it. "My CTAs", open, by due date then priority.
    let mine = CtaFilter {
        owner: Some("csm@acme.example".into()),
        ..CtaFilter::default()
    };
    assert_eq!(ids(&mine), [soon_high, soon_low, late_low, undated]);
    // Per company.
    let globex_open = CtaFilter {
        company_id: Some(globex),
        ..CtaFilter::default()
    };
    assert_eq!(ids(&globex_open), [amys, soon_low, late_low, undated]);

    // Closing needs a reason and keeps it; closed CTAs leave the open list.
    let no_reason = csm.ctas().close(soon_low, " ").unwrap_err();
    assert!(no_reason.to_string().contains("reason"), "{no_reason}");
    csm.ctas()
        .close(soon_low, "Customer renewed early")
        .unwrap();
    assert!(csm.ctas().close(soon_low, "again").is_err());
    assert_eq!(ids(&mine), [soon_high, late_low, undated]);
    let closed = csm
        .ctas()
        .cockpit(&CtaFilter {
            status: CtaStatus::Closed,
            ..CtaFilter::default()
        })
        .unwrap();
    assert_eq!(closed.len(), 1);
    assert_eq!(
        closed[0].closed_reason.as_deref(),
        Some("Customer renewed early")
    );
    let all = CtaFilter {
        status: CtaStatus::All,
        ..CtaFilter::default()
    };
    assert_eq!(ids(&all), [amys, soon_high, soon_low, late_low, undated]);
    csm.ctas().reopen(soon_low).unwrap();
    assert_eq!(
        csm.ctas().cockpit(&all).unwrap()[2].closed_reason,
        None,
        "reopening clears the reason"
    );

    // Assigning moves a CTA to another user's list; only users can own CTAs.
    csm.ctas().assign(undated, "amy@acme.example").unwrap();
    let amys_list = CtaFilter {
        owner: Some("amy@acme.example".into()),
        ..CtaFilter::default()
    };
    assert_eq!(ids(&amys_list), [amys, undated]);
    let stranger = csm
        .ctas()
        .assign(undated, "nobody@acme.example")
        .unwrap_err();
    assert!(
        matches!(stranger.kind(), ErrorKind::NotFound { .. }),
        "{stranger}"
    );
    let log = csm.audit().list().unwrap();
    for action in ["cta.close", "cta.reopen", "cta.assign"] {
        assert!(
            log.iter()
                .any(|e| e.action == action && e.actor == "csm@acme.example"),
            "{action}"
        );
    }
}

#[test]
fn a_playbook_gives_a_cta_of_its_type_its_tasks_when_a_user_or_a_plugin_opens_it() {
    support::build_plugins();
    // 2026-03-01T00:00:00Z.
    let clock = ManualClock::new(
        std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_772_323_200),
    );
    let host =
        Host::open_in_memory(support::host_config().clock(std::sync::Arc::new(clock))).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Company)
        .unwrap();
    let admin = "admin@acme.example";
    host.tenant("acme")
        .unwrap()
        .access()
        .add_admin(admin, "Ada")
        .unwrap();
    let acme = host.tenant("acme").unwrap().acting_as(admin);
    let globex = acme.companies().add(NewCompany::new("Globex")).unwrap();
    let task = |name: &str, days: Option<u32>| PlaybookTask {
        name: name.into(),
        due_in_days: days,
        owner: None,
    };
    acme.playbooks()
        .define(&Playbook {
            name: "Account Triage".into(),
            cta_type: CtaType::Risk,
            tasks: vec![
                task("Call the sponsor", Some(3)),
                task("Review usage", Some(30)),
            ],
            default: true,
        })
        .unwrap();
    acme.playbooks()
        .define(&Playbook {
            name: "Partner onboarding".into(),
            cta_type: CtaType::Lifecycle,
            tasks: vec![task("Send the welcome kit", Some(2))],
            default: true,
        })
        .unwrap();
    acme.playbooks()
        .define(&Playbook {
            name: "Executive escalation".into(),
            cta_type: CtaType::Risk,
            tasks: vec![task("Brief the VP", None)],
            default: false,
        })
        .unwrap();
    let empty = acme
        .playbooks()
        .define(&Playbook {
            name: "Empty".into(),
            cta_type: CtaType::Risk,
            tasks: vec![],
            default: false,
        })
        .unwrap_err();
    assert!(empty.to_string().contains("at least one task"), "{empty}");

    // Opened by a user: the type's default playbook's tasks, due from today, never after the
    // CTA, owned by the CTA's owner.
    let risk = acme
        .ctas()
        .open(&cta(
            globex,
            CtaType::Risk,
            "Usage dropped",
            Priority::High,
            date(2026, 3, 15),
        ))
        .unwrap();
    let opened = &acme.ctas().list(globex).unwrap()[0];
    assert_eq!(opened.id, risk);
    let tasks: Vec<(&str, Option<Date>, Option<&str>)> = opened
        .tasks
        .iter()
        .map(|t| (t.name.as_str(), t.due_date, t.owner.as_deref()))
        .collect();
    assert_eq!(
        tasks,
        [
            ("Call the sponsor", date(2026, 3, 4), Some(admin)),
            ("Review usage", date(2026, 3, 15), Some(admin)),
        ]
    );
    // Another playbook on request, only for its type.
    assert_eq!(
        acme.playbooks()
            .apply(risk, "executive escalation")
            .unwrap(),
        1
    );
    let activity = acme
        .ctas()
        .open(&cta(globex, CtaType::Activity, "QBR", Priority::Low, None))
        .unwrap();
    assert!(
        acme.ctas().list(globex).unwrap()[1].tasks.is_empty(),
        "no default for activity"
    );
    let wrong = acme
        .playbooks()
        .apply(activity, "Account Triage")
        .unwrap_err();
    assert!(wrong.to_string().contains("for risk CTAs"), "{wrong}");
    assert_eq!(acme.playbooks().list().unwrap().len(), 3);

    // Opened by a plugin (partner-welcome's open-cta): the lifecycle default applies too, and
    // a plugin's CTA has no owner until someone is assigned.
    host.install_plugin(&support::plugin_bytes("partner-welcome"), admin)
        .unwrap();
    acme.plugins()
        .enable("partner-welcome", EnableOptions::new())
        .unwrap();
    let (partner, report) = acme
        .partners()
        .add(NewCompany::new("Contoso"), None)
        .unwrap();
    assert!(report.refused.is_empty(), "{report:?}");
    let welcome = &acme.ctas().list(partner).unwrap()[0];
    assert!(welcome.source.starts_with("plugin:"), "{welcome:?}");
    assert_eq!(welcome.owner, None);
    assert_eq!(
        welcome
            .tasks
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        ["Send the welcome kit"]
    );
    assert_eq!(
        welcome.tasks[0].due_date,
        date(2026, 3, 3).min(welcome.due_date)
    );
}

#[test]
fn the_command_line_runs_the_cockpit_and_playbooks() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_cshost"))
            .env("CSHOST_DB", &db)
            .env("CSHOST_ACTOR", "csm@acme.example")
            .env("CSHOST_CACHE_DIR", support::cache_dir())
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{args:?}: {text}");
        text
    };
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
    run(&[
        "cta",
        "playbook",
        "--tenant",
        "acme",
        "--name",
        "Account Triage",
        "--type",
        "risk",
        "--task",
        "Call the sponsor:3",
        "--task",
        "Review usage",
        "--default",
    ]);
    assert!(run(&["cta", "playbooks", "--tenant", "acme"]).contains("`Account Triage` (default)"));
    let first = run(&[
        "plan",
        "cta",
        "--tenant",
        "acme",
        "--company",
        "1",
        "--type",
        "risk",
        "--name",
        "Usage dropped",
        "--priority",
        "high",
        "--due",
        "2026-04-01",
    ]);
    run(&[
        "plan",
        "cta",
        "--tenant",
        "acme",
        "--company",
        "1",
        "--type",
        "activity",
        "--name",
        "QBR",
        "--due",
        "2026-03-01",
    ]);
    let mine = run(&["cta", "list", "--tenant", "acme", "--mine"]);
    let qbr = mine.find("QBR").unwrap();
    let usage = mine.find("Usage dropped").unwrap();
    assert!(qbr < usage, "sorted by due date: {mine}");
    assert!(mine.contains("Call the sponsor"), "{mine}");
    run(&[
        "cta",
        "close",
        "--tenant",
        "acme",
        first.trim(),
        "--reason",
        "Usage recovered",
    ]);
    let closed = run(&["cta", "list", "--tenant", "acme", "--status", "closed"]);
    assert!(closed.contains("(closed: Usage recovered)"), "{closed}");
    assert!(!run(&["cta", "list", "--tenant", "acme", "--company", "1"]).contains("Usage dropped"));
}

#[test]
fn the_cockpit_lists_a_relationships_ctas() {
    let (host, globex) = host();
    let tenant = host.tenant("acme").unwrap().acting_as("csm@acme.example");
    let saas = tenant.relationship_types().add("SaaS").unwrap();
    let eu = tenant
        .relationships()
        .add(cs_host::NewRelationship::new(globex, saas, "Globex EU"))
        .unwrap();
    let on_eu = tenant
        .ctas()
        .open_on_relationship(
            eu,
            &cta(
                globex,
                CtaType::Risk,
                "EU usage",
                Priority::Low,
                date(2026, 5, 1),
            ),
        )
        .unwrap();
    let urgent_eu = tenant
        .ctas()
        .open_on_relationship(
            eu,
            &cta(
                globex,
                CtaType::Risk,
                "EU renewal",
                Priority::High,
                date(2026, 5, 1),
            ),
        )
        .unwrap();
    tenant
        .ctas()
        .open(&cta(
            globex,
            CtaType::Risk,
            "Company-wide",
            Priority::High,
            None,
        ))
        .unwrap();
    let listed: Vec<i64> = tenant
        .ctas()
        .cockpit(&CtaFilter {
            relationship_id: Some(eu),
            ..CtaFilter::default()
        })
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, [urgent_eu, on_eu], "same date: high priority first");
    assert_eq!(
        tenant
            .ctas()
            .cockpit(&CtaFilter {
                company_id: Some(globex),
                ..CtaFilter::default()
            })
            .unwrap()
            .len(),
        3
    );
}
