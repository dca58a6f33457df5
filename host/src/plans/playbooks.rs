//! Playbooks: named task lists per CTA type. A type's default playbook gives a CTA of that type
//! its tasks when it opens, whether a user or a plugin (`open-cta`) opens it; another playbook
//! can be applied to a CTA on request.

use rusqlite::{OptionalExtension, params};

use super::*;

/// A named list of tasks for CTAs of one type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Playbook {
    /// Its name (unique in the tenant, case-insensitively), such as `Account Triage`.
    pub name: String,
    /// The CTA type it is for.
    pub cta_type: CtaType,
    /// Its tasks, in order (at least one).
    pub tasks: Vec<PlaybookTask>,
    /// Whether it is applied to every CTA of its type when it opens. A type has at most one
    /// default playbook: making one the default makes the type's previous default a plain one.
    #[serde(default)]
    pub default: bool,
}

/// One task of a playbook.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct PlaybookTask {
    /// The task's name.
    pub name: String,
    /// Due this many days after the CTA opens (never after the CTA's own due date).
    #[serde(default)]
    pub due_in_days: Option<u32>,
    /// Who owns it; by default, the CTA's owner.
    #[serde(default)]
    pub owner: Option<String>,
}

impl Playbooks<'_> {
    /// Defines a playbook, or replaces the one with the same name. Audited as
    /// `playbook.define`.
    pub fn define(&self, playbook: &Playbook) -> Result<()> {
        let name = required("playbook name", &playbook.name)?;
        if playbook.tasks.is_empty() {
            return Err(invalid(format!(
                "playbook `{name}` needs at least one task"
            )));
        }
        for (n, task) in playbook.tasks.iter().enumerate() {
            required(
                &format!("name of task {} of playbook `{name}`", n + 1),
                &task.name,
            )?;
            if let Some(days) = task.due_in_days {
                dates::due_in(0, days).map_err(|e| {
                    invalid(format!(
                        "playbook `{name}`, task `{}`: {e}",
                        task.name.trim()
                    ))
                })?;
            }
        }
        let tasks = serde_json::to_string(&playbook.tasks)
            .map_err(|e| invalid(format!("playbook `{name}`: {e}")))?;
        self.tenant.write(|op| {
            op.require(Permission::ManageSchema)?;
            let kind = cta_type_str(playbook.cta_type);
            if playbook.default {
                op.conn.execute(
                    "UPDATE playbooks SET is_default = 0 WHERE tenant_id = ?1 AND cta_type = ?2",
                    params![op.tenant.as_str(), kind],
                )?;
            }
            op.conn.execute(
                "INSERT INTO playbooks (tenant_id, name, cta_type, tasks, is_default)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant_id, name) DO UPDATE SET cta_type = ?3, tasks = ?4,
                     is_default = ?5",
                params![op.tenant.as_str(), name, kind, tasks, playbook.default],
            )?;
            plan_audit(
                op,
                "playbook.define",
                &format!("playbook:{name}"),
                None,
                playbook,
            )
        })
    }

    /// The tenant's playbooks, by CTA type and name.
    pub fn list(&self) -> Result<Vec<Playbook>> {
        self.tenant.read(|op| {
            op.conn
                .prepare_cached(
                    "SELECT name, cta_type, tasks, is_default FROM playbooks
                     WHERE tenant_id = ?1 ORDER BY cta_type, name",
                )?
                .query_map([op.tenant.as_str()], playbook_row)?
                .collect::<rusqlite::Result<_>>()
                .map_err(Error::from)
        })
    }

    /// Removes a playbook (CTAs keep the tasks it gave them). Audited as `playbook.delete`.
    pub fn delete(&self, name: &str) -> Result<()> {
        self.tenant.write(|op| {
            op.require(Permission::ManageSchema)?;
            let gone = op.conn.execute(
                "DELETE FROM playbooks WHERE tenant_id = ?1 AND name = ?2",
                params![op.tenant.as_str(), name.trim()],
            )?;
            if gone == 0 {
                return Err(not_found("playbook", name.trim()));
            }
            op.audit(
                "playbook.delete",
                &format!("playbook:{}", name.trim()),
                None,
                None,
            )
        })
    }

    /// Adds a playbook's tasks to a CTA (of the playbook's type). Returns how many tasks it
    /// added. Audited as `cta.playbook`.
    pub fn apply(&self, cta_id: i64, name: &str) -> Result<usize> {
        self.tenant.write(|op| {
            op.require(Permission::ManageCtas)?;
            let playbook = op
                .conn
                .prepare_cached(
                    "SELECT name, cta_type, tasks, is_default FROM playbooks
                     WHERE tenant_id = ?1 AND name = ?2",
                )?
                .query_row(params![op.tenant.as_str(), name.trim()], playbook_row)
                .optional()?
                .ok_or_else(|| not_found("playbook", name.trim()))?;
            let cta = load_ctas(op, "id", cta_id)?
                .pop()
                .ok_or_else(|| not_found("CTA", cta_id))?;
            if cta.kind != playbook.cta_type {
                return Err(invalid(format!(
                    "playbook `{}` is for {} CTAs, and CTA {cta_id} is a {} CTA",
                    playbook.name,
                    cta_type_str(playbook.cta_type),
                    cta_type_str(cta.kind)
                )));
            }
            add_tasks(op, cta_id, cta.due_date, &playbook)
        })
    }
}

fn playbook_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Playbook> {
    let tasks: String = r.get(2)?;
    Ok(Playbook {
        name: r.get(0)?,
        cta_type: json_enum(r, 1)?,
        tasks: serde_json::from_str(&tasks).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.into())
        })?,
        default: r.get(3)?,
    })
}

/// Applies the default playbook of CTA type `kind`, if the tenant has one, to the CTA just
/// opened in the operation's transaction.
pub(super) fn apply_default(
    op: &Op<'_>,
    cta_id: i64,
    kind: CtaType,
    cta_due: Option<Date>,
) -> Result<()> {
    let playbook = op
        .conn
        .prepare_cached(
            "SELECT name, cta_type, tasks, is_default FROM playbooks
             WHERE tenant_id = ?1 AND cta_type = ?2 AND is_default = 1",
        )?
        .query_row(
            params![op.tenant.as_str(), cta_type_str(kind)],
            playbook_row,
        )
        .optional()?;
    if let Some(playbook) = playbook {
        add_tasks(op, cta_id, cta_due, &playbook)?;
    }
    Ok(())
}

/// Adds the playbook's tasks to the CTA: each due `due_in_days` after now, but never after the
/// CTA itself; owned by the task's owner or the CTA's.
fn add_tasks(
    op: &Op<'_>,
    cta_id: i64,
    cta_due: Option<Date>,
    playbook: &Playbook,
) -> Result<usize> {
    let owner: Option<String> = op.conn.query_row(
        "SELECT owner FROM ctas WHERE tenant_id = ?1 AND id = ?2",
        params![op.tenant.as_str(), cta_id],
        |r| r.get(0),
    )?;
    let mut insert = op.conn.prepare_cached(
        "INSERT INTO tasks (tenant_id, cta_id, name, owner, due_date) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for task in &playbook.tasks {
        let due = task
            .due_in_days
            .map(|days| dates::due_in(op.now, days))
            .transpose()
            .map_err(|e| invalid(format!("playbook `{}`: {e}", playbook.name)))?;
        let due = match (due, cta_due) {
            (Some(due), Some(cta_due)) if due > cta_due => Some(cta_due),
            (due, _) => due,
        };
        insert.execute(params![
            op.tenant.as_str(),
            cta_id,
            task.name.trim(),
            task.owner.as_deref().map(str::trim).or(owner.as_deref()),
            due.map(|d| d.to_string())
        ])?;
    }
    op.audit(
        "cta.playbook",
        &format!("cta:{cta_id}"),
        None,
        Some(serde_json::json!({ "playbook": playbook.name, "tasks": playbook.tasks.len() })),
    )?;
    Ok(playbook.tasks.len())
}
