//! The per-operation context: what every repository call works with.
//!
//! An operation (one call of the library) takes a connection from the store, or opens a
//! transaction, and reads the clock once; the repositories of the domain modules take the
//! resulting [`Op`] instead of a connection, a tenant, a time and an actor apiece. Database errors
//! convert with `?` (`From<rusqlite::Error>`) and are named once, where the operation leaves the
//! store.

use rusqlite::Connection;

use crate::access::{PartnerScope, Permission, Principal};
use crate::audit::{self, Change};
use crate::error::Result;
use crate::store::TenantId;

/// One operation of one tenant: its connection (or transaction), the tenant, the time it started
/// (Unix seconds) and the principal acting (its name, and what it may do and see).
#[derive(Clone, Copy)]
pub(crate) struct Op<'a> {
    /// The connection, or the transaction (which derefs to one) of a writing operation.
    pub(crate) conn: &'a Connection,
    /// The tenant every query is scoped to.
    pub(crate) tenant: &'a TenantId,
    /// When the operation started: every row it writes carries this time.
    pub(crate) now: i64,
    /// Who acts, as the audit log records it (the principal's name).
    pub(crate) actor: &'a str,
    /// Who acts: its role, permissions and partner scope.
    pub(crate) principal: &'a Principal,
}

impl<'a> Op<'a> {
    /// The same operation on another connection (a look-up made apart from the transaction).
    pub(crate) fn on<'b>(&self, conn: &'b Connection) -> Op<'b>
    where
        'a: 'b,
    {
        Op {
            conn,
            tenant: self.tenant,
            now: self.now,
            actor: self.actor,
            principal: self.principal,
        }
    }

    /// An operation of the system (hooks, resumers, the outbox, resolving a principal): every
    /// permission, no partner scope.
    pub(crate) fn system(conn: &'a Connection, tenant: &'a TenantId, now: i64) -> Op<'a> {
        let principal = Principal::system();
        Op {
            conn,
            tenant,
            now,
            actor: principal.name(),
            principal,
        }
    }

    /// The same operation, run by the system (what a hook does on behalf of the change that
    /// triggered it; a check that must see past the partner scope).
    pub(crate) fn as_system(&self) -> Op<'a> {
        Op::system(self.conn, self.tenant, self.now)
    }

    /// Fails with [`crate::ErrorKind::PermissionDenied`] unless the acting principal may do
    /// `permission`.
    pub(crate) fn require(&self, permission: Permission) -> Result<()> {
        self.principal.require(permission)
    }

    /// The records the acting principal is confined to: `Some` for a partner user.
    pub(crate) fn scope(&self) -> Option<PartnerScope> {
        self.principal.partner_scope()
    }

    /// Records in the audit log a change this operation's actor made to the tenant, inside the
    /// operation's transaction so the change and its record commit together.
    pub(crate) fn audit(
        &self,
        action: &str,
        subject: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Result<()> {
        audit::record_as(
            self.conn,
            self.now,
            Change {
                tenant: Some(self.tenant),
                actor: self.actor,
                action,
                subject,
                before,
                after,
            },
            &self.principal.role().name(),
        )
    }
}
