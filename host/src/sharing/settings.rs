//! A tenant's sharing settings.

use super::*;

/// A tenant's sharing settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
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

impl Shares<'_> {
    /// The tenant's sharing settings.
    pub fn settings(&self) -> Result<SharingSettings> {
        self.tenant.read(settings)
    }

    /// Changes the tenant's sharing settings. Links already sent keep the expiry and code rule
    /// they were sent with.
    pub fn set_settings(&self, new: &SharingSettings) -> Result<()> {
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
        self.tenant.write(|op| {
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
                &format!("tenant:{}", self.tenant.id),
                serde_json::to_value(before).ok(),
                serde_json::to_value(new).ok(),
            )
        })
    }
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
