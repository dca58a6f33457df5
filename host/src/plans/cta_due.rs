//! Changing a CTA's due date: the command the CTA rule's refusal asks for ("move the CTA's due
//! date first"). A CTA may not be due before any of its tasks, so a new date earlier than one of
//! its tasks' is refused, naming the task.

use rusqlite::{OptionalExtension, params};

use super::*;

impl Ctas<'_> {
    /// Sets (or, with `None`, clears) CTA `cta_id`'s due date. Refused, naming the task, when a
    /// task of the CTA is due after the new date: move that task first, or choose a later date.
    pub fn set_due(&self, cta_id: i64, due_date: Option<Date>) -> Result<()> {
        self.tenant.write(|op| {
            op.require(Permission::ManageCtas)?;
            scope::check(op, Of::Cta(cta_id))?;
            let (name, before): (String, Option<String>) = op
                .conn
                .prepare_cached("SELECT name, due_date FROM ctas WHERE tenant_id = ?1 AND id = ?2")?
                .query_row(params![op.tenant.as_str(), cta_id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?
                .ok_or_else(|| not_found("CTA", cta_id))?;
            if let Some(due) = due_date {
                // Dates are 'YYYY-MM-DD' text, so text order is date order.
                let late: Option<(i64, String, String)> = op
                    .conn
                    .prepare_cached(
                        "SELECT id, name, due_date FROM tasks
                         WHERE tenant_id = ?1 AND cta_id = ?2 AND due_date > ?3
                         ORDER BY due_date DESC, id LIMIT 1",
                    )?
                    .query_row(params![op.tenant.as_str(), cta_id, due.to_string()], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .optional()?;
                if let Some((task, task_name, task_due)) = late {
                    return Err(invalid(format!(
                        "CTA {cta_id} `{name}` cannot be due {due}: its task {task} \
                         `{task_name}` is due {task_due}, and a CTA may not be due before its \
                         tasks; choose {task_due} or later, or move the task first \
                         (`cshost plan task-due {task} DATE`)"
                    )));
                }
            }
            op.conn
                .prepare_cached("UPDATE ctas SET due_date = ?3 WHERE tenant_id = ?1 AND id = ?2")?
                .execute(params![
                    op.tenant.as_str(),
                    cta_id,
                    due_date.map(|d| d.to_string())
                ])?;
            op.audit(
                "cta.due",
                &format!("cta:{cta_id}"),
                Some(serde_json::json!({ "due_date": before })),
                Some(serde_json::json!({ "due_date": due_date })),
            )
        })
    }
}
