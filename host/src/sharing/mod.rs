//! Sharing success plans: shares, recipients, secret links, one-time codes, what each recipient
//! may see, revoking, and the tenant's sharing settings.
//!
//! Every recipient gets a link of their own, ending in a token of 32 random bytes from the
//! operating system. Only the token's SHA-256 is stored. Opening a link checks that it is
//! known, not revoked, not expired and not blocked; when the tenant asks for it, the recipient
//! then needs a one-time code (six digits, valid five minutes, at most five per link, at most
//! three wrong tries before the link is blocked). Expired, revoked, blocked and unknown links all
//! get the same answer, [`ErrorKind::LinkUnavailable`].

mod otp;

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::access::Permission;
use crate::audit::{self, Change};
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::hooks::NotifyOutcome;
use crate::host::Tenant;
use crate::model::{Audience, Channel, Notification, Objective, Recipient, ShareEvent};
use crate::outbox::{self, MessageKind};
use crate::plans::{self, Plan, PlanObjective, PlanStatus, dates};
use crate::users::Licence;

pub use otp::OtpError;

/// How long a one-time code is valid.
const OTP_LIFETIME_SECS: i64 = 5 * 60;
/// How many codes one link may be sent.
const OTP_MAX_ISSUED: i64 = 5;
/// How many wrong codes block a link.
const OTP_MAX_FAILURES: i64 = 3;
/// The placeholder notifiers put in a body, replaced with each recipient's own link.
const LINK_PLACEHOLDER: &str = "{link}";

/// A tenant's sharing settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharingSettings {
    /// Whether opening a link needs a one-time code sent by email. By default, it does.
    pub otp_required: bool,
    /// How many days a link stays valid, 1 to 3650. By default, 30.
    pub link_expiry_days: u32,
    /// What goes before the token in a link. By default,
    /// `https://cs-host.invalid/shared/<tenant>/` (a placeholder: set your own).
    pub link_base: String,
    /// The most notifications (one-time codes aside) the outbox delivers for the tenant per
    /// hour. By default, 500.
    pub notifications_per_hour: u32,
}

/// What to share, with whom: the input of [`Tenant::share_plan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareRequest {
    /// The plan.
    pub plan_id: i64,
    /// Internal users or external contacts.
    pub audience: Audience,
    /// The recipients, at least one.
    pub recipients: Vec<ShareTo>,
    /// Whether the shared plan shows its tasks. By default, it does.
    #[serde(default = "yes")]
    pub include_tasks: bool,
    /// The subject. By default, `<plan name> for <customer>`.
    #[serde(default)]
    pub subject: Option<String>,
    /// A note for the recipients.
    #[serde(default)]
    pub note: Option<String>,
}

fn yes() -> bool {
    true
}

impl ShareRequest {
    /// A request to share a plan with these people (by email), tasks included, with the default
    /// subject and no note.
    pub fn new<'a>(
        plan_id: i64,
        audience: Audience,
        emails: impl IntoIterator<Item = &'a str>,
    ) -> ShareRequest {
        ShareRequest {
            plan_id,
            audience,
            recipients: emails.into_iter().map(ShareTo::email).collect(),
            include_tasks: true,
            subject: None,
            note: None,
        }
    }
}

/// One recipient of a share. The names are used when a contact becomes a new person.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ShareTo {
    /// Email address.
    pub email: String,
    /// First name, for a new person.
    #[serde(default)]
    pub first_name: String,
    /// Last name, for a new person.
    #[serde(default)]
    pub last_name: String,
}

impl ShareTo {
    /// A recipient known by email only.
    pub fn email(email: &str) -> ShareTo {
        ShareTo {
            email: email.to_owned(),
            ..ShareTo::default()
        }
    }
}

/// What sharing did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShareReceipt {
    /// The share's id.
    pub share_id: i64,
    /// Each recipient's own link, in the order given. This is the only time a link can be read:
    /// the host keeps only a hash of it.
    pub links: Vec<RecipientLink>,
    /// When the links expire (Unix seconds).
    pub expires_at: i64,
    /// Whether the notifications were queued or held.
    pub notifications: Notifications,
}

/// One recipient's link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipientLink {
    /// The recipient's id (for revoking).
    pub recipient_id: i64,
    /// Their email.
    pub email: String,
    /// Their link.
    pub link: String,
}

/// What became of a share's notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Notifications {
    /// This many went to the outbox (none when a notifier suppressed them).
    Queued(usize),
    /// A fail-closed notifier failed: the share stands, and this many notifications wait in the
    /// outbox, held, with the error.
    Held {
        /// How many are held.
        count: usize,
        /// The notifier's error.
        error: String,
    },
}

impl std::fmt::Display for Notifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notifications::Queued(count) => write!(f, "{count} notification(s) queued"),
            Notifications::Held { count, error } => {
                write!(f, "{count} notification(s) held: {error}")
            }
        }
    }
}

/// What opening a link gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Opened {
    /// The plan, as this recipient may see it.
    Plan(SharedPlan),
    /// The tenant wants a one-time code first: call [`Tenant::request_otp`], then
    /// [`Tenant::verify_otp`].
    CodeRequired,
}

/// A shared plan as one recipient sees it: external recipients see only the objectives shared
/// externally, and nobody sees tasks the sharer excluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedPlan {
    /// The plan's id.
    pub plan_id: i64,
    /// The plan's name.
    pub name: String,
    /// The customer's name.
    pub customer: String,
    /// The plan's status.
    pub status: PlanStatus,
    /// When the plan is due.
    pub due_date: Option<crate::model::Date>,
    /// Who shared it.
    pub shared_by: String,
    /// The sharer's note.
    pub note: Option<String>,
    /// The objectives the recipient may see (with their tasks, unless excluded).
    pub objectives: Vec<PlanObjective>,
    /// When the link expires (Unix seconds).
    pub expires_at: i64,
}

/// A recipient's state, for the "manage shares" view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// The link opens.
    Active,
    /// The link has expired.
    Expired,
    /// The sharer (or an admin) revoked it.
    Revoked,
    /// Too many wrong codes.
    Blocked,
}

/// One row of the "manage shares" view: a recipient of a share of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShareRow {
    /// The recipient's id (for revoking).
    pub recipient_id: i64,
    /// The share.
    pub share_id: i64,
    /// The plan.
    pub plan_id: i64,
    /// The plan's name.
    pub plan_name: String,
    /// The recipient's email.
    pub email: String,
    /// True for an external contact.
    pub external: bool,
    /// Active, expired, revoked or blocked.
    pub state: LinkState,
    /// Who shared it.
    pub shared_by: String,
    /// When (Unix seconds).
    pub shared_on: i64,
    /// When the link expires (Unix seconds).
    pub expires_at: i64,
    /// When the recipient last opened the plan.
    pub last_access_at: Option<i64>,
}

/// A recipient being added, before its row exists.
struct Resolved {
    email: String,
    name: String,
    external: bool,
    user_id: Option<i64>,
    person_id: Option<i64>,
}

impl Tenant<'_> {
    /// The tenant's sharing settings.
    pub fn sharing_settings(&self) -> Result<SharingSettings> {
        self.read(settings)
    }

    /// Changes the tenant's sharing settings. Links already sent keep the expiry and code rule
    /// they were sent with.
    pub fn set_sharing_settings(&self, new: &SharingSettings) -> Result<()> {
        if !(1..=3650).contains(&new.link_expiry_days) {
            return Err(invalid(format!(
                "link expiry of {} days: use 1 to 3650 days",
                new.link_expiry_days
            )));
        }
        if new.notifications_per_hour == 0 {
            return Err(invalid(
                "notifications per hour must be at least 1".to_owned(),
            ));
        }
        let base = new.link_base.trim();
        if base.is_empty() {
            return Err(invalid("the link base is required".to_owned()));
        }
        self.write(|op| {
            op.require(Permission::ManageSettings)?;
            let before = settings(op)?;
            op.conn.execute(
                "INSERT INTO sharing_settings (tenant_id, otp_required, link_expiry_days,
                                               link_base, notifications_per_hour)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant_id) DO UPDATE SET otp_required = ?2,
                     link_expiry_days = ?3, link_base = ?4, notifications_per_hour = ?5",
                params![
                    op.tenant.as_str(),
                    new.otp_required,
                    new.link_expiry_days,
                    base,
                    new.notifications_per_hour
                ],
            )?;
            op.audit(
                "sharing.settings",
                &format!("tenant:{}", self.id),
                serde_json::to_value(before).ok(),
                serde_json::to_value(new).ok(),
            )
        })
    }

    /// Shares a plan, on behalf of the acting user (see [`Tenant::acting_as`]).
    ///
    /// Internal users must exist and hold a Full, Viewer or Viewer + Analytics licence
    /// ([`ErrorKind::ShareRefused`] otherwise). Contacts need the plan's "sharing with contacts"
    /// switch on; an email that is not yet a person becomes one. The share and its links are
    /// recorded first; then the tenant's notifiers run (the *plan shared* hook) and their
    /// notifications (by default, one email per recipient) go to the outbox.
    pub fn share_plan(&self, request: &ShareRequest) -> Result<ShareReceipt> {
        if request.recipients.is_empty() {
            return Err(invalid("a share needs at least one recipient".to_owned()));
        }
        let now = self.host.now();
        let shared_by = self.actor.clone();
        let note = request
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);

        // 1. Record the share and its recipients, all or nothing.
        let (share_id, plan, customer, subject, expires_at, links, recipients) =
            self.write(|op| {
                op.require(Permission::SharePlans)?;
                let plan = plans::load_plan(op, request.plan_id)?;
                let customer = company_name(op, plan.company_id)?;
                let settings = settings(op)?;
                if request.audience == Audience::Contacts && !plan.share_with_contacts {
                    return Err(invalid(format!(
                        "success plan {} `{}` is not shared with contacts: turn on its \
                         sharing with contacts first",
                        plan.id, plan.name
                    )));
                }
                let mut resolved: Vec<Resolved> = Vec::new();
                for to in &request.recipients {
                    let next = self.resolve(op, &plan, request.audience, to)?;
                    // The same person twice gets one link.
                    if !resolved
                        .iter()
                        .any(|r| r.email.eq_ignore_ascii_case(&next.email))
                    {
                        resolved.push(next);
                    }
                }
                let subject = request
                    .subject
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{} for {}", plan.name, customer));
                let expires_at = now + i64::from(settings.link_expiry_days) * 86_400;
                op.conn
                    .prepare_cached(
                        "INSERT INTO shares (tenant_id, plan_id, audience, include_tasks, subject,
                                         note, shared_by, shared_at, expires_at, otp_required)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    )
                    .and_then(|mut insert| {
                        insert.execute(params![
                            op.tenant.as_str(),
                            plan.id,
                            audience_str(request.audience),
                            request.include_tasks,
                            subject,
                            note,
                            shared_by,
                            now,
                            expires_at,
                            settings.otp_required
                        ])
                    })?;
                let share_id = op.conn.last_insert_rowid();
                let mut links = Vec::with_capacity(resolved.len());
                let mut insert = op.conn.prepare_cached(
                    "INSERT INTO share_recipients (tenant_id, share_id, email, name, external,
                                                       user_id, person_id, token_hash)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                for r in &resolved {
                    let token = new_token()?;
                    insert.execute(params![
                        op.tenant.as_str(),
                        share_id,
                        r.email,
                        r.name,
                        r.external,
                        r.user_id,
                        r.person_id,
                        token_hash(&token).as_slice()
                    ])?;
                    links.push(RecipientLink {
                        recipient_id: op.conn.last_insert_rowid(),
                        email: r.email.clone(),
                        link: format!("{}{token}", settings.link_base),
                    });
                }
                drop(insert);
                op.audit(
                    "plan.share",
                    &format!("plan:{}", plan.id),
                    None,
                    Some(serde_json::json!({
                        "share": share_id,
                        "audience": request.audience,
                        "recipients": resolved.iter().map(|r| &r.email).collect::<Vec<_>>(),
                        "include_tasks": request.include_tasks,
                        "subject": subject,
                        "expires_at": expires_at,
                    })),
                )?;
                let recipients: Vec<Recipient> = resolved
                    .into_iter()
                    .map(|r| Recipient {
                        email: r.email,
                        name: r.name,
                        external: r.external,
                    })
                    .collect();
                Ok((
                    share_id, plan, customer, subject, expires_at, links, recipients,
                ))
            })?;

        // 2. The plan shared hook, outside the transaction: notifiers may look data up.
        let external = request.audience == Audience::Contacts;
        let event = ShareEvent {
            plan_id: plan.id.to_string(),
            plan_name: plan.name.clone(),
            customer_id: plan.company_id.to_string(),
            customer_name: customer.clone(),
            audience: request.audience,
            recipients,
            visible_objectives: plan
                .objectives
                .iter()
                .filter(|o| !external || o.shared_externally)
                .map(|o| Objective {
                    id: o.id.to_string(),
                    name: o.name.clone(),
                    status: o.status.clone(),
                    due_date: o.due_date,
                })
                .collect(),
            include_tasks: request.include_tasks,
            subject,
            note,
            shared_by,
            link_expires_at: Some(dates::rfc3339(expires_at)),
        };
        let planned = default_notifications(&event);
        let (messages, held) = match self.plan_shared(&event, planned.clone()) {
            Ok(NotifyOutcome::Send(list)) => (list, None),
            Ok(NotifyOutcome::Held { error, planned }) => (planned, Some(error.to_string())),
            // The share stands; its notifications wait, held, with the reason.
            Err(error) => (planned, Some(error.to_string())),
        };

        // 3. The notifications, with each recipient's own link, to the outbox.
        // Addresses are compared normalised (trimmed, lower case, nothing but an address).
        let by_email: HashMap<String, &str> = links
            .iter()
            .filter_map(|l| Some((outbox::normalize_address(&l.email)?, l.link.as_str())))
            .collect();
        let personal = |n: &Notification| {
            let to = outbox::normalize_address(&n.recipient);
            let link = to.as_ref().and_then(|to| by_email.get(to));
            match (link, to) {
                (Some(link), Some(to)) => Notification {
                    channel: n.channel,
                    recipient: to,
                    subject: n.subject.replace(LINK_PLACEHOLDER, link),
                    body: n.body.replace(LINK_PLACEHOLDER, link),
                },
                // Someone who is not a recipient never gets a recipient's link.
                _ => n.clone(),
            }
        };
        self.write(|op| {
            for (index, message) in messages.iter().enumerate() {
                let key = format!("share:{share_id}:{index}");
                let message = personal(message);
                match &held {
                    None => outbox::enqueue(op, &key, MessageKind::Share, &message)?,
                    Some(error) => {
                        outbox::enqueue_held(op, &key, MessageKind::Share, &message, error)?
                    }
                };
            }
            op.conn.execute(
                "UPDATE shares SET notify_status = ?3, notify_error = ?4
                 WHERE tenant_id = ?1 AND id = ?2",
                params![
                    op.tenant.as_str(),
                    share_id,
                    if held.is_some() { "held" } else { "queued" },
                    held
                ],
            )?;
            Ok(())
        })?;
        Ok(ShareReceipt {
            share_id,
            links,
            expires_at,
            notifications: match held {
                None => Notifications::Queued(messages.len()),
                Some(error) => Notifications::Held {
                    count: messages.len(),
                    error,
                },
            },
        })
    }

    /// Checks one recipient and returns who they are; adds a contact as a person if needed.
    fn resolve(
        &self,
        op: &Op<'_>,
        plan: &Plan,
        audience: Audience,
        to: &ShareTo,
    ) -> Result<Resolved> {
        let email = crate::users::check_email(&to.email)?;
        match audience {
            Audience::Users => {
                let refused = |reason: &str| {
                    Error::new(ErrorKind::ShareRefused {
                        email: email.to_owned(),
                        reason: reason.to_owned(),
                    })
                };
                let user = crate::users::by_email(op, email)?
                    .ok_or_else(|| refused("there is no user with this email"))?;
                if user.licence == Licence::InternalCollaborator {
                    return Err(refused(
                        "an Internal Collaborator licence cannot receive success plans; it \
                         takes a Viewer, Viewer + Analytics or Full licence",
                    ));
                }
                Ok(Resolved {
                    email: user.email,
                    name: user.name,
                    external: false,
                    user_id: Some(user.id),
                    person_id: None,
                })
            }
            Audience::Contacts => {
                let (person, _) = crate::persons::ensure(
                    op,
                    Some(plan.company_id),
                    email,
                    &to.first_name,
                    &to.last_name,
                )?;
                Ok(Resolved {
                    name: person.display_name(),
                    email: person.email,
                    external: true,
                    user_id: None,
                    person_id: Some(person.id),
                })
            }
        }
    }

    /// Opens a shared link (the whole link, or its token). Without a code rule this returns the
    /// plan as the recipient may see it; with one, [`Opened::CodeRequired`].
    ///
    /// Unknown, expired, revoked and blocked links all fail with
    /// [`ErrorKind::LinkUnavailable`].
    pub fn open_link(&self, link: &str) -> Result<Opened> {
        let now = self.host.now();
        self.write(|op| {
            let link = find_link(op, link)?;
            if link.otp_required {
                return Ok(Opened::CodeRequired);
            }
            touch(op.conn, link.recipient_id, now)?;
            Ok(Opened::Plan(self.shared_plan(op, &link)?))
        })
    }

    /// Sends the recipient of a link a new one-time code by email (through the outbox),
    /// replacing any earlier code. A link may be sent at most five codes
    /// ([`OtpError::NoMoreCodes`] after that).
    pub fn request_otp(&self, link: &str) -> Result<()> {
        let now = self.host.now();
        self.write(|op| {
            let link = find_link(op, link)?;
            if !link.otp_required {
                return Err(invalid("this link needs no code".to_owned()));
            }
            if link.otps_issued >= OTP_MAX_ISSUED {
                return Err(Error::new(ErrorKind::Otp(OtpError::NoMoreCodes)));
            }
            let code = otp::new_code()?;
            op.conn
                .prepare_cached(
                    "UPDATE share_recipients SET otp_hash = ?2, otp_expires_at = ?3,
                     otps_issued = otps_issued + 1
                 WHERE id = ?1",
                )
                .and_then(|mut update| {
                    update.execute(params![
                        link.recipient_id,
                        otp::hash(link.recipient_id, &code).as_slice(),
                        now + OTP_LIFETIME_SECS
                    ])
                })?;
            let message = Notification {
                channel: Channel::Email,
                recipient: link.email.clone(),
                subject: format!("Your code for {}", link.plan_name),
                body: format!(
                    "Your one-time code is {code}.\n\nIt is valid for 5 minutes. If you did not \
                     ask for it, you can ignore this message."
                ),
            };
            let key = format!("otp:{}:{}", link.recipient_id, link.otps_issued + 1);
            outbox::enqueue(op, &key, MessageKind::Otp, &message)?;
            Ok(())
        })
    }

    /// Checks a one-time code and, when it is right, returns the plan as the recipient may see
    /// it. A code works once. A wrong code counts against the link: the third blocks it.
    pub fn verify_otp(&self, link: &str, code: &str) -> Result<SharedPlan> {
        let now = self.host.now();
        // A wrong code must be counted even though the call fails, so the transaction commits
        // and the refusal is returned after.
        let verdict = self.write(|op| {
            let link = find_link(op, link)?;
            if !link.otp_required {
                touch(op.conn, link.recipient_id, now)?;
                return Ok(Ok(self.shared_plan(op, &link)?));
            }
            let (hash, expires): (Option<Vec<u8>>, Option<i64>) = op.conn.query_row(
                "SELECT otp_hash, otp_expires_at FROM share_recipients WHERE id = ?1",
                [link.recipient_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let (Some(hash), Some(expires)) = (hash, expires) else {
                return Ok(Err(OtpError::NotRequested));
            };
            if now >= expires {
                return Ok(Err(OtpError::Expired));
            }
            let given = otp::hash(link.recipient_id, code.trim());
            if bool::from(given.as_slice().ct_eq(&hash)) {
                op.conn.execute(
                    "UPDATE share_recipients SET otp_hash = NULL, otp_expires_at = NULL,
                         last_access_at = ?2
                     WHERE id = ?1",
                    params![link.recipient_id, now],
                )?;
                return Ok(Ok(self.shared_plan(op, &link)?));
            }
            let failures = link.otp_failures + 1;
            let blocked = failures >= OTP_MAX_FAILURES;
            op.conn.execute(
                "UPDATE share_recipients SET otp_failures = ?2,
                     blocked_at = CASE WHEN ?3 THEN ?4 ELSE blocked_at END,
                     otp_hash = CASE WHEN ?3 THEN NULL ELSE otp_hash END
                 WHERE id = ?1",
                params![link.recipient_id, failures, blocked, now],
            )?;
            if blocked {
                audit::record(
                    op.conn,
                    now,
                    Change {
                        tenant: Some(op.tenant),
                        actor: "system",
                        action: "share.block",
                        subject: &format!("share-recipient:{}", link.recipient_id),
                        before: None,
                        after: Some(serde_json::json!({ "reason": "too many wrong codes" })),
                    },
                )?;
            }
            Ok(Err(OtpError::Wrong {
                tries_left: (OTP_MAX_FAILURES - failures).max(0) as u32,
            }))
        })?;
        verdict.map_err(|e| Error::new(ErrorKind::Otp(e)))
    }

    /// Revokes one recipient's link. Returns whether it was active (not revoked before).
    pub fn revoke_recipient(&self, recipient_id: i64) -> Result<bool> {
        self.read(|op| {
            op.require(Permission::Revoke)?;
            recipient_in_scope(op, recipient_id)
        })?;
        let revoked = self.revoke(
            "r.id = ?2",
            recipient_id,
            &format!("share-recipient:{recipient_id}"),
        )?;
        Ok(revoked == 1)
    }

    /// Gives a recipient a new link in place of the old one, which stops working at once: for a
    /// link that never reached its holder (its printout was lost, the message went astray). The
    /// new link keeps the share's expiry; the recipient's one-time code state starts afresh
    /// (a link blocked by wrong codes is usable again). A revoked or expired link is not
    /// re-issued: share the plan again. Audited as `share.reissue`.
    pub fn reissue_link(&self, recipient_id: i64) -> Result<RecipientLink> {
        let now = self.host.now();
        self.write(|op| {
            op.require(Permission::SharePlans)?;
            recipient_in_scope(op, recipient_id)?;
            let found: Option<(String, Option<i64>, i64)> = op
                .conn
                .query_row(
                    "SELECT r.email, r.revoked_at, s.expires_at FROM share_recipients r
                     JOIN shares s ON s.tenant_id = r.tenant_id AND s.id = r.share_id
                     WHERE r.tenant_id = ?1 AND r.id = ?2",
                    params![op.tenant.as_str(), recipient_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((email, revoked_at, expires_at)) = found else {
                return Err(plans::not_found("share recipient", recipient_id));
            };
            if revoked_at.is_some() || now >= expires_at {
                let state = if revoked_at.is_some() {
                    "revoked"
                } else {
                    "expired"
                };
                return Err(invalid(format!(
                    "share recipient {recipient_id} ({email}): the link is {state}, so it is not \
                     re-issued; share the plan again"
                )));
            }
            let token = new_token()?;
            op.conn.execute(
                "UPDATE share_recipients SET token_hash = ?3, blocked_at = NULL, otp_hash = NULL,
                        otp_expires_at = NULL, otps_issued = 0, otp_failures = 0
                 WHERE tenant_id = ?1 AND id = ?2",
                params![
                    op.tenant.as_str(),
                    recipient_id,
                    token_hash(&token).as_slice()
                ],
            )?;
            op.audit(
                "share.reissue",
                &format!("share-recipient:{recipient_id}"),
                None,
                Some(serde_json::json!({ "email": email })),
            )?;
            Ok(RecipientLink {
                recipient_id,
                email,
                link: format!("{}{token}", settings(op)?.link_base),
            })
        })
    }

    /// Revokes every link to a plan. Returns how many were revoked.
    pub fn revoke_plan(&self, plan_id: i64) -> Result<usize> {
        self.read(|op| plans::require(op, plans::Record::Plan, plan_id))?;
        self.revoke("s.plan_id = ?2", plan_id, &format!("plan:{plan_id}"))
    }

    /// Revokes every link to every plan of a customer company. Returns how many were revoked.
    pub fn revoke_company(&self, company_id: i64) -> Result<usize> {
        self.read(|op| crate::companies::require(op, company_id))?;
        let plans = self.read(|op| plans::ids_of_company(op, company_id))?;
        self.revoke(
            "s.plan_id IN (SELECT value FROM json_each(?2))",
            serde_json::json!(plans).to_string(),
            &format!("company:{company_id}"),
        )
    }

    fn revoke(&self, condition: &str, id: impl rusqlite::ToSql, subject: &str) -> Result<usize> {
        let now = self.host.now();
        self.write(|op| {
            op.require(Permission::Revoke)?;
            let revoked = op.conn.execute(
                &format!(
                    "UPDATE share_recipients SET revoked_at = ?3, revoked_by = ?4
                         WHERE tenant_id = ?1 AND revoked_at IS NULL AND id IN (
                             SELECT r.id FROM share_recipients r
                             JOIN shares s ON s.tenant_id = r.tenant_id AND s.id = r.share_id
                             WHERE r.tenant_id = ?1 AND {condition})"
                ),
                params![op.tenant.as_str(), id, now, self.actor],
            )?;
            op.audit(
                "share.revoke",
                subject,
                None,
                Some(serde_json::json!({ "revoked": revoked })),
            )?;
            Ok(revoked)
        })
    }

    /// The "manage shares" view: every recipient of every share of a plan (or of all plans),
    /// newest share first, with their state, who shared it, when, and until when.
    pub fn shares(&self, plan_id: Option<i64>) -> Result<Vec<ShareRow>> {
        let now = self.host.now();
        self.read(|op| {
            op.conn
                .prepare_cached(
                    "SELECT r.id, s.id, s.plan_id, r.email, r.external, r.revoked_at,
                        r.blocked_at, s.shared_by, s.shared_at, s.expires_at, r.last_access_at
                 FROM share_recipients r
                 JOIN shares s ON s.tenant_id = r.tenant_id AND s.id = r.share_id
                 WHERE r.tenant_id = ?1 AND (?2 IS NULL OR s.plan_id = ?2)
                 ORDER BY s.id DESC, r.id",
                )
                .and_then(|mut q| {
                    q.query_map(params![op.tenant.as_str(), plan_id], |r| {
                        let revoked: Option<i64> = r.get(5)?;
                        let blocked: Option<i64> = r.get(6)?;
                        let expires_at: i64 = r.get(9)?;
                        Ok(ShareRow {
                            recipient_id: r.get(0)?,
                            share_id: r.get(1)?,
                            plan_id: r.get(2)?,
                            plan_name: String::new(),
                            email: r.get(3)?,
                            external: r.get(4)?,
                            state: if revoked.is_some() {
                                LinkState::Revoked
                            } else if blocked.is_some() {
                                LinkState::Blocked
                            } else if now >= expires_at {
                                LinkState::Expired
                            } else {
                                LinkState::Active
                            },
                            shared_by: r.get(7)?,
                            shared_on: r.get(8)?,
                            expires_at,
                            last_access_at: r.get(10)?,
                        })
                    })?
                    .collect()
                })
                .map_err(Error::from)
                .and_then(|mut rows: Vec<ShareRow>| {
                    // A partner user sees the shares of the plans it may reach only.
                    if op.scope().is_some() {
                        rows.retain(|row| {
                            plans::require(op, plans::Record::Plan, row.plan_id).is_ok()
                        });
                    }
                    // The plans' names, from the plans repository, once per plan.
                    let mut names = std::collections::HashMap::new();
                    for row in &mut rows {
                        let name = match names.entry(row.plan_id) {
                            std::collections::hash_map::Entry::Occupied(name) => name.into_mut(),
                            std::collections::hash_map::Entry::Vacant(slot) => {
                                slot.insert(plans::name(op, row.plan_id)?.unwrap_or_default())
                            }
                        };
                        row.plan_name.clone_from(name);
                    }
                    Ok(rows)
                })
        })
    }

    /// The plan as the recipient of `link` may see it.
    fn shared_plan(&self, op: &Op<'_>, link: &Link) -> Result<SharedPlan> {
        let plan = plans::load_plan(op, link.plan_id)?;
        let customer = company_name(op, plan.company_id)?;
        let objectives = plan
            .objectives
            .into_iter()
            .filter(|o| !link.external || o.shared_externally)
            .map(|mut o| {
                if !link.include_tasks {
                    o.tasks.clear();
                }
                o
            })
            .collect();
        Ok(SharedPlan {
            plan_id: plan.id,
            name: plan.name,
            customer,
            status: plan.status,
            due_date: plan.due_date,
            shared_by: link.shared_by.clone(),
            note: link.note.clone(),
            objectives,
            expires_at: link.expires_at,
        })
    }
}

/// A recipient's link, found and checked.
struct Link {
    recipient_id: i64,
    email: String,
    external: bool,
    plan_id: i64,
    plan_name: String,
    include_tasks: bool,
    note: Option<String>,
    shared_by: String,
    expires_at: i64,
    otp_required: bool,
    otps_issued: i64,
    otp_failures: i64,
}

/// The link with this token, if it is known to the tenant and may be opened now; otherwise
/// [`ErrorKind::LinkUnavailable`], whatever the reason.
fn find_link(op: &Op<'_>, link: &str) -> Result<Link> {
    let Op {
        conn, tenant, now, ..
    } = *op;
    let unavailable = || Error::new(ErrorKind::LinkUnavailable);
    let token = link
        .trim()
        .rsplit('/')
        .next()
        .unwrap_or("")
        .split(['?', '#'])
        .next()
        .unwrap_or("");
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(unavailable());
    }
    let hash = token_hash(&token.to_ascii_lowercase());
    let found = conn
        .prepare_cached(
            "SELECT r.id, r.email, r.external, s.plan_id, s.include_tasks, s.note,
                    s.shared_by, s.expires_at, s.otp_required, r.otps_issued, r.otp_failures,
                    r.revoked_at IS NOT NULL OR r.blocked_at IS NOT NULL, r.token_hash
             FROM share_recipients r
             JOIN shares s ON s.tenant_id = r.tenant_id AND s.id = r.share_id
             WHERE r.tenant_id = ?1 AND r.token_hash = ?2",
        )
        .and_then(|mut q| {
            q.query_row(params![tenant.as_str(), hash.as_slice()], |r| {
                let stored: Vec<u8> = r.get(12)?;
                let link = Link {
                    recipient_id: r.get(0)?,
                    email: r.get(1)?,
                    external: r.get(2)?,
                    plan_id: r.get(3)?,
                    plan_name: String::new(),
                    include_tasks: r.get(4)?,
                    note: r.get(5)?,
                    shared_by: r.get(6)?,
                    expires_at: r.get(7)?,
                    otp_required: r.get(8)?,
                    otps_issued: r.get(9)?,
                    otp_failures: r.get(10)?,
                };
                let closed: bool = r.get(11)?;
                Ok((link, closed, stored))
            })
            .optional()
        })?;
    match found {
        // The index found the row by its hash; comparing again in constant time keeps the
        // decision itself free of timing differences.
        Some((link, closed, stored))
            if bool::from(stored.as_slice().ct_eq(hash.as_slice()))
                && !closed
                && now < link.expires_at =>
        {
            // The plan's name, from the plans repository; a link to a plan that is gone
            // opens nothing.
            let plan_name = plans::name(op, link.plan_id)?.ok_or_else(unavailable)?;
            Ok(Link { plan_name, ..link })
        }
        _ => Err(unavailable()),
    }
}

fn touch(conn: &Connection, recipient: i64, now: i64) -> Result<()> {
    conn.prepare_cached("UPDATE share_recipients SET last_access_at = ?2 WHERE id = ?1")
        .and_then(|mut update| update.execute(params![recipient, now]))?;
    Ok(())
}

pub(crate) fn settings(op: &Op<'_>) -> Result<SharingSettings> {
    let Op { conn, tenant, .. } = *op;
    let found = conn
        .prepare_cached(
            "SELECT otp_required, link_expiry_days, link_base, notifications_per_hour
             FROM sharing_settings WHERE tenant_id = ?1",
        )
        .and_then(|mut q| {
            q.query_row([tenant.as_str()], |r| {
                Ok(SharingSettings {
                    otp_required: r.get(0)?,
                    link_expiry_days: r.get(1)?,
                    link_base: r.get(2)?,
                    notifications_per_hour: r.get(3)?,
                })
            })
            .optional()
        })?;
    Ok(found.unwrap_or_else(|| SharingSettings {
        otp_required: true,
        link_expiry_days: 30,
        link_base: format!("https://cs-host.invalid/shared/{tenant}/"),
        notifications_per_hour: outbox::DEFAULT_PER_HOUR,
    }))
}

/// Fails with "no share recipient" unless the tenant has recipient `id` and the acting
/// principal may reach the plan it was shared.
fn recipient_in_scope(op: &Op<'_>, id: i64) -> Result<()> {
    let plan: Option<i64> = op
        .conn
        .prepare_cached(
            "SELECT s.plan_id FROM share_recipients r
             JOIN shares s ON s.tenant_id = r.tenant_id AND s.id = r.share_id
             WHERE r.tenant_id = ?1 AND r.id = ?2",
        )?
        .query_row(params![op.tenant.as_str(), id], |r| r.get(0))
        .optional()?;
    match plan {
        Some(plan) if plans::require(op, plans::Record::Plan, plan).is_ok() => Ok(()),
        _ => Err(plans::not_found("share recipient", id)),
    }
}

fn company_name(op: &Op<'_>, company: i64) -> Result<String> {
    // Whoever may see a plan may see its customer's name, even through a relationship.
    crate::companies::find(&op.as_system(), crate::companies::CompanyKey::Id(company))?
        .map(|c| c.name)
        .ok_or_else(|| plans::not_found("company", company))
}

/// The host's own notification for each recipient: by email, with the subject, the note and
/// the `{link}` placeholder.
fn default_notifications(event: &ShareEvent) -> Vec<Notification> {
    let mut body = format!(
        "{} shared the success plan \"{}\" for {} with you.\n",
        event.shared_by, event.plan_name, event.customer_name
    );
    if let Some(note) = &event.note {
        body.push('\n');
        body.push_str(note);
        body.push('\n');
    }
    body.push_str(&format!("\nOpen the plan: {LINK_PLACEHOLDER}\n"));
    if let Some(expiry) = &event.link_expires_at {
        body.push_str(&format!("The link expires at {expiry}.\n"));
    }
    event
        .recipients
        .iter()
        .map(|r| Notification {
            channel: Channel::Email,
            recipient: r.email.clone(),
            subject: event.subject.clone(),
            body: body.clone(),
        })
        .collect()
}

fn audience_str(audience: Audience) -> &'static str {
    match audience {
        Audience::Users => "users",
        Audience::Contacts => "contacts",
    }
}

/// A new link token: 32 bytes from the operating system's RNG, as 64 hex digits.
fn new_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::new(ErrorKind::Random(e.to_string())))?;
    Ok(hex::encode(bytes))
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::Invalid(message))
}
