//! The transports that deliver the outbox's email: a file mailbox, and SMTP.

use std::collections::HashSet;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{OutboxMessage, channel_str, header_text, normalize_address};
use crate::error::{Error, ErrorKind, Result};

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
/// read inside the platform ([`Outbox::in_app`](crate::Outbox::in_app)).
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
