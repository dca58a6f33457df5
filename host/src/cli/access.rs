//! `cshost token` and `cshost access`: API tokens; permission bundles, partners' data
//! permissions, partner seats, and who a user is.

use std::process::ExitCode;

use clap::Subcommand;
use cs_host::Host;
use cs_host::access::{AccessSettings, Permissions, TokenInfo};

#[derive(Subcommand)]
#[command(defer = true)]
pub enum TokenCommand {
    /// Create an API token for a user of a tenant (with --tenant and --user) or for the
    /// platform operator (without); the token is printed once and stored only as a hash.
    Create {
        /// The tenant of the user.
        #[arg(long, env = "CSHOST_TENANT", requires = "user")]
        tenant: Option<String>,
        /// The user the token acts as (an email).
        #[arg(long, requires = "tenant")]
        user: Option<String>,
        /// What the token is for.
        #[arg(long, default_value = "")]
        label: String,
        /// How many days it lives (1 to 3650).
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
    /// List API tokens (never the tokens themselves): a tenant's, or the platform operator's.
    List {
        /// The tenant; without it, the platform operator's tokens.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: Option<String>,
    },
    /// Revoke an API token at once.
    Revoke {
        /// The token's id (from `cshost token list`).
        id: i64,
        /// The tenant; without it, a platform operator's token.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: Option<String>,
    },
}

#[derive(Subcommand)]
#[command(defer = true)]
pub enum AccessCommand {
    /// Who a user is: its role, permissions and partner scope (the acting user without
    /// --user).
    Whoami {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The user (an email).
        #[arg(long)]
        user: Option<String>,
    },
    /// List the built-in and named permission bundles.
    Bundles {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
    },
    /// Define (or change) a named permission bundle.
    DefineBundle {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The bundle's name.
        name: String,
        /// Its permissions, separated by commas (such as `read,plans.create,ctas.manage`).
        permissions: String,
    },
    /// Assign a bundle to a user (`admin` makes a Full user a tenant admin).
    Assign {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The user (an email).
        user: String,
        /// The bundle.
        bundle: String,
    },
    /// Take a bundle away from a user.
    Unassign {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The user (an email).
        user: String,
        /// The bundle.
        bundle: String,
    },
    /// Show, or narrow, what a partner's users may do (its data permissions).
    PartnerPermissions {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The partner company's id.
        partner: i64,
        /// The permissions its users keep, separated by commas; without it, show them.
        permissions: Option<String>,
    },
    /// Show, or set, the tenant's partner seats.
    Seats {
        /// The tenant.
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// Most partner companies (0 or more; `none` for no limit).
        #[arg(long)]
        partners: Option<String>,
        /// Most partner users (0 or more; `none` for no limit).
        #[arg(long)]
        partner_users: Option<String>,
    },
}

fn print_tokens(tokens: &[TokenInfo]) {
    println!(
        "{:<6} {:<30} {:<20} {:<12} {:<12} STATE",
        "ID", "USER", "LABEL", "CREATED", "EXPIRES"
    );
    for t in tokens {
        let state = if t.revoked_at.is_some() {
            "revoked"
        } else {
            "live"
        };
        println!(
            "{:<6} {:<30} {:<20} {:<12} {:<12} {state}",
            t.id,
            t.user.as_deref().unwrap_or("(operator)"),
            cs_host::inert(&t.label),
            day(t.created_at),
            day(t.expires_at),
        );
    }
}

fn day(at: i64) -> String {
    cs_host::utc_timestamp(at).chars().take(10).collect()
}

fn limit(text: Option<String>, current: Option<u32>) -> anyhow::Result<Option<u32>> {
    match text.as_deref().map(str::trim) {
        None => Ok(current),
        Some("none") => Ok(None),
        Some(n) => Ok(Some(n.parse().map_err(|_| {
            anyhow::anyhow!("seat limit `{n}`: give a whole number, or `none`")
        })?)),
    }
}

pub fn run_token(
    command: TokenCommand,
    host: &dyn Fn() -> anyhow::Result<Host>,
) -> anyhow::Result<ExitCode> {
    let host = host()?;
    match command {
        TokenCommand::Create {
            tenant,
            user,
            label,
            days,
        } => {
            let created = match (tenant, user) {
                (Some(tenant), Some(user)) => super::tenant(&host, &tenant)?
                    .access()
                    .create_token(&user, &label, days)?,
                _ => host.create_operator_token(&label, days, &super::operator_name())?,
            };
            println!("{}", created.token);
            eprintln!(
                "token {} expires {}; it is shown only now: keep it safe",
                created.info.id,
                cs_host::utc_timestamp(created.info.expires_at)
            );
        }
        TokenCommand::List { tenant } => {
            let tokens = match tenant {
                Some(tenant) => super::tenant(&host, &tenant)?.access().tokens()?,
                None => host.operator_tokens()?,
            };
            print_tokens(&tokens);
        }
        TokenCommand::Revoke { id, tenant } => {
            let revoked = match tenant {
                Some(tenant) => super::tenant(&host, &tenant)?.access().revoke_token(id)?,
                None => host.revoke_operator_token(id, &super::operator_name())?,
            };
            println!(
                "token {id} {}",
                if revoked {
                    "revoked"
                } else {
                    "was revoked already"
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(
    command: AccessCommand,
    host: &dyn Fn() -> anyhow::Result<Host>,
) -> anyhow::Result<ExitCode> {
    let host = host()?;
    match command {
        AccessCommand::Whoami { tenant, user } => {
            let tenant = super::tenant(&host, &tenant)?;
            let principal = match user {
                Some(user) => tenant.access().principal_of(&user)?,
                None => tenant.principal()?,
            };
            println!("{} ({})", principal.name(), principal.role());
            println!("permissions: {}", principal.permissions());
            if let Some(scope) = principal.partner_scope() {
                let mut kinds = Vec::new();
                if scope.companies {
                    kinds.push("companies");
                }
                if scope.relationships {
                    kinds.push("relationships");
                }
                println!(
                    "partner {}: only the {} it manages",
                    scope.partner_id,
                    if kinds.is_empty() {
                        "nothing".to_owned()
                    } else {
                        kinds.join(" and ")
                    }
                );
            }
        }
        AccessCommand::Bundles { tenant } => {
            for bundle in super::tenant(&host, &tenant)?.access().bundles()? {
                let kind = if bundle.builtin { "built-in" } else { "named" };
                println!("{:<24} {kind:<9} {}", bundle.name, bundle.permissions);
            }
        }
        AccessCommand::DefineBundle {
            tenant,
            name,
            permissions,
        } => {
            let permissions = Permissions::parse_list(&permissions)?;
            super::tenant(&host, &tenant)?
                .access()
                .define_bundle(&name, permissions)?;
            println!("bundle {name}: {permissions}");
        }
        AccessCommand::Assign {
            tenant,
            user,
            bundle,
        } => {
            super::tenant(&host, &tenant)?
                .access()
                .assign_bundle(&user, &bundle)?;
            println!("{user} holds bundle {bundle}");
        }
        AccessCommand::Unassign {
            tenant,
            user,
            bundle,
        } => {
            super::tenant(&host, &tenant)?
                .access()
                .unassign_bundle(&user, &bundle)?;
            println!("{user} no longer holds bundle {bundle}");
        }
        AccessCommand::PartnerPermissions {
            tenant,
            partner,
            permissions,
        } => {
            let tenant = super::tenant(&host, &tenant)?;
            if let Some(permissions) = permissions {
                tenant
                    .access()
                    .set_partner_permissions(partner, Permissions::parse_list(&permissions)?)?;
            }
            println!(
                "partner {partner}: {}",
                tenant.access().partner_permissions(partner)?
            );
        }
        AccessCommand::Seats {
            tenant,
            partners,
            partner_users,
        } => {
            let tenant = super::tenant(&host, &tenant)?;
            let mut seats = tenant.access().settings()?;
            if partners.is_some() || partner_users.is_some() {
                seats = AccessSettings {
                    max_partners: limit(partners, seats.max_partners)?,
                    max_partner_users: limit(partner_users, seats.max_partner_users)?,
                };
                tenant.access().set_settings(seats)?;
            }
            let show = |n: Option<u32>| n.map_or("no limit".to_owned(), |n| n.to_string());
            println!(
                "partners: {}; partner users: {}",
                show(seats.max_partners),
                show(seats.max_partner_users)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
