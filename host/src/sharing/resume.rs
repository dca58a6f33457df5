//! Notifications a committed share still owes, queued by a later run.
//!
//! A share commits with `notify_status = 'pending'`: the share, its links and its audit entry
//! are in that transaction, and so is the fact that its notifications are owed. They stop being
//! owed in the transaction that queues them ([`take`]), so a process that dies in between leaves
//! the share owing them, and exactly one run queues them: the first to take them.
//!
//! A resumed run sends the links the share made. Their tokens are never stored, but each is an
//! HMAC of a nonce under the key kept beside the database (see `store::secrets`), and the share's
//! transaction keeps each recipient's nonce, sealed, until the notifications are queued (then the
//! outbox keeps it until delivery, as for any share). Whoever queues them (the sharing process or a
//! resumed run) sends the same links, so the receipt the sharing process printed stays true. A
//! recipient without a seal (a share owed from before seals were kept, or sealed under a key file
//! since replaced) gets a new link instead, audited as `share.reissue`.
//!
//! The automatic resumption leaves a share alone for [`IN_FLIGHT_SECS`], so that it does not run
//! the notifiers of a share whose process is slow rather than dead; if a run takes a share all the
//! same, the slow process finds its notifications queued and reports [`Notifications::Resumed`].

use super::manage::replace_token;
use super::preview::{Outline, customer_label};
use super::send::{default_notifications, enqueue_all};
use super::*;
use crate::store::Store;

/// How long (seconds) the automatic resumption leaves a share's notifications to the process
/// that shared it: longer than the *plan shared* hook and the wait for the database take.
/// `cshost tenant hooks run` does not wait.
pub(crate) const IN_FLIGHT_SECS: i64 = 300;

/// Runs that failed to queue a share's notifications after which the automatic resumption
/// leaves them to `cshost tenant hooks run`.
const AUTOMATIC_ATTEMPTS: i64 = 5;

/// The shares of the tenant that owe their notifications, oldest first; with `automatic`, only
/// those shared at least [`IN_FLIGHT_SECS`] ago and not yet given up to the command.
pub(crate) fn owed(op: &Op<'_>, automatic: bool) -> Result<Vec<i64>> {
    let (attempts, shared_before) = if automatic {
        (AUTOMATIC_ATTEMPTS, op.now - IN_FLIGHT_SECS)
    } else {
        (i64::MAX, i64::MAX)
    };
    let shares = op
        .conn
        .prepare_cached(
            "SELECT id FROM shares
             WHERE tenant_id = ?1 AND notify_status = 'pending' AND notify_attempts < ?2
               AND shared_at <= ?3
             ORDER BY id",
        )?
        .query_map(params![op.tenant.as_str(), attempts, shared_before], |r| {
            r.get(0)
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(shares)
}

/// The tenants with shares an automatic resumption at `now` would queue notifications for.
pub(crate) fn tenants_owing(store: &Store, now: i64) -> Result<Vec<String>> {
    store.with(|conn| {
        let tenants = conn
            .prepare_cached(
                "SELECT DISTINCT tenant_id FROM shares
                 WHERE notify_status = 'pending' AND notify_attempts < ?1 AND shared_at <= ?2
                 ORDER BY 1",
            )?
            .query_map(params![AUTOMATIC_ATTEMPTS, now - IN_FLIGHT_SECS], |r| {
                r.get(0)
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(tenants)
    })
}

/// Marks share `share_id`'s notifications no longer owed, queued or held with `held`, in the
/// transaction that queues them, and drops its recipients' seals. False when they were not owed
/// any more (another run queued them first): then the caller queues nothing.
pub(super) fn take(op: &Op<'_>, share_id: i64, held: Option<&str>) -> Result<bool> {
    let taken = op
        .conn
        .prepare_cached(
            "UPDATE shares SET notify_status = ?3, notify_error = ?4
             WHERE tenant_id = ?1 AND id = ?2 AND notify_status = 'pending'",
        )?
        .execute(params![
            op.tenant.as_str(),
            share_id,
            if held.is_some() { "held" } else { "queued" },
            held
        ])?;
    if taken == 1 {
        op.conn
            .prepare_cached(
                "UPDATE share_recipients SET link_seal = NULL
                 WHERE tenant_id = ?1 AND share_id = ?2 AND link_seal IS NOT NULL",
            )?
            .execute(params![op.tenant.as_str(), share_id])?;
    }
    Ok(taken == 1)
}

/// Notes a run that failed to queue share `share_id`'s notifications: they stay owed.
pub(crate) fn note_failure(op: &Op<'_>, share_id: i64, error: &str) -> Result<()> {
    op.conn
        .prepare_cached(
            "UPDATE shares SET notify_attempts = notify_attempts + 1, notify_error = ?3
             WHERE tenant_id = ?1 AND id = ?2 AND notify_status = 'pending'",
        )?
        .execute(params![op.tenant.as_str(), share_id, error])?;
    Ok(())
}

/// A share owing its notifications, as recorded.
struct Owed {
    event: ShareEvent,
    /// The recipients whose links still open (neither revoked nor expired): id, email, sealed
    /// token.
    recipients: Vec<(i64, String, Option<String>)>,
}

/// Share `share_id` as its notifications need it, or `None` when they are not owed.
fn load(op: &Op<'_>, share_id: i64) -> Result<Option<Owed>> {
    type Row = (i64, String, bool, String, Option<String>, String, i64);
    let share: Option<Row> = op
        .conn
        .prepare_cached(
            "SELECT plan_id, audience, include_tasks, subject, note, shared_by, expires_at
             FROM shares
             WHERE tenant_id = ?1 AND id = ?2 AND notify_status = 'pending'",
        )?
        .query_row(params![op.tenant.as_str(), share_id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .optional()?;
    let Some((plan_id, audience, include_tasks, subject, note, shared_by, expires_at)) = share
    else {
        return Ok(None);
    };
    let audience = if audience == "contacts" {
        Audience::Contacts
    } else {
        Audience::Users
    };
    let rows = op
        .conn
        .prepare_cached(
            "SELECT r.id, r.email, r.name, r.external, r.link_seal
             FROM share_recipients r
             JOIN shares s ON s.tenant_id = r.tenant_id AND s.id = r.share_id
             WHERE r.tenant_id = ?1 AND r.share_id = ?2 AND r.revoked_at IS NULL
               AND COALESCE(r.expires_at, s.expires_at) > ?3
             ORDER BY r.id",
        )?
        .query_map(params![op.tenant.as_str(), share_id, op.now], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let plan = plans::load_plan(op, plan_id)?;
    let customer = customer_label(op, &plan)?;
    let outline = Outline {
        plan,
        customer,
        subject,
        expires_at,
    };
    // The event reads the audience and whether tasks are shown from the request.
    let request = ShareRequest {
        plan_id,
        audience,
        recipients: Vec::new(),
        include_tasks,
        subject: None,
        note: None,
    };
    let event = outline.event(
        &request,
        rows.iter()
            .map(|(_, email, name, external, _)| Recipient {
                email: email.clone(),
                name: name.clone(),
                external: *external,
            })
            .collect(),
        note,
        shared_by,
    );
    let recipients = rows
        .into_iter()
        .map(|(id, email, _, _, seal)| (id, email, seal))
        .collect();
    Ok(Some(Owed { event, recipients }))
}

impl Shares<'_> {
    /// Queues the notifications share `share_id` still owes (its process died after the share
    /// committed): the *plan shared* hook runs on the share as recorded, and the notifications
    /// carry each recipient's link as the share made it (a recipient whose seal is missing gets
    /// a new link, audited as `share.reissue`), in the transaction that marks them queued.
    /// Returns what it did, such as `2 notification(s) queued`, or `None` when the
    /// notifications were not owed (any more).
    pub(crate) fn resume_notifications(&self, share_id: i64) -> Result<Option<String>> {
        let Some(owed) = self.tenant.read(|op| load(op, share_id))? else {
            return Ok(None);
        };
        let key = self.tenant.store().key()?;
        let planned = default_notifications(&owed.event);
        let (messages, held) = self.notifications(&owed.event, planned);
        self.tenant.write(|op| {
            if !take(op, share_id, held.as_deref())? {
                return Ok(None);
            }
            let base = settings(op)?.link_base;
            let mut links = Vec::with_capacity(owed.recipients.len());
            let mut reissued = 0;
            for (recipient_id, email, seal) in &owed.recipients {
                let sealed = match seal.as_deref().map(|s| Sealed::from_stored(s, key)) {
                    Some(Ok(sealed)) => sealed,
                    _ => {
                        let sealed = Sealed::new(SecretKind::LinkToken)?;
                        let detail = serde_json::json!({
                            "email": email,
                            "share": share_id,
                            "reason": "the share's notifications were resumed without its link",
                        });
                        replace_token(op, *recipient_id, &sealed.reveal(key), detail)?;
                        reissued += 1;
                        sealed
                    }
                };
                links.push((email.clone(), sealed, base.clone()));
            }
            enqueue_all(op, share_id, &messages, held.as_deref(), &links, key)?;
            let notifications = match held {
                None => Notifications::Queued(messages.len()),
                Some(error) => Notifications::Held {
                    count: messages.len(),
                    error,
                },
            };
            Ok(Some(if reissued == 0 {
                notifications.to_string()
            } else {
                format!("{notifications}, {reissued} link(s) re-issued")
            }))
        })
    }
}
