//! `cshost user`: add users and partner users; list them.

use std::process::ExitCode;

use clap::Subcommand;
use cs_host::{Host, Licence, PartnerId};

#[derive(Subcommand)]
#[command(defer = true)]
pub enum UserCommand {
    /// Add a user; with --partner, a partner user (always a Full licence).
    Add {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// Email address.
        email: String,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// full, viewer, viewer_analytics or internal_collaborator.
        #[arg(long, default_value = "full")]
        licence: Licence,
        /// The partner company the user works for.
        #[arg(long, conflicts_with = "partner_relationship")]
        partner: Option<i64>,
        /// Make it a partner user whose Partner ID is this relationship of a partner: it works
        /// for the relationship's company.
        #[arg(long)]
        partner_relationship: Option<i64>,
    },
    /// List users; with --partner, that partner's users.
    List {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// Only this partner's users.
        #[arg(long)]
        partner: Option<i64>,
    },
}

pub fn run(
    command: UserCommand,
    host: &dyn Fn() -> anyhow::Result<Host>,
) -> anyhow::Result<ExitCode> {
    let host = host()?;
    match command {
        UserCommand::Add {
            tenant,
            email,
            name,
            licence,
            partner,
            partner_relationship,
        } => {
            let tenant = super::tenant(&host, &tenant)?;
            let partner_id = match (partner, partner_relationship) {
                (Some(partner), _) => Some(PartnerId::Company(partner)),
                (None, Some(relationship)) => Some(PartnerId::Relationship(relationship)),
                (None, None) => None,
            };
            let user = match partner_id {
                Some(partner_id) => {
                    if licence != Licence::Full {
                        anyhow::bail!("partner users always hold a Full licence");
                    }
                    tenant.users().add_partner_for(partner_id, &email, &name)?
                }
                None => tenant.users().add(&email, &name, licence)?,
            };
            println!("added user {} ({}, {})", user.email, user.id, user.licence);
        }
        UserCommand::List { tenant, partner } => {
            println!("{:<36} {:<22} {:<8} NAME", "EMAIL", "LICENCE", "PARTNER");
            for u in super::tenant(&host, &tenant)?.users().list(partner)? {
                let partner = match (u.partner_id, u.partner_relationship_id) {
                    (Some(p), Some(r)) => format!("{p} (relationship {r})"),
                    (Some(p), None) => p.to_string(),
                    _ => "-".to_owned(),
                };
                println!(
                    "{:<36} {:<22} {:<8} {}",
                    u.email, u.licence, partner, u.name
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
