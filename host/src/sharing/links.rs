//! Opening a link: the one-time code, and the plan as its recipient may see it.

use super::*;

/// What opening a link gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Opened {
    /// The plan, as this recipient may see it.
    Plan(SharedPlan),
    /// The tenant wants a one-time code first: call [`Links::request_otp`], then
    /// [`Links::verify_otp`].
    CodeRequired,
}

/// A shared plan as one recipient sees it: external recipients see only the objectives shared
/// externally, and nobody sees tasks the sharer excluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
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
    /// The objectives the recipient may see (with their tasks, unless excluded, and comments).
    pub objectives: Vec<PlanObjective>,
    /// The CTAs that work towards those objectives (with their tasks, unless excluded).
    pub ctas: Vec<Cta>,
    /// What the recipient may do: view, or also update their tasks and comment.
    pub permission: SharePermission,
    /// When the link expires (Unix seconds).
    pub expires_at: i64,
}

impl SharedPlan {
    /// Whether task `task_id` is in this view (of an objective, or of a CTA).
    fn shows_task(&self, task_id: i64) -> bool {
        self.objectives
            .iter()
            .flat_map(|o| &o.tasks)
            .chain(self.ctas.iter().flat_map(|c| &c.tasks))
            .any(|t| t.id == task_id)
    }
}

/// What a recipient verified with a one-time code holds: a session for acting on the plan
/// (see [`Links::start_session`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct RecipientSession {
    /// The session token (64 hex digits) to give with the link when acting on the plan; `None`
    /// for a link that needs no code. Only its hash is kept.
    pub token: Option<String>,
    /// When the session ends (Unix seconds): twelve hours after the code, or the link's expiry
    /// if that is sooner.
    pub expires_at: i64,
    /// The plan as the recipient may see it.
    pub plan: SharedPlan,
}

/// How long a session opened by a one-time code lasts.
const SESSION_LIFETIME_SECS: i64 = 12 * 3600;

/// Who sees a plan through a link, and how: what [`visible_plan`] needs.
pub(super) struct Seen {
    pub(super) external: bool,
    pub(super) include_tasks: bool,
    pub(super) shared_by: String,
    pub(super) note: Option<String>,
    pub(super) expires_at: i64,
}

/// The plan as a recipient sees it: external recipients see only the objectives shared
/// externally, everyone sees the CTAs of the objectives they see, and nobody sees tasks the
/// sharer excluded. The permission is view; the caller sets the recipient's.
pub(super) fn visible_plan(plan: Plan, customer: String, seen: &Seen) -> SharedPlan {
    let objectives: Vec<PlanObjective> = plan
        .objectives
        .into_iter()
        .filter(|o| !seen.external || o.shared_externally)
        .map(|mut o| {
            if !seen.include_tasks {
                o.tasks.clear();
            }
            o
        })
        .collect();
    let ctas = plan
        .ctas
        .into_iter()
        .filter(|c| {
            c.objective_id
                .is_some_and(|id| objectives.iter().any(|o| o.id == id))
        })
        .map(|mut c| {
            if !seen.include_tasks {
                c.tasks.clear();
            }
            c
        })
        .collect();
    SharedPlan {
        plan_id: plan.id,
        name: plan.name,
        customer,
        status: plan.status,
        due_date: plan.due_date,
        shared_by: seen.shared_by.clone(),
        note: seen.note.clone(),
        objectives,
        ctas,
        permission: SharePermission::View,
        expires_at: seen.expires_at,
    }
}

impl Links<'_> {
    /// Opens a shared link (the whole link, or its token). Without a code rule this returns the
    /// plan as the recipient may see it; with one, [`Opened::CodeRequired`].
    ///
    /// Unknown, expired, revoked and blocked links all fail with
    /// [`ErrorKind::LinkUnavailable`].
    pub fn open(&self, link: &str) -> Result<Opened> {
        self.open_with(link, None)
    }

    /// Opens a shared link within a session a one-time code opened ([`Links::start_session`]):
    /// a link that needs a code opens the plan while the session lasts, and asks for a code
    /// ([`Opened::CodeRequired`]) without one or after it.
    pub fn open_with(&self, link: &str, session: Option<&str>) -> Result<Opened> {
        let now = self.tenant.host.now();
        // Opening reads only, so a link opened by many at once does not queue them for the
        // write lock; the access is noted after, in a write of its own, when this second's is
        // not noted yet (the time is kept in seconds).
        let (opened, recipient) = self.tenant.read(|op| {
            // One read transaction: the plan, its objectives and tasks as of one moment.
            let _snapshot = Snapshot::begin(op.conn)?;
            let link = find_link(op, link)?;
            if link.otp_required && !session.is_some_and(|s| link.session_matches(s, now)) {
                return Ok((Opened::CodeRequired, None));
            }
            let noted = link.last_access_at == Some(now);
            let plan = self.shared_plan(op, &link)?;
            Ok((Opened::Plan(plan), (!noted).then_some(link.recipient_id)))
        })?;
        if let Some(recipient) = recipient {
            self.tenant.write(|op| touch(op.conn, recipient, now))?;
        }
        Ok(opened)
    }

    /// Sends the recipient of a link a new one-time code by email (through the outbox),
    /// replacing any earlier code. A link may be sent at most five codes
    /// ([`OtpError::NoMoreCodes`] after that).
    pub fn request_otp(&self, link: &str) -> Result<()> {
        let now = self.tenant.host.now();
        self.tenant.write(|op| {
            let link = find_link(op, link)?;
            if !link.otp_required {
                return Err(invalid("this link needs no code".to_owned()));
            }
            if link.otps_issued >= OTP_MAX_ISSUED {
                return Err(Error::new(ErrorKind::Otp(OtpError::NoMoreCodes)));
            }
            // The code is sealed: the outbox keeps a nonce, and the deliverer renders the code
            // from it with the server's key, so the database never holds it readable.
            let secret_key = self.tenant.store().key()?;
            let sealed = Sealed::new(SecretKind::Code)?;
            let code = sealed.reveal(secret_key);
            op.conn
                .prepare_cached(
                    "UPDATE share_recipients SET otp_hash = ?2, otp_expires_at = ?3,
                     otps_issued = otps_issued + 1
                 WHERE id = ?1",
                )
                .and_then(|mut update| {
                    update.execute(params![
                        link.recipient_id,
                        otp::hash(secret_key, link.recipient_id, &code).as_slice(),
                        now + OTP_LIFETIME_SECS
                    ])
                })?;
            let message = Notification {
                channel: Channel::Email,
                recipient: link.email.clone(),
                subject: format!("Your code for {}", link.plan_name),
                body: format!(
                    "Your one-time code is {}.\n\nIt is valid for 5 minutes. If you did not \
                     ask for it, you can ignore this message.",
                    SecretKind::Code.marker()
                ),
            };
            // A re-issued link counts its codes afresh, so the count alone would repeat an
            // earlier code's key (and the outbox would drop the new code as a duplicate): a
            // random part keeps every code's key its own.
            let key = format!(
                "otp:{}:{}:{}",
                link.recipient_id,
                link.otps_issued + 1,
                &new_token()?[..16]
            );
            outbox::enqueue_sealed(op, &key, MessageKind::Otp, &message, &sealed, secret_key)?;
            Ok(())
        })
    }

    /// Checks a one-time code and, when it is right, returns the plan as the recipient may see
    /// it. A code works once. A wrong code counts against the link: the third blocks it.
    pub fn verify_otp(&self, link: &str, code: &str) -> Result<SharedPlan> {
        self.start_session(link, code).map(|session| session.plan)
    }

    /// Checks a one-time code like [`Links::verify_otp`] and, when it is right, opens a
    /// session: its token, given with the link, lets the recipient act on the plan
    /// ([`Links::update_task`], [`Links::comment_objective`]) and open it again
    /// ([`Links::open_with`]) for twelve hours without another code. A new session
    /// replaces the recipient's earlier one.
    pub fn start_session(&self, link: &str, code: &str) -> Result<RecipientSession> {
        let now = self.tenant.host.now();
        // A wrong code must be counted even though the call fails, so the transaction commits
        // and the refusal is returned after.
        let verdict = self.tenant.write(|op| {
            let link = find_link(op, link)?;
            if !link.otp_required {
                touch(op.conn, link.recipient_id, now)?;
                return Ok(Ok(RecipientSession {
                    token: None,
                    expires_at: link.expires_at,
                    plan: self.shared_plan(op, &link)?,
                }));
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
            let given = otp::hash(self.tenant.store().key()?, link.recipient_id, code.trim());
            if bool::from(given.as_slice().ct_eq(&hash)) {
                let token = new_token()?;
                let session_ends = (now + SESSION_LIFETIME_SECS).min(link.expires_at);
                op.conn.execute(
                    "UPDATE share_recipients SET otp_hash = NULL, otp_expires_at = NULL,
                         last_access_at = ?2, session_hash = ?3, session_expires_at = ?4
                     WHERE id = ?1",
                    params![
                        link.recipient_id,
                        now,
                        token_hash(&token).as_slice(),
                        session_ends
                    ],
                )?;
                return Ok(Ok(RecipientSession {
                    token: Some(token),
                    expires_at: session_ends,
                    plan: self.shared_plan(op, &link)?,
                }));
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
}

impl Links<'_> {
    /// The plan as the recipient of `link` may see it.
    fn shared_plan(&self, op: &Op<'_>, link: &Link) -> Result<SharedPlan> {
        let plan = plans::load_plan(op, link.plan_id)?;
        let customer = company_name(op, plan.company_id)?;
        let seen = Seen {
            external: link.external,
            include_tasks: link.include_tasks,
            shared_by: link.shared_by.clone(),
            note: link.note.clone(),
            expires_at: link.expires_at,
        };
        Ok(SharedPlan {
            permission: link.permission,
            ..visible_plan(plan, customer, &seen)
        })
    }

    /// Sets a task's status and due date through a shared link, for its recipient. The link
    /// must open (with the session of a verified code when the link needs one:
    /// [`ErrorKind::SessionRequired`] otherwise), the recipient must hold update permission, and
    /// the task must be one they see ([`ErrorKind::RecipientRefused`] otherwise). A CTA's task
    /// may not become due after its CTA. The change is audited as `recipient:<email>`, recorded
    /// as a share event ([`Shares::events`]) and counts as an access. Returns the plan as
    /// the recipient now sees it.
    pub fn update_task(
        &self,
        link: &str,
        session: Option<&str>,
        task_id: i64,
        update: &TaskUpdate,
    ) -> Result<SharedPlan> {
        if update.done.is_none() && update.due_date.is_none() {
            return Err(invalid(
                "nothing to change: give the task's status or due date".to_owned(),
            ));
        }
        self.act(link, session, |op, link, seen| {
            if !seen.shows_task(task_id) {
                return Err(link.refused(&format!("task {task_id} is not in the shared plan")));
            }
            let place = plans::task_place(op, task_id)?;
            let (before, after) = plans::update_task_for_recipient(op, task_id, &place, update)?;
            let detail = serde_json::json!({
                "task": place.name, "before": before, "after": after,
            });
            record_event(op, link, "task.update", &format!("task:{task_id}"), &detail)
        })
    }

    /// Comments on an objective through a shared link, for its recipient; the same checks as
    /// [`Links::update_task`] (the objective must be one they see). Audited as
    /// `recipient:<email>` and recorded as a share event. Returns the plan as the recipient now
    /// sees it.
    pub fn comment_objective(
        &self,
        link: &str,
        session: Option<&str>,
        objective_id: i64,
        body: &str,
    ) -> Result<SharedPlan> {
        self.act(link, session, |op, link, seen| {
            if !seen.objectives.iter().any(|o| o.id == objective_id) {
                return Err(link.refused(&format!(
                    "objective {objective_id} is not in the shared plan"
                )));
            }
            let comment = plans::add_comment(op, objective_id, &link.email, link.external, body)?;
            let detail = serde_json::json!({ "comment": comment, "body": body.trim() });
            let subject = format!("objective:{objective_id}");
            record_event(op, link, "objective.comment", &subject, &detail)
        })
    }

    /// Runs a recipient's change: opens the link (and checks the session), checks the
    /// permission, runs `change` as the recipient, records the access, and returns the plan as
    /// they now see it.
    fn act(
        &self,
        link: &str,
        session: Option<&str>,
        change: impl FnOnce(&Op<'_>, &Link, &SharedPlan) -> Result<()>,
    ) -> Result<SharedPlan> {
        let now = self.tenant.host.now();
        self.tenant.write(|op| {
            let link = find_link(op, link)?;
            if link.otp_required && !session.is_some_and(|s| link.session_matches(s, now)) {
                return Err(Error::new(ErrorKind::SessionRequired));
            }
            if link.permission != SharePermission::Update {
                return Err(link.refused("the plan was shared with them to view only"));
            }
            let seen = self.shared_plan(op, &link)?;
            let actor = format!("recipient:{}", link.email);
            let as_recipient = Op {
                actor: &actor,
                ..*op
            };
            change(&as_recipient, &link, &seen)?;
            touch(op.conn, link.recipient_id, now)?;
            self.shared_plan(op, &link)
        })
    }
}

/// Records what a recipient did, for the sharer's tools ([`Shares::events`]).
fn record_event(
    op: &Op<'_>,
    link: &Link,
    action: &str,
    subject: &str,
    detail: &serde_json::Value,
) -> Result<()> {
    op.conn
        .prepare_cached(
            "INSERT INTO share_events (tenant_id, plan_id, recipient_id, email, action, subject,
                                       detail, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            op.tenant.as_str(),
            link.plan_id,
            link.recipient_id,
            link.email,
            action,
            subject,
            detail.to_string(),
            op.now
        ])?;
    Ok(())
}

/// A recipient's link, found and checked.
struct Link {
    recipient_id: i64,
    permission: SharePermission,
    session: Option<(Vec<u8>, i64)>,
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
    last_access_at: Option<i64>,
}

impl Link {
    /// Whether `token` is this recipient's session, and it has not ended.
    fn session_matches(&self, token: &str, now: i64) -> bool {
        let Some((hash, ends)) = &self.session else {
            return false;
        };
        let token = token.trim().to_ascii_lowercase();
        token.len() == 64
            && now < *ends
            && bool::from(token_hash(&token).as_slice().ct_eq(hash.as_slice()))
    }

    /// A refusal of this recipient's change.
    fn refused(&self, reason: &str) -> Error {
        Error::new(ErrorKind::RecipientRefused {
            email: self.email.clone(),
            reason: reason.to_owned(),
        })
    }
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
                    s.shared_by, COALESCE(r.expires_at, s.expires_at), s.otp_required,
                    r.otps_issued, r.otp_failures,
                    r.revoked_at IS NOT NULL OR r.blocked_at IS NOT NULL, r.token_hash,
                    r.permission, r.session_hash, r.session_expires_at, r.last_access_at
             FROM share_recipients r
             JOIN shares s ON s.tenant_id = r.tenant_id AND s.id = r.share_id
             WHERE r.tenant_id = ?1 AND r.token_hash = ?2",
        )
        .and_then(|mut q| {
            q.query_row(params![tenant.as_str(), hash.as_slice()], |r| {
                let stored: Vec<u8> = r.get(12)?;
                let permission: String = r.get(13)?;
                let session: Option<Vec<u8>> = r.get(14)?;
                let session_ends: Option<i64> = r.get(15)?;
                let link = Link {
                    recipient_id: r.get(0)?,
                    permission: if permission == "update" {
                        SharePermission::Update
                    } else {
                        SharePermission::View
                    },
                    session: session.zip(session_ends),
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
                    last_access_at: r.get(16)?,
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

/// Notes an access to recipient `recipient`'s link at `now`.
/// A read transaction over the connection's cached statements: `BEGIN` now, `ROLLBACK` when
/// dropped. rusqlite's own transactions run their `BEGIN` and their end through
/// `execute_batch`, which parses the SQL anew each time: on a link's page, opened by every
/// recipient, those were the two statements prepared on every request.
struct Snapshot<'c>(&'c Connection);

impl<'c> Snapshot<'c> {
    fn begin(conn: &'c Connection) -> Result<Snapshot<'c>> {
        conn.prepare_cached("BEGIN")?.execute([])?;
        Ok(Snapshot(conn))
    }
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        // It only read: nothing to keep. As with rusqlite's transactions, an error here is
        // dropped (a transaction SQLite already ended needs no rollback).
        if !self.0.is_autocommit() {
            let _ = self
                .0
                .prepare_cached("ROLLBACK")
                .and_then(|mut rollback| rollback.execute([]));
        }
    }
}

fn touch(conn: &Connection, recipient: i64, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE share_recipients SET last_access_at = ?2
         WHERE id = ?1 AND last_access_at IS NOT ?2",
    )
    .and_then(|mut update| update.execute(params![recipient, now]))?;
    Ok(())
}
