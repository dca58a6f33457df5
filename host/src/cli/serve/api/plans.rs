//! Plans, objectives, tasks and CTAs; shares; the outbox and the audit log.

use axum::Json;
use axum::extract::State;
use cs_host::model::Date;
use cs_host::{
    AuditEntry, Cta, CtaFilter, NewCta, NewPlan, NewTask, OutboxMessage, OutboxStatus, Plan,
    PlanStatus, RecipientLink, ShareReceipt, ShareRequest, ShareRow, TaskOf,
};
use serde::{Deserialize, Serialize};

use super::{
    ApiError, Body, Caller, Created, Done, New, Params, QueryOf, Shared, created, done, on_tenant,
};

/// `GET /api/v1/tenants/{tenant}/companies/{company}/plans`.
pub async fn company_plans(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, company)): Params<(String, i64)>,
) -> Result<Json<Vec<Plan>>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.plans().list(company))
        .await
        .map(Json)
}

/// `POST /api/v1/tenants/{tenant}/plans`: the body is the new plan.
pub async fn create_plan(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    Body(plan): Body<NewPlan>,
) -> Result<New<Created>, ApiError> {
    let id = on_tenant(&app, who, tenant, move |t| t.plans().create(&plan)).await?;
    Ok(created(id))
}

/// `GET /api/v1/tenants/{tenant}/plans/{plan}`.
pub async fn plan(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, id)): Params<(String, i64)>,
) -> Result<Json<Plan>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.plans().get(id))
        .await
        .map(Json)
}

/// A plan's move: to `active` or `complete`; with a `reason`, reopening a complete plan.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusForm {
    status: PlanStatus,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /api/v1/tenants/{tenant}/plans/{plan}/status`.
pub async fn set_status(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, id)): Params<(String, i64)>,
    Body(form): Body<StatusForm>,
) -> Result<Json<Done>, ApiError> {
    on_tenant(&app, who, tenant, move |t| match &form.reason {
        Some(reason) if form.status == PlanStatus::Active => t.plans().reopen(id, reason),
        _ => t.plans().set_status(id, form.status),
    })
    .await?;
    Ok(done())
}

/// An objective to add.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveForm {
    name: String,
    #[serde(default)]
    due_date: Option<Date>,
    #[serde(default)]
    shared_externally: Option<bool>,
}

/// `POST /api/v1/tenants/{tenant}/plans/{plan}/objectives`.
pub async fn add_objective(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, plan)): Params<(String, i64)>,
    Body(form): Body<ObjectiveForm>,
) -> Result<New<Created>, ApiError> {
    let id = on_tenant(&app, who, tenant, move |t| {
        t.plans()
            .add_objective(plan, &form.name, form.due_date, form.shared_externally)
    })
    .await?;
    Ok(created(id))
}

/// `POST /api/v1/tenants/{tenant}/objectives/{objective}/tasks`: the body is the new task.
pub async fn add_objective_task(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, objective)): Params<(String, i64)>,
    Body(task): Body<NewTask>,
) -> Result<New<Created>, ApiError> {
    let id = on_tenant(&app, who, tenant, move |t| {
        t.plans().add_task(TaskOf::Objective(objective), &task)
    })
    .await?;
    Ok(created(id))
}

/// `POST /api/v1/tenants/{tenant}/ctas/{cta}/tasks`: the body is the new task.
pub async fn add_cta_task(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, cta)): Params<(String, i64)>,
    Body(task): Body<NewTask>,
) -> Result<New<Created>, ApiError> {
    let id = on_tenant(&app, who, tenant, move |t| {
        t.plans().add_task(TaskOf::Cta(cta), &task)
    })
    .await?;
    Ok(created(id))
}

/// A due date that may be set, cleared (`null`) or left alone (absent).
fn due_date(value: Option<serde_json::Value>) -> Result<Option<Option<Date>>, ApiError> {
    value
        .map(|v| {
            serde_json::from_value::<Option<Date>>(v)
                .map_err(|e| ApiError::invalid(format!("field `due_date`: {e}")))
        })
        .transpose()
}

/// A task's changes: done or not, its due date (`null` clears it).
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskChange {
    #[serde(default)]
    done: Option<bool>,
    #[serde(default)]
    due_date: Option<serde_json::Value>,
}

/// `PATCH /api/v1/tenants/{tenant}/tasks/{task}`.
pub async fn update_task(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, id)): Params<(String, i64)>,
    Body(change): Body<TaskChange>,
) -> Result<Json<Done>, ApiError> {
    let due = due_date(change.due_date)?;
    on_tenant(&app, who, tenant, move |t| {
        if let Some(due) = due {
            t.plans().set_task_due(id, due)?;
        }
        if let Some(finished) = change.done {
            t.plans().complete_task(id, finished)?;
        }
        Ok(())
    })
    .await?;
    Ok(done())
}

/// `GET /api/v1/tenants/{tenant}/ctas?company_id=&relationship_id=&owner=&status=`: the
/// cockpit.
pub async fn ctas(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    QueryOf(filter): QueryOf<CtaFilter>,
) -> Result<Json<Vec<Cta>>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.ctas().cockpit(&filter))
        .await
        .map(Json)
}

/// `POST /api/v1/tenants/{tenant}/ctas`: the body is the new CTA.
pub async fn open_cta(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    Body(cta): Body<NewCta>,
) -> Result<New<Created>, ApiError> {
    let id = on_tenant(&app, who, tenant, move |t| t.ctas().open(&cta)).await?;
    Ok(created(id))
}

/// A CTA's changes: its due date (`null` clears it), its owner.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CtaChange {
    #[serde(default)]
    due_date: Option<serde_json::Value>,
    #[serde(default)]
    owner: Option<String>,
}

/// `PATCH /api/v1/tenants/{tenant}/ctas/{cta}`.
pub async fn update_cta(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, id)): Params<(String, i64)>,
    Body(change): Body<CtaChange>,
) -> Result<Json<Done>, ApiError> {
    let due = due_date(change.due_date)?;
    on_tenant(&app, who, tenant, move |t| {
        if let Some(due) = due {
            t.ctas().set_due(id, due)?;
        }
        if let Some(owner) = &change.owner {
            t.ctas().assign(id, owner)?;
        }
        Ok(())
    })
    .await?;
    Ok(done())
}

/// Why a CTA is closed.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseForm {
    reason: String,
}

/// `POST /api/v1/tenants/{tenant}/ctas/{cta}/close`.
pub async fn close_cta(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, id)): Params<(String, i64)>,
    Body(form): Body<CloseForm>,
) -> Result<Json<Done>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.ctas().close(id, &form.reason)).await?;
    Ok(done())
}

/// `POST /api/v1/tenants/{tenant}/ctas/{cta}/reopen`.
pub async fn reopen_cta(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, id)): Params<(String, i64)>,
) -> Result<Json<Done>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.ctas().reopen(id)).await?;
    Ok(done())
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct SharesQuery {
    plan: Option<i64>,
}

/// `GET /api/v1/tenants/{tenant}/shares?plan=`: the manage-shares view.
pub async fn shares(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    QueryOf(query): QueryOf<SharesQuery>,
) -> Result<Json<Vec<ShareRow>>, ApiError> {
    on_tenant(&app, who, tenant, move |t| t.shares().list(query.plan))
        .await
        .map(Json)
}

/// `POST /api/v1/tenants/{tenant}/shares`: shares a plan; the body is the share request. The
/// answer holds each recipient's link (the only time a link is shown besides its email).
pub async fn share(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    Body(request): Body<ShareRequest>,
) -> Result<New<ShareReceipt>, ApiError> {
    let receipt = on_tenant(&app, who, tenant, move |t| t.shares().share(&request)).await?;
    Ok(New(receipt))
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Revoked {
    revoked: bool,
}

/// `POST /api/v1/tenants/{tenant}/shares/{recipient}/revoke`: revokes one recipient's link.
pub async fn revoke_share(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, recipient)): Params<(String, i64)>,
) -> Result<Json<Revoked>, ApiError> {
    on_tenant(&app, who, tenant, move |t| {
        t.shares().revoke_recipient(recipient)
    })
    .await
    .map(|revoked| Json(Revoked { revoked }))
}

/// `POST /api/v1/tenants/{tenant}/shares/{recipient}/reissue`: a new link for the recipient in
/// place of the old one, which stops working at once.
pub async fn reissue_share(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params((tenant, recipient)): Params<(String, i64)>,
) -> Result<Json<RecipientLink>, ApiError> {
    on_tenant(&app, who, tenant, move |t| {
        t.shares().reissue_link(recipient)
    })
    .await
    .map(Json)
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct OutboxQuery {
    status: Option<String>,
}

/// `GET /api/v1/tenants/{tenant}/outbox?status=pending`: the outbox (its backlog with
/// `status=pending`).
pub async fn outbox(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
    QueryOf(query): QueryOf<OutboxQuery>,
) -> Result<Json<Vec<OutboxMessage>>, ApiError> {
    let status = query
        .status
        .map(|s| s.parse::<OutboxStatus>())
        .transpose()
        .map_err(ApiError::from)?;
    on_tenant(&app, who, tenant, move |t| t.outbox().list(status))
        .await
        .map(Json)
}

/// `GET /api/v1/tenants/{tenant}/audit`: the tenant's audit log, oldest first.
pub async fn audit_log(
    State(app): State<Shared>,
    Caller(who): Caller,
    Params(tenant): Params<String>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    on_tenant(&app, who, tenant, |t| t.audit().list())
        .await
        .map(Json)
}
