//! Objectives and their tasks, and the plan's sharing-with-contacts switch.

use rusqlite::{OptionalExtension, params};

use super::*;

impl Plans<'_> {
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
        self.tenant.write(|op| {
            op.require(Permission::CreatePlans)?;
            scope::check(op, Of::Plan(plan_id))?;
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
        self.tenant.write(|op| {
            op.require(Permission::SharePlans)?;
            scope::check(op, Of::Objective(objective_id))?;
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
    /// again with [`Plans::set_objective_shared`].
    pub fn set_sharing_with_contacts(&self, plan_id: i64, on: bool) -> Result<()> {
        self.tenant.write(|op| {
            op.require(Permission::SharePlans)?;
            scope::check(op, Of::Plan(plan_id))?;
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
    /// the rule it was activated under); set the CTA's date with [`Plans::set_task_due`].
    pub fn add_task(&self, of: TaskOf, task: &NewTask) -> Result<i64> {
        let name = required("task name", &task.name)?;
        self.tenant.write(|op| {
            op.require(match of {
                TaskOf::Objective(_) => Permission::CreatePlans,
                TaskOf::Cta(_) => Permission::ManageCtas,
            })?;
            scope::check(
                op,
                match of {
                    TaskOf::Objective(id) => Of::Objective(id),
                    TaskOf::Cta(id) => Of::Cta(id),
                },
            )?;
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
        self.tenant.write(|op| {
            op.require(Permission::CreatePlans)?;
            scope::check(op, Of::Task(task_id))?;
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

    /// Comments on an objective, as the acting user; returns the comment's id.
    pub fn comment_objective(&self, objective_id: i64, body: &str) -> Result<i64> {
        self.tenant.write(|op| {
            op.require(Permission::CreatePlans)?;
            scope::check(op, Of::Objective(objective_id))?;
            add_comment(op, objective_id, op.actor, false, body)
        })
    }

    /// Marks a task done (or open again with `done = false`).
    pub fn complete_task(&self, task_id: i64, done: bool) -> Result<()> {
        let status = if done { "done" } else { "open" };
        self.set_item_status("tasks", "task", task_id, status, "task.status")
    }

    pub(super) fn set_item_status(
        &self,
        table: &'static str,
        object: &'static str,
        id: i64,
        status: &str,
        action: &str,
    ) -> Result<()> {
        self.tenant.write(|op| {
            op.require(Permission::ManageCtas)?;
            scope::check(
                op,
                if table == "ctas" {
                    Of::Cta(id)
                } else {
                    Of::Task(id)
                },
            )?;
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
}

pub(super) fn load_tasks(op: &Op<'_>, column: &'static str, id: i64) -> Result<Vec<Task>> {
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

pub(super) fn load_comments(op: &Op<'_>, objective: i64) -> Result<Vec<ObjectiveComment>> {
    let Op { conn, tenant, .. } = *op;
    conn.prepare_cached(
        "SELECT id, author, external, body, created_at FROM objective_comments
         WHERE tenant_id = ?1 AND objective_id = ?2 ORDER BY id",
    )
    .and_then(|mut q| {
        q.query_map(params![tenant.as_str(), objective], |r| {
            Ok(ObjectiveComment {
                id: r.get(0)?,
                author: r.get(1)?,
                external: r.get(2)?,
                body: r.get(3)?,
                at: r.get(4)?,
            })
        })?
        .collect()
    })
    .map_err(Error::from)
}

/// A task's name and CTA, for checking a recipient's change to it.
pub(crate) struct TaskPlace {
    /// The task's name.
    pub(crate) name: String,
    /// The task's CTA, if it is a CTA's task: its id, name and due date.
    pub(crate) cta: Option<(i64, String, Option<Date>)>,
}

/// Task `task_id`'s name and CTA; [`ErrorKind::NotFound`] when the tenant has no such task.
pub(crate) fn task_place(op: &Op<'_>, task_id: i64) -> Result<TaskPlace> {
    let Op { conn, tenant, .. } = *op;
    conn.prepare_cached(
        "SELECT t.name, c.id, c.name, c.due_date
         FROM tasks t LEFT JOIN ctas c ON c.tenant_id = t.tenant_id AND c.id = t.cta_id
         WHERE t.tenant_id = ?1 AND t.id = ?2",
    )?
    .query_row(params![tenant.as_str(), task_id], |r| {
        let cta: Option<i64> = r.get(1)?;
        Ok(TaskPlace {
            name: r.get(0)?,
            cta: match cta {
                Some(id) => Some((id, r.get(2)?, date_column(r, 3)?)),
                None => None,
            },
        })
    })
    .optional()?
    .ok_or_else(|| not_found("task", task_id))
}

/// Applies a recipient's change to a task, audited as the operation's actor (the recipient);
/// the caller has checked the recipient may make it. A CTA's task may not become due after its
/// CTA (a recipient cannot move the CTA: the sharer does). Returns the task's status and due
/// date before and after, as JSON.
pub(crate) fn update_task_for_recipient(
    op: &Op<'_>,
    task_id: i64,
    place: &TaskPlace,
    update: &TaskUpdate,
) -> Result<(serde_json::Value, serde_json::Value)> {
    if let (Some((cta, cta_name, Some(cta_due))), Some(due)) = (&place.cta, update.due_date)
        && due > *cta_due
    {
        return Err(invalid(format!(
            "task {task_id} `{}` cannot be due {due}, after its CTA {cta} `{cta_name}` (due \
             {cta_due}); ask the person who shared the plan to move the CTA's due date first",
            place.name
        )));
    }
    let (status, due): (String, Option<String>) = op.conn.query_row(
        "SELECT status, due_date FROM tasks WHERE tenant_id = ?1 AND id = ?2",
        params![op.tenant.as_str(), task_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let before = serde_json::json!({ "status": status, "due_date": due });
    let new_status = match update.done {
        Some(true) => "done".to_owned(),
        Some(false) => "open".to_owned(),
        None => status,
    };
    let new_due = update.due_date.map(|d| d.to_string()).or(due);
    op.conn.execute(
        "UPDATE tasks SET status = ?3, due_date = ?4 WHERE tenant_id = ?1 AND id = ?2",
        params![op.tenant.as_str(), task_id, new_status, new_due],
    )?;
    let after = serde_json::json!({ "status": new_status, "due_date": new_due });
    op.audit(
        "task.update",
        &format!("task:{task_id}"),
        Some(before.clone()),
        Some(after.clone()),
    )?;
    Ok((before, after))
}

/// The most characters a comment may have.
const COMMENT_MAX_CHARS: usize = 4000;

/// Adds a comment to an objective, written by the operation's actor (`external` when a contact
/// writes it through a link), audited as `objective.comment`; returns its id.
pub(crate) fn add_comment(
    op: &Op<'_>,
    objective_id: i64,
    author: &str,
    external: bool,
    body: &str,
) -> Result<i64> {
    let body = required("comment", body)?;
    if body.chars().count() > COMMENT_MAX_CHARS {
        return Err(invalid(format!(
            "a comment has at most {COMMENT_MAX_CHARS} characters"
        )));
    }
    require(op, Record::Objective, objective_id)?;
    op.conn.execute(
        "INSERT INTO objective_comments (tenant_id, objective_id, author, external, body,
                                         created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            op.tenant.as_str(),
            objective_id,
            author,
            external,
            body,
            op.now
        ],
    )?;
    let id = op.conn.last_insert_rowid();
    op.audit(
        "objective.comment",
        &format!("objective:{objective_id}"),
        None,
        Some(serde_json::json!({ "comment": id, "body": body })),
    )?;
    Ok(id)
}
