//! Each tenant's plugins on the command line: `cshost tenant plugins | enable | tune | disable | config
//! | grant | revoke | allow-egress | deny-egress | stats | audit`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use cs_host::{
    Capability, EnableOptions, Enablement, FailurePolicy, Host, Tuning, inert, shell_quote,
};

use super::{Actor, LimitArgs, key_values, or_dash, print_json};

#[derive(Subcommand)]
#[command(defer = true)]
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
    /// Change how an enabled plugin runs (limits, failure policy, priority, breaker) without
    /// enabling or disabling it. Settings not given keep their value.
    Tune {
        /// The tenant.
        tenant: String,
        /// The plugin.
        plugin: String,
        /// Order among the tenant's plugins on the same hook: lower runs first.
        #[arg(long, allow_hyphen_values = true)]
        priority: Option<i32>,
        /// fail-open (skip the plugin on failure) or fail-closed.
        #[arg(long)]
        policy: Option<FailurePolicy>,
        #[command(flatten)]
        limits: LimitArgs,
        /// Consecutive failures before the host disables the plugin.
        #[arg(long)]
        breaker: Option<u32>,
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
            let plugins = crate::cli::tenant(host, &tenant)?.plugins().list()?;
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
            actor: _,
        } => {
            let tenant = crate::cli::tenant(host, &tenant)?;
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
            let current = tenant.plugins().get(&plugin).ok().map(|e| e.limits);
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
            show(tenant.plugins().enable(&plugin, options)?)
        }
        TenantPluginCommand::Tune {
            tenant,
            plugin,
            priority,
            policy,
            limits,
            breaker,
            actor: _,
        } => {
            let tenant = crate::cli::tenant(host, &tenant)?;
            let current = tenant.plugins().get(&plugin)?.limits;
            let tuning = Tuning {
                limits: limits.apply(current),
                policy,
                priority,
                breaker_threshold: breaker,
            };
            if tuning == Tuning::default() {
                bail!(
                    "nothing to change: give --priority, --policy, --breaker or a limit \
                     (--fuel, --deadline-ms, --memory-mb, --output-kb, --operation-seconds, \
                     --operation-fuel)"
                );
            }
            show(tenant.plugins().tune(&plugin, tuning)?)
        }
        TenantPluginCommand::Disable {
            tenant,
            plugin,
            actor: _,
        } => show(
            crate::cli::tenant(host, &tenant)?
                .plugins()
                .disable(&plugin)?,
        ),
        TenantPluginCommand::Config {
            tenant,
            plugin,
            set,
            unset,
            actor: _,
        } => {
            let tenant = crate::cli::tenant(host, &tenant)?;
            let mut config = tenant.plugins().get(&plugin)?.config;
            config.extend(key_values(&set)?);
            for key in &unset {
                if config.remove(key).is_none() {
                    bail!("plugin `{plugin}` has no configuration value `{key}` to unset");
                }
            }
            show(tenant.plugins().configure(&plugin, config)?)
        }
        TenantPluginCommand::Grant {
            tenant,
            plugin,
            capability,
            actor: _,
        } => show(
            crate::cli::tenant(host, &tenant)?
                .plugins()
                .grant(&plugin, capability)?,
        ),
        TenantPluginCommand::Revoke {
            tenant,
            plugin,
            capability,
            actor: _,
        } => show(
            crate::cli::tenant(host, &tenant)?
                .plugins()
                .revoke(&plugin, capability)?,
        ),
        TenantPluginCommand::AllowEgress {
            tenant,
            plugin,
            target,
            actor: _,
        } => show(
            crate::cli::tenant(host, &tenant)?
                .plugins()
                .allow_egress(&plugin, &target)?,
        ),
        TenantPluginCommand::DenyEgress {
            tenant,
            plugin,
            target,
            actor: _,
        } => show(
            crate::cli::tenant(host, &tenant)?
                .plugins()
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
            let tenant = crate::cli::tenant(host, &tenant)?;
            if let (Some(id), Some(out)) = (replay, out) {
                return replay_failure(host, &tenant, id, &out);
            }
            if failures {
                let failures = tenant.plugins().failures(plugin.as_deref())?;
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
            let mut stats = tenant.plugins().stats()?;
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
            let mut log = crate::cli::tenant(host, &tenant)?.audit().list()?;
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
        .plugins()
        .failures(None)?
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
