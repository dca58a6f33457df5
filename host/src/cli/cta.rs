//! `cshost cta`: the CTA cockpit (lists per company, relationship, owner and status; close with
//! a reason, reopen, assign) and playbooks.

use std::process::ExitCode;

use clap::Subcommand;
use cs_host::model::CtaType;
use cs_host::{Cta, CtaFilter, CtaStatus, Host, Playbook, PlaybookTask, inert};

use super::plan::{Actor, CliCtaType};

#[derive(Subcommand)]
#[command(defer = true)]
pub enum CtaCommand {
    /// List CTAs, soonest due first, then by priority (high first).
    List {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// Only this company's.
        #[arg(long)]
        company: Option<i64>,
        /// Only those on this relationship.
        #[arg(long)]
        relationship: Option<i64>,
        /// Only mine (owned by the user given with --as or CSHOST_ACTOR).
        #[arg(long, conflicts_with = "owner")]
        mine: bool,
        /// Only those this user owns.
        #[arg(long)]
        owner: Option<String>,
        /// open, closed or all.
        #[arg(long, default_value = "open", value_parser = ["open", "closed", "all"])]
        status: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        actor: Actor,
    },
    /// Close a CTA, with a reason.
    Close {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The CTA.
        cta: i64,
        /// Why it is closed.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Open a closed CTA again.
    Reopen {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The CTA.
        cta: i64,
        #[command(flatten)]
        actor: Actor,
    },
    /// Give a CTA to an owner (a user, by email).
    Assign {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The CTA.
        cta: i64,
        /// The new owner's email.
        #[arg(long)]
        owner: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Define (or replace) a playbook: a named task list for CTAs of one type.
    Playbook {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The playbook's name.
        #[arg(long)]
        name: String,
        /// The CTA type it is for.
        #[arg(long = "type")]
        kind: CliCtaType,
        /// A task, as NAME or NAME:DAYS (due DAYS after the CTA opens); repeat for each.
        #[arg(long = "task", required = true)]
        tasks: Vec<String>,
        /// Apply it to every CTA of its type when it opens (by a user or a plugin).
        #[arg(long)]
        default: bool,
        #[command(flatten)]
        actor: Actor,
    },
    /// List the tenant's playbooks.
    Playbooks {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Add a playbook's tasks to a CTA of its type.
    Apply {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The CTA.
        cta: i64,
        /// The playbook's name.
        #[arg(long)]
        playbook: String,
        #[command(flatten)]
        actor: Actor,
    },
}

pub fn run(
    command: CtaCommand,
    host: &dyn Fn() -> anyhow::Result<Host>,
) -> anyhow::Result<ExitCode> {
    let host = host()?;
    match command {
        CtaCommand::List {
            tenant,
            company,
            relationship,
            mine,
            owner,
            status,
            json,
            actor,
        } => {
            let filter = CtaFilter {
                company_id: company,
                relationship_id: relationship,
                owner: if mine {
                    Some(super::operator_name())
                } else {
                    owner
                },
                status: match status.as_str() {
                    "closed" => CtaStatus::Closed,
                    "all" => CtaStatus::All,
                    _ => CtaStatus::Open,
                },
            };
            let ctas = actor.tenant(&host, &tenant)?.ctas().cockpit(&filter)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&ctas)?);
            } else {
                print_ctas(&ctas);
            }
        }
        CtaCommand::Close {
            tenant,
            cta,
            reason,
            actor,
        } => {
            actor.tenant(&host, &tenant)?.ctas().close(cta, &reason)?;
            println!("CTA {cta} is closed");
        }
        CtaCommand::Reopen { tenant, cta, actor } => {
            actor.tenant(&host, &tenant)?.ctas().reopen(cta)?;
            println!("CTA {cta} is open");
        }
        CtaCommand::Assign {
            tenant,
            cta,
            owner,
            actor,
        } => {
            actor.tenant(&host, &tenant)?.ctas().assign(cta, &owner)?;
            println!("CTA {cta} is {owner}'s");
        }
        CtaCommand::Playbook {
            tenant,
            name,
            kind,
            tasks,
            default,
            actor,
        } => {
            let tasks = tasks
                .iter()
                .map(|t| match t.rsplit_once(':') {
                    Some((name, days)) if days.trim().parse::<u32>().is_ok() => PlaybookTask {
                        name: name.to_owned(),
                        due_in_days: days.trim().parse().ok(),
                        owner: None,
                    },
                    _ => PlaybookTask {
                        name: t.clone(),
                        ..PlaybookTask::default()
                    },
                })
                .collect();
            let playbook = Playbook {
                name,
                cta_type: CtaType::from(kind),
                tasks,
                default,
            };
            actor
                .tenant(&host, &tenant)?
                .playbooks()
                .define(&playbook)?;
            println!(
                "playbook `{}` ({} task(s)){}",
                playbook.name,
                playbook.tasks.len(),
                if default { ", the default" } else { "" }
            );
        }
        CtaCommand::Playbooks { tenant, json } => {
            let playbooks = super::tenant(&host, &tenant)?.playbooks().list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&playbooks)?);
            } else {
                for p in playbooks {
                    let tasks: Vec<String> = p
                        .tasks
                        .iter()
                        .map(|t| match t.due_in_days {
                            Some(days) => format!("{} (+{days}d)", t.name),
                            None => t.name.clone(),
                        })
                        .collect();
                    println!(
                        "{:?} `{}`{}: {}",
                        p.cta_type,
                        p.name,
                        if p.default { " (default)" } else { "" },
                        tasks.join(", ")
                    );
                }
            }
        }
        CtaCommand::Apply {
            tenant,
            cta,
            playbook,
            actor,
        } => {
            let added = actor
                .tenant(&host, &tenant)?
                .playbooks()
                .apply(cta, &playbook)?;
            println!("CTA {cta}: {added} task(s) from `{playbook}`");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_ctas(ctas: &[Cta]) {
    println!(
        "{:<5} {:<10} {:<8} {:<8} {:<11} {:<8} {:<24} NAME",
        "CTA", "DUE", "PRIORITY", "STATUS", "TYPE", "COMPANY", "OWNER"
    );
    for c in ctas {
        println!(
            "{:<5} {:<10} {:<8} {:<8} {:<11} {:<8} {:<24} {}{}",
            c.id,
            c.due_date
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into()),
            format!("{:?}", c.priority).to_lowercase(),
            c.status,
            format!("{:?}", c.kind).to_lowercase(),
            c.company_id,
            c.owner.as_deref().unwrap_or("-"),
            inert(&c.name),
            c.closed_reason
                .as_deref()
                .map(|r| format!(" (closed: {})", inert(r)))
                .unwrap_or_default()
        );
        for t in &c.tasks {
            let due = t.due_date.map(|d| format!(", due {d}")).unwrap_or_default();
            let owner = t.owner.as_deref().unwrap_or("unassigned");
            println!(
                "      task {}: {} ({owner}, {}{due})",
                t.id,
                inert(&t.name),
                t.status
            );
        }
    }
}
