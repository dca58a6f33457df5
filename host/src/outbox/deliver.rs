//! Delivering the outbox: claiming messages fairly (one-time codes first, then each tenant in
//! turn, within its hourly limit), handing them to a transport, and recording them sent.

use std::collections::{BTreeSet, HashMap, VecDeque};

use rusqlite::{OptionalExtension, params};

use super::*;
use crate::host::Host;

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
