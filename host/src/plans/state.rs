//! A plan's creation and its state machine: Draft, Active, Complete.

use rusqlite::{OptionalExtension, params};

use super::*;

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
}

/// Fails with [`ErrorKind::CtaDueBeforeTask`] if a CTA of the plan is due before one of its
/// tasks; the earliest-opened such CTA, and its latest task, are named.
pub(super) fn check_cta_dates(op: &Op<'_>, plan: i64) -> Result<()> {
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
