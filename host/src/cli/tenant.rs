//! `cshost tenant`: create and list tenants.

use std::process::ExitCode;

use clap::Subcommand;
use cs_host::{Host, TenantLevel};

#[derive(Subcommand)]
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
    // Boxed: the plugin administration commands are much larger than the rest.
    #[command(flatten)]
    Plugins(Box<super::plugin_admin::TenantPluginCommand>),
}

pub fn run(
    command: TenantCommand,
    host: &dyn Fn() -> anyhow::Result<Host>,
) -> anyhow::Result<ExitCode> {
    match command {
        TenantCommand::Plugins(command) => {
            return super::plugin_admin::run_tenant(*command, &host()?);
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
