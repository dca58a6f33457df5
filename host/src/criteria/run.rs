//! Running criteria for a tenant: the built-in filters in SQL, then the plugin filters over the
//! candidates the SQL keeps.

use rusqlite::types::Value;

use super::logic::{self, Expr};
use super::{
    Criteria, Filter, MANAGED_AS, MANAGED_BY, Selection, field_sql, invalid, managed_sql,
    superset_sql,
};
use crate::companies::{self, Schema};
use crate::error::Result;
use crate::model::Company;
use crate::tenant::Tenant;

/// Criteria run for the tenant, from [`Tenant::criteria`]: the companies they select, and
/// tagging those as partners.
#[derive(Debug, Clone, Copy)]
pub struct Selections<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

impl Selections<'_> {
    /// Runs criteria: the count and the matching companies, by id. Errors name the filter at
    /// fault (unknown field, an operator that does not fit the field's type, wrong number of
    /// values) or the position in the logic expression.
    pub fn run(&self, criteria: &Criteria) -> Result<Selection> {
        self.tenant
            .require(crate::access::Permission::RunCriteria)?;
        let count = criteria.filters.len();
        let expr = match criteria.logic.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => Some(logic::parse(text, count)?),
            _ => Expr::all(count),
        };
        let schema = self.tenant.read(Schema::load)?;
        // Filters the logic leaves out are still checked, but neither bound nor run: SQLite
        // refuses parameters the statement does not use, and a plugin need not be called.
        let mut used = vec![false; count];
        if let Some(expr) = &expr {
            expr.mark_used(&mut used);
        }
        let mut params: Vec<Value> = vec![Value::Text(self.tenant.id.as_str().to_owned())];
        let mut unused_params: Vec<Value> = Vec::new();
        let mut leaves: Vec<Option<String>> = Vec::with_capacity(count);
        for (index, filter) in criteria.filters.iter().enumerate() {
            leaves.push(match filter {
                Filter::Field {
                    field,
                    operator,
                    values,
                    include_nulls,
                } => {
                    let params = if used[index] {
                        &mut params
                    } else {
                        unused_params.clear();
                        &mut unused_params
                    };
                    Some(if field == MANAGED_AS || field == MANAGED_BY {
                        managed_sql(
                            index + 1,
                            field,
                            *operator,
                            values,
                            *include_nulls,
                            params,
                            &|key| self.tenant.read(|op| companies::partner_id_by_key(op, key)),
                        )?
                    } else {
                        field_sql(
                            index + 1,
                            &schema,
                            field,
                            *operator,
                            values,
                            *include_nulls,
                            params,
                        )?
                    })
                }
                Filter::Plugin { plugin, .. } => {
                    if plugin.trim().is_empty() {
                        return Err(invalid(index + 1, "name the plugin".to_owned()));
                    }
                    // Checked up front, so criteria naming a plugin the tenant has not enabled
                    // fail whether or not the built-in filters leave candidates for it.
                    if used[index] && !self.tenant.plugins().get(plugin)?.enabled {
                        return Err(self.tenant.plugins().not_enabled(plugin));
                    }
                    None
                }
            });
        }
        // `params` holds the tenant at ?1; field_sql numbered its own from ?2.
        let filter = expr
            .as_ref()
            .map_or_else(|| "1".to_owned(), |e| superset_sql(e, &leaves, true, false));
        let has_plugins = leaves
            .iter()
            .zip(&used)
            .any(|(sql, used)| *used && sql.is_none());
        // With plugin filters, each built-in filter the logic uses is also a column, so the
        // expression can combine its answer with the plugins' for each candidate.
        let builtin: Vec<usize> = leaves
            .iter()
            .enumerate()
            .filter(|&(i, sql)| has_plugins && used[i] && sql.is_some())
            .map(|(i, _)| i)
            .collect();
        let extra: Vec<String> = builtin
            .iter()
            .map(|&i| {
                let sql = leaves[i].as_deref().unwrap_or("0");
                format!("COALESCE(({sql}), 0)")
            })
            .collect();
        let rows: Vec<(Company, Vec<bool>)> = self
            .tenant
            .read(|op| companies::select_where(op, &schema, &filter, &extra, &params))?;
        let Some(expr) = expr.filter(|_| has_plugins && !rows.is_empty()) else {
            let companies: Vec<Company> = rows.into_iter().map(|(c, _)| c).collect();
            return Ok(Selection {
                count: companies.len(),
                companies,
            });
        };
        let (candidates, builtin_answers): (Vec<Company>, Vec<Vec<bool>>) =
            rows.into_iter().unzip();
        let mut answers: Vec<Option<Vec<bool>>> = vec![None; count];
        for (column, &index) in builtin.iter().enumerate() {
            answers[index] = Some(builtin_answers.iter().map(|r| r[column]).collect());
        }
        for (index, filter) in criteria.filters.iter().enumerate() {
            if !used[index] {
                continue;
            }
            if let Filter::Plugin { plugin, arguments } = filter {
                answers[index] = Some(self.tenant.hooks().criteria_filter(
                    plugin,
                    arguments,
                    &candidates,
                )?);
            }
        }
        let companies: Vec<Company> = candidates
            .into_iter()
            .enumerate()
            .filter(|(row, _)| expr.eval(&|n| answers[n - 1].as_ref().is_some_and(|a| a[*row])))
            .map(|(_, company)| company)
            .collect();
        Ok(Selection {
            count: companies.len(),
            companies,
        })
    }
}
