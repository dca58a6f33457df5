//! CTAs (calls to action): opening, closing, listing.

use rusqlite::{OptionalExtension, params};

use super::*;

/// A call to action on a company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct Cta {
    /// The CTA's id.
    pub id: i64,
    /// The company it is about.
    pub company_id: i64,
    /// The plan it belongs to, if any.
    pub plan_id: Option<i64>,
    /// The plan objective it works towards, if any.
    pub objective_id: Option<i64>,
    /// The relationship of the company it is about, if it is on one.
    #[serde(default)]
    pub relationship_id: Option<i64>,
    /// Risk, expansion, lifecycle, activity or objective.
    pub kind: CtaType,
    /// Its name.
    pub name: String,
    /// Low, medium or high.
    pub priority: Priority,
    /// `open` or `closed`.
    pub status: String,
    /// When it is due.
    pub due_date: Option<Date>,
    /// Who opened it: a user's email, or `plugin:<name>`.
    pub source: String,
    /// Who owns it (a user's email): whoever opened it, or whom it was assigned to; `None`
    /// for a plugin's CTA nobody was assigned yet.
    #[serde(default)]
    pub owner: Option<String>,
    /// Why it was closed (`None` while it is open).
    #[serde(default)]
    pub closed_reason: Option<String>,
    /// Its tasks.
    pub tasks: Vec<Task>,
}

/// A new CTA, for [`Ctas::open`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(schemars::JsonSchema))]
pub struct NewCta {
    /// The company it is about.
    pub company_id: i64,
    /// The kind of CTA.
    pub kind: CtaType,
    /// Its name (required).
    pub name: String,
    /// Its priority. By default, medium.
    #[serde(default)]
    pub priority: Priority,
    /// When it is due.
    #[serde(default)]
    pub due_date: Option<Date>,
    /// The plan it belongs to (a plan of the same company), if any.
    #[serde(default)]
    pub plan_id: Option<i64>,
    /// The objective of that plan it works towards, if any.
    #[serde(default)]
    pub objective_id: Option<i64>,
}

impl Ctas<'_> {
    /// Opens a CTA on a company, on behalf of the tenant's acting user, and returns its id. A
    /// CTA in a plan that is for a relationship is on that relationship too. The acting user
    /// owns it, and the default playbook of its type (if any) gives it its tasks.
    pub fn open(&self, cta: &NewCta) -> Result<i64> {
        self.open_cta_on(cta, None)
    }

    /// Opens a CTA, on `relationship` (of its company) if given.
    pub(super) fn open_cta_on(&self, cta: &NewCta, relationship: Option<i64>) -> Result<i64> {
        let name = required("CTA name", &cta.name)?;
        let now = self.tenant.host.now();
        self.tenant.write(|op| {
            op.require(Permission::ManageCtas)?;
            scope::require_owner(op, cta.company_id, relationship)?;
            if let Some(plan) = cta.plan_id {
                let company: i64 = op
                    .conn
                    .query_row(
                        "SELECT company_id FROM success_plans WHERE tenant_id = ?1 AND id = ?2",
                        params![op.tenant.as_str(), plan],
                        |row| row.get(0),
                    )
                    .optional()?
                    .ok_or_else(|| not_found("success plan", plan))?;
                if company != cta.company_id {
                    return Err(invalid(format!(
                        "success plan {plan} is a plan of company {company}, not of company {}",
                        cta.company_id
                    )));
                }
            }
            if let Some(objective) = cta.objective_id {
                let plan: i64 = op
                    .conn
                    .query_row(
                        "SELECT plan_id FROM objectives WHERE tenant_id = ?1 AND id = ?2",
                        params![op.tenant.as_str(), objective],
                        |row| row.get(0),
                    )
                    .optional()?
                    .ok_or_else(|| not_found("objective", objective))?;
                if cta.plan_id != Some(plan) {
                    return Err(invalid(format!(
                        "objective {objective} belongs to success plan {plan}: give that plan \
                         as the CTA's plan"
                    )));
                }
            }
            let id = insert_cta(
                op,
                cta.company_id,
                cta.plan_id,
                cta.objective_id,
                (cta.kind, name, cta.priority, cta.due_date),
                &self.tenant.actor,
                now,
            )?;
            super::relationship::attach_cta(op, id, cta.company_id, cta.plan_id, relationship)?;
            plan_audit(op, "cta.open", &format!("cta:{id}"), None, cta)?;
            Ok(id)
        })
    }

    /// The CTAs of a company (in a plan or not), oldest first, with their tasks.
    pub fn list(&self, company_id: i64) -> Result<Vec<Cta>> {
        self.tenant.read(|op| {
            scope::require_listing(op, company_id)?;
            load_ctas(op, "company_id", company_id)
        })
    }
}

/// Opens a CTA on a company inside the caller's transaction and returns its id. `source` says
/// who asked: `plugin:<name>` or a user's email. The CTA is due `request.due_in_days` days
/// after `now` (no due date when that is absent).
///
/// The *partner created* hook's OpenCta action goes through here.
pub(crate) fn open_cta(
    op: &Op<'_>,
    company_id: i64,
    request: &CtaRequest,
    source: &str,
) -> Result<i64> {
    let Op {
        conn: tx,
        tenant,
        now,
        ..
    } = *op;
    let name = required("CTA name", &request.name)?;
    companies::require(op, company_id)?;
    let due = request
        .due_in_days
        .map(|days| dates::due_in(now, days).map_err(|e| invalid(format!("{source}: {e}"))))
        .transpose()?;
    let id = insert_cta(
        op,
        company_id,
        None,
        None,
        (request.kind, name, request.priority, due),
        source,
        now,
    )?;
    audit::record(
        tx,
        now,
        Change {
            tenant: Some(tenant),
            actor: source,
            action: "cta.open",
            subject: &format!("cta:{id}"),
            before: None,
            after: Some(serde_json::json!({
                "company_id": company_id, "kind": request.kind, "name": name,
                "priority": request.priority, "due_date": due,
            })),
        },
    )?;
    Ok(id)
}

#[allow(clippy::too_many_arguments)]
fn insert_cta(
    op: &Op<'_>,
    company_id: i64,
    plan_id: Option<i64>,
    objective_id: Option<i64>,
    (kind, name, priority, due): (CtaType, &str, Priority, Option<Date>),
    source: &str,
    now: i64,
) -> Result<i64> {
    let Op {
        conn: tx, tenant, ..
    } = *op;
    tx.prepare_cached(
        "INSERT INTO ctas (tenant_id, company_id, plan_id, objective_id, type, name, priority,
                           due_date, source, created_at, owner)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
                 CASE WHEN ?9 LIKE 'plugin:%' THEN NULL ELSE ?9 END)",
    )
    .and_then(|mut insert| {
        insert.execute(params![
            tenant.as_str(),
            company_id,
            plan_id,
            objective_id,
            cta_type_str(kind),
            name,
            priority_str(priority),
            due.map(|d| d.to_string()),
            source,
            now
        ])
    })?;
    let id = tx.last_insert_rowid();
    // The CTA type's default playbook, if the tenant has one, gives it its tasks.
    super::playbooks::apply_default(op, id, kind, due)?;
    Ok(id)
}

pub(super) fn cta_due_and_plan_status(
    op: &Op<'_>,
    cta: i64,
) -> Result<(Option<Date>, Option<PlanStatus>)> {
    let Op { conn, tenant, .. } = *op;
    let (due, status): (Option<String>, Option<String>) = conn
        .query_row(
            "SELECT c.due_date, p.status FROM ctas c
             LEFT JOIN success_plans p ON p.tenant_id = c.tenant_id AND p.id = c.plan_id
             WHERE c.tenant_id = ?1 AND c.id = ?2",
            params![tenant.as_str(), cta],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| not_found("CTA", cta))?;
    Ok((
        due.and_then(|d| d.parse().ok()),
        status.and_then(|s| s.parse().ok()),
    ))
}

pub(super) fn load_ctas(op: &Op<'_>, column: &'static str, id: i64) -> Result<Vec<Cta>> {
    let Op { conn, tenant, .. } = *op;
    let scope = scope::condition(op, "company_id", "relationship_id");
    let sql = format!(
        "SELECT id, company_id, plan_id, objective_id, type, name, priority, status, due_date,
                source, relationship_id, owner, closed_reason
         FROM ctas WHERE tenant_id = ?1 AND {column} = ?2{scope} ORDER BY id"
    );
    let mut ctas = conn.prepare_cached(&sql).and_then(|mut q| {
        q.query_map(params![tenant.as_str(), id], |r| {
            Ok(Cta {
                id: r.get(0)?,
                company_id: r.get(1)?,
                plan_id: r.get(2)?,
                objective_id: r.get(3)?,
                kind: json_enum(r, 4)?,
                name: r.get(5)?,
                priority: json_enum(r, 6)?,
                status: r.get(7)?,
                due_date: date_column(r, 8)?,
                source: r.get(9)?,
                relationship_id: r.get(10)?,
                owner: r.get(11)?,
                closed_reason: r.get(12)?,
                tasks: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()
    })?;
    for cta in &mut ctas {
        cta.tasks = load_tasks(op, "cta_id", cta.id)?;
    }
    Ok(ctas)
}

pub(super) fn cta_type_str(kind: CtaType) -> &'static str {
    match kind {
        CtaType::Risk => "risk",
        CtaType::Expansion => "expansion",
        CtaType::Lifecycle => "lifecycle",
        CtaType::Activity => "activity",
        CtaType::Objective => "objective",
    }
}

fn priority_str(priority: Priority) -> &'static str {
    match priority {
        Priority::Low => "low",
        Priority::Medium => "medium",
        Priority::High => "high",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Host, HostConfig, TenantLevel};
    use crate::store::TenantId;

    fn host_with_company() -> (Host, i64) {
        let host = Host::open_in_memory(HostConfig::default()).unwrap();
        host.create_tenant("acme", "Acme", TenantLevel::Both)
            .unwrap();
        let company = host
            .store()
            .write(|tx| {
                tx.execute(
                    "INSERT INTO companies (tenant_id, name, created_at, updated_at)
                     VALUES ('acme', 'Globex', 0, 0)",
                    [],
                )
                .map_err(Error::from)?;
                Ok(tx.last_insert_rowid())
            })
            .unwrap();
        (host, company)
    }

    #[test]
    fn a_due_date_stored_out_of_range_before_dates_were_checked_reads_as_none() {
        let (host, company) = host_with_company();
        // Written before due dates were checked: years 10000 and 0.
        host.store()
            .write(|tx| {
                tx.execute_batch(&format!(
                    "INSERT INTO ctas (tenant_id, company_id, type, name, due_date, source,
                                       created_at)
                     VALUES ('acme', {company}, 'risk', 'Far', '10000-01-01', 'csm', 0),
                            ('acme', {company}, 'risk', 'Zero', '0000-06-01', 'csm', 0),
                            ('acme', {company}, 'risk', 'Fine', '2026-06-01', 'csm', 0)"
                ))
                .map_err(Error::from)
            })
            .unwrap();
        let tenant = host.tenant("acme").unwrap();
        let ctas = tenant.ctas().list(company).unwrap();
        let due: Vec<(&str, Option<Date>)> =
            ctas.iter().map(|c| (c.name.as_str(), c.due_date)).collect();
        assert_eq!(
            due,
            [
                ("Far", None),
                ("Zero", None),
                ("Fine", Date::new(2026, 6, 1))
            ]
        );
        let listed = tenant
            .ctas()
            .cockpit(&crate::plans::CtaFilter::default())
            .unwrap();
        assert_eq!(listed.len(), 3);
    }

    #[test]
    fn open_cta_sets_the_due_date_from_now_and_records_the_source() {
        let (host, company) = host_with_company();
        let tenant = TenantId::new("acme");
        let request = CtaRequest {
            kind: CtaType::Lifecycle,
            name: "Welcome the partner".into(),
            priority: Priority::High,
            due_in_days: Some(14),
        };
        // 2026-01-01T00:00:00Z.
        let now = 1_767_225_600;
        let id = host
            .store()
            .write(|tx| {
                let op = Op {
                    conn: tx,
                    tenant: &tenant,
                    now,
                    actor: "system",
                    principal: crate::access::Principal::system(),
                };
                open_cta(&op, company, &request, "plugin:welcome")
            })
            .unwrap();
        let ctas = host.tenant("acme").unwrap().ctas().list(company).unwrap();
        assert_eq!(ctas.len(), 1);
        assert_eq!(ctas[0].id, id);
        assert_eq!(ctas[0].due_date, Some(Date::new(2026, 1, 15).unwrap()));
        assert_eq!(ctas[0].source, "plugin:welcome");
        assert_eq!(ctas[0].priority, Priority::High);
        assert_eq!(ctas[0].kind, CtaType::Lifecycle);
    }

    #[test]
    fn open_cta_rejects_another_tenants_company() {
        let (host, company) = host_with_company();
        host.create_tenant("other", "Other", TenantLevel::Both)
            .unwrap();
        let request = CtaRequest {
            kind: CtaType::Risk,
            name: "Churn risk".into(),
            priority: Priority::Medium,
            due_in_days: None,
        };
        let error = host
            .store()
            .write(|tx| {
                let op = Op {
                    conn: tx,
                    tenant: &TenantId::new("other"),
                    now: 0,
                    actor: "a@x",
                    principal: crate::access::Principal::system(),
                };
                open_cta(&op, company, &request, "a@x")
            })
            .unwrap_err();
        assert!(
            matches!(
                error.kind(),
                ErrorKind::NotFound {
                    object: "company",
                    ..
                }
            ),
            "{error}"
        );
    }
}
