//! Relationships: the tenant's relationships with its customers (a company's product lines,
//! sites or contracts), each of a relationship type. This module owns the `relationships` and
//! `relationship_types` tables.

use rusqlite::{OptionalExtension, params};

use crate::context::Op;
use crate::error::Result;

/// The company relationship `id` belongs to; `None` when the tenant has no such relationship.
pub(crate) fn company_of(op: &Op<'_>, id: i64) -> Result<Option<i64>> {
    let company = op
        .conn
        .prepare_cached("SELECT company_id FROM relationships WHERE tenant_id = ?1 AND id = ?2")?
        .query_row(params![op.tenant.as_str(), id], |row| row.get(0))
        .optional()?;
    Ok(company)
}

/// Whether the acting principal may reach relationship `id`: every principal but a partner
/// user may; a partner user only when its partner's scope includes relationships and the
/// relationship's Managed By is its partner.
pub(crate) fn visible(op: &Op<'_>, id: i64) -> Result<bool> {
    let manager = match op.scope() {
        None => None,
        Some(scope) => match scope.relationship_manager() {
            Some(partner) => Some(partner),
            None => return Ok(false),
        },
    };
    let found = op
        .conn
        .prepare_cached(
            "SELECT 1 FROM relationships
             WHERE tenant_id = ?1 AND id = ?2 AND (?3 IS NULL OR managed_by = ?3)",
        )?
        .exists(params![op.tenant.as_str(), id, manager])?;
    Ok(found)
}
