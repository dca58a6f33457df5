//! What of the plans domain a partner user may reach: the plans, objectives, tasks and CTAs
//! that hang off a company its partner manages (when its scope includes companies) or off a
//! relationship its partner manages (when its scope includes relationships). A plan or CTA on a
//! relationship hangs off the relationship: a partner whose scope is company records does not
//! reach it, even on a company it manages. Anything else answers "not found", as if it did not
//! exist.
//!
//! The scope is part of the SQL ([`condition`], [`plan_condition`]): lists select only what the
//! principal reaches, and a check is one query. For every principal but a partner user, the
//! conditions are empty and cost nothing.

use rusqlite::params;

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

/// The SQL condition (` AND …`, or nothing) confining rows whose company id is the expression
/// `company` and whose relationship id (or NULL) is `relationship` to what the acting
/// principal reaches.
pub(crate) fn condition(op: &Op<'_>, company: &str, relationship: &str) -> String {
    let Some(scope) = op.scope() else {
        return String::new();
    };
    let on_company = companies::reach_sql(&scope, company)
        .map(|reached| format!("({relationship} IS NULL AND {reached})"));
    let on_relationship = relationships::reach_sql(&scope, relationship);
    match (on_company, on_relationship) {
        (None, None) => " AND 0".to_owned(),
        (Some(one), None) | (None, Some(one)) => format!(" AND {one}"),
        (Some(company), Some(relationship)) => format!(" AND ({company} OR {relationship})"),
    }
}

/// The SQL condition (` AND …`, or nothing) confining rows whose plan id is the expression
/// `plan` to the plans the acting principal reaches: what sharing puts in its queries.
pub(crate) fn plan_condition(op: &Op<'_>, plan: &str) -> String {
    let inner = condition(op, "sp.company_id", "sp.relationship_id");
    if inner.is_empty() {
        return inner;
    }
    format!(" AND EXISTS (SELECT 1 FROM success_plans sp WHERE sp.id = {plan}{inner})")
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
            format!(
                "SELECT 1 FROM success_plans p WHERE p.tenant_id = ?1 AND p.id = ?2{}",
                condition(op, "p.company_id", "p.relationship_id")
            ),
        ),
        Of::Objective(id) => (
            "objective",
            id,
            format!(
                "SELECT 1 FROM objectives o
                 JOIN success_plans p ON p.tenant_id = o.tenant_id AND p.id = o.plan_id
                 WHERE o.tenant_id = ?1 AND o.id = ?2{}",
                condition(op, "p.company_id", "p.relationship_id")
            ),
        ),
        Of::Cta(id) => (
            "CTA",
            id,
            format!(
                "SELECT 1 FROM ctas c WHERE c.tenant_id = ?1 AND c.id = ?2{}",
                condition(op, "c.company_id", "c.relationship_id")
            ),
        ),
        Of::Task(id) => (
            "task",
            id,
            format!(
                "SELECT 1 FROM tasks t
                 LEFT JOIN objectives o ON o.tenant_id = t.tenant_id AND o.id = t.objective_id
                 LEFT JOIN success_plans op ON op.tenant_id = o.tenant_id AND op.id = o.plan_id
                 LEFT JOIN ctas c ON c.tenant_id = t.tenant_id AND c.id = t.cta_id
                 WHERE t.tenant_id = ?1 AND t.id = ?2{}",
                condition(
                    op,
                    "coalesce(op.company_id, c.company_id)",
                    "coalesce(op.relationship_id, c.relationship_id)"
                )
            ),
        ),
    };
    if op
        .conn
        .prepare_cached(&sql)?
        .exists(params![op.tenant.as_str(), id])?
    {
        Ok(())
    } else {
        Err(not_found(object, id))
    }
}

/// Whether the acting principal may reach what hangs off company `company` (or, when it is for
/// one, off relationship `relationship`: then the relationship decides).
pub(crate) fn visible(op: &Op<'_>, company: i64, relationship: Option<i64>) -> Result<bool> {
    let Some(scope) = op.scope() else {
        return Ok(true);
    };
    match relationship {
        Some(relationship) => {
            Ok(scope.relationship_manager().is_some() && relationships::visible(op, relationship)?)
        }
        None => Ok(scope.company_manager().is_some() && companies::require(op, company).is_ok()),
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

/// Fails with "no company" unless the acting principal may list what hangs off company
/// `company`: it reaches the company record, or a relationship of it. The lists themselves
/// select only what it reaches ([`condition`]).
pub(crate) fn require_listing(op: &Op<'_>, company: i64) -> Result<()> {
    if op.scope().is_none()
        || visible(op, company, None)?
        || relationships::any_reached_of(op, company)?
    {
        Ok(())
    } else {
        Err(not_found("company", company))
    }
}
