//! Sharing a plan: the share, each recipient's link, and the notifications.

use super::preview::{Outline, trimmed_note};
use super::*;

/// What to share, with whom: the input of [`Shares::share`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct ShareTo {
    /// Email address.
    pub email: String,
    /// First name, for a new person.
    #[serde(default)]
    pub first_name: String,
    /// Last name, for a new person.
    #[serde(default)]
    pub last_name: String,
    /// What the recipient may do through the link. By default, view. A Viewer or Viewer +
    /// Analytics user only views, even when asked to update.
    #[serde(default)]
    pub permission: SharePermission,
}

/// What a recipient may do through their link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SharePermission {
    /// See the plan as shared; the default.
    #[default]
    View,
    /// Also set their tasks' status and due date, and comment on objectives.
    Update,
}

named_enum!(SharePermission, "share permission", {
    View => "view",
    Update => "update",
});

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
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct RecipientLink {
    /// The recipient's id (for revoking).
    pub recipient_id: i64,
    /// Their email.
    pub email: String,
    /// What they may do through it.
    pub permission: SharePermission,
    /// Their link.
    pub link: String,
}

/// What became of a share's notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
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
    /// Another run queued them first, with the same links: it took this share for one whose
    /// process had died (see [`Hooks::run_pending`](crate::Hooks::run_pending)).
    Resumed,
}

impl std::fmt::Display for Notifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notifications::Queued(count) => write!(f, "{count} notification(s) queued"),
            Notifications::Held { count, error } => {
                write!(f, "{count} notification(s) held: {error}")
            }
            Notifications::Resumed => write!(f, "notifications queued by another run"),
        }
    }
}

/// A recipient being added, before its row exists.
pub(super) struct Resolved {
    pub(super) permission: SharePermission,
    pub(super) email: String,
    pub(super) name: String,
    pub(super) external: bool,
    pub(super) user_id: Option<i64>,
    pub(super) person_id: Option<i64>,
}

impl Shares<'_> {
    /// Shares a plan, on behalf of the acting user (see [`Tenant::acting_as`]).
    ///
    /// Internal users must exist and hold a Full, Viewer or Viewer + Analytics licence
    /// ([`ErrorKind::ShareRefused`] otherwise). Contacts need the plan's "sharing with contacts"
    /// switch on; an email that is not yet a person becomes one. The share and its links are
    /// recorded first, owing their notifications; then the tenant's notifiers run (the *plan
    /// shared* hook) and their notifications (by default, one email per recipient) go to the
    /// outbox, in the transaction that marks them no longer owed. A process that dies in between
    /// leaves them owed: [`Hooks::run_pending`](crate::Hooks::run_pending) (also run on opening a host and on every
    /// tenant handle) queues them, with the same links (each token is kept sealed until then).
    pub fn share(&self, request: &ShareRequest) -> Result<ShareReceipt> {
        // One share, one principal: resolved once, not again by each transaction and look-up.
        let tenant = self.tenant.resolved()?;
        Shares { tenant: &tenant }.share_resolved(request)
    }

    fn share_resolved(&self, request: &ShareRequest) -> Result<ShareReceipt> {
        let now = self.tenant.host.now();
        let shared_by = self.tenant.actor.clone();
        let note = trimmed_note(request);

        // 1. Record the share and its recipients, all or nothing.
        let secret_key = self.tenant.store().key()?;
        let (share_id, plan, customer, subject, expires_at, links, seals, recipients) =
            self.tenant.write(|op| {
                op.require(Permission::SharePlans)?;
                let settings = settings(op)?;
                let (outline, resolved) = self.outline(op, request, now, true)?;
                let Outline {
                    plan,
                    customer,
                    subject,
                    expires_at,
                } = outline;
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
                // Each link's token is sealed: its notification is queued with a nonce the
                // deliverer renders the token from, never with the token.
                let mut seals = Vec::with_capacity(resolved.len());
                let mut insert = op.conn.prepare_cached(
                    "INSERT INTO share_recipients (tenant_id, share_id, email, name, external,
                                                       user_id, person_id, token_hash, permission,
                                                       link_seal)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )?;
                for r in &resolved {
                    let sealed = Sealed::new(SecretKind::LinkToken)?;
                    let token = sealed.reveal(secret_key);
                    insert.execute(params![
                        op.tenant.as_str(),
                        share_id,
                        r.email,
                        r.name,
                        r.external,
                        r.user_id,
                        r.person_id,
                        token_hash(&token).as_slice(),
                        r.permission.as_str(),
                        // Kept until the notifications are queued, for a run that queues them
                        // after this process died.
                        sealed.stored(secret_key)
                    ])?;
                    links.push(RecipientLink {
                        recipient_id: op.conn.last_insert_rowid(),
                        email: r.email.clone(),
                        permission: r.permission,
                        link: format!("{}{token}", settings.link_base),
                    });
                    seals.push((sealed, settings.link_base.clone()));
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
                    share_id, plan, customer, subject, expires_at, links, seals, recipients,
                ))
            })?;

        // 2. The plan shared hook, outside the transaction: notifiers may look data up.
        let outline = Outline {
            plan,
            customer,
            subject,
            expires_at,
        };
        let event = outline.event(request, recipients, note, shared_by);
        let planned = default_notifications(&event);
        let (messages, held) = self.notifications(&event, planned);

        // 3. The notifications, with each recipient's own link, to the outbox (sealed: the
        // link's token a marker the deliverer fills in), in the transaction that marks them
        // queued. A run that resumed the share's owed notifications meanwhile (this process
        // looked dead to it) has queued them already, with the same links: then this run queues
        // nothing.
        let sealed: Vec<(String, Sealed, String)> = links
            .iter()
            .zip(seals)
            .map(|(l, (seal, base))| (l.email.clone(), seal, base))
            .collect();
        let queued = self.tenant.write(|op| {
            if !super::resume::take(op, share_id, held.as_deref())? {
                return Ok(false);
            }
            enqueue_all(
                op,
                share_id,
                &messages,
                held.as_deref(),
                &sealed,
                secret_key,
            )?;
            Ok(true)
        })?;
        if !queued {
            return Ok(ShareReceipt {
                share_id,
                links,
                expires_at,
                notifications: Notifications::Resumed,
            });
        }
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

    /// The notifications the tenant's notifiers make of the planned ones, and the error of a
    /// fail-closed notifier that failed (the planned ones are then held).
    pub(super) fn notifications(
        &self,
        event: &ShareEvent,
        planned: Vec<Notification>,
    ) -> (Vec<Notification>, Option<String>) {
        match self.tenant.hooks().plan_shared(event, planned.clone()) {
            Ok(NotifyOutcome::Send(list)) => (list, None),
            Ok(NotifyOutcome::Held { error, planned }) => (planned, Some(error.to_string())),
            // The share stands; its notifications wait, held, with the reason.
            Err(error) => (planned, Some(error.to_string())),
        }
    }

    /// Checks one recipient and returns who they are, with the permission they will hold (a
    /// Viewer or Viewer + Analytics user only views, whatever was asked); adds a contact as a
    /// person if needed and `create` is set (a preview creates nothing).
    pub(super) fn resolve(
        &self,
        op: &Op<'_>,
        plan: &Plan,
        audience: Audience,
        to: &ShareTo,
        create: bool,
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
                let permission = match user.licence {
                    Licence::Full => to.permission,
                    _ => SharePermission::View,
                };
                Ok(Resolved {
                    permission,
                    email: user.email,
                    name: user.name,
                    external: false,
                    user_id: Some(user.id),
                    person_id: None,
                })
            }
            Audience::Contacts => {
                let person = if create {
                    Some(
                        crate::persons::ensure(
                            op,
                            Some(plan.company_id),
                            email,
                            &to.first_name,
                            &to.last_name,
                        )?
                        .0,
                    )
                } else {
                    crate::persons::by_email(op, email)?
                };
                Ok(match person {
                    Some(person) => Resolved {
                        permission: to.permission,
                        name: person.display_name(),
                        email: person.email,
                        external: true,
                        user_id: None,
                        person_id: Some(person.id),
                    },
                    None => Resolved {
                        permission: to.permission,
                        name: format!("{} {}", to.first_name.trim(), to.last_name.trim())
                            .trim()
                            .to_owned(),
                        email: email.to_owned(),
                        external: true,
                        user_id: None,
                        person_id: None,
                    },
                })
            }
        }
    }
}

/// Queues a share's notifications in the caller's transaction (held with `held`, a fail-closed
/// notifier's error, when there is one), each recipient's own link in place of `{link}`: the
/// link base and a marker, with the token sealed under `key` for the deliverer to render.
/// `links` holds each recipient's email, sealed token and link base. The outbox keys are the
/// share's id and the message's place in the list, so a second run of the same share's
/// notifications adds nothing.
pub(super) fn enqueue_all(
    op: &Op<'_>,
    share_id: i64,
    messages: &[Notification],
    held: Option<&str>,
    links: &[(String, Sealed, String)],
    key: &SecretKey,
) -> Result<()> {
    // Addresses are compared normalised (trimmed, lower case, nothing but an address).
    let by_email: HashMap<String, (&Sealed, &str)> = links
        .iter()
        .filter_map(|(email, seal, base)| {
            Some((outbox::normalize_address(email)?, (seal, base.as_str())))
        })
        .collect();
    let personal = |n: &Notification| {
        let to = outbox::normalize_address(&n.recipient);
        let seal = to.as_ref().and_then(|to| by_email.get(to));
        match (seal, to) {
            (Some((sealed, base)), Some(to)) => {
                let link = format!("{base}{}", sealed.kind().marker());
                let message = Notification {
                    channel: n.channel,
                    recipient: to,
                    subject: n.subject.replace(LINK_PLACEHOLDER, &link),
                    body: n.body.replace(LINK_PLACEHOLDER, &link),
                };
                (message, Some(*sealed))
            }
            // Someone who is not a recipient never gets a recipient's link.
            _ => (n.clone(), None),
        }
    };
    for (index, message) in messages.iter().enumerate() {
        let outbox_key = format!("share:{share_id}:{index}");
        let (message, sealed) = personal(message);
        let secret = sealed.map(|s| (s, key));
        outbox::enqueue_with(op, &outbox_key, MessageKind::Share, &message, held, secret)?;
    }
    Ok(())
}

/// The host's own notification for each recipient: by email, with the subject, the note and
/// the `{link}` placeholder.
pub(super) fn default_notifications(event: &ShareEvent) -> Vec<Notification> {
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
