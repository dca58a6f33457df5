//! Plugin administration on the command line: the platform's registry (`cshost plugin install |
//! list | upgrade | uninstall`, and `inspect NAME`) and each tenant's enablements (`cshost tenant
//! plugins | enable | disable | config | grant | revoke | stats | audit`, in enablements.rs).

mod enablements;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use cs_host::{Host, InstallOutcome, InstalledPlugin, Limits, inert};

pub use enablements::{TenantPluginCommand, run_tenant};

/// Who makes a change: the global `--as` user (checked), or the platform operator.
#[derive(Args)]
pub struct Actor {}

#[derive(Subcommand)]
#[command(defer = true)]
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
        RegistryCommand::Install { file, json, .. } => {
            let installed = host
                .install_plugin(&read(&file)?, &super::operator_name())
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
            actor: _,
            json,
        } => {
            let bytes = read(&file)?;
            let probe = host.runtime()?.load(&bytes)?;
            let name = probe.name().to_owned();
            let before = host
                .installed_plugin(&name, None)
                .with_context(|| format!("{}: nothing to upgrade", file.display()))?;
            let installed = host.install_plugin(&bytes, &super::operator_name())?;
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
                super::tenant(host, &tenant)?
                    .plugins()
                    .upgrade(&name, Some(&installed.plugin.manifest.version))
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
            actor: _,
        } => {
            let removed =
                host.uninstall_plugin(&name, version.as_deref(), force, &super::operator_name())?;
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
