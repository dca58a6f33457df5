//! The outbox: notifications written durably in the same transaction as the change that caused
//! them, then delivered. A message's idempotency key makes a retry never send it twice.

use rusqlite::{Connection, params};

use crate::error::Result;
use crate::model::{Channel, Notification};
use crate::store::{Store, TenantId};

/// Why a message exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageKind {
    /// A plan was shared.
    Share,
    /// A one-time code for opening a shared link.
    Otp,
    /// The host turned a tenant's plugin off.
    PluginDisabled,
    /// A lifecycle plugin asked for it.
    Lifecycle,
}

impl MessageKind {
    fn as_str(self) -> &'static str {
        match self {
            MessageKind::Share => "share",
            MessageKind::Otp => "otp",
            MessageKind::PluginDisabled => "plugin-disabled",
            MessageKind::Lifecycle => "lifecycle",
        }
    }
}

/// Adds a message to the outbox, in the caller's transaction. Returns `false` when a message
/// with the same idempotency key is already there (nothing is added).
pub(crate) fn enqueue(
    conn: &Connection,
    store: &Store,
    tenant: &TenantId,
    key: &str,
    kind: MessageKind,
    message: &Notification,
    now: i64,
) -> Result<bool> {
    let channel = match message.channel {
        Channel::Email => "email",
        Channel::InApp => "in_app",
    };
    let added = conn
        .prepare_cached(
            "INSERT INTO outbox (tenant_id, idempotency_key, channel, recipient, subject, body,
                                 kind, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (tenant_id, idempotency_key) DO NOTHING",
        )
        .and_then(|mut insert| {
            insert.execute(params![
                tenant.as_str(),
                key,
                channel,
                message.recipient,
                message.subject,
                message.body,
                kind.as_str(),
                now
            ])
        })
        .map_err(|e| store.error(e))?;
    Ok(added == 1)
}
