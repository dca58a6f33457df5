//! Success plans and CTAs: the Draft-to-Active rule (a CTA may not be due before its tasks),
//! objectives' sharing flags, CTAs on their own, and the CTAs a lifecycle plugin opens.

mod support;

use cs_host::model::{CtaType, Date, Priority};
use cs_host::{
    EnableOptions, ErrorKind, Host, HostConfig, NewCompany, NewCta, NewPlan, NewTask, PlanStatus,
    TaskOf, TenantLevel,
};

fn date(y: i32, m: u8, d: u8) -> Option<Date> {
    Date::new(y, m, d)
}

fn host() -> (Host, i64) {
    let host = Host::open_in_memory(HostConfig::default()).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    let acme = host.tenant("acme").unwrap();
    acme.add_admin("csm@acme.example", "Cem").unwrap();
    let company = acme.add_company(NewCompany::new("Globex")).unwrap();
    (host, company)
}

#[test]
fn a_plan_stays_draft_while_a_cta_is_due_before_its_task() {
    let (host, company) = host();
    let tenant = host.tenant("acme").unwrap().acting_as("csm@acme.example");
    let plan = tenant
        .create_plan(&NewPlan {
            company_id: company,
            name: "Onboarding".into(),
            plan_type: "Onboarding".into(),
            ..NewPlan::default()
        })
        .unwrap();
    let objective = tenant
        .add_objective(plan, "Go live", date(2026, 4, 30), None)
        .unwrap();
    let cta = tenant
        .open_cta(&NewCta {
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
        .set_plan_status(plan, PlanStatus::Active)
        .unwrap_err();
    match error.kind() {
        ErrorKind::CtaDueBeforeTask {
            cta: c,
            task,
            cta_due,
            task_due,
            ..
        } => {
            assert_eq!((*c, *task), (cta, late));
            assert_eq!(
                (cta_due.as_str(), task_due.as_str()),
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
    assert_eq!(tenant.plan(plan).unwrap().status, PlanStatus::Draft);

    // The handbook's fix: re-apply the task's due date, which moves the CTA's.
    tenant.set_task_due(late, date(2026, 3, 20)).unwrap();
    let loaded = tenant.plan(plan).unwrap();
    assert_eq!(loaded.ctas[0].due_date, date(2026, 3, 20));
    tenant.set_plan_status(plan, PlanStatus::Active).unwrap();
    assert_eq!(tenant.plan(plan).unwrap().status, PlanStatus::Active);

    // On an active plan, a task may not be added past its CTA's date.
    let refused = tenant
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

    let log = tenant.audit_log().unwrap();
    let status = log.iter().rfind(|e| e.action == "plan.status").unwrap();
    assert_eq!(status.actor, "csm@acme.example");
}

#[test]
fn the_contacts_switch_marks_objectives_external_and_each_can_go_back() {
    let (host, company) = host();
    let tenant = host.tenant("acme").unwrap();
    let plan = tenant
        .create_plan(&NewPlan {
            company_id: company,
            name: "Adoption".into(),
            ..NewPlan::default()
        })
        .unwrap();
    let a = tenant.add_objective(plan, "A", None, None).unwrap();
    let b = tenant.add_objective(plan, "B", None, None).unwrap();
    let loaded = tenant.plan(plan).unwrap();
    assert!(!loaded.share_with_contacts);
    assert!(loaded.objectives.iter().all(|o| !o.shared_externally));

    tenant.set_sharing_with_contacts(plan, true).unwrap();
    tenant.set_objective_shared(b, false).unwrap();
    let c = tenant.add_objective(plan, "C", None, None).unwrap();
    let loaded = tenant.plan(plan).unwrap();
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
        .create_plan(&NewPlan {
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
        .create_plan(&NewPlan {
            company_id: company,
            name: "  ".into(),
            ..NewPlan::default()
        })
        .unwrap_err();
    assert!(blank.to_string().contains("plan name"), "{blank}");

    let other = tenant.add_company(NewCompany::new("Initech")).unwrap();
    let plan = tenant
        .create_plan(&NewPlan {
            company_id: company,
            name: "P".into(),
            ..NewPlan::default()
        })
        .unwrap();
    let wrong_company = tenant
        .open_cta(&NewCta {
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
            .open_cta(&NewCta {
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
    let ctas = tenant.ctas(other).unwrap();
    assert_eq!(ctas.len(), 4);
    assert!(
        ctas.iter()
            .all(|c| c.source == "operator" && c.status == "open")
    );
    tenant.close_cta(ctas[0].id, true).unwrap();
    assert_eq!(tenant.ctas(other).unwrap()[0].status, "closed");
    let task = tenant
        .add_task(
            TaskOf::Cta(ctas[1].id),
            &NewTask {
                name: "Call".into(),
                ..NewTask::default()
            },
        )
        .unwrap();
    tenant.complete_task(task, true).unwrap();
    assert_eq!(tenant.ctas(other).unwrap()[1].tasks[0].status, "done");
    assert!(tenant.close_cta(9_999, true).is_err());
    // Another tenant sees none of it.
    host.create_tenant("umbrella", "Umbrella", TenantLevel::Both)
        .unwrap();
    let umbrella = host.tenant("umbrella").unwrap();
    assert!(umbrella.ctas(other).unwrap().is_empty());
    assert!(matches!(
        umbrella.plan(plan).unwrap_err().kind(),
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
    host.tenant("acme").unwrap().add_admin(admin, "Ada").unwrap();
    let acme = host.tenant("acme").unwrap().acting_as(admin);
    host.install_plugin(&support::plugin_bytes("partner-welcome"), admin)
        .unwrap();
    acme.enable_plugin(
        "partner-welcome",
        EnableOptions::new().config("due-days", u32::MAX.to_string()),
    )
    .unwrap();

    let (partner, report) = acme
        .add_partner(NewCompany::new("Bennett & Co."), None)
        .unwrap();
    assert!(report.applied.is_empty(), "{report:?}");
    let refused = report.refused.join("\n");
    assert!(
        refused.starts_with("partner-welcome: ") && refused.contains("4294967295 days"),
        "{refused}"
    );
    // The company's CTAs still list: nothing unreadable was stored.
    assert!(acme.ctas(partner).unwrap().is_empty());

    // A sane count opens the CTA, due that many days after today.
    acme.configure_plugin(
        "partner-welcome",
        [("due-days".to_owned(), "14".to_owned())].into(),
    )
    .unwrap();
    let (partner, report) = acme.add_partner(NewCompany::new("Contoso"), None).unwrap();
    assert!(report.refused.is_empty(), "{report:?}");
    let ctas = acme.ctas(partner).unwrap();
    assert_eq!(ctas.len(), 1);
    assert!(ctas[0].due_date.is_some());
}
