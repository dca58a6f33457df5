//! API tokens for remote callers: a tenant user's, or the platform operator's. A token is 32
//! random bytes shown once, when it is created; only its SHA-256 hash is kept. Revoking one
//! stops it at once: every request resolves its token again.
//!
//! This module owns the `api_tokens` table.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind, Result};
use crate::store::TenantId;

/// What every token starts with, so a leaked one is recognisable.
const PREFIX: &str = "csh_";

/// The longest life of a token, in days.
pub const MAX_TOKEN_DAYS: u32 = 3650;

/// A token as listed: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct TokenInfo {
    /// Its id (what revoking names).
    pub id: i64,
    /// The tenant, for a tenant user's token; `None` for the platform operator's.
    pub tenant: Option<String>,
    /// The user it acts as (an email); `None` for the platform operator's.
    pub user: Option<String>,
    /// The user's id; `None` for the platform operator's.
    pub user_id: Option<i64>,
    /// What it is for.
    pub label: String,
    /// Who created it.
    pub created_by: String,
    /// When, in Unix seconds.
    pub created_at: i64,
    /// When it stops working, in Unix seconds.
    pub expires_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// When it was last used, if it was.
    pub last_used_at: Option<i64>,
}

/// A token just created: the only time the token itself is seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// The token's record.
    pub info: TokenInfo,
    /// The bearer token, such as `csh_3f…`: shown once, stored only as a hash.
    pub token: String,
}

/// Whom a bearer token authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authenticated {
    /// The platform operator.
    Operator {
        /// The token's id.
        token: i64,
    },
    /// A user of a tenant.
    User {
        /// The token's id.
        token: i64,
        /// The tenant.
        tenant: String,
        /// The user's email.
        email: String,
    },
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.trim().as_bytes()).into()
}

fn fresh_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::new(ErrorKind::Random(e.to_string())))?;
    Ok(format!("{PREFIX}{}", hex::encode(bytes)))
}

/// Checks a token's life in days: 1 to [`MAX_TOKEN_DAYS`].
pub(crate) fn check_days(days: u32) -> Result<i64> {
    if (1..=MAX_TOKEN_DAYS).contains(&days) {
        Ok(i64::from(days) * 86_400)
    } else {
        Err(Error::new(ErrorKind::InvalidField {
            field: "expires_in_days".to_owned(),
            message: format!("{days} days: a token lives 1 to {MAX_TOKEN_DAYS} days"),
        }))
    }
}

/// Creates a token for user `user` of `tenant`, or for the platform operator (`None`).
pub(crate) fn create(
    conn: &Connection,
    owner: Option<(&TenantId, i64)>,
    label: &str,
    created_by: &str,
    now: i64,
    lifetime: i64,
) -> Result<(i64, String)> {
    let token = fresh_token()?;
    conn.prepare_cached(
        "INSERT INTO api_tokens (tenant_id, user_id, label, token_hash, created_by, created_at,
                                 expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        owner.map(|(t, _)| t.as_str()),
        owner.map(|(_, u)| u),
        label.trim(),
        &hash(&token)[..],
        created_by,
        now,
        now + lifetime
    ])?;
    Ok((conn.last_insert_rowid(), token))
}

const COLUMNS: &str = "id, tenant_id, user_id, label, created_by, created_at, expires_at, \
                       revoked_at, last_used_at";

fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<TokenInfo> {
    Ok(TokenInfo {
        id: row.get(0)?,
        tenant: row.get(1)?,
        user: None,
        user_id: row.get(2)?,
        label: row.get(3)?,
        created_by: row.get(4)?,
        created_at: row.get(5)?,
        expires_at: row.get(6)?,
        revoked_at: row.get(7)?,
        last_used_at: row.get(8)?,
    })
}

/// The tokens of `tenant` (of one user when `user` is given), or the platform operator's when
/// `tenant` is `None`; oldest first.
pub(crate) fn list(
    conn: &Connection,
    tenant: Option<&TenantId>,
    user: Option<i64>,
) -> Result<Vec<TokenInfo>> {
    let tokens = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM api_tokens
             WHERE tenant_id IS ?1 AND (?2 IS NULL OR user_id = ?2) ORDER BY id"
        ))?
        .query_map(params![tenant.map(TenantId::as_str), user], read)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(tokens)
}

/// Token `id` of `tenant` (or of the platform operator), if there is one.
pub(crate) fn get(conn: &Connection, tenant: Option<&TenantId>, id: i64) -> Result<TokenInfo> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM api_tokens WHERE tenant_id IS ?1 AND id = ?2"
    ))?
    .query_row(params![tenant.map(TenantId::as_str), id], read)
    .optional()?
    .ok_or_else(|| {
        Error::new(ErrorKind::NotFound {
            object: "API token",
            id: id.to_string(),
        })
    })
}

/// Revokes token `id`; returns whether it was live until now.
pub(crate) fn revoke(
    conn: &Connection,
    tenant: Option<&TenantId>,
    id: i64,
    now: i64,
) -> Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE api_tokens SET revoked_at = ?3
             WHERE tenant_id IS ?1 AND id = ?2 AND revoked_at IS NULL",
        )?
        .execute(params![tenant.map(TenantId::as_str), id, now])?;
    Ok(changed > 0)
}

/// A live token found by [`authenticate`]: its id, its tenant and user (none for the platform
/// operator's), and whether its use at this second is still to be noted ([`note_use`]).
pub(crate) struct Live {
    /// The token's id.
    pub id: i64,
    /// Its tenant and user's id; `None` for the platform operator's.
    pub owner: Option<(TenantId, i64)>,
    /// Whether its `last_used_at` is not this second yet.
    pub unnoted: bool,
}

/// The live token `token` at `now`. Unknown, expired and revoked tokens all fail alike
/// ([`ErrorKind::Unauthenticated`]). It only reads, so requests authenticating at once do not
/// queue for the write lock: its use is noted by [`note_use`], once a second at most.
pub(crate) fn authenticate(conn: &Connection, token: &str, now: i64) -> Result<Live> {
    let token = token.trim();
    let token = token.strip_prefix("Bearer ").unwrap_or(token).trim();
    conn.prepare_cached(
        "SELECT id, tenant_id, user_id, last_used_at FROM api_tokens
         WHERE token_hash = ?1 AND revoked_at IS NULL AND expires_at > ?2",
    )?
    .query_row(params![&hash(token)[..], now], |r| {
        let tenant: Option<String> = r.get(1)?;
        let user: Option<i64> = r.get(2)?;
        Ok(Live {
            id: r.get(0)?,
            owner: tenant.zip(user).map(|(t, u)| (TenantId::new(t), u)),
            unnoted: r.get::<_, Option<i64>>(3)? != Some(now),
        })
    })
    .optional()?
    .ok_or_else(|| Error::new(ErrorKind::Unauthenticated))
}

/// Notes that token `id` was used at `now` (its `last_used_at`, in seconds: a second's other
/// requests would write the same value again).
pub(crate) fn note_use(conn: &Connection, id: i64, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1 AND last_used_at IS NOT ?2",
    )?
    .execute(params![id, now])?;
    Ok(())
}

/// A console session just opened ([`Host::open_session`](crate::Host::open_session)): the id the
/// browser keeps (its cookie; only its SHA-256 is stored), and when the session ends.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The session's id: 64 hexadecimal digits from the OS's random source.
    pub id: String,
    /// When the session ends, in Unix seconds.
    pub expires_at: i64,
}

/// Opens a session of token `token_id` on `tenant` for `seconds`, and drops the sessions that
/// have ended.
pub(crate) fn open_session(
    conn: &Connection,
    token_id: i64,
    tenant: &TenantId,
    now: i64,
    seconds: i64,
) -> Result<NewSession> {
    conn.prepare_cached("DELETE FROM console_sessions WHERE expires_at <= ?1")?
        .execute([now])?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::new(ErrorKind::Random(e.to_string())))?;
    let id = hex::encode(bytes);
    let expires_at = now.saturating_add(seconds);
    conn.prepare_cached(
        "INSERT INTO console_sessions (id_hash, token_id, tenant_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        &hash(&id)[..],
        token_id,
        tenant.as_str(),
        now,
        expires_at
    ])?;
    Ok(NewSession { id, expires_at })
}

/// The live session `id`: its token (as [`authenticate`] finds it) and its tenant. A session
/// that ended, or whose token was revoked or expired, is [`ErrorKind::Unauthenticated`]. It
/// only reads, as [`authenticate`] does.
pub(crate) fn session(conn: &Connection, id: &str, now: i64) -> Result<(Live, TenantId)> {
    conn.prepare_cached(
        "SELECT t.id, t.tenant_id, t.user_id, t.last_used_at, s.tenant_id
         FROM console_sessions s JOIN api_tokens t ON t.id = s.token_id
         WHERE s.id_hash = ?1 AND s.expires_at > ?2
           AND t.revoked_at IS NULL AND t.expires_at > ?2",
    )?
    .query_row(params![&hash(id)[..], now], |r| {
        let tenant: Option<String> = r.get(1)?;
        let user: Option<i64> = r.get(2)?;
        let live = Live {
            id: r.get(0)?,
            owner: tenant.zip(user).map(|(t, u)| (TenantId::new(t), u)),
            unnoted: r.get::<_, Option<i64>>(3)? != Some(now),
        };
        Ok((live, TenantId::new(r.get::<_, String>(4)?)))
    })
    .optional()?
    .ok_or_else(|| Error::new(ErrorKind::Unauthenticated))
}

/// Ends session `id` (nothing happens if there is none).
pub(crate) fn close_session(conn: &Connection, id: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM console_sessions WHERE id_hash = ?1")?
        .execute([&hash(id)[..]])?;
    Ok(())
}
