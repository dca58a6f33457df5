//! `cshost tenant`: create and list tenants; run the hooks they owe.

use std::process::ExitCode;

use clap::Subcommand;
use cs_host::{Host, TenantLevel};

#[derive(Subcommand)]
#[command(defer = true)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        /// Its id, such as `acme` (letters, digits, `-` and `_`).
        id: String,
        /// Its display name.
        #[arg(long)]
        name: Option<String>,
        /// Whether it manages customers as companies, relationships, or both.
        #[arg(long, default_value = "both")]
        level: TenantLevel,
    },
    /// List the tenants.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Hooks that committed changes still owe.
    #[command(subcommand)]
    Hooks(HooksCommand),
    // Boxed: the plugin administration commands are much larger than the rest.
    #[command(flatten)]
    Plugins(Box<super::plugin_admin::TenantPluginCommand>),
}

#[derive(Subcommand)]
#[command(defer = true)]
pub enum HooksCommand {
    /// Run the hooks a tenant's committed changes still owe (a *partner created* hook cut short
    /// by a crash), each until done and once in effect. Opening the database runs them too; this
    /// also runs those that failed five times.
    Run {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
    },
}

pub fn run(
    command: TenantCommand,
    host: &dyn Fn() -> anyhow::Result<Host>,
) -> anyhow::Result<ExitCode> {
    match command {
        TenantCommand::Plugins(command) => {
            return super::plugin_admin::run_tenant(*command, &host()?);
        }
        TenantCommand::Hooks(HooksCommand::Run { tenant }) => {
            let host = host()?;
            let run = super::tenant(&host, &tenant)?.hooks().run_pending()?;
            for line in &run.done {
                println!("done: {line}");
            }
            for line in &run.refused {
                println!("refused, partner undone: {line}");
            }
            for line in &run.failed {
                println!("failed, still owed: {line}");
            }
            println!(
                "{} hooks done, {} refused, {} still owed",
                run.done.len(),
                run.refused.len(),
                run.failed.len()
            );
            if !run.failed.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
        TenantCommand::Create { id, name, level } => {
            let tenant = host()?.create_tenant(&id, name.as_deref().unwrap_or(&id), level)?;
            println!(
                "created tenant {} ({}, {} level)",
                tenant.id, tenant.name, tenant.level
            );
        }
        TenantCommand::List { json } => {
            let tenants = host()?.tenants()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tenants)?);
            } else {
                println!("{:<20} {:<14} NAME", "ID", "LEVEL");
                for t in tenants {
                    let name = cs_host::inert(&t.name);
                    println!("{:<20} {:<14} {}", t.id, t.level.as_str(), name);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
