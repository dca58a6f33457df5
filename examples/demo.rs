//! The end-to-end demo: every example plugin runs through the host on sample input, and a hostile
//! plugin is stopped while the host goes on serving.
//!
//! Run it with `make demo`, which builds the plugins from source first.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cs_host::model::{Company, Fields, ManagedAs, Notification, Partner, ShareEvent};
use cs_host::{Capability, Limits, Plugin, PluginContext, PluginRuntime, RuntimeConfig};
use cs_host::{RowOutcome, StaticDirectory};

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("host/ has a parent")?;
    let plugins = plugin_dir(root);
    let inputs = root.join("examples").join("plugin-inputs");
    let runtime = PluginRuntime::new(
        RuntimeConfig::default().cache_dir(root.join("target").join("demo-compile-cache")),
    )?;
    let load = |name: &str| -> anyhow::Result<Plugin> {
        let path = plugins.join(format!("{}.wasm", name.replace('-', "_")));
        let plugin = runtime
            .load_file(&path)
            .with_context(|| format!("run `make plugins` first ({})", path.display()))?;
        let m = plugin.manifest();
        println!(
            "\n== {} {} ({}): {}",
            m.name,
            m.version,
            m.extension_points
                .iter()
                .map(|p| p.hook())
                .collect::<Vec<_>>()
                .join(", "),
            m.description
        );
        Ok(plugin)
    };

    // The CSV row mapped hook: normalise partner rows before they are written.
    let normalize = load("normalize-partner")?;
    let rows: serde_json::Value = read_json(&inputs.join("normalize-partner.json"))?;
    let mut instance = normalize.instantiate(&PluginContext::new("acme"));
    let fields = ["name", "email", "website", "country", "region"].map(String::from);
    instance.begin_rows(&[], &fields)?;
    for row in rows["rows"].as_array().context("rows")? {
        let number = row["number"].as_u64().unwrap_or(0);
        let values = fields
            .iter()
            .map(|f| serde_json::from_value(row["fields"][f].clone()).unwrap_or_default())
            .collect::<Vec<_>>();
        match instance.map_row(number, &[], &values)? {
            RowOutcome::Keep(changed) => println!("  row {number}: keep {}", show(&changed)),
            RowOutcome::Skip(reason) => println!("  row {number}: skip ({reason})"),
            RowOutcome::Reject { field, message } => {
                println!("  row {number}: error in column `{field}`: {message}")
            }
        }
    }
    let cost = instance.last_call();
    println!(
        "  last row: {} fuel, {} µs",
        cost.fuel_used.unwrap_or(0),
        cost.wall_time.as_micros()
    );

    // A criteria filter: the tier thresholds come from the tenant's config.
    let arr_tier = load("arr-tier")?;
    let input: serde_json::Value = read_json(&inputs.join("arr-tier.json"))?;
    let arguments: Fields = serde_json::from_value(input["arguments"].clone())?;
    let companies: Vec<Company> = serde_json::from_value(input["companies"].clone())?;
    let context = PluginContext::new("acme").config("tiers", "silver=50000..400000,gold=400000..");
    let answers = arr_tier
        .instantiate(&context)
        .matches(&arguments, &companies)?;
    for (company, matched) in companies.iter().zip(answers) {
        let verdict = if matched { "matches" } else { "-" };
        println!("  {:<34} {verdict}", company.name);
    }

    // The plan shared hook: the notifier decides who hears about the share, and how.
    let digest = load("share-digest")?;
    let input: serde_json::Value = read_json(&inputs.join("share-digest.json"))?;
    let event: ShareEvent = serde_json::from_value(input["event"].clone())?;
    let planned: Vec<Notification> = serde_json::from_value(input["planned"].clone())?;
    let sent = digest
        .instantiate(&PluginContext::new("acme"))
        .on_plan_shared(&event, &planned)?;
    for n in &sent {
        println!("  {:?} to {}: {}", n.channel, n.recipient, n.subject);
    }

    // The partner created hook: the lifecycle plugin asks for a CTA and a welcome.
    let welcome = load("partner-welcome")?;
    let input: serde_json::Value = read_json(&inputs.join("partner-welcome.json"))?;
    let partner: Partner = serde_json::from_value(input["partner"].clone())?;
    for action in welcome
        .instantiate(&PluginContext::new("acme"))
        .on_partner_created(&partner)?
    {
        println!("  {}", serde_json::to_string(&action)?);
    }

    // Untrusted code: each hostile plugin ends in its typed error, within its limits.
    println!("\n== hostile plugins, each stopped by the sandbox");
    let limits = Limits::default()
        .deadline(Duration::from_millis(200))
        .memory(16 << 20);
    let hostile = PluginContext::new("acme").limits(limits);
    let probe_row = |plugin: &Plugin| {
        let mut instance = plugin.instantiate(&hostile);
        instance
            .begin_rows(&[], &fields)
            .and_then(|()| instance.map_row(2, &[], &[]))
            .err()
    };
    for name in ["spin", "memory-bomb", "recursion", "panic", "huge-output"] {
        let plugin = load(name)?;
        match probe_row(&plugin) {
            Some(error) => println!("  stopped: [{}] {error}", error.code()),
            None => println!("  {name} was not stopped"),
        }
    }
    // A look-up the admin did not grant ends in the typed capability error; granted, it works.
    let probe = load("lookup-probe")?;
    let directory = Arc::new(StaticDirectory::new(vec![Company {
        id: event.customer_id.clone(),
        name: event.customer_name.clone(),
        managed_as: ManagedAs::Customer,
        managed_by: None,
        fields: Fields::new(),
    }]));
    let ungranted = PluginContext::new("acme").companies(directory.clone());
    if let Err(error) = probe.instantiate(&ungranted).on_plan_shared(&event, &[]) {
        println!("  stopped: [{}] {error}", error.code());
    }
    let granted = ungranted.grant(Capability::ReadCompanies);
    let found = probe.instantiate(&granted).on_plan_shared(&event, &[])?;
    if let Some(n) = found.first() {
        println!(
            "  granted read-companies, the same look-up finds `{}`",
            n.body
        );
    }
    for name in ["sockets", "no-extension"] {
        let path = plugins.join(format!("{}.wasm", name.replace('-', "_")));
        match runtime.load_file(&path) {
            Ok(_) => println!("  {name} was installed"),
            Err(error) => println!("  refused at install: [{}] {error}", error.code()),
        }
    }

    // After all that, a good plugin still serves the next call normally.
    let mut instance = normalize.instantiate(&PluginContext::new("acme"));
    instance.begin_rows(&[], &fields)?;
    let values = ["  after the storm ", "ok@example.com", "", "", ""].map(Into::into);
    println!(
        "\n== and the host goes on: normalize-partner maps `  after the storm ` to {:?}",
        instance.map_row(2, &[], &values)?
    );

    onboarding_demo(root, &plugins)?;
    sharing_demo(root, &plugins)?;
    relationships_demo()?;
    Ok(())
}

/// Relationships: an admin's types with their own fields, relationships managed by a partner,
/// a plan and a CTA on one, and the commands the one-partner and CTA messages ask for.
fn relationships_demo() -> anyhow::Result<()> {
    use cs_host::model::{AccessScope, CtaType, Date, Priority};
    use cs_host::{
        FieldType, Host, HostConfig, ImportOptions, NewCompany, NewCta, NewPlan, NewRelationship,
        NewTask, TaskOf, TenantLevel,
    };
    println!("\n== relationships: types, a CSV import, Managed By, plans and CTAs on one");
    let host = Host::open_in_memory(HostConfig::default())?;
    host.create_tenant("acme", "Acme", TenantLevel::Both)?;
    // Operations run as one of the tenant's users: its admin.
    host.tenant("acme")?
        .access()
        .add_admin("admin@acme.example", "Ada")?;
    let acme = host.tenant("acme")?.acting_as("admin@acme.example");
    let globex = acme.companies().add(NewCompany::new("Globex"))?;
    let (bennett, _) = acme.partners().add(
        NewCompany::new("Bennett & Co."),
        Some(AccessScope::RelationshipRecords),
    )?;
    let (northwind, _) = acme
        .partners()
        .add(NewCompany::new("Northwind"), Some(AccessScope::Both))?;
    let saas = acme.relationship_types().add("SaaS subscription")?;
    acme.relationship_types().define_field(
        "SaaS subscription",
        "seats",
        FieldType::Number,
        true,
    )?;
    let on_prem = acme.relationship_types().add("On-premise")?;
    acme.relationship_types()
        .define_field("On-premise", "servers", FieldType::Number, false)?;
    for t in acme.relationship_types().list()? {
        let fields: Vec<String> = t.fields.iter().map(|f| f.name.clone()).collect();
        println!("  type {} `{}`: fields {}", t.id, t.name, fields.join(", "));
    }
    let eu = acme.relationships().add(
        NewRelationship::new(globex, saas, "Globex EU")
            .field("seats", 250i64)
            .managed_by(bennett),
    )?;
    acme.relationships()
        .add(NewRelationship::new(globex, on_prem, "Globex data centre").field("servers", 12i64))?;
    match acme
        .relationships()
        .add(NewRelationship::new(globex, saas, "Globex US"))
    {
        Err(e) => println!("  refused: {e}"),
        Ok(id) => anyhow::bail!("relationship {id} added without its required seats"),
    }
    for r in acme.relationships().list(Some(globex))? {
        println!(
            "  relationship {} `{}` ({}), managed by {:?}",
            r.id, r.name, r.type_name, r.managed_by
        );
    }
    // Relationships from CSV: companies by name or external id, each row's fields checked
    // against its type, row errors naming the column; a second run updates, never duplicates.
    acme.companies()
        .add(NewCompany::new("Aurora Logistics").field("external_id", "C-1001"))?;
    acme.companies()
        .add(NewCompany::new("Kiwi Health Ltd").field("external_id", "C-1002"))?;
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/relationships.csv");
    for run in ["dry run", "import", "again"] {
        let options = ImportOptions::relationships().dry_run(run == "dry run");
        let job = acme.imports().file(&csv, &options)?;
        println!(
            "  {run}: {} rows, {} created, {} updated, {} failed",
            job.rows, job.created, job.updated, job.failed
        );
        if run == "import" {
            for e in &job.errors {
                let column = e.column.as_deref().unwrap_or("-");
                println!("    row {}, column `{column}`: {}", e.row, e.reason);
            }
        }
    }

    // The one-partner rule, and the command its message asks for.
    if let Err(e) = acme.relationships().set_managed_by(eu, Some(northwind)) {
        println!("  refused: {e}");
    }
    acme.relationships().set_managed_by(eu, None)?;
    acme.relationships().set_managed_by(eu, Some(northwind))?;
    let managed: Vec<String> = acme
        .relationships()
        .managed_by(northwind)?
        .into_iter()
        .map(|r| r.name)
        .collect();
    println!("  cleared, then given to Northwind, which now manages: {managed:?}");

    // A plan on the relationship, a CTA in it (on the relationship too), and its due date.
    let plan = acme.plans().create(&NewPlan {
        company_id: globex,
        relationship_id: Some(eu),
        name: "EU rollout".into(),
        ..NewPlan::default()
    })?;
    let cta = acme.ctas().open(&NewCta {
        company_id: globex,
        kind: CtaType::Lifecycle,
        name: "Kick-off".into(),
        priority: Priority::High,
        due_date: Date::new(2026, 3, 10),
        plan_id: Some(plan),
        objective_id: None,
    })?;
    acme.plans().add_task(
        TaskOf::Cta(cta),
        &NewTask {
            name: "Book the room".into(),
            owner: None,
            due_date: Date::new(2026, 3, 12),
        },
    )?;
    if let Err(e) = acme.ctas().set_due(cta, Date::new(2026, 3, 1)) {
        println!("  refused: {e}");
    }
    acme.ctas().set_due(cta, Date::new(2026, 3, 12))?;
    let ctas = acme.ctas().of_relationship(eu)?;
    println!(
        "  plan {plan} and CTA {cta} are on relationship {eu}; the CTA is due {}",
        ctas[0].due_date.map(|d| d.to_string()).unwrap_or_default()
    );
    Ok(())
}

/// Where `make plugins` puts the built components.
fn plugin_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("wasm32-wasip2")
        .join("release")
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))
}

fn show(fields: &Fields) -> String {
    serde_json::to_string(fields).unwrap_or_default()
}

/// Sharing a success plan with a user and with a contact, with `share-digest` enabled, and the
/// messages that went out.
fn sharing_demo(root: &Path, plugins: &Path) -> anyhow::Result<()> {
    use cs_host::model::{Audience, Date};
    use cs_host::{
        EnableOptions, FileMailbox, Host, HostConfig, Licence, NewCompany, NewPlan, NewTask,
        Opened, PlanStatus, SharePermission, ShareRequest, ShareTo, TaskOf, TaskUpdate,
        TenantLevel,
    };

    println!("\n== sharing a success plan, with share-digest enabled");
    let dir = tempfile::tempdir()?;
    let config = HostConfig::default().runtime(
        RuntimeConfig::default().cache_dir(root.join("target").join("demo-compile-cache")),
    );
    let host = Host::open(dir.path().join("demo.db"), config)?;
    let digest = std::fs::read(plugins.join("share_digest.wasm"))?;
    host.install_plugin(&digest, "admin@platform.example")?;
    host.create_tenant("acme", "Acme", TenantLevel::Both)?;
    // The customer success manager runs the tenant: a tenant admin.
    host.tenant("acme")?
        .access()
        .add_admin("csm@acme.example", "Cem")?;
    let tenant = host.tenant("acme")?.as_user("csm@acme.example")?;
    tenant
        .plugins()
        .enable("share-digest", EnableOptions::new())?;
    tenant
        .users()
        .add("vic@acme.example", "Vic Viewer", Licence::Viewer)?;
    let globex = tenant.companies().add(NewCompany::new("Globex"))?;
    let plan = tenant.plans().create(&NewPlan {
        company_id: globex,
        name: "Onboarding".into(),
        share_with_contacts: true,
        ..NewPlan::default()
    })?;
    let go_live = tenant.plans().add_objective(
        plan,
        "Go live on the portal",
        Date::new(2026, 3, 31),
        None,
    )?;
    let training = tenant.plans().add_task(
        TaskOf::Objective(go_live),
        &NewTask {
            name: "Train the admins".into(),
            owner: Some("pat@globex.example".into()),
            due_date: None,
        },
    )?;
    tenant
        .plans()
        .add_objective(plan, "Renewal pricing", None, Some(false))?;
    tenant.plans().set_status(plan, PlanStatus::Active)?;

    let mut contact_link = String::new();
    for (audience, email) in [
        (Audience::Users, "vic@acme.example"),
        (Audience::Contacts, "pat@globex.example"),
    ] {
        // The contact may update their tasks; the Viewer user only views.
        let receipt = tenant.shares().share(&ShareRequest {
            note: Some("Kick-off is on Monday.".into()),
            recipients: vec![ShareTo {
                permission: SharePermission::Update,
                ..ShareTo::email(email)
            }],
            ..ShareRequest::new(plan, audience, [])
        })?;
        println!("  shared with {email}: {}", receipt.notifications);
        contact_link = receipt.links[0].link.clone();
    }
    // The contact opens their link: first a one-time code, by email.
    if tenant.links().open(&contact_link)? == Opened::CodeRequired {
        tenant.links().request_otp(&contact_link)?;
        // The outbox keeps the code sealed: it is readable only in the delivered email.
        let mailbox = FileMailbox::new(dir.path().join("mailbox"));
        host.deliver_outbox(&mailbox, 100)?;
        let code = tenant
            .outbox()
            .list(None)?
            .into_iter()
            .rfind(|m| m.kind == "otp")
            .and_then(|m| std::fs::read_to_string(mailbox.path_of(&m)).ok())
            .and_then(|email| {
                let line = email.lines().find(|l| l.contains("code is"))?;
                let digits = line.split(|c: char| !c.is_ascii_digit());
                digits.into_iter().find(|w| w.len() == 6).map(str::to_owned)
            })
            .context("the code email")?;
        let session = tenant.links().start_session(&contact_link, &code)?;
        let names: Vec<&str> = session
            .plan
            .objectives
            .iter()
            .map(|o| o.name.as_str())
            .collect();
        println!("  pat@globex.example entered code {code} and sees only {names:?}");
        // Through the link (and the session the code opened), Pat supplies a due date for
        // the task they own, marks it done, and comments on the objective.
        let token = session.token.as_deref();
        let update = TaskUpdate {
            done: Some(true),
            due_date: Date::new(2026, 3, 20),
        };
        tenant
            .links()
            .update_task(&contact_link, token, training, &update)?;
        tenant
            .links()
            .comment_objective(&contact_link, token, go_live, "Admins trained.")?;
        let task = &tenant.plans().get(plan)?.objectives[0].tasks[0];
        println!(
            "  the CSM sees task `{}`: {}, due {}",
            task.name,
            task.status,
            task.due_date.map(|d| d.to_string()).unwrap_or_default()
        );
        for event in tenant.shares().events(Some(plan))? {
            println!(
                "  share event: {} {} {} {}",
                event.email, event.action, event.subject, event.detail
            );
        }
    }
    let mailbox = FileMailbox::new(dir.path().join("mailbox"));
    let report = host.deliver_outbox(&mailbox, 100)?;
    println!("  delivered: {} message(s)", report.sent);
    for m in tenant.outbox().list(None)? {
        println!(
            "  #{} {} {:?} to {}: {} [{}]",
            m.id, m.status, m.channel, m.recipient, m.subject, m.kind
        );
        if m.recipient == "pat@globex.example" && m.kind == "share" {
            for line in m.body.lines() {
                println!("      | {line}");
            }
        }
    }
    Ok(())
}

/// Partner onboarding on an embedded SQLite file (fresh each run): a tenant with the example
/// plugins enabled imports the sample partners and companies, adds a partner by form, selects
/// companies by criteria (built-in filters and the `arr-tier` plugin filter) and tags them, adds
/// a partner user, and shows what the `partner-welcome` plugin caused.
fn onboarding_demo(root: &Path, plugins: &Path) -> anyhow::Result<()> {
    use cs_host::model::{AccessScope, FieldValue};
    use cs_host::{
        CompanyKey, Criteria, EnableOptions, Filter, Host, HostConfig, ImportJob, ImportOptions,
        NewCompany, Operator, TenantLevel,
    };

    let db = root.join("target").join("demo-onboarding.db");
    println!("\n== partner onboarding, on {}", db.display());
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.clone().into_os_string();
        path.push(suffix);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", db.display()));
            }
            _ => {}
        }
    }
    let config = HostConfig::default().runtime(
        RuntimeConfig::default().cache_dir(root.join("target").join("demo-compile-cache")),
    );
    let host = Host::open(&db, config)?;
    host.create_tenant("acme", "Acme", TenantLevel::Both)?;
    host.tenant("acme")?
        .access()
        .add_admin("admin@acme.example", "Ada")?;
    let acme = host.tenant("acme")?.as_user("admin@acme.example")?;
    let mut enabled = Vec::new();
    for name in ["normalize-partner", "partner-welcome", "arr-tier"] {
        let path = plugins.join(format!("{}.wasm", name.replace('-', "_")));
        let bytes = std::fs::read(&path)
            .with_context(|| format!("run `make plugins` first ({})", path.display()))?;
        let installed = host.install_plugin(&bytes, "ops@platform.example")?;
        acme.plugins().enable(name, EnableOptions::new())?;
        let m = &installed.plugin.manifest;
        enabled.push(format!("{} {}", m.name, m.version));
    }
    println!(
        "  tenant acme, plugins installed and enabled: {}",
        enabled.join(", ")
    );

    // Partners first, so the companies' "Managed By" column finds them.
    let data = root.join("examples").join("data");
    let print_job = |job: &ImportJob| {
        println!(
            "  import {}: {} rows, {} created, {} updated, {} skipped, {} failed",
            job.source, job.rows, job.created, job.updated, job.skipped, job.failed
        );
        for e in &job.errors {
            let at = e.column.as_deref().or(e.field.as_deref()).unwrap_or("-");
            let by = e
                .plugin
                .as_deref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            println!("    row {} `{at}`{by}: {}", e.row, e.reason);
        }
    };
    let options = ImportOptions::partners(Some(AccessScope::Both));
    print_job(&acme.imports().file(&data.join("partners.csv"), &options)?);
    print_job(
        &acme
            .imports()
            .file(&data.join("companies.csv"), &ImportOptions::companies())?,
    );

    let (fjord, _) = acme.partners().add(
        NewCompany::new("Fjord Digital")
            .field("country", "NO")
            .field("email", "hei@fjord.example"),
        Some(AccessScope::CompanyRecords),
    )?;
    println!("  added by form: Fjord Digital (company {fjord}), company records");

    // 1: EMEA or AMER, 2: gold ARR tier (the plugin), 3: logistics, 4: education.
    let text = |values: &[&str]| {
        values
            .iter()
            .map(|&v| FieldValue::from(v))
            .collect::<Vec<_>>()
    };
    let mut gold = Fields::new();
    gold.insert("tier".into(), FieldValue::from("gold"));
    let criteria = Criteria::new(vec![
        Filter::field("region", Operator::In, text(&["EMEA", "AMER"])),
        Filter::plugin("arr-tier", gold),
        Filter::field("industry", Operator::Eq, text(&["Logistics"])),
        Filter::field("industry", Operator::Eq, text(&["Education"])),
    ])
    .logic("(1 AND 2 AND NOT 3) OR 4");
    let selection = acme.criteria().run(&criteria)?;
    let names: Vec<&str> = selection
        .companies
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    println!(
        "  criteria 1 `region IN EMEA,AMER`, 2 `plugin:arr-tier tier=gold`, \
         3 `industry EQ Logistics`, 4 `industry EQ Education`"
    );
    println!(
        "    logic {}: {} match {names:?}",
        criteria.logic.as_deref().unwrap_or("-"),
        selection.count
    );
    let tagged = acme
        .partners()
        .tag_by_criteria(&criteria, Some(AccessScope::Both))?;
    println!("  tagged {} as partners (both record kinds)", tagged.len());

    let oskar = acme
        .companies()
        .get(CompanyKey::Name("Oskar Berg AB"))?
        .context("Oskar Berg AB was imported")?;
    let user =
        acme.users()
            .add_partner(oskar.id.parse()?, "ines@oskarberg.example", "Ines Berg")?;
    println!(
        "  partner user {} for {}: licence {}",
        user.email,
        oskar.name,
        user.licence.as_str()
    );

    // Every new partner, whichever way it came, went through the partner-created hook.
    let mut opened: Vec<(String, String)> = Vec::new();
    for partner in acme.partners().list()? {
        let ctas = acme.ctas().list(partner.company.id.parse()?)?;
        for cta in ctas.iter().filter(|c| c.source == "plugin:partner-welcome") {
            let due = cta.due_date.map(|d| d.to_string()).unwrap_or_default();
            opened.push((partner.company.name.clone(), due));
        }
    }
    println!(
        "  partner-welcome opened {} `Partner onboarding` CTAs (due {}):",
        opened.len(),
        opened.first().map_or("-", |(_, due)| due.as_str())
    );
    let names: Vec<&str> = opened.iter().map(|(name, _)| name.as_str()).collect();
    println!("    {}", names.join("; "));
    println!("  and queued these welcomes in the outbox (partners with an email):");
    for m in acme
        .outbox()
        .list(None)?
        .iter()
        .filter(|m| m.kind == "lifecycle")
    {
        println!(
            "    #{} {} to {}: {}",
            m.id, m.status, m.recipient, m.subject
        );
    }
    Ok(())
}
