//! Opening a link: the one-time code, and the plan as its recipient may see it.

use super::*;

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

impl Tenant<'_> {
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
}

impl Tenant<'_> {
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
