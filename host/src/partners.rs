//! Partners: companies managed as partners, with the records their users may access. They are
//! added by a form ([`Tenant::add_partner`]), by tagging existing companies (by id, or the
//! result of criteria), or by CSV import; every new partner goes through the *partner created*
//! hook, whose lifecycle plugins' actions the host validates and applies here.

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::audit::{self, Change};
use crate::companies::{self, CompanyKey, NewCompany, STANDARD_FIELDS, Schema};
use crate::error::{Error, ErrorKind, Result};
use crate::host::{Tenant, TenantLevel};
use crate::model::{AccessScope, FieldValue, LifecycleAction, ManagedAs, Partner};
use crate::outbox::{self, MessageKind};
use crate::store::{Store, TenantId};

/// What the *partner created* hook did for one new partner.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HookReport {
    /// The actions applied, one line each, such as `partner-welcome: opened CTA 7`.
    pub applied: Vec<String>,
    /// Plugins whose actions were refused as invalid (none of that plugin's were applied),
    /// with the reason.
    pub refused: Vec<String>,
}

/// How to undo a partner whose *partner created* hook failed closed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Undo {
    /// The company was created as a partner: delete it.
    Delete,
    /// The company was a customer tagged as a partner: make it a customer again.
    Untag,
}

/// Checks the access scope against the tenant's level: the choice is offered only when the
/// tenant works at both levels; otherwise it follows from the level.
pub(crate) fn resolve_scope(level: TenantLevel, scope: Option<AccessScope>) -> Result<AccessScope> {
    let fixed = match level {
        TenantLevel::Company => AccessScope::CompanyRecords,
        TenantLevel::Relationship => AccessScope::RelationshipRecords,
        TenantLevel::Both => {
            return scope.ok_or_else(|| {
                Error::new(ErrorKind::Invalid(
                    "choose the partners' access scope: company records, relationship records \
                     or both (the tenant works at both levels)"
                        .to_owned(),
                ))
            });
        }
    };
    match scope {
        Some(scope) if scope != fixed => Err(Error::new(ErrorKind::Invalid(format!(
            "the tenant works at the {level} level only, so partners get {} records; the \
             access scope cannot be chosen",
            level
        )))),
        _ => Ok(fixed),
    }
}

impl Tenant<'_> {
    /// Adds one partner through the form: Name is mandatory, Managed As is Partner (whatever
    /// `company.managed_as` says), other fields are checked against the field schema, then the
    /// access scope (chosen only when the tenant works at both levels; pass `None` otherwise).
    /// Runs the *partner created* hook; a fail-closed lifecycle plugin that fails leaves no
    /// partner behind and its error is returned.
    pub fn add_partner(
        &self,
        company: NewCompany,
        scope: Option<AccessScope>,
    ) -> Result<(i64, HookReport)> {
        let scope = resolve_scope(self.info().level, scope)?;
        let company = NewCompany {
            managed_as: ManagedAs::Partner,
            managed_by: None,
            ..company
        };
        let id = self.insert_company(company, Some(scope), "partner.add")?;
        let report = self.partner_created_hook(id, Undo::Delete)?;
        Ok((id, report))
    }

    /// Tags existing companies as partners with the access scope (manual selection, or the
    /// result of criteria). Companies that are partners already keep their scope and are not
    /// reported again. Returns, per newly tagged company, the hook's report; the first
    /// fail-closed hook failure stops the tagging with that error (the companies tagged before
    /// it stay partners).
    pub fn tag_partners(
        &self,
        ids: &[i64],
        scope: Option<AccessScope>,
    ) -> Result<Vec<(i64, HookReport)>> {
        let scope = resolve_scope(self.info().level, scope)?;
        let store = self.store();
        let now = self.host.now();
        let tagged: Vec<i64> = store.write(|tx| {
            let mut tagged = Vec::new();
            for &id in ids {
                let company = companies::find(tx, store, &self.id, CompanyKey::Id(id))?
                    .ok_or_else(|| {
                        Error::new(ErrorKind::NotFound {
                            object: "company",
                            id: id.to_string(),
                        })
                    })?;
                if company.managed_as == ManagedAs::Partner {
                    continue;
                }
                tx.prepare_cached(
                    "UPDATE companies SET managed_as = 'partner', access_scope = ?3,
                         updated_at = ?4
                     WHERE tenant_id = ?1 AND id = ?2",
                )
                .and_then(|mut q| {
                    q.execute(params![
                        self.id.as_str(),
                        id,
                        companies::scope_str(scope),
                        now
                    ])
                })
                .map_err(|e| store.error(e))?;
                self.audit(
                    tx,
                    now,
                    "partner.tag",
                    &format!("company:{id}"),
                    Some(serde_json::json!({"managed_as": "customer"})),
                    Some(serde_json::json!({"managed_as": "partner", "scope": scope})),
                )?;
                tagged.push(id);
            }
            Ok(tagged)
        })?;
        tagged
            .into_iter()
            .map(|id| Ok((id, self.partner_created_hook(id, Undo::Untag)?)))
            .collect()
    }

    /// The tenant's partners with their access scope, by name.
    pub fn partners(&self) -> Result<Vec<Partner>> {
        let store = self.store();
        store.with(|conn| {
            let schema = Schema::load(conn, store, &self.id)?;
            let mut query = conn
                .prepare_cached(&format!(
                    "SELECT {} FROM companies WHERE tenant_id = ?1 AND managed_as = 'partner'
                     ORDER BY name COLLATE NOCASE, id",
                    companies::COLUMNS
                ))
                .map_err(|e| store.error(e))?;
            query
                .query_map([self.id.as_str()], |row| {
                    let (company, scope) = companies::read_row(row, &schema)?;
                    Ok(Partner {
                        company,
                        scope: scope.unwrap_or_default(),
                    })
                })
                .and_then(|rows| rows.collect())
                .map_err(|e| store.error(e))
        })
    }

    /// Runs the *partner created* hook for committed partner `id`: calls the lifecycle plugins
    /// (outside any transaction, so their look-ups see the partner), then validates and applies
    /// their actions in one transaction. When a fail-closed plugin fails, undoes the partner and
    /// returns the error.
    pub(crate) fn partner_created_hook(&self, id: i64, undo: Undo) -> Result<HookReport> {
        let store = self.store();
        let Some((company, scope)) = store
            .with(|conn| companies::find_with_scope(conn, store, &self.id, CompanyKey::Id(id)))?
        else {
            return Err(Error::new(ErrorKind::NotFound {
                object: "partner",
                id: id.to_string(),
            }));
        };
        let partner = Partner {
            company,
            scope: scope.unwrap_or_default(),
        };
        let results = match self.partner_created(&partner) {
            Ok(results) => results,
            Err(error) => {
                self.undo_partner(id, undo, &error)?;
                return Err(error);
            }
        };
        let mut report = HookReport::default();
        if results.iter().all(|r| r.actions.is_empty()) {
            return Ok(report);
        }
        let now = self.host.now();
        store.write(|tx| {
            let schema = Schema::load(tx, store, &self.id)?;
            for result in &results {
                let plugin = &result.plugin;
                if let Err(reason) = validate_actions(&schema, &result.actions, now) {
                    report.refused.push(format!("{plugin}: {reason}"));
                    audit::record(
                        tx,
                        store,
                        now,
                        Change {
                            tenant: Some(&self.id),
                            actor: &format!("plugin:{plugin}"),
                            action: "partner.actions_refused",
                            subject: &format!("company:{id}"),
                            before: None,
                            after: Some(serde_json::json!({"reason": reason})),
                        },
                    )?;
                    continue;
                }
                for (index, action) in result.actions.iter().enumerate() {
                    let line = self.apply(tx, &schema, id, plugin, index, action, now)?;
                    report.applied.push(format!("{plugin}: {line}"));
                }
            }
            Ok(())
        })?;
        Ok(report)
    }

    fn undo_partner(&self, id: i64, undo: Undo, error: &Error) -> Result<()> {
        let store = self.store();
        let now = self.host.now();
        store.write(|tx| {
            let sql = match undo {
                Undo::Delete => "DELETE FROM companies WHERE tenant_id = ?1 AND id = ?2",
                Undo::Untag => {
                    "UPDATE companies SET managed_as = 'customer', access_scope = NULL
                     WHERE tenant_id = ?1 AND id = ?2"
                }
            };
            tx.execute(sql, params![self.id.as_str(), id])
                .map_err(|e| store.error(e))?;
            audit::record(
                tx,
                store,
                now,
                Change {
                    tenant: Some(&self.id),
                    actor: "system",
                    action: "partner.undo",
                    subject: &format!("company:{id}"),
                    before: None,
                    after: Some(serde_json::json!({"reason": error.to_string()})),
                },
            )
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        tx: &Connection,
        schema: &Schema,
        id: i64,
        plugin: &str,
        index: usize,
        action: &LifecycleAction,
        now: i64,
    ) -> Result<String> {
        let store = self.store();
        let source = format!("plugin:{plugin}");
        match action {
            LifecycleAction::SetField { name, value } => {
                let value = schema.check(name, value.clone()).map_err(|message| {
                    Error::new(ErrorKind::InvalidField {
                        field: name.clone(),
                        message,
                    })
                })?;
                set_field(tx, store, &self.id, id, name, &value, now)?;
                audit::record(
                    tx,
                    store,
                    now,
                    Change {
                        tenant: Some(&self.id),
                        actor: &source,
                        action: "company.set_field",
                        subject: &format!("company:{id}"),
                        before: None,
                        after: Some(serde_json::json!({ name: value })),
                    },
                )?;
                Ok(format!("set {name} = {value}"))
            }
            LifecycleAction::OpenCta(request) => {
                let cta = crate::plans::open_cta(tx, store, &self.id, id, request, &source, now)?;
                Ok(format!("opened CTA {cta} `{}`", request.name))
            }
            LifecycleAction::Notify(message) => {
                let key = format!("partner-created:{id}:{plugin}:{index}");
                outbox::enqueue(
                    tx,
                    store,
                    &self.id,
                    &key,
                    MessageKind::Lifecycle,
                    message,
                    now,
                )?;
                Ok(format!("queued a message to {}", message.recipient))
            }
        }
    }
}

/// Checks a plugin's actions before any is applied: fields exist and fit their type, CTAs have
/// names and due dates in the years up to 9999 (at most [`crate::plans::dates::MAX_DUE_IN_DAYS`]
/// days away), notifications have a recipient address and a subject.
fn validate_actions(schema: &Schema, actions: &[LifecycleAction], now: i64) -> Result<(), String> {
    for action in actions {
        match action {
            LifecycleAction::SetField { name, value } => {
                if name == companies::NAME && value.as_text().is_none_or(|t| t.trim().is_empty()) {
                    return Err("SetField cannot clear the name".to_owned());
                }
                schema.check(name, value.clone())?;
            }
            LifecycleAction::OpenCta(request) => {
                if request.name.trim().is_empty() {
                    return Err("OpenCta without a name".to_owned());
                }
                if let Some(days) = request.due_in_days {
                    crate::plans::dates::due_in(now, days)
                        .map_err(|e| format!("OpenCta `{}`: {e}", request.name))?;
                }
            }
            LifecycleAction::Notify(message) => {
                let to = message.recipient.trim();
                if !to.contains('@') || to.contains(char::is_whitespace) {
                    return Err(format!("Notify to `{to}`, which is not an email address"));
                }
                if message.subject.trim().is_empty() {
                    return Err("Notify without a subject".to_owned());
                }
            }
        }
    }
    Ok(())
}

/// Sets one checked field of a company.
fn set_field(
    tx: &Connection,
    store: &Store,
    tenant: &TenantId,
    id: i64,
    name: &str,
    value: &FieldValue,
    now: i64,
) -> Result<()> {
    use rusqlite::types::Value;
    let sql_value = match value {
        FieldValue::Null => Value::Null,
        FieldValue::Text(t) => Value::Text(t.clone()),
        FieldValue::Number(n) => Value::Real(*n),
        FieldValue::Integer(n) => Value::Real(*n as f64),
        FieldValue::Boolean(b) => Value::Integer(i64::from(*b)),
        FieldValue::Date(d) => Value::Text(d.to_string()),
    };
    let standard = name == companies::NAME
        || name == companies::EXTERNAL_ID
        || STANDARD_FIELDS.iter().any(|(s, _)| *s == name);
    let result = if standard {
        // `name` is one of a fixed list of column names, never input text.
        tx.execute(
            &format!(
                "UPDATE companies SET {name} = ?3, updated_at = ?4 WHERE tenant_id = ?1 AND id = ?2"
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
    result.map_err(|e| store.error(e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Host, HostConfig};

    #[test]
    fn the_scope_is_chosen_only_at_both_levels() {
        assert!(resolve_scope(TenantLevel::Both, None).is_err());
        assert_eq!(
            resolve_scope(TenantLevel::Both, Some(AccessScope::Both)).unwrap(),
            AccessScope::Both
        );
        assert_eq!(
            resolve_scope(TenantLevel::Company, None).unwrap(),
            AccessScope::CompanyRecords
        );
        assert!(resolve_scope(TenantLevel::Company, Some(AccessScope::Both)).is_err());
    }

    #[test]
    fn manual_add_makes_a_partner_and_tagging_turns_customers_into_partners() {
        let host = Host::open_in_memory(HostConfig::default()).unwrap();
        host.create_tenant("acme", "Acme", TenantLevel::Both)
            .unwrap();
        let acme = host.tenant("acme").unwrap();
        // Managed As is Partner whatever the form said.
        let (id, report) = acme
            .add_partner(
                NewCompany::new("Bennett & Co.").managed_as(ManagedAs::Customer),
                Some(AccessScope::Both),
            )
            .unwrap();
        assert_eq!(report, HookReport::default());
        let customer = acme.add_company(NewCompany::new("Northwind")).unwrap();
        let tagged = acme
            .tag_partners(&[customer, id], Some(AccessScope::RelationshipRecords))
            .unwrap();
        assert_eq!(tagged.len(), 1, "a partner already is not tagged again");
        let partners = acme.partners().unwrap();
        let summary: Vec<(&str, AccessScope)> = partners
            .iter()
            .map(|p| (p.company.name.as_str(), p.scope))
            .collect();
        assert_eq!(
            summary,
            [
                ("Bennett & Co.", AccessScope::Both),
                ("Northwind", AccessScope::RelationshipRecords)
            ]
        );
        let err = acme
            .tag_partners(&[9999], Some(AccessScope::Both))
            .unwrap_err();
        assert!(err.to_string().contains("9999"), "{err}");
    }
}
