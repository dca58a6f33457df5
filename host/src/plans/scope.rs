//! What of the plans domain a partner user may reach: the plans, objectives, tasks and CTAs
//! that hang off a company its partner manages (when its scope includes companies) or off a
//! relationship its partner manages (when its scope includes relationships). Anything else
//! answers "not found", as if it did not exist.
//!
//! For every principal but a partner user, these checks cost nothing.

use rusqlite::{OptionalExtension, params};

use super::not_found;
use crate::companies;
use crate::context::Op;
use crate::error::Result;
use crate::relationships;

/// A record of the plans domain, by id.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Of {
    /// A success plan.
    Plan(i64),
    /// An objective of a plan.
    Objective(i64),
    /// A task of an objective or a CTA.
    Task(i64),
    /// A CTA.
    Cta(i64),
}

/// Fails with [`crate::ErrorKind::NotFound`] unless the acting principal may reach `record`
/// (whether or not it exists: other checks say that for everyone).
pub(crate) fn check(op: &Op<'_>, record: Of) -> Result<()> {
    if op.scope().is_none() {
        return Ok(());
    }
    let (object, id, sql) = match record {
        Of::Plan(id) => (
            "success plan",
            id,
            "SELECT company_id, relationship_id FROM success_plans WHERE tenant_id = ?1 AND id = ?2",
        ),
        Of::Objective(id) => (
            "objective",
            id,
            "SELECT p.company_id, p.relationship_id FROM objectives o
             JOIN success_plans p ON p.tenant_id = o.tenant_id AND p.id = o.plan_id
             WHERE o.tenant_id = ?1 AND o.id = ?2",
        ),
        Of::Cta(id) => (
            "CTA",
            id,
            "SELECT company_id, relationship_id FROM ctas WHERE tenant_id = ?1 AND id = ?2",
        ),
        Of::Task(id) => (
            "task",
            id,
            "SELECT coalesce(op.company_id, c.company_id),
                    coalesce(op.relationship_id, c.relationship_id)
             FROM tasks t
             LEFT JOIN objectives o ON o.tenant_id = t.tenant_id AND o.id = t.objective_id
             LEFT JOIN success_plans op ON op.tenant_id = o.tenant_id AND op.id = o.plan_id
             LEFT JOIN ctas c ON c.tenant_id = t.tenant_id AND c.id = t.cta_id
             WHERE t.tenant_id = ?1 AND t.id = ?2",
        ),
    };
    let owner: Option<(i64, Option<i64>)> = op
        .conn
        .prepare_cached(sql)?
        .query_row(params![op.tenant.as_str(), id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    match owner {
        Some((company, relationship)) if visible(op, company, relationship)? => Ok(()),
        _ => Err(not_found(object, id)),
    }
}

/// Whether the acting principal may reach what hangs off company `company` (and relationship
/// `relationship`, if it is for one).
pub(crate) fn visible(op: &Op<'_>, company: i64, relationship: Option<i64>) -> Result<bool> {
    let Some(scope) = op.scope() else {
        return Ok(true);
    };
    if scope.company_manager().is_some() && companies::require(op, company).is_ok() {
        return Ok(true);
    }
    match relationship {
        Some(relationship) if scope.relationship_manager().is_some() => {
            relationships::visible(op, relationship)
        }
        _ => Ok(false),
    }
}

/// Fails with "no company" unless the acting principal may reach company `company` (or
/// relationship `relationship` of it): the check before anything is added to them.
pub(crate) fn require_owner(op: &Op<'_>, company: i64, relationship: Option<i64>) -> Result<()> {
    if op.scope().is_none() {
        return companies::require(op, company);
    }
    if visible(op, company, relationship)? {
        Ok(())
    } else {
        Err(not_found("company", company))
    }
}
