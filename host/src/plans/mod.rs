//! Success plans, their objectives and tasks, and CTAs (calls to action).
//!
//! A plan belongs to a company (optionally to one of its relationships) and moves from Draft to
//! Active to Complete. Its objectives are each internal-only or shared with external contacts.
//! A CTA's due date may not be earlier than any of its tasks' due dates; a plan whose CTAs break
//! that rule cannot become active, and stays a draft (the SUCCESS_PLAN_OBJECTIVES_UPDATED_FAILED
//! case of the CS handbook).

pub(crate) mod dates;
mod relationship;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::audit::{self, Change};
use crate::companies;
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::host::Tenant;
use crate::model::{CtaRequest, CtaType, Date, Priority};
use crate::names::named_enum;
use crate::relationships;

pub(crate) use relationship::count_on_relationship;

/// Where a plan is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Being written; the default.
    #[default]
    Draft,
    /// Being worked on. A plan only becomes active if no CTA of it is due before its tasks.
    Active,
    /// Done.
    Complete,
}

named_enum!(PlanStatus, "plan status", {
    Draft => "draft",
    Active => "active",
    Complete => "complete",
});

/// A new success plan, for [`Tenant::create_plan`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewPlan {
    /// The customer company the plan is for.
    pub company_id: i64,
    /// The relationship of that company the plan is for, if any.
    #[serde(default)]
    pub relationship_id: Option<i64>,
    /// The plan's name (required).
    pub name: String,
    /// A free-form type, such as `Onboarding`.
    #[serde(default)]
    pub plan_type: String,
    /// When the plan is due.
    #[serde(default)]
    pub due_date: Option<Date>,
    /// Whether the plan may be shared with external contacts. By default, it may not (plans are
    /// for internal sharing only until this is turned on).
    #[serde(default)]
    pub share_with_contacts: bool,
}

/// A success plan with its objectives, their tasks, and the plan's CTAs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The plan's id.
    pub id: i64,
    /// The customer company.
    pub company_id: i64,
    /// The relationship, if the plan is for one.
    pub relationship_id: Option<i64>,
    /// The plan's name.
    pub name: String,
    /// Its free-form type.
    pub plan_type: String,
    /// Draft, active or complete.
    pub status: PlanStatus,
    /// When it is due.
    pub due_date: Option<Date>,
    /// Whether it may be shared with external contacts.
    pub share_with_contacts: bool,
    /// Its objectives, in the order they were added.
    pub objectives: Vec<PlanObjective>,
    /// Its CTAs, in the order they were opened.
    pub ctas: Vec<Cta>,
}

/// An objective of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanObjective {
    /// The objective's id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its status, such as `open`.
    pub status: String,
    /// When it is due.
    pub due_date: Option<Date>,
    /// True if external contacts may see it; false if it is internal only.
    pub shared_externally: bool,
    /// Its tasks.
    pub tasks: Vec<Task>,
}

/// A task of an objective or of a CTA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The task's id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Who owns it (an email or a name).
    pub owner: Option<String>,
    /// When it is due.
    pub due_date: Option<Date>,
    /// `open` or `done`.
    pub status: String,
}

/// A new task, for [`Tenant::add_task`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NewTask {
    /// The task's name (required).
    pub name: String,
    /// Who owns it.
    #[serde(default)]
    pub owner: Option<String>,
    /// When it is due.
    #[serde(default)]
    pub due_date: Option<Date>,
}

/// What a task belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskOf {
    /// An objective of a plan.
    Objective(i64),
    /// A CTA.
    Cta(i64),
}

/// A call to action on a company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cta {
    /// The CTA's id.
    pub id: i64,
    /// The company it is about.
    pub company_id: i64,
    /// The plan it belongs to, if any.
    pub plan_id: Option<i64>,
    /// The plan objective it works towards, if any.
    pub objective_id: Option<i64>,
    /// Risk, expansion, lifecycle, activity or objective.
    pub kind: CtaType,
    /// Its name.
    pub name: String,
    /// Low, medium or high.
    pub priority: Priority,
    /// `open` or `closed`.
    pub status: String,
    /// When it is due.
    pub due_date: Option<Date>,
    /// Who opened it: a user's email, or `plugin:<name>`.
    pub source: String,
    /// Its tasks.
    pub tasks: Vec<Task>,
}

/// A new CTA, for [`Tenant::open_cta`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCta {
    /// The company it is about.
    pub company_id: i64,
    /// The kind of CTA.
    pub kind: CtaType,
    /// Its name (required).
    pub name: String,
    /// Its priority. By default, medium.
    #[serde(default)]
    pub priority: Priority,
    /// When it is due.
    #[serde(default)]
    pub due_date: Option<Date>,
    /// The plan it belongs to (a plan of the same company), if any.
    #[serde(default)]
    pub plan_id: Option<i64>,
    /// The objective of that plan it works towards, if any.
    #[serde(default)]
    pub objective_id: Option<i64>,
}

impl Tenant<'_> {
    /// Creates a draft success plan for a company and returns its id.
    pub fn create_plan(&self, plan: &NewPlan) -> Result<i64> {
        let name = required("plan name", &plan.name)?;
        let now = self.host.now();
        self.write(|op| {
            companies::require(op, plan.company_id)?;
            if let Some(relationship) = plan.relationship_id {
                match relationships::company_of(op, relationship)? {
                    None => return Err(not_found("relationship", relationship)),
                    Some(company) if company != plan.company_id => {
                        return Err(invalid(format!(
                            "relationship {relationship} belongs to company {company}, not to \
                             company {}",
                            plan.company_id
                        )));
                    }
                    Some(_) => {}
                }
            }
            op.conn.execute(
                "INSERT INTO success_plans (tenant_id, company_id, relationship_id, name, type,
                                            due_date, share_with_contacts, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    op.tenant.as_str(),
                    plan.company_id,
                    plan.relationship_id,
                    name,
                    plan.plan_type.trim(),
                    plan.due_date.map(|d| d.to_string()),
                    plan.share_with_contacts,
                    now
                ],
            )?;
            let id = op.conn.last_insert_rowid();
            plan_audit(op, "plan.create", &format!("plan:{id}"), None, plan)?;
            Ok(id)
        })
    }

    /// Adds an objective to a plan and returns its id. `shared_externally` says whether external
    /// contacts may see it; by default (`None`) it follows the plan's "sharing with contacts"
    /// switch.
    pub fn add_objective(
        &self,
        plan_id: i64,
        name: &str,
        due_date: Option<Date>,
        shared_externally: Option<bool>,
    ) -> Result<i64> {
        let name = required("objective name", name)?;
        self.write(|op| {
            let contacts: bool = op
                .conn
                .query_row(
                    "SELECT share_with_contacts FROM success_plans
                     WHERE tenant_id = ?1 AND id = ?2",
                    params![op.tenant.as_str(), plan_id],
                    |row| row.get(0),
                )
                .optional()?
                .ok_or_else(|| not_found("success plan", plan_id))?;
            let shared = shared_externally.unwrap_or(contacts);
            op.conn.execute(
                "INSERT INTO objectives (tenant_id, plan_id, name, due_date, shared_externally)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    op.tenant.as_str(),
                    plan_id,
                    name,
                    due_date.map(|d| d.to_string()),
                    shared
                ],
            )?;
            let id = op.conn.last_insert_rowid();
            let after = serde_json::json!({
                "plan": plan_id, "name": name, "due_date": due_date, "shared_externally": shared,
            });
            plan_audit(
                op,
                "objective.add",
                &format!("objective:{id}"),
                None,
                &after,
            )?;
            Ok(id)
        })
    }

    /// Marks an objective as shared with external contacts (`true`) or internal only (`false`).
    pub fn set_objective_shared(&self, objective_id: i64, shared_externally: bool) -> Result<()> {
        self.write(|op| {
            let changed = op.conn.execute(
                "UPDATE objectives SET shared_externally = ?3 WHERE tenant_id = ?1 AND id = ?2",
                params![op.tenant.as_str(), objective_id, shared_externally],
            )?;
            if changed == 0 {
                return Err(not_found("objective", objective_id));
            }
            let after = serde_json::json!({ "shared_externally": shared_externally });
            let subject = format!("objective:{objective_id}");
            plan_audit(op, "objective.sharing", &subject, None, &after)
        })
    }

    /// Turns a plan's "sharing with contacts" switch on or off. Turning it on marks every
    /// objective of the plan as shared externally; single objectives can then be made internal
    /// again with [`Tenant::set_objective_shared`].
    pub fn set_sharing_with_contacts(&self, plan_id: i64, on: bool) -> Result<()> {
        self.write(|op| {
            let changed = op.conn
                .execute(
                    "UPDATE success_plans SET share_with_contacts = ?3
                     WHERE tenant_id = ?1 AND id = ?2",
                    params![op.tenant.as_str(), plan_id, on],
                )
                ?;
            if changed == 0 {
                return Err(not_found("success plan", plan_id));
            }
            if on {
                op.conn.execute(
                    "UPDATE objectives SET shared_externally = 1 WHERE tenant_id = ?1 AND plan_id = ?2",
                    params![op.tenant.as_str(), plan_id],
                )
                ?;
            }
            let after = serde_json::json!({ "share_with_contacts": on });
            plan_audit(op, "plan.sharing", &format!("plan:{plan_id}"), None, &after)
        })
    }

    /// Adds a task to an objective or a CTA and returns its id.
    ///
    /// On a CTA of an active plan, a task may not be due after the CTA (the plan would break
    /// the rule it was activated under); set the CTA's date with [`Tenant::set_task_due`].
    pub fn add_task(&self, of: TaskOf, task: &NewTask) -> Result<i64> {
        let name = required("task name", &task.name)?;
        self.write(|op| {
            let (objective, cta) = match of {
                TaskOf::Objective(id) => {
                    require(op, Record::Objective, id)?;
                    (Some(id), None)
                }
                TaskOf::Cta(id) => {
                    let (due, plan_status) = cta_due_and_plan_status(op, id)?;
                    if let (Some(cta_due), Some(task_due), Some(PlanStatus::Active)) =
                        (due, task.due_date, plan_status)
                        && task_due > cta_due
                    {
                        return Err(invalid(format!(
                            "task `{name}` is due {task_due}, after its CTA {id} (due \
                             {cta_due}) on an active plan; move the CTA's due date first"
                        )));
                    }
                    (None, Some(id))
                }
            };
            op.conn.execute(
                "INSERT INTO tasks (tenant_id, objective_id, cta_id, name, owner, due_date)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    op.tenant.as_str(),
                    objective,
                    cta,
                    name,
                    task.owner
                        .as_deref()
                        .map(str::trim)
                        .filter(|o| !o.is_empty()),
                    task.due_date.map(|d| d.to_string())
                ],
            )?;
            let id = op.conn.last_insert_rowid();
            let after = serde_json::json!({
                "objective": objective, "cta": cta, "task": task,
            });
            plan_audit(op, "task.add", &format!("task:{id}"), None, &after)?;
            Ok(id)
        })
    }

    /// Sets (re-applies) a task's due date. When the task belongs to a CTA due earlier, the
    /// CTA's due date moves to the task's: this is how a plan that failed to activate is fixed.
    pub fn set_task_due(&self, task_id: i64, due_date: Option<Date>) -> Result<()> {
        self.write(|op| {
            let cta: Option<i64> = op
                .conn
                .query_row(
                    "SELECT cta_id FROM tasks WHERE tenant_id = ?1 AND id = ?2",
                    params![op.tenant.as_str(), task_id],
                    |row| row.get(0),
                )
                .optional()?
                .ok_or_else(|| not_found("task", task_id))?;
            op.conn.execute(
                "UPDATE tasks SET due_date = ?3 WHERE tenant_id = ?1 AND id = ?2",
                params![op.tenant.as_str(), task_id, due_date.map(|d| d.to_string())],
            )?;
            if let (Some(cta), Some(due)) = (cta, due_date) {
                // Dates are 'YYYY-MM-DD' text, so text order is date order.
                op.conn.execute(
                    "UPDATE ctas SET due_date = ?3
                     WHERE tenant_id = ?1 AND id = ?2 AND due_date IS NOT NULL AND due_date < ?3",
                    params![op.tenant.as_str(), cta, due.to_string()],
                )?;
            }
            let after = serde_json::json!({ "due_date": due_date });
            plan_audit(op, "task.due", &format!("task:{task_id}"), None, &after)
        })
    }

    /// Opens a CTA on a company, on behalf of the tenant's acting user, and returns its id.
    pub fn open_cta(&self, cta: &NewCta) -> Result<i64> {
        let name = required("CTA name", &cta.name)?;
        let now = self.host.now();
        self.write(|op| {
            companies::require(op, cta.company_id)?;
            if let Some(plan) = cta.plan_id {
                let company: i64 = op
                    .conn
                    .query_row(
                        "SELECT company_id FROM success_plans WHERE tenant_id = ?1 AND id = ?2",
                        params![op.tenant.as_str(), plan],
                        |row| row.get(0),
                    )
                    .optional()?
                    .ok_or_else(|| not_found("success plan", plan))?;
                if company != cta.company_id {
                    return Err(invalid(format!(
                        "success plan {plan} is a plan of company {company}, not of company {}",
                        cta.company_id
                    )));
                }
            }
            if let Some(objective) = cta.objective_id {
                let plan: i64 = op
                    .conn
                    .query_row(
                        "SELECT plan_id FROM objectives WHERE tenant_id = ?1 AND id = ?2",
                        params![op.tenant.as_str(), objective],
                        |row| row.get(0),
                    )
                    .optional()?
                    .ok_or_else(|| not_found("objective", objective))?;
                if cta.plan_id != Some(plan) {
                    return Err(invalid(format!(
                        "objective {objective} belongs to success plan {plan}: give that plan \
                         as the CTA's plan"
                    )));
                }
            }
            let id = insert_cta(
                op,
                cta.company_id,
                cta.plan_id,
                cta.objective_id,
                (cta.kind, name, cta.priority, cta.due_date),
                &self.actor,
                now,
            )?;
            plan_audit(op, "cta.open", &format!("cta:{id}"), None, cta)?;
            Ok(id)
        })
    }

    /// Closes a CTA (or opens it again with `closed = false`).
    pub fn close_cta(&self, cta_id: i64, closed: bool) -> Result<()> {
        let status = if closed { "closed" } else { "open" };
        self.set_status("ctas", "CTA", cta_id, status, "cta.status")
    }

    /// Marks a task done (or open again with `done = false`).
    pub fn complete_task(&self, task_id: i64, done: bool) -> Result<()> {
        let status = if done { "done" } else { "open" };
        self.set_status("tasks", "task", task_id, status, "task.status")
    }

    fn set_status(
        &self,
        table: &'static str,
        object: &'static str,
        id: i64,
        status: &str,
        action: &str,
    ) -> Result<()> {
        self.write(|op| {
            let changed = op.conn.execute(
                &format!("UPDATE {table} SET status = ?3 WHERE tenant_id = ?1 AND id = ?2"),
                params![op.tenant.as_str(), id, status],
            )?;
            if changed == 0 {
                return Err(not_found(object, id));
            }
            let after = serde_json::json!({ "status": status });
            let subject = format!("{}:{id}", object.to_ascii_lowercase());
            plan_audit(op, action, &subject, None, &after)
        })
    }

    /// Moves a plan to another status. Becoming active fails, and the plan keeps its status,
    /// while any CTA of the plan is due before one of its tasks
    /// ([`ErrorKind::CtaDueBeforeTask`] names the first such CTA and task).
    pub fn set_plan_status(&self, plan_id: i64, status: PlanStatus) -> Result<()> {
        self.write(|op| {
            let before: String = op
                .conn
                .query_row(
                    "SELECT status FROM success_plans WHERE tenant_id = ?1 AND id = ?2",
                    params![op.tenant.as_str(), plan_id],
                    |row| row.get(0),
                )
                .optional()?
                .ok_or_else(|| not_found("success plan", plan_id))?;
            if status == PlanStatus::Active {
                check_cta_dates(op, plan_id)?;
            }
            op.conn.execute(
                "UPDATE success_plans SET status = ?3 WHERE tenant_id = ?1 AND id = ?2",
                params![op.tenant.as_str(), plan_id, status.as_str()],
            )?;
            op.audit(
                "plan.status",
                &format!("plan:{plan_id}"),
                Some(serde_json::json!({ "status": before })),
                Some(serde_json::json!({ "status": status })),
            )
        })
    }

    /// A plan with its objectives, tasks and CTAs.
    pub fn plan(&self, plan_id: i64) -> Result<Plan> {
        self.read(|op| load_plan(op, plan_id))
    }

    /// The plans of a company, oldest first, with their objectives, tasks and CTAs.
    pub fn plans(&self, company_id: i64) -> Result<Vec<Plan>> {
        self.read(|op| {
            let ids: Vec<i64> = op
                .conn
                .prepare_cached(
                    "SELECT id FROM success_plans WHERE tenant_id = ?1 AND company_id = ?2
                     ORDER BY id",
                )
                .and_then(|mut q| {
                    q.query_map(params![op.tenant.as_str(), company_id], |r| r.get(0))?
                        .collect()
                })?;
            ids.into_iter().map(|id| load_plan(op, id)).collect()
        })
    }

    /// The CTAs of a company (in a plan or not), oldest first, with their tasks.
    pub fn ctas(&self, company_id: i64) -> Result<Vec<Cta>> {
        self.read(|op| load_ctas(op, "company_id", company_id))
    }
}

/// Records a change of a plan (or its parts) in the audit log, in the operation's transaction.
fn plan_audit(
    op: &Op<'_>,
    action: &str,
    subject: &str,
    before: Option<serde_json::Value>,
    after: &impl Serialize,
) -> Result<()> {
    op.audit(action, subject, before, serde_json::to_value(after).ok())
}

/// Opens a CTA on a company inside the caller's transaction and returns its id. `source` says
/// who asked: `plugin:<name>` or a user's email. The CTA is due `request.due_in_days` days
/// after `now` (no due date when that is absent).
///
/// The *partner created* hook's OpenCta action goes through here.
pub(crate) fn open_cta(
    op: &Op<'_>,
    company_id: i64,
    request: &CtaRequest,
    source: &str,
) -> Result<i64> {
    let Op {
        conn: tx,
        tenant,
        now,
        ..
    } = *op;
    let name = required("CTA name", &request.name)?;
    companies::require(op, company_id)?;
    let due = request
        .due_in_days
        .map(|days| dates::due_in(now, days).map_err(|e| invalid(format!("{source}: {e}"))))
        .transpose()?;
    let id = insert_cta(
        op,
        company_id,
        None,
        None,
        (request.kind, name, request.priority, due),
        source,
        now,
    )?;
    audit::record(
        tx,
        now,
        Change {
            tenant: Some(tenant),
            actor: source,
            action: "cta.open",
            subject: &format!("cta:{id}"),
            before: None,
            after: Some(serde_json::json!({
                "company_id": company_id, "kind": request.kind, "name": name,
                "priority": request.priority, "due_date": due,
            })),
        },
    )?;
    Ok(id)
}

#[allow(clippy::too_many_arguments)]
fn insert_cta(
    op: &Op<'_>,
    company_id: i64,
    plan_id: Option<i64>,
    objective_id: Option<i64>,
    (kind, name, priority, due): (CtaType, &str, Priority, Option<Date>),
    source: &str,
    now: i64,
) -> Result<i64> {
    let Op {
        conn: tx, tenant, ..
    } = *op;
    tx.prepare_cached(
        "INSERT INTO ctas (tenant_id, company_id, plan_id, objective_id, type, name, priority,
                           due_date, source, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .and_then(|mut insert| {
        insert.execute(params![
            tenant.as_str(),
            company_id,
            plan_id,
            objective_id,
            cta_type_str(kind),
            name,
            priority_str(priority),
            due.map(|d| d.to_string()),
            source,
            now
        ])
    })?;
    Ok(tx.last_insert_rowid())
}

/// Fails with [`ErrorKind::CtaDueBeforeTask`] if a CTA of the plan is due before one of its
/// tasks; the earliest-opened such CTA, and its latest task, are named.
fn check_cta_dates(op: &Op<'_>, plan: i64) -> Result<()> {
    let Op { conn, tenant, .. } = *op;
    let broken = conn
        .query_row(
            "SELECT c.id, c.name, c.due_date, t.id, t.name, t.due_date
             FROM ctas c JOIN tasks t ON t.tenant_id = c.tenant_id AND t.cta_id = c.id
             WHERE c.tenant_id = ?1 AND c.plan_id = ?2
               AND c.due_date IS NOT NULL AND t.due_date IS NOT NULL AND t.due_date > c.due_date
             ORDER BY c.id, t.due_date DESC, t.id LIMIT 1",
            params![tenant.as_str(), plan],
            |r| {
                Ok(ErrorKind::CtaDueBeforeTask {
                    plan,
                    cta: r.get(0)?,
                    cta_name: r.get(1)?,
                    cta_due: r.get(2)?,
                    task: r.get(3)?,
                    task_name: r.get(4)?,
                    task_due: r.get(5)?,
                })
            },
        )
        .optional()?;
    match broken {
        Some(kind) => Err(Error::new(kind)),
        None => Ok(()),
    }
}

fn cta_due_and_plan_status(op: &Op<'_>, cta: i64) -> Result<(Option<Date>, Option<PlanStatus>)> {
    let Op { conn, tenant, .. } = *op;
    let (due, status): (Option<String>, Option<String>) = conn
        .query_row(
            "SELECT c.due_date, p.status FROM ctas c
             LEFT JOIN success_plans p ON p.tenant_id = c.tenant_id AND p.id = c.plan_id
             WHERE c.tenant_id = ?1 AND c.id = ?2",
            params![tenant.as_str(), cta],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| not_found("CTA", cta))?;
    Ok((
        due.and_then(|d| d.parse().ok()),
        status.and_then(|s| s.parse().ok()),
    ))
}

pub(crate) fn load_plan(op: &Op<'_>, plan_id: i64) -> Result<Plan> {
    let Op { conn, tenant, .. } = *op;
    let mut plan = conn
        .prepare_cached(
            "SELECT id, company_id, relationship_id, name, type, status, due_date,
                    share_with_contacts
             FROM success_plans WHERE tenant_id = ?1 AND id = ?2",
        )
        .and_then(|mut q| {
            q.query_row(params![tenant.as_str(), plan_id], |r| {
                Ok(Plan {
                    id: r.get(0)?,
                    company_id: r.get(1)?,
                    relationship_id: r.get(2)?,
                    name: r.get(3)?,
                    plan_type: r.get(4)?,
                    status: r.get::<_, String>(5)?.parse().unwrap_or(PlanStatus::Draft),
                    due_date: date_column(r, 6)?,
                    share_with_contacts: r.get(7)?,
                    objectives: Vec::new(),
                    ctas: Vec::new(),
                })
            })
            .optional()
        })?
        .ok_or_else(|| not_found("success plan", plan_id))?;
    plan.objectives = conn
        .prepare_cached(
            "SELECT id, name, status, due_date, shared_externally FROM objectives
             WHERE tenant_id = ?1 AND plan_id = ?2 ORDER BY id",
        )
        .and_then(|mut q| {
            q.query_map(params![tenant.as_str(), plan_id], |r| {
                Ok(PlanObjective {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    status: r.get(2)?,
                    due_date: date_column(r, 3)?,
                    shared_externally: r.get(4)?,
                    tasks: Vec::new(),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })?;
    for objective in &mut plan.objectives {
        objective.tasks = load_tasks(op, "objective_id", objective.id)?;
    }
    plan.ctas = load_ctas(op, "plan_id", plan_id)?;
    Ok(plan)
}

fn load_ctas(op: &Op<'_>, column: &'static str, id: i64) -> Result<Vec<Cta>> {
    let Op { conn, tenant, .. } = *op;
    let sql = format!(
        "SELECT id, company_id, plan_id, objective_id, type, name, priority, status, due_date,
                source
         FROM ctas WHERE tenant_id = ?1 AND {column} = ?2 ORDER BY id"
    );
    let mut ctas = conn.prepare_cached(&sql).and_then(|mut q| {
        q.query_map(params![tenant.as_str(), id], |r| {
            Ok(Cta {
                id: r.get(0)?,
                company_id: r.get(1)?,
                plan_id: r.get(2)?,
                objective_id: r.get(3)?,
                kind: json_enum(r, 4)?,
                name: r.get(5)?,
                priority: json_enum(r, 6)?,
                status: r.get(7)?,
                due_date: date_column(r, 8)?,
                source: r.get(9)?,
                tasks: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()
    })?;
    for cta in &mut ctas {
        cta.tasks = load_tasks(op, "cta_id", cta.id)?;
    }
    Ok(ctas)
}

fn load_tasks(op: &Op<'_>, column: &'static str, id: i64) -> Result<Vec<Task>> {
    let Op { conn, tenant, .. } = *op;
    let sql = format!(
        "SELECT id, name, owner, due_date, status FROM tasks
         WHERE tenant_id = ?1 AND {column} = ?2 ORDER BY id"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut q| {
            q.query_map(params![tenant.as_str(), id], |r| {
                Ok(Task {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    owner: r.get(2)?,
                    due_date: date_column(r, 3)?,
                    status: r.get(4)?,
                })
            })?
            .collect()
        })
        .map_err(Error::from)
}

/// A `YYYY-MM-DD` column as a date.
fn date_column(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Option<Date>> {
    let text: Option<String> = row.get(index)?;
    text.map(|t| {
        t.parse().map_err(|e: crate::model::InvalidDate| {
            rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, e.into())
        })
    })
    .transpose()
}

/// A snake_case enum column (CTA type, priority) read through its serde name.
fn json_enum<T: serde::de::DeserializeOwned>(
    row: &rusqlite::Row<'_>,
    index: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_value(serde_json::Value::String(text)).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, e.into())
    })
}

fn cta_type_str(kind: CtaType) -> &'static str {
    match kind {
        CtaType::Risk => "risk",
        CtaType::Expansion => "expansion",
        CtaType::Lifecycle => "lifecycle",
        CtaType::Activity => "activity",
        CtaType::Objective => "objective",
    }
}

fn priority_str(priority: Priority) -> &'static str {
    match priority {
        Priority::Low => "low",
        Priority::Medium => "medium",
        Priority::High => "high",
    }
}

/// The name of plan `id`; `None` when the tenant has no such plan.
pub(crate) fn name(op: &Op<'_>, id: i64) -> Result<Option<String>> {
    let name = op
        .conn
        .prepare_cached("SELECT name FROM success_plans WHERE tenant_id = ?1 AND id = ?2")?
        .query_row(params![op.tenant.as_str(), id], |row| row.get(0))
        .optional()?;
    Ok(name)
}

/// The ids of the plans of company `company`.
pub(crate) fn ids_of_company(op: &Op<'_>, company: i64) -> Result<Vec<i64>> {
    let ids = op
        .conn
        .prepare_cached("SELECT id FROM success_plans WHERE tenant_id = ?1 AND company_id = ?2")?
        .query_map(params![op.tenant.as_str(), company], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// A kind of record this module owns, for [`require`].
#[derive(Clone, Copy)]
pub(crate) enum Record {
    /// A success plan.
    Plan,
    /// An objective of a plan.
    Objective,
}

/// Fails with [`ErrorKind::NotFound`] unless the tenant has the record `id`.
pub(crate) fn require(op: &Op<'_>, record: Record, id: i64) -> Result<()> {
    let (sql, object) = match record {
        Record::Plan => (
            "SELECT 1 FROM success_plans WHERE tenant_id = ?1 AND id = ?2",
            "success plan",
        ),
        Record::Objective => (
            "SELECT 1 FROM objectives WHERE tenant_id = ?1 AND id = ?2",
            "objective",
        ),
    };
    if op
        .conn
        .prepare_cached(sql)?
        .exists(params![op.tenant.as_str(), id])?
    {
        Ok(())
    } else {
        Err(not_found(object, id))
    }
}

pub(crate) fn not_found(object: &'static str, id: impl ToString) -> Error {
    Error::new(ErrorKind::NotFound {
        object,
        id: id.to_string(),
    })
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::Invalid(message))
}

/// The trimmed text, or an error naming the field when it is empty.
fn required<'a>(field: &str, text: &'a str) -> Result<&'a str> {
    let text = text.trim();
    if text.is_empty() {
        Err(invalid(format!("the {field} is required")))
    } else {
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Host, HostConfig, TenantLevel};
    use crate::store::TenantId;

    fn host_with_company() -> (Host, i64) {
        let host = Host::open_in_memory(HostConfig::default()).unwrap();
        host.create_tenant("acme", "Acme", TenantLevel::Both)
            .unwrap();
        let company = host
            .store()
            .write(|tx| {
                tx.execute(
                    "INSERT INTO companies (tenant_id, name, created_at, updated_at)
                     VALUES ('acme', 'Globex', 0, 0)",
                    [],
                )
                .map_err(Error::from)?;
                Ok(tx.last_insert_rowid())
            })
            .unwrap();
        (host, company)
    }

    #[test]
    fn open_cta_sets_the_due_date_from_now_and_records_the_source() {
        let (host, company) = host_with_company();
        let tenant = TenantId::new("acme");
        let request = CtaRequest {
            kind: CtaType::Lifecycle,
            name: "Welcome the partner".into(),
            priority: Priority::High,
            due_in_days: Some(14),
        };
        // 2026-01-01T00:00:00Z.
        let now = 1_767_225_600;
        let id = host
            .store()
            .write(|tx| {
                let op = Op {
                    conn: tx,
                    tenant: &tenant,
                    now,
                    actor: "system",
                };
                open_cta(&op, company, &request, "plugin:welcome")
            })
            .unwrap();
        let ctas = host.tenant("acme").unwrap().ctas(company).unwrap();
        assert_eq!(ctas.len(), 1);
        assert_eq!(ctas[0].id, id);
        assert_eq!(ctas[0].due_date, Some(Date::new(2026, 1, 15).unwrap()));
        assert_eq!(ctas[0].source, "plugin:welcome");
        assert_eq!(ctas[0].priority, Priority::High);
        assert_eq!(ctas[0].kind, CtaType::Lifecycle);
    }

    #[test]
    fn open_cta_rejects_another_tenants_company() {
        let (host, company) = host_with_company();
        host.create_tenant("other", "Other", TenantLevel::Both)
            .unwrap();
        let request = CtaRequest {
            kind: CtaType::Risk,
            name: "Churn risk".into(),
            priority: Priority::Medium,
            due_in_days: None,
        };
        let error = host
            .store()
            .write(|tx| {
                let op = Op {
                    conn: tx,
                    tenant: &TenantId::new("other"),
                    now: 0,
                    actor: "a@x",
                };
                open_cta(&op, company, &request, "a@x")
            })
            .unwrap_err();
        assert!(
            matches!(
                error.kind(),
                ErrorKind::NotFound {
                    object: "company",
                    ..
                }
            ),
            "{error}"
        );
    }
}
