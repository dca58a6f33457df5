//! Companies: the tenant's company records with their standard and custom fields, and the field
//! schema that says which fields exist and what they hold.
//!
//! Standard fields are columns of the `companies` table; custom fields live in its `custom` JSON
//! object, written flat (a date as `"YYYY-MM-DD"`, a boolean as `true`/`false`) so SQL can
//! compare them. The field schema gives every field its type, so reading a record gives back
//! typed [`FieldValue`]s.

mod bulk;
mod directory;
mod handle;
pub(crate) mod import;
mod row;
mod schema;

use rusqlite::{OptionalExtension, params};

use crate::access::PartnerScope;
use crate::context::Op;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{AccessScope, Company, FieldValue, ManagedAs};
use crate::names::fold_case;

pub(crate) use bulk::BulkInsert;
pub(crate) use directory::Directory;
pub use handle::{Companies, NewCompany};
pub(crate) use row::{
    COLUMNS, CompanyWrite, custom_from_json, custom_to_json, parse_scope, read_row, scope_str,
};
use row::{custom_json, managed_as_str, standard_values};
pub(crate) use schema::{
    EXTERNAL_ID, NAME, RESERVED_NAMES, STANDARD_FIELDS, Schema, check_value, custom_fields,
    custom_type, define_custom, parse_text, remove_custom,
};
pub use schema::{FieldDef, FieldType};

/// How to find one company of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompanyKey<'a> {
    /// By its database id.
    Id(i64),
    /// By its name, ignoring case; the oldest company of that name when there are several.
    Name(&'a str),
}

/// The condition (on the `companies` table, whose rows are named `alias`) that confines the
/// acting principal to the companies it may see: nothing for everyone but partner users; for a
/// partner user, the companies its partner manages, or none at all when its partner's access
/// scope excludes companies. Part of the SQL, so an index serves it (`companies_managed_by`)
/// and a record outside it answers as if it did not exist.
pub(crate) fn scope_condition(op: &Op<'_>, alias: &str) -> String {
    let column = if alias.is_empty() {
        "managed_by".to_owned()
    } else {
        format!("{alias}.managed_by")
    };
    match op.scope() {
        None => String::new(),
        // An id is an integer: it cannot carry SQL.
        Some(scope) => match scope.company_manager() {
            Some(partner) => format!(" AND {column} = {partner}"),
            None => " AND 0".to_owned(),
        },
    }
}

/// The SQL condition that `column` (an expression holding a company id) names a company the
/// partner scope reaches as a company record: one its partner manages. `None` when the scope
/// reaches no company record. Other modules put it in their own queries, so what hangs off a
/// company is scoped in the SQL too; the `companies` table is named only here. Ids are the
/// table's primary key, so the check is one index look-up per row.
pub(crate) fn reach_sql(scope: &PartnerScope, column: &str) -> Option<String> {
    // An id is an integer: it cannot carry SQL.
    scope.company_manager().map(|partner| {
        format!("EXISTS (SELECT 1 FROM companies sc WHERE sc.id = {column} AND sc.managed_by = {partner})")
    })
}

/// Finds one company of the tenant. `Ok(None)` when there is none.
pub(crate) fn find(op: &Op<'_>, key: CompanyKey<'_>) -> Result<Option<Company>> {
    Ok(find_with_scope(op, key)?.map(|(company, _)| company))
}

/// Like [`find`], with the partner's access scope.
pub(crate) fn find_with_scope(
    op: &Op<'_>,
    key: CompanyKey<'_>,
) -> Result<Option<(Company, Option<AccessScope>)>> {
    let Op { conn, tenant, .. } = *op;
    let schema = Schema::load(op)?;
    let scope = scope_condition(op, "");
    let found = match key {
        CompanyKey::Id(id) => conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM companies WHERE tenant_id = ?1 AND id = ?2{scope}"
            ))
            .and_then(|mut q| {
                q.query_row(params![tenant.as_str(), id], |row| read_row(row, &schema))
                    .optional()
            }),
        CompanyKey::Name(name) => conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM companies
                 WHERE tenant_id = ?1 AND name_folded = ?2{scope} ORDER BY id LIMIT 1"
            ))
            .and_then(|mut q| {
                q.query_row(params![tenant.as_str(), fold_case(name.trim())], |row| {
                    read_row(row, &schema)
                })
                .optional()
            }),
    };
    found.map_err(Error::from)
}

/// Fails with [`ErrorKind::NotFound`] unless the tenant has company `id` and the acting
/// principal may see it.
pub(crate) fn require(op: &Op<'_>, id: i64) -> Result<()> {
    let scope = scope_condition(op, "");
    if op
        .conn
        .prepare_cached(&format!(
            "SELECT 1 FROM companies WHERE tenant_id = ?1 AND id = ?2{scope}"
        ))?
        .exists(params![op.tenant.as_str(), id])?
    {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::NotFound {
            object: "company",
            id: id.to_string(),
        }))
    }
}

/// Sets one checked field of a company.
pub(crate) fn set_field(op: &Op<'_>, id: i64, name: &str, value: &FieldValue) -> Result<()> {
    let Op {
        conn: tx,
        tenant,
        now,
        ..
    } = *op;
    use rusqlite::types::Value;
    let sql_value = match value {
        FieldValue::Null => Value::Null,
        FieldValue::Text(t) => Value::Text(t.clone()),
        FieldValue::Number(n) => Value::Real(*n),
        FieldValue::Integer(n) => Value::Real(*n as f64),
        FieldValue::Boolean(b) => Value::Integer(i64::from(*b)),
        FieldValue::Date(d) => Value::Text(d.to_string()),
    };
    let standard =
        name == NAME || name == EXTERNAL_ID || STANDARD_FIELDS.iter().any(|(s, _)| *s == name);
    let result = if standard {
        // `name` is one of a fixed list of column names, never input text.
        let folded = if name == NAME {
            ", name_folded = cs_fold(?3)"
        } else {
            ""
        };
        tx.execute(
            &format!(
                "UPDATE companies SET {name} = ?3, updated_at = ?4{folded}
                 WHERE tenant_id = ?1 AND id = ?2"
            ),
            params![tenant.as_str(), id, sql_value, now],
        )
    } else {
        let path = format!("$.\"{name}\"");
        let json = match value {
            FieldValue::Boolean(b) => Value::Text(b.to_string()),
            _ => sql_value,
        };
        match value {
            FieldValue::Null => tx.execute(
                "UPDATE companies SET custom = json_remove(custom, ?3), updated_at = ?4
                 WHERE tenant_id = ?1 AND id = ?2",
                params![tenant.as_str(), id, path, now],
            ),
            FieldValue::Boolean(_) => tx.execute(
                "UPDATE companies SET custom = json_set(custom, ?3, json(?4)), updated_at = ?5
                 WHERE tenant_id = ?1 AND id = ?2",
                params![tenant.as_str(), id, path, json, now],
            ),
            _ => tx.execute(
                "UPDATE companies SET custom = json_set(custom, ?3, ?4), updated_at = ?5
                 WHERE tenant_id = ?1 AND id = ?2",
                params![tenant.as_str(), id, path, json, now],
            ),
        }
    };
    result?;
    Ok(())
}

/// Makes company `id` a partner with `scope`, or, with `None`, a customer again.
pub(crate) fn set_partner(op: &Op<'_>, id: i64, scope: Option<AccessScope>) -> Result<()> {
    let (managed_as, scope) = match scope {
        Some(scope) => (ManagedAs::Partner, Some(scope_str(scope))),
        None => (ManagedAs::Customer, None),
    };
    op.conn
        .prepare_cached(
            "UPDATE companies SET managed_as = ?3, access_scope = ?4, updated_at = ?5
             WHERE tenant_id = ?1 AND id = ?2",
        )?
        .execute(params![
            op.tenant.as_str(),
            id,
            managed_as_str(managed_as),
            scope,
            op.now
        ])?;
    Ok(())
}

/// Deletes company `id`.
pub(crate) fn delete(op: &Op<'_>, id: i64) -> Result<()> {
    op.conn.execute(
        "DELETE FROM companies WHERE tenant_id = ?1 AND id = ?2",
        params![op.tenant.as_str(), id],
    )?;
    Ok(())
}

/// How many companies partner `partner` manages.
pub(crate) fn count_managed_by(op: &Op<'_>, partner: i64) -> Result<i64> {
    let count = op
        .conn
        .prepare_cached("SELECT count(*) FROM companies WHERE tenant_id = ?1 AND managed_by = ?2")?
        .query_row(params![op.tenant.as_str(), partner], |r| r.get(0))?;
    Ok(count)
}

/// The company with external id `key`, if any.
pub(crate) fn by_external_id(op: &Op<'_>, key: &str) -> Result<Option<Company>> {
    let id: Option<i64> = op
        .conn
        .prepare_cached("SELECT id FROM companies WHERE tenant_id = ?1 AND external_id = ?2")?
        .query_row(params![op.tenant.as_str(), key.trim()], |r| r.get(0))
        .optional()?;
    match id {
        Some(id) => find(op, CompanyKey::Id(id)),
        None => Ok(None),
    }
}

/// [`partner_by_key`]'s look-up by external id.
const PARTNER_BY_EXTERNAL_ID: &str = "SELECT id FROM companies
     WHERE tenant_id = ?1 AND external_id = ?2 AND managed_as = 'partner'";

/// [`partner_by_key`]'s look-up by folded name, the oldest first.
const PARTNER_BY_NAME: &str = "SELECT id FROM companies
     WHERE tenant_id = ?1 AND name_folded = ?2 AND managed_as = 'partner'
     ORDER BY id LIMIT 1";

/// The partner an import names in its managed-by column: by external id first, else by name
/// (ignoring case), the oldest first. Two look-ups, each served by an index: one query with
/// `OR` reads every company of the tenant.
pub(crate) fn partner_by_key(op: &Op<'_>, key: &str) -> Result<Option<i64>> {
    let by_external_id = op
        .conn
        .prepare_cached(PARTNER_BY_EXTERNAL_ID)?
        .query_row(params![op.tenant.as_str(), key], |r| r.get(0))
        .optional()?;
    if by_external_id.is_some() {
        return Ok(by_external_id);
    }
    let by_name = op
        .conn
        .prepare_cached(PARTNER_BY_NAME)?
        .query_row(params![op.tenant.as_str(), fold_case(key.trim())], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(by_name)
}

/// The partner that `key` names (its external id, or its name ignoring case), if the acting
/// principal may see it: a partner user names its own partner only.
pub(crate) fn partner_id_by_key(op: &Op<'_>, key: &str) -> Result<Option<i64>> {
    let found = partner_by_key(op, key)?;
    Ok(match op.scope() {
        Some(scope) => found.filter(|id| *id == scope.partner_id),
        None => found,
    })
}

/// The company a key names, for an import row that refers to one: by external id, or else by
/// name (ignoring case; the oldest company of that name when there are several). Two look-ups,
/// each served by an index (one query with `OR` would read every company of the tenant).
pub(crate) fn company_by_key(op: &Op<'_>, key: &str) -> Result<Option<i64>> {
    let scope = scope_condition(op, "");
    let by_external_id = op
        .conn
        .prepare_cached(&format!(
            "SELECT id FROM companies WHERE tenant_id = ?1 AND external_id = ?2{scope}"
        ))?
        .query_row(params![op.tenant.as_str(), key], |r| r.get(0))
        .optional()?;
    if by_external_id.is_some() {
        return Ok(by_external_id);
    }
    let by_name = op
        .conn
        .prepare_cached(&format!(
            "SELECT id FROM companies WHERE tenant_id = ?1 AND name_folded = ?2{scope}
             ORDER BY id LIMIT 1"
        ))?
        .query_row(params![op.tenant.as_str(), fold_case(key.trim())], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(by_name)
}

/// The companies of the tenant that match `filter`, an SQL condition over the companies'
/// columns that criteria build: `params` bind from `?1`, which is the tenant's id. Each company,
/// by id, comes with the answers of the `extra` conditions, also over its columns.
pub(crate) fn select_where(
    op: &Op<'_>,
    schema: &Schema,
    filter: &str,
    extra: &[String],
    params: &[rusqlite::types::Value],
) -> Result<Vec<(Company, Vec<bool>)>> {
    let mut select = COLUMNS.to_owned();
    for condition in extra {
        select.push_str(", ");
        select.push_str(condition);
    }
    let scope = scope_condition(op, "");
    let sql = format!(
        "SELECT {select} FROM companies WHERE tenant_id = ?1{scope} AND ({filter}) ORDER BY id"
    );
    let width = COLUMNS.split(',').count();
    let mut query = op.conn.prepare(&sql)?;
    let rows = query
        .query_map(rusqlite::params_from_iter(params.iter()), |row| {
            let (company, _) = read_row(row, schema)?;
            let answers = (0..extra.len())
                .map(|i| row.get::<_, bool>(width + i))
                .collect::<rusqlite::Result<Vec<bool>>>()?;
            Ok((company, answers))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

/// The tenant's partners with their access scope, by name.
pub(crate) fn partners(op: &Op<'_>) -> Result<Vec<(Company, Option<AccessScope>)>> {
    let schema = Schema::load(op)?;
    // A partner user sees its own partner only.
    let own = match op.scope() {
        Some(scope) => format!(" AND id = {}", scope.partner_id),
        None => String::new(),
    };
    let mut query = op.conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM companies WHERE tenant_id = ?1 AND managed_as = 'partner'{own}
         ORDER BY name COLLATE NOCASE, id"
    ))?;
    let partners = query
        .query_map([op.tenant.as_str()], |row| read_row(row, &schema))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(partners)
}

/// Partner `id` with its access scope, if the tenant has such a partner and the acting
/// principal may see it (a partner user sees its own partner only).
pub(crate) fn partner(op: &Op<'_>, id: i64) -> Result<Option<(Company, Option<AccessScope>)>> {
    let schema = Schema::load(op)?;
    let own = match op.scope() {
        Some(scope) => format!(" AND id = {}", scope.partner_id),
        None => String::new(),
    };
    let found = op
        .conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM companies
             WHERE tenant_id = ?1 AND id = ?2 AND managed_as = 'partner'{own}"
        ))?
        .query_row(params![op.tenant.as_str(), id], |row| {
            read_row(row, &schema)
        })
        .optional()?;
    Ok(found)
}

/// The companies partner `partner` manages that the acting principal may see, by name: the
/// customers of its portfolio.
pub(crate) fn managed_by_partner(op: &Op<'_>, partner: i64) -> Result<Vec<Company>> {
    let schema = Schema::load(op)?;
    let scope = scope_condition(op, "");
    let companies = op
        .conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM companies WHERE tenant_id = ?1 AND managed_by = ?2{scope}
             ORDER BY name COLLATE NOCASE, id"
        ))?
        .query_map(params![op.tenant.as_str(), partner], |row| {
            read_row(row, &schema).map(|(c, _)| c)
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(companies)
}

/// Inserts a company; returns its id.
pub(crate) fn insert(op: &Op<'_>, write: &CompanyWrite<'_>) -> Result<i64> {
    let Op {
        conn, tenant, now, ..
    } = *op;
    let (external_id, [industry, region, country, website, email, arr]) =
        standard_values(write.fields);
    conn.prepare_cached(
        "INSERT INTO companies (tenant_id, external_id, name, name_folded, managed_as, managed_by,
             access_scope, industry, region, country, website, email, arr, custom,
             created_at, updated_at)
         VALUES (?1, ?2, ?3, cs_fold(?3), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
    )
    .and_then(|mut insert| {
        insert.execute(params![
            tenant.as_str(),
            external_id,
            write.name.trim(),
            managed_as_str(write.managed_as),
            write.managed_by,
            write.scope.map(scope_str),
            industry,
            region,
            country,
            website,
            email,
            arr,
            custom_json(write.fields, None),
            now
        ])
    })
    .map_err(|e| unique_error_of(e, external_id.as_deref()))?;
    Ok(conn.last_insert_rowid())
}

/// `error` from writing a company with external id `key`: the unique index's refusal as
/// [`external_id_taken`]; any other error as it is.
pub(crate) fn unique_error_of(error: rusqlite::Error, key: Option<&str>) -> Error {
    crate::store::key_taken_or(error, "companies.external_id", key, external_id_taken)
}

/// The refusal of external id `key`, which another company has: for a partner user, possibly
/// one it may not see, which the message does not name.
pub(crate) fn external_id_taken(key: &str) -> Error {
    Error::new(ErrorKind::InvalidField {
        field: EXTERNAL_ID.to_owned(),
        message: format!("another company has the external id `{key}` already"),
    })
}

/// Updates company `id` with the fields set in `write.fields` (the others keep their values);
/// the name, managed-as and scope are replaced, `managed_by` only when `Some`. The external id
/// is the record's import key: it changes to another value, and is never cleared (an import
/// row with an empty External ID cell that matched the record by name keeps it).
pub(crate) fn update(op: &Op<'_>, id: i64, write: &CompanyWrite<'_>) -> Result<()> {
    let Op {
        conn, tenant, now, ..
    } = *op;
    use rusqlite::types::Value;
    let (external_id, standard) = standard_values(write.fields);
    let custom: String = conn
        .prepare_cached("SELECT custom FROM companies WHERE tenant_id = ?1 AND id = ?2")
        .and_then(|mut q| q.query_row(params![tenant.as_str(), id], |r| r.get(0)))?;
    // A field absent from `fields` keeps its value: COALESCE with a flag per column.
    let present = |name: &str| write.fields.contains_key(name);
    let [industry, region, country, website, email, arr] = standard;
    let keep = |name: &str, value: Value| -> (bool, Value) { (present(name), value) };
    let cols = [
        keep("industry", industry),
        keep("region", region),
        keep("country", country),
        keep("website", website),
        keep("email", email),
        keep("arr", arr),
    ];
    conn.prepare_cached(
        "UPDATE companies SET
             name = ?3, name_folded = cs_fold(?3), managed_as = ?4,
             managed_by = COALESCE(?5, managed_by),
             access_scope = ?6,
             external_id = CASE WHEN ?7 THEN ?8 ELSE external_id END,
             industry = CASE WHEN ?9 THEN ?10 ELSE industry END,
             region = CASE WHEN ?11 THEN ?12 ELSE region END,
             country = CASE WHEN ?13 THEN ?14 ELSE country END,
             website = CASE WHEN ?15 THEN ?16 ELSE website END,
             email = CASE WHEN ?17 THEN ?18 ELSE email END,
             arr = CASE WHEN ?19 THEN ?20 ELSE arr END,
             custom = ?21, updated_at = ?22
         WHERE tenant_id = ?1 AND id = ?2",
    )
    .and_then(|mut update| {
        update.execute(params![
            tenant.as_str(),
            id,
            write.name.trim(),
            managed_as_str(write.managed_as),
            write.managed_by,
            write.scope.map(scope_str),
            external_id.is_some(),
            external_id,
            cols[0].0,
            cols[0].1,
            cols[1].0,
            cols[1].1,
            cols[2].0,
            cols[2].1,
            cols[3].0,
            cols[3].1,
            cols[4].0,
            cols[4].1,
            cols[5].0,
            cols[5].1,
            custom_json(write.fields, Some(&custom)),
            now
        ])
    })
    .map_err(|e| one_partner_error(op, id, e))?;
    Ok(())
}

/// Turns the one-partner trigger's refusal into an error naming the partner that manages the
/// record now; other database errors pass through.
pub(crate) fn one_partner_error(op: &Op<'_>, company: i64, error: rusqlite::Error) -> Error {
    let refused = matches!(&error, rusqlite::Error::SqliteFailure(_, Some(m))
        if m.starts_with("one-partner rule: company is managed"));
    if !refused {
        return Error::from(error);
    }
    match managed_by(op, company) {
        Ok(Some((record, partner_id, partner))) => Error::new(ErrorKind::AlreadyManaged {
            record,
            partner_id,
            partner,
        }),
        _ => Error::from(error),
    }
}

/// The name of company `id` and the id and name of the partner managing it, if any.
pub(crate) fn managed_by(op: &Op<'_>, id: i64) -> Result<Option<(String, i64, String)>> {
    let Op { conn, tenant, .. } = *op;
    conn.prepare_cached(
        "SELECT c.name, p.id, p.name FROM companies c
         JOIN companies p ON p.tenant_id = c.tenant_id AND p.id = c.managed_by
         WHERE c.tenant_id = ?1 AND c.id = ?2",
    )
    .and_then(|mut q| {
        q.query_row(params![tenant.as_str(), id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
    })
    .map_err(Error::from)
}

/// How many partner companies the tenant has.
pub(crate) fn count_partners(op: &Op<'_>) -> Result<u64> {
    let count: i64 = op
        .conn
        .prepare_cached(
            "SELECT count(*) FROM companies WHERE tenant_id = ?1 AND managed_as = 'partner'",
        )?
        .query_row([op.tenant.as_str()], |r| r.get(0))?;
    Ok(count as u64)
}

pub(crate) fn check_is_partner(op: &Op<'_>, id: i64) -> Result<()> {
    let Op { conn, tenant, .. } = *op;
    let managed_as: Option<String> = conn
        .prepare_cached("SELECT managed_as FROM companies WHERE tenant_id = ?1 AND id = ?2")
        .and_then(|mut q| {
            q.query_row(params![tenant.as_str(), id], |r| r.get(0))
                .optional()
        })?;
    match managed_as.as_deref() {
        Some("partner") => Ok(()),
        Some(_) => Err(Error::new(ErrorKind::Invalid(format!(
            "company {id} is not a partner; tag it as a partner first"
        )))),
        None => Err(Error::new(ErrorKind::NotFound {
            object: "partner",
            id: id.to_string(),
        })),
    }
}

/// Whether `name` can name a custom field: lower-case ASCII letters, digits and `_`. Such a name
/// is also safe to print inside a shell command.
pub(crate) fn is_field_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Host, HostConfig, TenantLevel};
    use crate::model::{Date, Fields};

    fn host() -> Host {
        let host = Host::open_in_memory(HostConfig::default()).unwrap();
        host.create_tenant("acme", "Acme", TenantLevel::Both)
            .unwrap();
        host.create_tenant("globex", "Globex", TenantLevel::Company)
            .unwrap();
        host
    }

    #[test]
    fn partner_look_ups_by_key_search_an_index_rather_than_read_every_company_of_the_tenant() {
        let host = host();
        let acme = host.tenant("acme").unwrap();
        acme.read(|op| {
            for (sql, column) in [
                (PARTNER_BY_EXTERNAL_ID, "external_id=?"),
                (PARTNER_BY_NAME, "name_folded=?"),
            ] {
                let plan: Vec<String> = op
                    .conn
                    .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?
                    .query_map(params!["acme", "x"], |r| r.get(3))?
                    .collect::<rusqlite::Result<_>>()?;
                assert!(
                    plan.iter().any(|step| step.contains(column)),
                    "{sql}: {plan:?}"
                );
            }
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn bulk_insert_writes_rows_many_to_a_statement_and_refuses_only_the_row_at_fault() {
        let host = host();
        let acme = host.tenant("acme").unwrap();
        let rows = acme
            .store()
            .write(|tx| {
                let op = Op {
                    conn: tx,
                    tenant: &acme.id,
                    now: 7,
                    actor: "system",
                    principal: crate::access::Principal::system(),
                };
                // Another company first, so the ids the inserts return are not simply 1 to 10.
                insert(
                    &op,
                    &CompanyWrite {
                        name: "Earlier",
                        managed_as: ManagedAs::Customer,
                        managed_by: None,
                        scope: None,
                        fields: &Fields::new(),
                    },
                )?;
                let mut bulk = BulkInsert::new(&op, 4)?;
                // Ten rows, four to a statement; row 6 repeats row 2's external id, which the
                // unique index refuses, so its statement falls back to one row at a time.
                for i in 0..10i64 {
                    let mut fields = Fields::new();
                    let external = if i == 5 { 1 } else { i };
                    fields.insert(
                        EXTERNAL_ID.into(),
                        FieldValue::from(format!("X-{external}")),
                    );
                    fields.insert("industry".into(), FieldValue::from("Retail"));
                    fields.insert("arr".into(), FieldValue::Number(i as f64));
                    let name = format!(" Company {i} ");
                    let folded = crate::names::fold_case(name.trim());
                    bulk.push(&name, &folded, ManagedAs::Customer, None, None, &fields);
                }
                assert_eq!(bulk.len(), 10);
                let mut written = Vec::new();
                bulk.flush(&mut written)?;
                assert_eq!(bulk.len(), 0);
                Ok(written)
            })
            .unwrap();
        assert_eq!(rows.len(), 10);
        // Each row's result is the id of the company it became, in the order the rows were
        // queued, whichever statement wrote it.
        for (i, result) in rows.iter().enumerate() {
            match result {
                Ok(id) => {
                    assert_ne!(i, 5);
                    let company = acme.companies().get(CompanyKey::Id(*id)).unwrap().unwrap();
                    assert_eq!(company.name, format!("Company {i}"));
                    assert_eq!(company.fields["arr"], FieldValue::Number(i as f64));
                    assert_eq!(company.fields["industry"], FieldValue::from("Retail"));
                }
                Err(error) => {
                    assert_eq!(i, 5, "{error}");
                    assert_eq!(
                        error.to_string(),
                        "field `external_id`: another company has the external id `X-1` already"
                    );
                }
            }
        }
        assert_eq!(acme.companies().page(0, 100).unwrap().len(), 10);
    }

    #[test]
    fn added_companies_are_found_by_id_and_name_with_typed_fields() {
        let host = host();
        let acme = host.tenant("acme").unwrap();
        acme.companies()
            .define_field("renewal", FieldType::Date, false)
            .unwrap();
        acme.companies()
            .define_field("strategic", FieldType::Boolean, false)
            .unwrap();
        let id = acme
            .companies()
            .add(
                NewCompany::new("Bennett & Co.")
                    .field("industry", "Logistics")
                    .field("arr", 120_000i64)
                    .field("renewal", "2026-09-30")
                    .field("strategic", true),
            )
            .unwrap();
        let by_id = acme.companies().get(CompanyKey::Id(id)).unwrap().unwrap();
        assert_eq!(by_id.id, id.to_string());
        assert_eq!(by_id.name, "Bennett & Co.");
        assert_eq!(by_id.fields["arr"], FieldValue::Number(120_000.0));
        assert_eq!(
            by_id.fields["renewal"],
            FieldValue::Date(Date::new(2026, 9, 30).unwrap())
        );
        assert_eq!(by_id.fields["strategic"], FieldValue::Boolean(true));
        assert!(
            !by_id.fields.contains_key("region"),
            "unset fields are absent"
        );
        let by_name = acme
            .companies()
            .get(CompanyKey::Name("bennett & co."))
            .unwrap()
            .unwrap();
        assert_eq!(by_name, by_id);
    }

    #[test]
    fn lookup_rejects_other_tenants_ids() {
        let host = host();
        let id = host
            .tenant("acme")
            .unwrap()
            .companies()
            .add(NewCompany::new("Secret Corp"))
            .unwrap();
        let globex = host.tenant("globex").unwrap();
        assert_eq!(globex.companies().get(CompanyKey::Id(id)).unwrap(), None);
        assert_eq!(
            globex
                .companies()
                .get(CompanyKey::Name("Secret Corp"))
                .unwrap(),
            None
        );
    }

    #[test]
    fn the_form_refuses_a_missing_name_unknown_fields_and_wrong_types() {
        let host = host();
        let acme = host.tenant("acme").unwrap();
        acme.companies()
            .define_field("tier", FieldType::Text, true)
            .unwrap();
        let err = acme.companies().add(NewCompany::new("  ")).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidField { field, .. } if field == "name"));
        let err = acme
            .companies()
            .add(
                NewCompany::new("A")
                    .field("tier", "gold")
                    .field("colour", "red"),
            )
            .unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        let err = acme
            .companies()
            .add(
                NewCompany::new("A")
                    .field("tier", "gold")
                    .field("arr", "lots"),
            )
            .unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::InvalidField { field, .. } if field == "arr"));
        let err = acme.companies().add(NewCompany::new("A")).unwrap_err();
        assert!(err.to_string().contains("`tier` is required"), "{err}");
    }

    #[test]
    fn a_company_cannot_get_a_second_partner_and_the_error_names_the_first() {
        let host = host();
        let acme = host.tenant("acme").unwrap();
        let bennett = acme
            .companies()
            .add(NewCompany::new("Bennett & Co.").managed_as(ManagedAs::Partner))
            .unwrap();
        let other = acme
            .companies()
            .add(NewCompany::new("Other Partner").managed_as(ManagedAs::Partner))
            .unwrap();
        let customer = acme
            .companies()
            .add(NewCompany::new("Customer").managed_by(bennett))
            .unwrap();
        let err = acme
            .companies()
            .set_managed_by(customer, Some(other))
            .unwrap_err();
        match err.kind() {
            ErrorKind::AlreadyManaged {
                partner_id,
                partner,
                ..
            } => {
                assert_eq!(*partner_id, bennett);
                assert_eq!(partner, "Bennett & Co.");
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("Bennett & Co."), "{err}");
        // Clearing first, then giving it to the other partner, works.
        acme.companies().set_managed_by(customer, None).unwrap();
        acme.companies()
            .set_managed_by(customer, Some(other))
            .unwrap();
        let company = acme
            .companies()
            .get(CompanyKey::Id(customer))
            .unwrap()
            .unwrap();
        assert_eq!(company.managed_by, Some(other.to_string()));
        // The database itself refuses the swap, whatever the code above it does.
        let raw = acme.write(|op| {
            op.conn
                .execute(
                    "UPDATE companies SET managed_by = ?1 WHERE id = ?2",
                    params![bennett, customer],
                )
                .map_err(Error::from)
        });
        assert!(raw.unwrap_err().to_string().contains("one-partner rule"));
        // And a customer cannot be made the manager.
        let err = acme
            .companies()
            .set_managed_by(bennett, Some(customer))
            .unwrap_err();
        assert!(err.to_string().contains("not a partner"), "{err}");
    }
}
