//! Hooks a committed change still owes, kept durable: this module owns the `pending_hooks`
//! table. A share's owed notifications are kept by the share itself (see `sharing::resume`);
//! they run here with the rest.
//!
//! A change that triggers an after-commit hook (a partner created or tagged) records the hook
//! here in its own transaction. The transaction that applies the hook's effects (a lifecycle
//! plugin's CTA, field changes and messages, or the undoing of a partner a fail-closed plugin
//! refused) takes the record out again, and applies nothing if another run took it first. So a
//! crash between the change and its hook leaves the hook to be run later ([`Hooks::run_pending`],
//! which opening a host and every tenant handle call), and every hook takes effect exactly once.

use rusqlite::params;
use serde::Serialize;

use super::Hooks;
use crate::context::Op;
use crate::error::Result;
use crate::partners::Undo;
use crate::sharing;
use crate::store::Store;

/// Runs after which an automatic resumption (at open, or on a tenant handle) leaves a hook to
/// `cshost tenant hooks run`: a hook that keeps failing for a reason other than a plugin's
/// refusal is not retried on every operation.
const AUTOMATIC_ATTEMPTS: i64 = 5;

/// A hook a change owes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owed {
    /// The *partner created* hook of a partner (a company id), with how to undo the partner if
    /// a fail-closed lifecycle plugin refuses it.
    PartnerCreated {
        /// The partner's company id.
        company: i64,
        /// How to undo it.
        undo: Undo,
    },
}

impl Owed {
    fn key(self) -> (&'static str, i64) {
        match self {
            Owed::PartnerCreated { company, .. } => ("partner_created", company),
        }
    }
}

/// Records, in the operation's transaction, that its change owes `hook`.
pub(crate) fn record(op: &Op<'_>, hook: Owed) -> Result<()> {
    let (name, subject) = hook.key();
    let undo = match hook {
        Owed::PartnerCreated { undo, .. } => undo.as_str(),
    };
    op.conn
        .prepare_cached(
            "INSERT INTO pending_hooks (tenant_id, hook, subject, undo, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant_id, hook, subject) DO NOTHING",
        )?
        .execute(params![op.tenant.as_str(), name, subject, undo, op.now])?;
    Ok(())
}

/// Takes `hook` out, in the transaction that applies its effects. False when it is not owed
/// (another run applied it first): then the caller applies nothing.
pub(crate) fn take(op: &Op<'_>, hook: Owed) -> Result<bool> {
    let (name, subject) = hook.key();
    let taken = op
        .conn
        .prepare_cached(
            "DELETE FROM pending_hooks WHERE tenant_id = ?1 AND hook = ?2 AND subject = ?3",
        )?
        .execute(params![op.tenant.as_str(), name, subject])?;
    Ok(taken == 1)
}

/// Notes a failed run of `hook` that left it owed.
fn note_failure(op: &Op<'_>, hook: Owed, error: &str) -> Result<()> {
    let (name, subject) = hook.key();
    op.conn
        .prepare_cached(
            "UPDATE pending_hooks SET attempts = attempts + 1, last_error = ?4
             WHERE tenant_id = ?1 AND hook = ?2 AND subject = ?3",
        )?
        .execute(params![op.tenant.as_str(), name, subject, error])?;
    Ok(())
}

/// The hooks the tenant owes, oldest first; with `automatic`, only those not yet given up to
/// the command.
fn owed(op: &Op<'_>, automatic: bool) -> Result<Vec<Owed>> {
    let max_attempts = if automatic {
        AUTOMATIC_ATTEMPTS
    } else {
        i64::MAX
    };
    let rows = op
        .conn
        .prepare_cached(
            "SELECT hook, subject, undo FROM pending_hooks
             WHERE tenant_id = ?1 AND attempts < ?2 ORDER BY created_at, subject",
        )?
        .query_map(params![op.tenant.as_str(), max_attempts], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows
        .into_iter()
        .filter_map(|(hook, subject, undo)| match hook.as_str() {
            "partner_created" => Some(Owed::PartnerCreated {
                company: subject,
                undo: if undo == "untag" {
                    Undo::Untag
                } else {
                    Undo::Delete
                },
            }),
            _ => None,
        })
        .collect())
}

/// The tenants that owe hooks an automatic resumption at `now` would run: *partner created*
/// hooks, and shares' notifications.
pub(crate) fn tenants_owing(store: &Store, now: i64) -> Result<Vec<String>> {
    let mut tenants: Vec<String> = store.with(|conn| {
        let tenants = conn
            .prepare_cached(
                "SELECT DISTINCT tenant_id FROM pending_hooks WHERE attempts < ?1 ORDER BY 1",
            )?
            .query_map([AUTOMATIC_ATTEMPTS], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(tenants)
    })?;
    tenants.extend(sharing::resume::tenants_owing(store, now)?);
    tenants.sort();
    tenants.dedup();
    Ok(tenants)
}

/// What a run of the pending hooks did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct PendingHooksRun {
    /// Hooks that ran to the end (their effects are applied), one line each, such as
    /// `partner created, company 12: partner-welcome: opened CTA 7`.
    pub done: Vec<String>,
    /// Hooks a fail-closed plugin refused: the partner was undone. One line each, with the
    /// plugin's error.
    pub refused: Vec<String>,
    /// Hooks that failed for another reason and stay owed, one line each, with the error.
    pub failed: Vec<String>,
}

impl Hooks<'_> {
    /// Runs the hooks that committed changes of this tenant still owe (a *partner created* hook
    /// cut short by a crash, for one; or a share's notifications, not yet queued when its
    /// process died), oldest first, each until done. Every hook takes effect once: a hook that
    /// another process ran meanwhile is skipped. Opening a host, and every tenant handle (unless
    /// [`HostConfig::resume_on_handles`](crate::HostConfig::resume_on_handles) turned that off), does this
    /// too (leaving a share younger than five minutes to the process sharing it);
    /// `cshost tenant hooks run` does it on demand, for every share.
    pub fn run_pending(&self) -> Result<PendingHooksRun> {
        self.tenant
            .require(crate::access::Permission::ManagePlugins)?;
        self.tenant.as_system().hooks().resume(false)
    }

    /// Runs the owed hooks automatically, as the system: errors are noted on the hooks, not
    /// returned.
    pub(crate) fn resume_pending(&self) {
        let _ = self.tenant.as_system().hooks().resume(true);
    }

    fn resume(&self, automatic: bool) -> Result<PendingHooksRun> {
        let mut run = PendingHooksRun::default();
        for hook in self.tenant.read(|op| owed(op, automatic))? {
            let Owed::PartnerCreated { company, undo } = hook;
            let what = format!("partner created, company {company}");
            match self.tenant.partners().created_hook(company, undo) {
                Ok(report) => {
                    let mut lines = report.applied;
                    lines.extend(report.refused.into_iter().map(|r| format!("refused {r}")));
                    run.done.push(if lines.is_empty() {
                        what
                    } else {
                        format!("{what}: {}", lines.join("; "))
                    });
                }
                Err(error) if self.tenant.read(|op| owed(op, false))?.contains(&hook) => {
                    self.tenant
                        .write(|op| note_failure(op, hook, &error.to_string()))?;
                    run.failed.push(format!("{what}: {error}"));
                }
                Err(error) => run.refused.push(format!("{what}: {error}")),
            }
        }
        for share in self
            .tenant
            .read(|op| sharing::resume::owed(op, automatic))?
        {
            let what = format!("plan shared, share {share}");
            match self.tenant.shares().resume_notifications(share) {
                Ok(Some(report)) => run.done.push(format!("{what}: {report}")),
                // Another run queued them meanwhile.
                Ok(None) => {}
                Err(error) => {
                    self.tenant
                        .write(|op| sharing::resume::note_failure(op, share, &error.to_string()))?;
                    run.failed.push(format!("{what}: {error}"));
                }
            }
        }
        Ok(run)
    }
}
