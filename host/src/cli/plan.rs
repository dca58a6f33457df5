//! `cshost plan`: success plans, objectives, tasks and CTAs.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use cs_host::model::{CtaType, Date, Priority};
use cs_host::{Host, NewCta, NewPlan, NewTask, Plan, PlanStatus, TaskOf, Tenant};

/// Who makes a change: the global `--as` user (checked), or the platform operator.
#[derive(Args, Clone)]
pub struct Actor {}

impl Actor {
    /// The tenant, acting as the `--as` user (or the platform operator).
    pub fn tenant<'h>(&self, host: &'h Host, tenant: &str) -> anyhow::Result<Tenant<'h>> {
        super::tenant(host, tenant)
    }
}

#[derive(Subcommand)]
#[command(defer = true)]
pub enum PlanCommand {
    /// Create a draft success plan for a company; prints its id.
    Create {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The customer company's id.
        #[arg(long)]
        company: i64,
        /// The plan's name.
        #[arg(long)]
        name: String,
        /// A free-form type, such as Onboarding.
        #[arg(long = "type", default_value = "")]
        plan_type: String,
        /// When it is due (YYYY-MM-DD).
        #[arg(long)]
        due: Option<Date>,
        /// The relationship (of that company) the plan is for.
        #[arg(long)]
        relationship: Option<i64>,
        /// Allow sharing with external contacts.
        #[arg(long)]
        contacts: bool,
        #[command(flatten)]
        actor: Actor,
    },
    /// Add an objective to a plan; prints its id.
    Objective {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The plan.
        #[arg(long)]
        plan: i64,
        /// The objective's name.
        #[arg(long)]
        name: String,
        /// When it is due (YYYY-MM-DD).
        #[arg(long)]
        due: Option<Date>,
        /// Who may see it [default: external if the plan is shared with contacts].
        #[arg(long)]
        visibility: Option<Visibility>,
        #[command(flatten)]
        actor: Actor,
    },
    /// Add a task to an objective or a CTA; prints its id.
    Task {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The objective the task belongs to.
        #[arg(long, required_unless_present = "cta", conflicts_with = "cta")]
        objective: Option<i64>,
        /// The CTA the task belongs to.
        #[arg(long)]
        cta: Option<i64>,
        /// The task's name.
        #[arg(long)]
        name: String,
        /// Who owns it.
        #[arg(long)]
        owner: Option<String>,
        /// When it is due (YYYY-MM-DD).
        #[arg(long)]
        due: Option<Date>,
        #[command(flatten)]
        actor: Actor,
    },
    /// Comment on an objective (recipients of a shared plan see the comments of the objectives
    /// they see); prints the comment's id.
    Comment {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The objective.
        #[arg(long)]
        objective: i64,
        /// The comment.
        text: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Set (re-apply) a task's due date; a CTA due earlier moves with it.
    TaskDue {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The task.
        task: i64,
        /// The new due date (YYYY-MM-DD).
        due: Date,
        #[command(flatten)]
        actor: Actor,
    },
    /// Change a CTA's due date (refused while one of its tasks is due later), or clear it.
    CtaDue {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The CTA.
        cta: i64,
        /// The new due date (YYYY-MM-DD).
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        due: Option<Date>,
        /// Clear the due date.
        #[arg(long)]
        clear: bool,
        #[command(flatten)]
        actor: Actor,
    },
    /// Make one objective internal only, or shared with external contacts again.
    ObjectiveSharing {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The objective.
        objective: i64,
        /// `internal` or `external`.
        #[arg(value_parser = ["internal", "external"])]
        sharing: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Open a CTA on a company (optionally in a plan); prints its id.
    Cta {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The company.
        #[arg(long)]
        company: i64,
        /// Risk, expansion, lifecycle, activity or objective.
        #[arg(long = "type")]
        kind: CliCtaType,
        /// Its name.
        #[arg(long)]
        name: String,
        /// Low, medium or high.
        #[arg(long, default_value = "medium")]
        priority: CliPriority,
        /// When it is due (YYYY-MM-DD).
        #[arg(long)]
        due: Option<Date>,
        /// The plan it belongs to.
        #[arg(long)]
        plan: Option<i64>,
        /// The plan objective it works towards.
        #[arg(long, requires = "plan")]
        objective: Option<i64>,
        /// The relationship (of that company) it is on.
        #[arg(long)]
        relationship: Option<i64>,
        #[command(flatten)]
        actor: Actor,
    },
    /// Move a plan from Draft to Active (refused while a CTA is due before its tasks).
    Activate {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The plan.
        plan: i64,
        #[command(flatten)]
        actor: Actor,
    },
    /// Reopen a complete plan (complete → active), with a reason for the audit log.
    Reopen {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The plan.
        plan: i64,
        /// Why it is reopened.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Move a plan to another status: draft → active (checks its CTAs' dates), active →
    /// complete. Every other move is refused; a complete plan is reopened with `plan reopen`.
    Status {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The plan.
        plan: i64,
        /// The new status.
        status: CliStatus,
        #[command(flatten)]
        actor: Actor,
    },
    /// Turn a plan's sharing with external contacts on or off (on marks every objective
    /// external).
    Contacts {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The plan.
        plan: i64,
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        switch: String,
        #[command(flatten)]
        actor: Actor,
    },
    /// Show a plan with its objectives, tasks and CTAs.
    Show {
        /// The tenant (or set CSHOST_TENANT).
        #[arg(long, env = "CSHOST_TENANT")]
        tenant: String,
        /// The plan.
        plan: i64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Who may see an objective.
#[derive(Clone, Copy, ValueEnum)]
pub enum Visibility {
    /// Internal users only.
    Internal,
    /// External contacts too.
    External,
}

/// The kinds of CTA.
#[derive(Clone, Copy, ValueEnum)]
pub enum CliCtaType {
    /// Risk.
    Risk,
    /// Expansion.
    Expansion,
    /// Lifecycle.
    Lifecycle,
    /// Activity.
    Activity,
    /// Objective.
    Objective,
}

impl From<CliCtaType> for CtaType {
    fn from(kind: CliCtaType) -> CtaType {
        match kind {
            CliCtaType::Risk => CtaType::Risk,
            CliCtaType::Expansion => CtaType::Expansion,
            CliCtaType::Lifecycle => CtaType::Lifecycle,
            CliCtaType::Activity => CtaType::Activity,
            CliCtaType::Objective => CtaType::Objective,
        }
    }
}

/// A CTA's priority.
#[derive(Clone, Copy, ValueEnum)]
pub enum CliPriority {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
}

/// A plan's status.
#[derive(Clone, Copy, ValueEnum)]
pub enum CliStatus {
    /// Draft.
    Draft,
    /// Active.
    Active,
    /// Complete.
    Complete,
}

pub fn run(
    command: PlanCommand,
    host: &dyn Fn() -> anyhow::Result<Host>,
) -> anyhow::Result<ExitCode> {
    let host = host()?;
    match command {
        PlanCommand::Create {
            tenant,
            company,
            name,
            plan_type,
            due,
            relationship,
            contacts,
            actor,
        } => {
            let id = actor.tenant(&host, &tenant)?.plans().create(&NewPlan {
                company_id: company,
                relationship_id: relationship,
                name,
                plan_type,
                due_date: due,
                share_with_contacts: contacts,
            })?;
            println!("{id}");
        }
        PlanCommand::Objective {
            tenant,
            plan,
            name,
            due,
            visibility,
            actor,
        } => {
            let external = visibility.map(|v| matches!(v, Visibility::External));
            let id = actor
                .tenant(&host, &tenant)?
                .plans()
                .add_objective(plan, &name, due, external)?;
            println!("{id}");
        }
        PlanCommand::Task {
            tenant,
            objective,
            cta,
            name,
            owner,
            due,
            actor,
        } => {
            let of = match (objective, cta) {
                (Some(objective), _) => TaskOf::Objective(objective),
                (None, Some(cta)) => TaskOf::Cta(cta),
                (None, None) => anyhow::bail!("give --objective or --cta"),
            };
            let task = NewTask {
                name,
                owner,
                due_date: due,
            };
            println!(
                "{}",
                actor.tenant(&host, &tenant)?.plans().add_task(of, &task)?
            );
        }
        PlanCommand::CtaDue {
            tenant,
            cta,
            due,
            clear,
            actor,
        } => {
            let due = if clear { None } else { due };
            actor.tenant(&host, &tenant)?.ctas().set_due(cta, due)?;
            match due {
                Some(due) => println!("CTA {cta} is due {due}"),
                None => println!("CTA {cta} has no due date"),
            }
        }
        PlanCommand::ObjectiveSharing {
            tenant,
            objective,
            sharing,
            actor,
        } => {
            actor
                .tenant(&host, &tenant)?
                .plans()
                .set_objective_shared(objective, sharing == "external")?;
            println!("objective {objective} is {sharing}");
        }
        PlanCommand::Comment {
            tenant,
            objective,
            text,
            actor,
        } => {
            let id = actor
                .tenant(&host, &tenant)?
                .plans()
                .comment_objective(objective, &text)?;
            println!("{id}");
        }
        PlanCommand::TaskDue {
            tenant,
            task,
            due,
            actor,
        } => {
            actor
                .tenant(&host, &tenant)?
                .plans()
                .set_task_due(task, Some(due))?;
            println!("task {task} is due {due}");
        }
        PlanCommand::Cta {
            tenant,
            company,
            kind,
            name,
            priority,
            due,
            plan,
            objective,
            relationship,
            actor,
        } => {
            let cta = NewCta {
                company_id: company,
                kind: CtaType::from(kind),
                name,
                priority: match priority {
                    CliPriority::Low => Priority::Low,
                    CliPriority::Medium => Priority::Medium,
                    CliPriority::High => Priority::High,
                },
                due_date: due,
                plan_id: plan,
                objective_id: objective,
            };
            let tenant = actor.tenant(&host, &tenant)?;
            let id = match relationship {
                Some(r) => tenant.ctas().open_on_relationship(r, &cta)?,
                None => tenant.ctas().open(&cta)?,
            };
            println!("{id}");
        }
        PlanCommand::Activate {
            tenant,
            plan,
            actor,
        } => {
            actor
                .tenant(&host, &tenant)?
                .plans()
                .set_status(plan, PlanStatus::Active)?;
            println!("plan {plan} is active");
        }
        PlanCommand::Reopen {
            tenant,
            plan,
            reason,
            actor,
        } => {
            actor
                .tenant(&host, &tenant)?
                .plans()
                .reopen(plan, &reason)?;
            println!("plan {plan} is active again");
        }
        PlanCommand::Status {
            tenant,
            plan,
            status,
            actor,
        } => {
            let status = match status {
                CliStatus::Draft => PlanStatus::Draft,
                CliStatus::Active => PlanStatus::Active,
                CliStatus::Complete => PlanStatus::Complete,
            };
            actor
                .tenant(&host, &tenant)?
                .plans()
                .set_status(plan, status)?;
            println!("plan {plan} is {status}");
        }
        PlanCommand::Contacts {
            tenant,
            plan,
            switch,
            actor,
        } => {
            actor
                .tenant(&host, &tenant)?
                .plans()
                .set_sharing_with_contacts(plan, switch == "on")?;
            println!("plan {plan}: sharing with contacts {switch}");
        }
        PlanCommand::Show { tenant, plan, json } => {
            let tenant = super::tenant(&host, &tenant)?;
            let plan = tenant.plans().get(plan)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                let relationship = match plan.relationship_id {
                    Some(r) => tenant.relationships().get(r)?,
                    None => None,
                };
                print_plan(&plan, relationship.as_ref()).context("printing the plan")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_plan(plan: &Plan, relationship: Option<&cs_host::Relationship>) -> anyhow::Result<()> {
    let due = |d: Option<Date>| d.map(|d| format!(", due {d}")).unwrap_or_default();
    println!(
        "plan {} `{}` ({}{}), company {}{}",
        plan.id,
        plan.name,
        plan.status,
        due(plan.due_date),
        plan.company_id,
        if plan.share_with_contacts {
            ", shared with contacts"
        } else {
            ""
        }
    );
    if let Some(r) = relationship {
        println!(
            "  relationship {} `{}` ({})",
            r.id,
            cs_host::inert(&r.name),
            cs_host::inert(&r.type_name)
        );
    }
    for o in &plan.objectives {
        let who = if o.shared_externally {
            "external"
        } else {
            "internal"
        };
        println!(
            "  objective {} `{}` ({}, {who}{})",
            o.id,
            o.name,
            o.status,
            due(o.due_date)
        );
        for t in &o.tasks {
            println!(
                "    task {} `{}` ({}{})",
                t.id,
                t.name,
                t.status,
                due(t.due_date)
            );
        }
        for c in &o.comments {
            let by = if c.external { "recipient " } else { "" };
            println!(
                "    comment {} by {by}{} at {}: {}",
                c.id,
                c.author,
                cs_host::utc_timestamp(c.at),
                cs_host::inert(&c.body)
            );
        }
    }
    for c in &plan.ctas {
        println!(
            "  cta {} `{}` ({:?}, {:?}, {}{}{}){}",
            c.id,
            c.name,
            c.kind,
            c.priority,
            c.status,
            due(c.due_date),
            c.owner
                .as_deref()
                .map(|o| format!(", owner {o}"))
                .unwrap_or_default(),
            c.closed_reason
                .as_deref()
                .map(|r| format!(": {}", cs_host::inert(r)))
                .unwrap_or_default()
        );
        for t in &c.tasks {
            println!(
                "    task {} `{}` ({}{})",
                t.id,
                t.name,
                t.status,
                due(t.due_date)
            );
        }
    }
    Ok(())
}
