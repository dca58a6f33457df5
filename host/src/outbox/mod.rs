//! The outbox: notifications written durably in the same transaction as the change that caused
//! them, then delivered through a [`Transport`]. A message's idempotency key makes a retry never
//! queue it twice, and gives it a stable `Message-ID`, so a delivery repeated after a crash
//! between sending and recording is recognised: the [`FileMailbox`] refuses the second copy
//! itself, and an SMTP receiver can drop it by its `Message-ID`.
//!
//! Delivery is fair: pending one-time codes first, then each tenant's messages in turn. It takes
//! at most a tenant's `notifications_per_hour` (see the sharing settings) of non-OTP messages per
//! rolling hour, counted and claimed atomically so concurrent deliverers share the limit; the rest
//! wait for a later run without using up the run. One-time codes are never held back: they expire
//! in minutes, and each link may ask for only five.

mod deliver;
mod transport;

use rusqlite::params;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::access::Permission;
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Channel, Notification};
use crate::names::named_enum;
use crate::store::{Sealed, SecretKey, Store, TenantId};
use crate::tenant::Tenant;

pub use transport::{FileMailbox, Sent, SmtpMailer, Transport, TransportError};

/// How long a delivery attempt owns a message. A message claimed longer ago than this (the
/// deliverer crashed) is tried again.
const CLAIM_LEASE_SECS: i64 = 60;

/// The rate limit's window.
const RATE_WINDOW_SECS: i64 = 3600;

/// The default for a tenant's `notifications_per_hour`.
pub(crate) const DEFAULT_PER_HOUR: u32 = 500;

/// Why a message exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // PluginDisabled and Lifecycle are queued by the plugin and hook modules.
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
    op: &Op<'_>,
    key: &str,
    kind: MessageKind,
    message: &Notification,
) -> Result<bool> {
    enqueue_with(op, key, kind, message, None, None)
}

/// Adds a message that carries a secret (a link's token, a one-time code) to the outbox, sealed:
/// its subject and body hold the secret's marker (`{token}`, `{code}`), the row holds only the
/// sealed reference, and the deliverer renders the secret with the server's key (see
/// [`crate::store::Sealed`]). Returns `false` when the key is there already.
pub(crate) fn enqueue_sealed(
    op: &Op<'_>,
    key: &str,
    kind: MessageKind,
    message: &Notification,
    sealed: &Sealed,
    secret_key: &SecretKey,
) -> Result<bool> {
    enqueue_with(op, key, kind, message, None, Some((sealed, secret_key)))
}

/// Adds a message to the outbox: held back with the error when `held` is given (a fail-closed
/// plugin's failure: it is kept, listed, and not delivered), and sealed when `secret` is given
/// (see [`enqueue_sealed`]). Returns `false` when the key is there already.
pub(crate) fn enqueue_with(
    op: &Op<'_>,
    key: &str,
    kind: MessageKind,
    message: &Notification,
    held: Option<&str>,
    secret: Option<(&Sealed, &SecretKey)>,
) -> Result<bool> {
    let Op {
        conn, tenant, now, ..
    } = *op;
    let added = conn
        .prepare_cached(
            "INSERT INTO outbox (tenant_id, idempotency_key, channel, recipient, subject, body,
                                 kind, status, error, created_at, secret)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (tenant_id, idempotency_key) DO NOTHING",
        )
        .and_then(|mut insert| {
            insert.execute(params![
                tenant.as_str(),
                key,
                channel_str(message.channel),
                message.recipient,
                message.subject,
                message.body,
                kind.as_str(),
                if held.is_some() { "held" } else { "pending" },
                held,
                now,
                secret.map(|(sealed, key)| sealed.stored(key)),
            ])
        })?;
    Ok(added == 1)
}

/// What a message that held its secret in its body before secrets were sealed says once it is
/// delivered (see migration 0014).
const DELIVERED_INLINE_SECRET: &str = "(This message carried a shared link or a one-time code. \
     Its text was removed after delivery so that the database does not keep the secret.)";

/// A message as delivered: its sealed secret, if any, rendered into its subject and body with
/// the server's key. An error when the secret cannot be rendered (sealed under another key).
fn rendered(
    mut message: OutboxMessage,
    secret: Option<&str>,
    store: &Store,
) -> std::result::Result<OutboxMessage, String> {
    let Some(secret) = secret.filter(|s| *s != INLINE_SECRET) else {
        return Ok(message);
    };
    let key = store.key().map_err(|e| e.to_string())?;
    let (kind, value) = Sealed::reveal_stored(secret, key)?;
    message.subject = message.subject.replace(kind.marker(), &value);
    message.body = message.body.replace(kind.marker(), &value);
    Ok(message)
}

/// The `secret` of a message queued, before secrets were sealed, with its secret in its body:
/// it is delivered as it is, and its body is replaced after.
const INLINE_SECRET: &str = "inline";

fn channel_str(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "email",
        Channel::InApp => "in_app",
    }
}

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting to be delivered.
    Pending,
    /// Kept back (a fail-closed notifier failed); never delivered unless released.
    Held,
    /// Delivered.
    Sent,
}

named_enum!(OutboxStatus, "outbox status", {
    Pending => "pending",
    Held => "held",
    Sent => "sent",
});

/// A message in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct OutboxMessage {
    /// The message's id in the outbox.
    pub id: i64,
    /// The tenant it was sent for.
    pub tenant: String,
    /// Its idempotency key, unique in the tenant, such as `share:12:3`.
    pub key: String,
    /// Email or in-app.
    pub channel: Channel,
    /// The recipient's email address.
    pub recipient: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// Why it exists: `share`, `otp`, `plugin-disabled`, `lifecycle`.
    pub kind: String,
    /// Pending, held or sent.
    pub status: OutboxStatus,
    /// Why it is held, or why its last delivery attempt failed.
    pub error: Option<String>,
    /// How many delivery attempts have started.
    pub attempts: u32,
    /// When it was queued (Unix seconds).
    pub created_at: i64,
    /// When it was delivered.
    pub sent_at: Option<i64>,
}

impl OutboxMessage {
    /// The message's `Message-ID`, the same on every attempt: derived from the tenant and the
    /// idempotency key.
    pub fn message_id(&self) -> String {
        message_id(&self.tenant, &self.key)
    }
}

fn message_id(tenant: &str, key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(tenant.as_bytes())
        .chain_update([0])
        .chain_update(key.as_bytes())
        .finalize();
    format!("<{}@outbox.cs-host>", hex::encode(&digest[..16]))
}

/// An email address as the outbox writes it and the egress policy compares it: trimmed, one
/// `local@domain` with a dotted domain, no whitespace, control or mail-syntax characters
/// (`<>,;:"()[]\\`) anywhere, in lower case. `None` when `raw` is not such an address.
///
/// Every transport writes recipients through this, so an address can never carry a header of
/// its own (`"pat@globex.example\r\nBcc: ..."`).
pub(crate) fn normalize_address(raw: &str) -> Option<String> {
    let address = raw.trim();
    let (local, domain) = address.split_once('@')?;
    let clean = address
        .chars()
        .all(|c| !c.is_control() && !c.is_whitespace() && !"<>,;:\"()[]\\".contains(c));
    let domain_ok = domain.contains('.')
        && !domain.contains('@')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    (clean && !local.is_empty() && domain_ok).then(|| address.to_ascii_lowercase())
}

/// A header value as every transport writes it: each control character (CR and LF above all,
/// which would end the header and start another) becomes a space.
pub(crate) fn header_text(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// What one delivery run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct DeliveryReport {
    /// Messages delivered now (in-app ones included).
    pub sent: usize,
    /// Messages the transport had delivered before, now recorded as sent.
    pub already_delivered: usize,
    /// Messages left for a later run because their tenant reached its hourly limit.
    pub deferred: usize,
    /// Messages whose delivery failed, with the transport's error; they stay pending.
    pub failed: Vec<(i64, String)>,
}

const MESSAGE_COLUMNS: &str = "id, tenant_id, idempotency_key, channel, recipient, subject, body,
     kind, status, coalesce(error, last_error), attempts, created_at, sent_at, secret";

/// A message with its sealed secret's stored form, as the deliverer reads it.
fn read_sealed(row: &rusqlite::Row<'_>) -> rusqlite::Result<(OutboxMessage, Option<String>)> {
    Ok((read_message(row)?, row.get(13)?))
}

fn read_message(row: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxMessage> {
    let channel: String = row.get(3)?;
    let status: String = row.get(8)?;
    Ok(OutboxMessage {
        id: row.get(0)?,
        tenant: row.get(1)?,
        key: row.get(2)?,
        channel: if channel == "in_app" {
            Channel::InApp
        } else {
            Channel::Email
        },
        recipient: row.get(4)?,
        subject: row.get(5)?,
        body: row.get(6)?,
        kind: row.get(7)?,
        status: status.parse().unwrap_or(OutboxStatus::Pending),
        error: row.get(9)?,
        attempts: row.get(10)?,
        created_at: row.get(11)?,
        sent_at: row.get(12)?,
    })
}

/// The tenant's outbox, from [`Tenant::outbox`]: its messages, and releasing the held ones.
#[derive(Debug, Clone, Copy)]
pub struct Outbox<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

impl Outbox<'_> {
    /// The tenant's outbox, oldest first: every message, or those with one status.
    pub fn list(&self, status: Option<OutboxStatus>) -> Result<Vec<OutboxMessage>> {
        self.tenant.read(|op| {
            op.require(Permission::DeliverOutbox)?;
            op.conn
                .prepare_cached(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM outbox
                 WHERE tenant_id = ?1 AND (?2 IS NULL OR status = ?2) ORDER BY id"
                ))
                .and_then(|mut q| {
                    q.query_map(
                        params![op.tenant.as_str(), status.map(OutboxStatus::as_str)],
                        read_message,
                    )?
                    .collect()
                })
                .map_err(Error::from)
        })
    }

    /// The in-app messages delivered to a user, newest first, with their links rendered.
    pub fn in_app(&self, email: &str) -> Result<Vec<OutboxMessage>> {
        let sealed: Vec<(OutboxMessage, Option<String>)> = self.tenant.read(|op| {
            op.conn
                .prepare_cached(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM outbox
                 WHERE tenant_id = ?1 AND channel = 'in_app' AND status = 'sent'
                   AND recipient = ?2 COLLATE NOCASE
                 ORDER BY id DESC"
                ))
                .and_then(|mut q| {
                    q.query_map(params![op.tenant.as_str(), email.trim()], read_sealed)?
                        .collect()
                })
                .map_err(Error::from)
        })?;
        Ok(sealed
            .into_iter()
            .map(|(message, secret)| {
                // A link that can no longer be rendered (sealed under another key) shows its
                // marker; the other messages are still read.
                rendered(message.clone(), secret.as_deref(), self.tenant.store()).unwrap_or(message)
            })
            .collect())
    }

    /// Releases a held message: it becomes pending and goes out with the next delivery run.
    pub fn release_held(&self, message_id: i64) -> Result<()> {
        let changed = self.tenant.write(|op| {
            op.require(Permission::DeliverOutbox)?;
            op.conn
                .execute(
                    "UPDATE outbox SET status = 'pending', error = NULL
                 WHERE tenant_id = ?1 AND id = ?2 AND status = 'held'",
                    params![op.tenant.as_str(), message_id],
                )
                .map_err(Error::from)
        })?;
        if changed == 0 {
            return Err(Error::new(ErrorKind::NotFound {
                object: "held message",
                id: message_id.to_string(),
            }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(tenant: &str, key: &str) -> OutboxMessage {
        OutboxMessage {
            id: 7,
            tenant: tenant.into(),
            key: key.into(),
            channel: Channel::Email,
            recipient: "ann@example.com".into(),
            subject: "Plan".into(),
            body: "Hello".into(),
            kind: "share".into(),
            status: OutboxStatus::Pending,
            error: None,
            attempts: 0,
            created_at: 0,
            sent_at: None,
        }
    }

    #[test]
    fn message_ids_are_stable_and_differ_by_tenant_and_key() {
        let a = message("acme", "share:1:0");
        assert_eq!(a.message_id(), message("acme", "share:1:0").message_id());
        assert_ne!(a.message_id(), message("globex", "share:1:0").message_id());
        assert_ne!(a.message_id(), message("acme", "share:1:1").message_id());
        assert!(a.message_id().starts_with('<') && a.message_id().ends_with("@outbox.cs-host>"));
    }

    #[test]
    fn the_file_mailbox_never_writes_a_message_twice() {
        let dir = tempfile::tempdir().unwrap();
        let mailbox = FileMailbox::new(dir.path());
        let m = message("acme", "share:1:0");
        assert_eq!(mailbox.send(&m).unwrap(), Sent::Delivered);
        assert_eq!(mailbox.send(&m).unwrap(), Sent::AlreadyDelivered);
        let files: Vec<_> = std::fs::read_dir(dir.path().join("acme"))
            .unwrap()
            .collect::<std::result::Result<_, _>>()
            .unwrap();
        assert_eq!(files.len(), 1, "{files:?}");
        let text = std::fs::read_to_string(mailbox.path_of(&m)).unwrap();
        assert!(
            text.contains("To: ann@example.com\nSubject: Plan\n"),
            "{text}"
        );
        assert!(text.ends_with("\n\nHello\n"), "{text}");
    }

    #[test]
    fn a_subject_with_a_newline_cannot_write_headers_into_the_mailbox() {
        let dir = tempfile::tempdir().unwrap();
        let mailbox = FileMailbox::new(dir.path());
        let mut m = message("acme", "share:1:0");
        m.subject = "Your plan\r\nBcc: attacker@evil.example\nX-Link: http://evil".into();
        mailbox.send(&m).unwrap();
        let text = std::fs::read_to_string(mailbox.path_of(&m)).unwrap();
        let headers = text.split("\n\n").next().unwrap();
        assert_eq!(headers.lines().count(), 5, "{text}");
        assert!(!headers.lines().any(|l| l.starts_with("Bcc:")), "{text}");
        assert!(headers.contains("Subject: Your plan  Bcc: attacker@evil.example X-Link"));
    }

    #[test]
    fn a_recipient_with_whitespace_and_a_line_break_is_normalised_or_refused() {
        assert_eq!(
            normalize_address(" \tPAT@GLOBEX.EXAMPLE\r\n").as_deref(),
            Some("pat@globex.example")
        );
        for bad in [
            "pat@globex.example\r\nBcc: x@evil.example",
            "Pat <pat@globex.example>",
            "pat@globex",
            "a,b@globex.example",
            "@globex.example",
        ] {
            assert_eq!(normalize_address(bad), None, "{bad:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let mailbox = FileMailbox::new(dir.path());
        let mut m = message("acme", "share:1:0");
        m.recipient = "pat@globex.example\nBcc: x@evil.example".into();
        let error = mailbox.send(&m).unwrap_err().to_string();
        assert!(error.contains("is not an email address"), "{error}");
        m.recipient = " \tPAT@GLOBEX.EXAMPLE\r\n".into();
        mailbox.send(&m).unwrap();
        let text = std::fs::read_to_string(mailbox.path_of(&m)).unwrap();
        assert!(
            text.contains("\nTo: pat@globex.example\nSubject: Plan\n"),
            "{text}"
        );
    }
}
