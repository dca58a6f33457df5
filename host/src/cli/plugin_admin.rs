//! Plugin administration on the command line: the platform's registry (`cshost plugin install |
//! list | upgrade | uninstall`, and `inspect NAME`) and each tenant's enablements (`cshost tenant
//! plugins | enable | disable | config | grant | revoke | stats | audit`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use cs_host::{
    Capability, EnableOptions, Enablement, FailurePolicy, Host, InstallOutcome, InstalledPlugin,
    Limits, inert, shell_quote,
};

/// Who makes a change, for the audit log.
#[derive(Args)]
pub struct Actor {
    /// Who makes the change (an email), as the audit log records it.
    #[arg(
        long = "as",
        value_name = "EMAIL",
        env = "CSHOST_ACTOR",
        default_value = "admin"
    )]
    actor: String,
}

#[derive(Subcommand)]
pub enum RegistryCommand {
    /// Install a plugin component on the platform: validate it and store it by its hash.
    /// Installing the same file again changes nothing; a new version of an installed plugin is
    /// an upgrade (see `upgrade`).
    Install {
        /// The component (.wasm).
        file: PathBuf,
        #[command(flatten)]
        actor: Actor,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the installed plugins, every version.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Install a new version of an installed plugin. Tenants stay on the version they run
    /// (except those following the latest) unless named here.
    Upgrade {
        /// The component of the new version (.wasm).
        file: PathBuf,
        /// Move this tenant to the new version too, keeping its configuration. Repeat for
        /// several.
        #[arg(long = "tenant", value_name = "TENANT")]
        tenants: Vec<String>,
        /// Move every tenant that runs the plugin.
        #[arg(long, conflicts_with = "tenants")]
        all_tenants: bool,
        #[command(flatten)]
        actor: Actor,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Uninstall a plugin (every version, or one). Refused while a tenant has it enabled,
    /// unless `--force`, which removes those tenants' enablements too.
    Uninstall {
        /// The plugin's name.
        name: String,
        /// Only this version.
        #[arg(long)]
        version: Option<String>,
        /// Uninstall even if tenants have it enabled.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        actor: Actor,
    },
}

/// The limits an admin may set on the command line.
#[derive(Args)]
pub struct LimitArgs {
    /// Fuel budget of each call.
    #[arg(long)]
    fuel: Option<u64>,
    /// Deadline of each call, in milliseconds.
    #[arg(long)]
    deadline_ms: Option<u64>,
    /// Memory cap of an instance, in MiB.
    #[arg(long)]
    memory_mb: Option<usize>,
    /// Cap on what one call may return, in KiB.
    #[arg(long)]
    output_kb: Option<usize>,
    /// Wall-clock budget of all the plugin's calls in one operation (an import, a share, a
    /// selection), in seconds.
    #[arg(long)]
    operation_seconds: Option<u64>,
    /// Fuel budget of all the plugin's calls in one operation.
    #[arg(long)]
    operation_fuel: Option<u64>,
}

impl LimitArgs {
    fn apply(&self, base: Limits) -> Option<Limits> {
        if self.fuel.is_none()
            && self.deadline_ms.is_none()
            && self.memory_mb.is_none()
            && self.output_kb.is_none()
            && self.operation_seconds.is_none()
            && self.operation_fuel.is_none()
        {
            return None;
        }
        let mut limits = base;
        if let Some(fuel) = self.fuel {
            limits = limits.fuel(fuel);
        }
        if let Some(ms) = self.deadline_ms {
            limits = limits.deadline(Duration::from_millis(ms));
        }
        if let Some(mb) = self.memory_mb {
            limits = limits.memory(mb << 20);
        }
        if let Some(kb) = self.output_kb {
            limits = limits.output(kb << 10);
        }
        if let Some(seconds) = self.operation_seconds {
            limits = limits.operation_time(Duration::from_secs(seconds));
        }
        if let Some(fuel) = self.operation_fuel {
            limits = limits.operation_fuel(fuel);
        }
        Some(limits)
    }
}

#[derive(Subcommand)]
pub enum TenantPluginCommand {
    /// List the tenant's plugins: version, on or off, priority, policy, grants, configuration.
    Plugins {
        /// The tenant.
        tenant: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Enable an installed plugin for the tenant, or change how it is enabled. Settings not
    /// given keep their value (or take the default the first time).
    Enable {
        /// The tenant.
        tenant: String,
        /// The plugin.
        plugin: String,
        /// Run this version [default: the one enabled before, or the newest].
        #[arg(long)]
        version: Option<String>,
        /// A configuration value, as KEY=VALUE. Repeat for several; replaces the whole
        /// configuration.
        #[arg(long = "config", value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// Order among the tenant's plugins on the same hook: lower runs first [default: 0].
        #[arg(long, allow_hyphen_values = true)]
        priority: Option<i32>,
        /// fail-open (skip the plugin on failure) or fail-closed [default: fail-closed].
        #[arg(long)]
        policy: Option<FailurePolicy>,
        /// Grant a capability the plugin requests. Repeat for several; replaces the grants.
        #[arg(long = "grant", value_name = "CAPABILITY")]
        grants: Vec<Capability>,
        #[command(flatten)]
        limits: LimitArgs,
        /// Move to each newer version when it is installed.
        #[arg(long)]
        follow_latest: Option<bool>,
        /// Consecutive failures before the host disables the plugin [default: 5].
        #[arg(long)]
        breaker: Option<u32>,
        /// Who is emailed when the host disables the plugin [default: the --as email].
        #[arg(long)]
        notify: Option<String>,
        #[command(flatten)]
        actor: Actor,
    },
    /// Disable a plugin for the tenant; its configuration is kept.
    Disable {
        /// The tenant.
        tenant: String,
        /// The plugin.
        plugin: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Change a plugin's configuration: set KEY=VALUE pairs, remove keys with --unset.
    Config {
        /// The tenant.
        tenant: String,
        /// The plugin.
        plugin: String,
        /// Values to set, as KEY=VALUE.
        #[arg(value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Keys to remove. Repeat for several.
        #[arg(long = "unset", value_name = "KEY")]
        unset: Vec<String>,
        #[command(flatten)]
        actor: Actor,
    },
    /// Grant a plugin a capability it requests.
    Grant {
        /// The tenant.
        tenant: String,
        /// The plugin.
        plugin: String,
        /// The capability (read-companies).
        capability: Capability,
        #[command(flatten)]
        actor: Actor,
    },
    /// Take a capability back from a plugin.
    Revoke {
        /// The tenant.
        tenant: String,
        /// The plugin.
        plugin: String,
        /// The capability (read-companies).
        capability: Capability,
        #[command(flatten)]
        actor: Actor,
    },
    /// Let a notifier's or lifecycle plugin's notifications reach an address, or every address
    /// of a domain, besides the event's own addresses and the tenant's users.
    AllowEgress {
        /// The tenant.
        tenant: String,
        /// The plugin.
        plugin: String,
        /// An email address, or a domain such as partner.example.
        target: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Take back an address or domain given with allow-egress.
    DenyEgress {
        /// The tenant.
        tenant: String,
        /// The plugin.
        plugin: String,
        /// The address or domain.
        target: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// The run log: calls, failures by kind, fuel and durations per plugin and hook; with
    /// --failures, the last failures; with --replay, write a failure's input and component so
    /// `cshost plugin run` replays it.
    Stats {
        /// The tenant.
        tenant: String,
        /// Only this plugin.
        #[arg(long)]
        plugin: Option<String>,
        /// List the last failures (with their input under --json).
        #[arg(long)]
        failures: bool,
        /// Write the failure with this id to --out (input.json and the plugin's .wasm).
        #[arg(long, value_name = "ID", requires = "out")]
        replay: Option<i64>,
        /// The directory --replay writes to.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The tenant's audit log (with the platform's plugin installs), oldest first.
    Audit {
        /// The tenant.
        tenant: String,
        /// Only entries about this subject, such as `plugin:arr-tier`.
        #[arg(long)]
        subject: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn key_values(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
                .with_context(|| format!("`{pair}`: expected KEY=VALUE"))
        })
        .collect()
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn read(file: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

fn or_dash(items: Vec<String>) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(",")
    }
}

fn installed_table(plugins: &[InstalledPlugin]) {
    println!(
        "{:<22} {:<10} {:<7} {:<36} {:<16} {:<14} TENANTS",
        "NAME", "VERSION", "LATEST", "HOOKS", "CAPABILITIES", "SHA256"
    );
    for p in plugins {
        let m = &p.manifest;
        println!(
            "{:<22} {:<10} {:<7} {:<36} {:<16} {:<14} {}",
            inert(&m.name),
            inert(&m.version),
            if p.latest { "yes" } else { "" },
            or_dash(
                m.extension_points
                    .iter()
                    .map(|e| e.hook().to_owned())
                    .collect()
            ),
            or_dash(m.capabilities.iter().map(|c| c.to_string()).collect()),
            &m.hash[..12],
            or_dash(p.tenants.clone()),
        );
    }
}

/// `cshost plugin install | list | upgrade | uninstall`.
pub fn run_registry(command: RegistryCommand, host: &Host) -> anyhow::Result<ExitCode> {
    match command {
        RegistryCommand::Install { file, actor, json } => {
            let installed = host
                .install_plugin(&read(&file)?, &actor.actor)
                .map_err(|error| match error.kind() {
                    // The library knows only bytes; name the file rather than a placeholder.
                    cs_host::ErrorKind::Plugin(plugin) => {
                        anyhow::anyhow!("cannot install: {} {}", file.display(), plugin.kind())
                    }
                    _ => anyhow::Error::new(error)
                        .context(format!("cannot install {}", file.display())),
                })?;
            if json {
                return print_json(&installed).map(|()| ExitCode::SUCCESS);
            }
            let m = &installed.plugin.manifest;
            match &installed.outcome {
                InstallOutcome::Installed | InstallOutcome::AddedVersion => {
                    println!("installed {} {} (sha256 {})", m.name, m.version, m.hash)
                }
                InstallOutcome::Upgraded { from } => println!(
                    "installed {} {} (sha256 {}), an upgrade from {from}",
                    m.name, m.version, m.hash
                ),
                InstallOutcome::AlreadyInstalled => {
                    println!(
                        "{} {} is installed already: nothing changed",
                        m.name, m.version
                    )
                }
            }
            for tenant in &installed.moved {
                println!("moved tenant {tenant} (it follows the latest version)");
            }
            for (tenant, why) in &installed.held {
                println!("tenant {tenant} stays on its version: {why}");
            }
        }
        RegistryCommand::List { json } => {
            let plugins = host.installed_plugins()?;
            if json {
                return print_json(&plugins).map(|()| ExitCode::SUCCESS);
            }
            installed_table(&plugins);
        }
        RegistryCommand::Upgrade {
            file,
            tenants,
            all_tenants,
            actor,
            json,
        } => {
            let bytes = read(&file)?;
            let probe = host.runtime()?.load(&bytes)?;
            let name = probe.name().to_owned();
            let before = host
                .installed_plugin(&name, None)
                .with_context(|| format!("{}: nothing to upgrade", file.display()))?;
            let installed = host.install_plugin(&bytes, &actor.actor)?;
            let tenants = if all_tenants {
                let mut all = Vec::new();
                for p in host.installed_plugins()? {
                    if p.manifest.name == name {
                        all.extend(p.tenants);
                    }
                }
                all.sort();
                all.dedup();
                all
            } else {
                tenants
            };
            let mut moved = installed.moved.clone();
            for tenant in tenants {
                if moved.contains(&tenant) {
                    continue;
                }
                host.tenant(&tenant)?
                    .acting_as(actor.actor.clone())
                    .upgrade_plugin(&name, Some(&installed.plugin.manifest.version))
                    .with_context(|| format!("cannot move tenant {tenant}"))?;
                moved.push(tenant);
            }
            if json {
                let report = serde_json::json!({
                    "plugin": name,
                    "from": before.manifest.version,
                    "to": installed.plugin.manifest.version,
                    "outcome": installed.outcome,
                    "moved": moved,
                    "held": installed.held,
                });
                return print_json(&report).map(|()| ExitCode::SUCCESS);
            }
            println!(
                "{name}: {} -> {} ({})",
                before.manifest.version,
                installed.plugin.manifest.version,
                match installed.outcome {
                    InstallOutcome::AlreadyInstalled => "installed already",
                    _ => "installed",
                }
            );
            println!("moved tenants: {}", or_dash(moved));
            for (tenant, why) in &installed.held {
                println!("tenant {tenant} stays on its version: {why}");
            }
        }
        RegistryCommand::Uninstall {
            name,
            version,
            force,
            actor,
        } => {
            let removed = host.uninstall_plugin(&name, version.as_deref(), force, &actor.actor)?;
            for p in removed {
                println!("uninstalled {} {}", p.manifest.name, p.manifest.version);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `cshost plugin inspect NAME[@VERSION]` for an installed plugin.
pub fn inspect_installed(host: &Host, spec: &str) -> anyhow::Result<InstalledPlugin> {
    let (name, version) = match spec.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (spec, None),
    };
    Ok(host.installed_plugin(name, version)?)
}

fn enablement_table(enablements: &[Enablement]) {
    println!(
        "{:<22} {:<10} {:<8} {:>8} {:<12} {:<15} CONFIG",
        "PLUGIN", "VERSION", "STATE", "PRIORITY", "POLICY", "GRANTS"
    );
    for e in enablements {
        let state = if e.enabled { "on" } else { "off" };
        let config: Vec<String> = e
            .config
            .iter()
            .map(|(k, v)| format!("{}={}", inert(k), inert(v)))
            .collect();
        println!(
            "{:<22} {:<10} {:<8} {:>8} {:<12} {:<15} {}",
            inert(&e.plugin),
            inert(&e.version),
            state,
            e.priority,
            e.failure_policy.as_str(),
            or_dash(e.grants.iter().map(|c| c.to_string()).collect()),
            or_dash(config),
        );
        if !e.egress.is_empty() {
            let egress: Vec<&str> = e.egress.iter().map(String::as_str).collect();
            println!("    may also notify: {}", egress.join(", "));
        }
        if let Some(reason) = &e.disabled_reason {
            println!("    disabled by the host: {}", inert(reason));
        }
    }
}

/// `cshost tenant plugins | enable | disable | config | grant | revoke | allow-egress |
/// deny-egress | stats | audit`.
pub fn run_tenant(command: TenantPluginCommand, host: &Host) -> anyhow::Result<ExitCode> {
    let show = |e: Enablement| {
        enablement_table(&[e]);
        Ok(ExitCode::SUCCESS)
    };
    match command {
        TenantPluginCommand::Plugins { tenant, json } => {
            let plugins = host.tenant(&tenant)?.plugins()?;
            if json {
                print_json(&plugins)?;
            } else {
                enablement_table(&plugins);
            }
            Ok(ExitCode::SUCCESS)
        }
        TenantPluginCommand::Enable {
            tenant,
            plugin,
            version,
            config,
            priority,
            policy,
            grants,
            limits,
            follow_latest,
            breaker,
            notify,
            actor,
        } => {
            let tenant = host.tenant(&tenant)?.acting_as(actor.actor);
            let mut options = EnableOptions::new();
            if let Some(version) = version {
                options = options.version(version);
            }
            if !config.is_empty() {
                options = options.config_map(key_values(&config)?);
            }
            if let Some(priority) = priority {
                options = options.priority(priority);
            }
            if let Some(policy) = policy {
                options = options.failure_policy(policy);
            }
            for grant in grants {
                options = options.grant(grant);
            }
            let current = tenant.plugin(&plugin).ok().map(|e| e.limits);
            if let Some(limits) = limits.apply(current.unwrap_or_default()) {
                options = options.limits(limits);
            }
            if let Some(follow) = follow_latest {
                options = options.follow_latest(follow);
            }
            if let Some(breaker) = breaker {
                options = options.breaker_threshold(breaker);
            }
            if let Some(notify) = notify {
                options = options.admin(notify);
            }
            show(tenant.enable_plugin(&plugin, options)?)
        }
        TenantPluginCommand::Disable {
            tenant,
            plugin,
            actor,
        } => show(
            host.tenant(&tenant)?
                .acting_as(actor.actor)
                .disable_plugin(&plugin)?,
        ),
        TenantPluginCommand::Config {
            tenant,
            plugin,
            set,
            unset,
            actor,
        } => {
            let tenant = host.tenant(&tenant)?.acting_as(actor.actor);
            let mut config = tenant.plugin(&plugin)?.config;
            config.extend(key_values(&set)?);
            for key in &unset {
                if config.remove(key).is_none() {
                    bail!("plugin `{plugin}` has no configuration value `{key}` to unset");
                }
            }
            show(tenant.configure_plugin(&plugin, config)?)
        }
        TenantPluginCommand::Grant {
            tenant,
            plugin,
            capability,
            actor,
        } => show(
            host.tenant(&tenant)?
                .acting_as(actor.actor)
                .grant_capability(&plugin, capability)?,
        ),
        TenantPluginCommand::Revoke {
            tenant,
            plugin,
            capability,
            actor,
        } => show(
            host.tenant(&tenant)?
                .acting_as(actor.actor)
                .revoke_capability(&plugin, capability)?,
        ),
        TenantPluginCommand::AllowEgress {
            tenant,
            plugin,
            target,
            actor,
        } => show(
            host.tenant(&tenant)?
                .acting_as(actor.actor)
                .allow_egress(&plugin, &target)?,
        ),
        TenantPluginCommand::DenyEgress {
            tenant,
            plugin,
            target,
            actor,
        } => show(
            host.tenant(&tenant)?
                .acting_as(actor.actor)
                .deny_egress(&plugin, &target)?,
        ),
        TenantPluginCommand::Stats {
            tenant,
            plugin,
            failures,
            replay,
            out,
            json,
        } => {
            let tenant = host.tenant(&tenant)?;
            if let (Some(id), Some(out)) = (replay, out) {
                return replay_failure(host, &tenant, id, &out);
            }
            if failures {
                let failures = tenant.plugin_failures(plugin.as_deref())?;
                if json {
                    print_json(&failures)?;
                } else {
                    println!(
                        "{:>6} {:<20} {:<20} {:<10} {:<16} {:<24} MESSAGE",
                        "ID", "AT", "PLUGIN", "VERSION", "HOOK", "KIND"
                    );
                    for f in failures {
                        println!(
                            "{:>6} {:<20} {:<20} {:<10} {:<16} {:<24} {}",
                            f.id,
                            cs_host::utc_timestamp(f.at),
                            inert(&f.plugin),
                            inert(&f.version),
                            f.hook,
                            f.code,
                            inert(&f.message)
                        );
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            let mut stats = tenant.plugin_stats()?;
            if let Some(plugin) = &plugin {
                stats.retain(|s| &s.plugin == plugin);
            }
            if json {
                print_json(&stats)?;
            } else {
                println!(
                    "{:<20} {:<16} {:>8} {:>8} {:>14} {:>9} {:>9} FAILURES BY KIND / LAST ERROR",
                    "PLUGIN", "HOOK", "CALLS", "FAILED", "FUEL", "P50 µs", "P99 µs"
                );
                for s in stats {
                    let kinds: Vec<String> = s
                        .failures_by_kind
                        .iter()
                        .map(|(k, n)| format!("{k}={n}"))
                        .collect();
                    println!(
                        "{:<20} {:<16} {:>8} {:>8} {:>14} {:>9} {:>9} {}",
                        inert(&s.plugin),
                        s.hook,
                        s.calls,
                        s.failures,
                        s.fuel,
                        s.p50_us,
                        s.p99_us,
                        or_dash(kinds)
                    );
                    if let Some(error) = s.last_error {
                        println!("    last error: {}", inert(&error));
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TenantPluginCommand::Audit {
            tenant,
            subject,
            json,
        } => {
            let mut log = host.tenant(&tenant)?.audit_log()?;
            if let Some(subject) = &subject {
                log.retain(|e| &e.subject == subject);
            }
            if json {
                print_json(&log)?;
            } else {
                println!(
                    "{:<20} {:<28} {:<22} {:<28} CHANGE",
                    "AT", "ACTOR", "ACTION", "SUBJECT"
                );
                for e in log {
                    let change = match (&e.before, &e.after) {
                        (Some(before), Some(after)) => changed_keys(before, after),
                        (None, Some(_)) => "created".to_owned(),
                        (Some(_), None) => "removed".to_owned(),
                        (None, None) => "-".to_owned(),
                    };
                    println!(
                        "{:<20} {:<28} {:<22} {:<28} {}",
                        cs_host::utc_timestamp(e.at),
                        e.actor,
                        e.action,
                        e.subject,
                        change
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The top-level keys whose values differ, as `key: before -> after`.
fn changed_keys(before: &serde_json::Value, after: &serde_json::Value) -> String {
    let (Some(before), Some(after)) = (before.as_object(), after.as_object()) else {
        return format!("{before} -> {after}");
    };
    let mut changes = Vec::new();
    for (key, new) in after {
        let old = before.get(key).unwrap_or(&serde_json::Value::Null);
        if old != new && key != "updated_at" {
            changes.push(format!("{key}: {old} -> {new}"));
        }
    }
    if changes.is_empty() {
        "-".to_owned()
    } else {
        changes.join("; ")
    }
}

/// Writes a recorded failure's input and the failing version's component, and prints the
/// command that replays it.
fn replay_failure(
    host: &Host,
    tenant: &cs_host::Tenant<'_>,
    id: i64,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    let failure = tenant
        .plugin_failures(None)?
        .into_iter()
        .find(|f| f.id == id)
        .with_context(|| format!("tenant {} has no recorded failure {id}", tenant.id()))?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let input = out.join("input.json");
    std::fs::write(&input, serde_json::to_string_pretty(&failure.input)?)
        .with_context(|| format!("cannot write {}", input.display()))?;
    // The file name is made of the recorded name and version, which a plugin chose: keep only
    // characters that cannot leave --out (no `/`, no `..` made of them) or mean anything to a
    // shell.
    let safe = |text: &str| -> String {
        text.chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '+' => c,
                _ => '_',
            })
            .collect()
    };
    let component = out.join(format!(
        "{}-{}.wasm",
        safe(&failure.plugin),
        safe(&failure.version)
    ));
    let bytes = host.plugin_component(&failure.plugin, Some(&failure.version))?;
    std::fs::write(&component, bytes)
        .with_context(|| format!("cannot write {}", component.display()))?;
    let mut command = format!(
        "cshost plugin run {} --hook {} --input {}",
        shell_quote(&component.display().to_string()),
        shell_quote(&failure.hook),
        shell_quote(&input.display().to_string())
    );
    for (key, value) in &failure.config {
        command.push_str(&format!(
            " --config {}",
            shell_quote(&format!("{key}={value}"))
        ));
    }
    for grant in &failure.grants {
        command.push_str(&format!(" --grant {}", shell_quote(grant.name())));
    }
    println!("{}: {}", inert(&failure.code), inert(&failure.message));
    println!("{command}");
    Ok(ExitCode::SUCCESS)
}
