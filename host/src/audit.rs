//! The audit log: who did what, when, with the state before and after.

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::access::Permission;
use crate::context::Op;
use crate::error::Result;
use crate::store::TenantId;
use crate::tenant::Tenant;

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct AuditEntry {
    /// When, in Unix seconds.
    pub at: i64,
    /// The tenant it concerns; `None` for platform-level changes (installing a plugin).
    pub tenant: Option<String>,
    /// Who did it: a person's email, `operator` for the platform operator, `system` for the
    /// host's own decisions, `plugin:<name>` for a plugin's.
    pub actor: String,
    /// The role it acted in (`tenant_admin`, `user:full`, `partner_user`, `system`,
    /// `platform_operator`, ...); `None` for entries written before roles were recorded.
    pub role: Option<String>,
    /// What was done, such as `plugin.enable`.
    pub action: String,
    /// What it was done to, such as `plugin:normalize-partner`.
    pub subject: String,
    /// The state before, as JSON, if there was one.
    pub before: Option<serde_json::Value>,
    /// The state after, as JSON, if there is one.
    pub after: Option<serde_json::Value>,
}

/// What to write to the audit log; `record` adds the time.
pub(crate) struct Change<'a> {
    pub tenant: Option<&'a TenantId>,
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Records a change, inside the caller's transaction so the change and its record commit together.
/// The role follows from the actor: `system` and plugins act as the system; anyone else named
/// here (installing a plugin, creating a tenant) is the platform operator.
pub(crate) fn record(conn: &Connection, at: i64, change: Change<'_>) -> Result<()> {
    let role = if change.actor == "system" || change.actor.starts_with("plugin:") {
        "system"
    } else {
        "platform_operator"
    };
    record_as(conn, at, change, role)
}

/// Records a change made in `role`, inside the caller's transaction.
pub(crate) fn record_as(conn: &Connection, at: i64, change: Change<'_>, role: &str) -> Result<()> {
    let json = |v: Option<serde_json::Value>| v.map(|v| v.to_string());
    conn.prepare_cached(
        "INSERT INTO audit_log (tenant_id, at, actor, action, subject, before, after, role)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut insert| {
        insert.execute(params![
            change.tenant.map(TenantId::as_str),
            at,
            change.actor,
            change.action,
            change.subject,
            json(change.before),
            json(change.after),
            role,
        ])
    })?;
    Ok(())
}

/// The tenant's audit log, from [`Tenant::audit`].
#[derive(Debug, Clone, Copy)]
pub struct AuditLog<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

impl AuditLog<'_> {
    /// The tenant's audit log, oldest entry first, with the platform-level entries (plugin
    /// installs) among them. Needs `logs.read`.
    pub fn list(&self) -> Result<Vec<AuditEntry>> {
        self.tenant.read(|op| {
            op.require(Permission::ReadLogs)?;
            list(op)
        })
    }
}

/// The tenant's audit log (with the platform-level entries), oldest first.
pub(crate) fn list(op: &Op<'_>) -> Result<Vec<AuditEntry>> {
    let mut query = op.conn.prepare_cached(
        "SELECT at, tenant_id, actor, action, subject, before, after, role FROM audit_log
         WHERE tenant_id = ?1 OR tenant_id IS NULL ORDER BY id",
    )?;
    let parse = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
    let entries = query
        .query_map([op.tenant.as_str()], |row| {
            Ok(AuditEntry {
                at: row.get(0)?,
                tenant: row.get(1)?,
                actor: row.get(2)?,
                action: row.get(3)?,
                subject: row.get(4)?,
                before: parse(row.get(5)?),
                after: parse(row.get(6)?),
                role: row.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(entries)
}
