//! The end-to-end demo: every example plugin runs through the host on sample input, and a hostile
//! plugin is stopped while the host goes on serving.
//!
//! Run it with `make demo`, which builds the plugins from source first.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cs_host::model::{Company, Fields, ManagedAs, Notification, Partner, ShareEvent};
use cs_host::plugins::{RowOutcome, StaticDirectory};
use cs_host::{Capability, Limits, Plugin, PluginContext, PluginRuntime, RuntimeConfig};

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

    sharing_demo(root, &plugins)?;
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
        EnableOptions, FileMailbox, Host, HostConfig, Licence, NewCompany, NewPlan, Opened,
        PlanStatus, ShareRequest, TenantLevel,
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
    let tenant = host.tenant("acme")?.acting_as("csm@acme.example");
    tenant.enable_plugin("share-digest", EnableOptions::new())?;
    tenant.add_user("vic@acme.example", "Vic Viewer", Licence::Viewer)?;
    let globex = tenant.add_company(NewCompany::new("Globex"))?;
    let plan = tenant.create_plan(&NewPlan {
        company_id: globex,
        name: "Onboarding".into(),
        share_with_contacts: true,
        ..NewPlan::default()
    })?;
    tenant.add_objective(plan, "Go live on the portal", Date::new(2026, 3, 31), None)?;
    tenant.add_objective(plan, "Renewal pricing", None, Some(false))?;
    tenant.set_plan_status(plan, PlanStatus::Active)?;

    let mut contact_link = String::new();
    for (audience, email) in [
        (Audience::Users, "vic@acme.example"),
        (Audience::Contacts, "pat@globex.example"),
    ] {
        let receipt = tenant.share_plan(&ShareRequest {
            note: Some("Kick-off is on Monday.".into()),
            ..ShareRequest::new(plan, audience, [email])
        })?;
        println!("  shared with {email}: {:?}", receipt.notifications);
        contact_link = receipt.links[0].link.clone();
    }
    // The contact opens their link: first a one-time code, by email.
    if tenant.open_link(&contact_link)? == Opened::CodeRequired {
        tenant.request_otp(&contact_link)?;
        let code = tenant
            .outbox(None)?
            .into_iter()
            .rfind(|m| m.kind == "otp")
            .and_then(|m| {
                let digits = m.body.split(|c: char| !c.is_ascii_digit());
                digits.into_iter().find(|w| w.len() == 6).map(str::to_owned)
            })
            .context("the code email")?;
        let seen = tenant.verify_otp(&contact_link, &code)?;
        let names: Vec<&str> = seen.objectives.iter().map(|o| o.name.as_str()).collect();
        println!("  pat@globex.example entered code {code} and sees only {names:?}");
    }
    let mailbox = FileMailbox::new(dir.path().join("mailbox"));
    let report = host.deliver_outbox(&mailbox, 100)?;
    println!("  delivered: {} message(s)", report.sent);
    for m in tenant.outbox(None)? {
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
