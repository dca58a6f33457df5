//! The CTA cockpit: owners, closing with a reason, and the lists a CSM works from (per company,
//! per relationship, mine, open, closed, all), sorted by due date and priority.

use rusqlite::{OptionalExtension, params};

use super::*;

/// Which CTAs a list shows by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CtaStatus {
    /// Open CTAs only; the default.
    #[default]
    Open,
    /// Closed CTAs only.
    Closed,
    /// Both.
    All,
}

named_enum!(CtaStatus, "CTA status", {
    Open => "open",
    Closed => "closed",
    All => "all",
});

/// Which CTAs [`Ctas::cockpit`] lists: every condition given must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct CtaFilter {
    /// Only this company's.
    #[serde(default)]
    pub company_id: Option<i64>,
    /// Only those on this relationship.
    #[serde(default)]
    pub relationship_id: Option<i64>,
    /// Only those this user (an email) owns: "My CTAs".
    #[serde(default)]
    pub owner: Option<String>,
    /// Open (the default), closed, or all.
    #[serde(default)]
    pub status: CtaStatus,
}

impl Ctas<'_> {
    /// The cockpit: the CTAs the filter selects, soonest due first (those without a due date
    /// last), then high priority before medium before low, then oldest first; with their tasks.
    pub fn cockpit(&self, filter: &CtaFilter) -> Result<Vec<Cta>> {
        self.tenant.read(|op| {
            let status = match filter.status {
                CtaStatus::Open => Some("open"),
                CtaStatus::Closed => Some("closed"),
                CtaStatus::All => None,
            };
            // A partner user lists the CTAs it may reach only.
            let scope = scope::condition(op, "company_id", "relationship_id");
            let ids: Vec<i64> = op
                .conn
                .prepare_cached(&format!(
                    "SELECT id FROM ctas
                     WHERE tenant_id = ?1 AND (?2 IS NULL OR company_id = ?2)
                       AND (?3 IS NULL OR relationship_id = ?3)
                       AND (?4 IS NULL OR owner = ?4 COLLATE NOCASE)
                       AND (?5 IS NULL OR status = ?5){scope}
                     ORDER BY due_date IS NULL, due_date,
                              CASE priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END,
                              id"
                ))?
                .query_map(
                    params![
                        op.tenant.as_str(),
                        filter.company_id,
                        filter.relationship_id,
                        filter.owner.as_deref().map(str::trim),
                        status
                    ],
                    |r| r.get(0),
                )?
                .collect::<rusqlite::Result<_>>()?;
            let mut ctas = Vec::with_capacity(ids.len());
            for id in ids {
                ctas.extend(load_ctas(op, "id", id)?);
            }
            Ok(ctas)
        })
    }

    /// Closes a CTA, with a reason (required), audited as `cta.close`. A closed CTA is not
    /// closed again.
    pub fn close(&self, cta_id: i64, reason: &str) -> Result<()> {
        let reason = required("reason for closing the CTA", reason)?;
        self.tenant.write(|op| {
            op.require(Permission::ManageCtas)?;
            scope::check(op, Of::Cta(cta_id))?;
            let status = cta_status(op, cta_id)?;
            if status == "closed" {
                return Err(invalid(format!("CTA {cta_id} is already closed")));
            }
            op.conn.execute(
                "UPDATE ctas SET status = 'closed', closed_reason = ?3, closed_at = ?4
                 WHERE tenant_id = ?1 AND id = ?2",
                params![op.tenant.as_str(), cta_id, reason, op.now],
            )?;
            op.audit(
                "cta.close",
                &format!("cta:{cta_id}"),
                Some(serde_json::json!({ "status": status })),
                Some(serde_json::json!({ "status": "closed", "reason": reason })),
            )
        })
    }

    /// Opens a closed CTA again (its reason is cleared), audited as `cta.reopen`.
    pub fn reopen(&self, cta_id: i64) -> Result<()> {
        self.tenant.write(|op| {
            op.require(Permission::ManageCtas)?;
            scope::check(op, Of::Cta(cta_id))?;
            if cta_status(op, cta_id)? != "closed" {
                return Err(invalid(format!(
                    "CTA {cta_id} is open: there is nothing to reopen"
                )));
            }
            op.conn.execute(
                "UPDATE ctas SET status = 'open', closed_reason = NULL, closed_at = NULL
                 WHERE tenant_id = ?1 AND id = ?2",
                params![op.tenant.as_str(), cta_id],
            )?;
            op.audit(
                "cta.reopen",
                &format!("cta:{cta_id}"),
                Some(serde_json::json!({ "status": "closed" })),
                Some(serde_json::json!({ "status": "open" })),
            )
        })
    }

    /// Gives a CTA to an owner: a user of the tenant, by email ([`ErrorKind::NotFound`] for
    /// someone else). Audited as `cta.assign`.
    pub fn assign(&self, cta_id: i64, owner: &str) -> Result<()> {
        let email = crate::users::check_email(owner)?;
        self.tenant.write(|op| {
            op.require(Permission::ManageCtas)?;
            scope::check(op, Of::Cta(cta_id))?;
            let user =
                crate::users::by_email(op, email)?.ok_or_else(|| not_found("user", email))?;
            let before: Option<String> = op
                .conn
                .query_row(
                    "SELECT owner FROM ctas WHERE tenant_id = ?1 AND id = ?2",
                    params![op.tenant.as_str(), cta_id],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or_else(|| not_found("CTA", cta_id))?;
            op.conn.execute(
                "UPDATE ctas SET owner = ?3 WHERE tenant_id = ?1 AND id = ?2",
                params![op.tenant.as_str(), cta_id, user.email],
            )?;
            op.audit(
                "cta.assign",
                &format!("cta:{cta_id}"),
                Some(serde_json::json!({ "owner": before })),
                Some(serde_json::json!({ "owner": user.email })),
            )
        })
    }
}

fn cta_status(op: &Op<'_>, cta_id: i64) -> Result<String> {
    op.conn
        .query_row(
            "SELECT status FROM ctas WHERE tenant_id = ?1 AND id = ?2",
            params![op.tenant.as_str(), cta_id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| not_found("CTA", cta_id))
}
