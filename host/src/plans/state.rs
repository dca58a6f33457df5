//! A plan's creation and its state machine: Draft, Active, Complete.

use rusqlite::{OptionalExtension, params};

use super::*;

impl Plans<'_> {
    /// Creates a draft success plan for a company and returns its id.
    pub fn create(&self, plan: &NewPlan) -> Result<i64> {
        let name = required("plan name", &plan.name)?;
        let now = self.tenant.host.now();
        self.tenant.write(|op| {
            op.require(Permission::CreatePlans)?;
            scope::require_owner(op, plan.company_id, plan.relationship_id)?;
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

    /// Moves a plan along its state machine (see [`PlanStatus`]): Draft → Active (refused
    /// while a CTA of the plan is due before one of its tasks), Active → Complete. Every other
    /// move is refused with [`ErrorKind::PlanTransitionRefused`], which names it; reopening a
    /// complete plan is [`Plans::reopen`], with a reason. A refused move changes nothing.
    /// Audited as `plan.status`.
    pub fn set_status(&self, plan_id: i64, status: PlanStatus) -> Result<()> {
        self.tenant.write(|op| {
            op.require(Permission::ActivatePlans)?;
            scope::check(op, Of::Plan(plan_id))?;
            let from = status_of(op, plan_id)?;
            let refuse = |reason: &str| refused(plan_id, from, status, reason);
            if from == status {
                return Err(refuse(&format!("the plan is already {status}")));
            }
            match (from, status) {
                (PlanStatus::Draft, PlanStatus::Active) => check_cta_dates(op, plan_id, from)?,
                (PlanStatus::Active, PlanStatus::Complete) => {}
                (PlanStatus::Draft, PlanStatus::Complete) => {
                    return Err(refuse(
                        "a draft plan is activated (which checks its CTAs' dates) before it is \
                         completed",
                    ));
                }
                (PlanStatus::Active, PlanStatus::Draft) => {
                    return Err(refuse(
                        "an active plan does not go back to draft; its objectives, tasks and \
                         CTAs can still be edited while it is active",
                    ));
                }
                (PlanStatus::Complete, PlanStatus::Active) => {
                    return Err(refuse(
                        "reopening a complete plan is explicit: reopen it with a reason \
                         (`cshost plan reopen PLAN --reason …`)",
                    ));
                }
                (PlanStatus::Complete, _) => {
                    return Err(refuse(
                        "a complete plan is only reopened (complete → active), with a reason \
                         (`cshost plan reopen PLAN --reason …`)",
                    ));
                }
                // A status to itself, refused above.
                (PlanStatus::Draft | PlanStatus::Active, _) => {
                    return Err(refuse(&format!("the plan is already {status}")));
                }
            }
            move_to(op, plan_id, from, status, "plan.status", None)
        })
    }

    /// Reopens a complete plan: Complete → Active, with a reason (required), audited as
    /// `plan.reopen` with the reason. Like activation, it is refused while a CTA of the plan
    /// is due before one of its tasks; a plan that is not complete is not reopened.
    pub fn reopen(&self, plan_id: i64, reason: &str) -> Result<()> {
        self.tenant.write(|op| {
            op.require(Permission::ActivatePlans)?;
            scope::check(op, Of::Plan(plan_id))?;
            let from = status_of(op, plan_id)?;
            let to = PlanStatus::Active;
            if from != PlanStatus::Complete {
                return Err(refused(
                    plan_id,
                    from,
                    to,
                    &format!("only a complete plan is reopened, and this one is {from}"),
                ));
            }
            let reason = reason.trim();
            if reason.is_empty() {
                return Err(refused(
                    plan_id,
                    from,
                    to,
                    "reopening needs a reason (`--reason`), for the audit log",
                ));
            }
            check_cta_dates(op, plan_id, from)?;
            move_to(op, plan_id, from, to, "plan.reopen", Some(reason))
        })
    }
}

fn status_of(op: &Op<'_>, plan_id: i64) -> Result<PlanStatus> {
    let status: String = op
        .conn
        .query_row(
            "SELECT status FROM success_plans WHERE tenant_id = ?1 AND id = ?2",
            params![op.tenant.as_str(), plan_id],
            |row| row.get(0),
        )
        .optional()?
        .ok_or_else(|| not_found("success plan", plan_id))?;
    status.parse()
}

fn refused(plan: i64, from: PlanStatus, to: PlanStatus, reason: &str) -> Error {
    Error::new(ErrorKind::PlanTransitionRefused {
        plan,
        from,
        to,
        reason: reason.to_owned(),
    })
}

/// Writes the new status and its audit record (with the reason, for a reopening).
fn move_to(
    op: &Op<'_>,
    plan_id: i64,
    from: PlanStatus,
    to: PlanStatus,
    action: &str,
    reason: Option<&str>,
) -> Result<()> {
    op.conn.execute(
        "UPDATE success_plans SET status = ?3 WHERE tenant_id = ?1 AND id = ?2",
        params![op.tenant.as_str(), plan_id, to.as_str()],
    )?;
    let mut after = serde_json::json!({ "status": to });
    if let Some(reason) = reason {
        after["reason"] = serde_json::json!(reason);
    }
    op.audit(
        action,
        &format!("plan:{plan_id}"),
        Some(serde_json::json!({ "status": from })),
        Some(after),
    )
}

/// Fails with [`ErrorKind::CtaDueBeforeTask`] if CTAs of the plan are due before some of their
/// tasks, naming every such CTA (in the order they were opened) with its latest task. `from` is
/// the status the plan keeps.
pub(super) fn check_cta_dates(op: &Op<'_>, plan: i64, from: PlanStatus) -> Result<()> {
    let Op { conn, tenant, .. } = *op;
    let rows = conn
        .prepare_cached(
            "SELECT c.id, c.name, c.due_date, t.id, t.name, t.due_date
             FROM ctas c JOIN tasks t ON t.tenant_id = c.tenant_id AND t.cta_id = c.id
             WHERE c.tenant_id = ?1 AND c.plan_id = ?2
               AND c.due_date IS NOT NULL AND t.due_date IS NOT NULL AND t.due_date > c.due_date
             ORDER BY c.id, t.due_date DESC, t.id",
        )?
        .query_map(params![tenant.as_str(), plan], |r| {
            Ok(LateCta {
                cta: r.get(0)?,
                cta_name: r.get(1)?,
                cta_due: r.get(2)?,
                task: r.get(3)?,
                task_name: r.get(4)?,
                task_due: r.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // One entry per CTA: its latest task (the first row of each CTA).
    let mut broken: Vec<LateCta> = Vec::new();
    for row in rows {
        if broken.last().is_none_or(|last| last.cta != row.cta) {
            broken.push(row);
        }
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::CtaDueBeforeTask {
            plan,
            from,
            broken,
        }))
    }
}
