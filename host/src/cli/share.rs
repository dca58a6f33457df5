//! `cshost share`: share a plan, open a link, one-time codes, revoke, the manage-shares view,
//! and the tenant's sharing settings.

use std::process::ExitCode;

use clap::Subcommand;
use cs_host::model::Date;
use cs_host::{Host, LinkState, Notifications, Opened, SharedPlan, TaskUpdate, inert};

use super::plan::Actor;
use super::share_request::ShareArgs;

#[derive(Subcommand)]
#[command(defer = true)]
pub enum ShareCommand {
    /// Share a plan with internal users or with external contacts; prints each recipient's
    /// link (the only time it can be read) and what became of the notifications.
    Create {
        #[command(flatten)]
        share: ShareArgs,
        /// Who shares it.
        #[command(flatten)]
        actor: Actor,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show exactly what each recipient of a share would get (the plan as they would see it,
    /// their permission, the message) without recording or sending anything.
    Preview {
        #[command(flatten)]
        share: ShareArgs,
        /// Who would share it.
        #[command(flatten)]
        actor: Actor,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// As a recipient with update permission, through the link: set a task's status or due
    /// date.
    Update {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The link.
        link: String,
        /// The session `share verify` printed (for a link that needs a one-time code).
        #[arg(long)]
        session: Option<String>,
        /// The task.
        #[arg(long)]
        task: i64,
        /// Mark it done.
        #[arg(long, conflicts_with = "reopen")]
        done: bool,
        /// Mark it open again.
        #[arg(long)]
        reopen: bool,
        /// Its new due date (YYYY-MM-DD).
        #[arg(long)]
        due: Option<Date>,
    },
    /// As a recipient with update permission, through the link: comment on an objective.
    Comment {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The link.
        link: String,
        /// The session `share verify` printed (for a link that needs a one-time code).
        #[arg(long)]
        session: Option<String>,
        /// The objective.
        #[arg(long)]
        objective: i64,
        /// The comment.
        text: String,
    },
    /// What recipients did through their links (task updates, comments), oldest first.
    Events {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// Only this plan's.
        #[arg(long)]
        plan: Option<i64>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Extend a recipient's link: it expires DAYS days from now (an expired link opens again).
    Extend {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The recipient (see `share list`).
        recipient: i64,
        /// Days from now, 1 to 3650.
        #[arg(long)]
        days: u32,
        #[command(flatten)]
        actor: Actor,
    },
    /// Open a shared link (the link or its token), as its recipient would.
    Open {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The link.
        link: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Send the link's recipient a one-time code (through the outbox).
    Otp {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The link.
        link: String,
    },
    /// Check a one-time code and show the plan.
    Verify {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The link.
        link: String,
        /// The six-digit code.
        code: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Revoke links: one recipient's, every link to a plan, or every link to the plans of a
    /// customer or of one of its relationships.
    Revoke {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// One recipient (the id `share list` shows).
        #[arg(long, required_unless_present_any = ["plan", "company", "relationship"], conflicts_with_all = ["plan", "company", "relationship"])]
        recipient: Option<i64>,
        /// Every link to this plan.
        #[arg(long, conflicts_with_all = ["company", "relationship"])]
        plan: Option<i64>,
        /// Every link to the plans of this customer company.
        #[arg(long, conflicts_with = "relationship")]
        company: Option<i64>,
        /// Every link to the plans of this relationship.
        #[arg(long)]
        relationship: Option<i64>,
        #[command(flatten)]
        actor: Actor,
    },
    /// Give a recipient a new link; the old one stops working (for a link that never reached
    /// its holder).
    Reissue {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The recipient (the id `share list` shows).
        recipient: i64,
        #[command(flatten)]
        actor: Actor,
    },
    /// The manage-shares view: recipients with their state, who shared, when, and expiry.
    List {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// Only this plan's shares.
        #[arg(long, conflicts_with = "relationship")]
        plan: Option<i64>,
        /// Only the shares of this relationship's plans.
        #[arg(long)]
        relationship: Option<i64>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show the tenant's sharing settings, or change some of them.
    Settings {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// Ask for a one-time code when a link is opened.
        #[arg(long, value_parser = ["on", "off"])]
        otp: Option<String>,
        /// How many days links stay valid.
        #[arg(long)]
        expiry_days: Option<u32>,
        /// What goes before the token in a link.
        #[arg(long)]
        link_base: Option<String>,
        /// The most notifications delivered per hour (codes aside).
        #[arg(long)]
        per_hour: Option<u32>,
        #[command(flatten)]
        actor: Actor,
    },
}

pub fn run(
    command: ShareCommand,
    host: &dyn Fn() -> anyhow::Result<Host>,
) -> anyhow::Result<ExitCode> {
    let host = host()?;
    match command {
        ShareCommand::Create { share, actor, json } => {
            let receipt = actor
                .tenant(&host, &share.tenant)?
                .shares()
                .share(&share.request())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&receipt)?);
            } else {
                println!("share {}", receipt.share_id);
                for link in &receipt.links {
                    println!(
                        "  recipient {} {} ({}): {}",
                        link.recipient_id, link.email, link.permission, link.link
                    );
                }
                match &receipt.notifications {
                    Notifications::Queued(n) => println!("{n} notification(s) queued"),
                    Notifications::Held { count, error } => {
                        println!("{count} notification(s) held: {error}")
                    }
                    Notifications::Resumed => println!("{}", receipt.notifications),
                }
            }
        }
        ShareCommand::Open { tenant, link, json } => {
            match super::tenant(&host, &tenant)?.links().open(&link)? {
                Opened::CodeRequired => {
                    println!("this link needs a one-time code: run `cshost share otp`")
                }
                Opened::Plan(plan) => print_shared(&plan, json)?,
            }
        }
        ShareCommand::Preview { share, actor, json } => {
            let previews = actor
                .tenant(&host, &share.tenant)?
                .shares()
                .preview(&share.request())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&previews)?);
            } else {
                for p in &previews {
                    println!(
                        "== {} ({}{}, {}) — nothing is sent",
                        p.email,
                        if p.external { "contact" } else { "user" },
                        if p.new_person {
                            ", would become a new person"
                        } else {
                            ""
                        },
                        p.permission
                    );
                    if let Some(error) = &p.held {
                        println!("messages would be held: {}", inert(error));
                    }
                    for m in &p.messages {
                        println!("subject: {}", inert(&m.subject));
                        println!(
                            "{}",
                            m.body.lines().map(inert).collect::<Vec<_>>().join("\n")
                        );
                    }
                    print_shared(&p.plan, false)?;
                }
            }
        }
        ShareCommand::Update {
            tenant,
            link,
            session,
            task,
            done,
            reopen,
            due,
        } => {
            let update = TaskUpdate {
                done: if done {
                    Some(true)
                } else if reopen {
                    Some(false)
                } else {
                    None
                },
                due_date: due,
            };
            let plan = host.tenant(&tenant)?.links().update_task(
                &link,
                session.as_deref(),
                task,
                &update,
            )?;
            println!("task {task} updated");
            print_shared(&plan, false)?;
        }
        ShareCommand::Comment {
            tenant,
            link,
            session,
            objective,
            text,
        } => {
            host.tenant(&tenant)?.links().comment_objective(
                &link,
                session.as_deref(),
                objective,
                &text,
            )?;
            println!("comment added to objective {objective}");
        }
        ShareCommand::Events { tenant, plan, json } => {
            let events = host.tenant(&tenant)?.shares().events(plan)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&events)?);
            } else {
                for e in events {
                    println!(
                        "{} plan {} {} (recipient {}) {} {}: {}",
                        time(e.at),
                        e.plan_id,
                        e.email,
                        e.recipient_id,
                        e.action,
                        e.subject,
                        inert(&e.detail.to_string())
                    );
                }
            }
        }
        ShareCommand::Extend {
            tenant,
            recipient,
            days,
            actor,
        } => {
            let until = actor
                .tenant(&host, &tenant)?
                .shares()
                .extend_link(recipient, days)?;
            println!("recipient {recipient}: the link expires {}", time(until));
        }
        ShareCommand::Otp { tenant, link } => {
            super::tenant(&host, &tenant)?.links().request_otp(&link)?;
            println!("a code is on its way (see `cshost outbox list`)");
        }
        ShareCommand::Verify {
            tenant,
            link,
            code,
            json,
        } => {
            let session = super::tenant(&host, &tenant)?
                .links()
                .start_session(&link, &code)?;
            if let Some(token) = &session.token
                && !json
            {
                println!(
                    "session {token} (until {}; give it with --session to update the plan)",
                    time(session.expires_at)
                );
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&session)?);
            } else {
                print_shared(&session.plan, false)?;
            }
        }
        ShareCommand::Reissue {
            tenant,
            recipient,
            actor,
        } => {
            let link = actor
                .tenant(&host, &tenant)?
                .shares()
                .reissue_link(recipient)?;
            println!(
                "recipient {} {}: {}",
                link.recipient_id, link.email, link.link
            );
        }
        ShareCommand::Revoke {
            tenant,
            recipient,
            plan,
            company,
            relationship,
            actor,
        } => {
            let tenant = actor.tenant(&host, &tenant)?;
            let revoked = match (recipient, plan, company, relationship) {
                (Some(r), _, _, _) => usize::from(tenant.shares().revoke_recipient(r)?),
                (_, Some(p), _, _) => tenant.shares().revoke_plan(p)?,
                (_, _, Some(c), _) => tenant.shares().revoke_company(c)?,
                (_, _, _, Some(r)) => tenant.shares().revoke_relationship(r)?,
                _ => anyhow::bail!("give --recipient, --plan, --company or --relationship"),
            };
            println!("{revoked} link(s) revoked");
        }
        ShareCommand::List {
            tenant,
            plan,
            relationship,
            json,
        } => {
            let tenant = super::tenant(&host, &tenant)?;
            let rows = match relationship {
                Some(r) => tenant.shares().of_relationship(r)?,
                None => tenant.shares().list(plan)?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<9} {:<6} {:<24} {:<30} {:<8} {:<6} {:<24} {:<20} {:<20} LAST ACCESS",
                    "RECIPIENT",
                    "SHARE",
                    "PLAN",
                    "EMAIL",
                    "STATE",
                    "MAY",
                    "SHARED BY",
                    "SHARED ON",
                    "EXPIRES"
                );
                for r in rows {
                    let state = match r.state {
                        LinkState::Active => "active",
                        LinkState::Expired => "expired",
                        LinkState::Revoked => "revoked",
                        LinkState::Blocked => "blocked",
                    };
                    println!(
                        "{:<9} {:<6} {:<24} {:<30} {:<8} {:<6} {:<24} {:<20} {:<20} {}",
                        r.recipient_id,
                        r.share_id,
                        format!("{} {}", r.plan_id, r.plan_name),
                        r.email,
                        state,
                        r.permission,
                        r.shared_by,
                        time(r.shared_on),
                        time(r.expires_at),
                        r.last_access_at.map_or_else(|| "never".to_owned(), time)
                    );
                }
            }
        }
        ShareCommand::Settings {
            tenant,
            otp,
            expiry_days,
            link_base,
            per_hour,
            actor,
        } => {
            let tenant = actor.tenant(&host, &tenant)?;
            let mut settings = tenant.shares().settings()?;
            let changing =
                otp.is_some() || expiry_days.is_some() || link_base.is_some() || per_hour.is_some();
            if let Some(otp) = otp {
                settings.otp_required = otp == "on";
            }
            if let Some(days) = expiry_days {
                settings.link_expiry_days = days;
            }
            if let Some(base) = link_base {
                settings.link_base = base;
            }
            if let Some(n) = per_hour {
                settings.notifications_per_hour = n;
            }
            if changing {
                tenant.shares().set_settings(&settings)?;
            }
            println!("{}", serde_json::to_string_pretty(&settings)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_shared(plan: &SharedPlan, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(plan)?);
        return Ok(());
    }
    println!(
        "{} for {} ({}), shared by {}",
        plan.name, plan.customer, plan.status, plan.shared_by
    );
    if let Some(note) = &plan.note {
        println!("note: {note}");
    }
    for o in &plan.objectives {
        let due = o.due_date.map(|d| format!(", due {d}")).unwrap_or_default();
        println!("  - {} ({}{due})", o.name, o.status);
        for t in &o.tasks {
            let due = t.due_date.map(|d| format!(", due {d}")).unwrap_or_default();
            let owner = t.owner.as_deref().unwrap_or("unassigned");
            println!(
                "      task {}: {} ({owner}, {}{due})",
                t.id, t.name, t.status
            );
        }
        for c in &o.comments {
            println!("      comment by {}: {}", c.author, inert(&c.body));
        }
    }
    for c in &plan.ctas {
        let due = c.due_date.map(|d| format!(", due {d}")).unwrap_or_default();
        println!("  - CTA {} ({}{due})", c.name, c.status);
        for t in &c.tasks {
            let due = t.due_date.map(|d| format!(", due {d}")).unwrap_or_default();
            println!("      task {}: {} ({}{due})", t.id, t.name, t.status);
        }
    }
    Ok(())
}

/// Unix seconds as RFC 3339 text (UTC).
pub fn time(unix: i64) -> String {
    cs_host::utc_timestamp(unix)
}
