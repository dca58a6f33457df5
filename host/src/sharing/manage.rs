//! Managing shares: the manage-shares view, revoking and re-issuing links.

use super::*;

/// A recipient's state, for the "manage shares" view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
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
    /// When the recipient last opened the plan (or changed it).
    pub last_access_at: Option<i64>,
    /// What the recipient may do through the link.
    pub permission: SharePermission,
}

/// Something a recipient did through their link: one row of [`Shares::events`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct ShareActivity {
    /// The event's id.
    pub id: i64,
    /// The plan.
    pub plan_id: i64,
    /// The recipient (for the manage-shares view).
    pub recipient_id: i64,
    /// The recipient's email.
    pub email: String,
    /// `task.update` or `objective.comment`.
    pub action: String,
    /// `task:<id>` or `objective:<id>`.
    pub subject: String,
    /// What changed: a task's name with its status and due date before and after, or a
    /// comment's id and text (untrusted: escape it before showing it).
    pub detail: serde_json::Value,
    /// When (Unix seconds).
    pub at: i64,
}

impl Shares<'_> {
    /// Revokes one recipient's link. Returns whether it was active (not revoked before).
    pub fn revoke_recipient(&self, recipient_id: i64) -> Result<bool> {
        self.tenant.read(|op| {
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
    /// new link keeps the link's expiry and permission; the recipient's one-time code state starts afresh
    /// (a link blocked by wrong codes is usable again). A revoked or expired link is not
    /// re-issued: share the plan again. Audited as `share.reissue`.
    pub fn reissue_link(&self, recipient_id: i64) -> Result<RecipientLink> {
        let now = self.tenant.host.now();
        self.tenant.write(|op| {
            op.require(Permission::SharePlans)?;
            recipient_in_scope(op, recipient_id)?;
            let found: Option<(String, Option<i64>, i64, String)> = op
                .conn
                .query_row(
                    "SELECT r.email, r.revoked_at, COALESCE(r.expires_at, s.expires_at),
                            r.permission
                     FROM share_recipients r
                     JOIN shares s ON s.tenant_id = r.tenant_id AND s.id = r.share_id
                     WHERE r.tenant_id = ?1 AND r.id = ?2",
                    params![op.tenant.as_str(), recipient_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((email, revoked_at, expires_at, permission)) = found else {
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
            let detail = serde_json::json!({ "email": email });
            let link = replace_token(op, recipient_id, &token, detail)?;
            Ok(RecipientLink {
                recipient_id,
                email,
                permission: permission.parse().unwrap_or_default(),
                link,
            })
        })
    }

    /// Revokes every link to a plan. Returns how many were revoked.
    pub fn revoke_plan(&self, plan_id: i64) -> Result<usize> {
        self.tenant
            .read(|op| plans::require(op, plans::Record::Plan, plan_id))?;
        self.revoke("s.plan_id = ?2", plan_id, &format!("plan:{plan_id}"))
    }

    /// Revokes every link to every plan of a customer company. Returns how many were revoked.
    pub fn revoke_company(&self, company_id: i64) -> Result<usize> {
        self.tenant
            .read(|op| crate::companies::require(op, company_id))?;
        let plans = self
            .tenant
            .read(|op| plans::ids_of_company(op, company_id))?;
        self.revoke(
            "s.plan_id IN (SELECT value FROM json_each(?2))",
            serde_json::json!(plans).to_string(),
            &format!("company:{company_id}"),
        )
    }

    /// Revokes every link to every plan of a relationship. Returns how many were revoked.
    pub fn revoke_relationship(&self, relationship_id: i64) -> Result<usize> {
        let plans = self.tenant.read(|op| {
            crate::relationships::load(op, relationship_id)?;
            plans::ids_of_relationship(op, relationship_id)
        })?;
        self.revoke(
            "s.plan_id IN (SELECT value FROM json_each(?2))",
            serde_json::json!(plans).to_string(),
            &format!("relationship:{relationship_id}"),
        )
    }

    /// The "manage shares" view of one relationship: the rows of [`Shares::list`] whose plan
    /// is for that relationship.
    pub fn of_relationship(&self, relationship_id: i64) -> Result<Vec<ShareRow>> {
        let plans = self.tenant.read(|op| {
            crate::relationships::load(op, relationship_id)?;
            plans::ids_of_relationship(op, relationship_id)
        })?;
        let mut rows = self.list(None)?;
        rows.retain(|row| plans.contains(&row.plan_id));
        Ok(rows)
    }

    fn revoke(&self, condition: &str, id: impl rusqlite::ToSql, subject: &str) -> Result<usize> {
        let now = self.tenant.host.now();
        self.tenant.write(|op| {
            op.require(Permission::Revoke)?;
            let revoked = op.conn.execute(
                &format!(
                    "UPDATE share_recipients SET revoked_at = ?3, revoked_by = ?4
                         WHERE tenant_id = ?1 AND revoked_at IS NULL AND id IN (
                             SELECT r.id FROM share_recipients r
                             JOIN shares s ON s.tenant_id = r.tenant_id AND s.id = r.share_id
                             WHERE r.tenant_id = ?1 AND {condition})"
                ),
                params![op.tenant.as_str(), id, now, self.tenant.actor],
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
    pub fn list(&self, plan_id: Option<i64>) -> Result<Vec<ShareRow>> {
        let now = self.tenant.host.now();
        self.tenant.read(|op| {
            // A partner user sees the shares of the plans it may reach only.
            let scope = plans::scope::plan_condition(op, "s.plan_id");
            op.conn
                .prepare_cached(&format!(
                    "SELECT r.id, s.id, s.plan_id, r.email, r.external, r.revoked_at,
                        r.blocked_at, s.shared_by, s.shared_at, COALESCE(r.expires_at, s.expires_at),
                        r.last_access_at, r.permission
                 FROM share_recipients r
                 JOIN shares s ON s.tenant_id = r.tenant_id AND s.id = r.share_id
                 WHERE r.tenant_id = ?1 AND (?2 IS NULL OR s.plan_id = ?2){scope}
                 ORDER BY s.id DESC, r.id"
                ))
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
                            permission: r.get::<_, String>(11)?.parse().unwrap_or_default(),
                        })
                    })?
                    .collect()
                })
                .map_err(Error::from)
                .and_then(|mut rows: Vec<ShareRow>| {
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

    /// Extends a recipient's link: it now expires `days` days (1 to 3650) from now, which must
    /// be later than its expiry today. An expired link opens again; a revoked one is not
    /// extended (share the plan again). Other recipients of the share keep their expiry. Audited
    /// as `share.extend`. Returns the new expiry (Unix seconds).
    pub fn extend_link(&self, recipient_id: i64, days: u32) -> Result<i64> {
        if !(1..=3650).contains(&days) {
            return Err(invalid(format!(
                "extending a link by {days} days: use 1 to 3650 days"
            )));
        }
        let now = self.tenant.host.now();
        self.tenant.write(|op| {
            op.require(Permission::SharePlans)?;
            recipient_in_scope(op, recipient_id)?;
            let found: Option<(String, Option<i64>, i64)> = op
                .conn
                .query_row(
                    "SELECT r.email, r.revoked_at, COALESCE(r.expires_at, s.expires_at)
                     FROM share_recipients r
                     JOIN shares s ON s.tenant_id = r.tenant_id AND s.id = r.share_id
                     WHERE r.tenant_id = ?1 AND r.id = ?2",
                    params![op.tenant.as_str(), recipient_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((email, revoked_at, before)) = found else {
                return Err(plans::not_found("share recipient", recipient_id));
            };
            if revoked_at.is_some() {
                return Err(invalid(format!(
                    "share recipient {recipient_id} ({email}): the link is revoked, so it is \
                     not extended; share the plan again"
                )));
            }
            let until = now + i64::from(days) * 86_400;
            if until <= before {
                return Err(invalid(format!(
                    "share recipient {recipient_id} ({email}): the link already expires at {}, \
                     after {}; extending it would shorten it",
                    dates::rfc3339(before),
                    dates::rfc3339(until)
                )));
            }
            op.conn.execute(
                "UPDATE share_recipients SET expires_at = ?3 WHERE tenant_id = ?1 AND id = ?2",
                params![op.tenant.as_str(), recipient_id, until],
            )?;
            op.audit(
                "share.extend",
                &format!("share-recipient:{recipient_id}"),
                Some(serde_json::json!({ "expires_at": before })),
                Some(serde_json::json!({ "expires_at": until, "email": email })),
            )?;
            Ok(until)
        })
    }

    /// What recipients did through their links (task updates, comments), of one plan or of
    /// all, oldest first.
    pub fn events(&self, plan_id: Option<i64>) -> Result<Vec<ShareActivity>> {
        self.tenant.read(|op| {
            // A partner user sees what was done on the plans it may reach only.
            let scope = plans::scope::plan_condition(op, "e.plan_id");
            op.conn
                .prepare_cached(&format!(
                    "SELECT e.id, e.plan_id, e.recipient_id, e.email, e.action, e.subject,
                            e.detail, e.at
                     FROM share_events e
                     WHERE e.tenant_id = ?1 AND (?2 IS NULL OR e.plan_id = ?2){scope}
                     ORDER BY e.id"
                ))?
                .query_map(params![op.tenant.as_str(), plan_id], |r| {
                    let detail: String = r.get(6)?;
                    Ok(ShareActivity {
                        id: r.get(0)?,
                        plan_id: r.get(1)?,
                        recipient_id: r.get(2)?,
                        email: r.get(3)?,
                        action: r.get(4)?,
                        subject: r.get(5)?,
                        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                        at: r.get(7)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()
                .map_err(Error::from)
        })
    }
}

/// Gives recipient `recipient_id` the new `token` in place of the old one (whose link stops
/// working at once), starts its one-time code state and session afresh, audits it as
/// `share.reissue` with `detail`, and returns the new link.
pub(super) fn replace_token(
    op: &Op<'_>,
    recipient_id: i64,
    token: &str,
    detail: serde_json::Value,
) -> Result<String> {
    op.conn
        .prepare_cached(
            "UPDATE share_recipients SET token_hash = ?3, blocked_at = NULL, otp_hash = NULL,
                    otp_expires_at = NULL, otps_issued = 0, otp_failures = 0,
                    session_hash = NULL, session_expires_at = NULL
             WHERE tenant_id = ?1 AND id = ?2",
        )?
        .execute(params![
            op.tenant.as_str(),
            recipient_id,
            token_hash(token).as_slice()
        ])?;
    op.audit(
        "share.reissue",
        &format!("share-recipient:{recipient_id}"),
        None,
        Some(detail),
    )?;
    Ok(format!("{}{token}", settings(op)?.link_base))
}
