//! The per-operation context: what every repository call works with.
//!
//! An operation (one call of the library) takes a connection from the store, or opens a
//! transaction, and reads the clock once; the repositories of the domain modules take the
//! resulting [`Op`] instead of a connection, a tenant, a time and an actor apiece. Database errors
//! convert with `?` (`From<rusqlite::Error>`) and are named once, where the operation leaves the
//! store.

use rusqlite::Connection;

use crate::audit::{self, Change};
use crate::error::Result;
use crate::store::TenantId;

/// One operation of one tenant: its connection (or transaction), the tenant, the time it started
/// (Unix seconds) and the principal acting (an email, or `system`).
#[derive(Clone, Copy)]
pub(crate) struct Op<'a> {
    /// The connection, or the transaction (which derefs to one) of a writing operation.
    pub(crate) conn: &'a Connection,
    /// The tenant every query is scoped to.
    pub(crate) tenant: &'a TenantId,
    /// When the operation started: every row it writes carries this time.
    pub(crate) now: i64,
    /// Who acts, as the audit log records it.
    pub(crate) actor: &'a str,
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
        }
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
        audit::record(
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
        )
    }
}
