//! Relationships and relationship types (the Relationships FAQ, the Through-Partner overview):
//! an admin's types each with its own fields, relationships of companies with Managed By and
//! its one-partner rule, through the library and through `cshost`.

use crate::support;

use cs_host::EnableOptions;
use cs_host::model::{AccessScope, Date, FieldValue, ManagedAs};
use cs_host::{
    ErrorKind, FieldType, Host, ImportOptions, ImportTarget, Mapping, NewCompany, NewRelationship,
    RelationshipEdit, RowErrorKind, TenantLevel,
};

struct World {
    host: Host,
    company: i64,
    partner: i64,
    other_partner: i64,
    saas: i64,
}

/// A tenant working at both levels with a customer, two partners and a `SaaS` type whose
/// relationships have a required `seats` number and a `go_live` date.
fn world() -> World {
    let host = Host::open_in_memory(support::host_config()).unwrap();
    host.create_tenant("acme", "Acme", TenantLevel::Both)
        .unwrap();
    let operator = host.tenant("acme").unwrap();
    operator
        .access()
        .add_admin("admin@acme.example", "Ada")
        .unwrap();
    operator
        .access()
        .add_admin("csm@acme.example", "Cem")
        .unwrap();
    let acme = host.tenant("acme").unwrap().acting_as("admin@acme.example");
    let company = acme.companies().add(NewCompany::new("Globex")).unwrap();
    let (partner, _) = acme
        .partners()
        .add(NewCompany::new("Bennett & Co."), Some(AccessScope::Both))
        .unwrap();
    let (other_partner, _) = acme
        .partners()
        .add(
            NewCompany::new("Northwind Partners"),
            Some(AccessScope::RelationshipRecords),
        )
        .unwrap();
    let saas = acme.relationship_types().add("SaaS").unwrap();
    acme.relationship_types()
        .define_field("SaaS", "seats", FieldType::Number, true)
        .unwrap();
    acme.relationship_types()
        .define_field("saas", "go_live", FieldType::Date, false)
        .unwrap();
    World {
        host,
        company,
        partner,
        other_partner,
        saas,
    }
}

#[test]
fn types_are_templates_with_their_own_fields_and_relationships_follow_their_type() {
    let w = world();
    let acme = w.host.tenant("acme").unwrap().acting_as("csm@acme.example");
    // No limit on the number of types; each has its own fields; names are unique.
    let on_prem = acme.relationship_types().add("On-premise").unwrap();
    acme.relationship_types()
        .define_field("On-premise", "servers", FieldType::Number, false)
        .unwrap();
    let err = acme.relationship_types().add("saas").unwrap_err();
    assert!(err.to_string().contains("exists already"), "{err}");
    let types = acme.relationship_types().list().unwrap();
    let summary: Vec<(&str, Vec<&str>)> = types
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.fields.iter().map(|f| f.name.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("On-premise", vec!["servers"]),
            ("SaaS", vec!["go_live", "seats"])
        ]
    );

    // A relationship of the SaaS type: its fields are checked against that type's schema.
    let id = acme
        .relationships()
        .add(
            NewRelationship::new(w.company, w.saas, "Globex EU")
                .field("seats", 250i64)
                .field("go_live", "2026-03-01")
                .field("arr", 90_000i64)
                .field("external_id", "R-1"),
        )
        .unwrap();
    let r = acme.relationships().get(id).unwrap().unwrap();
    assert_eq!(
        (r.company_id, r.type_name.as_str(), r.name.as_str()),
        (w.company, "SaaS", "Globex EU")
    );
    assert_eq!(r.fields["seats"], FieldValue::Number(250.0));
    assert_eq!(
        r.fields["go_live"],
        FieldValue::Date(Date::new(2026, 3, 1).unwrap())
    );
    assert_eq!(r.fields["external_id"], FieldValue::from("R-1"));

    // Another type's field, a missing required field, a wrong type: refused, naming the field.
    let err = acme
        .relationships()
        .add(
            NewRelationship::new(w.company, w.saas, "Globex US")
                .field("seats", 5i64)
                .field("servers", 3i64),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("no relationship field `servers`"),
        "{err}"
    );
    let err = acme
        .relationships()
        .add(NewRelationship::new(w.company, w.saas, "Globex US"))
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidField { field, .. } if field == "seats"),
        "{err}"
    );
    let err = acme
        .relationships()
        .add(NewRelationship::new(w.company, w.saas, " ").field("seats", 1i64))
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidField { field, .. } if field == "name"),
        "{err}"
    );
    let err = acme
        .relationships()
        .add(NewRelationship::new(w.company, 999, "X").field("seats", 1i64))
        .unwrap_err();
    assert!(
        err.to_string().contains("no relationship type `999`"),
        "{err}"
    );
    let other = acme
        .relationships()
        .add(NewRelationship::new(w.company, on_prem, "Globex DC").field("servers", 12i64))
        .unwrap();

    // Edit: a field set, one cleared, the name changed; the company and type stay.
    acme.relationships()
        .edit(
            id,
            RelationshipEdit {
                name: Some("Globex Europe".into()),
                fields: [
                    ("seats".to_owned(), FieldValue::Integer(300)),
                    ("go_live".to_owned(), FieldValue::Null),
                ]
                .into(),
            },
        )
        .unwrap();
    let r = acme.relationships().get(id).unwrap().unwrap();
    assert_eq!(r.name, "Globex Europe");
    assert_eq!(r.fields["seats"], FieldValue::Number(300.0));
    assert!(!r.fields.contains_key("go_live"));
    let err = acme
        .relationships()
        .edit(
            id,
            RelationshipEdit {
                fields: [("seats".to_owned(), FieldValue::Null)].into(),
                ..RelationshipEdit::default()
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("`seats` is required"), "{err}");

    // List and search.
    let names = |list: Vec<cs_host::Relationship>| -> Vec<String> {
        list.into_iter().map(|r| r.name).collect()
    };
    assert_eq!(
        names(acme.relationships().list(Some(w.company)).unwrap()),
        ["Globex DC", "Globex Europe"]
    );
    assert_eq!(
        names(acme.relationships().search("europe", 10).unwrap()),
        ["Globex Europe"]
    );
    assert_eq!(
        names(acme.relationships().search("%", 10).unwrap()),
        Vec::<String>::new()
    );

    // A field's type changes only when every value fits; a type in use cannot be deleted.
    let err = acme
        .relationship_types()
        .define_field("SaaS", "seats", FieldType::Date, true)
        .unwrap_err();
    assert!(err.to_string().contains("Globex Europe"), "{err}");
    acme.relationship_types()
        .define_field("SaaS", "seats", FieldType::Text, true)
        .unwrap();
    let r = acme.relationships().get(id).unwrap().unwrap();
    assert_eq!(r.fields["seats"], FieldValue::from("300"));
    let err = acme.relationship_types().delete("On-premise").unwrap_err();
    assert!(err.to_string().contains("1 relationship"), "{err}");
    acme.relationships().delete(other).unwrap();
    acme.relationship_types().delete("On-premise").unwrap();
    assert!(acme.relationships().get(other).unwrap().is_none());
    assert!(
        acme.relationship_types()
            .get("On-premise")
            .unwrap()
            .is_none()
    );

    // Every change is audited by who made it.
    let log = acme.audit().list().unwrap();
    for action in [
        "relationship_type.add",
        "relationship.add",
        "relationship.edit",
        "relationship.delete",
        "relationship_type.delete",
    ] {
        assert!(
            log.iter()
                .any(|e| e.action == action && e.actor == "csm@acme.example"),
            "{action}"
        );
    }
}

#[test]
fn managed_by_names_one_partner_and_a_partner_sees_the_relationships_it_manages() {
    let w = world();
    let acme = w.host.tenant("acme").unwrap();
    let customer = acme.companies().add(NewCompany::new("Initech")).unwrap();
    let eu = acme
        .relationships()
        .add(
            NewRelationship::new(w.company, w.saas, "Globex EU")
                .field("seats", 1i64)
                .managed_by(w.partner),
        )
        .unwrap();
    let us = acme
        .relationships()
        .add(NewRelationship::new(w.company, w.saas, "Globex US").field("seats", 1i64))
        .unwrap();

    // The manager must be a partner: a customer is refused, at creation and on change.
    let err = acme
        .relationships()
        .add(
            NewRelationship::new(w.company, w.saas, "X")
                .field("seats", 1i64)
                .managed_by(customer),
        )
        .unwrap_err();
    assert!(err.to_string().contains("not a partner"), "{err}");
    let err = acme
        .relationships()
        .set_managed_by(us, Some(customer))
        .unwrap_err();
    assert!(err.to_string().contains("not a partner"), "{err}");

    // One partner per relationship: the error names the partner managing it now.
    let err = acme
        .relationships()
        .set_managed_by(eu, Some(w.other_partner))
        .unwrap_err();
    match err.kind() {
        ErrorKind::AlreadyManaged {
            partner_id,
            partner,
            record,
        } => {
            assert_eq!(*partner_id, w.partner);
            assert_eq!(partner, "Bennett & Co.");
            assert!(record.contains("Globex EU"), "{record}");
        }
        other => panic!("{other:?}"),
    }
    acme.relationships()
        .set_managed_by(us, Some(w.other_partner))
        .unwrap();

    // The typed query the access rules scope partner users with.
    let managed: Vec<i64> = acme
        .relationships()
        .managed_by(w.partner)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(managed, [eu]);
    let err = acme.relationships().managed_by(customer).unwrap_err();
    assert!(err.to_string().contains("not a partner"), "{err}");

    // Clear, then give it to the other partner.
    acme.relationships().set_managed_by(eu, None).unwrap();
    acme.relationships()
        .set_managed_by(eu, Some(w.other_partner))
        .unwrap();
    let managed: Vec<i64> = acme
        .relationships()
        .managed_by(w.other_partner)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(managed, [eu, us]);
    assert_eq!(
        acme.companies()
            .get(cs_host::CompanyKey::Id(w.partner))
            .unwrap()
            .unwrap()
            .managed_as,
        ManagedAs::Partner
    );
}

#[test]
fn another_tenant_sees_none_of_it() {
    let w = world();
    w.host
        .create_tenant("globex", "Globex", TenantLevel::Both)
        .unwrap();
    let acme = w.host.tenant("acme").unwrap();
    let id = acme
        .relationships()
        .add(NewRelationship::new(w.company, w.saas, "Globex EU").field("seats", 1i64))
        .unwrap();
    let other = w.host.tenant("globex").unwrap();
    assert!(other.relationships().get(id).unwrap().is_none());
    assert!(other.relationships().list(None).unwrap().is_empty());
    assert!(other.relationship_types().list().unwrap().is_empty());
    let err = other
        .relationships()
        .add(NewRelationship::new(w.company, w.saas, "Stolen"))
        .unwrap_err();
    assert!(err.to_string().contains("company"), "{err}");
}

fn cshost(db: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["--db", db.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = support::cshost(all);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_cli_defines_types_and_manages_relationships() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let ok = |args: &[&str]| {
        let (ok, out, err) = cshost(&db, args);
        assert!(ok, "{args:?}: {err}");
        out
    };
    ok(&["tenant", "create", "acme", "--level", "both"]);
    fn with<'a>(args: &[&'a str]) -> Vec<&'a str> {
        let mut v = args.to_vec();
        v.extend_from_slice(&["--tenant", "acme"]);
        v
    }
    ok(&with(&["company", "add", "Globex"]));
    ok(&with(&[
        "partner",
        "add",
        "Bennett & Co.",
        "--scope",
        "both",
    ]));
    let saas = ok(&with(&["relationship-type", "add", "SaaS"]));
    assert_eq!(saas.trim(), "1");
    ok(&with(&[
        "relationship-type",
        "field",
        "--type",
        "SaaS",
        "seats",
        "number",
        "--required",
    ]));
    let types = ok(&with(&["relationship-type", "list"]));
    assert!(types.contains("seats (number, required)"), "{types}");

    let (failed, _, err) = cshost(
        &db,
        &with(&[
            "relationship",
            "add",
            "--company",
            "Globex",
            "--type",
            "SaaS",
            "Globex EU",
        ]),
    );
    assert!(!failed);
    assert!(err.contains("`seats` is required"), "{err}");
    let id = ok(&with(&[
        "relationship",
        "add",
        "--company",
        "globex",
        "--type",
        "saas",
        "Globex EU",
        "--field",
        "seats=10",
        "--managed-by",
        "2",
    ]));
    let id = id.trim().to_owned();
    let shown = ok(&with(&["relationship", "show", &id]));
    assert!(shown.contains("managed by: 2 `Bennett & Co.`"), "{shown}");
    assert!(shown.contains("seats: 10"), "{shown}");
    ok(&with(&[
        "relationship",
        "edit",
        &id,
        "--name",
        "Globex Europe",
    ]));
    let list = ok(&with(&["relationship", "list", "--managed-by", "2"]));
    assert!(list.contains("Globex Europe"), "{list}");
    let list = ok(&with(&["relationship", "list", "--search", "europe"]));
    assert!(list.contains("Globex Europe"), "{list}");
    let (failed, _, err) = cshost(&db, &with(&["relationship", "managed-by", &id, "1"]));
    assert!(!failed);
    assert!(err.contains("not a partner"), "{err}");
    ok(&with(&["relationship", "managed-by", &id, "--clear"]));
    let list = ok(&with(&["relationship", "list", "--managed-by", "2"]));
    assert!(!list.contains("Globex Europe"), "{list}");
    ok(&with(&["relationship", "delete", &id]));
    let (failed, _, err) = cshost(&db, &with(&["relationship", "show", &id]));
    assert!(!failed);
    assert!(err.contains("no relationship"), "{err}");
}

#[test]
fn plans_ctas_and_shares_are_scoped_to_a_relationship() {
    use cs_host::model::{Audience, CtaType, Priority};
    use cs_host::{NewCta, NewPlan, PlanStatus, ShareRequest};
    let w = world();
    let acme = w.host.tenant("acme").unwrap().acting_as("csm@acme.example");
    let eu = acme
        .relationships()
        .add(NewRelationship::new(w.company, w.saas, "Globex EU").field("seats", 1i64))
        .unwrap();
    let initech = acme.companies().add(NewCompany::new("Initech")).unwrap();
    let plan = |relationship: Option<i64>, name: &str| {
        let id = acme
            .plans()
            .create(&NewPlan {
                company_id: w.company,
                relationship_id: relationship,
                name: name.into(),
                share_with_contacts: true,
                ..NewPlan::default()
            })
            .unwrap();
        acme.plans().set_status(id, PlanStatus::Active).unwrap();
        id
    };
    let eu_plan = plan(Some(eu), "EU rollout");
    let company_plan = plan(None, "Globex renewal");
    let cta = |plan_id: Option<i64>| NewCta {
        company_id: w.company,
        kind: CtaType::Risk,
        name: "Low usage".into(),
        priority: Priority::High,
        due_date: None,
        plan_id,
        objective_id: None,
    };
    // A CTA opened on the relationship, one in its plan (on it without asking), one on the
    // company only.
    let on_eu = acme.ctas().open_on_relationship(eu, &cta(None)).unwrap();
    let in_plan = acme.ctas().open(&cta(Some(eu_plan))).unwrap();
    let on_company = acme.ctas().open(&cta(None)).unwrap();
    let ids: Vec<i64> = acme
        .ctas()
        .of_relationship(eu)
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, [on_eu, in_plan]);
    assert!(
        acme.ctas()
            .list(w.company)
            .unwrap()
            .iter()
            .any(|c| c.id == on_company && c.relationship_id.is_none())
    );
    // A relationship of another company, or other than the plan's, is refused.
    let err = acme
        .ctas()
        .open_on_relationship(
            eu,
            &NewCta {
                company_id: initech,
                ..cta(None)
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("not to company"), "{err}");
    let other = acme
        .relationships()
        .add(NewRelationship::new(w.company, w.saas, "Globex US").field("seats", 1i64))
        .unwrap();
    let err = acme
        .ctas()
        .open_on_relationship(other, &cta(Some(eu_plan)))
        .unwrap_err();
    assert!(err.to_string().contains("is for relationship"), "{err}");
    let plans: Vec<i64> = acme
        .plans()
        .of_relationship(eu)
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(plans, [eu_plan]);

    // Shares: the relationship's view holds only its plans' recipients, the subject names the
    // relationship, and revoking by relationship leaves the company's other plans alone.
    acme.shares()
        .share(&ShareRequest::new(
            eu_plan,
            Audience::Contacts,
            ["ops@globex.example"],
        ))
        .unwrap();
    let outbox = acme.outbox().list(None).unwrap();
    assert!(
        outbox.iter().any(|m| m.recipient == "ops@globex.example"
            && m.subject == "EU rollout for Globex (Globex EU)"),
        "{outbox:?}"
    );
    acme.shares()
        .share(&ShareRequest::new(
            company_plan,
            Audience::Contacts,
            ["cfo@globex.example"],
        ))
        .unwrap();
    let view = acme.shares().of_relationship(eu).unwrap();
    let emails: Vec<&str> = view.iter().map(|r| r.email.as_str()).collect();
    assert_eq!(emails, ["ops@globex.example"]);
    assert_eq!(acme.shares().revoke_relationship(eu).unwrap(), 1);
    let states: Vec<(String, cs_host::LinkState)> = acme
        .shares()
        .list(None)
        .unwrap()
        .into_iter()
        .map(|r| (r.email, r.state))
        .collect();
    assert!(states.contains(&("ops@globex.example".into(), cs_host::LinkState::Revoked)));
    assert!(states.contains(&("cfo@globex.example".into(), cs_host::LinkState::Active)));
    assert!(
        acme.audit()
            .list()
            .unwrap()
            .iter()
            .any(|e| e.action == "share.revoke" && e.subject == format!("relationship:{eu}"))
    );

    // A relationship with plans or CTAs is not deleted from under them.
    let err = acme.relationships().delete(eu).unwrap_err();
    assert!(
        err.to_string().contains("1 success plan(s) and 2 CTA(s)"),
        "{err}"
    );
}

#[test]
fn the_cli_shows_and_shares_a_relationship_plan() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let ok = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--tenant", "acme"]);
        let (ok, out, err) = cshost(&db, &all);
        assert!(ok, "{args:?}: {err}");
        out.trim().to_owned()
    };
    let (created, _, err) = cshost(&db, &["tenant", "create", "acme", "--level", "both"]);
    assert!(created, "{err}");
    ok(&["company", "add", "Globex"]);
    ok(&["relationship-type", "add", "SaaS"]);
    let eu = ok(&[
        "relationship",
        "add",
        "--company",
        "1",
        "--type",
        "SaaS",
        "Globex EU",
    ]);
    let plan = ok(&[
        "plan",
        "create",
        "--company",
        "1",
        "--name",
        "EU rollout",
        "--relationship",
        &eu,
        "--contacts",
    ]);
    let cta = ok(&[
        "plan",
        "cta",
        "--company",
        "1",
        "--type",
        "risk",
        "--name",
        "Low usage",
        "--relationship",
        &eu,
    ]);
    assert!(!cta.is_empty());
    let shown = ok(&["plan", "show", &plan]);
    assert!(
        shown.contains("relationship 1 `Globex EU` (SaaS)"),
        "{shown}"
    );
    ok(&["plan", "activate", &plan]);
    ok(&[
        "share",
        "create",
        "--plan",
        &plan,
        "--contacts",
        "ops@globex.example",
    ]);
    let list = ok(&["share", "list", "--relationship", &eu]);
    assert!(list.contains("ops@globex.example"), "{list}");
    let revoked = ok(&["share", "revoke", "--relationship", &eu]);
    assert!(revoked.contains("1 link(s) revoked"), "{revoked}");
}

#[test]
fn the_commands_the_messages_ask_for_exist_and_the_smaller_seed_rules_hold() {
    use cs_host::model::{CtaType, Priority};
    use cs_host::{NewCta, NewPlan, NewTask, TaskOf};
    let w = world();
    let acme = w
        .host
        .tenant("acme")
        .unwrap()
        .acting_as("admin@acme.example");

    // Managed By on a company: the one-partner error says "clear it first", and clearing works.
    let customer = acme
        .companies()
        .add(NewCompany::new("Initech").managed_by(w.partner))
        .unwrap();
    let err = acme
        .companies()
        .set_managed_by(customer, Some(w.other_partner))
        .unwrap_err();
    assert!(err.to_string().contains("clear it first"), "{err}");
    acme.companies().set_managed_by(customer, None).unwrap();
    acme.companies()
        .set_managed_by(customer, Some(w.other_partner))
        .unwrap();

    // A company another partner manages is not tagged as a partner.
    let err = acme
        .partners()
        .tag(&[customer], Some(AccessScope::Both))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("a managed customer is not a partner"),
        "{err}"
    );
    assert!(
        acme.partners()
            .list()
            .unwrap()
            .iter()
            .all(|p| p.company.name != "Initech")
    );

    // Re-tagging a partner with another scope is refused, naming the command; the scope
    // command changes it.
    let err = acme
        .partners()
        .tag(&[w.partner], Some(AccessScope::CompanyRecords))
        .unwrap_err();
    assert!(err.to_string().contains("cshost partner scope"), "{err}");
    acme.partners()
        .set_scope(w.partner, Some(AccessScope::CompanyRecords))
        .unwrap();
    let scope = |id: i64| {
        acme.partners()
            .list()
            .unwrap()
            .into_iter()
            .find(|p| p.company.id == id.to_string())
            .map(|p| p.scope)
    };
    assert_eq!(scope(w.partner), Some(AccessScope::CompanyRecords));

    // Untagging: refused while the partner manages records, then a customer again.
    let rel = acme
        .relationships()
        .add(
            NewRelationship::new(w.company, w.saas, "Globex EU")
                .field("seats", 1i64)
                .managed_by(w.other_partner),
        )
        .unwrap();
    let err = acme.partners().untag(w.other_partner).unwrap_err();
    assert!(
        err.to_string()
            .contains("manages 1 company(ies) and 1 relationship(s)"),
        "{err}"
    );
    acme.companies().set_managed_by(customer, None).unwrap();
    acme.relationships().set_managed_by(rel, None).unwrap();
    acme.partners().untag(w.other_partner).unwrap();
    assert_eq!(scope(w.other_partner), None);
    assert!(
        acme.audit()
            .list()
            .unwrap()
            .iter()
            .any(|e| e.action == "partner.untag")
    );

    // Partners added by hand: the same name warns; the same name and external id is refused.
    let (_, report) = acme
        .partners()
        .add(
            NewCompany::new("bennett & co.").field("external_id", "P-9"),
            Some(AccessScope::Both),
        )
        .unwrap();
    assert!(
        report.warnings[0].contains("has the same name"),
        "{report:?}"
    );
    let err = acme
        .partners()
        .add(
            NewCompany::new("Bennett & Co.").field("external_id", "P-9"),
            Some(AccessScope::Both),
        )
        .unwrap_err();
    assert!(err.to_string().contains("it is the same company"), "{err}");

    // An objective goes internal again, and external.
    let plan = acme
        .plans()
        .create(&NewPlan {
            company_id: w.company,
            name: "Onboarding".into(),
            share_with_contacts: true,
            ..NewPlan::default()
        })
        .unwrap();
    let objective = acme
        .plans()
        .add_objective(plan, "Go live", None, None)
        .unwrap();
    acme.plans().set_objective_shared(objective, false).unwrap();
    assert!(!acme.plans().get(plan).unwrap().objectives[0].shared_externally);
    acme.plans().set_objective_shared(objective, true).unwrap();
    assert!(acme.plans().get(plan).unwrap().objectives[0].shared_externally);

    // A CTA's due date moves, checked against its tasks.
    let cta = acme
        .ctas()
        .open(&NewCta {
            company_id: w.company,
            kind: CtaType::Risk,
            name: "Kick-off".into(),
            priority: Priority::High,
            due_date: Date::new(2026, 3, 10),
            plan_id: None,
            objective_id: None,
        })
        .unwrap();
    let task = acme
        .plans()
        .add_task(
            TaskOf::Cta(cta),
            &NewTask {
                name: "Book the room".into(),
                owner: None,
                due_date: Date::new(2026, 3, 8),
            },
        )
        .unwrap();
    let err = acme.ctas().set_due(cta, Date::new(2026, 3, 5)).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "its task {task} `Book the room` is due 2026-03-08"
        )),
        "{message}"
    );
    acme.ctas().set_due(cta, Date::new(2026, 3, 8)).unwrap();
    let due = acme.ctas().list(w.company).unwrap()[0].due_date;
    assert_eq!(due, Date::new(2026, 3, 8));
    acme.ctas().set_due(cta, None).unwrap();
    assert_eq!(acme.ctas().list(w.company).unwrap()[0].due_date, None);
}

#[test]
fn a_draft_plan_can_be_shared_and_its_recipients_see_that_it_is_a_draft() {
    use cs_host::model::Audience;
    use cs_host::{Licence, NewPlan, Opened, PlanStatus, ShareRequest};
    let w = world();
    let acme = w.host.tenant("acme").unwrap().acting_as("csm@acme.example");
    acme.users()
        .add("vic@acme.example", "Vic", Licence::Full)
        .unwrap();
    let mut settings = acme.shares().settings().unwrap();
    settings.otp_required = false;
    acme.shares().set_settings(&settings).unwrap();
    let plan = acme
        .plans()
        .create(&NewPlan {
            company_id: w.company,
            name: "Onboarding".into(),
            ..NewPlan::default()
        })
        .unwrap();
    let receipt = acme
        .shares()
        .share(&ShareRequest::new(
            plan,
            Audience::Users,
            ["vic@acme.example"],
        ))
        .unwrap();
    match acme.links().open(&receipt.links[0].link).unwrap() {
        Opened::Plan(shared) => assert_eq!(shared.status, PlanStatus::Draft),
        Opened::CodeRequired => panic!("no code is required"),
    }
}

#[test]
fn the_cli_clears_managed_by_untags_rescopes_and_moves_a_cta() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--tenant", "acme"]);
        cshost(&db, &all)
    };
    let ok = |args: &[&str]| {
        let (ok, out, err) = run(args);
        assert!(ok, "{args:?}: {err}");
        (out.trim().to_owned(), err)
    };
    let (created, _, err) = cshost(&db, &["tenant", "create", "acme", "--level", "both"]);
    assert!(created, "{err}");
    ok(&["partner", "add", "Bennett & Co.", "--scope", "both"]);
    ok(&["partner", "add", "Northwind", "--scope", "both"]);
    let (_, warned) = ok(&["partner", "add", "northwind", "--scope", "both"]);
    assert!(
        warned.contains("warning: company 2 `Northwind`"),
        "{warned}"
    );
    ok(&["company", "add", "Globex", "--managed-by", "1"]);
    let (failed, _, err) = run(&["company", "managed-by", "4", "2"]);
    assert!(!failed && err.contains("clear it first"), "{err}");
    ok(&["company", "managed-by", "4", "--clear"]);
    ok(&["company", "managed-by", "4", "2"]);
    let (failed, _, err) = run(&["partner", "tag", "4", "--scope", "both"]);
    assert!(!failed && err.contains("not a partner"), "{err}");
    let (failed, _, err) = run(&["partner", "tag", "1", "--scope", "company"]);
    assert!(
        !failed && err.contains("cshost partner scope 1 company"),
        "{err}"
    );
    let (out, _) = ok(&["partner", "scope", "1", "company"]);
    assert!(out.contains("partner 1 has company access"), "{out}");
    let (failed, _, err) = run(&["partner", "untag", "2"]);
    assert!(!failed && err.contains("manages 1 company"), "{err}");
    ok(&["partner", "untag", "3"]);
    let (list, _) = ok(&["partner", "list"]);
    assert!(!list.contains("northwind"), "{list}");

    let (cta, _) = ok(&[
        "plan",
        "cta",
        "--company",
        "4",
        "--type",
        "risk",
        "--name",
        "Kick-off",
        "--due",
        "2026-03-10",
    ]);
    ok(&[
        "plan",
        "task",
        "--cta",
        &cta,
        "--name",
        "Book",
        "--due",
        "2026-03-08",
    ]);
    let (failed, _, err) = run(&["plan", "cta-due", &cta, "2026-03-01"]);
    assert!(!failed && err.contains("is due 2026-03-08"), "{err}");
    let (out, _) = ok(&["plan", "cta-due", &cta, "2026-03-09"]);
    assert!(out.contains("is due 2026-03-09"), "{out}");
    let (plan, _) = ok(&[
        "plan",
        "create",
        "--company",
        "4",
        "--name",
        "P",
        "--contacts",
    ]);
    let (objective, _) = ok(&["plan", "objective", "--plan", &plan, "--name", "Go live"]);
    let (out, _) = ok(&["plan", "objective-sharing", &objective, "internal"]);
    assert!(out.contains("internal"), "{out}");
    let (shown, _) = ok(&["plan", "show", &plan]);
    assert!(shown.contains("(open, internal"), "{shown}");
}

/// The relationships CSV of the import tests: two good rows (one by the company's name, one by
/// its external id), then an unknown company, an unknown type, another type's field, and a
/// required field left empty.
const RELATIONSHIPS_CSV: &str = "\
Relationship ID,Name,Company,Type,Seats,Go Live,Servers,Managed By,ARR
R-1,Globex EU,Globex,SaaS,250,2026-03-01,,Bennett & Co.,90000
,Initech Plant,C-2,On-premise,,,4,,
R-3,Lost,Umbrella,SaaS,5,,,,
R-4,Mystery,Globex,Hosting,5,,,,
R-5,Wrong,Globex,saas,5,,3,,
R-6,Seatless,Globex,SaaS,,,,,
";

/// [`world`] with a second company (external id `C-2`), an `On-premise` type with a
/// `servers` number, and a `notes` text field on both types (which the `row-object` field
/// mapper writes).
fn import_world() -> (World, i64) {
    let w = world();
    let acme = w
        .host
        .tenant("acme")
        .unwrap()
        .acting_as("admin@acme.example");
    let initech = acme
        .companies()
        .add(NewCompany::new("Initech").field("external_id", "C-2"))
        .unwrap();
    acme.relationship_types().add("On-premise").unwrap();
    acme.relationship_types()
        .define_field("On-premise", "servers", FieldType::Number, false)
        .unwrap();
    for kind in ["SaaS", "On-premise"] {
        acme.relationship_types()
            .define_field(kind, "notes", FieldType::Text, false)
            .unwrap();
    }
    (w, initech)
}

#[test]
fn relationships_import_from_csv_with_a_field_mapper_row_errors_a_dry_run_and_no_duplicates() {
    let (w, initech) = import_world();
    let acme = w
        .host
        .tenant("acme")
        .unwrap()
        .acting_as("admin@acme.example");
    w.host
        .install_plugin(&support::plugin_bytes("row-object"), "admin@acme.example")
        .unwrap();
    acme.plugins()
        .enable("row-object", EnableOptions::default())
        .unwrap();
    let csv = RELATIONSHIPS_CSV.as_bytes();

    // A dry run reports what would happen and writes nothing.
    let options = ImportOptions::relationships();
    let dry = acme
        .imports()
        .bytes("relationships.csv", csv, &options.clone().dry_run(true))
        .unwrap();
    assert_eq!(dry.id, None);
    assert_eq!(
        (dry.rows, dry.created, dry.updated, dry.failed),
        (6, 2, 0, 4),
        "{:?}",
        dry.errors
    );
    assert!(acme.relationships().list(None).unwrap().is_empty());

    let job = acme
        .imports()
        .bytes("relationships.csv", csv, &options)
        .unwrap();
    assert_eq!(
        (job.rows, job.created, job.updated, job.failed),
        (6, 2, 0, 4),
        "{:?}",
        job.errors
    );
    assert_eq!(job.target.to_string(), "relationships");
    // Each row error names its row, the column and the field at fault.
    let at: Vec<(u64, Option<&str>, Option<&str>)> = job
        .errors
        .iter()
        .map(|e| (e.row, e.column.as_deref(), e.field.as_deref()))
        .collect();
    assert_eq!(
        at,
        [
            (3, Some("Company"), Some("company")),
            (4, Some("Type"), Some("type")),
            (5, Some("Servers"), Some("servers")),
            (6, Some("Seats"), Some("seats")),
        ]
    );
    assert!(job.errors.iter().all(|e| e.outcome == RowErrorKind::Failed));
    let reasons: Vec<&str> = job.errors.iter().map(|e| e.reason.as_str()).collect();
    assert!(
        reasons[0].contains("no company `Umbrella`"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[1].contains("no relationship type `Hosting`")
            && reasons[1].contains("On-premise, SaaS"),
        "{}",
        reasons[1]
    );
    assert!(
        reasons[2].contains("not a field of relationship type `SaaS`"),
        "{}",
        reasons[2]
    );
    assert!(reasons[3].contains("`seats` is required"), "{}", reasons[3]);

    // The rows went in with their company, type, type fields and Managed By; the field mapper
    // learnt that the rows were relationships, and saw each row's type.
    let all = acme.relationships().list(None).unwrap();
    assert_eq!(all.len(), 2);
    let eu = all.iter().find(|r| r.name == "Globex EU").unwrap();
    assert_eq!(
        (eu.company_id, eu.type_id, eu.managed_by),
        (w.company, w.saas, Some(w.partner))
    );
    assert_eq!(eu.fields["seats"], FieldValue::Number(250.0));
    assert_eq!(eu.fields["arr"], FieldValue::Number(90_000.0));
    assert_eq!(
        eu.fields["go_live"],
        FieldValue::Date(Date::new(2026, 3, 1).unwrap())
    );
    assert_eq!(eu.fields["external_id"], FieldValue::from("R-1"));
    assert_eq!(
        eu.fields["notes"],
        FieldValue::from("relationship: Globex EU (SaaS)")
    );
    let plant = all.iter().find(|r| r.name == "Initech Plant").unwrap();
    assert_eq!(
        (plant.company_id, plant.type_name.as_str()),
        (initech, "On-premise")
    );
    assert_eq!(plant.fields["servers"], FieldValue::Number(4.0));

    // Running the file again updates the same relationships: R-1 by its external id, the plant
    // by its natural key (company, type, name).
    let again = acme
        .imports()
        .bytes("relationships.csv", csv, &options)
        .unwrap();
    assert_eq!(
        (again.created, again.updated, again.failed),
        (0, 2, 4),
        "{:?}",
        again.errors
    );
    let changed = "Name,Company,Type,Servers\ninitech plant,Initech,on-premise,6\n";
    let job = acme
        .imports()
        .bytes("plant.csv", changed.as_bytes(), &options)
        .unwrap();
    assert_eq!((job.created, job.updated), (0, 1), "{:?}", job.errors);
    let all = acme.relationships().list(None).unwrap();
    assert_eq!(all.len(), 2);
    let plant = all.iter().find(|r| r.id == plant.id).unwrap();
    assert_eq!(plant.name, "initech plant");
    assert_eq!(plant.fields["servers"], FieldValue::Number(6.0));
    // The field mapper saw the type as the row spells it.
    assert_eq!(
        plant.fields["notes"],
        FieldValue::from("relationship: initech plant (on-premise)")
    );

    // An external id names one relationship: it cannot move to another type.
    let moved = "ID,Name,Company,Type,Servers\nR-1,Globex EU,Globex,On-premise,2\n";
    let job = acme
        .imports()
        .bytes("moved.csv", moved.as_bytes(), &options)
        .unwrap();
    assert_eq!(job.failed, 1);
    assert_eq!(job.errors[0].column.as_deref(), Some("ID"));
    assert!(
        job.errors[0].reason.contains("type cannot change"),
        "{}",
        job.errors[0].reason
    );
}

#[test]
fn a_relationship_import_needs_name_company_and_type_mapped_and_keeps_the_size_limit() {
    let (w, _) = import_world();
    let acme = w
        .host
        .tenant("acme")
        .unwrap()
        .acting_as("admin@acme.example");
    let options = ImportOptions::relationships();
    let err = acme
        .imports()
        .bytes("r.csv", b"Name,Type\nGlobex EU,SaaS\n", &options)
        .unwrap_err();
    assert!(err.to_string().contains("Company is not mapped"), "{err}");
    let err = acme
        .imports()
        .bytes("r.csv", b"Name,Company\nGlobex EU,Globex\n", &options)
        .unwrap_err();
    assert!(err.to_string().contains("Type is not mapped"), "{err}");
    // An explicit mapping names the columns; an unknown target field lists the fields.
    let mapping = Mapping::new()
        .map("Product", "name")
        .map("Customer", "company")
        .map("Kind", "kind");
    let err = acme
        .imports()
        .bytes(
            "r.csv",
            b"Product,Customer,Kind\nGlobex EU,Globex,SaaS\n",
            &options.clone().mapping(mapping),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("unknown target field `kind`")
            && err.to_string().contains("`type`"),
        "{err}"
    );
    let mapping = Mapping::new()
        .map("Product", "name")
        .map("Customer", "company")
        .map("Kind", "type")
        .map("Seats", "seats");
    let job = acme
        .imports()
        .bytes(
            "r.csv",
            b"Product,Customer,Kind,Seats\nGlobex EU,Globex,SaaS,3\n",
            &options.clone().mapping(mapping),
        )
        .unwrap();
    assert_eq!(job.created, 1, "{:?}", job.errors);

    // The sample CSV maps itself: a row of each type, another type's columns left empty.
    let sample = acme
        .imports()
        .sample_csv(ImportTarget::Relationships)
        .unwrap();
    let header = sample.lines().next().unwrap();
    assert!(
        header.starts_with("Name,Company,Type,External ID,Status,ARR,Renewal Date,")
            && header.ends_with(",Managed By"),
        "{sample}"
    );
    acme.companies()
        .add(NewCompany::new("Aurora Logistics"))
        .unwrap();
    acme.companies()
        .add(NewCompany::new("Kiwi Health").field("external_id", "C-0002"))
        .unwrap();
    let job = acme
        .imports()
        .bytes("sample.csv", sample.as_bytes(), &options)
        .unwrap();
    assert_eq!(
        (job.created, job.failed),
        (2, 0),
        "{sample}\n{:?}",
        job.errors
    );

    // The tenant's size limit holds for relationship files too.
    acme.imports().set_size_limit(10).unwrap();
    let err = acme
        .imports()
        .bytes("big.csv", RELATIONSHIPS_CSV.as_bytes(), &options)
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::FileTooLarge { .. }),
        "{err}"
    );
}

#[test]
fn the_cli_imports_relationships_and_field_mappers_learn_the_rows_object() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let ok = |args: &[&str]| {
        let (ok, out, err) = cshost(&db, args);
        assert!(ok, "{args:?}: {err}");
        out
    };
    ok(&["tenant", "create", "acme", "--level", "both"]);
    let t = ["--tenant", "acme"];
    let with =
        |args: &[&str]| -> Vec<String> { args.iter().chain(&t).map(|s| s.to_string()).collect() };
    let run = |args: &[&str]| {
        let args = with(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&args)
    };
    run(&["company", "add", "Globex"]);
    run(&["company", "add", "Initech", "--field", "external_id=C-2"]);
    run(&["partner", "add", "Bennett & Co.", "--scope", "both"]);
    run(&["relationship-type", "add", "SaaS"]);
    run(&["relationship-type", "add", "On-premise"]);
    run(&[
        "relationship-type",
        "field",
        "--type",
        "SaaS",
        "seats",
        "number",
        "--required",
    ]);
    run(&[
        "relationship-type",
        "field",
        "--type",
        "SaaS",
        "go_live",
        "date",
    ]);
    run(&[
        "relationship-type",
        "field",
        "--type",
        "On-premise",
        "servers",
        "number",
    ]);
    for kind in ["SaaS", "On-premise"] {
        run(&[
            "relationship-type",
            "field",
            "--type",
            kind,
            "notes",
            "text",
        ]);
    }
    let wasm = support::plugin_path("row-object");
    ok(&["plugin", "install", wasm.to_str().unwrap()]);
    ok(&["tenant", "enable", "acme", "row-object"]);
    let sample = run(&["relationship", "sample-csv"]);
    assert!(
        sample.contains("Aurora EU,Aurora Logistics,On-premise"),
        "{sample}"
    );
    let file = dir.path().join("relationships.csv");
    std::fs::write(&file, RELATIONSHIPS_CSV).unwrap();
    let file = file.to_str().unwrap();

    // Rows fail: an import exits 3 and prints each row error with its column.
    let import = |extra: &[&str]| {
        let mut args = vec!["--db", db.to_str().unwrap(), "relationship", "import", file];
        args.extend_from_slice(extra);
        args.extend_from_slice(&t);
        let out = support::cshost(args);
        let printed = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(3), "{printed}");
        printed
    };
    let out = import(&["--dry-run"]);
    assert!(
        out.contains("dry run (nothing written): completed relationships"),
        "{out}"
    );
    assert!(
        out.contains("6 rows, 2 created, 0 updated, 0 skipped, 4 failed"),
        "{out}"
    );
    assert!(run(&["relationship", "list"]).lines().count() == 1);
    let printed = import(&[]);
    assert!(printed.contains("2 created"), "{printed}");
    assert!(
        printed.contains(
            "failed: row 3, column `Company`, field `company`: there is no company `Umbrella`"
        ),
        "{printed}"
    );
    assert!(printed.contains("row 4, column `Type`"), "{printed}");
    let list = run(&["relationship", "list", "--company", "Initech"]);
    assert!(
        list.contains("On-premise") && list.contains("Initech Plant"),
        "{list}"
    );
    let shown = run(&["relationship", "show", "1"]);
    assert!(
        shown.contains("notes: relationship: Globex EU (SaaS)"),
        "{shown}"
    );
    // Again: updated, not duplicated.
    let again = import(&[]);
    assert!(again.contains("0 created, 2 updated"), "{again}");
    let list = run(&["relationship", "list"]);
    assert_eq!(list.lines().count(), 3, "{list}");

    // `plugin run` takes the object in the hook's JSON input, as the import tells it; without
    // one, the plugin is told nothing.
    let input = dir.path().join("rows.json");
    for (object, expect) in [
        (Some("relationship"), "relationship: Globex EU (SaaS)"),
        (None, "none: Globex EU (SaaS)"),
    ] {
        let mut json = serde_json::json!({
            "rows": [{"fields": {"name": "Globex EU", "type": "SaaS", "notes": null}}]
        });
        if let Some(object) = object {
            json["object"] = serde_json::json!(object);
        }
        std::fs::write(&input, json.to_string()).unwrap();
        let out = ok(&[
            "plugin",
            "run",
            wasm.to_str().unwrap(),
            "--hook",
            "csv-row-mapped",
            "--input",
            input.to_str().unwrap(),
        ]);
        assert!(out.contains(expect), "{out}");
    }
}

#[test]
fn a_field_mapper_setting_a_field_the_rows_type_lacks_is_named_with_the_command_that_adds_it() {
    let w = world();
    let acme = w
        .host
        .tenant("acme")
        .unwrap()
        .acting_as("admin@acme.example");
    w.host
        .install_plugin(&support::plugin_bytes("row-object"), "admin@acme.example")
        .unwrap();
    acme.plugins()
        .enable("row-object", EnableOptions::default())
        .unwrap();
    // row-object writes `notes`, which the SaaS type does not have.
    let csv = "Name,Company,Type,Seats\nGlobex EU,Globex,SaaS,3\n";
    let options = ImportOptions::relationships();
    let job = acme
        .imports()
        .bytes("r.csv", csv.as_bytes(), &options)
        .unwrap();
    assert_eq!((job.created, job.failed), (0, 1), "{job:?}");
    let error = &job.errors[0];
    assert_eq!(error.plugin.as_deref(), Some("row-object"));
    assert_eq!(error.field.as_deref(), Some("notes"));
    assert!(
        error.reason.contains("cshost relationship-type field"),
        "{}",
        error.reason
    );
    // Once the type has the field, the row goes in.
    acme.relationship_types()
        .define_field("SaaS", "notes", FieldType::Text, false)
        .unwrap();
    let job = acme
        .imports()
        .bytes("r.csv", csv.as_bytes(), &options)
        .unwrap();
    assert_eq!((job.created, job.failed), (1, 0), "{job:?}");
}

#[test]
fn relationship_and_type_names_that_differ_only_in_non_ascii_case_are_one_name() {
    let w = world();
    let acme = w
        .host
        .tenant("acme")
        .unwrap()
        .acting_as("admin@acme.example");
    let doctors = acme.relationship_types().add("Ärzte-Netz").unwrap();
    let taken = acme.relationship_types().add("ärzte-netz").unwrap_err();
    assert!(taken.to_string().contains("exists already"), "{taken}");
    let school = acme.relationship_types().add("École").unwrap();
    let taken = acme
        .relationship_types()
        .rename("école", "ÄRZTE-NETZ")
        .unwrap_err();
    assert!(taken.to_string().contains("exists already"), "{taken}");
    let found = |key: &str| acme.relationship_types().get(key).unwrap().map(|t| t.id);
    assert_eq!(found("ÄRZTE-NETZ"), Some(doctors));
    assert_eq!(found("ÉCOLE"), Some(school));

    // An import finds the type, and the relationship by its natural key, in any case.
    let options = ImportOptions::relationships();
    let first = "Name,Company,Type\nÄrzte EU,Globex,ärzte-netz\nStraße,Globex,École\n";
    let job = acme
        .imports()
        .bytes("1.csv", first.as_bytes(), &options)
        .unwrap();
    assert_eq!((job.created, job.failed), (2, 0), "{:?}", job.errors);
    let again = "Name,Company,Type\närzte eu,Globex,ÄRZTE-NETZ\nSTRASSE,Globex,ÉCOLE\n";
    for dry_run in [true, false] {
        let job = acme
            .imports()
            .bytes("2.csv", again.as_bytes(), &options.clone().dry_run(dry_run))
            .unwrap();
        assert_eq!(
            (job.created, job.updated, job.failed),
            (0, 2, 0),
            "dry run {dry_run}: {:?}",
            job.errors
        );
    }
    let mut names: Vec<String> = acme
        .relationships()
        .list(Some(w.company))
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    names.sort();
    assert_eq!(names, ["STRASSE", "ärzte eu"]);
}

#[test]
fn an_empty_external_id_cell_keeps_the_external_id_of_the_relationship_its_name_matches() {
    let w = world();
    let acme = w
        .host
        .tenant("acme")
        .unwrap()
        .acting_as("admin@acme.example");
    let options = ImportOptions::relationships();
    let first = "ID,Name,Company,Type,Seats\nR-1,Globex EU,Globex,SaaS,10\n";
    let job = acme
        .imports()
        .bytes("1.csv", first.as_bytes(), &options)
        .unwrap();
    assert_eq!(job.created, 1, "{:?}", job.errors);
    // The same relationship by its natural key, its ID cell empty.
    let again = "ID,Name,Company,Type,Seats\n,GLOBEX EU,Globex,SaaS,20\n";
    for dry_run in [true, false] {
        let job = acme
            .imports()
            .bytes("2.csv", again.as_bytes(), &options.clone().dry_run(dry_run))
            .unwrap();
        assert_eq!((job.created, job.updated), (0, 1), "{:?}", job.errors);
    }
    let all = acme.relationships().list(None).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].fields["external_id"], FieldValue::from("R-1"));
    assert_eq!(all[0].fields["seats"], FieldValue::Number(20.0));
    // So its external id still finds it.
    let by_id = "ID,Name,Company,Type,Seats\nR-1,Renamed,Globex,SaaS,30\n";
    let job = acme
        .imports()
        .bytes("3.csv", by_id.as_bytes(), &options)
        .unwrap();
    assert_eq!((job.created, job.updated), (0, 1), "{:?}", job.errors);
}
