//! Sharing success plans: shares, recipients, secret links, one-time codes, what each recipient
//! may see, revoking, and the tenant's sharing settings.
//!
//! Every recipient gets a link of their own, ending in a token of 32 random bytes from the
//! operating system. Only the token's SHA-256 is stored. Opening a link checks that it is
//! known, not revoked, not expired and not blocked; when the tenant asks for it, the recipient
//! then needs a one-time code (six digits, valid five minutes, at most five per link, at most
//! three wrong tries before the link is blocked). Expired, revoked, blocked and unknown links all
//! get the same answer, [`ErrorKind::LinkUnavailable`].

mod links;
mod manage;
mod otp;
mod preview;
pub(crate) mod resume;
mod send;
mod settings;

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
use crate::model::{Audience, Channel, Notification, Objective, Recipient, ShareEvent};
use crate::names::named_enum;
use crate::outbox::{self, MessageKind};
use crate::plans::{self, Cta, Plan, PlanObjective, PlanStatus, TaskUpdate, dates};
use crate::store::{Sealed, SecretKey, SecretKind};
use crate::tenant::Tenant;
use crate::users::Licence;

pub use links::{Opened, RecipientSession, SharedPlan};
pub use manage::{LinkState, ShareActivity, ShareRow};
pub use otp::OtpError;
pub use preview::SharePreview;
pub use send::{
    Notifications, RecipientLink, SharePermission, ShareReceipt, ShareRequest, ShareTo,
};
pub use settings::SharingSettings;
pub(crate) use settings::settings;

/// The tenant's shares of success plans, from [`Tenant::shares`]: sharing, previewing, the
/// manage-shares view, revoking, re-issuing and extending links, share events and the sharing
/// settings.
#[derive(Debug, Clone, Copy)]
pub struct Shares<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

/// What a share's recipient does through their link, from [`Tenant::links`]: opening it, the
/// one-time code, the session, and the changes they may make to the shared plan.
#[derive(Debug, Clone, Copy)]
pub struct Links<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

/// How long a one-time code is valid.
const OTP_LIFETIME_SECS: i64 = 5 * 60;
/// How many codes one link may be sent.
const OTP_MAX_ISSUED: i64 = 5;
/// How many wrong codes block a link.
const OTP_MAX_FAILURES: i64 = 3;
/// The placeholder notifiers put in a body, replaced with each recipient's own link.
const LINK_PLACEHOLDER: &str = "{link}";

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
