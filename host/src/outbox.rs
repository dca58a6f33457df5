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

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::access::Permission;
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::host::{Host, Tenant};
use crate::model::{Channel, Notification};
use crate::names::named_enum;
use crate::store::{Sealed, SecretKey, Store, TenantId};

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

/// The recipient of a message, checked for a header: the transport's error when it is not an
/// address.
fn header_recipient(message: &OutboxMessage) -> std::result::Result<String, TransportError> {
    normalize_address(&message.recipient).ok_or_else(|| {
        format!(
            "recipient `{}` is not an email address",
            message.recipient.escape_debug()
        )
        .into()
    })
}

/// What a transport did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// It was delivered now.
    Delivered,
    /// It had been delivered before (an earlier attempt crashed before recording it).
    AlreadyDelivered,
}

/// A transport's failure, kept as the message's error and retried on the next delivery run.
pub type TransportError = Box<dyn std::error::Error + Send + Sync>;

/// Delivers email messages from the outbox. In-app messages never reach a transport: they are
/// read inside the platform ([`Tenant::in_app_messages`]).
pub trait Transport: Send + Sync {
    /// Delivers one message. The same message may come again (same
    /// [`OutboxMessage::message_id`]) if the host stopped between a delivery and recording it;
    /// a transport that can tell answers [`Sent::AlreadyDelivered`].
    fn send(&self, message: &OutboxMessage) -> std::result::Result<Sent, TransportError>;
}

/// The default transport: each message becomes one file,
/// `<dir>/<tenant>/<created>-<message id>.eml`, with the headers and the body. A message that
/// is there already is not written again, whatever happened before.
///
/// A message is first written to a temporary file, `.cs-host-*.tmp`, in the same directory. A
/// delivery killed half-way leaves one behind; the first delivery of a mailbox into a tenant's
/// directory removes those over [`FileMailbox::STALE_TMP`] old (a younger one may be another
/// deliverer's, being written).
#[derive(Debug, Clone)]
pub struct FileMailbox {
    dir: PathBuf,
    /// The tenant directories whose stale temporary files were removed already.
    swept: Arc<Mutex<HashSet<PathBuf>>>,
}

impl FileMailbox {
    /// How old a temporary file must be to count as left behind by a killed delivery.
    pub const STALE_TMP: Duration = Duration::from_secs(600);

    /// A mailbox in `dir` (created when the first message arrives).
    pub fn new(dir: impl Into<PathBuf>) -> FileMailbox {
        FileMailbox {
            dir: dir.into(),
            swept: Arc::default(),
        }
    }

    /// Removes, once per tenant directory, the temporary files a killed delivery left there.
    fn sweep(&self, dir: &Path) {
        let mut swept = self.swept.lock().unwrap_or_else(|e| e.into_inner());
        if !swept.insert(dir.to_owned()) {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|modified| modified.elapsed().ok())
                .is_some_and(|age| age > FileMailbox::STALE_TMP);
            if name.starts_with(TMP_PREFIX) && name.ends_with(TMP_SUFFIX) && stale {
                // Another deliverer may have removed it first: nothing to report then.
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// The mailbox's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file a message goes to.
    pub fn path_of(&self, message: &OutboxMessage) -> PathBuf {
        let id = message.message_id();
        let id = id.trim_start_matches('<').split('@').next().unwrap_or("");
        self.dir
            .join(&message.tenant)
            .join(format!("{:06}-{id}.eml", message.id))
    }
}

impl Transport for FileMailbox {
    fn send(&self, message: &OutboxMessage) -> std::result::Result<Sent, TransportError> {
        let path = self.path_of(message);
        let dir = path.parent().expect("a mailbox file has a directory");
        std::fs::create_dir_all(dir)?;
        if path.exists() {
            return Ok(Sent::AlreadyDelivered);
        }
        // Written whole to a temporary file, then linked into place: the link fails if the
        // message is there, and a crash never leaves half a message under its final name.
        let to = header_recipient(message)?;
        self.sweep(dir);
        let mut file = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .suffix(TMP_SUFFIX)
            .tempfile_in(dir)?;
        let text = format!(
            "Message-ID: {}\nTo: {}\nSubject: {}\nX-Channel: {}\nX-Kind: {}\n\n{}\n",
            message.message_id(),
            to,
            header_text(&message.subject),
            channel_str(message.channel),
            message.kind,
            message.body
        );
        file.write_all(text.as_bytes())?;
        file.as_file().sync_all()?;
        match std::fs::hard_link(file.path(), &path) {
            Ok(()) => Ok(Sent::Delivered),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Sent::AlreadyDelivered),
            Err(e) => Err(e.into()),
        }
    }
}

/// How a file mailbox's temporary files are named: `.cs-host-<random>.tmp`.
const TMP_PREFIX: &str = ".cs-host-";
const TMP_SUFFIX: &str = ".tmp";

/// Sends email over SMTP (the `lettre` crate), without TLS: point it at a relay you trust (a
/// local MTA that does TLS onward, or a test sink).
#[derive(Clone)]
pub struct SmtpMailer {
    transport: lettre::SmtpTransport,
    from: lettre::message::Mailbox,
    server: String,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl SmtpMailer {
    /// A mailer that hands messages to the SMTP server at `host:port`, from `from`.
    pub fn new(host: &str, port: u16, from: &str) -> Result<SmtpMailer> {
        let from = from.parse().map_err(|e| {
            Error::new(ErrorKind::Invalid(format!(
                "sender address `{from}` for SMTP: {e}"
            )))
        })?;
        Ok(SmtpMailer {
            transport: lettre::SmtpTransport::builder_dangerous(host)
                .port(port)
                .timeout(Some(std::time::Duration::from_secs(30)))
                .build(),
            from,
            server: format!("{host}:{port}"),
        })
    }
}

impl Transport for SmtpMailer {
    fn send(&self, message: &OutboxMessage) -> std::result::Result<Sent, TransportError> {
        use lettre::Transport as _;
        let to = header_recipient(message)?;
        let to: lettre::message::Mailbox =
            to.parse().map_err(|e| format!("recipient `{to}`: {e}"))?;
        let email = lettre::Message::builder()
            .message_id(Some(message.message_id()))
            .from(self.from.clone())
            .to(to)
            .subject(header_text(&message.subject))
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(message.body.clone())?;
        self.transport
            .send(&email)
            .map_err(|e| format!("SMTP server {}: {e}", self.server))?;
        Ok(Sent::Delivered)
    }
}

/// What one delivery run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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

impl Host {
    /// Delivers up to `max` pending messages through `transport`: every pending one-time code
    /// first (oldest first, whatever its tenant), then the other messages one tenant at a time in
    /// turn (each tenant's oldest first), so one tenant's backlog never holds another's mail
    /// back. A tenant that reached its hourly limit is left out of the run: its waiting messages
    /// are counted as deferred and do not use up `max`. A failed delivery is recorded on the
    /// message, which stays pending for the next run.
    ///
    /// Each message is claimed in a transaction of its own that holds the database's write lock
    /// and counts, against the tenant's limit, the messages sent in the last hour and those other
    /// deliverers are sending now: any number of deliverers, in any number of processes, never
    /// send more than the limit between them.
    pub fn deliver_outbox(&self, transport: &dyn Transport, max: usize) -> Result<DeliveryReport> {
        let store = self.store();
        let mut report = DeliveryReport::default();
        let mut handled = 0;
        // The last code taken in this run, and each tenant's last message: a run visits each
        // message at most once, and never starts again from the oldest.
        let mut codes_after = 0;
        let mut after: HashMap<String, i64> = HashMap::new();
        // Tenants left out for the rest of the run: at their hourly limit, or with nothing left.
        let mut at_limit: BTreeSet<String> = BTreeSet::new();
        let mut done: BTreeSet<String> = BTreeSet::new();
        let mut round: VecDeque<String> = VecDeque::new();
        while handled < max {
            // Codes first: each one before the next notification.
            if let Some((message, secret)) = claim_code(store, self.now(), codes_after)? {
                codes_after = message.id;
                handled += 1;
                deliver_one(store, transport, message, secret, self.now(), &mut report)?;
                continue;
            }
            let Some(tenant) = round.pop_front() else {
                // A new round: every tenant with messages waiting, in turn.
                round = tenants_waiting(store)?
                    .into_iter()
                    .filter(|t| !at_limit.contains(t) && !done.contains(t))
                    .collect();
                if round.is_empty() {
                    break;
                }
                continue;
            };
            let from = after.get(&tenant).copied().unwrap_or(0);
            match claim_notification(store, &tenant, self.now(), from)? {
                Claimed::Message(claimed) => {
                    let (message, secret) = *claimed;
                    after.insert(tenant, message.id);
                    handled += 1;
                    deliver_one(store, transport, message, secret, self.now(), &mut report)?;
                }
                Claimed::AtLimit => {
                    at_limit.insert(tenant);
                }
                Claimed::Nothing => {
                    done.insert(tenant);
                }
            }
        }
        for tenant in &at_limit {
            report.deferred += waiting(store, tenant)?;
        }
        Ok(report)
    }
}

/// Sends one claimed message, its sealed secret rendered, and records the outcome.
fn deliver_one(
    store: &Store,
    transport: &dyn Transport,
    message: OutboxMessage,
    secret: Option<String>,
    now: i64,
    report: &mut DeliveryReport,
) -> Result<()> {
    let id = message.id;
    let outcome = match message.channel {
        // An in-app message is read in the platform, rendered then (see `in_app_messages`).
        Channel::InApp => Ok(Sent::Delivered),
        Channel::Email => match rendered(message, secret.as_deref(), store) {
            Ok(message) => transport.send(&message),
            Err(error) => Err(format!("not sent: {error}").into()),
        },
    };
    match outcome {
        Ok(sent) => {
            mark_sent(store, id, now)?;
            match sent {
                Sent::Delivered => report.sent += 1,
                Sent::AlreadyDelivered => report.already_delivered += 1,
            }
        }
        Err(error) => {
            let error = error.to_string();
            // Given back: no longer counted against the tenant's limit.
            store.write(|tx| {
                tx.execute(
                    "UPDATE outbox SET last_error = ?2, claimed_at = NULL WHERE id = ?1",
                    params![id, error],
                )
                .map_err(Error::from)
            })?;
            report.failed.push((id, error));
        }
    }
    Ok(())
}

/// The outcome of claiming a tenant's next notification.
enum Claimed {
    /// Claimed: this deliverer sends it (with its sealed secret's stored form).
    Message(Box<(OutboxMessage, Option<String>)>),
    /// The tenant has sent (or is sending) its hourly limit.
    AtLimit,
    /// No message of the tenant after the given id is free to claim.
    Nothing,
}

/// A message is free to claim when no deliverer holds it, or its holder's lease ran out (the
/// deliverer crashed).
const CLAIMABLE: &str = "(claimed_at IS NULL OR claimed_at <= ?2)";

/// Takes the oldest pending one-time code after id `after`, of any tenant.
fn claim_code(
    store: &Store,
    now: i64,
    after: i64,
) -> Result<Option<(OutboxMessage, Option<String>)>> {
    store.write(|tx| {
        let message = tx
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM outbox
                 WHERE status = 'pending' AND kind = 'otp' AND id > ?1 AND {CLAIMABLE}
                 ORDER BY id LIMIT 1"
            ))?
            .query_row(params![after, now - CLAIM_LEASE_SECS], read_sealed)
            .optional()?;
        match message {
            Some((message, secret)) => Ok(Some((claim(tx, message, now)?, secret))),
            None => Ok(None),
        }
    })
}

/// Takes the tenant's oldest pending notification after id `after`, if the tenant's hourly
/// limit allows one more: the count and the claim are one transaction, under the write lock.
fn claim_notification(store: &Store, tenant: &str, now: i64, after: i64) -> Result<Claimed> {
    let tenant = TenantId::new(tenant);
    store.write(|tx| {
        let op = Op {
            conn: tx,
            tenant: &tenant,
            now,
            actor: "system",
            principal: crate::access::Principal::system(),
        };
        let per_hour = i64::from(crate::sharing::settings(&op)?.notifications_per_hour);
        let sent: i64 = tx
            .prepare_cached(
                "SELECT count(*) FROM outbox
                 WHERE tenant_id = ?1 AND status = 'sent' AND kind <> 'otp' AND sent_at > ?2",
            )?
            .query_row(params![tenant.as_str(), now - RATE_WINDOW_SECS], |r| {
                r.get(0)
            })?;
        let sending: i64 = tx
            .prepare_cached(
                "SELECT count(*) FROM outbox
                 WHERE tenant_id = ?1 AND status = 'pending' AND claimed_at > ?2
                   AND kind <> 'otp'",
            )?
            .query_row(params![tenant.as_str(), now - CLAIM_LEASE_SECS], |r| {
                r.get(0)
            })?;
        if sent + sending >= per_hour {
            return Ok(Claimed::AtLimit);
        }
        let message = tx
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM outbox
                 WHERE status = 'pending' AND kind <> 'otp' AND tenant_id = ?3 AND id > ?1
                   AND {CLAIMABLE}
                 ORDER BY id LIMIT 1"
            ))?
            .query_row(
                params![after, now - CLAIM_LEASE_SECS, tenant.as_str()],
                read_sealed,
            )
            .optional()?;
        match message {
            Some((message, secret)) => Ok(Claimed::Message(Box::new((
                claim(tx, message, now)?,
                secret,
            )))),
            None => Ok(Claimed::Nothing),
        }
    })
}

/// Marks a message as being delivered by this deliverer, in the transaction that chose it.
fn claim(
    tx: &rusqlite::Transaction<'_>,
    mut message: OutboxMessage,
    now: i64,
) -> Result<OutboxMessage> {
    tx.prepare_cached("UPDATE outbox SET attempts = attempts + 1, claimed_at = ?2 WHERE id = ?1")?
        .execute(params![message.id, now])?;
    message.attempts += 1;
    Ok(message)
}

/// The tenants with notifications waiting, by id: one look-up in the queue's index per tenant.
fn tenants_waiting(store: &Store) -> Result<Vec<String>> {
    store.with(|conn| {
        let mut next = conn.prepare_cached(
            "SELECT min(tenant_id) FROM outbox
             WHERE status = 'pending' AND kind <> 'otp' AND tenant_id > ?1",
        )?;
        let mut tenants: Vec<String> = Vec::new();
        loop {
            let after = tenants.last().map_or("", String::as_str);
            let found: Option<String> = next.query_row([after], |r| r.get(0))?;
            match found {
                Some(tenant) => tenants.push(tenant),
                None => return Ok(tenants),
            }
        }
    })
}

/// How many of a tenant's notifications wait.
fn waiting(store: &Store, tenant: &str) -> Result<usize> {
    store.with(|conn| {
        let count: i64 = conn
            .prepare_cached(
                "SELECT count(*) FROM outbox
                 WHERE status = 'pending' AND kind <> 'otp' AND tenant_id = ?1",
            )?
            .query_row([tenant], |r| r.get(0))?;
        Ok(count as usize)
    })
}

/// Records a message as sent. A delivered email keeps no secret: its sealed reference is
/// dropped (its body holds only the marker), and a body that held its secret inline (queued
/// before secrets were sealed) is replaced. An in-app message keeps its reference: it is
/// delivered when read, and rendered then.
fn mark_sent(store: &Store, id: i64, now: i64) -> Result<()> {
    store.write(|tx| {
        tx.prepare_cached(
            "UPDATE outbox SET status = 'sent', sent_at = ?2, last_error = NULL,
                 body = CASE WHEN secret = ?3 THEN ?4 ELSE body END,
                 secret = CASE WHEN channel = 'in_app' THEN secret END
             WHERE id = ?1",
        )
        .and_then(|mut update| {
            update.execute(params![id, now, INLINE_SECRET, DELIVERED_INLINE_SECRET])
        })?;
        Ok(())
    })
}

impl Tenant<'_> {
    /// The tenant's outbox, oldest first: every message, or those with one status.
    pub fn outbox(&self, status: Option<OutboxStatus>) -> Result<Vec<OutboxMessage>> {
        self.read(|op| {
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
    pub fn in_app_messages(&self, email: &str) -> Result<Vec<OutboxMessage>> {
        let sealed: Vec<(OutboxMessage, Option<String>)> = self.read(|op| {
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
                rendered(message.clone(), secret.as_deref(), self.store()).unwrap_or(message)
            })
            .collect())
    }

    /// Releases a held message: it becomes pending and goes out with the next delivery run.
    pub fn release_held(&self, message_id: i64) -> Result<()> {
        let changed = self.write(|op| {
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
