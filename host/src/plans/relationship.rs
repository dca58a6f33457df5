//! Plans and CTAs on a relationship: the look-ups the relationships domain and sharing make
//! about them.

use rusqlite::params;

use crate::context::Op;
use crate::error::Result;

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
