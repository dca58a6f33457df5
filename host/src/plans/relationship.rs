//! Plans and CTAs on a relationship: a plan names the relationship it is for; a CTA is on a
//! relationship when it is opened on one or belongs to a plan that is. Also the look-ups the
//! relationships domain and sharing make about them.

use rusqlite::{OptionalExtension, params};

use super::*;

/// How many success plans and CTAs are on relationship `id`.
pub(crate) fn count_on_relationship(op: &Op<'_>, id: i64) -> Result<(i64, i64)> {
    let plans = op
        .conn
        .prepare_cached(
            "SELECT count(*) FROM success_plans WHERE tenant_id = ?1 AND relationship_id = ?2",
        )?
        .query_row(params![op.tenant.as_str(), id], |r| r.get(0))?;
    let ctas = op
        .conn
        .prepare_cached("SELECT count(*) FROM ctas WHERE tenant_id = ?1 AND relationship_id = ?2")?
        .query_row(params![op.tenant.as_str(), id], |r| r.get(0))?;
    Ok((plans, ctas))
}

/// The ids of the plans on relationship `id` the acting principal reaches, oldest first.
pub(crate) fn ids_of_relationship(op: &Op<'_>, id: i64) -> Result<Vec<i64>> {
    let scope = scope::condition(op, "company_id", "relationship_id");
    let ids = op
        .conn
        .prepare_cached(&format!(
            "SELECT id FROM success_plans WHERE tenant_id = ?1 AND relationship_id = ?2{scope}
             ORDER BY id"
        ))?
        .query_map(params![op.tenant.as_str(), id], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ids)
}

/// The relationship plan `plan` is for, if any.
fn relationship_of_plan(op: &Op<'_>, plan: i64) -> Result<Option<i64>> {
    let found: Option<Option<i64>> = op
        .conn
        .prepare_cached(
            "SELECT relationship_id FROM success_plans WHERE tenant_id = ?1 AND id = ?2",
        )?
        .query_row(params![op.tenant.as_str(), plan], |r| r.get(0))
        .optional()?;
    Ok(found.flatten())
}

/// Puts CTA `cta` (of company `company`, in plan `plan` if any) on `relationship`, or on its
/// plan's relationship when `relationship` is `None`. A relationship of another company, or
/// other than its plan's, is refused.
pub(super) fn attach_cta(
    op: &Op<'_>,
    cta: i64,
    company: i64,
    plan: Option<i64>,
    relationship: Option<i64>,
) -> Result<()> {
    let of_plan = match plan {
        Some(plan) => relationship_of_plan(op, plan)?,
        None => None,
    };
    let relationship = match (relationship, of_plan) {
        (Some(asked), Some(of_plan)) if asked != of_plan => {
            return Err(invalid(format!(
                "success plan {} is for relationship {of_plan}, not {asked}",
                plan.unwrap_or_default()
            )));
        }
        (asked, of_plan) => match asked.or(of_plan) {
            Some(relationship) => relationship,
            None => return Ok(()),
        },
    };
    match relationships::company_of(op, relationship)? {
        None => return Err(not_found("relationship", relationship)),
        Some(owner) if owner != company => {
            return Err(invalid(format!(
                "relationship {relationship} belongs to company {owner}, not to company {company}"
            )));
        }
        Some(_) => {}
    }
    op.conn
        .prepare_cached("UPDATE ctas SET relationship_id = ?3 WHERE tenant_id = ?1 AND id = ?2")?
        .execute(params![op.tenant.as_str(), cta, relationship])?;
    Ok(())
}

impl Ctas<'_> {
    /// Opens a CTA on a relationship of `cta.company_id` (the relationship's company) and
    /// returns its id. A CTA opened in a plan that is for a relationship is on that
    /// relationship without asking.
    pub fn open_on_relationship(&self, relationship_id: i64, cta: &NewCta) -> Result<i64> {
        self.open_cta_on(cta, Some(relationship_id))
    }

    /// The CTAs on relationship `relationship_id` (in a plan or not), oldest first, with their
    /// tasks.
    pub fn of_relationship(&self, relationship_id: i64) -> Result<Vec<Cta>> {
        self.tenant.read(|op| {
            relationships::load(op, relationship_id)?;
            load_ctas(op, "relationship_id", relationship_id)
        })
    }
}

impl Plans<'_> {
    /// The plans on relationship `relationship_id`, oldest first, with their objectives, tasks
    /// and CTAs.
    pub fn of_relationship(&self, relationship_id: i64) -> Result<Vec<Plan>> {
        self.tenant.read(|op| {
            relationships::load(op, relationship_id)?;
            ids_of_relationship(op, relationship_id)?
                .into_iter()
                .map(|id| load_plan(op, id))
                .collect()
        })
    }
}
