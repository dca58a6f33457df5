//! Partners: companies managed as partners, with the records their users may access. They are
//! added by a form ([`Partners::add`]), by tagging existing companies (by id, or the
//! result of criteria), or by CSV import; every new partner goes through the *partner created*
//! hook, whose lifecycle plugins' actions the host validates and applies here.

use serde::Serialize;

use crate::access::Permission;
use crate::audit::{self, Change};
use crate::companies::{self, CompanyKey, NewCompany, Schema};
use crate::context::Op;
use crate::criteria::Criteria;
use crate::error::{Error, ErrorKind, Result};
use crate::hooks::pending::{self, Owed};
use crate::host::TenantLevel;
use crate::model::{AccessScope, Company, LifecycleAction, ManagedAs, Partner};
use crate::outbox::{self, MessageKind};
use crate::relationships::Relationship;
use crate::tenant::Tenant;

/// What the *partner created* hook did for one new partner.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct HookReport {
    /// The actions applied, one line each, such as `partner-welcome: opened CTA 7`.
    pub applied: Vec<String>,
    /// Plugins whose actions were refused as invalid (none of that plugin's were applied),
    /// with the reason.
    pub refused: Vec<String>,
    /// What the person adding the partner should know, such as another company with the same
    /// name (the partner is added all the same).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// How to undo a partner whose *partner created* hook failed closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Undo {
    /// The company was created as a partner: delete it.
    Delete,
    /// The company was a customer tagged as a partner: make it a customer again.
    Untag,
}

impl Undo {
    /// Its name in the pending hooks.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Undo::Delete => "delete",
            Undo::Untag => "untag",
        }
    }
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

/// What a partner manages: the query a partner program starts from
/// ([`Partners::portfolio`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Portfolio {
    /// The partner, with its access scope.
    pub partner: Partner,
    /// The customers it manages: companies whose Managed By is the partner, by name.
    pub customers: Vec<Company>,
    /// The relationships it manages, by name.
    pub relationships: Vec<Relationship>,
}

/// The tenant's partners, from [`Tenant::partners`]: adding them through the form, tagging and untagging companies, their access scope and their portfolio.
#[derive(Debug, Clone, Copy)]
pub struct Partners<'t> {
    pub(crate) tenant: &'t Tenant<'t>,
}

impl Partners<'_> {
    /// Adds one partner through the form: Name is mandatory, Managed As is Partner (whatever
    /// `company.managed_as` says), other fields are checked against the field schema, then the
    /// access scope (chosen only when the tenant works at both levels; pass `None` otherwise).
    /// Runs the *partner created* hook; a fail-closed lifecycle plugin that fails leaves no
    /// partner behind and its error is returned.
    pub fn add(
        &self,
        company: NewCompany,
        scope: Option<AccessScope>,
    ) -> Result<(i64, HookReport)> {
        let scope = resolve_scope(self.tenant.info().level, scope)?;
        let company = NewCompany {
            managed_as: ManagedAs::Partner,
            managed_by: None,
            ..company
        };
        let warnings = self.tenant.read(|op| duplicate_check(op, &company))?;
        let id =
            self.tenant
                .companies()
                .insert(company, Some(scope), "partner.add", |op, id| {
                    pending::record(
                        op,
                        Owed::PartnerCreated {
                            company: id,
                            undo: Undo::Delete,
                        },
                    )
                })?;
        let mut report = self.created_hook(id, Undo::Delete)?;
        report.warnings = warnings;
        Ok((id, report))
    }

    /// Tags existing companies as partners with the access scope (manual selection, or the
    /// result of criteria). Companies that are partners already keep their scope and are not
    /// reported again. Returns, per newly tagged company, the hook's report; the first
    /// fail-closed hook failure stops the tagging with that error (the companies tagged before
    /// it stay partners).
    pub fn tag(&self, ids: &[i64], scope: Option<AccessScope>) -> Result<Vec<(i64, HookReport)>> {
        let scope = resolve_scope(self.tenant.info().level, scope)?;
        let tagged: Vec<i64> = self.tenant.write(|op| {
            op.require(Permission::ManagePartners)?;
            let mut tagged = Vec::new();
            for &id in ids {
                let company = companies::find(op, CompanyKey::Id(id))?.ok_or_else(|| {
                    Error::new(ErrorKind::NotFound {
                        object: "company",
                        id: id.to_string(),
                    })
                })?;
                if company.managed_as == ManagedAs::Partner {
                    let (_, current) = companies::find_with_scope(op, CompanyKey::Id(id))?
                        .ok_or_else(|| not_found("company", id))?;
                    let current = current.unwrap_or_default();
                    if current != scope {
                        return Err(Error::new(ErrorKind::Invalid(format!(
                            "company {id} `{}` is a partner with {} access already; tagging \
                             does not change a partner's scope: change it with `cshost partner \
                             scope {id} {}`",
                            company.name,
                            scope_name(current),
                            companies::scope_str(scope)
                        ))));
                    }
                    continue;
                }
                if let Some((_, partner_id, partner)) = companies::managed_by(op, id)? {
                    return Err(Error::new(ErrorKind::Invalid(format!(
                        "company {id} `{}` is managed by partner {partner_id} `{partner}`: a \
                         managed customer is not a partner; clear its Managed By first (`cshost \
                         company managed-by {id} --clear`)",
                        company.name
                    ))));
                }
                crate::access::check_partner_seats(op, 1, 0)?;
                companies::set_partner(op, id, Some(scope))?;
                pending::record(
                    op,
                    Owed::PartnerCreated {
                        company: id,
                        undo: Undo::Untag,
                    },
                )?;
                op.audit(
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
            .map(|id| Ok((id, self.created_hook(id, Undo::Untag)?)))
            .collect()
    }

    /// Makes partner `id` a customer again. Refused while it manages companies or
    /// relationships, or has partner users: the error says which, so they can be moved first.
    pub fn untag(&self, id: i64) -> Result<()> {
        let users = self.tenant.users().list(Some(id))?.len();
        self.tenant.write(|op| {
            op.require(Permission::ManagePartners)?;
            companies::check_is_partner(op, id)?;
            let companies_managed = companies::count_managed_by(op, id)?;
            let relationships_managed = crate::relationships::count_managed_by(op, id)?;
            if companies_managed + relationships_managed > 0 || users > 0 {
                return Err(Error::new(ErrorKind::Invalid(format!(
                    "partner {id} manages {companies_managed} company(ies) and \
                     {relationships_managed} relationship(s) and has {users} partner user(s); a \
                     customer can do neither: clear their Managed By (`cshost company managed-by \
                     ID --clear`, `cshost relationship managed-by ID --clear`) and remove its \
                     users first"
                ))));
            }
            let (_, before) = companies::find_with_scope(op, CompanyKey::Id(id))?
                .ok_or_else(|| not_found("company", id))?;
            companies::set_partner(op, id, None)?;
            op.audit(
                "partner.untag",
                &format!("company:{id}"),
                Some(serde_json::json!({"managed_as": "partner", "scope": before})),
                Some(serde_json::json!({"managed_as": "customer"})),
            )
        })
    }

    /// Changes partner `id`'s access scope (chosen only when the tenant works at both levels,
    /// as when it was tagged).
    pub fn set_scope(&self, id: i64, scope: Option<AccessScope>) -> Result<()> {
        let scope = resolve_scope(self.tenant.info().level, scope)?;
        self.tenant.write(|op| {
            op.require(Permission::ManagePartners)?;
            companies::check_is_partner(op, id)?;
            let (_, before) = companies::find_with_scope(op, CompanyKey::Id(id))?
                .ok_or_else(|| not_found("company", id))?;
            companies::set_partner(op, id, Some(scope))?;
            op.audit(
                "partner.scope",
                &format!("company:{id}"),
                Some(serde_json::json!({ "scope": before })),
                Some(serde_json::json!({ "scope": scope })),
            )
        })
    }

    /// Partner `partner`'s portfolio: the partner with its access scope, the customers it
    /// manages (company records whose Managed By is the partner) and the relationships it
    /// manages, each by name. A partner user asks about its own partner only (any other is
    /// "not found") and gets the records its scope reaches.
    pub fn portfolio(&self, partner: i64) -> Result<Portfolio> {
        self.tenant.read(|op| {
            let Some((company, scope)) = companies::partner(op, partner)? else {
                if op.scope().is_none() {
                    companies::check_is_partner(op, partner)?;
                }
                return Err(not_found("partner", partner));
            };
            let mut relationships = crate::relationships::managed_by_partner(op, partner)?;
            relationships.sort_by_key(|r| (r.name.to_lowercase(), r.id));
            Ok(Portfolio {
                partner: Partner {
                    company,
                    scope: scope.unwrap_or_default(),
                },
                customers: companies::managed_by_partner(op, partner)?,
                relationships,
            })
        })
    }

    /// The tenant's partners with their access scope, by name.
    pub fn list(&self) -> Result<Vec<Partner>> {
        self.tenant.read(|op| {
            Ok(companies::partners(op)?
                .into_iter()
                .map(|(company, scope)| Partner {
                    company,
                    scope: scope.unwrap_or_default(),
                })
                .collect())
        })
    }

    /// Tags every customer company the criteria select as a partner with the access scope;
    /// see [`Partners::tag`].
    pub fn tag_by_criteria(
        &self,
        criteria: &Criteria,
        scope: Option<AccessScope>,
    ) -> Result<Vec<(i64, HookReport)>> {
        let selection = self.tenant.criteria().run(criteria)?;
        let ids: Vec<i64> = selection
            .companies
            .iter()
            .filter_map(|c| c.id.parse().ok())
            .collect();
        self.tag(&ids, scope)
    }

    /// Runs the *partner created* hook that committed partner `id` owes: calls the lifecycle
    /// plugins (outside any transaction, so their look-ups see the partner), then validates and
    /// applies their actions in one transaction, which also takes the hook out of the pending
    /// hooks. When a fail-closed plugin fails, undoes the partner (`undo`) and returns the
    /// error. A hook no longer owed (another run applied it) applies nothing.
    pub(crate) fn created_hook(&self, id: i64, undo: Undo) -> Result<HookReport> {
        // The hook acts for the change that owes it, as the system.
        let system = self.tenant.as_system();
        let this = &system;
        let owed = Owed::PartnerCreated { company: id, undo };
        let found = this.read(|op| companies::find_with_scope(op, CompanyKey::Id(id)))?;
        let Some((company, scope)) = found else {
            // The partner is gone: nothing is owed for it any more.
            this.write(|op| pending::take(op, owed))?;
            return Err(Error::new(ErrorKind::NotFound {
                object: "partner",
                id: id.to_string(),
            }));
        };
        let partner = Partner {
            company,
            scope: scope.unwrap_or_default(),
        };
        let results = match this.hooks().partner_created(&partner) {
            Ok(results) => results,
            Err(error) => {
                this.partners().undo_partner(owed, &error)?;
                return Err(error);
            }
        };
        let mut report = HookReport::default();
        this.write(|op| {
            if !pending::take(op, owed)? {
                return Ok(());
            }
            if results.iter().all(|r| r.actions.is_empty()) {
                return Ok(());
            }
            let schema = Schema::load(op)?;
            for result in &results {
                let plugin = &result.plugin;
                if let Err(reason) = validate_actions(&schema, &result.actions, op.now) {
                    report.refused.push(format!("{plugin}: {reason}"));
                    audit::record(
                        op.conn,
                        op.now,
                        Change {
                            tenant: Some(op.tenant),
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
                    let line = apply(op, &schema, id, plugin, index, action)?;
                    report.applied.push(format!("{plugin}: {line}"));
                }
            }
            Ok(())
        })?;
        Ok(report)
    }

    /// Undoes a partner whose hook a fail-closed plugin refused, unless the hook is no longer
    /// owed (another run applied it).
    fn undo_partner(&self, owed: Owed, error: &Error) -> Result<()> {
        let Owed::PartnerCreated { company: id, undo } = owed;
        self.tenant.write(|op| {
            if !pending::take(op, owed)? {
                return Ok(());
            }
            match undo {
                Undo::Delete => companies::delete(op, id)?,
                Undo::Untag => companies::set_partner(op, id, None)?,
            }
            audit::record(
                op.conn,
                op.now,
                Change {
                    tenant: Some(op.tenant),
                    actor: "system",
                    action: "partner.undo",
                    subject: &format!("company:{id}"),
                    before: None,
                    after: Some(serde_json::json!({"reason": error.to_string()})),
                },
            )
        })
    }
}

fn not_found(object: &'static str, id: i64) -> Error {
    Error::new(ErrorKind::NotFound {
        object,
        id: id.to_string(),
    })
}

/// An access scope as messages name it.
fn scope_name(scope: AccessScope) -> &'static str {
    match scope {
        AccessScope::CompanyRecords => "company-records",
        AccessScope::RelationshipRecords => "relationship-records",
        AccessScope::Both => "company- and relationship-records",
    }
}

/// Checks a partner added by hand against the companies there are: refused when a company has
/// its external id (the same name too: it is that company, to tag instead; another name: the
/// id is taken); a warning when another company has its name (ignoring case).
fn duplicate_check(op: &Op<'_>, company: &NewCompany) -> Result<Vec<String>> {
    let name = company.name.trim();
    let external_id = company
        .fields
        .get(companies::EXTERNAL_ID)
        .and_then(|v| v.as_text())
        .map(str::trim)
        .filter(|k| !k.is_empty());
    if let Some(key) = external_id
        && let Some(existing) = companies::by_external_id(op, key)?
    {
        let message = if crate::names::fold_case(&existing.name) == crate::names::fold_case(name) {
            format!(
                "company {} `{}` has this name and external id `{key}` already: it is the same \
                 company; tag it as a partner (`cshost partner tag {}`) instead of adding it again",
                existing.id, existing.name, existing.id
            )
        } else {
            format!(
                "external id `{key}` belongs to company {} `{}` already",
                existing.id, existing.name
            )
        };
        return Err(Error::new(ErrorKind::InvalidField {
            field: companies::EXTERNAL_ID.to_owned(),
            message,
        }));
    }
    let mut warnings = Vec::new();
    if let Some(existing) = companies::find(op, CompanyKey::Name(name))? {
        let kind = match existing.managed_as {
            ManagedAs::Partner => "a partner",
            ManagedAs::Customer => "a customer",
        };
        warnings.push(format!(
            "company {} `{}` ({kind}) has the same name; the partner is added as another \
             company: give each an external id to tell them apart",
            existing.id, existing.name
        ));
    }
    Ok(warnings)
}

/// Applies one validated action of a lifecycle plugin to partner `id`.
fn apply(
    op: &Op<'_>,
    schema: &Schema,
    id: i64,
    plugin: &str,
    index: usize,
    action: &LifecycleAction,
) -> Result<String> {
    let source = format!("plugin:{plugin}");
    match action {
        LifecycleAction::SetField { name, value } => {
            let value = schema.check(name, value.clone()).map_err(|message| {
                Error::new(ErrorKind::InvalidField {
                    field: name.clone(),
                    message,
                })
            })?;
            companies::set_field(op, id, name, &value)?;
            audit::record(
                op.conn,
                op.now,
                Change {
                    tenant: Some(op.tenant),
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
            let cta = crate::plans::open_cta(op, id, request, &source)?;
            Ok(format!("opened CTA {cta} `{}`", request.name))
        }
        LifecycleAction::Notify(message) => {
            // The key makes the message once-only even if the hook's effects were applied
            // twice.
            let key = format!("partner-created:{id}:{plugin}:{index}");
            outbox::enqueue(op, &key, MessageKind::Lifecycle, message)?;
            Ok(format!("queued a message to {}", message.recipient))
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
            .partners()
            .add(
                NewCompany::new("Bennett & Co.").managed_as(ManagedAs::Customer),
                Some(AccessScope::Both),
            )
            .unwrap();
        assert_eq!(report, HookReport::default());
        let customer = acme.companies().add(NewCompany::new("Northwind")).unwrap();
        let tagged = acme
            .partners()
            .tag(&[customer], Some(AccessScope::RelationshipRecords))
            .unwrap();
        assert_eq!(tagged.len(), 1);
        let again = acme
            .partners()
            .tag(&[customer, id], Some(AccessScope::Both))
            .unwrap_err();
        assert!(again.to_string().contains("partner scope"), "{again}");
        let tagged = acme
            .partners()
            .tag(&[customer], Some(AccessScope::RelationshipRecords))
            .unwrap();
        assert!(tagged.is_empty(), "a partner already is not tagged again");
        let partners = acme.partners().list().unwrap();
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
            .partners()
            .tag(&[9999], Some(AccessScope::Both))
            .unwrap_err();
        assert!(err.to_string().contains("9999"), "{err}");
    }
}
